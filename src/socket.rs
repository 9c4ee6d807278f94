//! A connected byte stream held by Lua between protocols: what `connection:take_socket()`,
//! `socks:take_socket()` and HTTP upgrades hand over, and what `http.client.negotiate`, SOCKS
//! and WebSockets take. Sockets made by other libraries (cqueues, luasocket) come in by a
//! duplicate of their fd (`from_fd`), so their owner may close its own object.

use crate::connection_common::Addr;
use crate::runtime;
use crate::stream_common::Failure;
use mlua::{Lua, MultiValue, ObjectLike, Value};
use tokio::io::{AsyncRead, AsyncWrite};

/// Any connected stream the runtime can drive: TCP, Unix, TLS, an upgraded HTTP connection.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

pub type BoxIo = Box<dyn Io>;

pub struct Socket {
    /// None once handed to a protocol (or closed).
    io: Option<BoxIo>,
    pub local: Addr,
    pub peer: Addr,
    pub tls: Option<crate::tls::TlsInfo>,
}

impl Socket {
    pub fn new(io: BoxIo, local: Addr, peer: Addr, tls: Option<crate::tls::TlsInfo>) -> Socket {
        Socket { io: Some(io), local, peer, tls }
    }

    /// A TCP or Unix socket from a duplicate of `fd`; must run inside the runtime's context.
    pub fn from_fd(fd: i32) -> std::io::Result<Socket> {
        use std::os::fd::FromRawFd;
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Owns `dup` from here: closed on any error below.
        let sock = unsafe { socket2::Socket::from_raw_fd(dup) };
        sock.set_nonblocking(true)?;
        if sock.local_addr()?.as_socket().is_some() {
            Ok(Socket::tcp(tokio::net::TcpStream::from_std(sock.into())?))
        } else {
            let s = tokio::net::UnixStream::from_std(sock.into())?;
            let local = s.local_addr().map(Addr::from).unwrap_or(Addr::Unknown);
            let peer = s.peer_addr().map(Addr::from).unwrap_or(Addr::Unknown);
            Ok(Socket::new(Box::new(s), local, peer, None))
        }
    }

    pub fn tcp(s: tokio::net::TcpStream) -> Socket {
        let _ = s.set_nodelay(true);
        let local = s.local_addr().map(Addr::Inet).unwrap_or(Addr::Unknown);
        let peer = s.peer_addr().map(Addr::Inet).unwrap_or(Addr::Unknown);
        Socket::new(Box::new(s), local, peer, None)
    }

    /// A socket argument as a Socket of its own: ours (taken over: it is empty afterwards), an
    /// fd, or a cqueues (`pollfd()`) or luasocket (`getfd()`) socket, whose fd is duplicated so
    /// its owner may close it.
    pub fn take_arg(lua: &Lua, v: &Value, name: &str) -> mlua::Result<Result<Socket, Failure>> {
        let fd = match v {
            Value::UserData(ud) if ud.is::<Socket>() => {
                let mut s = ud.borrow_mut::<Socket>()?;
                return Ok(s.take().map(|io| Socket::new(io, s.local.clone(), s.peer.clone(), s.tls.take())));
            }
            Value::Integer(_) | Value::Number(_) => lua.unpack::<i32>(v.clone())?,
            Value::Table(t) => foreign_fd(t, name)?,
            Value::UserData(u) => foreign_fd(u, name)?,
            _ => return runtime::error(format!("bad argument #1 to '{name}' (socket expected)")),
        };
        let h = runtime::handle(lua)?;
        let _guard = h.enter();
        Ok(Socket::from_fd(fd).map_err(Failure::from_io))
    }

    /// Stream, local and peer address, for a protocol that takes the socket over.
    pub fn into_parts(mut self) -> Result<(BoxIo, Addr, Addr), Failure> {
        Ok((self.take()?, self.local, self.peer))
    }

    /// The stream, for a protocol that takes the socket over; Err(EPIPE) when already taken.
    pub fn take(&mut self) -> Result<BoxIo, Failure> {
        self.io.take().ok_or_else(|| Failure::new("socket already used or closed", libc::EPIPE))
    }

    pub fn push(self, lua: &Lua) -> mlua::Result<MultiValue> {
        Ok(MultiValue::from_vec(vec![Value::UserData(lua.create_any_userdata(self)?)]))
    }
}

/// The fd of a cqueues (`pollfd()`) or luasocket (`getfd()`) socket.
fn foreign_fd(o: &impl ObjectLike, name: &str) -> mlua::Result<i32> {
    for method in ["pollfd", "getfd"] {
        if !o.get::<Value>(method)?.is_nil() {
            return o.call_method(method, ());
        }
    }
    runtime::error(format!("bad argument #1 to '{name}' (socket expected)"))
}

/// `nil, message, errno` from an I/O error.
pub fn io_fail(lua: &Lua, e: std::io::Error) -> mlua::Result<MultiValue> {
    Failure::from_io(e).outcome()(lua)
}

/// core.socket: the methods of socket objects.
pub fn open(lua: &Lua) -> mlua::Result<mlua::Table> {
    use runtime::method;
    let m = lua.create_table()?;
    m.set("localname", method(lua, "localname", |lua, s: &mut Socket, ()| s.local.push(lua))?)?;
    m.set("peername", method(lua, "peername", |lua, s: &mut Socket, ()| s.peer.push(lua))?)?;
    m.set("checktls", method(lua, "checktls", |lua, s: &mut Socket, ()| crate::connection_common::checktls(lua, &s.tls))?)?;
    m.set(
        "close",
        method(lua, "close", |_, s: &mut Socket, ()| {
            s.io = None;
            Ok(true)
        })?,
    )?;
    runtime::register_type::<Socket>(lua, &m, |reg| {
        use mlua::UserDataMethods;
        reg.add_meta_method("__tostring", |_, s, ()| {
            Ok(format!("http.socket{}", if s.io.is_none() { " (closed)" } else { "" }))
        })
    })?;
    Ok(m)
}
