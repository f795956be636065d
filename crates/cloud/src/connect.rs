//! Opening a connection to the central database, with TLS through rustls.
//!
//! The URL is libpq's, in its URL or key=value form
//! (`postgres://user:pass@host:port/db?sslmode=verify-full&sslrootcert=/etc/ssl/uni-ca.pem`).
//! How `sslmode` and `sslrootcert` are understood, and when plain text is allowed, is the `tls`
//! module's business; there is no OpenSSL anywhere in the build.

use std::future::Future;
use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

use crate::{Error, tls};

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
    let (mut config, plan) = tls::plan(database_url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("synchub");
    }
    let (client, task) = match plan.connector()? {
        None => {
            let (client, connection) = config.connect(NoTls).await?;
            (client, run(connection))
        }
        Some(connector) => {
            let (client, connection) = config
                .connect(connector)
                .await
                .map_err(|error| plan.explain(error))?;
            (client, run(connection))
        }
    };
    Ok((client, ConnectionGuard(Some(task))))
}

/// Runs a connection's I/O on its own task.
fn run(
    connection: impl Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            // The caller sees the failure on its next call and handles it there.
            tracing::debug!(%error, "central database connection ended");
        }
    })
}

/// The URL without its password, for logs and manifests.
pub fn redacted_url(database_url: &str) -> String {
    match tls::without_tls_params(database_url).and_then(|rest| rest.parse::<Config>().ok()) {
        Some(config) => {
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
        None => "(unparsable URL)".to_owned(),
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
    fn the_redacted_url_of_a_verified_connection_names_its_server() {
        assert_eq!(
            redacted_url(
                "postgres://sync:pw@db.uni.example/research?sslmode=verify-full&sslrootcert=/etc/ca.pem"
            ),
            "postgres://sync@db.uni.example:5432/research"
        );
        assert_eq!(
            redacted_url(
                "host=db.uni.example user=sync password=pw dbname=research sslmode=verify-ca"
            ),
            "postgres://sync@db.uni.example/research"
        );
    }
}
