//! http.client's core: connections to servers (`connect`, `negotiate`), their streams (the
//! stream interface, client side, in src/stream_common.rs), and the pool of kept-alive
//! connections that `http.request` reuses (`pooled`).

mod connect;
mod request;

pub use request::{exchange, parts};

use crate::connection_common::Conn;
use crate::runtime::{self, method, Outcome};
use crate::socket::Socket;
use crate::stream_common::{Head, OutBody, Stream};
use bytes::Bytes;
use mlua::{Lua, MultiValue, Table, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Where requests go: hyper's HTTP/1 connection (one exchange at a time) or an h2 connection.
pub enum Sender {
    H1(tokio::sync::Mutex<hyper::client::conn::http1::SendRequest<OutBody>>),
    H2(h2::client::SendRequest<Bytes>),
}

/// A client connection, shared by its streams (and the pool).
pub struct Shared {
    pub conn: Arc<Conn>,
    sender: Sender,
    /// The connection's task ended: no more requests.
    closed: AtomicBool,
    /// HTTP/1 in the pool: handed to a stream whose response is not read to its end yet.
    busy: AtomicBool,
}

impl Shared {
    fn new(conn: Arc<Conn>, sender: Sender) -> Arc<Shared> {
        Arc::new(Shared { conn, sender, closed: AtomicBool::new(false), busy: AtomicBool::new(false) })
    }

    pub fn set_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Take the connection for a new exchange: HTTP/2 connections are shared, HTTP/1 ones
    /// carry one exchange at a time.
    pub fn claim(&self) -> bool {
        !self.is_closed() && (matches!(self.sender, Sender::H2(_)) || !self.busy.swap(true, Ordering::AcqRel))
    }

    /// The exchange finished (its response was read to the end).
    pub fn release(&self) {
        self.busy.store(false, Ordering::Release);
    }
}

/// Kept-alive connections by their options' key (scheme, host, port, TLS settings ...).
#[derive(Default)]
pub struct Pool(Mutex<HashMap<String, Vec<Arc<Shared>>>>);

impl Pool {
    fn take(&self, key: &str) -> Option<Arc<Shared>> {
        let mut map = self.0.lock().unwrap();
        let list = map.get_mut(key)?;
        list.retain(|s| !s.is_closed());
        list.iter().find(|s| s.claim()).cloned()
    }

    pub fn insert(&self, key: &str, s: Arc<Shared>) {
        self.0.lock().unwrap().entry(key.to_string()).or_default().push(s);
    }
}

/// A pooled stream may send its request again on a fresh connection, once, when the kept-alive
/// connection it was given turns out closed before answering (idempotent requests without a
/// body only).
pub struct Retry {
    pub pool: Arc<Pool>,
    pub options: Arc<connect::Options>,
    pub reused: bool,
}

/// What a client stream needs until it sends its request.
pub struct ClientHead {
    pub shared: Arc<Shared>,
    pub retry: Option<Retry>,
}

/// The Lua object behind a client connection.
pub struct Connection(Arc<Shared>);

fn pool(lua: &Lua) -> Arc<Pool> {
    lua.app_data_ref::<Arc<Pool>>().map(|p| p.clone()).unwrap_or_default()
}

fn push_connection(lua: &Lua, shared: Arc<Shared>) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![Value::UserData(lua.create_any_userdata(Connection(shared))?)]))
}

fn new_stream(lua: &Lua, shared: Arc<Shared>, retry: Option<Retry>) -> mlua::Result<Value> {
    let conn = shared.conn.clone();
    Ok(Value::UserData(lua.create_any_userdata(Stream::client(conn, Head::Client(ClientHead { shared, retry })))?))
}

/// A stream on a pooled connection, that connection's id, and the Lua side's wrapper for it
/// when `known` (id -> wrapper) has one, else the connection's object.
fn push_pooled(lua: &Lua, shared: Arc<Shared>, retry: Retry, known: Option<&Table>) -> mlua::Result<MultiValue> {
    let stream = new_stream(lua, shared.clone(), Some(retry))?;
    let id = shared.conn.id;
    let conn = match known.map(|t| t.raw_get::<Value>(id)).transpose()? {
        Some(wrapper @ Value::Table(_)) => wrapper,
        _ => Value::UserData(lua.create_any_userdata(Connection(shared))?),
    };
    Ok(MultiValue::from_vec(vec![stream, Value::Integer(id as i64), conn]))
}

/// Options parsed once for `pooled` (see `pool_options`).
struct PoolOptions(Arc<connect::Options>);

/// `pooled`'s options: a table, or what `pool_options` made of one.
fn pool_options_arg(lua: &Lua, v: &Value) -> mlua::Result<Arc<connect::Options>> {
    match v {
        Value::Table(t) => Ok(Arc::new(connect::options(lua, t, false)?)),
        Value::UserData(ud) => Ok(ud.borrow::<PoolOptions>()?.0.clone()),
        _ => runtime::error("http.client.pooled: options table expected"),
    }
}

fn connected(result: Result<Arc<Shared>, crate::stream_common::Failure>) -> Outcome {
    match result {
        Ok(shared) => Box::new(move |lua: &Lua| push_connection(lua, shared)),
        Err(f) => f.outcome(),
    }
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    use runtime::function;
    lua.set_app_data(Arc::new(Pool::default()));
    let t = lua.create_table()?;
    t.set(
        "connect",
        function(lua, "connect", |lua, (opts, timeout): (Table, Option<f64>)| {
            let o = connect::options(lua, &opts, false)?;
            runtime::start(lua, runtime::timeout_arg(timeout), async move { connected(connect::connect(&o).await) })
        })?,
    )?;
    t.set(
        "negotiate",
        function(lua, "negotiate", |lua, (socket, opts, timeout): (Value, Table, Option<f64>)| {
            let o = connect::options(lua, &opts, true)?;
            let socket = match Socket::take_arg(lua, &socket, "negotiate")? {
                Ok(s) => s,
                Err(f) => return f.outcome()(lua),
            };
            runtime::start(lua, runtime::timeout_arg(timeout), async move {
                connected(connect::negotiate(socket, &o).await)
            })
        })?,
    )?;
    t.set(
        "pooled",
        function(lua, "pooled", |lua, (opts, timeout, known): (Value, Option<f64>, Option<Table>)| {
            let o = pool_options_arg(lua, &opts)?;
            let pool = pool(lua);
            if let Some(shared) = pool.take(&o.key) {
                return push_pooled(lua, shared, Retry { pool, options: o, reused: true }, known.as_ref());
            }
            runtime::start(lua, runtime::timeout_arg(timeout), async move {
                match connect::connect(&o).await {
                    Ok(shared) => {
                        shared.claim();
                        pool.insert(&o.key, shared.clone());
                        let outcome: Outcome =
                            Box::new(move |lua: &Lua| push_pooled(lua, shared, Retry { pool, options: o, reused: false }, None));
                        outcome
                    }
                    Err(f) => runtime::fail_msg(f.msg, f.errno),
                }
            })
        })?,
    )?;
    // pool_options(options): the options table parsed once, for many `pooled` calls (the
    // table's later changes are not seen).
    t.set(
        "pool_options",
        function(lua, "pool_options", |lua, opts: Table| {
            lua.create_any_userdata(PoolOptions(Arc::new(connect::options(lua, &opts, false)?)))
        })?,
    )?;
    runtime::register_type::<PoolOptions>(lua, &lua.create_table()?, |_| {})?;
    let m = lua.create_table()?;
    m.set("new_stream", method(lua, "new_stream", |lua, c: &mut Connection, ()| new_stream(lua, c.0.clone(), None))?)?;
    m.set(
        "version",
        method(lua, "version", |_, c: &mut Connection, ()| {
            Ok(c.0.conn.lua_version())
        })?,
    )?;
    m.set("id", method(lua, "id", |_, c: &mut Connection, ()| Ok(c.0.conn.id))?)?;
    m.set("localname", method(lua, "localname", |lua, c: &mut Connection, ()| c.0.conn.local.push(lua))?)?;
    m.set("peername", method(lua, "peername", |lua, c: &mut Connection, ()| c.0.conn.peer.push(lua))?)?;
    m.set("checktls", method(lua, "checktls", |lua, c: &mut Connection, ()| c.0.conn.checktls(lua))?)?;
    m.set("closed", method(lua, "closed", |_, c: &mut Connection, ()| Ok(c.0.is_closed()))?)?;
    m.set(
        "close",
        method(lua, "close", |_, c: &mut Connection, ()| {
            c.0.set_closed();
            c.0.conn.close();
            Ok(true)
        })?,
    )?;
    runtime::register_type::<Connection>(lua, &m, |_| {})?;
    t.set("connection", m)?;
    Ok(t)
}
