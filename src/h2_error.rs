//! http.h2_error: HTTP/2 error objects. As in lua-http they are plain Lua tables (fields name,
//! code, description, message, traceback, stream_error) sharing one metatable whose `__index`
//! holds the methods; `errors` holds one such object per RFC 7540 error code.
use crate::runtime::{function, raise};
use mlua::{Lua, MultiValue, Table, Value};

/// RFC 7540 section 7: the error names, in code order, with lua-http's descriptions.
const ERRORS: [(&str, &str); 14] = [
    ("NO_ERROR", "Graceful shutdown"),
    ("PROTOCOL_ERROR", "Protocol error detected"),
    ("INTERNAL_ERROR", "Implementation fault"),
    ("FLOW_CONTROL_ERROR", "Flow control limits exceeded"),
    ("SETTINGS_TIMEOUT", "Settings not acknowledged"),
    ("STREAM_CLOSED", "Frame received for closed stream"),
    ("FRAME_SIZE_ERROR", "Frame size incorrect"),
    ("REFUSED_STREAM", "Stream not processed"),
    ("CANCEL", "Stream cancelled"),
    ("COMPRESSION_ERROR", "Compression state not updated"),
    ("CONNECT_ERROR", "TCP connection error for CONNECT method"),
    ("ENHANCE_YOUR_CALM", "Processing capacity exceeded"),
    ("INADEQUATE_SECURITY", "Negotiated TLS parameters not acceptable"),
    ("HTTP_1_1_REQUIRED", "Use HTTP/1.1 for the request"),
];

/// Registry names under which Rust code (http.hpack) finds the metatable and `errors`.
const MT_KEY: &str = "http.h2_error";
const ERRORS_KEY: &str = "http.h2_error.errors";

/// `parent:new(ob)`: name, code and description default to the parent's; only the documented
/// fields are copied; stream_error defaults to false.
fn new(lua: &Lua, parent: &Table, ob: &Table) -> mlua::Result<Table> {
    let e = lua.create_table_with_capacity(0, 6)?;
    for field in ["name", "code", "description"] {
        let v: Value = ob.get(field)?;
        e.raw_set(field, if truthy(&v) { v } else { parent.get(field)? })?;
    }
    e.raw_set("message", ob.get::<Value>("message")?)?;
    e.raw_set("traceback", ob.get::<Value>("traceback")?)?;
    let se: Value = ob.get("stream_error")?;
    e.raw_set("stream_error", if truthy(&se) { se } else { Value::Boolean(false) })?;
    e.set_metatable(Some(lua.named_registry_value::<Table>(MT_KEY)?))?;
    Ok(e)
}

fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Nil | Value::Boolean(false))
}

/// A child of `parent` with a traceback taken `level` frames up (as `Lua::traceback` counts:
/// inside an exported function 1 is the function itself, 2 its Lua caller).
fn with_traceback(
    lua: &Lua,
    parent: &Table,
    message: Value,
    stream_error: Value,
    level: usize,
) -> mlua::Result<Table> {
    let ob = lua.create_table_with_capacity(0, 3)?;
    ob.raw_set("message", message)?;
    ob.raw_set("stream_error", stream_error)?;
    // lua-http's tracebacks start with a newline: debug.traceback("", level).
    ob.raw_set("traceback", lua.traceback(Some(""), level)?)?;
    new(lua, parent, &ob)
}

fn level(lvl: Option<i64>, base: i64) -> usize {
    lvl.unwrap_or(1).saturating_add(base).max(0) as usize
}

/// A new `errors[name]` error with a traceback from the Lua caller of the running exported
/// function, for Rust modules that report HTTP/2 errors (http.hpack's COMPRESSION_ERROR).
pub fn create(lua: &Lua, name: &str, message: &str) -> mlua::Result<Table> {
    let errors: Table = lua.named_registry_value(ERRORS_KEY)?;
    with_traceback(lua, &errors.get(name)?, Value::String(lua.create_string(message)?), Value::Nil, 2)
}

/// Append what Lua's `tostring(v)` gives, keeping the bytes of strings as they are.
fn push_tostring(lua: &Lua, buf: &mut Vec<u8>, v: Value) -> mlua::Result<()> {
    match lua.coerce_string(v.clone())? {
        Some(s) => buf.extend_from_slice(&s.as_bytes()),
        None => buf.extend_from_slice(v.to_string()?.as_bytes()),
    }
    Ok(())
}

/// lua-http's format: `NAME(0xcode): description[: message][\ntraceback]`.
fn to_string(lua: &Lua, e: &Table) -> mlua::Result<mlua::LuaString> {
    let mut s = Vec::with_capacity(64);
    push_tostring(lua, &mut s, e.get("name")?)?;
    s.extend_from_slice(b"(0x");
    match lua.coerce_integer(e.get("code")?)? {
        Some(c) => s.extend_from_slice(format!("{c:x}").as_bytes()),
        None => push_tostring(lua, &mut s, e.get("code")?)?,
    }
    s.extend_from_slice(b"): ");
    push_tostring(lua, &mut s, e.get("description")?)?;
    let message: Value = e.get("message")?;
    if truthy(&message) {
        s.extend_from_slice(b": ");
        push_tostring(lua, &mut s, message)?;
    }
    let traceback: Value = e.get("traceback")?;
    if truthy(&traceback) {
        s.push(b'\n');
        push_tostring(lua, &mut s, traceback)?;
    }
    lua.create_string(s)
}

type ErrorArgs = (Table, Value, Value, Option<i64>);

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let methods = lua.create_table()?;
    let mt = lua.create_table()?;
    mt.set("__name", MT_KEY)?;
    mt.set("__index", &methods)?;
    mt.set("__tostring", function(lua, "__tostring", |lua, e: Table| to_string(lua, &e))?)?;
    lua.set_named_registry_value(MT_KEY, &mt)?;

    methods.set("new", function(lua, "new", |lua, (p, ob): (Table, Table)| new(lua, &p, &ob))?)?;
    methods.set(
        "new_traceback",
        function(lua, "new_traceback", |lua, (p, msg, se, lvl): ErrorArgs| {
            with_traceback(lua, &p, msg, se, level(lvl, 1))
        })?,
    )?;
    let error = function(lua, "error", |lua, (p, msg, se, lvl): ErrorArgs| -> mlua::Result<()> {
        raise(lua, with_traceback(lua, &p, msg, se, level(lvl, 0))?)
    })?;
    methods.set("error", &error)?;
    mt.set("__call", error)?;
    methods.set(
        "assert",
        function(lua, "assert", |lua, (p, cond, rest): (Table, Value, MultiValue)| {
            if !truthy(&cond) {
                let msg = rest.front().cloned().unwrap_or(Value::Nil);
                return raise(lua, with_traceback(lua, &p, msg, Value::Nil, 1)?);
            }
            let mut all = rest;
            all.push_front(cond);
            Ok(all)
        })?,
    )?;

    let errors = lua.create_table_with_capacity(ERRORS.len(), ERRORS.len())?;
    for (code, (name, description)) in ERRORS.iter().enumerate() {
        let e = lua.create_table_with_capacity(0, 3)?;
        e.raw_set("name", *name)?;
        e.raw_set("code", code)?;
        e.raw_set("description", *description)?;
        e.set_metatable(Some(mt.clone()))?;
        errors.raw_set(*name, &e)?;
        errors.raw_set(code, e)?;
    }
    lua.set_named_registry_value(ERRORS_KEY, &errors)?;

    let m = lua.create_table()?;
    m.set("errors", errors)?;
    m.set(
        "is",
        function(lua, "is", |lua, ob: Value| {
            let mt: Table = lua.named_registry_value(MT_KEY)?;
            Ok(matches!(ob, Value::Table(t) if t.metatable().is_some_and(|m| m == mt)))
        })?,
    )?;
    Ok(m)
}
