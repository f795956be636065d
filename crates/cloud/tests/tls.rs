//! TLS to an institution's PostgreSQL with its own CA, against a real server of the test's own
//! (TLS on, a certificate from a CA made here): the CA is trusted only when the URL names it,
//! host names are checked like libpq's `verify-full` and not with `verify-ca`, a sync pushes
//! over it, and plain text is refused unless the URL says `sslmode=disable`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use synchub_cloud::{Error, TlsError};

use crate::cluster::{Authority, Cluster};
use crate::util::{Hub, SessionPlan, assert_counts_agree, record_session};

/// Connects and says whether the session is encrypted, as the server sees it.
async fn connect_encrypted(url: &str) -> Result<bool, Error> {
    let client = synchub_cloud::connect(url).await?;
    Ok(client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0))
}

fn query_path(path: &Path) -> String {
    percent_encode(&path.display().to_string())
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Writes `pem` where a facilitator would keep the institution's CA (a path with a space, to
/// show quoting and percent-encoding work).
fn ca_file(dir: &Path, name: &str, pem: &str) -> std::path::PathBuf {
    let folder = dir.join("institution CA");
    std::fs::create_dir_all(&folder).expect("folder");
    let path = folder.join(name);
    std::fs::write(&path, pem).expect("CA file");
    path
}

#[tokio::test]
async fn an_institutions_own_ca_is_trusted_through_sslrootcert_and_names_are_checked_like_libpq() {
    let university = Authority::new("Test University CA");
    let Some(cluster) = Cluster::start(Some(&university.server_certificate(&["db.example"])), &[])
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = ca_file(dir.path(), "university.pem", university.pem());
    let root_cert = format!("sslrootcert={}", query_path(&ca));

    // Without the CA: refused, and told to add sslrootcert (whatever the mode that needs TLS).
    for query in ["sslmode=verify-full", "sslmode=require", ""] {
        let url = cluster.url("127.0.0.1", query);
        let error = connect_encrypted(&url).await.expect_err("an unknown CA");
        eprintln!("{query:?} without the CA: {error}");
        assert!(
            matches!(error, Error::CentralTls(TlsError::UnknownCa { .. })),
            "{query:?}: {error:?}"
        );
        assert!(error.to_string().contains("add sslrootcert="), "{error}");
    }

    // With the CA, by the name on the certificate (hostaddr= says where that name is).
    let by_name = cluster.url(
        "db.example",
        &format!("hostaddr=127.0.0.1&sslmode=verify-full&{root_cert}"),
    );
    assert!(
        connect_encrypted(&by_name)
            .await
            .expect("verify-full by name")
    );
    // The same in libpq's key=value form, the path quoted.
    let key_value = format!(
        "host=db.example hostaddr=127.0.0.1 port={} user=postgres dbname=postgres \
         sslmode=verify-full sslrootcert='{}'",
        cluster.port,
        ca.display()
    );
    assert!(connect_encrypted(&key_value).await.expect("key=value form"));

    // By an address the certificate does not list: verify-full refuses and says what it lists…
    let by_address = cluster.url("127.0.0.1", &format!("sslmode=verify-full&{root_cert}"));
    let error = connect_encrypted(&by_address)
        .await
        .expect_err("wrong name");
    eprintln!("verify-full by address: {error}");
    match &error {
        Error::CentralTls(TlsError::WrongName {
            host, presented, ..
        }) => {
            assert_eq!(host, "127.0.0.1");
            assert_eq!(presented, &["db.example".to_owned()]);
        }
        other => panic!("{other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("db.example") && message.contains("sslmode=verify-ca"),
        "{message}"
    );
    // …verify-ca checks the chain only and connects.
    let chain_only = cluster.url("127.0.0.1", &format!("sslmode=verify-ca&{root_cert}"));
    assert!(connect_encrypted(&chain_only).await.expect("verify-ca"));

    // verify-ca is no "accept anything": a CA that did not sign the server's certificate is
    // refused, and the message names the file.
    let other = Authority::new("Some Other CA");
    let other_ca = ca_file(dir.path(), "other.pem", other.pem());
    let wrong_ca = cluster.url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={}", query_path(&other_ca)),
    );
    let error = connect_encrypted(&wrong_ca).await.expect_err("another CA");
    eprintln!("verify-ca with another CA: {error}");
    assert!(
        matches!(
            error,
            Error::CentralTls(TlsError::NotSignedByRootCert { .. })
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("other.pem"), "{error}");

    // A certificate with the address in its names passes verify-full by address…
    cluster.replace_certificate(&university.server_certificate(&["127.0.0.1"]));
    assert!(connect_encrypted(&by_address).await.expect("IP SAN"));
    // …unless it has expired.
    cluster.replace_certificate(&university.expired_server_certificate(&["127.0.0.1"]));
    let error = connect_encrypted(&by_address).await.expect_err("expired");
    eprintln!("expired: {error}");
    assert!(
        matches!(error, Error::CentralTls(TlsError::Validity { .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains("renewed"), "{error}");
}

#[tokio::test]
async fn a_sync_pushes_every_row_over_verified_tls() {
    let university = Authority::new("Test University CA");
    let Some(cluster) = Cluster::start(Some(&university.server_certificate(&["db.example"])), &[])
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = ca_file(dir.path(), "university.pem", university.pem());
    let url = cluster.url(
        "db.example",
        &format!(
            "hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}",
            query_path(&ca)
        ),
    );
    let hub = Hub::open();
    record_session(
        &hub,
        &SessionPlan {
            number: 1,
            people: (0..4).map(|person| (person, true)).collect(),
            beats: 300,
            complete: true,
        },
    );

    let options = synchub_cloud::SyncOptions::new(url.clone(), hub.database_path());
    let report = synchub_cloud::push(&options, &mut |_| {})
        .await
        .expect("the push over TLS completes");
    assert_counts_agree(&report);
    let client = synchub_cloud::connect(&url).await.expect("connect");
    let beats: i64 = client
        .query_one("SELECT count(*) FROM rr_intervals", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(beats, 4 * 300);
}

#[tokio::test]
async fn plain_text_needs_sslmode_disable_in_the_url_except_on_this_computer() {
    const LAN: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1));
    let inside = std::env::var_os(crate::cluster::INSIDE_PRIVATE_NETNS).is_some();
    if !inside {
        if !crate::cluster::is_root() {
            eprintln!("skipped: a private network namespace for a non-loopback server needs root");
            return;
        }
        crate::cluster::rerun_in_private_network_namespace(
            "tls::plain_text_needs_sslmode_disable_in_the_url_except_on_this_computer",
            "ip link set lo up && ip link add lan0 type veth peer name lan1 && \
             ip addr add 10.77.0.1/24 dev lan0 && ip link set lan0 up && ip link set lan1 up",
        );
        return;
    }
    // A server without TLS, on loopback and on a second address inside this namespace.
    let Some(cluster) = Cluster::start(None, &[LAN]) else {
        return;
    };

    // Another computer: no sslmode at all, or prefer, is TLS or nothing.
    for (query, why) in [
        ("", "unless the URL says sslmode=disable"),
        ("sslmode=prefer", "unless the URL says sslmode=disable"),
        ("sslmode=require", "the URL says sslmode=require"),
    ] {
        let url = cluster.url(&LAN.to_string(), query);
        let error = connect_encrypted(&url).await.expect_err("no plain text");
        eprintln!("{query:?} to {LAN}: {error}");
        assert!(
            matches!(error, Error::CentralTls(TlsError::ServerWithoutTls { .. })),
            "{query:?}: {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains(why)
                && message.contains("write sslmode=disable")
                && message.contains("ssl = on"),
            "{message}"
        );
    }
    // Saying so explicitly is the way to plain text.
    let disable = cluster.url(&LAN.to_string(), "sslmode=disable");
    assert!(!connect_encrypted(&disable).await.expect("explicit disable"));

    // This computer keeps libpq's prefer: plain text when the server has no TLS…
    assert!(
        !connect_encrypted(&cluster.url("127.0.0.1", ""))
            .await
            .expect("loopback")
    );
    // …but not when the URL requires TLS.
    let error = connect_encrypted(&cluster.url("127.0.0.1", "sslmode=verify-full"))
        .await
        .expect_err("TLS required");
    assert!(
        error
            .to_string()
            .contains("the URL says sslmode=verify-full"),
        "{error}"
    );
}
