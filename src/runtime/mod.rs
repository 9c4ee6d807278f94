//! The bridge between Lua and the tokio I/O runtime (see DESIGN.md, "How a blocking call
//! works"). Rust starts operations and hands Lua a token; `wait.lua` decides how the calling
//! coroutine waits for it (yield to our scheduler, `cqueues.poll`, or a blocking pumped wait).

mod errors;
mod eventfd;
pub mod raw;
mod token;

pub use errors::{error, function, method, method_ud, quiet_panics, raise, register_type};
pub use token::{fail, fail_msg, ok, Outcome};

use mlua::{ffi, Lua, MultiValue, Table, Value};
use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use token::{Completions, Token};

/// Per-Lua-state bridge, kept in mlua app data and dropped with the state.
struct Bridge {
    rt: std::cell::OnceCell<tokio::runtime::Runtime>,
    completions: Arc<Completions>,
    next_id: Cell<u64>,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// I/O worker threads; HTTP_CORE_WORKERS overrides.
fn workers() -> usize {
    std::env::var("HTTP_CORE_WORKERS").ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(2)
}

fn bridge(lua: &Lua) -> mlua::AppDataRef<'_, Bridge> {
    lua.app_data_ref::<Bridge>().expect("http.core bridge not initialised")
}

/// The I/O runtime of this Lua state, started on first use.
pub fn handle(lua: &Lua) -> mlua::Result<tokio::runtime::Handle> {
    let b = bridge(lua);
    if let Some(rt) = b.rt.get() {
        return Ok(rt.handle().clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .thread_name("http-core-io")
        .on_thread_start(io_thread_start)
        .enable_all()
        .build()
        .map_err(|e| mlua::Error::RuntimeError(format!("cannot start the I/O runtime: {e}")))?;
    let h = rt.handle().clone();
    let _ = b.rt.set(rt);
    Ok(h)
}

fn io_thread_start() {
    block_sigpipe();
    batch_policy();
}

/// I/O threads run under SCHED_BATCH: one that the Lua thread wakes (a request handed over, a
/// response to send) does not preempt it on their shared CPU but runs once the Lua thread waits,
/// with everything a round of coroutines handed over; otherwise each hand-over costs two context
/// switches and the I/O threads see one item at a time (measured in bench/client.sh: 50 requests
/// in flight from one CPU, +50%). Their share of the CPU is unchanged. (Best effort: the call
/// needs no privilege, and a failure only costs that speed.)
fn batch_policy() {
    let param = libc::sched_param { sched_priority: 0 };
    unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
}

/// The caller handed the I/O runtime work it will wait for. If that is the main thread, which
/// blocks until the answer, let an I/O thread that shares its CPU start the work now (the
/// request goes out while the caller gets ready to wait); coroutines keep the CPU, so what a
/// whole round of them hands over goes out in one batch (see `batch_policy`).
pub fn hand_over(lua: &Lua) {
    let main = unsafe { lua.exec_raw::<bool>((), |l| {
        let main = ffi::lua_pushthread(l) == 1;
        ffi::lua_pop(l, 1);
        ffi::lua_pushboolean(l, main as i32);
    }) };
    if main.unwrap_or(false) {
        unsafe { libc::sched_yield() };
    }
}

/// A write to a socket the peer closed raises SIGPIPE in the writing thread (vectored writes
/// cannot pass MSG_NOSIGNAL), and its default action ends the whole Lua program. Blocked in
/// our I/O threads only, such writes fail with EPIPE instead; the host's disposition stays.
fn block_sigpipe() {
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// The text of an errno, as lua-http reports it ("Connection timed out").
pub fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// lua-http's `timeout` argument: nil (or a negative/NaN value) means no limit.
pub fn timeout_arg(t: Option<f64>) -> Option<Duration> {
    match t {
        Some(t) if t.is_finite() && t >= 0.0 => Some(Duration::from_secs_f64(t)),
        Some(t) if t.is_infinite() && t > 0.0 => None,
        Some(t) if t.is_finite() => Some(Duration::ZERO),
        _ => None,
    }
}

/// Start `fut` on the runtime and return lua-http's pending convention `nil, token`; `wait.lua`
/// turns that into a suspension. With a timeout the outcome is `nil, "...timed out", ETIMEDOUT`
/// when it runs out.
pub fn start<F>(lua: &Lua, timeout: Option<Duration>, fut: F) -> mlua::Result<MultiValue>
where
    F: Future<Output = Outcome> + Send + 'static,
{
    let h = handle(lua)?;
    let (token, completer) = {
        let b = bridge(lua);
        let id = b.next_id.get();
        b.next_id.set(id + 1);
        token::pair(id, b.completions.clone())
    };
    h.spawn(async move {
        let outcome = match timeout {
            None => fut.await,
            Some(d) => match tokio::time::timeout(d, fut).await {
                Ok(o) => o,
                Err(_) => fail(libc::ETIMEDOUT),
            },
        };
        completer.complete(outcome);
    });
    let ud = lua.create_any_userdata(token)?;
    Ok(MultiValue::from_vec(vec![Value::Nil, Value::UserData(ud)]))
}

/// A permanent id that long-lived producers (a server's accept loop, a connection's incoming
/// streams) signal when they have something for Lua. One queue entry per batch: it is queued
/// again only after Lua called `rearm`, which it does before taking the items.
pub struct Notifier {
    id: u64,
    queued: AtomicBool,
    completions: Arc<Completions>,
}

impl Notifier {
    pub fn new(lua: &Lua) -> Arc<Notifier> {
        let b = bridge(lua);
        let id = b.next_id.get();
        b.next_id.set(id + 1);
        Arc::new(Notifier { id, queued: AtomicBool::new(false), completions: b.completions.clone() })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn notify(&self) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.completions.push(self.id);
        }
    }

    pub fn rearm(&self) {
        self.queued.store(false, Ordering::Release);
    }
}

/// The state of `drain`: the completion queue and a buffer for its batches.
#[derive(Default)]
struct Drainer(Option<(Arc<Completions>, Vec<u64>)>);

unsafe extern "C-unwind" fn drain(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    let timeout = (ffi::lua_type(l, 2) == ffi::LUA_TNUMBER).then(|| ffi::lua_tonumber(l, 2));
    let Some(Drainer(Some((completions, buffer)))) = raw::get::<Drainer>(l, ffi::lua_upvalueindex(1)).map(|p| &mut *p) else {
        raw::raise(l, "drain: no completion queue");
    };
    // The buffer is taken while Lua runs (a finalizer could step the scheduler again).
    let mut batch = std::mem::take(buffer);
    let completions = completions.clone();
    let taken = raw::catch(move || {
        batch.clear();
        if completions.is_empty() {
            if timeout == Some(0.0) {
                // (nothing to take, no sleep: the eventfd needs no reset either)
                return batch;
            }
            completions.wait(timeout.filter(|t| t.is_finite()));
        }
        completions.take(&mut batch);
        batch
    });
    let Some(batch) = taken else { raw::raise(l, "internal error (panic) in drain") };
    for (i, id) in batch.iter().enumerate() {
        ffi::lua_pushinteger(l, *id as ffi::lua_Integer);
        ffi::lua_rawseti(l, 1, (i + 1) as _);
    }
    let n = batch.len();
    if let Some(Drainer(Some((_, buffer)))) = raw::get::<Drainer>(l, ffi::lua_upvalueindex(1)).map(|p| &mut *p) {
        *buffer = batch;
    }
    ffi::lua_pushinteger(l, n as ffi::lua_Integer);
    1
}

/// Seconds since the first call, on a monotonic clock.
unsafe extern "C-unwind" fn monotime(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    ffi::lua_pushnumber(l, EPOCH.get_or_init(std::time::Instant::now).elapsed().as_secs_f64());
    1
}

fn open_token_type(lua: &Lua, core: &Table) -> mlua::Result<()> {
    let m = lua.create_table()?;
    m.set("id", method(lua, "id", |_, t: &mut Token, ()| Ok(t.id()))?)?;
    m.set("done", method(lua, "done", |_, t: &mut Token, ()| Ok(t.done()))?)?;
    m.set("result", method(lua, "result", |lua, t: &mut Token, ()| t.result(lua))?)?;
    m.set(
        "pollfd",
        method(lua, "pollfd", |_, t: &mut Token, ()| {
            t.pollfd().map_err(|e| mlua::Error::RuntimeError(e.to_string()))
        })?,
    )?;
    // events and timeout (constants) are added by wait.lua, in Lua
    register_type::<Token>(lua, &m, |_| {})?;
    core.set("token_methods", m)
}

/// Install the bridge in this Lua state and return its table (merged into `http.core`).
pub fn open(lua: &Lua, core: &Table) -> mlua::Result<()> {
    quiet_panics();
    if lua.app_data_ref::<Bridge>().is_none() {
        let completions = Completions::new()
            .map_err(|e| mlua::Error::RuntimeError(format!("eventfd: {e}")))?;
        lua.set_app_data(Bridge {
            rt: std::cell::OnceCell::new(),
            completions: Arc::new(completions),
            next_id: Cell::new(1),
        });
    }
    open_token_type(lua, core)?;

    // drain(tbl, timeout): sleep until some operation finished (or timeout), then put the
    // finished token ids into tbl[1..n] and return n. (A plain C function: the scheduler calls
    // it once per step.)
    let mt = lua.create_table()?;
    mt.set("__gc", raw::closure(lua, &mt, raw::gc::<Drainer>, None)?)?;
    let state = Drainer(Some((bridge(lua).completions.clone(), Vec::new())));
    let drain_fn = unsafe {
        lua.exec_raw::<mlua::Function>(&mt, |l| {
            raw::push(l, -1, state);
            ffi::lua_pushcclosure(l, drain, 1);
            ffi::lua_replace(l, -2);
        })
    }?;
    core.set("drain", drain_fn)?;
    // (a plain C function: http.request reads the clock several times per request)
    core.set("monotime", unsafe { lua.create_c_function(monotime)? })?;
    core.set("pollfd", function(lua, "pollfd", |lua, ()| Ok(bridge(lua).completions.pollfd()))?)?;
    // pending(): how many completions wait to be drained
    core.set("pending", function(lua, "pending", |lua, ()| Ok(bridge(lua).completions.len()))?)?;
    // timer(seconds, timeout): the simplest operation: true after `seconds`.
    core.set(
        "timer",
        function(lua, "timer", |lua, (secs, timeout): (f64, Option<f64>)| {
            let d = Duration::from_secs_f64(secs.max(0.0));
            start(lua, timeout_arg(timeout), async move {
                tokio::time::sleep(d).await;
                ok(true)
            })
        })?,
    )?;
    lua.load(include_str!("wait.lua")).set_name("=http.core.wait").call::<()>(core.clone())?;
    Ok(())
}
