//! Tokens: the Lua-side handle of an operation running on the I/O runtime.
//!
//! A finished operation leaves an `Outcome` (turned into Lua values on the Lua thread) and
//! signals completion on the state's shared completion queue (our scheduler and blocking waits
//! drain it in batches) and, once the token was handed to cqueues, on the token's own eventfd.

use super::eventfd::EventFd;
use mlua::{IntoLuaMulti, Lua, MultiValue};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Turns an operation's result into Lua values, on the Lua thread.
pub type Outcome = Box<dyn FnOnce(&Lua) -> mlua::Result<MultiValue> + Send>;

/// A successful outcome.
pub fn ok<T: IntoLuaMulti + Send + 'static>(v: T) -> Outcome {
    Box::new(move |lua| v.into_lua_multi(lua))
}

/// lua-http's `nil, message, errno`.
pub fn fail(errno: i32) -> Outcome {
    fail_msg(super::strerror(errno), errno)
}

pub fn fail_msg(msg: impl Into<String>, errno: i32) -> Outcome {
    let msg = msg.into();
    Box::new(move |lua| (mlua::Value::Nil, msg, errno).into_lua_multi(lua))
}

/// Completed token ids, in completion order. The Lua thread sleeps on one eventfd until the
/// queue goes non-empty; an empty -> non-empty transition signals it when the Lua thread sleeps
/// there, or always once the fd was handed out (`pollfd`: cqueues, a foreign loop).
///
/// Until it is handed out the eventfd is blocking: an untimed sleep is one `read`, which also
/// resets it. Afterwards it is non-blocking, polled, and reset by `take`.
pub struct Completions {
    queue: Mutex<Vec<u64>>,
    efd: EventFd,
    polled: AtomicBool,
    /// The Lua thread is in `wait`.
    sleeping: AtomicBool,
}

impl Completions {
    pub fn new() -> std::io::Result<Self> {
        Ok(Completions {
            queue: Mutex::new(Vec::new()),
            efd: EventFd::blocking()?,
            polled: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
        })
    }

    pub fn push(&self, id: u64) {
        let was_empty = {
            let mut q = self.queue.lock().unwrap();
            let e = q.is_empty();
            q.push(id);
            e
        };
        // (SeqCst, with `wait`'s: either it sees our id or we see it sleeping)
        if was_empty && (self.sleeping.load(Ordering::SeqCst) || self.polled.load(Ordering::SeqCst)) {
            self.efd.signal();
        }
    }

    /// The eventfd, readable while completions wait.
    pub fn pollfd(&self) -> i32 {
        if !self.polled.load(Ordering::SeqCst) {
            self.efd.set_nonblocking();
            self.polled.store(true, Ordering::SeqCst);
        }
        self.efd.raw()
    }

    /// Sleep until the queue is not empty or `timeout` (seconds; None = forever) passes. It
    /// may return early (a signal left from an earlier round).
    pub fn wait(&self, timeout: Option<f64>) {
        self.sleeping.store(true, Ordering::SeqCst);
        if self.is_empty() {
            if self.polled.load(Ordering::SeqCst) {
                self.efd.wait(timeout);
            } else if timeout.is_none() {
                self.efd.read_blocking();
            } else if self.efd.wait(timeout) {
                // (readable, and this thread is its only reader: the read does not block)
                self.efd.read_blocking();
            }
        }
        self.sleeping.store(false, Ordering::SeqCst);
    }

    /// Take every completed id. Once polled, the eventfd is reset before the queue is taken,
    /// so a push that races with us either lands in this batch or signals again.
    pub fn take(&self, out: &mut Vec<u64>) {
        if self.polled.load(Ordering::SeqCst) {
            self.efd.reset();
        }
        let mut q = self.queue.lock().unwrap();
        std::mem::swap(&mut *q, out);
    }

    pub fn is_empty(&self) -> bool {
        self.queue.lock().unwrap().is_empty()
    }

    pub fn len(&self) -> usize {
        self.queue.lock().unwrap().len()
    }
}

enum State {
    Pending,
    Done(Outcome),
    Taken,
}

struct Inner {
    id: u64,
    state: Mutex<(State, Option<EventFd>)>,
    completions: Arc<Completions>,
}

/// The Lua-visible half. Dropping it does not cancel the operation.
pub struct Token(Arc<Inner>);

/// The runtime half. Dropped without `complete` (a panic, a cancelled task), it completes the
/// token with an error so no waiter hangs.
pub struct Completer(Option<Arc<Inner>>);

pub fn pair(id: u64, completions: Arc<Completions>) -> (Token, Completer) {
    let inner = Arc::new(Inner { id, state: Mutex::new((State::Pending, None)), completions });
    (Token(inner.clone()), Completer(Some(inner)))
}

impl Completer {
    pub fn complete(mut self, outcome: Outcome) {
        if let Some(inner) = self.0.take() {
            finish(&inner, outcome);
        }
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if let Some(inner) = self.0.take() {
            finish(&inner, fail_msg("operation aborted", libc::ECANCELED));
        }
    }
}

fn finish(inner: &Inner, outcome: Outcome) {
    {
        let mut st = inner.state.lock().unwrap();
        st.0 = State::Done(outcome);
        if let Some(fd) = &st.1 {
            fd.signal();
        }
    }
    // Always queued too: a token handed to cqueues may still be waited for by a blocking wait.
    inner.completions.push(inner.id);
}

impl Token {
    pub fn id(&self) -> u64 {
        self.0.id
    }

    pub fn done(&self) -> bool {
        !matches!(self.0.state.lock().unwrap().0, State::Pending)
    }

    /// The outcome's Lua values; only once.
    pub fn result(&self, lua: &Lua) -> mlua::Result<MultiValue> {
        let outcome = {
            let mut st = self.0.state.lock().unwrap();
            match std::mem::replace(&mut st.0, State::Taken) {
                State::Done(o) => {
                    if let Some(fd) = st.1.take() {
                        super::eventfd::release(fd);
                    }
                    o
                }
                State::Pending => {
                    st.0 = State::Pending;
                    return super::errors::error("operation still in progress");
                }
                State::Taken => return super::errors::error("result already taken"),
            }
        };
        outcome(lua)
    }

    /// The eventfd cqueues should poll; signalled at once if the operation already finished.
    pub fn pollfd(&self) -> std::io::Result<i32> {
        let mut st = self.0.state.lock().unwrap();
        if let Some(fd) = &st.1 {
            return Ok(fd.raw());
        }
        let fd = super::eventfd::acquire()?;
        if !matches!(st.0, State::Pending) {
            fd.signal();
        }
        let raw = fd.raw();
        st.1 = Some(fd);
        Ok(raw)
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        if let Ok(mut st) = self.0.state.lock() {
            if let Some(fd) = st.1.take() {
                super::eventfd::release(fd);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_from_many_threads_all_arrive() {
        let c = Arc::new(Completions::new().unwrap());
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || (0..1000).for_each(|i| c.push(t * 1000 + i)))
            })
            .collect();
        let mut seen = Vec::new();
        let mut batch = Vec::new();
        while seen.len() < 4000 {
            c.wait(Some(5.0));
            c.take(&mut batch);
            seen.append(&mut batch);
        }
        threads.into_iter().for_each(|t| t.join().unwrap());
        seen.sort();
        assert_eq!(seen, (0..4000).collect::<Vec<_>>());
    }

    #[test]
    fn dropped_completer_fails_the_token() {
        let c = Arc::new(Completions::new().unwrap());
        let (token, completer) = pair(7, c.clone());
        assert!(!token.done());
        drop(completer);
        assert!(token.done());
        let mut batch = Vec::new();
        c.take(&mut batch);
        assert_eq!(batch, vec![7]);
    }
}
