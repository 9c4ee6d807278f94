//! http.server's core: the listening socket, the accept loop and the per-connection protocol
//! tasks on the I/O runtime. Each request becomes a `Stream` in the server's queue; Lua takes
//! them in batches (lua/http/server.lua) and runs `onstream` for each.

use crate::connection_common::{Addr, Conn};
use crate::headers::Headers;
use crate::runtime::{self, Notifier};
use crate::socket::{io_fail, Socket};
use crate::stream_common::{gzip_coded, headers_from_map, plain_response, BodySource, Failure, Head, OutBody, Stream};
use bytes::Bytes;
use mlua::{Lua, Table, Value};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{oneshot, watch, Semaphore};

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The options of `http.server.new/listen` that the protocol tasks use.
struct Config {
    tls: Option<bool>,
    /// rustls settings for TLS connections (None when `tls` is false).
    tls_config: Option<Arc<rustls::ServerConfig>>,
    version: Option<f64>,
    setup_timeout: Duration,
    intra_stream_timeout: Option<Duration>,
    max_body: Option<u64>,
    max_header_lines: usize,
}

/// Requests waiting for Lua, protocol errors for `onerror`, and the notifier that wakes Lua.
struct Queue {
    items: Mutex<Vec<Stream>>,
    errors: Mutex<Vec<String>>,
    notifier: Arc<Notifier>,
}

impl Queue {
    fn push(&self, s: Stream) {
        self.items.lock().unwrap().push(s);
        self.notifier.notify();
    }

    /// A connection failed for a reason worth telling `onerror` (not a peer hanging up).
    fn error(&self, peer: &Addr, e: &dyn std::fmt::Display) {
        let who = match peer {
            Addr::Inet(a) => a.to_string(),
            Addr::Unix(p) => p.clone(),
            Addr::Unknown => "unknown peer".into(),
        };
        self.errors.lock().unwrap().push(format!("{who}: {e}"));
        self.notifier.notify();
    }
}

enum Bind {
    Tcp { host: String, port: u16, v6only: bool, reuseaddr: bool, reuseport: bool },
    Unix { path: String, mode: Option<u32>, mask: bool, unlink: bool },
    Fd(i32),
}

enum Listener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

pub struct Server {
    cfg: Arc<Config>,
    bind: Option<Bind>,
    listener: Option<Listener>,
    local: Addr,
    queue: Arc<Queue>,
    max_concurrent: Option<usize>,
    paused: watch::Sender<bool>,
    closed: watch::Sender<bool>,
    started: bool,
    /// The listening socket while the accept loop owns it (see `close`).
    listen_fd: Option<i32>,
    live: Arc<()>,
    /// The queue's previous batch, empty but with its capacity: swapped in by `take` so that
    /// pushing requests does not grow a new vector for every batch.
    spare: Vec<Stream>,
}

impl Server {
    fn new(lua: &Lua, o: &Table) -> mlua::Result<Server> {
        let secs = |k: &str| -> mlua::Result<Option<Duration>> {
            Ok(o.get::<Option<f64>>(k)?.and_then(|t| runtime::timeout_arg(Some(t))))
        };
        let tls: Option<bool> = o.get("tls")?;
        let bind = if let Some(fd) = o.get::<Option<Value>>("socket")?.filter(|v| !v.is_nil()) {
            // A cqueues socket (or anything with :pollfd()): adopt a duplicate of its fd.
            let pollfd: mlua::Function = match &fd {
                Value::Table(t) => t.get("pollfd")?,
                Value::UserData(u) => mlua::ObjectLike::get(u, "pollfd")?,
                _ => return runtime::error("'socket' must be a socket object"),
            };
            let fd: i32 = pollfd.call(&fd)?;
            let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
            if dup < 0 {
                return runtime::error(format!("cannot adopt socket: {}", std::io::Error::last_os_error()));
            }
            Bind::Fd(dup)
        } else if let Some(path) = o.get::<Option<String>>("path")? {
            let mode = match o.get::<Value>("mode")? {
                Value::String(s) => Some(
                    u32::from_str_radix(&s.to_str()?, 8)
                        .map_err(|_| mlua::Error::RuntimeError("invalid mode".into()))?,
                ),
                Value::Integer(n) => Some(n as u32),
                Value::Number(n) => Some(n as u32),
                _ => None,
            };
            Bind::Unix {
                path,
                mode,
                mask: o.get::<Option<bool>>("mask")?.unwrap_or(false),
                unlink: o.get::<Option<bool>>("unlink")?.unwrap_or(false),
            }
        } else {
            let host: String = match o.get::<Option<String>>("host")? {
                Some(h) => h,
                None => return runtime::error("'host' or 'path' required"),
            };
            let port = match o.get::<Option<i64>>("port")? {
                Some(p) if (0..=65535).contains(&p) => p as u16,
                Some(_) => return runtime::error("invalid port"),
                None => match tls {
                    Some(true) => 443,
                    Some(false) => 80,
                    None => return runtime::error("'port' required when 'tls' is nil"),
                },
            };
            Bind::Tcp {
                host,
                port,
                v6only: o.get::<Option<bool>>("v6only")?.unwrap_or(false),
                reuseaddr: o.get::<Option<bool>>("reuseaddr")?.unwrap_or(true),
                reuseport: o.get::<Option<bool>>("reuseport")?.unwrap_or(false),
            }
        };
        let version: Option<f64> = o.get("version")?;
        if let Some(v) = version {
            if ![1.0, 1.1, 2.0].contains(&v) {
                return runtime::error("version must be 1.0, 1.1 or 2");
            }
        }
        let max_concurrent = match o.get::<Option<f64>>("max_concurrent")? {
            Some(n) if n.is_finite() && n >= 1.0 => Some(n as usize),
            Some(n) if n.is_infinite() => None,
            Some(_) => return runtime::error("max_concurrent must be a positive number"),
            None => None,
        };
        let tls_config = match tls {
            Some(false) => None,
            _ => {
                let ctx: Option<mlua::AnyUserData> = o.get("ctx")?;
                let c = crate::tls::server_config(lua, ctx.as_ref())?;
                // A server restricted to one HTTP version offers only that one by ALPN.
                Some(match version {
                    Some(2.0) => crate::tls::restrict_alpn(&c, &["h2"]),
                    Some(_) => crate::tls::restrict_alpn(&c, &["http/1.1"]),
                    None => c,
                })
            }
        };
        let cfg = Config {
            tls,
            tls_config,
            version,
            setup_timeout: secs("connection_setup_timeout")?.unwrap_or(Duration::from_secs(10)),
            intra_stream_timeout: secs("intra_stream_timeout")?,
            max_body: o.get::<Option<f64>>("max_body_size")?.filter(|n| n.is_finite()).map(|n| n as u64),
            max_header_lines: o.get::<Option<usize>>("max_header_lines")?.unwrap_or(100),
        };
        Ok(Server {
            cfg: Arc::new(cfg),
            bind: Some(bind),
            listener: None,
            local: Addr::Unknown,
            queue: Arc::new(Queue {
                items: Mutex::new(Vec::new()),
                errors: Mutex::new(Vec::new()),
                notifier: Notifier::new(lua),
            }),
            max_concurrent,
            paused: watch::channel(false).0,
            closed: watch::channel(false).0,
            started: false,
            listen_fd: None,
            live: Arc::new(()),
            spare: Vec::new(),
        })
    }

    /// Create and bind the socket (once).
    fn bind(&mut self) -> std::io::Result<()> {
        let Some(bind) = self.bind.take() else { return Ok(()) };
        let listener = match bind {
            Bind::Tcp { host, port, v6only, reuseaddr, reuseport } => {
                use std::net::ToSocketAddrs;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let addr = (host, port).to_socket_addrs()?.next().ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::NotFound, "host not found")
                })?;
                let domain = socket2::Domain::for_address(addr);
                let sock = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
                sock.set_reuse_address(reuseaddr)?;
                if reuseport {
                    sock.set_reuse_port(true)?;
                }
                if addr.is_ipv6() {
                    sock.set_only_v6(v6only)?;
                }
                sock.bind(&addr.into())?;
                sock.listen(1024)?;
                sock.set_nonblocking(true)?;
                let l: std::net::TcpListener = sock.into();
                self.local = Addr::Inet(l.local_addr()?);
                Listener::Tcp(l)
            }
            Bind::Unix { path, mode, mask, unlink } => {
                if unlink {
                    let _ = std::fs::remove_file(&path);
                }
                let old = mask.then(|| unsafe { libc::umask(0o177) });
                let l = std::os::unix::net::UnixListener::bind(&path);
                if let Some(old) = old {
                    unsafe { libc::umask(old) };
                }
                let l = l?;
                if let Some(mode) = mode {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
                }
                l.set_nonblocking(true)?;
                self.local = Addr::Unix(path);
                Listener::Unix(l)
            }
            Bind::Fd(fd) => {
                use std::os::fd::FromRawFd;
                let sock = unsafe { socket2::Socket::from_raw_fd(fd) };
                sock.set_nonblocking(true)?;
                match sock.local_addr()?.as_socket() {
                    Some(a) => {
                        self.local = Addr::Inet(a);
                        Listener::Tcp(sock.into())
                    }
                    None => {
                        let l: std::os::unix::net::UnixListener = sock.into();
                        self.local = l.local_addr().map(|a| Addr::Unix(
                            a.as_pathname().map(|p| p.display().to_string()).unwrap_or_default(),
                        ))?;
                        Listener::Unix(l)
                    }
                }
            }
        };
        self.listener = Some(listener);
        Ok(())
    }

    /// Bind if needed and start accepting.
    fn start(&mut self, lua: &Lua) -> std::io::Result<()> {
        self.bind()?;
        if self.started || *self.closed.borrow() {
            return Ok(());
        }
        let Some(listener) = self.listener.take() else { return Ok(()) };
        let h = runtime::handle(lua).map_err(|e| std::io::Error::other(e.to_string()))?;
        let _guard = h.enter();
        use std::os::fd::AsRawFd;
        self.listen_fd = Some(match &listener {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) => l.as_raw_fd(),
        });
        let listener = match listener {
            Listener::Tcp(l) => Accept::Tcp(TcpListener::from_std(l)?),
            Listener::Unix(l) => Accept::Unix(UnixListener::from_std(l)?),
        };
        let ctx = self.ctx(self.local.clone());
        let sem = self.max_concurrent.map(|n| Arc::new(Semaphore::new(n)));
        h.spawn(accept_loop(listener, ctx, self.paused.subscribe(), sem));
        self.started = true;
        Ok(())
    }
}

impl Server {
    fn ctx(&self, local: Addr) -> Ctx {
        Ctx {
            cfg: self.cfg.clone(),
            queue: self.queue.clone(),
            local,
            closed: self.closed.subscribe(),
            live: Arc::downgrade(&self.live),
        }
    }

    /// add_socket: serve a connected socket (see `Socket::take_arg`).
    fn add_socket(&self, lua: &Lua, v: &Value) -> mlua::Result<Result<(), Failure>> {
        if *self.closed.borrow() {
            return Ok(Err(Failure::new("server is closed", libc::EIO)));
        }
        let (io, local, peer) = match Socket::take_arg(lua, v, "add_socket")?.and_then(Socket::into_parts) {
            Ok(parts) => parts,
            Err(f) => return Ok(Err(f)),
        };
        runtime::handle(lua)?.spawn(serve(io, peer, self.ctx(local)));
        Ok(Ok(()))
    }
}

enum Accept {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// What every connection task needs from its server.
#[derive(Clone)]
struct Ctx {
    cfg: Arc<Config>,
    queue: Arc<Queue>,
    local: Addr,
    closed: watch::Receiver<bool>,
    /// Upgraded once per live connection: the server's `strong_count - 1` is how many are
    /// open (a weak handle, so the accept loop and the tasks' contexts do not count).
    live: std::sync::Weak<()>,
}

async fn accept_loop(listener: Accept, ctx: Ctx, mut paused: watch::Receiver<bool>, sem: Option<Arc<Semaphore>>) {
    let mut closed = ctx.closed.clone();
    loop {
        while *paused.borrow_and_update() {
            tokio::select! {
                r = paused.changed() => if r.is_err() { return },
                _ = closed.changed() => return,
            }
        }
        // At max_concurrent, stop accepting: further clients wait in the backlog.
        let permit = match &sem {
            Some(s) => match s.clone().acquire_owned().await {
                Ok(p) => Some(p),
                Err(_) => return,
            },
            None => None,
        };
        let accepted = tokio::select! {
            r = accept(&listener) => r,
            _ = paused.changed() => continue,
            _ = closed.changed() => return,
        };
        match accepted {
            Ok(conn) => {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    match conn {
                        (Io::Tcp(s), peer) => {
                            let _ = s.set_nodelay(true);
                            serve(s, peer, ctx).await
                        }
                        (Io::Unix(s), peer) => serve(s, peer, ctx).await,
                    }
                    drop(permit);
                });
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

enum Io {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(l: &Accept) -> std::io::Result<(Io, Addr)> {
    match l {
        Accept::Tcp(l) => l.accept().await.map(|(s, a)| (Io::Tcp(s), Addr::Inet(a))),
        Accept::Unix(l) => l.accept().await.map(|(s, a)| (Io::Unix(s), a.into())),
    }
}

/// An I/O object with some bytes already read from it in front.
struct Prefixed<IO> {
    prefix: Bytes,
    io: IO,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Prefixed<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix.split_to(n));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

crate::connection_common::write_through!(Prefixed);

/// Read the first bytes: enough to tell TLS, an HTTP/2 preface, or HTTP/1.
async fn sniff<IO: AsyncRead + Unpin>(io: &mut IO) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(H2_PREFACE.len());
    loop {
        let mut chunk = [0u8; 24];
        let want = H2_PREFACE.len() - buf.len();
        let n = io.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let decided = buf[0] == 0x16 || buf.len() >= H2_PREFACE.len() || !H2_PREFACE.starts_with(&buf);
        if decided {
            return Ok(buf);
        }
    }
}

async fn serve<IO>(mut io: IO, peer: Addr, ctx: Ctx)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let first = match tokio::time::timeout(ctx.cfg.setup_timeout, sniff(&mut io)).await {
        Ok(Ok(b)) => b,
        _ => return,
    };
    if first[0] != 0x16 {
        if ctx.cfg.tls != Some(true) {
            let h2 = first.starts_with(H2_PREFACE);
            dispatch(Prefixed { prefix: Bytes::from(first), io }, h2, peer, None, ctx).await;
        }
        return;
    }
    // Boxed: the TLS state would otherwise enlarge every plain connection's task.
    Box::pin(serve_tls(Prefixed { prefix: Bytes::from(first), io }, peer, ctx)).await
}

async fn serve_tls<IO>(io: IO, peer: Addr, ctx: Ctx)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Some(config) = ctx.cfg.tls_config.clone() else { return };
    let handshake = tokio_rustls::TlsAcceptor::from(config).accept(io);
    let Ok(Ok(mut stream)) = tokio::time::timeout(ctx.cfg.setup_timeout, handshake).await else { return };
    let info = crate::tls::TlsInfo::from_server(stream.get_ref().1);
    match info.alpn.as_deref() {
        Some(p) => {
            let h2 = p == b"h2";
            dispatch(stream, h2, peer, Some(info), ctx).await
        }
        None => {
            // No ALPN: HTTP/2 with prior knowledge, or HTTP/1.
            let Ok(Ok(first)) = tokio::time::timeout(ctx.cfg.setup_timeout, sniff(&mut stream)).await else { return };
            let h2 = first.starts_with(H2_PREFACE);
            dispatch(Prefixed { prefix: Bytes::from(first), io: stream }, h2, peer, Some(info), ctx).await
        }
    }
}

/// Serve a connection whose protocol is known, if the server allows that version.
async fn dispatch<IO>(io: IO, h2: bool, peer: Addr, tls: Option<crate::tls::TlsInfo>, ctx: Ctx)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match (h2, ctx.cfg.version) {
        // Boxed so that HTTP/1 connections' tasks stay small.
        (true, None | Some(2.0)) => Box::pin(serve_h2(io, peer, tls, ctx)).await,
        (false, None | Some(1.0) | Some(1.1)) => serve_h1(io, peer, tls, ctx).await,
        _ => {}
    }
}

/// The request head as lua-http's headers: pseudo-headers first, then the fields in order.
fn request_headers(parts: &http::request::Parts, scheme: &str) -> Headers {
    let mut h = Headers::new();
    let _ = h.push(b":method", parts.method.as_str().as_bytes(), None);
    if parts.method == http::Method::CONNECT {
        if let Some(a) = parts.uri.authority() {
            let _ = h.push(b":authority", a.as_str().as_bytes(), None);
        }
    } else {
        let _ = h.push(b":scheme", scheme.as_bytes(), None);
        let authority = parts.uri.authority().map(|a| a.as_str().as_bytes()).or_else(|| {
            parts.headers.get(http::header::HOST).map(|v| v.as_bytes())
        });
        if let Some(a) = authority {
            let _ = h.push(b":authority", a, None);
        }
        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let _ = h.push(b":path", path.as_bytes(), None);
    }
    headers_from_map(&mut h, &parts.headers);
    h
}

fn too_large(parts: &http::request::Parts, max: Option<u64>) -> bool {
    let Some(max) = max else { return false };
    parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > max)
}

async fn serve_h1<IO>(io: IO, peer: Addr, tls: Option<crate::tls::TlsInfo>, ctx: Ctx)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let version = if ctx.cfg.version == Some(1.0) { 1.0 } else { 1.1 };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let conn = Arc::new(Conn::new(version, ctx.local.clone(), peer, tls));
    let _live = ctx.live.upgrade();
    let svc_conn = conn.clone();
    let queue = ctx.queue.clone();
    let cfg = ctx.cfg.clone();
    let service = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        let connect = req.method() == http::Method::CONNECT;
        let upgrade = (connect || req.headers().contains_key(http::header::UPGRADE)).then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        if parts.version == http::Version::HTTP_10 {
            svc_conn.set_version(1.0);
        }
        let (tx, rx) = oneshot::channel();
        if too_large(&parts, cfg.max_body) {
            return Answer::Now(Some(closing_response(http::StatusCode::PAYLOAD_TOO_LARGE)));
        }
        let head = request_headers(&parts, scheme);
        let source = (!http_body::Body::is_end_stream(&body)).then_some(BodySource::Hyper(body));
        // Only a request with a body can have one to decode: skip the header lookup otherwise.
        let coded = source.is_some() && gzip_coded(&parts.headers);
        let mut stream = Stream::server(svc_conn.clone(), head, source, Head::H1(tx), cfg.max_body);
        if coded {
            stream.decode_content();
        }
        queue.push(match upgrade {
            Some(u) => stream.with_upgrade(u, connect),
            None => stream,
        });
        Answer::Later(rx)
    });
    let head_timeout = ctx.cfg.intra_stream_timeout.unwrap_or(ctx.cfg.setup_timeout);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(HeadTimer(Arc::new(Mutex::new(Alarm { sleep: Box::pin(tokio::time::sleep(head_timeout)), waker: None }))))
        .max_headers(ctx.cfg.max_header_lines)
        .header_read_timeout(head_timeout)
        .keep_alive(true);
    let served = builder.serve_connection(hyper_util::rt::TokioIo::new(crate::h1_connection::Guard::new(io)), service).with_upgrades();
    tokio::pin!(served);
    let mut stop = Stop::new(ctx.closed.clone(), conn.shutdown.subscribe());
    let finished = std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = std::future::Future::poll(served.as_mut(), cx) {
            return Poll::Ready(Some(r));
        }
        stop.poll(cx).map(|()| None)
    })
    .await;
    let result = match finished {
        Some(r) => r,
        None => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(e) = result {
        // Malformed requests (answered 400/431/505 by hyper) and the like; not a client
        // that simply went away.
        if e.is_parse() || e.is_parse_status() || e.is_timeout() || e.is_parse_too_large() {
            ctx.queue.error(&conn.peer, &e);
        }
    }
}

/// A connection's stop signals: the server closed, or the connection was shut down. Polling
/// both watches on every wake-up of a busy connection cost ~1k instructions per request; after
/// the first poll (which registers the task's waker) they are only looked at once one changed.
struct Stop {
    closed: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
    either: Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    armed: bool,
}

impl Stop {
    fn new(closed: watch::Receiver<bool>, shutdown: watch::Receiver<bool>) -> Stop {
        let (mut c, mut s) = (closed.clone(), shutdown.clone());
        let either = Box::pin(async move {
            tokio::select! {
                _ = c.changed() => {}
                _ = s.changed() => {}
            }
        });
        Stop { closed, shutdown, either, armed: false }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let changed = |w: &watch::Receiver<bool>| w.has_changed().unwrap_or(true);
        if self.armed && !changed(&self.closed) && !changed(&self.shutdown) {
            return Poll::Pending;
        }
        self.armed = true;
        self.either.as_mut().poll(cx)
    }
}

/// hyper's timer for the time a connection has to send its next request head (lua-http's
/// intra_stream_timeout, or connection_setup_timeout). hyper asks for a new sleep each time it
/// starts waiting for a head and drops it when the head is in; a tokio sleep for each would
/// insert and remove a timer entry per request. Instead a connection keeps one tokio sleep,
/// its alarm, re-armed only when it goes off before the deadline of the head awaited then.
/// hyper's deadlines only grow (now + the same timeout), so the alarm is never late.
struct HeadTimer(Arc<Mutex<Alarm>>);

struct Alarm {
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// The waker the sleep is registered with: while it is the same, the sleep needs no poll.
    waker: Option<std::task::Waker>,
}

struct HeadSleep {
    due: tokio::time::Instant,
    alarm: Arc<Mutex<Alarm>>,
}

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(std::time::Instant::now() + d)
    }

    fn sleep_until(&self, due: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HeadSleep { due: due.into(), alarm: self.0.clone() })
    }
}

impl hyper::rt::Sleep for HeadSleep {}

impl std::future::Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut alarm = self.alarm.lock().unwrap();
        let Alarm { sleep, waker } = &mut *alarm;
        if !sleep.is_elapsed() && waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        while sleep.as_mut().poll(cx).is_ready() {
            if sleep.deadline() >= self.due {
                return Poll::Ready(());
            }
            sleep.as_mut().reset(self.due);
        }
        *waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A response the server gives itself, closing the connection after it.
fn closing_response(status: http::StatusCode) -> http::Response<OutBody> {
    let mut resp = plain_response(status);
    resp.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    resp
}

/// The service's answer to a request: one the server gives at once, or the handler's when it
/// writes its headers. An enum, not a boxed future: one allocation less per request.
enum Answer {
    Now(Option<http::Response<OutBody>>),
    Later(oneshot::Receiver<http::Response<OutBody>>),
}

impl std::future::Future for Answer {
    type Output = Result<http::Response<OutBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let resp = match &mut *self {
            Answer::Now(resp) => resp.take(),
            Answer::Later(rx) => std::task::ready!(Pin::new(rx).poll(cx)).ok(),
        };
        // No response: the stream was dropped before its headers were written.
        Poll::Ready(Ok(resp.unwrap_or_else(|| plain_response(http::StatusCode::SERVICE_UNAVAILABLE))))
    }
}

async fn serve_h2<IO>(io: IO, peer: Addr, tls: Option<crate::tls::TlsInfo>, ctx: Ctx)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let scheme = if tls.is_some() { "https" } else { "http" };
    let conn = Arc::new(Conn::new(2.0, ctx.local.clone(), peer, tls));
    let _live = ctx.live.upgrade();
    let mut h2 = match h2::server::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(4 << 20)
        .max_concurrent_streams(256)
        .handshake::<_, Bytes>(io)
        .await
    {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut stop = Stop::new(ctx.closed.clone(), conn.shutdown.subscribe());
    let idle = ctx.cfg.intra_stream_timeout;
    loop {
        let next = async {
            match idle {
                Some(d) => tokio::time::timeout(d, h2.accept()).await.ok(),
                None => Some(h2.accept().await),
            }
        };
        let accepted = tokio::select! {
            r = next => match r {
                // Idle only counts while no stream is open.
                None if h2.has_streams() => continue,
                None => {
                    // A peer that never answers the GOAWAY's ping must not hold us forever.
                    h2.graceful_shutdown();
                    let limit = idle.unwrap_or(ctx.cfg.setup_timeout);
                    let _ = tokio::time::timeout(limit, std::future::poll_fn(|cx| h2.poll_closed(cx))).await;
                    break;
                }
                r => r,
            },
            _ = std::future::poll_fn(|cx| stop.poll(cx)) => { h2.graceful_shutdown(); None }
        };
        match accepted {
            Some(Some(Ok((req, mut respond)))) => {
                let (parts, body) = req.into_parts();
                if too_large(&parts, ctx.cfg.max_body) {
                    let resp = http::Response::builder().status(413).body(()).expect("valid response");
                    let _ = respond.send_response(resp, true);
                    continue;
                }
                let head = request_headers(&parts, scheme);
                let source = (!body.is_end_stream()).then_some(BodySource::H2(body));
                ctx.queue.push(Stream::server(conn.clone(), head, source, Head::H2(respond), ctx.cfg.max_body));
            }
            Some(Some(Err(_))) | Some(None) => break,
            None => {
                // Shutting down: let streams in flight finish, then close.
                h2.graceful_shutdown();
                let _ = std::future::poll_fn(|cx| h2.poll_closed(cx)).await;
                break;
            }
        }
    }
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    use runtime::{function, method};
    let m = lua.create_table()?;
    m.set(
        "listen",
        method(lua, "listen", |lua, s: &mut Server, ()| match s.start(lua) {
            Ok(()) => Ok(mlua::MultiValue::from_vec(vec![Value::Boolean(true)])),
            Err(e) => io_fail(lua, e),
        })?,
    )?;
    m.set(
        "localname",
        method(lua, "localname", |lua, s: &mut Server, ()| match s.bind() {
            Ok(()) => s.local.push(lua),
            Err(e) => io_fail(lua, e),
        })?,
    )?;
    m.set(
        "pause",
        method(lua, "pause", |_, s: &mut Server, ()| {
            s.paused.send_replace(true);
            // wake a step that sleeps, so that loop() sees it
            s.queue.notifier.notify();
            Ok(true)
        })?,
    )?;
    m.set(
        "resume",
        method(lua, "resume", |_, s: &mut Server, ()| {
            s.paused.send_replace(false);
            Ok(true)
        })?,
    )?;
    m.set(
        "close",
        method(lua, "close", |_, s: &mut Server, ()| {
            // Stop listening now, not when the accept loop gets to drop the socket, so the
            // port is free for a new server at once. The loop only ends after `closed` is
            // set, so the fd is still its own here.
            if let Some(fd) = s.listen_fd.take() {
                unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
            }
            s.closed.send_replace(true);
            s.queue.notifier.notify();
            s.listener = None;
            s.bind = None;
            if let Addr::Unix(path) = &s.local {
                let _ = std::fs::remove_file(path);
            }
            Ok(true)
        })?,
    )?;
    m.set(
        "add_socket",
        method(lua, "add_socket", |lua, s: &mut Server, v: Value| match s.add_socket(lua, &v)? {
            Ok(()) => Ok(mlua::MultiValue::from_vec(vec![Value::Boolean(true)])),
            Err(f) => f.outcome()(lua),
        })?,
    )?;
    // Open connections (the server's own handle is not one).
    m.set("connections", method(lua, "connections", |_, s: &mut Server, ()| Ok(Arc::strong_count(&s.live) - 1))?)?;
    // take_errors(tbl): protocol errors since the last call into tbl[1..n]; returns n.
    m.set(
        "take_errors",
        method(lua, "take_errors", |_, s: &mut Server, tbl: Table| {
            let errors = std::mem::take(&mut *s.queue.errors.lock().unwrap());
            let n = errors.len();
            for (i, e) in errors.into_iter().enumerate() {
                tbl.raw_set(i + 1, e)?;
            }
            Ok(n)
        })?,
    )?;
    m.set("notifier", method(lua, "notifier", |_, s: &mut Server, ()| Ok(s.queue.notifier.id()))?)?;
    // take(tbl): move waiting requests into tbl as pairs: tbl[2i-1] the stream userdata,
    // tbl[2i] its connection's id; returns the number of requests and of protocol errors
    // waiting for take_errors.
    m.set(
        "take",
        method(lua, "take", |lua, s: &mut Server, tbl: Table| {
            s.queue.notifier.rearm();
            let mut items = std::mem::take(&mut s.spare);
            std::mem::swap(&mut items, &mut *s.queue.items.lock().unwrap());
            let n = items.len();
            for (i, stream) in items.drain(..).enumerate() {
                let conn = stream.conn.id;
                tbl.raw_set(2 * i + 1, lua.create_any_userdata(stream)?)?;
                tbl.raw_set(2 * i + 2, conn)?;
            }
            s.spare = items;
            Ok((n, s.queue.errors.lock().unwrap().len()))
        })?,
    )?;
    runtime::register_type::<Server>(lua, &m, |_| {})?;
    let t = lua.create_table()?;
    t.set("new", function(lua, "new", |lua, o: Table| lua.create_any_userdata(Server::new(lua, &o)?))?)?;
    t.set("methods", m)?;
    Ok(t)
}
