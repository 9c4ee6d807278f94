//! Certificates and private keys from PEM text, DER bytes or a file holding either.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ParsedCertificate;
use rustls::sign::SigningKey;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The ring provider with its default suites (contexts narrow the suites on a copy).
pub fn provider() -> &'static Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
}

enum Source<'a> {
    Pem,
    Der,
    Path(&'a Path),
}

/// PEM has a BEGIN line; DER (certificates and keys alike) starts with a SEQUENCE whose length
/// takes the long form, a byte no text path starts with; anything else names a file.
fn classify(bytes: &[u8]) -> Source<'_> {
    use std::os::unix::ffi::OsStrExt;
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        Source::Pem
    } else if bytes.len() > 1 && bytes[0] == 0x30 && bytes[1] > 0x80 {
        Source::Der
    } else {
        Source::Path(Path::new(std::ffi::OsStr::from_bytes(bytes)))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        let why = e
            .raw_os_error()
            .map_or_else(|| e.to_string(), crate::runtime::strerror);
        format!("{}: {}", path.display(), why)
    })
}

/// Parse the contents of a file (which must be PEM or DER: no path to follow further).
fn file<T>(path: &Path, parse: fn(&[u8]) -> Result<T, String>) -> Result<T, String> {
    let data = read(path)?;
    if let Source::Path(_) = classify(&data) {
        return Err(format!("{}: neither PEM nor DER", path.display()));
    }
    parse(&data)
}

/// Every certificate in `bytes` (PEM may hold several), each checked to parse as X.509.
pub fn certs(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = match classify(bytes) {
        Source::Pem => CertificateDer::pem_slice_iter(bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("invalid certificate PEM: {e}"))?,
        Source::Der => vec![CertificateDer::from(bytes.to_vec())],
        Source::Path(p) => return file(p, certs),
    };
    if certs.is_empty() {
        return Err("no CERTIFICATE found in PEM data".into());
    }
    for c in &certs {
        ParsedCertificate::try_from(c).map_err(|e| format!("invalid certificate: {e}"))?;
    }
    Ok(certs)
}

/// The certificates of every file in a directory that holds any (others are skipped, as
/// OpenSSL's hashed directories hold other files too).
pub fn certs_in_dir(dir: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let files = entries.flatten().map(|e| e.path()).filter(|p| p.is_file());
    Ok(files
        .filter_map(|p| file(&p, certs).ok())
        .flatten()
        .collect())
}

/// A signing key from PEM (PKCS#8, PKCS#1 or SEC1), DER, or a file holding either.
pub fn key(bytes: &[u8]) -> Result<Arc<dyn SigningKey>, String> {
    let der = match classify(bytes) {
        Source::Pem => PrivateKeyDer::from_pem_slice(bytes)
            .map_err(|e| format!("invalid private key PEM: {e}"))?,
        Source::Der => PrivateKeyDer::try_from(bytes.to_vec())
            .map_err(|e| format!("invalid private key: {e}"))?,
        Source::Path(p) => return file(p, key),
    };
    provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| format!("unsupported private key: {e}"))
}

/// PEM text of a DER certificate.
pub fn encode(der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            b64.push(if i <= chunk.len() {
                B64[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.chunks(64) {
        out.extend(line.iter().map(|&b| b as char));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}
