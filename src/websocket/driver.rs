//! The task that owns one WebSocket connection on the I/O runtime.
//!
//! tungstenite's protocol engine (from tokio-tungstenite) runs over the connection's stream
//! through a small Read/Write adapter, with the task's one waker. One task does both
//! directions: it writes what `send` queued, answers pings and close frames, reads messages
//! ahead into the inbox (up to a limit, so a peer cannot fill memory while Lua is busy) and
//! runs the closing handshake with its timeout.

use crate::runtime::Notifier;
use crate::socket::BoxIo;
use bytes::Bytes;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

/// Read ahead at most this many messages (or bytes) before Lua takes some.
const INBOX_MESSAGES: usize = 256;
const INBOX_BYTES: usize = 1 << 20;
/// Messages handled per direction in one poll before letting other tasks run.
const BUDGET: usize = 64;
/// Write what tungstenite buffered once it holds this much, even before a flush.
const WRITE_BUFFER: usize = 64 * 1024;
/// One read from the socket takes at most this much (into `Adapter::inbuf`).
const READ_CHUNK: usize = 8 * 1024;
/// tungstenite zero-fills this much of its buffer before each read it makes: it takes small
/// pieces of `Adapter::inbuf` (it would otherwise clear the whole read buffer twice per message).
const TUNGSTENITE_READ: usize = 1024;

/// How the connection ended, as `receive` reports it once the messages before it are taken.
#[derive(Clone, Debug)]
pub enum End {
    /// A close frame (the peer's, or ours after a protocol violation): `nil, reason, code`.
    Closed { code: u16, reason: Option<String> },
    /// An I/O failure: `nil, message, errno`.
    Failed { msg: String, errno: i32 },
    /// The transport closed without a closing handshake (close code 1006).
    Abnormal,
}

#[derive(Default)]
pub struct Inbox {
    pub msgs: VecDeque<(Bytes, bool)>,
    bytes: usize,
    pub end: Option<End>,
    /// The end was reported to Lua, or Lua closed the websocket: receive gives EPIPE.
    pub reported: bool,
    /// The task finished: the socket is closed.
    pub finished: bool,
    /// The task, waiting for room in the inbox.
    task: Option<Waker>,
    /// A Lua coroutine waits on the notifier for the next change.
    pub want: bool,
    /// Operations waiting on the runtime for a change (see `Shared::notify`).
    pub waiters: usize,
}

impl Shared {
    pub fn new(notifier: Arc<Notifier>) -> Shared {
        Shared {
            inbox: Mutex::default(),
            notifier,
            notify: Notify::new(),
            queued: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
        }
    }

    /// Tell the waiters the inbox changed; `want` and `waiters` are what the inbox said.
    fn changed(&self, want: bool, waiters: bool) {
        if want {
            self.notifier.notify();
        }
        if waiters {
            self.notify.notify_waiters();
        }
    }
}

impl Inbox {
    /// Lua closed the websocket: drop what it will not receive, so reading goes on (to the
    /// peer's close frame).
    pub fn discard(&mut self) {
        self.reported = true;
        self.msgs.clear();
        self.bytes = 0;
        if let Some(w) = self.task.take() {
            w.wake();
        }
    }

    /// The next message (true: binary), waking the task if it waits for room.
    pub fn pop(&mut self) -> Option<(Bytes, bool)> {
        let m = self.msgs.pop_front()?;
        self.bytes -= m.0.len();
        if let Some(w) = self.task.take() {
            w.wake();
        }
        Some(m)
    }
}

/// What the Lua side and the task share.
pub struct Shared {
    pub inbox: Mutex<Inbox>,
    /// Wakes the coroutine waiting in an untimed receive (see `Inbox::want`): the scheduler
    /// resumes it without a task or token per wait.
    pub notifier: Arc<Notifier>,
    /// Wakes waiters on the runtime (timed receives, close) when a message arrives or the
    /// connection ends.
    pub notify: Notify,
    /// Bytes given to `send` and not yet written out (sends past a limit wait for the write).
    pub queued: AtomicUsize,
    /// No more data frames are sent: a close frame went out or the connection ended.
    pub closing: AtomicBool,
}

/// What Lua asks the task to send.
pub enum Out {
    /// A frame, and who to tell once it is written.
    Frame(Frame, Option<oneshot::Sender<()>>),
    /// Start the closing handshake, waiting for the peer's close frame at most this long.
    Close(CloseFrame, Duration),
}

/// tungstenite's blocking Read/Write over an async stream: Pending becomes WouldBlock, and the
/// task's waker is registered for readiness.
struct Adapter {
    io: BoxIo,
    waker: Waker,
    /// What the socket gave and tungstenite did not take yet: `inbuf[start..end]` (zeroed once,
    /// then read into as it is).
    inbuf: Box<[u8]>,
    start: usize,
    end: usize,
}

/// One poll of the stream with the task's waker, as blocking I/O.
fn poll_io<T>(io: &mut BoxIo, waker: &Waker, f: impl FnOnce(Pin<&mut BoxIo>, &mut Context<'_>) -> Poll<io::Result<T>>) -> io::Result<T> {
    match f(Pin::new(io), &mut Context::from_waker(waker)) {
        Poll::Ready(r) => r,
        Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
    }
}

impl Read for Adapter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end {
            let inbuf = &mut self.inbuf;
            let got = poll_io(&mut self.io, &self.waker, |io, cx| {
                let mut rb = ReadBuf::new(inbuf);
                io.poll_read(cx, &mut rb).map_ok(|()| rb.filled().len())
            })?;
            (self.start, self.end) = (0, got);
        }
        let n = buf.len().min(self.end - self.start);
        buf[..n].copy_from_slice(&self.inbuf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

impl Write for Adapter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_io(&mut self.io, &self.waker, |io, cx| io.poll_write(cx, buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        poll_io(&mut self.io, &self.waker, |io, cx| io.poll_flush(cx))
    }
}

#[derive(PartialEq, Clone, Copy)]
enum Phase {
    Open,
    /// A close frame was sent or received: finishing the handshake.
    Closing,
    /// Failing the connection: write out the close frame, then shut down.
    Draining,
    ShuttingDown,
}

pub struct Driver {
    ws: WebSocket<Adapter>,
    rx: mpsc::Receiver<Out>,
    rx_open: bool,
    shared: Arc<Shared>,
    /// Senders waiting for their frame to be written.
    acks: Vec<oneshot::Sender<()>>,
    /// Bytes passed to tungstenite since the last completed flush.
    unflushed: usize,
    need_flush: bool,
    /// The last write could not finish: the task waits for the socket to take more.
    blocked: bool,
    phase: Phase,
    close_timeout: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

fn would_block(e: &WsError) -> bool {
    matches!(e, WsError::Io(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// The close code and reason a protocol failure is answered with.
fn violation(e: &WsError) -> Option<(u16, Cow<'static, str>)> {
    use ProtocolError as P;
    Some(match e {
        WsError::Utf8(_) => (1007, "Invalid UTF-8".into()),
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => (1009, "Message too big".into()),
        WsError::Protocol(p) => (
            1002,
            Cow::Borrowed(match p {
                P::NonZeroReservedBits => "Reserved bits not zero",
                P::UnmaskedFrameFromClient => "Unmasked frame from client",
                P::MaskedFrameFromServer => "Masked frame from server",
                P::FragmentedControlFrame => "Fragmented control frame",
                P::ControlFrameTooBig => "Control frame too big",
                P::UnknownControlFrameType(_) | P::UnknownDataFrameType(_) | P::InvalidOpcode(_) => "Reserved opcode",
                P::UnexpectedContinueFrame => "Unexpected continuation frame",
                P::ExpectedFragment(_) => "Continuation frame expected",
                P::InvalidCloseSequence => "Invalid close frame",
                P::ReceivedAfterClosing => "Frame after close",
                P::ResetWithoutClosingHandshake => return None,
                p => return Some((1002, p.to_string().into())),
            }),
        ),
        _ => return None,
    })
}

impl Driver {
    pub fn new(io: BoxIo, client: bool, max_message: Option<usize>, close_timeout: Duration, shared: Arc<Shared>) -> (Driver, mpsc::Sender<Out>) {
        let config = WebSocketConfig::default()
            .read_buffer_size(TUNGSTENITE_READ)
            .write_buffer_size(WRITE_BUFFER)
            .max_message_size(max_message)
            .max_frame_size(max_message);
        let role = if client { Role::Client } else { Role::Server };
        let adapter = Adapter { io, waker: Waker::noop().clone(), inbuf: vec![0; READ_CHUNK].into(), start: 0, end: 0 };
        let (tx, rx) = mpsc::channel(BUDGET);
        let driver = Driver {
            ws: WebSocket::from_raw_socket(adapter, role, Some(config)),
            rx,
            rx_open: true,
            shared,
            acks: Vec::new(),
            unflushed: 0,
            need_flush: false,
            blocked: false,
            phase: Phase::Open,
            close_timeout,
            deadline: None,
        };
        (driver, tx)
    }

    fn set_end(&self, end: End) {
        self.shared.closing.store(true, Ordering::Release);
        let mut inbox = self.shared.inbox.lock().unwrap();
        if inbox.end.is_none() {
            inbox.end = Some(end);
        }
        let (want, waiters) = (std::mem::take(&mut inbox.want), inbox.waiters > 0);
        drop(inbox);
        self.shared.changed(want, waiters);
    }

    fn enter(&mut self, phase: Phase) {
        if self.phase == Phase::ShuttingDown {
            return;
        }
        self.phase = phase;
        self.shared.closing.store(true, Ordering::Release);
        if self.deadline.is_none() {
            self.deadline = Some(Box::pin(tokio::time::sleep(self.close_timeout)));
        }
    }

    /// Send our close frame and wait for the peer's.
    fn start_close(&mut self, frame: CloseFrame) {
        if self.phase != Phase::Open {
            return;
        }
        self.enter(Phase::Closing);
        self.need_flush = true;
        match self.ws.close(Some(frame)) {
            Ok(()) => {}
            Err(e) if would_block(&e) => {}
            Err(e) => self.fail(e),
        }
    }

    /// An error from tungstenite: a protocol violation is answered with a close frame, any other
    /// failure ends the connection at once.
    fn fail(&mut self, e: WsError) {
        if let Some((code, reason)) = violation(&e) {
            self.set_end(End::Closed { code, reason: Some(reason.to_string()) });
            if self.phase == Phase::Open {
                self.enter(Phase::Draining);
                let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into_owned().into() };
                if matches!(self.ws.close(Some(frame)), Ok(()) | Err(WsError::Io(_))) {
                    // (WouldBlock, or a broken socket the flush will find) flush() shuts down
                    // once the close frame is out
                    self.need_flush = true;
                    return;
                }
            }
        } else {
            match e {
                WsError::ConnectionClosed | WsError::AlreadyClosed => {}
                WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => self.set_end(End::Abnormal),
                WsError::Io(e) => {
                    let errno = e.raw_os_error().unwrap_or(match e.kind() {
                        io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof => libc::ECONNRESET,
                        io::ErrorKind::BrokenPipe => libc::EPIPE,
                        _ => libc::EIO,
                    });
                    self.set_end(End::Failed { msg: crate::runtime::strerror(errno), errno })
                }
                e => self.set_end(End::Failed { msg: e.to_string(), errno: libc::EPROTO }),
            }
        }
        self.enter(Phase::ShuttingDown);
    }

    /// Take frames Lua queued, up to the budget. True when the budget ran out. Returns with the
    /// task registered for whatever it waits on: the channel, or the socket taking more.
    fn outgoing(&mut self, cx: &mut Context<'_>) -> bool {
        for _ in 0..BUDGET {
            if self.blocked {
                self.flush();
                if self.blocked {
                    return false;
                }
            }
            if !self.rx_open || self.phase == Phase::ShuttingDown {
                return false;
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Out::Frame(frame, ack))) => {
                    if self.phase != Phase::Open {
                        continue; // after a close frame nothing else goes out; the ack fails
                    }
                    self.unflushed += frame.len();
                    if let Some(ack) = ack {
                        self.acks.push(ack);
                    }
                    self.need_flush = true;
                    match self.ws.write(Message::Frame(frame)) {
                        Ok(()) => {}
                        Err(e) if would_block(&e) => self.blocked = true,
                        Err(e) => self.fail(e),
                    }
                }
                Poll::Ready(Some(Out::Close(frame, timeout))) => {
                    self.close_timeout = timeout;
                    self.start_close(frame);
                }
                Poll::Ready(None) => {
                    // The Lua object was collected without a close.
                    self.rx_open = false;
                    self.start_close(CloseFrame { code: CloseCode::Away, reason: "".into() });
                }
                Poll::Pending => return false,
            }
        }
        true
    }

    fn flush(&mut self) {
        if !self.need_flush {
            return;
        }
        match self.ws.flush() {
            Ok(()) => {
                self.need_flush = false;
                self.blocked = false;
                self.shared.queued.fetch_sub(std::mem::take(&mut self.unflushed), Ordering::AcqRel);
                for ack in self.acks.drain(..) {
                    let _ = ack.send(());
                }
                if self.phase == Phase::Draining {
                    self.enter(Phase::ShuttingDown);
                }
            }
            Err(e) if would_block(&e) => self.blocked = true,
            // A server finished the closing handshake: close the transport.
            Err(WsError::ConnectionClosed) => self.enter(Phase::ShuttingDown),
            Err(e) => self.fail(e),
        }
    }

    /// Read messages into the inbox while it has room, up to the budget. True when the budget
    /// ran out.
    fn incoming(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.room(&mut self.shared.inbox.lock().unwrap(), cx) {
            return false;
        }
        for _ in 0..BUDGET {
            if !matches!(self.phase, Phase::Open | Phase::Closing) {
                return false;
            }
            let (data, binary) = match self.ws.read() {
                Ok(Message::Text(t)) => (Bytes::from(t), false),
                Ok(Message::Binary(b)) => (b, true),
                Ok(Message::Ping(_)) => {
                    self.need_flush = true; // the pong tungstenite queued
                    continue;
                }
                Ok(Message::Close(frame)) => {
                    let (code, reason) = match frame {
                        Some(f) => (u16::from(f.code), Some(f.reason.as_str().to_owned()).filter(|r| !r.is_empty())),
                        None => (1000, None),
                    };
                    self.enter(Phase::Closing);
                    self.set_end(End::Closed { code, reason });
                    self.need_flush = true; // the answering close frame
                    continue;
                }
                Ok(_) => continue,
                Err(e) if would_block(&e) => return false,
                Err(e) => {
                    self.fail(e);
                    return false;
                }
            };
            let mut inbox = self.shared.inbox.lock().unwrap();
            if inbox.reported {
                continue; // Lua closed the websocket: nobody receives this
            }
            inbox.bytes += data.len();
            inbox.msgs.push_back((data, binary));
            let room = self.room(&mut inbox, cx);
            let (want, waiters) = (std::mem::take(&mut inbox.want), inbox.waiters > 0);
            drop(inbox);
            self.shared.changed(want, waiters);
            if !room {
                return false;
            }
        }
        true
    }

    /// May more be read ahead? If not, the task waits for Lua to take some.
    fn room(&self, inbox: &mut Inbox, cx: &mut Context<'_>) -> bool {
        let room = inbox.msgs.len() < INBOX_MESSAGES && inbox.bytes < INBOX_BYTES;
        if !room {
            inbox.task = Some(cx.waker().clone());
        }
        room
    }

    fn finish(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        let mut inbox = self.shared.inbox.lock().unwrap();
        inbox.finished = true;
        if inbox.end.is_none() {
            inbox.end = Some(End::Abnormal);
        }
        let (want, waiters) = (std::mem::take(&mut inbox.want), inbox.waiters > 0);
        drop(inbox);
        self.acks.clear();
        self.rx.close();
        self.shared.changed(want, waiters);
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.ws.get_mut().waker.clone_from(cx.waker());
        let mut more = false;
        if this.phase != Phase::ShuttingDown {
            more |= this.outgoing(cx);
            this.flush();
            more |= this.incoming(cx);
            this.flush();
        }
        if this.phase == Phase::ShuttingDown && Pin::new(&mut this.ws.get_mut().io).poll_shutdown(cx).is_ready() {
            this.finish();
            return Poll::Ready(());
        }
        // Polled last: a deadline set in this pass must be registered with the timer.
        if let Some(d) = this.deadline.as_mut() {
            if d.as_mut().poll(cx).is_ready() {
                // The peer did not finish the closing handshake (or the shutdown) in time.
                this.finish();
                return Poll::Ready(());
            }
        }
        if more {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_get_the_close_codes_of_rfc_6455() {
        let code = |e: WsError| violation(&e).map(|(c, r)| (c, r.into_owned()));
        assert_eq!(code(WsError::Utf8("x".into())), Some((1007, "Invalid UTF-8".into())));
        let big = CapacityError::MessageTooLong { size: 2, max_size: 1 };
        assert_eq!(code(WsError::Capacity(big)), Some((1009, "Message too big".into())));
        let p = |p: ProtocolError| code(WsError::Protocol(p));
        assert_eq!(p(ProtocolError::NonZeroReservedBits), Some((1002, "Reserved bits not zero".into())));
        assert_eq!(p(ProtocolError::InvalidOpcode(3)), Some((1002, "Reserved opcode".into())));
        // not a violation: the transport ended (1006), or an I/O error (errno)
        assert_eq!(p(ProtocolError::ResetWithoutClosingHandshake), None);
        assert_eq!(code(WsError::Io(io::ErrorKind::BrokenPipe.into())), None);
    }

    #[test]
    fn the_adapter_hands_out_one_socket_read_in_pieces() {
        let (mut peer, io) = tokio::io::duplex(64);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(Pin::new(&mut peer).poll_write(&mut cx, b"hello world"), Poll::Ready(Ok(11))));
        let mut a = Adapter { io: Box::new(io), waker: Waker::noop().clone(), inbuf: vec![0; 8].into(), start: 0, end: 0 };
        let mut got = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            match a.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                    break;
                }
            }
        }
        assert_eq!(got, b"hello world");
        drop(peer);
        assert_eq!(a.read(&mut buf).unwrap(), 0); // end of stream
    }
}
