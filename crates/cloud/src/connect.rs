//! Opening a connection to the central database, with TLS through rustls.
//!
//! The URL is libpq's (`postgres://user:pass@host:port/db?sslmode=require`). `sslmode=disable`
//! connects in plain text, `prefer` (the default) uses TLS when the server offers it, and
//! `require` refuses a server without TLS. Server certificates are always verified against the
//! Mozilla roots (`webpki-roots`) and the host name, so a managed database with a public
//! certificate works out of the box and a man in the middle does not; there is no OpenSSL
//! anywhere in the build. This is stricter than libpq, whose `prefer`/`require` accept any
//! certificate: a server with a self-signed certificate (Debian's default "snakeoil" one) is
//! refused, so use `sslmode=disable` for such a server on loopback.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::Error;

/// How long opening a connection may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `database_url`. The connection's I/O runs on a spawned task that ends when the
/// returned client is dropped or the connection breaks (the client's next call then fails).
pub async fn connect(database_url: &str) -> Result<Client, Error> {
    let (client, connection) = open(database_url).await?;
    connection.detach();
    Ok(client)
}

/// Like [`connect`], but the connection's task also ends when the guard is dropped: a socket to
/// a server that stopped answering would otherwise keep it (and the socket) waiting.
pub(crate) async fn connect_guarded(
    database_url: &str,
) -> Result<(Client, ConnectionGuard), Error> {
    open(database_url).await
}

/// Ends the connection's task when dropped, unless detached.
#[derive(Debug)]
pub(crate) struct ConnectionGuard(Option<tokio::task::JoinHandle<()>>);

impl ConnectionGuard {
    fn detach(mut self) {
        self.0 = None;
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

async fn open(database_url: &str) -> Result<(Client, ConnectionGuard), Error> {
    let mut config: Config = database_url
        .parse()
        .map_err(|source| Error::DatabaseUrl { source })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("synchub");
    }
    let (client, connection) = config.connect(tls_connector()?).await?;
    let task = tokio::spawn(async move {
        if let Err(error) = connection.await {
            // The caller sees the failure on its next call and handles it there.
            tracing::debug!(%error, "central database connection ended");
        }
    });
    Ok((client, ConnectionGuard(Some(task))))
}

fn tls_connector() -> Result<MakeRustlsConnect, Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The URL without its password, for logs and manifests.
pub fn redacted_url(database_url: &str) -> String {
    match database_url.parse::<Config>() {
        Ok(config) => {
            let ports = config.get_ports();
            let hosts: Vec<String> = config
                .get_hosts()
                .iter()
                .enumerate()
                .map(|(index, host)| {
                    let name = match host {
                        tokio_postgres::config::Host::Tcp(name) => name.clone(),
                        tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                    };
                    // One port for every host, or one per host (the parser fills in 5432).
                    match ports
                        .get(index)
                        .or(ports.first().filter(|_| ports.len() == 1))
                    {
                        Some(port) => format!("{name}:{port}"),
                        None => name,
                    }
                })
                .collect();
            format!(
                "postgres://{}@{}/{}",
                config.get_user().unwrap_or(""),
                hosts.join(","),
                config.get_dbname().unwrap_or("")
            )
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redacted_url_has_no_password() {
        let url = "postgres://alice:secret@db.example.org:5432/research?sslmode=require";
        let redacted = redacted_url(url);
        assert_eq!(redacted, "postgres://alice@db.example.org:5432/research");
        assert!(!redacted.contains("secret"));
        // The port says which server it is when several run on one host.
        assert_eq!(
            redacted_url("postgres://hub:pw@127.0.0.1:6543/central"),
            "postgres://hub@127.0.0.1:6543/central"
        );
        assert_eq!(
            redacted_url("postgres://hub@db/central"),
            "postgres://hub@db:5432/central"
        );
    }

    #[test]
    fn sslmode_require_is_understood() {
        let config: Config = "postgres://u@h/db?sslmode=require".parse().expect("parses");
        assert_eq!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        tls_connector().expect("the rustls configuration builds");
    }
}
