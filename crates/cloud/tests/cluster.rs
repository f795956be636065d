//! A throwaway PostgreSQL cluster of its own (initdb, trust authentication, a free port), with
//! TLS on and a certificate from a CA made for the test, like an institution's database with
//! its own CA. As root (the tests' usual case) the server runs as the `postgres` user, since
//! initdb refuses root.

use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A certificate authority that signs server certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Authority {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name.push(DnType::CommonName, name);
        let certificate = params.self_signed(&key).expect("the CA certificate");
        Self {
            pem: certificate.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate in PEM, as an institution hands it out.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for `names` (DNS names, or IP addresses written as such), and its
    /// key, both in PEM.
    pub fn server_certificate(&self, names: &[&str]) -> ServerCertificate {
        self.certificate(names, false)
    }

    /// Like [`Self::server_certificate`], but it expired yesterday.
    pub fn expired_server_certificate(&self, names: &[&str]) -> ServerCertificate {
        self.certificate(names, true)
    }

    fn certificate(&self, names: &[&str], expired: bool) -> ServerCertificate {
        let key = KeyPair::generate().expect("a server key");
        let mut params = CertificateParams::new(
            names
                .iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>(),
        )
        .expect("server parameters");
        params.distinguished_name.push(DnType::CommonName, names[0]);
        if expired {
            let day = time::Duration::days(1);
            params.not_before = time::OffsetDateTime::now_utc() - day * 30;
            params.not_after = time::OffsetDateTime::now_utc() - day;
        }
        let certificate = params
            .signed_by(&key, &self.issuer)
            .expect("the server certificate");
        ServerCertificate {
            certificate: certificate.pem(),
            key: key.serialize_pem(),
        }
    }
}

pub struct ServerCertificate {
    pub certificate: String,
    pub key: String,
}

/// A running cluster, stopped and removed when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    run_as_postgres: bool,
    pub port: u16,
}

impl Cluster {
    /// Starts a cluster listening on 127.0.0.1 and `extra_addresses`, with TLS when
    /// `certificate` is given. `None`, after printing why, when PostgreSQL's server binaries are
    /// not installed.
    pub fn start(
        certificate: Option<&ServerCertificate>,
        extra_addresses: &[IpAddr],
    ) -> Option<Self> {
        let Some(bin) = server_binaries() else {
            eprintln!(
                "skipped: no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin; \
                 install the postgresql package to run this test"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("synchub-tls-pg")
            .tempdir()
            .expect("a directory for the cluster");
        let run_as_postgres = is_root();
        let cluster = Self {
            dir,
            bin,
            run_as_postgres,
            port: free_port(),
        };
        cluster.give_to_server(cluster.dir.path());
        if let Some(certificate) = certificate {
            cluster.install(certificate);
        }
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data().display().to_string(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        let listen = std::iter::once("127.0.0.1".to_owned())
            .chain(extra_addresses.iter().map(ToString::to_string))
            .collect::<Vec<_>>()
            .join(",");
        // Clients on the extra addresses are let in like loopback ones.
        let hba: String = extra_addresses
            .iter()
            .map(|address| format!("host all all {address}/32 trust\n"))
            .collect();
        let hba_path = cluster.data().join("pg_hba.conf");
        let mut rules = std::fs::read_to_string(&hba_path).expect("pg_hba.conf");
        rules.push_str(&hba);
        std::fs::write(&hba_path, rules).expect("pg_hba.conf written");
        let mut options = format!(
            "-p {} -k {} -c listen_addresses={listen} -c fsync=off",
            cluster.port,
            cluster.dir.path().display()
        );
        if certificate.is_some() {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cluster.certificate_path().display(),
                cluster.key_path().display()
            ));
        }
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                &cluster.data().display().to_string(),
                "-l",
                &cluster.log_path().display().to_string(),
                "-w",
                "-o",
                &options,
                "start",
            ],
        );
        Some(cluster)
    }

    /// The URL of the `postgres` database at `host` (a name or an address), with `query`.
    pub fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }

    /// Serves `certificate` from now on (the server restarts; its options stay).
    pub fn replace_certificate(&self, certificate: &ServerCertificate) {
        self.install(certificate);
        // With its log file named again: a server started without one writes to pg_ctl's
        // output, which would then never end.
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-l",
                &self.log_path().display().to_string(),
                "-w",
                "-m",
                "fast",
                "restart",
            ],
        );
    }

    fn install(&self, certificate: &ServerCertificate) {
        std::fs::write(self.certificate_path(), &certificate.certificate).expect("certificate");
        std::fs::write(self.key_path(), &certificate.key).expect("key");
        // PostgreSQL refuses a key that others may read.
        set_mode(&self.key_path(), 0o600);
        self.give_to_server(&self.certificate_path());
        self.give_to_server(&self.key_path());
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn certificate_path(&self) -> PathBuf {
        self.dir.path().join("server.crt")
    }

    fn key_path(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }

    fn give_to_server(&self, path: &Path) {
        if self.run_as_postgres {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(path)
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown postgres {}", path.display());
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let output = if self.run_as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        }
        .unwrap_or_else(|error| panic!("{}: {error}", program.display()));
        if !output.status.success() {
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            panic!(
                "{} {args:?} failed:\n{}\n{}\nserver log:\n{log}",
                program.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let data = self.data();
        let mut command = if self.run_as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let _ = command
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// The newest installed major version's server binaries.
fn server_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Set in the environment of a test binary rerun by [`rerun_in_private_network_namespace`].
pub const INSIDE_PRIVATE_NETNS: &str = "SYNCHUB_TEST_IN_PRIVATE_NETNS";

/// Runs the test `name` of this binary again inside a private network namespace (`unshare
/// -n`, as root: the server inside runs as the `postgres` user, whom a user namespace would not
/// map), after the shell commands `setup`, with [`INSIDE_PRIVATE_NETNS`] set; fails unless the
/// inner run passed that one test. Nothing the inner test does on the network leaves the
/// namespace.
pub fn rerun_in_private_network_namespace(name: &str, setup: &str) {
    let test_binary = std::env::current_exe().expect("the test binary");
    let script = format!("{setup} && exec \"$0\" \"$@\"");
    let output = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .arg(test_binary)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(INSIDE_PRIVATE_NETNS, "1")
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("inside the namespace:\n{stdout}\n{stderr}");
    assert!(
        output.status.success(),
        "the test failed inside the namespace"
    );
    assert!(stdout.contains("1 passed"), "the inner test ran");
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
