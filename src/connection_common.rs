//! What every connection (server or client, HTTP/1 or HTTP/2) knows about itself, shared by its
//! streams: addresses, version, TLS, and the switch that shuts it down.

use mlua::{IntoLuaMulti, Lua, MultiValue, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use tokio::sync::watch;

/// A socket address as lua-http reports it (`family, address, port`).
#[derive(Clone, Debug)]
pub enum Addr {
    Inet(SocketAddr),
    Unix(String),
    Unknown,
}

impl Addr {
    pub fn push(&self, lua: &Lua) -> mlua::Result<MultiValue> {
        match self {
            Addr::Inet(a) => {
                let family = if a.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
                (family, a.ip().to_string(), a.port()).into_lua_multi(lua)
            }
            Addr::Unix(path) => (libc::AF_UNIX, path.clone()).into_lua_multi(lua),
            Addr::Unknown => (libc::AF_UNSPEC,).into_lua_multi(lua),
        }
    }
}

impl From<tokio::net::unix::SocketAddr> for Addr {
    fn from(a: tokio::net::unix::SocketAddr) -> Self {
        Addr::Unix(a.as_pathname().map(|p| p.display().to_string()).unwrap_or_default())
    }
}

pub struct Conn {
    pub id: u64,
    /// 10, 11 or 20: HTTP/1.0, 1.1 or 2 (an HTTP/1.0 request on a server connection makes it 1.0).
    version: AtomicU8,
    pub local: Addr,
    pub peer: Addr,
    /// The negotiated TLS session, for `checktls()`.
    pub tls: Option<crate::tls::TlsInfo>,
    /// Set to true to ask the connection's task to finish (gracefully) and close.
    pub shutdown: watch::Sender<bool>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Conn {
    pub fn new(version: f64, local: Addr, peer: Addr, tls: Option<crate::tls::TlsInfo>) -> Conn {
        Conn {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            version: AtomicU8::new((version * 10.0).round() as u8),
            local,
            peer,
            tls,
            shutdown: watch::channel(false).0,
        }
    }

    pub fn version(&self) -> f64 {
        f64::from(self.version.load(Ordering::Relaxed)) / 10.0
    }

    pub fn set_version(&self, v: f64) {
        self.version.store((v * 10.0).round() as u8, Ordering::Relaxed);
    }

    /// The version as lua-http gives it: the integer 2, or 1.0 / 1.1.
    pub fn lua_version(&self) -> Value {
        match self.version.load(Ordering::Relaxed) {
            20 => Value::Integer(2),
            v => Value::Number(f64::from(v) / 10.0),
        }
    }

    pub fn close(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn checktls(&self, lua: &Lua) -> mlua::Result<MultiValue> {
        checktls(lua, &self.tls)
    }
}

/// `checktls()`: the TLS object, or nil and a message for a plain connection.
pub fn checktls(lua: &Lua, tls: &Option<crate::tls::TlsInfo>) -> mlua::Result<MultiValue> {
    match tls {
        Some(info) => (crate::tls::push_tls_info(lua, info.clone())?,).into_lua_multi(lua),
        None => (Value::Nil, "connection is not using TLS").into_lua_multi(lua),
    }
}

/// `AsyncWrite` for an I/O wrapper that only changes reading: every write goes straight to its
/// `io` field.
macro_rules! write_through {
    ($wrapper:ident) => {
        impl<IO: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $wrapper<IO> {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
            }
            fn poll_write_vectored(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
            }
            fn is_write_vectored(&self) -> bool {
                self.io.is_write_vectored()
            }
            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.io).poll_flush(cx)
            }
            fn poll_shutdown(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
            }
        }
    };
}
pub(crate) use write_through;
