//! http.socks: lua-http's SOCKS5 client (RFC 1928, with RFC 1929 username/password auth). The
//! handshake runs on the I/O runtime over any stream (a TCP connection to the proxy, or the
//! socket given to `fdopen`); the tunnel it opens is handed to Lua as an http.socket.
//! lua/http/socks.lua keeps `needs_resolve` as a plain field and waits for `negotiate`.
//! Messages and errnos follow lua-http's ("socks:negotiate: remote error 5: Connection refused").

use crate::runtime::{self, fail_msg, ok};
use crate::socket::{BoxIo, Socket};
use crate::stream_common::Failure;
use crate::util::decode_component;
use mlua::{Lua, MultiValue, Value};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const DEFAULT_PORT: u16 = 1080;
const NEGOTIATE: &str = "socks:negotiate";
const AUTH: &str = "username_password_auth";

#[derive(Clone, Debug, PartialEq)]
struct Auth {
    user: Vec<u8>,
    pass: Vec<u8>,
}

impl Auth {
    /// RFC 1929 gives each a one-byte length.
    fn new(user: Vec<u8>, pass: Vec<u8>) -> Result<Auth, &'static str> {
        if user.is_empty() || user.len() > 255 || pass.len() > 255 {
            return Err("username and password must be 1-255 and 0-255 bytes long");
        }
        Ok(Auth { user, pass })
    }
}

/// The proxy named by a `socks5://` or `socks5h://` URI.
#[derive(Debug, PartialEq)]
struct ProxyUri {
    needs_resolve: bool,
    host: String,
    port: u16,
    auth: Option<Auth>,
}

fn parse_uri(uri: &[u8]) -> Result<ProxyUri, &'static str> {
    let sep = uri.windows(3).position(|w| w == b"://").ok_or("invalid URI: scheme expected")?;
    let scheme = &uri[..sep];
    let needs_resolve = if scheme.eq_ignore_ascii_case(b"socks5") {
        true
    } else if scheme.eq_ignore_ascii_case(b"socks5h") {
        false
    } else {
        return Err("only SOCKS5 proxies are supported (socks5:// or socks5h://)");
    };
    let rest = &uri[sep + 3..];
    let end = rest.iter().position(|b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let authority = &rest[..end];
    // The last '@': a password with an unescaped '@' still works.
    let (auth, hostport) = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let colon = userinfo.iter().position(|&b| b == b':').ok_or("invalid username/password format")?;
            let auth = Auth::new(decode_component(&userinfo[..colon]).into_owned(), decode_component(&userinfo[colon + 1..]).into_owned())?;
            (Some(auth), &authority[at + 1..])
        }
        None => (None, authority),
    };
    let (host, port) = split_host_port(hostport)?;
    let host = std::str::from_utf8(host).ok().filter(|h| !h.is_empty()).ok_or("invalid proxy host")?;
    let port = match port {
        Some(p) => parse_port(p)?,
        None => DEFAULT_PORT,
    };
    Ok(ProxyUri { needs_resolve, host: host.to_string(), port, auth })
}

/// Host (brackets off an IPv6 literal) and the text of the port, if any.
fn split_host_port(s: &[u8]) -> Result<(&[u8], Option<&[u8]>), &'static str> {
    if let Some(inner) = s.strip_prefix(b"[") {
        let close = inner.iter().position(|&b| b == b']').ok_or("invalid IPv6 literal")?;
        match &inner[close + 1..] {
            [] => Ok((&inner[..close], None)),
            [b':', port @ ..] => Ok((&inner[..close], Some(port))),
            _ => Err("invalid IPv6 literal"),
        }
    } else {
        match s.iter().position(|&b| b == b':') {
            Some(c) => Ok((&s[..c], Some(&s[c + 1..]))),
            None => Ok((s, None)),
        }
    }
}

fn parse_port(s: &[u8]) -> Result<u16, &'static str> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err("invalid port");
    }
    match crate::util::authority::port(s) {
        Some(n @ 1..) => Ok(n),
        _ => Err("port out of range"),
    }
}

/// Where the proxy is asked to connect.
#[derive(Debug, PartialEq)]
enum Target {
    Addr(SocketAddr),
    /// A name the proxy resolves (ATYP 3), or that we resolve first when `needs_resolve`.
    Name(Vec<u8>, u16),
}

fn target(host: &[u8], port: u16) -> Result<Target, &'static str> {
    let bare = match host {
        [b'[', inner @ .., b']'] => inner,
        _ => host,
    };
    if let Some(ip) = std::str::from_utf8(bare).ok().and_then(|s| s.parse::<IpAddr>().ok()) {
        return Ok(Target::Addr(SocketAddr::new(ip, port)));
    }
    if host.is_empty() || host.len() > 255 {
        return Err("host must be 1-255 bytes long");
    }
    Ok(Target::Name(host.to_vec(), port))
}

fn greeting(auth: bool) -> &'static [u8] {
    if auth {
        &[5, 2, 0, 2]
    } else {
        &[5, 1, 0]
    }
}

fn auth_request(a: &Auth) -> Vec<u8> {
    let mut m = Vec::with_capacity(3 + a.user.len() + a.pass.len());
    m.extend_from_slice(&[1, a.user.len() as u8]);
    m.extend_from_slice(&a.user);
    m.push(a.pass.len() as u8);
    m.extend_from_slice(&a.pass);
    m
}

fn connect_request(t: &Target) -> Vec<u8> {
    let mut m = vec![5, 1, 0];
    let port = match t {
        Target::Addr(SocketAddr::V4(a)) => {
            m.push(1);
            m.extend_from_slice(&a.ip().octets());
            a.port()
        }
        Target::Addr(SocketAddr::V6(a)) => {
            m.push(4);
            m.extend_from_slice(&a.ip().octets());
            a.port()
        }
        Target::Name(name, port) => {
            m.extend_from_slice(&[3, name.len() as u8]);
            m.extend_from_slice(name);
            *port
        }
    };
    m.extend_from_slice(&port.to_be_bytes());
    m
}

/// The failure a reply code (RFC 1928 section 6) stands for.
fn reply_failure(code: u8) -> Failure {
    let (text, errno) = match code {
        1 => ("general SOCKS server failure", libc::EIO),
        2 => ("connection not allowed by ruleset", libc::EACCES),
        3 => ("Network unreachable", libc::ENETUNREACH),
        4 => ("Host unreachable", libc::EHOSTUNREACH),
        5 => ("Connection refused", libc::ECONNREFUSED),
        6 => ("TTL expired", libc::ETIMEDOUT),
        7 => ("Command not supported", libc::EOPNOTSUPP),
        8 => ("Address type not supported", libc::EAFNOSUPPORT),
        _ => ("Unknown code", libc::EIO),
    };
    Failure::new(format!("{NEGOTIATE}: remote error {code}: {text}"), errno)
}

fn protocol_error(ctx: &str, text: &str, errno: i32) -> Failure {
    Failure::new(format!("{ctx}: {text}"), errno)
}

/// An I/O error during the handshake; the proxy closing early is a broken pipe, as in lua-http.
fn io_error(ctx: &str, e: std::io::Error) -> Failure {
    let errno = match e.kind() {
        std::io::ErrorKind::UnexpectedEof => libc::EPIPE,
        _ => e.raw_os_error().unwrap_or(libc::EIO),
    };
    Failure::new(format!("{ctx}: {}", runtime::strerror(errno)), errno)
}

async fn read<S: AsyncRead + Unpin>(io: &mut S, buf: &mut [u8], ctx: &str) -> Result<(), Failure> {
    io.read_exact(buf).await.map(drop).map_err(|e| io_error(ctx, e))
}

async fn write<S: AsyncWrite + Unpin>(io: &mut S, buf: &[u8], ctx: &str) -> Result<(), Failure> {
    io.write_all(buf).await.map_err(|e| io_error(ctx, e))?;
    io.flush().await.map_err(|e| io_error(ctx, e))
}

/// Greeting, optional username/password, CONNECT; on success the stream is the tunnel.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    auth: Option<&Auth>,
    target: &Target,
) -> Result<(), Failure> {
    let mut two = [0u8; 2];
    write(io, greeting(auth.is_some()), NEGOTIATE).await?;
    read(io, &mut two, NEGOTIATE).await?;
    if two[0] != 5 {
        return Err(protocol_error(NEGOTIATE, "not SOCKS5", libc::EILSEQ));
    }
    match (two[1], auth) {
        (0, _) => {}
        (2, Some(a)) => {
            write(io, &auth_request(a), AUTH).await?;
            read(io, &mut two, AUTH).await?;
            if two[0] != 1 {
                return Err(protocol_error(AUTH, "invalid username/password auth version", libc::EILSEQ));
            }
            if two[1] != 0 {
                return Err(io_error(AUTH, std::io::Error::from_raw_os_error(libc::EACCES)));
            }
        }
        _ => return Err(protocol_error(NEGOTIATE, "unknown authentication method", libc::EILSEQ)),
    }
    write(io, &connect_request(target), NEGOTIATE).await?;
    // Version and code first: a failing proxy may send nothing more.
    read(io, &mut two, NEGOTIATE).await?;
    if two[0] != 5 {
        return Err(protocol_error(NEGOTIATE, "not SOCKS5", libc::EILSEQ));
    }
    if two[1] != 0 {
        return Err(reply_failure(two[1]));
    }
    // Reserved byte and address type, then the bound address and port, which we ignore.
    read(io, &mut two, NEGOTIATE).await?;
    let addr_len = match two[1] {
        1 => 4,
        4 => 16,
        3 => {
            let mut n = [0u8; 1];
            read(io, &mut n, NEGOTIATE).await?;
            usize::from(n[0])
        }
        _ => return Err(protocol_error(NEGOTIATE, "unknown address type", libc::EAFNOSUPPORT)),
    };
    let mut bound = [0u8; 255 + 2];
    read(io, &mut bound[..addr_len + 2], NEGOTIATE).await
}

/// A failure to reach `host`: its OS error, or the resolver's message.
fn connect_error(host: &str, e: std::io::Error) -> Failure {
    match e.raw_os_error() {
        Some(_) => Failure::from_io(e),
        None => Failure::new(format!("{NEGOTIATE}: cannot resolve {host}: {e}"), libc::EHOSTUNREACH),
    }
}

async fn connect_proxy(host: &str, port: u16) -> Result<Socket, Failure> {
    let s = tokio::net::TcpStream::connect((host, port)).await.map_err(|e| connect_error(host, e))?;
    Ok(Socket::tcp(s))
}

/// The name resolved here, for `needs_resolve`.
async fn resolve(name: &[u8], port: u16) -> Result<Target, Failure> {
    let host = String::from_utf8_lossy(name);
    let mut addrs = tokio::net::lookup_host((&*host, port)).await.map_err(|e| connect_error(&host, e))?;
    match addrs.next() {
        Some(a) => Ok(Target::Addr(a)),
        None => Err(Failure::new(format!("{NEGOTIATE}: no address for {host}"), libc::EHOSTUNREACH)),
    }
}

/// The connection a socks object manages: the base socket (fdopen) or the negotiated tunnel.
/// `epoch` changes on close, so a negotiation that ends after a close drops its socket.
#[derive(Default)]
struct Slot {
    socket: Option<Socket>,
    epoch: u64,
}

pub struct Socks {
    /// Host and port of the proxy; None for `fdopen` objects, which only have their socket.
    proxy: Option<(String, u16)>,
    auth: Option<Auth>,
    slot: Arc<Mutex<Slot>>,
}

impl Socks {
    fn new(proxy: Option<(String, u16)>, auth: Option<Auth>, socket: Option<Socket>) -> Socks {
        Socks { proxy, auth, slot: Arc::new(Mutex::new(Slot { socket, epoch: 0 })) }
    }
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// The base socket (or a new connection to the proxy), the target resolved if asked, then the
/// handshake; the tunnel is left in `slot` unless the object was closed meanwhile.
async fn negotiate(
    base: Option<Socket>,
    proxy: Option<(String, u16)>,
    auth: Option<Auth>,
    mut target: Target,
    needs_resolve: bool,
    slot: Arc<Mutex<Slot>>,
    epoch: u64,
) -> Result<(), Failure> {
    let mut socket = match (base, proxy) {
        (Some(s), _) => s,
        (None, Some((host, port))) => connect_proxy(&host, port).await?,
        (None, None) => return Err(Failure::new(format!("{NEGOTIATE}: socket closed"), libc::EPIPE)),
    };
    if let (true, Target::Name(name, port)) = (needs_resolve, &target) {
        target = resolve(name, *port).await?;
    }
    let mut io: BoxIo = socket.take()?;
    handshake(&mut io, auth.as_ref(), &target).await?;
    let mut s = lock(&slot);
    if s.epoch != epoch {
        return Err(Failure::new(format!("{NEGOTIATE}: closed while negotiating"), libc::EPIPE));
    }
    s.socket = Some(Socket::new(io, socket.local, socket.peer, socket.tls));
    Ok(())
}

/// A port argument: an integer 1-65535 (a float with an integral value on Lua 5.1).
fn port_arg(v: &Value) -> mlua::Result<u16> {
    let n = match v {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        _ => return runtime::error("bad argument #2 to 'negotiate' (port number expected)"),
    };
    if n.fract() == 0.0 && (1.0..=65535.0).contains(&n) {
        Ok(n as u16)
    } else {
        runtime::error("port out of range")
    }
}

fn push(lua: &Lua, s: Socks) -> mlua::Result<Value> {
    Ok(Value::UserData(lua.create_any_userdata(s)?))
}

/// core.socks: the functions lua/http/socks.lua builds http.socks objects from.
pub fn open(lua: &Lua) -> mlua::Result<mlua::Table> {
    use runtime::{function, method};
    let m = lua.create_table()?;
    // connect(uri) -> object, needs_resolve
    m.set(
        "connect",
        function(lua, "connect", |lua, uri: mlua::LuaString| {
            let p = parse_uri(&uri.as_bytes()).or_else(runtime::error)?;
            let s = Socks::new(Some((p.host, p.port)), p.auth, None);
            Ok((push(lua, s)?, p.needs_resolve))
        })?,
    )?;
    // fdopen(socket | fd): takes over one of our sockets, or a duplicate of another library's fd.
    m.set(
        "fdopen",
        function(lua, "fdopen", |lua, v: Value| {
            let socket = match Socket::take_arg(lua, &v, "fdopen")? {
                Ok(s) => s,
                Err(f) => return f.outcome()(lua),
            };
            Ok(MultiValue::from_vec(vec![push(lua, Socks::new(None, None, Some(socket)))?]))
        })?,
    )?;
    m.set(
        "clone",
        method(lua, "clone", |lua, s: &mut Socks, ()| push(lua, Socks::new(s.proxy.clone(), s.auth.clone(), None)))?,
    )?;
    m.set(
        "add_username_password_auth",
        method(lua, "add_username_password_auth", |_, s: &mut Socks, (user, pass): (mlua::LuaString, mlua::LuaString)| {
            s.auth = Some(Auth::new(user.as_bytes().to_vec(), pass.as_bytes().to_vec()).or_else(runtime::error)?);
            Ok(true)
        })?,
    )?;
    // negotiate(host, port, needs_resolve, timeout) -> true | nil, msg, errno (or nil, token)
    m.set(
        "negotiate",
        method(
            lua,
            "negotiate",
            |lua, s: &mut Socks, (host, port, needs_resolve, timeout): (mlua::LuaString, Value, bool, Option<f64>)| {
                let port = port_arg(&port)?;
                let target = target(&host.as_bytes(), port).or_else(runtime::error)?;
                let (base, epoch) = {
                    let mut slot = lock(&s.slot);
                    (slot.socket.take(), slot.epoch)
                };
                let (proxy, auth, slot) = (s.proxy.clone(), s.auth.clone(), s.slot.clone());
                runtime::start(lua, runtime::timeout_arg(timeout), async move {
                    match negotiate(base, proxy, auth, target, needs_resolve, slot, epoch).await {
                        Ok(()) => ok(true),
                        Err(f) => fail_msg(f.msg, f.errno),
                    }
                })
            },
        )?,
    )?;
    m.set(
        "close",
        method(lua, "close", |_, s: &mut Socks, ()| {
            let mut slot = lock(&s.slot);
            slot.socket = None;
            slot.epoch += 1;
            Ok(true)
        })?,
    )?;
    m.set(
        "take_socket",
        method(lua, "take_socket", |lua, s: &mut Socks, ()| match lock(&s.slot).socket.take() {
            Some(socket) => socket.push(lua),
            None => Ok(MultiValue::from_vec(vec![Value::Nil])),
        })?,
    )?;
    runtime::register_type::<Socks>(lua, &m, |_| {})?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};

    fn uri(s: &str) -> Result<ProxyUri, &'static str> {
        parse_uri(s.as_bytes())
    }

    #[test]
    fn uris() {
        let p = uri("socks5://proxy.example").unwrap();
        assert_eq!((p.needs_resolve, p.host.as_str(), p.port, p.auth), (true, "proxy.example", 1080, None));
        let p = uri("SOCKS5H://us%40r:p%3Ass:x@127.0.0.1:9050/").unwrap();
        assert!(!p.needs_resolve);
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 9050));
        assert_eq!(p.auth, Some(Auth { user: b"us@r".to_vec(), pass: b"p:ss:x".to_vec() }));
        let p = uri("socks5h://u:@[::1]:1").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 1));
        assert_eq!(p.auth.unwrap().pass, b"");
        assert_eq!(uri("socks5://[::1]").unwrap().port, 1080);
        assert_eq!(uri("http://h").unwrap_err(), "only SOCKS5 proxies are supported (socks5:// or socks5h://)");
        assert_eq!(uri("socks5:h").unwrap_err(), "invalid URI: scheme expected");
        assert_eq!(uri("socks5://h:0").unwrap_err(), "port out of range");
        assert_eq!(uri("socks5://h:65536").unwrap_err(), "port out of range");
        assert_eq!(uri("socks5://h:99999999999999999999").unwrap_err(), "port out of range");
        assert_eq!(uri("socks5://h:").unwrap_err(), "invalid port");
        assert_eq!(uri("socks5://h:8x").unwrap_err(), "invalid port");
        assert_eq!(uri("socks5://user@h").unwrap_err(), "invalid username/password format");
        assert_eq!(uri("socks5://:1080").unwrap_err(), "invalid proxy host");
        assert_eq!(uri("socks5://[::1").unwrap_err(), "invalid IPv6 literal");
        assert_eq!(uri("socks5://[::1]x").unwrap_err(), "invalid IPv6 literal");
        assert!(uri(&format!("socks5://{}:p@h", "u".repeat(256))).is_err());
    }

    #[test]
    fn requests() {
        assert_eq!(greeting(false), [5, 1, 0]);
        assert_eq!(greeting(true), [5, 2, 0, 2]);
        let a = Auth::new(b"ab".to_vec(), b"c".to_vec()).unwrap();
        assert_eq!(auth_request(&a), [1, 2, b'a', b'b', 1, b'c']);
        assert_eq!(connect_request(&target(b"127.0.0.1", 80).unwrap()), [5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
        let mut v6 = vec![5, 1, 0, 4];
        v6.extend_from_slice(&[0; 15]);
        v6.extend_from_slice(&[1, 0x1f, 0x90]);
        assert_eq!(connect_request(&target(b"::1", 8080).unwrap()), v6);
        assert_eq!(connect_request(&target(b"[::1]", 8080).unwrap()), v6);
        assert_eq!(connect_request(&target(b"a.b", 443).unwrap()), [5, 1, 0, 3, 3, b'a', b'.', b'b', 1, 187]);
        assert!(target(b"", 80).is_err());
        assert!(target(&[b'x'; 256], 80).is_err());
        assert!(target(&[b'x'; 255], 80).is_ok());
    }

    /// Run the handshake against a scripted proxy that answers `answers` to the messages it
    /// reads (of the given lengths); returns the result and what the proxy received.
    async fn against(auth: Option<Auth>, target: Target, answers: &[(usize, &[u8])]) -> (Result<(), Failure>, Vec<u8>) {
        let (mut client, mut server) = duplex(1024);
        let answers: Vec<(usize, Vec<u8>)> = answers.iter().map(|(n, a)| (*n, a.to_vec())).collect();
        let proxy = tokio::spawn(async move {
            let mut got = Vec::new();
            for (n, answer) in answers {
                let mut buf = vec![0u8; n];
                if server.read_exact(&mut buf).await.is_err() {
                    break;
                }
                got.extend_from_slice(&buf);
                server.write_all(&answer).await.unwrap();
            }
            got
        });
        let r = handshake(&mut client, auth.as_ref(), &target).await;
        drop(client);
        (r, proxy.await.unwrap())
    }

    fn err(r: Result<(), Failure>) -> (String, i32) {
        let f = r.unwrap_err();
        (f.msg, f.errno)
    }

    const OK_V4: &[u8] = &[5, 0, 0, 1, 10, 0, 0, 1, 0x04, 0x38];

    #[tokio::test]
    async fn handshakes() {
        let t = || Target::Name(b"a.b".to_vec(), 80);
        let (r, got) = against(None, t(), &[(3, &[5, 0]), (10, OK_V4)]).await;
        assert!(r.is_ok());
        assert_eq!(got, [5, 1, 0, 5, 1, 0, 3, 3, b'a', b'.', b'b', 0, 80]);

        let auth = Auth::new(b"u".to_vec(), b"p".to_vec()).ok();
        let (r, got) = against(auth.clone(), t(), &[(4, &[5, 2]), (5, &[1, 0]), (10, OK_V4)]).await;
        assert!(r.is_ok());
        assert_eq!(&got[..9], [5, 2, 0, 2, 1, 1, b'u', 1, b'p']);

        // Bound addresses of every type are skipped.
        let v6 = [&[5, 0, 0, 4][..], &[0; 18]].concat();
        assert!(against(None, t(), &[(3, &[5, 0]), (10, &v6)]).await.0.is_ok());
        assert!(against(None, t(), &[(3, &[5, 0]), (10, &[5, 0, 0, 3, 2, b'h', b'i', 0, 1])]).await.0.is_ok());
    }

    #[tokio::test]
    async fn failures() {
        let t = || Target::Name(b"a.b".to_vec(), 80);
        let auth = Auth::new(b"u".to_vec(), b"p".to_vec()).ok();
        let cases: Vec<(Option<Auth>, Vec<(usize, &[u8])>, &str, i32)> = vec![
            (None, vec![(3, &[5, 0]), (10, &[5, 5])], "socks:negotiate: remote error 5: Connection refused", libc::ECONNREFUSED),
            (None, vec![(3, &[5, 0]), (10, &[5, 4, 0, 1])], "socks:negotiate: remote error 4: Host unreachable", libc::EHOSTUNREACH),
            (None, vec![(3, &[5, 0]), (10, &[5, 1, 0, 1])], "socks:negotiate: remote error 1: general SOCKS server failure", libc::EIO),
            (None, vec![(3, &[5, 0]), (10, &[5, 9])], "socks:negotiate: remote error 9: Unknown code", libc::EIO),
            (None, vec![(3, &[4, 0])], "socks:negotiate: not SOCKS5", libc::EILSEQ),
            (None, vec![(3, &[5, 0]), (10, &[4, 0, 0, 1])], "socks:negotiate: not SOCKS5", libc::EILSEQ),
            (None, vec![(3, &[5, 0xff])], "socks:negotiate: unknown authentication method", libc::EILSEQ),
            (None, vec![(3, &[5, 2])], "socks:negotiate: unknown authentication method", libc::EILSEQ),
            (None, vec![(3, &[5, 0]), (10, &[5, 0, 0, 9, 0, 0, 0, 0, 0, 0])], "socks:negotiate: unknown address type", libc::EAFNOSUPPORT),
            // Short replies: the proxy closes mid-message.
            (None, vec![(3, &[5])], "socks:negotiate: Broken pipe", libc::EPIPE),
            (None, vec![(3, &[5, 0]), (10, &[5, 0, 0, 1, 1, 2])], "socks:negotiate: Broken pipe", libc::EPIPE),
            (None, vec![(3, &[5, 0]), (10, &[5, 0, 0, 3, 200, 1])], "socks:negotiate: Broken pipe", libc::EPIPE),
            (auth.clone(), vec![(4, &[5, 2]), (5, &[1, 1])], "username_password_auth: Permission denied", libc::EACCES),
            (auth.clone(), vec![(4, &[5, 2]), (5, &[5, 0])], "username_password_auth: invalid username/password auth version", libc::EILSEQ),
            (auth.clone(), vec![(4, &[5, 2]), (5, &[])], "username_password_auth: Broken pipe", libc::EPIPE),
        ];
        for (auth, answers, msg, errno) in cases {
            let (r, _) = against(auth, t(), &answers).await;
            assert_eq!(err(r), (msg.to_string(), errno), "{answers:?}");
        }
    }
}
