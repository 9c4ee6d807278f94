//! TLS contexts: the settings luaossl's `openssl.ssl.context` methods make, kept until a
//! connection needs them, then turned into a rustls config that is cached until the next change.

use super::ciphers;
use super::pem::provider;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SigningKey, SingleCertAndKey};
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
    SupportedCipherSuite, SupportedProtocolVersion,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

// luaossl's (OpenSSL's) numbers, so scripts may pass either our constants or plain numbers.
pub const VERIFY_NONE: i64 = 0;
pub const VERIFY_PEER: i64 = 1;
pub const VERIFY_FAIL_IF_NO_PEER_CERT: i64 = 2;
pub const VERIFY_CLIENT_ONCE: i64 = 4;
pub const OP_NO_COMPRESSION: i64 = 0x20000;
pub const OP_CIPHER_SERVER_PREFERENCE: i64 = 0x400000;
pub const OP_NO_SSLV3: i64 = 0x2000000;
pub const OP_NO_TLSV1: i64 = 0x4000000;
pub const OP_NO_TLSV1_2: i64 = 0x8000000;
pub const OP_NO_TLSV1_1: i64 = 0x10000000;
pub const OP_NO_TLSV1_3: i64 = 0x20000000;

/// What rustls always does: no SSLv3, TLS 1.0, TLS 1.1 or compression.
const DEFAULT_OPTIONS: i64 = OP_NO_SSLV3 | OP_NO_TLSV1 | OP_NO_TLSV1_1 | OP_NO_COMPRESSION;

/// Trusted roots (luaossl's `x509.store`), shared by the contexts it is set on.
pub struct Store {
    extra: RootCertStore,
    system: bool,
    /// Bumped on every change, so contexts notice that their cached configs are stale.
    generation: u64,
}

pub type SharedStore = Rc<RefCell<Store>>;

/// The system's roots (rustls-native-certs honours SSL_CERT_FILE and SSL_CERT_DIR), or
/// webpki-roots' Mozilla set when the system has none. Loaded once per process.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if roots.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        roots
    })
}

impl Store {
    /// `system`: whether the system's roots are trusted too.
    pub fn new(system: bool) -> SharedStore {
        Rc::new(RefCell::new(Store {
            extra: RootCertStore::empty(),
            system,
            generation: 0,
        }))
    }

    pub fn add(&mut self, certs: Vec<CertificateDer<'static>>) -> Result<(), String> {
        for c in certs {
            self.extra
                .add(c)
                .map_err(|e| format!("invalid trust anchor: {e}"))?;
        }
        self.generation += 1;
        Ok(())
    }

    /// Trust the system's roots too (luaossl's `store:addDefaults()`).
    pub fn add_defaults(&mut self) {
        self.system = true;
        self.generation += 1;
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, String> {
        let mut roots = if self.system {
            system_roots().clone()
        } else {
            RootCertStore::empty()
        };
        roots.roots.extend(self.extra.roots.iter().cloned());
        if roots.is_empty() {
            return Err(
                "no trusted certificates to verify the peer with (the store is empty)".into(),
            );
        }
        Ok(Arc::new(roots))
    }
}

#[derive(Default)]
struct Cache {
    generation: u64,
    server: Option<Arc<ServerConfig>>,
    client: Option<Arc<ClientConfig>>,
}

pub struct Context {
    verify: i64,
    depth: i64,
    options: i64,
    alpn: Vec<Vec<u8>>,
    leaf: Option<CertificateDer<'static>>,
    chain: Vec<CertificateDer<'static>>,
    key: Option<Arc<dyn SigningKey>>,
    store: SharedStore,
    tls12: Option<Vec<SupportedCipherSuite>>,
    tls13: Option<Vec<SupportedCipherSuite>>,
    cache: Cache,
}

impl Context {
    /// A client context verifies the server against the system's roots; a server context
    /// asks for no client certificate. Both offer ALPN h2 and http/1.1.
    pub fn new(server: bool) -> Context {
        Context {
            verify: if server { VERIFY_NONE } else { VERIFY_PEER },
            depth: -1,
            options: DEFAULT_OPTIONS,
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            leaf: None,
            chain: Vec::new(),
            key: None,
            store: Store::new(!server),
            tls12: None,
            tls13: None,
            cache: Cache::default(),
        }
    }

    fn changed(&mut self) {
        self.cache = Cache::default();
    }

    /// The first certificate is ours; any others (a full-chain PEM) replace the chain. A key
    /// that does not match the new certificate is dropped, as OpenSSL does.
    pub fn set_certificate(
        &mut self,
        mut certs: Vec<CertificateDer<'static>>,
    ) -> Result<(), String> {
        if certs.is_empty() {
            return Err("no certificate given".into());
        }
        let rest = certs.split_off(1);
        self.leaf = certs.pop();
        if !rest.is_empty() {
            self.chain = rest;
        }
        if let (Some(leaf), Some(key)) = (&self.leaf, &self.key) {
            if mismatched(leaf, key) {
                self.key = None;
            }
        }
        self.changed();
        Ok(())
    }

    pub fn certificate(&self) -> Option<&CertificateDer<'static>> {
        self.leaf.as_ref()
    }

    /// The intermediate certificates sent after ours.
    pub fn set_chain(&mut self, chain: Vec<CertificateDer<'static>>) {
        self.chain = chain;
        self.changed();
    }

    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    pub fn set_private_key(&mut self, key: Arc<dyn SigningKey>) -> Result<(), String> {
        if self
            .leaf
            .as_ref()
            .is_some_and(|leaf| mismatched(leaf, &key))
        {
            return Err("private key does not match the certificate".into());
        }
        self.key = Some(key);
        self.changed();
        Ok(())
    }

    /// The protocols offered (client) or accepted in this order of preference (server).
    pub fn set_alpn(&mut self, protos: Vec<Vec<u8>>) -> Result<(), String> {
        if protos.iter().any(|p| p.is_empty() || p.len() > 255) {
            return Err("ALPN protocol names must be 1 to 255 bytes long".into());
        }
        self.alpn = protos;
        self.changed();
        Ok(())
    }

    /// luaossl's verify mode bits; `depth` is kept for `getVerify` only (rustls has no limit).
    pub fn set_verify(&mut self, mode: i64, depth: Option<i64>) {
        self.verify = mode;
        if let Some(d) = depth {
            self.depth = d;
        }
        self.changed();
    }

    pub fn verify(&self) -> (i64, i64) {
        (self.verify, self.depth)
    }

    /// OpenSSL option bits: OP_NO_TLSv1_2, OP_NO_TLSv1_3 and OP_CIPHER_SERVER_PREFERENCE take
    /// effect, the rest are kept and reported only.
    pub fn set_options(&mut self, bits: i64) -> i64 {
        self.options |= bits;
        self.changed();
        self.options
    }

    pub fn clear_options(&mut self, bits: i64) -> i64 {
        self.options &= !bits;
        self.changed();
        self.options
    }

    pub fn options(&self) -> i64 {
        self.options
    }

    /// The TLS 1.2 suites (`tls13 == false`, setCipherList) or TLS 1.3 suites (setCipherSuites)
    /// an OpenSSL cipher string selects; see `ciphers::select`.
    pub fn set_ciphers(&mut self, list: &str, tls13: bool) -> Result<(), String> {
        let suites =
            ciphers::select(list, tls13).ok_or_else(|| format!("no cipher match in '{list}'"))?;
        *(if tls13 {
            &mut self.tls13
        } else {
            &mut self.tls12
        }) = Some(suites);
        self.changed();
        Ok(())
    }

    pub fn store(&self) -> SharedStore {
        self.store.clone()
    }

    pub fn set_store(&mut self, store: SharedStore) {
        self.store = store;
        self.changed();
    }

    fn certified_key(&self) -> Option<CertifiedKey> {
        let (leaf, key) = (self.leaf.clone()?, self.key.clone()?);
        let chain = std::iter::once(leaf)
            .chain(self.chain.iter().cloned())
            .collect();
        Some(CertifiedKey::new(chain, key))
    }

    fn provider(&self) -> Arc<CryptoProvider> {
        if self.tls12.is_none() && self.tls13.is_none() {
            return provider().clone();
        }
        let mut p = CryptoProvider::clone(provider());
        let (d13, d12): (Vec<_>, Vec<_>) = p
            .cipher_suites
            .iter()
            .partition(|s| matches!(s, SupportedCipherSuite::Tls13(_)));
        let t13 = self.tls13.clone().unwrap_or(d13);
        p.cipher_suites = t13
            .into_iter()
            .chain(self.tls12.clone().unwrap_or(d12))
            .collect();
        Arc::new(p)
    }

    fn versions(&self) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
        let mut v = Vec::with_capacity(2);
        if self.options & OP_NO_TLSV1_3 == 0 {
            v.push(&rustls::version::TLS13);
        }
        if self.options & OP_NO_TLSV1_2 == 0 {
            v.push(&rustls::version::TLS12);
        }
        if v.is_empty() {
            return Err("the options disable both TLS 1.2 and TLS 1.3".into());
        }
        Ok(v)
    }

    /// Drop cached configs built before the store last changed.
    fn cache(&mut self) -> &mut Cache {
        let generation = self.store.borrow().generation;
        if self.cache.generation != generation {
            self.cache = Cache {
                generation,
                ..Cache::default()
            };
        }
        &mut self.cache
    }

    pub fn server_config(&mut self) -> Result<Arc<ServerConfig>, String> {
        if let Some(c) = &self.cache().server {
            return Ok(c.clone());
        }
        let config = Arc::new(self.build_server()?);
        self.cache.server = Some(config.clone());
        Ok(config)
    }

    pub fn client_config(&mut self) -> Result<Arc<ClientConfig>, String> {
        if let Some(c) = &self.cache().client {
            return Ok(c.clone());
        }
        let config = Arc::new(self.build_client()?);
        self.cache.client = Some(config.clone());
        Ok(config)
    }

    fn build_server(&self) -> Result<ServerConfig, String> {
        let provider = self.provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions()?)
            .map_err(|e| e.to_string())?;
        let builder = if self.verify & VERIFY_PEER != 0 {
            let roots = self.store.borrow().roots()?;
            let mut v = WebPkiClientVerifier::builder_with_provider(roots, provider);
            if self.verify & VERIFY_FAIL_IF_NO_PEER_CERT == 0 {
                v = v.allow_unauthenticated();
            }
            builder.with_client_cert_verifier(v.build().map_err(|e| e.to_string())?)
        } else {
            builder.with_no_client_auth()
        };
        let key = self.certified_key().ok_or(
            "the server context has no certificate and private key (setCertificate, setPrivateKey)",
        )?;
        let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(key)));
        config.alpn_protocols = self.alpn.clone();
        config.ignore_client_order = self.options & OP_CIPHER_SERVER_PREFERENCE != 0;
        Ok(config)
    }

    fn build_client(&self) -> Result<ClientConfig, String> {
        let provider = self.provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions()?)
            .map_err(|e| e.to_string())?;
        let builder = if self.verify & VERIFY_PEER != 0 {
            let roots = self.store.borrow().roots()?;
            let v = WebPkiServerVerifier::builder_with_provider(roots, provider);
            builder.with_webpki_verifier(v.build().map_err(|e| e.to_string())?)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        };
        let mut config = match self.certified_key() {
            Some(key) => builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(key))),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.clone();
        Ok(config)
    }
}

/// Whether `key` is known not to belong to `cert`.
fn mismatched(cert: &CertificateDer<'static>, key: &Arc<dyn SigningKey>) -> bool {
    match CertifiedKey::new(vec![cert.clone()], key.clone()).keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => false,
        Err(_) => true,
    }
}

/// VERIFY_NONE for clients: any certificate and name, but the handshake signatures are still
/// checked (as OpenSSL does), so the session is bound to the key the server presented.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The self-signed certificate (ECDSA P-256, made with rcgen) and key for `names`.
fn self_signed(
    names: Vec<String>,
) -> Result<(CertificateDer<'static>, Arc<dyn SigningKey>), String> {
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot make a self-signed certificate: {e}"))?;
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
    let key = provider()
        .key_provider
        .load_private_key(der.into())
        .map_err(|e| e.to_string())?;
    Ok((made.cert.der().clone(), key))
}

/// The process' self-signed certificate and key for localhost, 127.0.0.1 and ::1, made on
/// first use.
fn default_self_signed() -> Result<(CertificateDer<'static>, Arc<dyn SigningKey>), String> {
    static MADE: OnceLock<(CertificateDer<'static>, Arc<dyn SigningKey>)> = OnceLock::new();
    if let Some(made) = MADE.get() {
        return Ok(made.clone());
    }
    let made = self_signed(["localhost", "127.0.0.1", "::1"].map(String::from).to_vec())?;
    Ok(MADE.get_or_init(|| made).clone())
}

/// A server context holding a self-signed certificate.
pub fn self_signed_context(names: Option<Vec<String>>) -> Result<Context, String> {
    let (cert, key) = match names {
        None => default_self_signed()?,
        Some(names) => self_signed(names)?,
    };
    let mut ctx = Context::new(true);
    ctx.set_certificate(vec![cert])?;
    ctx.set_private_key(key)?;
    Ok(ctx)
}

/// The configs used when a program passes no context.
pub fn default_server_config() -> Result<Arc<ServerConfig>, String> {
    static CONFIG: OnceLock<Arc<ServerConfig>> = OnceLock::new();
    if let Some(c) = CONFIG.get() {
        return Ok(c.clone());
    }
    let config = self_signed_context(None)?.server_config()?;
    Ok(CONFIG.get_or_init(|| config).clone())
}

pub fn default_client_config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(c) = CONFIG.get() {
        return Ok(c.clone());
    }
    let config = Context::new(false).client_config()?;
    Ok(CONFIG.get_or_init(|| config).clone())
}
