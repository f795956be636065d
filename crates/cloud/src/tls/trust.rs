//! Which certificates a central database may present: the trusted CAs, and the rustls
//! configuration that checks the chain (and, unless `verify-ca`, the host name).

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::TlsError;
use super::params::RootCerts;

/// The CAs to trust: the public web roots and the operating system's store, or only the
/// certificates of an `sslrootcert` file (as libpq does: naming a file pins the CA).
pub fn root_store(roots: &RootCerts) -> Result<RootCertStore, TlsError> {
    match roots {
        RootCerts::System => Ok(system_roots()),
        RootCerts::File(path) => file_roots(path),
    }
}

fn system_roots() -> RootCertStore {
    let mut store = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // The operating system's store holds what an institution installed on its computers (its
    // own CA). A store that cannot be read costs only those CAs, so it is logged, not fatal.
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "could not read part of the operating system's trusted certificates");
    }
    let (added, ignored) = store.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "operating system's trusted certificates");
    store
}

fn file_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let unreadable = |source: pem::Error| TlsError::RootCertUnreadable {
        path: path.to_owned(),
        source,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    if certificates.is_empty() {
        return Err(TlsError::RootCertEmpty {
            path: path.to_owned(),
        });
    }
    let mut store = RootCertStore::empty();
    for certificate in certificates {
        store
            .add(certificate)
            .map_err(|source| TlsError::RootCertInvalid {
                path: path.to_owned(),
                source,
            })?;
    }
    Ok(store)
}

/// The client configuration: the certificate must chain to `roots`; with `check_name` it must
/// also name the host connected to (libpq's `verify-full`), without it not (`verify-ca`).
pub fn client_config(roots: RootCertStore, check_name: bool) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(roots);
    let full = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .map_err(|error| TlsError::Configuration(error.to_string()))?;
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Configuration(error.to_string()))?;
    let builder = if check_name {
        builder.with_webpki_verifier(full)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly {
                roots,
                algorithms: provider.signature_verification_algorithms,
                full,
            }))
    };
    Ok(builder.with_no_client_auth())
}

/// `verify-ca`: the chain to a trusted CA, validity dates and key usage are checked like
/// everywhere else; only the host name is not. For a server reached by an address or an alias
/// its certificate does not list, when the CA is the institution's own.
#[derive(Debug)]
struct ChainOnly {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
    /// Checks the handshake's signatures, which do not depend on the name.
    full: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let certificate = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &certificate,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.full
            .verify_tls12_signature(message, certificate, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.full
            .verify_tls13_signature(message, certificate, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.full.supported_verify_schemes()
    }
}
