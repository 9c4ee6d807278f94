//! http.websocket's core: a connected WebSocket (RFC 6455) over a socket the HTTP layer handed
//! over after the upgrade. The handshake itself (headers, negotiation) is in
//! lua/http/websocket.lua; this file runs the connection (driver.rs) and gives Lua
//! `receive`, `send`, `send_frame` and `close`. A message that already arrived and a frame that
//! fits the send queue complete at once; only real waiting returns a token.

mod driver;

use crate::runtime::raw::{self, push_bytes};
use crate::runtime::{self, fail_msg, ok, Outcome};
use crate::socket::Socket;
use bytes::Bytes;
use driver::{Driver, End, Out, Shared};
use mlua::ffi::{self, lua_State};
use mlua::{IntoLuaMulti, Lua, MultiValue, Table, Value};
use std::cell::RefCell;
use std::os::raw::c_int;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame, FrameHeader};

/// Sends complete at once while less than this is waiting to be written; past it a send waits
/// until its frame is written, so a slow peer holds memory to about this much.
const SEND_QUEUE_BYTES: usize = 1 << 20;

pub struct Ws {
    shared: Arc<Shared>,
    /// None once `close` was called.
    out: RefCell<Option<mpsc::Sender<Out>>>,
    client: bool,
}

/// A websocket's userdata block (runtime::raw): the hot functions (`receive`, `send` and the
/// `result` a parked receive is woken with) are plain C functions with the mlua versions as
/// their slow paths. Every method takes `&Ws`, so a finalizer that reaches the same object
/// while one runs aliases nothing mutably. None once collected.
type Block = Option<Ws>;

/// The metatable of websocket objects, in the registry under this key.
const MT_KEY: &std::ffi::CStr = c"http.core.websocket";

/// Run `f` on the websocket `v`.
fn with_ws<R>(lua: &Lua, v: &Value, f: impl FnOnce(&Ws) -> mlua::Result<R>) -> mlua::Result<R> {
    match raw::block::<Block>(lua, v)? {
        // `v` keeps the object alive while `f` runs.
        Some(p) => match unsafe { (*p).as_ref() } {
            Some(ws) => f(ws),
            None => runtime::error("websocket already collected"),
        },
        None => runtime::error(format!("websocket expected, got {}", v.type_name())),
    }
}

/// What the hot functions return: three values, pushed straight onto the Lua stack (a
/// MultiValue would be allocated per call); the Lua side drops the trailing nils.
type Ret = (Value, Value, Value);

const TRUE: Ret = (Value::Boolean(true), Value::Nil, Value::Nil);

/// `nil, message, number` (an errno, or a close code).
fn failure(lua: &Lua, msg: &str, number: i32) -> mlua::Result<Ret> {
    Ok((Value::Nil, Value::String(lua.create_string(msg)?), Value::Integer(number.into())))
}

/// lua-http's `nil, "<op>: <strerror>", errno`.
fn os_fail(lua: &Lua, op: &str, errno: i32) -> mlua::Result<Ret> {
    failure(lua, &format!("{op}: {}", runtime::strerror(errno)), errno)
}

/// `nil, token` from runtime::start.
fn pending(mv: MultiValue) -> Ret {
    let mut it = mv.into_iter();
    (it.next().unwrap_or(Value::Nil), it.next().unwrap_or(Value::Nil), Value::Nil)
}

/// What `receive` found.
enum Got {
    Message(Bytes, bool),
    End(End),
    /// The end was already reported.
    Gone,
}

impl Got {
    /// A message is `data, 1` (text) or `data, 2` (binary): Lua names the opcode.
    fn push(self, lua: &Lua) -> mlua::Result<Ret> {
        match self {
            Got::Message(data, binary) => {
                Ok((Value::String(lua.create_string(&data)?), Value::Integer(1 + binary as i64), Value::Nil))
            }
            Got::End(End::Closed { code, reason }) => {
                let reason = match reason {
                    Some(r) => Value::String(lua.create_string(&r)?),
                    None => Value::Nil,
                };
                Ok((Value::Nil, reason, Value::Integer(code.into())))
            }
            Got::End(End::Failed { msg, errno }) => failure(lua, &format!("receive: {msg}"), errno),
            // RFC 6455's code for a connection lost without a close frame
            Got::End(End::Abnormal) => failure(lua, "connection closed without a closing handshake", 1006),
            Got::Gone => os_fail(lua, "receive", libc::EPIPE),
        }
    }
}

/// What the inbox holds next: a message (taken), nothing yet, or the end (left in place).
enum Next {
    Message(Bytes, bool),
    Empty,
    End,
}

fn next_locked(inbox: &mut driver::Inbox) -> Next {
    if inbox.reported {
        return Next::End;
    }
    match inbox.pop() {
        Some((data, binary)) => Next::Message(data, binary),
        None if inbox.end.is_some() => Next::End,
        None => Next::Empty,
    }
}

/// The next message, or the end once every message was taken (then EPIPE); None: wait.
fn take(shared: &Shared) -> Option<Got> {
    let mut inbox = shared.inbox.lock().unwrap();
    match next_locked(&mut inbox) {
        Next::Message(data, binary) => Some(Got::Message(data, binary)),
        Next::Empty => None,
        Next::End if inbox.reported => Some(Got::Gone),
        Next::End => {
            inbox.reported = true;
            inbox.end.clone().map(Got::End)
        }
    }
}

/// Counts a waiter on the runtime while it lives, so the driver notifies only when someone waits.
struct Waiting<'a>(&'a Shared);

impl<'a> Waiting<'a> {
    fn new(shared: &'a Shared) -> Waiting<'a> {
        shared.inbox.lock().unwrap().waiters += 1;
        Waiting(shared)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.inbox.lock().unwrap().waiters -= 1;
    }
}

/// Wait on the runtime until `ready` gives an answer (it is asked again on every change).
async fn wait_for<T>(shared: &Shared, mut ready: impl FnMut(&Shared) -> Option<T>) -> T {
    let _waiting = Waiting::new(shared);
    loop {
        let notified = shared.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(v) = ready(shared) {
            return v;
        }
        notified.await;
    }
}

fn random_mask() -> [u8; 4] {
    let mut key = [0u8; 4];
    // SAFETY: getrandom writes at most 4 bytes into `key`.
    unsafe { libc::getrandom(key.as_mut_ptr().cast(), key.len(), 0) };
    key
}

impl Ws {
    fn new(lua: &Lua, socket: &mut Socket, client: bool, max_message: Option<usize>, close_timeout: f64) -> mlua::Result<Result<Ws, crate::stream_common::Failure>> {
        let io = match socket.take() {
            Ok(io) => io,
            Err(f) => return Ok(Err(f)),
        };
        let shared = Arc::new(Shared::new(runtime::Notifier::new(lua)));
        let timeout = runtime::timeout_arg(Some(close_timeout)).unwrap_or(Duration::MAX);
        let (driver, tx) = Driver::new(io, client, max_message, timeout, shared.clone());
        runtime::handle(lua)?.spawn(driver);
        Ok(Ok(Ws { shared, out: RefCell::new(Some(tx)), client }))
    }

    /// The next message or the end; if there is none yet: with `park`, `nil, id` after arming
    /// the notifier whose id that is (the caller waits on this object, see `open`), else
    /// `nil, token`.
    fn receive(&self, lua: &Lua, timeout: Option<f64>, park: bool) -> mlua::Result<Ret> {
        if park {
            match self.next_or_park() {
                Next::Message(data, binary) => return Got::Message(data, binary).push(lua),
                Next::Empty => return Ok((Value::Nil, Value::Integer(self.shared.notifier.id() as i64), Value::Nil)),
                Next::End => {} // taken below
            }
        }
        if let Some(got) = take(&self.shared) {
            return got.push(lua);
        }
        let shared = self.shared.clone();
        runtime::start(lua, runtime::timeout_arg(timeout), async move {
            let got = wait_for(&shared, take).await;
            let outcome: Outcome = Box::new(move |lua: &Lua| got.push(lua)?.into_lua_multi(lua));
            outcome
        })
        .map(pending)
    }

    /// The next message, or the end (left in place); Empty after arming the notifier, which
    /// fires at the inbox's next change (receive's `park`).
    fn next_or_park(&self) -> Next {
        let mut inbox = self.shared.inbox.lock().unwrap();
        let next = next_locked(&mut inbox);
        if matches!(next, Next::Empty) {
            self.shared.notifier.rearm();
            inbox.want = true;
        }
        next
    }

    /// The send queue, unless the websocket is closing.
    fn sender(&self) -> Option<mpsc::Sender<Out>> {
        match &*self.out.borrow() {
            Some(tx) if !self.shared.closing.load(Ordering::Acquire) => Some(tx.clone()),
            _ => None,
        }
    }

    /// Queue a data frame of `len` bytes built by `frame` if that needs no waiting; false
    /// (and nothing built) otherwise.
    fn send_now(&self, len: usize, frame: impl FnOnce() -> Frame) -> bool {
        let out = self.out.borrow();
        let Some(tx) = out.as_ref().filter(|_| !self.shared.closing.load(Ordering::Acquire)) else {
            return false;
        };
        // (with room in the channel try_send succeeds, unless a waiting send takes it first)
        if self.shared.queued.load(Ordering::Acquire) + len > SEND_QUEUE_BYTES || tx.capacity() == 0 {
            return false;
        }
        let mut f = frame();
        if self.client {
            f.header_mut().mask = None; // tungstenite masks every client frame itself
        }
        let n = f.len();
        self.shared.queued.fetch_add(n, Ordering::AcqRel);
        if tx.try_send(Out::Frame(f, None)).is_err() {
            // closed, or a waiting send (another coroutine's) took the room first
            self.shared.queued.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Queue one frame; waits only when the queue is full or holds too many bytes.
    fn send(&self, lua: &Lua, mut frame: Frame, timeout: Option<f64>) -> mlua::Result<Ret> {
        let Some(tx) = self.sender() else {
            return os_fail(lua, "send_frame", libc::EPIPE);
        };
        if self.client {
            frame.header_mut().mask = None; // tungstenite masks every client frame itself
        }
        let queued = self.shared.queued.fetch_add(frame.len(), Ordering::AcqRel) + frame.len();
        let (ack, written) = if queued > SEND_QUEUE_BYTES {
            let (a, w) = oneshot::channel();
            (Some(a), Some(w))
        } else {
            (None, None)
        };
        let out = Out::Frame(frame, ack);
        let out = match written {
            None => match tx.try_send(out) {
                Ok(()) => return Ok(TRUE),
                Err(mpsc::error::TrySendError::Closed(_)) => return os_fail(lua, "send_frame", libc::EPIPE),
                Err(mpsc::error::TrySendError::Full(out)) => out,
            },
            Some(_) => out,
        };
        runtime::start(lua, runtime::timeout_arg(timeout), async move {
            let sent = tx.send(out).await.is_ok();
            let done = match written {
                Some(w) => sent && w.await.is_ok(),
                None => sent,
            };
            if done {
                ok(true)
            } else {
                fail_msg(format!("send_frame: {}", runtime::strerror(libc::EPIPE)), libc::EPIPE)
            }
        })
        .map(pending)
    }

    /// Start the closing handshake and wait for the connection to end.
    fn close(&self, lua: &Lua, code: u16, reason: &str, close_timeout: f64, timeout: Option<f64>) -> mlua::Result<MultiValue> {
        let shared = self.shared.clone();
        let tx = self.out.borrow_mut().take();
        {
            let mut inbox = shared.inbox.lock().unwrap();
            inbox.discard();
            if tx.is_none() && inbox.finished {
                return ok(true)(lua);
            }
        }
        let grace = runtime::timeout_arg(Some(close_timeout)).unwrap_or(Duration::MAX);
        let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
        runtime::start(lua, runtime::timeout_arg(timeout), async move {
            if let Some(tx) = tx {
                let _ = tx.send(Out::Close(frame, grace)).await;
            }
            wait_for(&shared, |s| s.inbox.lock().unwrap().finished.then_some(())).await;
            ok(true)
        })
    }

    /// Would receive answer at once?
    fn ready(&self) -> bool {
        let inbox = self.shared.inbox.lock().unwrap();
        inbox.reported || !inbox.msgs.is_empty() || inbox.end.is_some()
    }

    /// lua-http's readyState: 1 open, 2 closing, 3 closed (also once receive reported the end).
    fn ready_state(&self) -> u8 {
        let inbox = self.shared.inbox.lock().unwrap();
        if inbox.finished || inbox.reported {
            3
        } else if self.out.borrow().is_none() || self.shared.closing.load(Ordering::Acquire) {
            2
        } else {
            1
        }
    }
}

/// A frame from lua-http's fields: opcode (0-15), FIN, RSV1-3, MASK.
fn build_frame(data: &[u8], opcode: u8, fin: bool, rsv: [bool; 3], mask: bool) -> mlua::Result<Frame> {
    if opcode > 15 {
        return runtime::error("Invalid WebSocket opcode");
    }
    let opcode = OpCode::from(opcode);
    if matches!(opcode, OpCode::Control(_)) && data.len() > 125 {
        return runtime::error("control frame payload too long (more than 125 bytes)");
    }
    let header = FrameHeader {
        is_final: fin,
        rsv1: rsv[0],
        rsv2: rsv[1],
        rsv3: rsv[2],
        opcode,
        mask: mask.then(random_mask),
    };
    Ok(Frame::from_payload(header, Bytes::copy_from_slice(data)))
}

/// send's opcode: nil or "text" (1), "binary" (2), or a number.
fn opcode_arg(v: &Value) -> mlua::Result<u8> {
    match v {
        Value::Nil => Ok(1),
        Value::String(s) if s.as_bytes().as_ref() == b"text" => Ok(1),
        Value::String(s) if s.as_bytes().as_ref() == b"binary" => Ok(2),
        Value::Integer(n) if (0..=15).contains(n) => Ok(*n as u8),
        Value::Number(n) if n.fract() == 0.0 && (0.0..=15.0).contains(n) => Ok(*n as u8),
        _ => runtime::error("Invalid WebSocket opcode"),
    }
}

fn flag(frame: &Table, name: &str) -> mlua::Result<bool> {
    Ok(!matches!(frame.get::<Value>(name)?, Value::Nil | Value::Boolean(false)))
}

// ---- the hot functions, as plain C functions (see `Block`) ----

/// The websocket of argument 1; None if it is not one (or was collected): the slow path then
/// reports that.
unsafe fn this<'a>(l: *mut lua_State) -> Option<&'a Ws> {
    (*raw::get::<Block>(l, 1)?).as_ref()
}

/// Push a message as `data, 1` (text) or `data, 2` (binary). (Should pushing raise, out of
/// memory, the Bytes leak.)
unsafe fn push_message(l: *mut lua_State, data: Bytes, binary: bool) -> c_int {
    push_bytes(l, &data);
    drop(data);
    ffi::lua_pushinteger(l, 1 + binary as ffi::lua_Integer);
    2
}

/// receive(ws, timeout, park): with `park` and no timeout, a message that arrived or
/// `nil, notifier id` (parked); anything else through the slow path.
unsafe extern "C-unwind" fn receive_raw(l: *mut lua_State) -> c_int {
    if ffi::lua_isnoneornil(l, 2) != 0 && ffi::lua_toboolean(l, 3) != 0 {
        if let Some(ws) = this(l) {
            match raw::catch(|| ws.next_or_park()) {
                Some(Next::Message(data, binary)) => return push_message(l, data, binary),
                Some(Next::Empty) => {
                    ffi::lua_pushnil(l);
                    ffi::lua_pushinteger(l, ws.shared.notifier.id() as ffi::lua_Integer);
                    return 2;
                }
                _ => {}
            }
        }
    }
    raw::slow_path(l)
}

/// result(ws): what a parked receive was woken for: a message, false if another receiver
/// took it; the end through the slow path.
unsafe extern "C-unwind" fn result_raw(l: *mut lua_State) -> c_int {
    if let Some(ws) = this(l) {
        match raw::catch(|| next_locked(&mut ws.shared.inbox.lock().unwrap())) {
            Some(Next::Message(data, binary)) => return push_message(l, data, binary),
            Some(Next::Empty) => {
                ffi::lua_pushboolean(l, 0);
                return 1;
            }
            _ => {}
        }
    }
    raw::slow_path(l)
}

/// send(ws, data, opcode, timeout): true at once when the frame fits the send queue;
/// anything else (waiting, errors, bad arguments) through the slow path.
unsafe extern "C-unwind" fn send_raw(l: *mut lua_State) -> c_int {
    if let Some(ws) = this(l) {
        let opcode = match ffi::lua_type(l, 3) {
            ffi::LUA_TNIL | ffi::LUA_TNONE => Some(1),
            ffi::LUA_TNUMBER => {
                let n = ffi::lua_tonumber(l, 3);
                (n.fract() == 0.0 && (0.0..=15.0).contains(&n)).then_some(n as u8)
            }
            _ => None,
        };
        let data = (ffi::lua_type(l, 2) == ffi::LUA_TSTRING).then(|| {
            let mut len = 0;
            let p = ffi::lua_tolstring(l, 2, &mut len);
            std::slice::from_raw_parts(p as *const u8, len)
        });
        // data frames only (control frames have size rules: the slow path checks them)
        if let (Some(data), Some(opcode @ 0..=2)) = (data, opcode) {
            let queued = raw::catch(|| {
                ws.send_now(data.len(), || {
                    let header = FrameHeader { opcode: OpCode::from(opcode), ..FrameHeader::default() };
                    Frame::from_payload(header, Bytes::copy_from_slice(data))
                })
            });
            if queued == Some(true) {
                ffi::lua_pushboolean(l, 1);
                return 1;
            }
        }
    }
    raw::slow_path(l)
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    use runtime::function;
    let t = lua.create_table()?;
    // new(socket, client, max_message_size, close_timeout): the connection over an upgraded
    // socket (the socket is used up); nil, msg, errno if it was already taken.
    t.set(
        "new",
        function(lua, "new", |lua, (sock, client, max, close_timeout): (mlua::AnyUserData, bool, Option<f64>, f64)| {
            let mut sock = sock.borrow_mut::<Socket>().map_err(|_| mlua::Error::RuntimeError("socket expected".into()))?;
            let max = max.filter(|m| m.is_finite() && *m >= 0.0).map(|m| m as usize);
            match Ws::new(lua, &mut sock, client, max, close_timeout)? {
                Ok(ws) => (raw::into_lua(lua, MT_KEY, Some(ws))?,).into_lua_multi(lua),
                Err(f) => fail_msg(f.msg, f.errno)(lua),
            }
        })?,
    )?;
    t.set(
        "accept_key",
        function(lua, "accept_key", |_, key: mlua::LuaString| {
            Ok(tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key.as_bytes()))
        })?,
    )?;
    t.set(
        "new_key",
        function(lua, "new_key", |_, ()| Ok(tokio_tungstenite::tungstenite::handshake::client::generate_key()))?,
    )?;
    let mt = lua.create_table()?;
    let receive = function(lua, "receive", |lua, (v, timeout, park): (Value, Option<f64>, Option<bool>)| {
        with_ws(lua, &v, |ws| ws.receive(lua, timeout, park.unwrap_or(false)))
    })?;
    t.set("receive", raw::closure(lua, &mt, receive_raw, Some(&receive))?)?;
    let send = function(lua, "send", |lua, (v, data, opcode, timeout): (Value, mlua::LuaString, Value, Option<f64>)| {
        with_ws(lua, &v, |ws| {
            let frame = build_frame(&data.as_bytes(), opcode_arg(&opcode)?, true, [false; 3], false)?;
            ws.send(lua, frame, timeout)
        })
    })?;
    t.set("send", raw::closure(lua, &mt, send_raw, Some(&send))?)?;
    t.set(
        "send_frame",
        function(lua, "send_frame", |lua, (v, frame, timeout): (Value, Table, Option<f64>)| with_ws(lua, &v, |ws| {
            let opcode = match frame.get::<Value>("opcode")? {
                Value::Nil => return runtime::error("Invalid WebSocket opcode"),
                v => opcode_arg(&v)?,
            };
            let data: Option<mlua::LuaString> = frame.get("data")?;
            let data = data.as_ref().map(|d| d.as_bytes());
            let rsv = [flag(&frame, "RSV1")?, flag(&frame, "RSV2")?, flag(&frame, "RSV3")?];
            let f = build_frame(data.as_deref().unwrap_or(b""), opcode, flag(&frame, "FIN")?, rsv, flag(&frame, "MASK")?)?;
            ws.send(lua, f, timeout)
        }))?,
    )?;
    t.set(
        "close",
        function(lua, "close", |lua, (v, code, reason, grace, timeout): (Value, u16, Option<mlua::LuaString>, f64, Option<f64>)| {
            let reason = reason.map(|r| r.to_str().map(|s| s.to_string())).transpose()
                .map_err(|_| mlua::Error::RuntimeError("close reason must be valid UTF-8".into()))?;
            let reason = reason.unwrap_or_default();
            if reason.len() > 123 {
                return runtime::error("close reason too long (more than 123 bytes)");
            }
            with_ws(lua, &v, |ws| ws.close(lua, code, &reason, grace, timeout))
        })?,
    )?;
    t.set("ready_state", function(lua, "ready_state", |lua, v: Value| with_ws(lua, &v, |ws| Ok(ws.ready_state())))?)?;
    // A websocket whose receive parked is waited on like a token (core.wait): its id is the
    // notifier's, done() says whether receive would answer, result() is that answer (false if
    // another receiver took it first).
    let m = lua.create_table()?;
    m.set("id", function(lua, "id", |lua, v: Value| with_ws(lua, &v, |ws| Ok(ws.shared.notifier.id())))?)?;
    m.set("done", function(lua, "done", |lua, v: Value| with_ws(lua, &v, |ws| Ok(ws.ready())))?)?;
    let result = function(lua, "result", |lua, v: Value| {
        with_ws(lua, &v, |ws| match take(&ws.shared) {
            Some(got) => got.push(lua),
            None => Ok((Value::Boolean(false), Value::Nil, Value::Nil)),
        })
    })?;
    m.set("result", raw::closure(lua, &mt, result_raw, Some(&result))?)?;
    mt.set("__name", "http.websocket.connection")?;
    mt.set("__index", m)?;
    mt.set("__gc", raw::closure(lua, &mt, raw::gc::<Block>, None)?)?;
    raw::register(lua, MT_KEY, &mt)?;
    Ok(t)
}
