//! Reaching a server: `http.client.connect/negotiate`'s options, DNS, TCP or Unix, TLS (rustls,
//! SNI, ALPN), then the HTTP/1 or HTTP/2 handshake. Everything after parsing runs on the I/O
//! runtime.

use super::{Sender, Shared};
use crate::connection_common::{Addr, Conn};
use crate::socket::{BoxIo, Socket};
use crate::stream_common::{Failure, OutBody};
use bytes::Bytes;
use mlua::{AnyUserData, Lua, Table, Value};
use rustls::pki_types::ServerName;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// HTTP/2 settings from `.h2_settings` (lua-http's names or the numeric ids).
#[derive(Clone, Default, Debug)]
pub struct H2Settings {
    header_table_size: Option<u32>,
    enable_push: Option<bool>,
    max_concurrent_streams: Option<u32>,
    initial_window_size: Option<u32>,
    max_frame_size: Option<u32>,
    max_header_list_size: Option<u32>,
}

#[derive(Clone)]
pub struct Tls {
    config: Arc<rustls::ClientConfig>,
    /// The name certificates are checked against.
    name: ServerName<'static>,
    /// What `checktls():getHostName()` reports (None: SNI off).
    sni: Option<String>,
}

#[derive(Clone)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub path: Option<String>,
    pub family: i32,
    pub bind: Option<SocketAddr>,
    pub tls: Option<Tls>,
    pub version: Option<f64>,
    pub h2: H2Settings,
    /// Identifies connections these options may share (the pool's key).
    pub key: String,
}

fn bad(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// "addr[:port]" or "[v6]:port".
fn parse_bind(s: &str) -> mlua::Result<SocketAddr> {
    let err = || bad(format!("invalid bind address '{s}'"));
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, port) = rest.split_once(']').ok_or_else(err)?;
        let ip: IpAddr = ip.parse().map_err(|_| err())?;
        let port = match port.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| err())?,
            None if port.is_empty() => 0,
            None => return Err(err()),
        };
        return Ok(SocketAddr::new(ip, port));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 0));
    }
    s.parse::<SocketAddr>().map_err(|_| err())
}

fn h2_settings(t: Option<Table>) -> mlua::Result<H2Settings> {
    let mut s = H2Settings::default();
    let Some(t) = t else { return Ok(s) };
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let id = match &k {
            Value::Integer(n) => *n,
            Value::Number(n) => *n as i64,
            Value::String(name) => match &*name.to_str()? {
                "HEADER_TABLE_SIZE" => 1,
                "ENABLE_PUSH" => 2,
                "MAX_CONCURRENT_STREAMS" => 3,
                "INITIAL_WINDOW_SIZE" => 4,
                "MAX_FRAME_SIZE" => 5,
                "MAX_HEADER_LIST_SIZE" => 6,
                other => return Err(bad(format!("h2_settings: unknown setting '{other}'"))),
            },
            _ => return Err(bad("h2_settings: setting names or ids expected")),
        };
        let num = || -> mlua::Result<u32> {
            match &v {
                Value::Integer(n) if (0..=u32::MAX as i64).contains(n) => Ok(*n as u32),
                Value::Number(n) if *n >= 0.0 && *n <= u32::MAX as f64 => Ok(*n as u32),
                _ => Err(bad(format!("h2_settings: invalid value for setting {id}"))),
            }
        };
        match id {
            1 => s.header_table_size = Some(num()?),
            2 => s.enable_push = Some(matches!(v, Value::Boolean(true)) || num().is_ok_and(|n| n == 1)),
            3 => s.max_concurrent_streams = Some(num()?),
            4 => s.initial_window_size = Some(num()?),
            5 => s.max_frame_size = Some(num()?),
            6 => s.max_header_list_size = Some(num()?),
            _ => return Err(bad(format!("h2_settings: unknown setting {id}"))),
        }
    }
    Ok(s)
}

fn port_arg(v: Value) -> mlua::Result<Option<u16>> {
    let n = match v {
        Value::Nil => return Ok(None),
        Value::Integer(n) => n as f64,
        Value::Number(n) => n,
        Value::String(s) => s.to_str()?.trim().parse::<f64>().map_err(|_| bad("invalid port"))?,
        _ => return Err(bad("invalid port")),
    };
    if n.fract() != 0.0 || !(0.0..=65535.0).contains(&n) {
        return Err(bad("invalid port"));
    }
    Ok(Some(n as u16))
}

/// The options table of connect/negotiate (negotiate ignores the addressing fields).
pub fn options(lua: &Lua, t: &Table, negotiate: bool) -> mlua::Result<Options> {
    let path: Option<String> = t.get("path")?;
    let host: Option<String> = t.get("host")?;
    if !negotiate && host.is_none() && path.is_none() {
        return Err(bad("http.client: .host or .path expected"));
    }
    let host = host.unwrap_or_default();
    let use_tls = t.get::<Option<bool>>("tls")?.unwrap_or(false);
    let port = port_arg(t.get("port")?)?.unwrap_or(if use_tls { 443 } else { 80 });
    let family = t.get::<Option<i32>>("family")?.unwrap_or(libc::AF_UNSPEC);
    let bind = match t.get::<Option<String>>("bind")? {
        Some(b) => Some(parse_bind(&b)?),
        None => None,
    };
    let version = t.get::<Option<f64>>("version")?;
    if !matches!(version, None | Some(1.0) | Some(1.1) | Some(2.0)) {
        return Err(bad("http.client: .version must be nil, 1.0, 1.1 or 2"));
    }
    let h2 = h2_settings(t.get("h2_settings")?)?;
    let mut key = format!("{host}|{port}|{path:?}|{family}|{bind:?}|{version:?}|{h2:?}|");
    let tls = if use_tls {
        let ctx: Option<AnyUserData> = t.get("ctx")?;
        let mut config = crate::tls::client_config(lua, ctx.as_ref())?;
        // The context's config (cached until the context changes) identifies the TLS settings;
        // the copies made below for ALPN and SNI are new on every call.
        key.push_str(&format!("tls:{:p}:", Arc::as_ptr(&config)));
        config = match version {
            Some(2.0) => crate::tls::restrict_alpn(&config, &["h2"]),
            Some(_) => crate::tls::restrict_alpn(&config, &["http/1.1"]),
            None => config,
        };
        let sni = match t.get::<Value>("sendname")? {
            Value::Nil | Value::Boolean(true) => (host.parse::<IpAddr>().is_err() && !host.is_empty()).then(|| host.clone()),
            Value::Boolean(false) => None,
            Value::String(s) => Some(s.to_str()?.to_string()),
            _ => return Err(bad("http.client: .sendname must be a string or boolean")),
        };
        if sni.is_none() && config.enable_sni {
            let mut c = rustls::ClientConfig::clone(&config);
            c.enable_sni = false;
            config = Arc::new(c);
        }
        let check = sni.clone().unwrap_or_else(|| host.trim_start_matches('[').trim_end_matches(']').to_string());
        let name = ServerName::try_from(check).map_err(|_| bad(format!("invalid TLS server name '{host}'")))?;
        key.push_str(&format!("{sni:?}"));
        Some(Tls { config, name, sni })
    } else {
        None
    };
    Ok(Options { host, port, path, family, bind, tls, version, h2, key })
}

/// DNS (for names) and TCP, trying each address in turn; or the Unix socket at `.path`.
async fn dial(o: &Options) -> Result<Socket, Failure> {
    if let Some(path) = &o.path {
        let s = tokio::net::UnixStream::connect(path).await.map_err(Failure::from_io)?;
        return Ok(Socket::new(Box::new(s), Addr::Unix(String::new()), Addr::Unix(path.clone()), None));
    }
    let host = o.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, o.port)],
        Err(_) => tokio::net::lookup_host((host, o.port))
            .await
            .map_err(|e| Failure::new(format!("cannot resolve '{host}': {e}"), libc::EHOSTUNREACH))?
            .collect(),
    };
    let wanted = |a: &SocketAddr| match o.family {
        libc::AF_INET => a.is_ipv4(),
        libc::AF_INET6 => a.is_ipv6(),
        _ => true,
    };
    let mut last = Failure::new(format!("no address for '{host}'"), libc::EHOSTUNREACH);
    for addr in addrs.into_iter().filter(wanted) {
        let sock = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() };
        let attempt = async {
            let sock = sock?;
            if let Some(b) = o.bind {
                sock.bind(b)?;
            }
            sock.connect(addr).await
        };
        match attempt.await {
            Ok(s) => return Ok(Socket::tcp(s)),
            Err(e) => last = Failure::from_io(e),
        }
    }
    Err(last)
}

/// TLS (if asked) and the HTTP handshake over a connected stream.
pub async fn negotiate(socket: Socket, o: &Options) -> Result<Arc<Shared>, Failure> {
    let (io, local, peer) = socket.into_parts()?;
    let (io, tls): (BoxIo, _) = match &o.tls {
        Some(t) => {
            let connector = tokio_rustls::TlsConnector::from(t.config.clone());
            let stream = connector
                .connect(t.name.clone(), io)
                .await
                .map_err(|e| Failure::new(format!("TLS handshake failed: {e}"), libc::EPROTO))?;
            let mut info = crate::tls::TlsInfo::from_client(stream.get_ref().1);
            info.sni = t.sni.clone();
            (Box::new(stream), Some(info))
        }
        None => (io, None),
    };
    let h2 = match &tls {
        Some(info) => info.alpn.as_deref() == Some(b"h2") || o.version == Some(2.0) && info.alpn.is_none(),
        None => o.version == Some(2.0),
    };
    if h2 {
        let mut b = h2::client::Builder::new();
        b.initial_window_size(o.h2.initial_window_size.unwrap_or(1 << 20))
            .initial_connection_window_size(1 << 20)
            .enable_push(o.h2.enable_push.unwrap_or(false));
        if let Some(n) = o.h2.header_table_size {
            b.header_table_size(n);
        }
        if let Some(n) = o.h2.max_concurrent_streams {
            b.max_concurrent_streams(n);
        }
        if let Some(n) = o.h2.max_frame_size {
            b.max_frame_size(n);
        }
        if let Some(n) = o.h2.max_header_list_size {
            b.max_header_list_size(n);
        }
        let (send, connection) = b.handshake::<_, Bytes>(io).await.map_err(|e| Failure::new(format!("HTTP/2 handshake failed: {e}"), libc::EPROTO))?;
        let conn = Arc::new(Conn::new(2.0, local, peer, tls));
        let shared = Shared::new(conn, Sender::H2(send));
        let (done, mut stop) = (shared.clone(), shared.conn.shutdown.subscribe());
        tokio::spawn(async move {
            tokio::select! {
                _ = connection => {}
                _ = stop.changed() => {}
            }
            done.set_closed();
        });
        Ok(shared)
    } else {
        let version = if o.version == Some(1.0) { 1.0 } else { 1.1 };
        let (send, connection) = hyper::client::conn::http1::Builder::new()
            .handshake::<_, OutBody>(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| Failure::new(e.to_string(), libc::EPROTO))?;
        let conn = Arc::new(Conn::new(version, local, peer, tls));
        let shared = Shared::new(conn, Sender::H1(tokio::sync::Mutex::new(send)));
        let (done, mut stop) = (shared.clone(), shared.conn.shutdown.subscribe());
        tokio::spawn(async move {
            tokio::select! {
                _ = connection.with_upgrades() => {}
                _ = stop.changed() => {}
            }
            done.set_closed();
        });
        Ok(shared)
    }
}

/// connect: dial, then negotiate.
pub async fn connect(o: &Options) -> Result<Arc<Shared>, Failure> {
    negotiate(dial(o).await?, o).await
}
