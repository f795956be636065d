//! `sslmode=require` is honoured: no TLS, no connection.

use crate::util::TestDatabase;

#[tokio::test]
async fn sslmode_require_never_falls_back_to_plain_text() {
    let database = TestDatabase::create().await;
    let server_has_tls: String = database
        .client()
        .await
        .query_one("SHOW ssl", &[])
        .await
        .expect("SHOW ssl")
        .get(0);
    let require = database.url.replace("sslmode=disable", "sslmode=require");

    let outcome = synchub_cloud::connect(&require).await;
    eprintln!(
        "server ssl={server_has_tls}; sslmode=require gives {:?}",
        outcome.as_ref().err()
    );

    match (server_has_tls.as_str(), outcome) {
        ("off", Ok(_)) => panic!("connected in plain text despite sslmode=require"),
        ("off", Err(error)) => {
            let message = format!("{error:?}").to_lowercase();
            assert!(
                message.contains("tls") || message.contains("ssl"),
                "{message}"
            );
        }
        (_, Ok(client)) => {
            let encrypted: bool = client
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await
                .expect("pg_stat_ssl")
                .get(0);
            assert!(encrypted);
        }
        (_, Err(error)) => {
            // A server with TLS but a certificate outside the Mozilla roots (self-signed) is
            // refused rather than trusted blindly.
            let message = format!("{error:?}").to_lowercase();
            assert!(message.contains("certificate"), "{message}");
        }
    }
}
