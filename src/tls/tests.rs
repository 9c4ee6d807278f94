//! Real handshakes over 127.0.0.1 between configs built from contexts.

use super::context::{self, Context, Store, VERIFY_FAIL_IF_NO_PEER_CERT, VERIFY_NONE, VERIFY_PEER};
use super::{ciphers, pem, restrict_alpn, TlsInfo};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ProtocolVersion, ServerConfig};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A PEM certificate and key for `names`, made by rcgen.
fn generated(names: &[&str]) -> (String, String) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names).expect("rcgen");
    (made.cert.pem(), made.signing_key.serialize_pem())
}

fn der(pem_text: &str) -> CertificateDer<'static> {
    pem::certs(pem_text.as_bytes())
        .expect("certificate")
        .remove(0)
}

fn with_identity(server: bool, (cert, key): &(String, String)) -> Context {
    let mut ctx = Context::new(server);
    ctx.set_certificate(pem::certs(cert.as_bytes()).expect("certificate"))
        .expect("set cert");
    ctx.set_private_key(pem::key(key.as_bytes()).expect("key"))
        .expect("set key");
    ctx
}

fn client(verify: i64, trusted: Option<&str>) -> Context {
    let mut ctx = Context::new(false);
    ctx.set_verify(verify, None);
    if let Some(pem_text) = trusted {
        let store = Store::new(false);
        store.borrow_mut().add(vec![der(pem_text)]).expect("trust");
        ctx.set_store(store);
    }
    ctx
}

/// A handshake (and one exchange) for `name`: the server's and the client's view, or the
/// client's error.
async fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    name: &str,
) -> Result<(TlsInfo, TlsInfo), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = TlsAcceptor::from(server)
            .accept(tcp)
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        tls.write_all(b"pong").await.map_err(|e| e.to_string())?;
        tls.flush().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(TlsInfo::from_server(tls.get_ref().1))
    });
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(name.to_owned()).map_err(|e| e.to_string())?;
    let mut tls = TlsConnector::from(client)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"ping").await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    assert_eq!(&buf, b"pong");
    let client_info = TlsInfo::from_client(tls.get_ref().1);
    let server_info = server.await.map_err(|e| e.to_string())??;
    Ok((server_info, client_info))
}

#[tokio::test]
async fn unverified_client_negotiates_h2_and_tls13() {
    let id = generated(&["localhost"]);
    let server = with_identity(true, &id)
        .server_config()
        .expect("server config");
    let client = client(VERIFY_NONE, None)
        .client_config()
        .expect("client config");
    let (s, c) = handshake(server, client, "localhost")
        .await
        .expect("handshake");
    assert_eq!(s.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(c.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(c.version, Some(ProtocolVersion::TLSv1_3));
    assert_eq!(s.sni.as_deref(), Some("localhost"));
    assert!(s.peer_certificates.is_empty());
    assert_eq!(c.peer_certificates, vec![der(&id.0)]);
    let suite = c.cipher.expect("cipher");
    assert!(ciphers::by_suite(suite.suite()).is_some_and(|s| s.name.starts_with("TLS_")));
}

#[tokio::test]
async fn verifying_client_checks_the_trusted_root_and_the_name() {
    let id = generated(&["localhost", "127.0.0.1"]);
    let server = with_identity(true, &id)
        .server_config()
        .expect("server config");
    let trusting = client(VERIFY_PEER, Some(&id.0))
        .client_config()
        .expect("client config");
    handshake(server.clone(), trusting.clone(), "localhost")
        .await
        .expect("name matches");
    handshake(server.clone(), trusting.clone(), "127.0.0.1")
        .await
        .expect("IP matches");
    let err = handshake(server.clone(), trusting, "example.com")
        .await
        .err()
        .expect("mismatch");
    assert!(err.contains("not valid for name"), "{err}");
    // The default client context trusts the system's roots only.
    let system = Context::new(false).client_config().expect("client config");
    let err = handshake(server, system, "localhost")
        .await
        .err()
        .expect("untrusted");
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn alpn_can_be_restricted() {
    let server = context::default_server_config().expect("default server");
    let h1_server = restrict_alpn(&server, &["http/1.1"]);
    let client = client(VERIFY_NONE, None)
        .client_config()
        .expect("client config");
    let (s, c) = handshake(h1_server, client.clone(), "localhost")
        .await
        .expect("handshake");
    assert_eq!(s.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(c.alpn.as_deref(), Some(&b"http/1.1"[..]));
    let no_alpn = restrict_alpn(&client, &[]);
    let (s, _) = handshake(server, no_alpn, "localhost")
        .await
        .expect("handshake");
    assert_eq!(s.alpn, None);
}

#[tokio::test]
async fn options_and_cipher_lists_pick_version_and_suite() {
    let mut ctx = with_identity(true, &generated(&["localhost"]));
    ctx.set_options(context::OP_NO_TLSV1_3);
    ctx.set_ciphers(
        "HIGH:!aNULL:ECDHE-ECDSA-CHACHA20-POLY1305:AES128-SHA",
        false,
    )
    .expect("ciphers");
    let server = ctx.server_config().expect("server config");
    let client = client(VERIFY_NONE, None)
        .client_config()
        .expect("client config");
    let (_, c) = handshake(server, client, "localhost")
        .await
        .expect("handshake");
    assert_eq!(c.version, Some(ProtocolVersion::TLSv1_2));
    let suite = c
        .cipher
        .and_then(|s| ciphers::by_suite(s.suite()))
        .expect("suite");
    assert_eq!(suite.name, "ECDHE-ECDSA-CHACHA20-POLY1305");
    ctx.set_options(context::OP_NO_TLSV1_2);
    assert!(ctx.server_config().is_err());
    assert!(ctx
        .set_ciphers(
            "!ECDHE-ECDSA-CHACHA20-POLY1305:-TLS_AES_128_GCM_SHA256",
            false
        )
        .is_ok());
    assert!(ctx
        .set_ciphers("-ECDHE-ECDSA-CHACHA20-POLY1305", false)
        .is_ok());
    let all_tls13 = "!TLS_AES_128_GCM_SHA256:!TLS_AES_256_GCM_SHA384:!TLS_CHACHA20_POLY1305_SHA256";
    assert!(ctx.set_ciphers(all_tls13, true).is_err());
}

#[tokio::test]
async fn server_can_require_a_client_certificate() {
    let server_id = generated(&["localhost"]);
    let client_id = generated(&["client"]);
    let mut ctx = with_identity(true, &server_id);
    ctx.set_verify(VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT, Some(3));
    assert_eq!(ctx.verify(), (3, 3));
    ctx.store()
        .borrow_mut()
        .add(vec![der(&client_id.0)])
        .expect("trust");
    let server = ctx.server_config().expect("server config");
    let mut with_cert = with_identity(false, &client_id);
    with_cert.set_verify(VERIFY_NONE, None);
    let (s, _) = handshake(
        server.clone(),
        with_cert.client_config().expect("config"),
        "localhost",
    )
    .await
    .expect("handshake");
    assert_eq!(s.peer_certificates, vec![der(&client_id.0)]);
    let anonymous = client(VERIFY_NONE, None)
        .client_config()
        .expect("client config");
    // TLS 1.3: the client only learns of the refusal when it reads.
    assert!(handshake(server, anonymous, "localhost").await.is_err());
}

#[test]
fn configs_are_cached_until_the_context_changes() {
    let mut ctx = with_identity(true, &generated(&["localhost"]));
    let a = ctx.server_config().expect("config");
    assert!(Arc::ptr_eq(&a, &ctx.server_config().expect("config")));
    ctx.set_alpn(vec![b"http/1.1".to_vec()]).expect("alpn");
    let b = ctx.server_config().expect("config");
    assert!(!Arc::ptr_eq(&a, &b));
    assert_eq!(b.alpn_protocols, vec![b"http/1.1".to_vec()]);
    // A change to the (shared) store is noticed too.
    let mut c = client(VERIFY_PEER, None);
    let before = c.client_config().expect("config");
    c.store()
        .borrow_mut()
        .add(vec![der(&generated(&["x"]).0)])
        .expect("trust");
    assert!(!Arc::ptr_eq(&before, &c.client_config().expect("config")));
    assert!(ctx.set_alpn(vec![Vec::new()]).is_err());
}

#[test]
fn keys_must_match_certificates() {
    let (one, two) = (generated(&["one"]), generated(&["two"]));
    let mut ctx = with_identity(true, &one);
    let other_key = pem::key(two.1.as_bytes()).expect("key");
    assert!(ctx.set_private_key(other_key).is_err());
    // A new certificate drops a key that does not match it, as OpenSSL does.
    ctx.set_certificate(vec![der(&two.0)]).expect("cert");
    assert!(ctx.server_config().is_err());
    let empty = Context::new(true)
        .server_config()
        .expect_err("no certificate");
    assert!(empty.contains("no certificate"), "{empty}");
    // VERIFY_PEER with nothing to trust is refused up front.
    let mut strict = with_identity(true, &one);
    strict.set_verify(VERIFY_PEER, None);
    assert!(strict.server_config().is_err());
}

#[test]
fn pem_round_trips_and_bad_input_is_reported() {
    let (cert, key) = generated(&["localhost"]);
    let d = der(&cert);
    assert_eq!(
        pem::certs(pem::encode(&d).as_bytes()).expect("certs"),
        vec![d.clone()]
    );
    assert_eq!(pem::certs(d.as_ref()).expect("DER"), vec![d.clone()]);
    let chain = format!("{cert}{cert}");
    assert_eq!(pem::certs(chain.as_bytes()).expect("chain").len(), 2);
    assert!(pem::key(key.as_bytes()).is_ok());
    assert!(pem::certs(b"").is_err());
    assert!(pem::certs(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
    assert!(pem::key(cert.as_bytes()).is_err());
    let missing = pem::certs(b"/nonexistent/cert.pem").expect_err("missing file");
    assert!(missing.contains("No such file"), "{missing}");
}

#[tokio::test]
async fn checktls_objects_answer_like_luaossl_ssl_objects() {
    let id = generated(&["localhost"]);
    let server = with_identity(true, &id)
        .server_config()
        .expect("server config");
    let client = client(VERIFY_NONE, None)
        .client_config()
        .expect("client config");
    let (s, c) = handshake(server, client, "localhost")
        .await
        .expect("handshake");
    let lua = mlua::Lua::new();
    super::open(&lua).expect("open");
    let g = lua.globals();
    g.set("s", super::push_tls_info(&lua, s).expect("push"))
        .expect("set");
    g.set("c", super::push_tls_info(&lua, c).expect("push"))
        .expect("set");
    g.set("cert", id.0.clone()).expect("set");
    lua.load(
        r#"
        assert(s:getAlpnSelected() == "h2" and c:getAlpnSelected() == "h2")
        assert(s:getVersion() == 772 and s:getVersion("d") == 772)
        assert(s:getVersion("f") == 3.4 and s:getVersion("s") == "TLSv1.3")
        assert(not pcall(s.getVersion, s, "x"))
        assert(s:getHostName() == "localhost" and c:getHostName() == nil)
        local info = c:getCipherInfo()
        assert(info.version == "TLSv1.3" and info.name:find("^TLS_") and info.bits >= 128)
        assert(s:getPeerCertificate() == nil and #s:getPeerChain() == 0)
        assert(c:getPeerCertificate():toPEM() == cert and #c:getPeerChain() == 1)
        "#,
    )
    .exec()
    .expect("Lua checks");
}
