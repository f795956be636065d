//! Taking libpq's TLS parameters out of a connection string.
//!
//! tokio-postgres understands `sslmode=disable|prefer|require` only and refuses any parameter
//! it does not know, so `sslmode=verify-ca|verify-full` and `sslrootcert=` are removed here
//! from both forms libpq accepts, and the rest is handed to tokio-postgres unchanged:
//!
//! - the URL form, `postgres://user@host/db?sslmode=verify-full&sslrootcert=/etc/ca.pem`
//!   (values percent-decoded, as tokio-postgres decodes the others);
//! - the key=value form, `host=db sslmode=verify-full sslrootcert='/etc/my ca.pem'` (values
//!   quoted with `'` and escaped with `\`, as libpq does).
//!
//! The last occurrence of a parameter wins, as in libpq.

use std::borrow::Cow;
use std::ops::Range;
use std::path::PathBuf;

use super::TlsError;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// TLS when the server offers it (libpq's default).
    Prefer,
    /// TLS or no connection.
    Require,
    /// TLS, and the server's certificate chains to a trusted CA (its name is not checked).
    VerifyCa,
    /// TLS, the certificate chains to a trusted CA and names the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, TlsError> {
        match value {
            "disable" => Ok(Self::Disable),
            "prefer" => Ok(Self::Prefer),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            // libpq's `allow` tries plain text first: never what a sync of personal data wants.
            other => Err(TlsError::UnknownSslMode {
                value: other.to_owned(),
            }),
        }
    }

    /// The name libpq gives the mode, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// Which certificate authorities a server's certificate may chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// The public web roots and the operating system's trust store (no `sslrootcert`, or
    /// libpq's `sslrootcert=system`).
    System,
    /// Only the CA certificates in this PEM file, as libpq does with `sslrootcert=PATH`.
    File(PathBuf),
}

/// What a connection string says about TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParams {
    /// `None` when the string does not say (libpq's default is `prefer`).
    pub mode: Option<SslMode>,
    pub roots: RootCerts,
}

/// Splits `url` into the connection string tokio-postgres can parse and its TLS parameters.
pub fn split(url: &str) -> Result<(String, TlsParams), TlsError> {
    let mut found = Found::default();
    let rest = match strip_url_prefix(url) {
        Some(after_scheme) => split_url(url, after_scheme, &mut found)?,
        None => split_key_values(url, &mut found)?,
    };
    let roots = match found.root_cert.as_deref() {
        None | Some("system") => RootCerts::System,
        Some(path) => RootCerts::File(PathBuf::from(path)),
    };
    Ok((
        rest,
        TlsParams {
            mode: found.mode,
            roots,
        },
    ))
}

/// The TLS parameters met so far.
#[derive(Default)]
struct Found {
    mode: Option<SslMode>,
    root_cert: Option<String>,
}

impl Found {
    /// Keeps `value` when `key` is a TLS parameter, and says whether it was.
    fn take(&mut self, key: &str, value: Cow<'_, str>) -> Result<bool, TlsError> {
        match key {
            "sslmode" => self.mode = Some(SslMode::parse(&value)?),
            "sslrootcert" => self.root_cert = Some(value.into_owned()),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn strip_url_prefix(url: &str) -> Option<&str> {
    ["postgres://", "postgresql://"]
        .iter()
        .find_map(|prefix| url.strip_prefix(prefix))
}

/// The URL form: the query's `sslmode`/`sslrootcert` pairs are dropped, the rest kept as written.
fn split_url(url: &str, after_scheme: &str, found: &mut Found) -> Result<String, TlsError> {
    // Find the query where tokio-postgres does: the credentials run to the first `@` (a `?` in
    // a password is part of it), the query starts at the first `?` after them.
    let scheme_len = url.len() - after_scheme.len();
    let host_start = after_scheme.find('@').map_or(0, |at| at + 1);
    let Some(question) = after_scheme[host_start..].find('?') else {
        return Ok(url.to_owned());
    };
    let query_start = scheme_len + host_start + question;
    let mut kept = Vec::new();
    for pair in url[query_start + 1..].split('&') {
        let taken = match pair.split_once('=') {
            Some((key, value)) => found.take(&decode(key), decode(value))?,
            None => false,
        };
        if !taken {
            kept.push(pair);
        }
    }
    let mut rest = url[..query_start].to_owned();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    Ok(rest)
}

fn decode(text: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy()
}

/// The key=value form: the `sslmode`/`sslrootcert` pairs are cut out, the rest kept as written.
/// A string that does not scan is passed on whole, for tokio-postgres to say what is wrong.
fn split_key_values(text: &str, found: &mut Found) -> Result<String, TlsError> {
    let Some(pairs) = scan_key_values(text) else {
        return Ok(text.to_owned());
    };
    let mut rest = String::with_capacity(text.len());
    let mut copied_to = 0;
    for (key, value, span) in pairs {
        if found.take(key, Cow::Owned(value))? {
            rest.push_str(&text[copied_to..span.start]);
            copied_to = span.end;
        }
    }
    rest.push_str(&text[copied_to..]);
    Ok(rest)
}

/// libpq's key=value syntax: `key = value` pairs separated by white space, a value either bare
/// (to the next white space) or in single quotes, `\` escaping the next character in both.
/// Returns each key, its unescaped value and the byte range of the whole pair.
fn scan_key_values(text: &str) -> Option<Vec<(&str, String, Range<usize>)>> {
    let mut chars = text.char_indices().peekable();
    let mut pairs = Vec::new();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            return Some(pairs);
        };
        let mut key_end = start;
        while let Some((index, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            key_end = index + c.len_utf8();
        }
        if key_end == start {
            return None;
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        chars.next_if(|(_, c)| *c == '=')?;
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
        let mut value = String::new();
        let mut end = None;
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => value.push(chars.next()?.1),
                '\'' if quoted => {
                    end = Some(index + 1);
                    break;
                }
                c if !quoted && c.is_whitespace() => {
                    end = Some(index);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = match end {
            Some(end) => end,
            None if quoted => return None,
            None => text.len(),
        };
        if value.is_empty() && !quoted {
            return None;
        }
        pairs.push((&text[start..key_end], value, start..end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_ok(url: &str) -> (String, TlsParams) {
        split(url).unwrap_or_else(|error| panic!("{url}: {error}"))
    }

    #[test]
    fn the_url_form_gives_up_its_tls_parameters_and_keeps_the_rest() {
        let (rest, params) = split_ok(
            "postgres://sync:p%3Fw@db.uni.example:6543/research?application_name=a&sslmode=verify-full&sslrootcert=%2Fetc%2Fmy%20ca.pem&connect_timeout=5",
        );
        assert_eq!(
            rest,
            "postgres://sync:p%3Fw@db.uni.example:6543/research?application_name=a&connect_timeout=5"
        );
        assert_eq!(params.mode, Some(SslMode::VerifyFull));
        assert_eq!(params.roots, RootCerts::File("/etc/my ca.pem".into()));

        let (rest, params) = split_ok("postgresql://db/x?sslmode=verify-ca");
        assert_eq!(rest, "postgresql://db/x");
        assert_eq!(params.mode, Some(SslMode::VerifyCa));
        assert_eq!(params.roots, RootCerts::System);

        // A `?` in the password is not the query.
        let (rest, params) = split_ok("postgres://u:a?b@db/x");
        assert_eq!(rest, "postgres://u:a?b@db/x");
        assert_eq!(params.mode, None);

        let (_, params) = split_ok("postgres://db/x?sslrootcert=system&sslmode=require");
        assert_eq!(params.roots, RootCerts::System);
        assert_eq!(params.mode, Some(SslMode::Require));
    }

    #[test]
    fn the_key_value_form_gives_up_its_tls_parameters_and_keeps_the_rest() {
        let (rest, params) = split_ok(
            r"host=db.uni.example sslmode = verify-full user=sync sslrootcert='/etc/it\'s ca.pem' dbname=research",
        );
        assert_eq!(rest, "host=db.uni.example  user=sync  dbname=research");
        assert_eq!(params.mode, Some(SslMode::VerifyFull));
        assert_eq!(params.roots, RootCerts::File("/etc/it's ca.pem".into()));
        let config: tokio_postgres::Config = rest.parse().expect("tokio-postgres parses the rest");
        assert_eq!(config.get_user(), Some("sync"));
        assert_eq!(config.get_dbname(), Some("research"));

        let (rest, params) = split_ok("host=h sslmode=disable");
        assert_eq!(rest, "host=h ");
        assert_eq!(params.mode, Some(SslMode::Disable));

        // The last occurrence wins, as in libpq.
        let (_, params) = split_ok("host=h sslmode=disable sslmode=verify-ca");
        assert_eq!(params.mode, Some(SslMode::VerifyCa));
    }

    #[test]
    fn an_unknown_sslmode_says_which_ones_there_are() {
        let error = split("postgres://db/x?sslmode=verify_full").expect_err("refused");
        let message = error.to_string();
        assert!(message.contains("verify_full"), "{message}");
        assert!(message.contains("verify-full"), "{message}");
        assert!(split("host=db sslmode=allow").is_err());
    }

    #[test]
    fn a_string_that_does_not_scan_is_left_for_tokio_postgres_to_report() {
        let (rest, params) = split_ok("host='unterminated sslmode=verify-full");
        assert_eq!(rest, "host='unterminated sslmode=verify-full");
        assert_eq!(params.mode, None);
        assert!(rest.parse::<tokio_postgres::Config>().is_err());
    }
}
