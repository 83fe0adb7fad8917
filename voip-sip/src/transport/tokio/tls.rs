//! Loading TLS server identities from PEM files.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::TransportError;

fn file_error(path: &Path, reason: impl Into<String>) -> TransportError {
    TransportError::TlsFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TransportError> {
    std::fs::read(path).map_err(|e| file_error(path, format!("cannot read it: {e}")))
}

/// Reads a certificate chain (PEM `CERTIFICATE` blocks) from `path`.
pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let pem = read(path)?;
    let certs = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, format!("not valid pem: {e}")))?;
    if certs.is_empty() {
        return Err(file_error(
            path,
            "no certificate found (expected a pem block BEGIN CERTIFICATE)",
        ));
    }
    Ok(certs)
}

/// Reads a private key (PKCS#8, PKCS#1 or SEC1 PEM) from `path`.
pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TransportError> {
    let pem = read(path)?;
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|e| file_error(path, format!("not valid pem: {e}")))?
        .ok_or_else(|| {
            file_error(
                path,
                "no private key found (expected a pem block BEGIN PRIVATE KEY)",
            )
        })
}

/// A rustls server configuration for the certificate and key files.
pub(crate) fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TransportError> {
    let certs = load_certs(cert)?;
    let private_key = load_key(key)?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, private_key)
            .map_err(|e| file_error(key, format!("key rejected for the certificate: {e}")))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file() {
        let missing = Path::new("/nonexistent/voip-sip-cert.pem");
        let err = load_certs(missing).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/voip-sip-cert.pem"), "{err}");
        assert!(err.contains("cannot read"), "{err}");

        let dir = std::env::temp_dir().join(format!("voip-sip-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        let err = load_certs(&junk).unwrap_err().to_string();
        assert!(err.contains("no certificate found"), "{err}");
        let err = load_key(&junk).unwrap_err().to_string();
        assert!(err.contains("no private key found"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
