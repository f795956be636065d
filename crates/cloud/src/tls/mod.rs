//! TLS to the central database, configured like libpq.
//!
//! - `sslmode=verify-full` checks that the server's certificate chains to a trusted CA and
//!   names the host in the URL; `verify-ca` checks the chain only. `require` and `prefer` check
//!   as much as `verify-full` (stricter than libpq, whose `require` accepts any certificate):
//!   a man in the middle is refused whatever the URL says.
//! - Trusted CAs: the public web roots and the operating system's store; `sslrootcert=PATH`
//!   trusts only the CA certificates in that PEM file instead (an institution's own CA), as
//!   libpq does; `sslrootcert=system` is the default set.
//! - Plain text: only with `sslmode=disable` in the URL, or for a server on this computer
//!   (loopback address, `localhost`, a Unix socket) when the server offers no TLS under the
//!   default `prefer`. To any other host, `prefer` (and no `sslmode` at all) means TLS or no
//!   connection, so research data never crosses a network in clear text by accident.
//!
//! Failures say what was wrong and what to write: an unknown CA → `sslrootcert=`, a name the
//! certificate does not list → the names it does and `verify-ca`, no TLS at the server →
//! `ssl = on` or an explicit `sslmode=disable`.

mod params;
mod trust;

use std::net::IpAddr;
use std::path::PathBuf;

use rustls::CertificateError;
use tokio_postgres::Config;
use tokio_postgres::config::{Host, SslMode as WireMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::Error;
use params::RootCerts;
pub use params::SslMode;

/// Why a TLS connection to the central database was not made, and what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error(
        "sslmode={value} is not understood: write sslmode=verify-full (TLS; the server's certificate is checked against a trusted CA and the host name), verify-ca (the CA only), require, prefer or disable"
    )]
    UnknownSslMode { value: String },
    #[error(
        "cannot read the CA certificates in sslrootcert={}: {source}; give the path of the institution's CA certificate (PEM), readable by the user running Sync Hub",
        path.display()
    )]
    RootCertUnreadable {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error(
        "sslrootcert={} holds no certificate: it must be the CA certificate in PEM (blocks starting with -----BEGIN CERTIFICATE-----)",
        path.display()
    )]
    RootCertEmpty { path: PathBuf },
    #[error(
        "sslrootcert={}: a certificate in it cannot be used as a CA ({source}); give the institution's CA certificate in PEM",
        path.display()
    )]
    RootCertInvalid {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error(
        "the URL gives hostaddr= without host=: with TLS, name the server in host= (a name its certificate lists) and keep its address in hostaddr="
    )]
    NoHostName,
    #[error("{}", without_tls(host, *mode, *explicit))]
    ServerWithoutTls {
        host: String,
        mode: SslMode,
        /// False when `prefer` was only the default.
        explicit: bool,
    },
    #[error(
        "the certificate of the central database at {host} is not signed by a CA trusted here (the public web roots and this computer's trust store): add sslrootcert=/path/to/ca.pem to the URL with the institution's CA certificate (PEM; the database's administrators have it), or install that CA in this computer's trust store"
    )]
    UnknownCa {
        host: String,
        source: tokio_postgres::Error,
    },
    #[error(
        "the certificate of the central database at {host} is not signed by a CA in sslrootcert={}: give the CA certificate that issued the server's (and any intermediate certificates the server does not send) in that file",
        path.display()
    )]
    NotSignedByRootCert {
        host: String,
        path: PathBuf,
        source: tokio_postgres::Error,
    },
    #[error("{}", wrong_name(host, presented))]
    WrongName {
        host: String,
        /// The names the certificate lists (empty when rustls did not say).
        presented: Vec<String>,
        source: tokio_postgres::Error,
    },
    #[error(
        "the certificate of the central database at {host} is not valid now ({detail}): the server's certificate must be renewed, or this computer's clock is wrong"
    )]
    Validity {
        host: String,
        detail: String,
        source: tokio_postgres::Error,
    },
    #[error("TLS with the central database at {host} failed: {source}")]
    Handshake {
        host: String,
        source: tokio_postgres::Error,
    },
    #[error("TLS configuration: {0}")]
    Configuration(String),
}

fn without_tls(host: &str, mode: SslMode, explicit: bool) -> String {
    let why = if explicit && mode != SslMode::Prefer {
        format!("the URL says sslmode={}", mode.as_str())
    } else {
        "Sync Hub sends nothing in clear text to a database on another computer unless the URL says sslmode=disable".to_owned()
    };
    format!(
        "the central database at {host} does not offer TLS, and {why}: turn TLS on at the server (ssl = on in postgresql.conf, with its certificate), or, only over a network you trust or a VPN/SSH tunnel, write sslmode=disable in the URL to send everything in clear text"
    )
}

fn wrong_name(host: &str, presented: &[String]) -> String {
    let names = if presented.is_empty() {
        "other names".to_owned()
    } else {
        presented.join(", ")
    };
    format!(
        "the certificate of the central database is for {names}, not {host}: connect by a name it lists (with hostaddr=<address> in the URL if that name does not resolve here), or write sslmode=verify-ca to check only that a trusted CA signed it"
    )
}

/// How to open one connection: the URL's settings for tokio-postgres and what TLS requires.
#[derive(Debug)]
pub(crate) struct Plan {
    mode: SslMode,
    explicit: bool,
    wire: WireMode,
    roots: RootCerts,
    hosts: String,
}

/// Reads a database URL (libpq's URL or key=value form) into tokio-postgres's configuration
/// and the TLS it needs.
pub(crate) fn plan(database_url: &str) -> Result<(Config, Plan), Error> {
    let (rest, params) = params::split(database_url)?;
    let mut config: Config = rest
        .parse()
        .map_err(|source| Error::DatabaseUrl { source })?;
    let mode = params.mode.unwrap_or(SslMode::Prefer);
    let wire = match mode {
        SslMode::Disable => WireMode::Disable,
        SslMode::Prefer if on_this_computer(&config) => WireMode::Prefer,
        _ => WireMode::Require,
    };
    config.ssl_mode(wire);
    if wire == WireMode::Require && config.get_hosts().len() < config.get_hostaddrs().len() {
        return Err(TlsError::NoHostName.into());
    }
    let hosts = host_names(&config);
    Ok((
        config,
        Plan {
            mode,
            explicit: params.mode.is_some(),
            wire,
            roots: params.roots,
            hosts,
        },
    ))
}

/// Checks a database URL as far as can be done without connecting: its syntax, its `sslmode`
/// and the CA file it names.
pub fn check_database_url(database_url: &str) -> Result<(), Error> {
    let (_, plan) = plan(database_url)?;
    if let RootCerts::File(_) = plan.roots {
        trust::root_store(&plan.roots)?;
    }
    Ok(())
}

/// The URL without its TLS parameters, for parsing by tokio-postgres where only the rest
/// matters (`None` when the TLS parameters themselves are wrong).
pub(crate) fn without_tls_params(database_url: &str) -> Option<String> {
    params::split(database_url).ok().map(|(rest, _)| rest)
}

impl Plan {
    /// The TLS connector, or `None` for plain text (`sslmode=disable`).
    pub(crate) fn connector(&self) -> Result<Option<MakeRustlsConnect>, TlsError> {
        if self.wire == WireMode::Disable {
            return Ok(None);
        }
        let roots = trust::root_store(&self.roots)?;
        let config = trust::client_config(roots, self.mode != SslMode::VerifyCa)?;
        Ok(Some(MakeRustlsConnect::new(config)))
    }

    /// Turns a failed connection attempt into an error that says what to change when TLS was
    /// the reason.
    pub(crate) fn explain(&self, error: tokio_postgres::Error) -> Error {
        if self.wire == WireMode::Disable {
            return error.into();
        }
        let host = self.hosts.clone();
        if says(&error, "server does not support TLS") {
            return TlsError::ServerWithoutTls {
                host,
                mode: self.mode,
                explicit: self.explicit,
            }
            .into();
        }
        if says(&error, "no hostname provided for TLS handshake") {
            return TlsError::NoHostName.into();
        }
        let Some(tls) = rustls_error(&error).cloned() else {
            return error.into();
        };
        let source = error;
        let explained = match tls {
            rustls::Error::InvalidCertificate(problem) => match problem {
                CertificateError::UnknownIssuer => match &self.roots {
                    RootCerts::System => TlsError::UnknownCa { host, source },
                    RootCerts::File(path) => TlsError::NotSignedByRootCert {
                        host,
                        path: path.clone(),
                        source,
                    },
                },
                CertificateError::NotValidForName => TlsError::WrongName {
                    host,
                    presented: Vec::new(),
                    source,
                },
                CertificateError::NotValidForNameContext { presented, .. } => TlsError::WrongName {
                    host,
                    presented: presented
                        .iter()
                        .filter_map(|name| plain_name(name))
                        .collect(),
                    source,
                },
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => TlsError::Validity {
                    host,
                    detail: problem.to_string(),
                    source,
                },
                _ => TlsError::Handshake { host, source },
            },
            _ => TlsError::Handshake { host, source },
        };
        explained.into()
    }
}

/// True when every host the URL names is this computer: a loopback address, `localhost`, or a
/// Unix socket. An address in `hostaddr=` is where the connection goes, so it decides.
fn on_this_computer(config: &Config) -> bool {
    let hosts = config.get_hosts();
    let addresses = config.get_hostaddrs();
    (0..hosts.len().max(addresses.len())).all(|index| {
        match (addresses.get(index), hosts.get(index)) {
            (Some(address), _) => is_loopback(*address),
            (None, Some(Host::Tcp(name))) => {
                name.eq_ignore_ascii_case("localhost") || name.parse().is_ok_and(is_loopback)
            }
            #[cfg(unix)]
            (None, Some(Host::Unix(_))) => true,
            (None, None) => true,
        }
    })
}

fn is_loopback(address: IpAddr) -> bool {
    address.to_canonical().is_loopback()
}

/// The hosts, for messages.
fn host_names(config: &Config) -> String {
    let mut names: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    if names.is_empty() {
        names = config
            .get_hostaddrs()
            .iter()
            .map(ToString::to_string)
            .collect();
    }
    names.join(",")
}

/// A name as rustls reports it (`DnsName("db.example")`, `IpAddress(10.0.0.5)`) as a person
/// writes it in a URL; other kinds of names are left out.
fn plain_name(presented: &str) -> Option<String> {
    let dns = presented
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"));
    let address = presented
        .strip_prefix("IpAddress(")
        .and_then(|rest| rest.strip_suffix(')'));
    dns.or(address).map(str::to_owned)
}

/// The error, or one of its causes, displays as `text`.
fn says(error: &tokio_postgres::Error, text: &str) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.to_string() == text {
            return true;
        }
        cause = current.source();
    }
    false
}

/// The rustls error under a failed handshake. tokio-rustls wraps it in an `io::Error`, whose
/// `source()` skips it, so each I/O error is looked into as well.
fn rustls_error(error: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        cause = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_rustls_are_written_as_in_a_url() {
        assert_eq!(
            plain_name(r#"DnsName("db.example")"#).as_deref(),
            Some("db.example")
        );
        assert_eq!(
            plain_name("IpAddress(10.0.0.5)").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(plain_name("DirectoryName"), None);
    }

    fn wire_mode(url: &str) -> WireMode {
        plan(url)
            .unwrap_or_else(|error| panic!("{url}: {error}"))
            .1
            .wire
    }

    #[test]
    fn plain_text_to_another_computer_needs_an_explicit_sslmode_disable() {
        for url in [
            "postgres://sync@db.uni.example/research",
            "postgres://sync@db.uni.example/research?sslmode=prefer",
            "postgres://sync@10.1.2.3/research",
            "host=db.uni.example user=sync",
            // The address connected to decides, not the name.
            "postgres://sync@localhost/research?hostaddr=192.0.2.7",
            // One remote host among local ones is enough.
            "postgres://sync@127.0.0.1,db.uni.example/research",
        ] {
            assert_eq!(wire_mode(url), WireMode::Require, "{url}");
        }
        for url in [
            "postgres://sync@db.uni.example/research?sslmode=disable",
            "host=db.uni.example sslmode=disable",
        ] {
            assert_eq!(wire_mode(url), WireMode::Disable, "{url}");
        }
    }

    #[test]
    fn a_server_on_this_computer_keeps_libpqs_prefer() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/postgres",
            "postgres://postgres@127.8.9.10/postgres",
            "postgres://postgres@[::1]:5432/postgres",
            "postgres://postgres@localhost/postgres?sslmode=prefer",
            "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/postgres",
            "host=/var/run/postgresql user=postgres",
            "postgres://postgres@db.example/postgres?hostaddr=127.0.0.1",
        ] {
            assert_eq!(wire_mode(url), WireMode::Prefer, "{url}");
        }
    }

    #[test]
    fn the_verify_modes_and_require_always_need_tls() {
        for mode in ["require", "verify-ca", "verify-full"] {
            assert_eq!(
                wire_mode(&format!("postgres://u@127.0.0.1/db?sslmode={mode}")),
                WireMode::Require
            );
        }
    }

    #[test]
    fn a_missing_ca_file_is_reported_before_connecting() {
        let error = check_database_url(
            "postgres://u@db.uni.example/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        )
        .expect_err("no such file");
        let message = error.to_string();
        assert!(message.contains("/nonexistent/ca.pem"), "{message}");
        check_database_url("postgres://u@db.uni.example/db?sslmode=verify-full")
            .expect("the default trust needs no file");
    }

    #[test]
    fn an_address_without_a_name_cannot_be_verified() {
        let message = plan("hostaddr=192.0.2.7 user=sync sslmode=verify-full")
            .expect_err("no name to verify")
            .to_string();
        assert!(message.contains("host="), "{message}");
    }

    #[test]
    fn the_default_trust_and_a_verify_ca_configuration_build() {
        let (_, verify_ca) = plan_of("postgres://u@db.example/db?sslmode=verify-ca");
        assert!(verify_ca.connector().expect("builds").is_some());
        let (_, disable) = plan_of("postgres://u@db.example/db?sslmode=disable");
        assert!(disable.connector().expect("builds").is_none());
    }

    fn plan_of(url: &str) -> (Config, Plan) {
        plan(url).expect("plan")
    }
}
