//! The stream interface shared by HTTP/1 and HTTP/2 (lua-http's stream_common): one request and
//! its response. The protocol tasks (hyper for HTTP/1, h2 for HTTP/2) run on the I/O runtime;
//! a stream talks to them through channels, so reading data that has arrived and writing data
//! that fits the channel complete at once, without suspending the Lua coroutine.

use crate::connection_common::Conn;
use crate::headers::{self, Headers};
use crate::runtime::{self, fail, fail_msg, ok, Outcome};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use mlua::{Lua, MultiValue, Value};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot};

/// Chunks buffered between a protocol task and the Lua side, each way.
const CHANNEL_CHUNKS: usize = 16;

/// A failure as lua-http reports it: `nil, message, errno`.
#[derive(Debug, Clone)]
pub struct Failure {
    pub msg: String,
    pub errno: i32,
}

impl Failure {
    pub fn new(msg: impl Into<String>, errno: i32) -> Failure {
        Failure { msg: msg.into(), errno }
    }
    /// An I/O error: the OS's text for its errno, or its own text with EIO.
    pub fn from_io(e: std::io::Error) -> Failure {
        match e.raw_os_error() {
            Some(n) => Failure::new(runtime::strerror(n), n),
            None => Failure::new(e.to_string(), libc::EIO),
        }
    }

    pub fn outcome(self) -> Outcome {
        fail_msg(self.msg, self.errno)
    }
}

/// Incoming body events, produced by a pump task.
pub enum InEvent {
    /// A response head (client side), with the connection if it switched protocols.
    Head(Headers, Option<hyper::upgrade::OnUpgrade>),
    Data(Bytes),
    Trailers(HeaderMap),
}

/// Where a request (or response) body comes from, until the first read starts pumping it.
pub enum BodySource {
    Hyper(hyper::body::Incoming),
    H2(h2::RecvStream),
}

/// What goes out on a stream after its headers.
pub enum OutFrame {
    Data(Bytes, bool),
    Trailers(HeaderMap),
    /// The writer gave up mid-body: the peer must not take a truncated body as complete.
    Abort,
}

/// A hyper body: either all of it at once, or fed by the stream's outgoing channel.
pub struct OutBody {
    full: Option<Bytes>,
    rx: Option<mpsc::Receiver<OutFrame>>,
    /// An Abort was received: fail on the next poll, after hyper flushed what came before.
    aborting: bool,
}

impl OutBody {
    pub fn empty() -> OutBody {
        OutBody { full: None, rx: None, aborting: false }
    }

    pub fn channel(rx: mpsc::Receiver<OutFrame>) -> OutBody {
        OutBody { full: None, rx: Some(rx), aborting: false }
    }
}

impl http_body::Body for OutBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if let Some(b) = self.full.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(b))));
        }
        if self.aborting {
            self.aborting = false;
            return Poll::Ready(Some(Err("response abandoned by the handler".into())));
        }
        let Some(rx) = self.rx.as_mut() else { return Poll::Ready(None) };
        let frame = match std::task::ready!(rx.poll_recv(cx)) {
            Some(OutFrame::Data(b, end)) => {
                if end {
                    self.rx = None;
                }
                Ok(http_body::Frame::data(b))
            }
            Some(OutFrame::Trailers(t)) => {
                self.rx = None;
                Ok(http_body::Frame::trailers(t))
            }
            Some(OutFrame::Abort) => {
                // Failing at once would drop data hyper has buffered but not yet written;
                // hyper flushes when the body is pending, then polls again.
                self.rx = None;
                self.aborting = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            None => {
                self.rx = None;
                return Poll::Ready(None);
            }
        };
        Poll::Ready(Some(frame))
    }

    fn is_end_stream(&self) -> bool {
        self.full.is_none() && self.rx.is_none() && !self.aborting
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match (&self.full, &self.rx) {
            (Some(b), None) => http_body::SizeHint::with_exact(b.len() as u64),
            (None, None) => http_body::SizeHint::with_exact(0),
            _ => http_body::SizeHint::default(),
        }
    }
}

/// Where the response head goes.
pub enum Head {
    H1(oneshot::Sender<http::Response<OutBody>>),
    H2(h2::server::SendResponse<Bytes>),
    /// A response promised to the client with push_promise (HTTP/2 server push).
    Pushed(h2::server::SendPushedResponse<Bytes>),
    /// A client stream: the request goes out with the first write_headers.
    Client(crate::client::ClientHead),
    Sent,
}

/// State the Lua thread and finished operations both touch.
#[derive(Default)]
struct Input {
    /// Header blocks received and not yet returned by get_headers (trailers come here too).
    heads: VecDeque<Headers>,
    /// Body data received (or ungot) and not yet returned.
    buffered: VecDeque<Bytes>,
    /// The body ended (or failed); nothing more will arrive.
    done: bool,
    error: Option<Failure>,
    /// The connection, once a head switched protocols (see `take_socket`).
    upgrade: Option<hyper::upgrade::OnUpgrade>,
}

pub struct Stream {
    pub conn: Arc<Conn>,
    input: Arc<Mutex<Input>>,
    source: Option<BodySource>,
    rx: Option<Arc<tokio::sync::Mutex<mpsc::Receiver<Result<InEvent, Failure>>>>>,
    head: Head,
    /// A response head written but not sent yet (see `write_headers`).
    deferred: Option<(StatusCode, HeaderMap)>,
    body: Option<mpsc::Sender<OutFrame>>,
    /// The response ended (or was abandoned).
    ended: bool,
    /// Largest request body accepted (413 past it).
    max_body: Option<u64>,
    /// A server stream whose request may switch protocols: Some(true) for a CONNECT.
    switching: Option<bool>,
    /// Inflate the incoming body: the client asked to decode a Content-Encoding
    /// (`decode_content`), or a server's request came with gzip transfer-coding.
    decode: bool,
    /// The outgoing head asked for gzip transfer-coding (HTTP/1): the body is compressed here.
    gzip_out: Option<Box<flate2::write::GzEncoder<Vec<u8>>>>,
    /// Client: the request body was ended (a kept-alive connection is reusable only then).
    sent_all: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// A Transfer-Encoding with gzip in it (lua-http supports that coding transparently).
pub fn gzip_coded(map: &HeaderMap) -> bool {
    map.get_all(http::header::TRANSFER_ENCODING).iter().any(|v| {
        v.to_str().is_ok_and(|v| v.split(',').any(|c| matches!(c.trim().to_ascii_lowercase().as_str(), "gzip" | "x-gzip")))
    })
}

pub fn headers_from_map(h: &mut Headers, map: &HeaderMap) {
    for (name, value) in map {
        // Name and value come from a parsed message: well within the list's limits.
        let _ = h.push(name.as_str().as_bytes(), value.as_bytes(), None);
    }
}

/// Split a headers object into a status and a header map, as a response head.
fn response_parts(h: &Headers) -> Result<(StatusCode, HeaderMap), String> {
    let mut status = None;
    let mut map = HeaderMap::with_capacity(h.len());
    for (name, value, _) in h.iter() {
        if name.first() == Some(&b':') {
            if name == b":status" {
                status = Some(
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|s| s.parse::<u16>().ok())
                        .and_then(|n| StatusCode::from_u16(n).ok())
                        .ok_or_else(|| format!("invalid :status '{}'", String::from_utf8_lossy(value)))?,
                );
            }
            continue;
        }
        let n = HeaderName::from_bytes(name).map_err(|_| format!("invalid header name '{}'", String::from_utf8_lossy(name)))?;
        let v = HeaderValue::from_bytes(value).map_err(|_| format!("invalid value for header '{}'", n))?;
        map.append(n, v);
    }
    Ok((status.ok_or("response headers have no :status")?, map))
}

/// Trailers: plain fields only.
fn trailer_map(h: &Headers) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value, _) in h.iter() {
        let n = HeaderName::from_bytes(name).map_err(|_| format!("invalid trailer name '{}'", String::from_utf8_lossy(name)))?;
        let v = HeaderValue::from_bytes(value).map_err(|_| format!("invalid value for trailer '{}'", n))?;
        map.append(n, v);
    }
    Ok(map)
}

/// Feed a body into `tx` (at most `max` bytes; through `inflater` when the client decodes a
/// Content-Encoding). True when it was read to its end.
pub async fn pump(
    source: BodySource,
    tx: &mpsc::Sender<Result<InEvent, Failure>>,
    max: Option<u64>,
    mut inflater: Option<crate::zlib::Inflater>,
) -> bool {
    let mut total: u64 = 0;
    let mut over = |n: usize| {
        total += n as u64;
        max.is_some_and(|m| total > m)
    };
    let too_large = || Failure::new("request body too large", libc::EMSGSIZE);
    let mut data = |d: Bytes, end: bool| -> Result<InEvent, Failure> {
        match inflater.as_mut() {
            None => Ok(InEvent::Data(d)),
            Some(z) => match z.feed(&d, end) {
                Ok(out) => Ok(InEvent::Data(Bytes::from(out))),
                Err(e) => Err(Failure::new(format!("cannot decode the body: {e}"), libc::EILSEQ)),
            },
        }
    };
    match source {
        BodySource::Hyper(mut body) => loop {
            let frame = std::future::poll_fn(|cx| http_body::Body::poll_frame(Pin::new(&mut body), cx)).await;
            let item = match frame {
                None => return finish(tx, &mut data).await,
                Some(Ok(f)) => match f.into_data() {
                    Ok(d) if over(d.len()) => Err(too_large()),
                    Ok(d) => data(d, false),
                    Err(f) => match f.into_trailers() {
                        Ok(t) => Ok(InEvent::Trailers(t)),
                        Err(_) => continue,
                    },
                },
                Some(Err(e)) => Err(Failure::new(e.to_string(), libc::ECONNRESET)),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return false;
            }
        },
        BodySource::H2(mut body) => {
            while let Some(r) = body.data().await {
                let item = match r {
                    Ok(d) if over(d.len()) => Err(too_large()),
                    Ok(d) => {
                        let _ = body.flow_control().release_capacity(d.len());
                        data(d, false)
                    }
                    Err(e) => Err(Failure::new(e.to_string(), libc::ECONNRESET)),
                };
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    return false;
                }
            }
            let trailers = body.trailers().await;
            if !finish(tx, &mut data).await {
                return false;
            }
            match trailers {
                Ok(Some(t)) => tx.send(Ok(InEvent::Trailers(t))).await.is_ok(),
                Ok(None) => true,
                Err(e) => {
                    let _ = tx.send(Err(Failure::new(e.to_string(), libc::ECONNRESET))).await;
                    false
                }
            }
        }
    }
}

/// The body's end: a decoder must have seen a whole stream.
async fn finish(
    tx: &mpsc::Sender<Result<InEvent, Failure>>,
    data: &mut impl FnMut(Bytes, bool) -> Result<InEvent, Failure>,
) -> bool {
    match data(Bytes::new(), true) {
        Ok(InEvent::Data(d)) if d.is_empty() => true,
        item => {
            let ok = item.is_ok();
            tx.send(item).await.is_ok() && ok
        }
    }
}

/// Send `frame` from an HTTP/2 stream's outgoing channel, waiting for flow-control capacity.
/// Ok(true): the stream goes on.
async fn h2_send(send: &mut h2::SendStream<Bytes>, frame: OutFrame) -> Result<bool, h2::Error> {
    match frame {
        OutFrame::Data(mut data, end) => {
            if data.is_empty() && end {
                send.send_data(Bytes::new(), true)?;
            }
            while !data.is_empty() {
                send.reserve_capacity(data.len());
                let n = match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
                    Some(n) => n?,
                    None => return Ok(false),
                };
                if n > 0 {
                    let chunk = data.split_to(n.min(data.len()));
                    send.send_data(chunk, end && data.is_empty())?;
                }
            }
            Ok(!end)
        }
        OutFrame::Trailers(t) => {
            send.send_trailers(t)?;
            Ok(false)
        }
        OutFrame::Abort => {
            send.send_reset(h2::Reason::INTERNAL_ERROR);
            Ok(false)
        }
    }
}

/// Send an HTTP/2 response head (`send` is the stream's send_response); with `full`, that is
/// the whole body. False when the connection is gone.
fn h2_head(
    lua: &Lua,
    send: impl FnOnce(http::Response<()>, bool) -> Result<h2::SendStream<Bytes>, h2::Error>,
    status: StatusCode,
    map: HeaderMap,
    full: Option<Bytes>,
    rx: Option<mpsc::Receiver<OutFrame>>,
) -> mlua::Result<bool> {
    let end = full.is_some();
    let mut resp = http::Response::new(());
    *resp.status_mut() = status;
    *resp.headers_mut() = map;
    let body = full.filter(|b| !b.is_empty());
    Ok(match send(resp, end && body.is_none()) {
        // h2 queues data beyond the peer's window and sends it as the window opens.
        Ok(mut send) => match body {
            Some(b) => send.send_data(b, true).is_ok(),
            None => {
                if let Some(rx) = rx {
                    runtime::handle(lua)?.spawn(h2_writer(send, rx));
                }
                true
            }
        },
        Err(_) => false,
    })
}

/// A request head's pseudo-headers, as given.
#[derive(Default)]
pub struct Pseudo<'a> {
    pub method: Option<&'a [u8]>,
    pub scheme: Option<&'a [u8]>,
    pub authority: Option<&'a [u8]>,
    pub path: Option<&'a [u8]>,
}

/// Split request headers into pseudo-headers and a header map of the fields `keep` accepts.
pub fn request_fields<'a>(h: &'a Headers, keep: impl Fn(&HeaderName, &[u8]) -> bool) -> Result<(Pseudo<'a>, HeaderMap), String> {
    let mut p = Pseudo::default();
    let mut map = HeaderMap::with_capacity(h.len());
    for (name, value, _) in h.iter() {
        let slot = match name {
            b":method" => &mut p.method,
            b":scheme" => &mut p.scheme,
            b":authority" => &mut p.authority,
            b":path" => &mut p.path,
            _ if name.first() == Some(&b':') => return Err(format!("invalid pseudo-header '{}'", String::from_utf8_lossy(name))),
            _ => {
                let n = HeaderName::from_bytes(name).map_err(|_| format!("invalid header name '{}'", String::from_utf8_lossy(name)))?;
                if keep(&n, value) {
                    let v = HeaderValue::from_bytes(value).map_err(|_| format!("invalid value for header '{n}'"))?;
                    map.append(n, v);
                }
                continue;
            }
        };
        *slot = Some(value);
    }
    Ok((p, map))
}

/// A push_promise's request head as an http::Request: lua-http requires all four
/// pseudo-headers.
fn push_request(h: &Headers) -> Result<http::Request<()>, String> {
    let (p, map) = request_fields(h, |_, _| true)?;
    let (Some(method), Some(scheme), Some(authority), Some(path)) = (p.method, p.scheme, p.authority, p.path) else {
        return Err("push_promise headers need :method, :scheme, :authority and :path".into());
    };
    let uri = http::Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(path)
        .build()
        .map_err(|e| format!("invalid push_promise target: {e}"))?;
    let method = http::Method::from_bytes(method).map_err(|_| "invalid :method".to_string())?;
    let mut req = http::Request::new(());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = map;
    Ok(req)
}

/// Drain an HTTP/2 stream's outgoing channel into the h2 connection.
pub async fn h2_writer(mut send: h2::SendStream<Bytes>, mut rx: mpsc::Receiver<OutFrame>) {
    while let Some(frame) = rx.recv().await {
        match h2_send(&mut send, frame).await {
            Ok(true) => {}
            _ => return,
        }
    }
    // The Lua side dropped the stream without ending the body.
    send.send_reset(h2::Reason::CANCEL);
}

impl Stream {
    /// A server stream for a request that arrived with headers `head`.
    pub fn server(conn: Arc<Conn>, head: Headers, source: Option<BodySource>, out: Head, max_body: Option<u64>) -> Stream {
        let input = Input { heads: VecDeque::from([head]), done: source.is_none(), ..Default::default() };
        Stream::new(conn, input, source, out, max_body)
    }

    /// A client stream; its request goes out with write_headers.
    pub fn client(conn: Arc<Conn>, head: Head) -> Stream {
        Stream::new(conn, Input::default(), None, head, None)
    }

    fn new(conn: Arc<Conn>, input: Input, source: Option<BodySource>, head: Head, max_body: Option<u64>) -> Stream {
        Stream {
            conn,
            input: Arc::new(Mutex::new(input)),
            source,
            rx: None,
            head,
            deferred: None,
            body: None,
            ended: false,
            max_body,
            switching: None,
            decode: false,
            gzip_out: None,
            sent_all: None,
        }
    }

    /// Let `take_socket` have the connection after a 101 (or a 2xx answer to a CONNECT).
    pub fn with_upgrade(self, upgrade: hyper::upgrade::OnUpgrade, connect: bool) -> Stream {
        self.input.lock().unwrap().upgrade = Some(upgrade);
        Stream { switching: Some(connect), ..self }
    }

    /// A response head that hands the connection over: it has no body.
    fn switches(&self, status: StatusCode) -> bool {
        match self.switching {
            Some(connect) => status == StatusCode::SWITCHING_PROTOCOLS || connect && status.is_success(),
            None => false,
        }
    }

    /// decode_content, or a request body in gzip transfer-coding: see `decode`.
    pub fn decode_content(&mut self) {
        self.decode = true;
    }

    /// An outgoing head: compress the body if it asks for gzip transfer-coding (HTTP/1 only).
    fn set_coding(&mut self, map: &HeaderMap) {
        if self.conn.version() != 2.0 && gzip_coded(map) {
            self.gzip_out = Some(Box::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default())));
        }
    }

    /// Body bytes as they go out: compressed under gzip transfer-coding (each write flushed,
    /// so the peer can decode what it has).
    fn encode(&mut self, data: &[u8], end: bool) -> std::io::Result<Bytes> {
        use std::io::Write;
        let Some(z) = self.gzip_out.as_mut() else { return Ok(Bytes::copy_from_slice(data)) };
        z.write_all(data)?;
        if end {
            z.try_finish()?;
        } else {
            z.flush()?;
        }
        Ok(Bytes::from(std::mem::take(z.get_mut())))
    }

    /// take_socket: after the head that switched protocols, the connection's socket.
    pub fn take_socket(&mut self, lua: &Lua, timeout: Option<f64>) -> mlua::Result<MultiValue> {
        self.flush(lua)?;
        if !matches!(self.head, Head::Sent) {
            return fail_msg("take_socket before the head", libc::EINVAL)(lua);
        }
        self.poll_input(lua)?;
        let Some(upgrade) = self.input.lock().unwrap().upgrade.take() else {
            return fail_msg("the connection did not switch protocols", libc::EINVAL)(lua);
        };
        let conn = self.conn.clone();
        runtime::start(lua, runtime::timeout_arg(timeout), async move {
            match upgrade.await {
                Ok(up) => {
                    let io = Box::new(hyper_util::rt::TokioIo::new(up));
                    let socket = crate::socket::Socket::new(io, conn.local.clone(), conn.peer.clone(), conn.tls.clone());
                    let outcome: Outcome = Box::new(move |lua: &Lua| socket.push(lua));
                    outcome
                }
                Err(e) => fail_msg(format!("upgrade failed: {e}"), libc::EPIPE),
            }
        })
    }

    fn start_pump(&mut self, lua: &Lua) -> mlua::Result<()> {
        if let Some(source) = self.source.take() {
            let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
            let (max, inflater) = (self.max_body, self.decode.then(crate::zlib::Inflater::new));
            runtime::handle(lua)?.spawn(async move { pump(source, &tx, max, inflater).await });
            self.rx = Some(Arc::new(tokio::sync::Mutex::new(rx)));
        }
        Ok(())
    }

    /// Take one received event into `input`; true when something new is there.
    fn absorb(input: &Mutex<Input>, ev: Option<Result<InEvent, Failure>>) {
        let mut i = input.lock().unwrap();
        match ev {
            Some(Ok(InEvent::Head(h, upgrade))) => {
                i.heads.push_back(h);
                if upgrade.is_some() {
                    i.upgrade = upgrade;
                }
            }
            Some(Ok(InEvent::Data(d))) => {
                if !d.is_empty() {
                    i.buffered.push_back(d)
                }
            }
            Some(Ok(InEvent::Trailers(t))) => {
                let mut h = Headers::new();
                headers_from_map(&mut h, &t);
                i.heads.push_back(h);
                i.done = true;
            }
            Some(Err(f)) => {
                i.error = Some(f);
                i.done = true;
            }
            None => i.done = true,
        }
    }

    /// Move whatever already arrived into `input` without waiting; false if the caller must
    /// wait for more.
    fn poll_input(&mut self, lua: &Lua) -> mlua::Result<bool> {
        self.start_pump(lua)?;
        let Some(rx) = &self.rx else { return Ok(true) };
        let Ok(mut rx) = rx.try_lock() else { return Ok(false) };
        Ok(Self::drain(&mut rx, &self.input))
    }

    /// Absorb every event already received; true once the sender is gone.
    fn drain(rx: &mut mpsc::Receiver<Result<InEvent, Failure>>, input: &Mutex<Input>) -> bool {
        loop {
            match rx.try_recv() {
                Ok(ev) => Self::absorb(input, Some(ev)),
                Err(mpsc::error::TryRecvError::Empty) => return false,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    Self::absorb(input, None);
                    return true;
                }
            }
        }
    }

    /// An operation that waits until `ready(input)` (or the body's end), absorbing what
    /// arrives, then answers with `then` on the Lua thread.
    fn wait_input(
        &self,
        lua: &Lua,
        timeout: Option<f64>,
        ready: fn(&Input) -> bool,
        then: fn(&Lua, &Mutex<Input>) -> Option<mlua::Result<MultiValue>>,
    ) -> mlua::Result<MultiValue> {
        let rx = self.rx.clone().expect("pump started");
        let input = self.input.clone();
        runtime::start(lua, runtime::timeout_arg(timeout), async move {
            let mut rx = rx.lock().await;
            loop {
                let ev = rx.recv().await;
                let end = ev.is_none();
                Stream::absorb(&input, ev);
                if end || ready(&input.lock().unwrap()) {
                    break;
                }
            }
            // Take what came right behind (a small body after its head, the body's end): the
            // next read then needs no wake-up of its own.
            Stream::drain(&mut rx, &input);
            let outcome: Outcome = Box::new(move |lua: &Lua| {
                then(lua, &input).unwrap_or_else(|| fail(libc::EPIPE)(lua))
            });
            outcome
        })
    }

    /// get_headers: the next header block (the request head, then trailers).
    pub fn get_headers(&mut self, lua: &Lua, timeout: Option<f64>) -> mlua::Result<MultiValue> {
        fn take(lua: &Lua, input: &Mutex<Input>) -> Option<mlua::Result<MultiValue>> {
            let mut i = input.lock().unwrap();
            if let Some(h) = i.heads.pop_front() {
                drop(i);
                return Some(headers::into_lua(lua, h).and_then(|ud| Ok(MultiValue::from_vec(vec![Value::UserData(ud)]))));
            }
            if i.done {
                let f = i.error.clone().unwrap_or_else(|| Failure::new("no more headers", libc::EPIPE));
                drop(i);
                return Some(f.outcome()(lua));
            }
            None
        }
        if let Some(r) = take(lua, &self.input) {
            return r;
        }
        // Trailers come after the body: keep the body for later reads while waiting for them.
        let done = self.poll_input(lua)?;
        if let Some(r) = take(lua, &self.input) {
            return r;
        }
        if done {
            return fail(libc::EPIPE)(lua);
        }
        self.wait_input(lua, timeout, |i| !i.heads.is_empty() || i.done, take)
    }

    /// get_next_chunk: the next piece of body; nil at its end.
    pub fn get_next_chunk(&mut self, lua: &Lua, timeout: Option<f64>) -> mlua::Result<MultiValue> {
        fn take(lua: &Lua, input: &Mutex<Input>) -> Option<mlua::Result<MultiValue>> {
            let mut i = input.lock().unwrap();
            if let Some(d) = i.buffered.pop_front() {
                drop(i);
                return Some(lua.create_string(&d).map(|s| MultiValue::from_vec(vec![Value::String(s)])));
            }
            if i.done {
                return Some(match i.error.take() {
                    Some(f) => f.outcome()(lua),
                    None => Ok(MultiValue::from_vec(vec![Value::Nil])),
                });
            }
            None
        }
        if let Some(r) = take(lua, &self.input) {
            return r;
        }
        self.poll_input(lua)?;
        if let Some(r) = take(lua, &self.input) {
            return r;
        }
        self.wait_input(lua, timeout, |i| !i.buffered.is_empty() || i.done, take)
    }

    /// unget: put data back in front of the body.
    pub fn unget(&mut self, data: &[u8]) {
        self.input.lock().unwrap().buffered.push_front(Bytes::copy_from_slice(data));
    }

    /// write_continue: let the client send its body (HTTP/1: hyper answers 100 Continue when the
    /// body is first read).
    pub fn write_continue(&mut self, lua: &Lua) -> mlua::Result<MultiValue> {
        match &mut self.head {
            Head::H2(respond) => {
                let resp = http::Response::builder().status(100).body(()).expect("valid 100 response");
                if let Err(e) = respond.send_informational(resp) {
                    return fail_msg(e.to_string(), libc::EPIPE)(lua);
                }
            }
            Head::H1(_) => {
                self.start_pump(lua)?;
            }
            Head::Pushed(_) => return fail_msg("a pushed response has no request body", libc::EINVAL)(lua),
            Head::Client(_) => return fail_msg("write_continue is for servers", libc::EINVAL)(lua),
            Head::Sent => return fail_msg("headers already written", libc::EINVAL)(lua),
        }
        ok(true)(lua)
    }

    /// write_headers: the response head, or trailers once the head is out.
    pub fn write_headers(&mut self, lua: &Lua, headers: &Value, end: bool, defer: bool) -> mlua::Result<MultiValue> {
        if self.ended || self.deferred.is_some() && !end {
            return fail_msg("stream already ended", libc::EPIPE)(lua);
        }
        if matches!(self.head, Head::Client(_)) {
            return self.send_request(lua, headers, end);
        }
        if matches!(self.head, Head::Sent) || self.deferred.is_some() {
            self.flush(lua)?;
            let map = headers::with_headers(lua, headers, |h| trailer_map(h))?;
            let map = match map {
                Ok(m) => m,
                Err(e) => return runtime::error(e),
            };
            if !end {
                return runtime::error("trailers must end the stream");
            }
            return self.send_frame(lua, OutFrame::Trailers(map), None);
        }
        let (status, mut map) = match headers::with_headers(lua, headers, |h| response_parts(h))? {
            Ok(p) => p,
            Err(e) => return runtime::error(e),
        };
        if self.switches(status) {
            return self.send_head(lua, status, map, Some(Bytes::new()));
        }
        if self.switching.is_some() && !status.is_informational() {
            // The HTTP/1 guard stops checking a connection's requests after one that asked to
            // switch protocols; refused, that connection must carry no further request.
            map.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        self.set_coding(&map);
        if status.is_informational() {
            if status == StatusCode::CONTINUE {
                return self.write_continue(lua);
            }
            if let Head::H2(respond) = &mut self.head {
                let mut resp = http::Response::new(());
                *resp.status_mut() = status;
                *resp.headers_mut() = map;
                return match respond.send_informational(resp) {
                    Ok(()) => ok(true)(lua),
                    Err(e) => fail_msg(e.to_string(), libc::EPIPE)(lua),
                };
            }
            return fail_msg("HTTP/1 informational responses other than 100 are not supported", libc::ENOTSUP)(lua);
        }
        if defer && !end {
            // Hold the head back: if the whole body follows before the handler suspends, head
            // and body go out together, with a Content-Length and one wake-up of the connection.
            self.deferred = Some((status, map));
            return ok(true)(lua);
        }
        self.send_head(lua, status, map, if end { Some(Bytes::new()) } else { None })
    }

    /// Client: send the request head (and start reading the response).
    fn send_request(&mut self, lua: &Lua, headers: &Value, end: bool) -> mlua::Result<MultiValue> {
        let tls = self.conn.tls.is_some();
        let parts = match headers::with_headers(lua, headers, |h| crate::client::parts(h, self.conn.version(), tls))? {
            Ok(p) => p,
            Err(e) => return runtime::error(e),
        };
        self.set_coding(parts.headers());
        let Head::Client(c) = std::mem::replace(&mut self.head, Head::Sent) else { unreachable!("client head") };
        let (body_tx, body_rx) = if end { (None, None) } else {
            let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
            (Some(tx), Some(rx))
        };
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let sent_all = Arc::new(std::sync::atomic::AtomicBool::new(end));
        self.sent_all = Some(sent_all.clone());
        runtime::handle(lua)?.spawn(crate::client::exchange(c.shared, parts, body_rx, self.decode, c.retry, sent_all, tx));
        runtime::hand_over(lua);
        self.rx = Some(Arc::new(tokio::sync::Mutex::new(rx)));
        self.body = body_tx;
        self.ended = end;
        ok(true)(lua)
    }

    /// Send the response head; with `full`, that is the whole body and the response ends.
    fn send_head(&mut self, lua: &Lua, status: StatusCode, map: HeaderMap, full: Option<Bytes>) -> mlua::Result<MultiValue> {
        let end = full.is_some();
        let (tx, rx) = if end { (None, None) } else {
            let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
            (Some(tx), Some(rx))
        };
        let sent = match std::mem::replace(&mut self.head, Head::Sent) {
            Head::H1(respond) => {
                let full = full.filter(|b| !b.is_empty());
                let mut resp = http::Response::new(OutBody { full, rx, aborting: false });
                *resp.status_mut() = status;
                *resp.headers_mut() = map;
                respond.send(resp).is_ok()
            }
            Head::H2(mut respond) => h2_head(lua, |r, e| respond.send_response(r, e), status, map, full, rx)?,
            Head::Pushed(mut respond) => h2_head(lua, |r, e| respond.send_response(r, e), status, map, full, rx)?,
            Head::Client(_) | Head::Sent => return fail_msg("headers already written", libc::EINVAL)(lua),
        };
        if !sent {
            self.ended = true;
            return fail_msg("connection closed", libc::EPIPE)(lua);
        }
        self.body = tx;
        self.ended = end;
        ok(true)(lua)
    }

    /// Send a deferred head (the handler is about to suspend, or wrote a partial body).
    pub fn flush(&mut self, lua: &Lua) -> mlua::Result<MultiValue> {
        match self.deferred.take() {
            Some((status, map)) => self.send_head(lua, status, map, None),
            None => ok(true)(lua),
        }
    }

    /// write_chunk: body data after the head; `end` finishes the response.
    pub fn write_chunk(&mut self, lua: &Lua, data: &[u8], end: bool, timeout: Option<f64>) -> mlua::Result<MultiValue> {
        if self.ended {
            return fail_msg("stream already ended", libc::EPIPE)(lua);
        }
        if !matches!(self.head, Head::Sent) && self.deferred.is_none() {
            return runtime::error("write_chunk before write_headers");
        }
        let data = match self.encode(data, end) {
            Ok(d) => d,
            Err(e) => return fail_msg(format!("cannot compress the body: {e}"), libc::EIO)(lua),
        };
        if let Some((status, map)) = self.deferred.take() {
            if end {
                return self.send_head(lua, status, map, Some(data));
            }
            self.send_head(lua, status, map, None)?;
        }
        self.send_frame(lua, OutFrame::Data(data, end), timeout)
    }

    fn send_frame(&mut self, lua: &Lua, frame: OutFrame, timeout: Option<f64>) -> mlua::Result<MultiValue> {
        let last = !matches!(frame, OutFrame::Data(_, false));
        let Some(tx) = (if last { self.body.take() } else { self.body.clone() }) else {
            return fail_msg("stream already ended", libc::EPIPE)(lua);
        };
        if last {
            self.ended = true;
            if let Some(flag) = &self.sent_all {
                flag.store(true, std::sync::atomic::Ordering::Release);
            }
        }
        match tx.try_send(frame) {
            Ok(()) => ok(true)(lua),
            // A body with a Content-Length is complete once that much went out; an empty
            // last chunk after it has nothing left to say.
            Err(mpsc::error::TrySendError::Closed(OutFrame::Data(d, true))) if d.is_empty() => ok(true)(lua),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.ended = true;
                self.body = None;
                fail_msg("connection closed", libc::EPIPE)(lua)
            }
            Err(mpsc::error::TrySendError::Full(frame)) => runtime::start(lua, runtime::timeout_arg(timeout), async move {
                match tx.send(frame).await {
                    Ok(()) => ok(true),
                    Err(_) => fail_msg("connection closed", libc::EPIPE),
                }
            }),
        }
    }

    /// shutdown: finish what the handler left unfinished: no head yet → 503; a body not
    /// ended → abort it so the peer sees a broken response rather than a short one.
    pub fn shutdown(&mut self, lua: &Lua) {
        if let Some((status, map)) = self.deferred.take() {
            // Headers and no body: an empty, complete response.
            let body = self.encode(&[], true).unwrap_or_default();
            let _ = self.send_head(lua, status, map, Some(body));
        }
        match std::mem::replace(&mut self.head, Head::Sent) {
            Head::H1(respond) => {
                let mut resp = http::Response::new(OutBody::empty());
                *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                let _ = respond.send(resp);
            }
            Head::H2(mut respond) => {
                let mut resp = http::Response::new(());
                *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                let _ = respond.send_response(resp, true);
            }
            // Nobody answered the promise: cancel it.
            Head::Pushed(mut respond) => respond.send_reset(h2::Reason::CANCEL),
            Head::Client(_) => {}
            Head::Sent => {
                if let Some(tx) = self.body.take() {
                    let _ = tx.try_send(OutFrame::Abort);
                }
            }
        }
        self.ended = true;
        self.source = None;
        self.rx = None;
    }

    /// push_promise: promise the client a response to `headers` (HTTP/2 server push, before
    /// this stream's own response head); returns the pushed stream.
    pub fn push_promise(&mut self, lua: &Lua, headers: &Value) -> mlua::Result<MultiValue> {
        let Head::H2(respond) = &mut self.head else {
            let msg = if self.conn.version() == 2.0 { "headers already written" } else { "push_promise needs HTTP/2" };
            return fail_msg(msg, libc::EINVAL)(lua);
        };
        let (req, head) = match headers::with_headers(lua, headers, |h| push_request(h).map(|r| (r, h.clone())))? {
            Ok(p) => p,
            Err(e) => return runtime::error(e),
        };
        match respond.push_request(req) {
            Ok(pushed) => {
                let s = Stream::server(self.conn.clone(), head, None, Head::Pushed(pushed), None);
                Ok(MultiValue::from_vec(vec![Value::UserData(lua.create_any_userdata(s)?)]))
            }
            Err(e) => fail_msg(e.to_string(), libc::EPROTO)(lua),
        }
    }
}

/// A hyper response with no body, for answers the server gives itself (413, 503 ...).
pub fn plain_response(status: StatusCode) -> http::Response<OutBody> {
    let mut resp = http::Response::new(OutBody::empty());
    *resp.status_mut() = status;
    resp
}

/// The Lua functions behind lua/http/stream_common.lua; the first argument is the stream
/// userdata. Functions that may wait return lua-http's values or `nil, token`.
pub fn open(lua: &Lua) -> mlua::Result<mlua::Table> {
    use runtime::method;
    let m = lua.create_table()?;
    m.set("get_headers", method(lua, "get_headers", |lua, s: &mut Stream, t: Option<f64>| s.get_headers(lua, t))?)?;
    m.set("get_next_chunk", method(lua, "get_next_chunk", |lua, s: &mut Stream, t: Option<f64>| s.get_next_chunk(lua, t))?)?;
    m.set(
        "unget",
        method(lua, "unget", |_, s: &mut Stream, data: mlua::LuaString| {
            s.unget(&data.as_bytes());
            Ok(true)
        })?,
    )?;
    m.set("write_continue", method(lua, "write_continue", |lua, s: &mut Stream, ()| s.write_continue(lua))?)?;
    m.set(
        "write_headers",
        method(lua, "write_headers", |lua, s: &mut Stream, (h, end, defer): (Value, Option<bool>, Option<bool>)| {
            s.write_headers(lua, &h, end.unwrap_or(false), defer.unwrap_or(false))
        })?,
    )?;
    m.set(
        "write_chunk",
        method(lua, "write_chunk", |lua, s: &mut Stream, (data, end, t): (mlua::LuaString, Option<bool>, Option<f64>)| {
            s.write_chunk(lua, &data.as_bytes(), end.unwrap_or(false), t)
        })?,
    )?;
    m.set(
        "shutdown",
        method(lua, "shutdown", |lua, s: &mut Stream, ()| {
            s.shutdown(lua);
            Ok(true)
        })?,
    )?;
    m.set(
        "push_promise",
        method(lua, "push_promise", |lua, s: &mut Stream, h: Value| s.push_promise(lua, &h))?,
    )?;
    m.set("flush", method(lua, "flush", |lua, s: &mut Stream, ()| s.flush(lua))?)?;
    m.set(
        "decode_content",
        method(lua, "decode_content", |_, s: &mut Stream, ()| {
            s.decode_content();
            Ok(true)
        })?,
    )?;
    m.set("take_socket", method(lua, "take_socket", |lua, s: &mut Stream, t: Option<f64>| s.take_socket(lua, t))?)?;
    // 2 for HTTP/2 (an integer, as lua-http gives it), 1.0 or 1.1 otherwise.
    m.set(
        "version",
        method(lua, "version", |_, s: &mut Stream, ()| {
            Ok(s.conn.lua_version())
        })?,
    )?;
    m.set("localname", method(lua, "localname", |lua, s: &mut Stream, ()| s.conn.local.push(lua))?)?;
    m.set("peername", method(lua, "peername", |lua, s: &mut Stream, ()| s.conn.peer.push(lua))?)?;
    m.set("checktls", method(lua, "checktls", |lua, s: &mut Stream, ()| s.conn.checktls(lua))?)?;
    m.set(
        "close_connection",
        method(lua, "close_connection", |_, s: &mut Stream, ()| {
            s.conn.close();
            Ok(true)
        })?,
    )?;
    runtime::register_type::<Stream>(lua, &m, |_| {})?;
    Ok(m)
}
