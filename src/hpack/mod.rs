//! http.hpack: lua-http's HPACK context object over a pure Rust codec (context.rs and below).
//! Headers come from and go into http.headers objects through their Lua API (`each`,
//! `append`). As in lua-http, decode_headers returns `nil, err` (an http.h2_error
//! COMPRESSION_ERROR) for malformed input, and stops before a representation that is cut
//! short, returning the position where it stopped.
mod codec;
mod context;
mod huffman;
mod table;

use crate::runtime::{error, function, method, method_ud, register_type};
use context::{Context, Field};
use mlua::{AnyUserData, Function, IntoLuaMulti, Lua, MetaMethod, MultiValue, ObjectLike, Table, UserDataMethods, Value};

fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Nil | Value::Boolean(false))
}

fn size_arg(n: i64) -> mlua::Result<usize> {
    usize::try_from(n).or_else(|_| error("table size must not be negative"))
}

/// `v[key]` for the tables and userdata that stand for header lists.
fn index(v: &Value, key: &str) -> mlua::Result<Value> {
    match v {
        Value::Table(t) => t.get(key),
        Value::UserData(u) => u.get(key),
        other => error(format!("headers object expected, got {}", other.type_name())),
    }
}

fn index_fn(v: &Value, key: &str) -> mlua::Result<Function> {
    match index(v, key)? {
        Value::Function(f) => Ok(f),
        _ => error(format!("headers object has no method '{key}'")),
    }
}

/// Decode header representations from `payload` (1-based `pos`) into `list` with its append.
fn decode(lua: &Lua, c: &mut Context, payload: &[u8], list: Value, pos: i64) -> mlua::Result<MultiValue> {
    let append = index_fn(&list, "append")?;
    let mut pos = usize::try_from(pos - 1).or_else(|_| error("bad argument #3 to 'decode_headers' (position out of range)"))?;
    let mut at_start = true;
    loop {
        match c.decode_field(payload, pos, at_start) {
            Ok(None) => break,
            Ok(Some((field, next))) => {
                pos = next;
                if let Field::Header { name, value, never_index } = field {
                    at_start = false;
                    append.call::<()>((&list, lua.create_string(&name)?, lua.create_string(&value)?, never_index))?;
                }
            }
            Err(msg) => return (Value::Nil, crate::h2_error::create(lua, "COMPRESSION_ERROR", &msg)?).into_lua_multi(lua),
        }
    }
    (list, pos as i64 + 1).into_lua_multi(lua)
}

/// Encode every header of an http.headers object (via its `each` iterator).
fn encode(c: &mut Context, headers: &Value) -> mlua::Result<()> {
    let (iter, state, mut control): (Function, Value, Value) = index_fn(headers, "each")?.call(headers)?;
    loop {
        let (name, value, never): (Option<Str>, Option<Str>, Value) = iter.call((&state, control))?;
        let Some(name) = name else { return Ok(()) };
        let Some(value) = value else { return error("header value expected, got nil") };
        if truthy(&never) {
            c.add_header_never_indexed(&name.as_bytes(), &value.as_bytes(), false);
        } else {
            c.add_header_indexed(&name.as_bytes(), &value.as_bytes(), false);
        }
        control = Value::String(name);
    }
}

/// lua-http's dump, laid out like RFC 7541 Appendix C: newest entry first, long entries
/// continued on indented lines after a backslash, then the total size.
fn table_tostring(c: &Context) -> Vec<u8> {
    const INDENT: &[u8] = b"                 ";
    let mut s = Vec::new();
    for (i, e) in c.tables.dynamic.iter().enumerate() {
        s.extend_from_slice(format!("[{:3}] (s = {:3}) ", i + 1, e.size()).as_bytes());
        let line = [e.name(), b": ", e.value()].concat();
        let mut rest = &line[..];
        let mut width = 52;
        while rest.len() >= width {
            s.extend_from_slice(&rest[..width]);
            s.extend_from_slice(b"\\\n");
            s.extend_from_slice(INDENT);
            rest = &rest[width..];
            width = 68;
        }
        s.extend_from_slice(rest);
        s.push(b'\n');
    }
    s.extend_from_slice(format!("      Table size: {:3}", c.tables.dynamic.size()).as_bytes());
    s
}

type Str = mlua::LuaString;

fn methods(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set("append_data", method_ud(lua, "append_data", |_, ud: &AnyUserData, c: &mut Context, val: Str| {
        c.data.extend_from_slice(&val.as_bytes());
        Ok(ud.clone())
    })?)?;
    m.set("render_data", method(lua, "render_data", |lua, c: &mut Context, ()| lua.create_string(&c.data))?)?;
    m.set("clear_data", method(lua, "clear_data", |_, c: &mut Context, ()| {
        c.data.clear();
        Ok(true)
    })?)?;
    m.set("evict_from_dynamic_table", method(lua, "evict_from_dynamic_table", |_, c: &mut Context, ()| {
        Ok(c.tables.dynamic.evict())
    })?)?;
    m.set("dynamic_table_tostring", method(lua, "dynamic_table_tostring", |lua, c: &mut Context, ()| {
        lua.create_string(table_tostring(c))
    })?)?;
    m.set("set_max_dynamic_table_size", method(lua, "set_max_dynamic_table_size", |_, c: &mut Context, n: i64| {
        c.limit = size_arg(n)?;
        Ok(true)
    })?)?;
    m.set("encode_max_size", method(lua, "encode_max_size", |_, c: &mut Context, n: i64| {
        c.encode_max_size(size_arg(n)?);
        Ok(true)
    })?)?;
    m.set("resize_dynamic_table", method(lua, "resize_dynamic_table", |lua, c: &mut Context, n: i64| {
        match c.resize(size_arg(n)?) {
            Ok(()) => true.into_lua_multi(lua),
            Err(msg) => (Value::Nil, crate::h2_error::create(lua, "COMPRESSION_ERROR", msg)?).into_lua_multi(lua),
        }
    })?)?;
    // `k` (the pair's compound key) is accepted for lua-http's signature; it is derived from
    // name and value anyway.
    m.set("add_to_dynamic_table", method(lua, "add_to_dynamic_table", |_, c: &mut Context, (name, value, _k): (Str, Str, Value)| {
        c.tables.dynamic.add(&name.as_bytes(), &value.as_bytes());
        Ok(true)
    })?)?;
    let id_to_index = method(lua, "dynamic_table_id_to_index", |_, c: &mut Context, id: i64| {
        Ok(c.tables.dynamic.id_to_index(id))
    })?;
    m.set("dynamic_table_id_to_index", &id_to_index)?;
    // lua-http has the same mapping under this name too (it is its own inverse).
    m.set("dynamic_index_to_table_id", id_to_index)?;
    m.set("lookup_pair_index", method(lua, "lookup_pair_index", |_, c: &mut Context, k: Str| {
        let k = k.as_bytes();
        Ok(table::split_key(&k).and_then(|(name, value)| c.tables.find_pair(name, value)))
    })?)?;
    m.set("lookup_name_index", method(lua, "lookup_name_index", |_, c: &mut Context, name: Str| {
        Ok(c.tables.find_name(&name.as_bytes()))
    })?)?;
    m.set("lookup_index", method(lua, "lookup_index", |lua, c: &mut Context, index: i64| {
        match usize::try_from(index).ok().and_then(|i| c.tables.get(i)) {
            Some((name, value)) => (lua.create_string(name)?, lua.create_string(value)?).into_lua_multi(lua),
            None => Ok(MultiValue::new()),
        }
    })?)?;
    m.set("add_header_indexed", method_ud(lua, "add_header_indexed", |_, ud: &AnyUserData, c: &mut Context, (name, value, huffman): (Str, Str, Value)| {
        c.add_header_indexed(&name.as_bytes(), &value.as_bytes(), truthy(&huffman));
        Ok(ud.clone())
    })?)?;
    m.set("add_header_never_indexed", method_ud(lua, "add_header_never_indexed", |_, ud: &AnyUserData, c: &mut Context, (name, value, huffman): (Str, Str, Value)| {
        c.add_header_never_indexed(&name.as_bytes(), &value.as_bytes(), truthy(&huffman));
        Ok(ud.clone())
    })?)?;
    m.set("encode_headers", method(lua, "encode_headers", |_, c: &mut Context, headers: Value| {
        encode(c, &headers)?;
        Ok(true)
    })?)?;
    m.set("decode_headers", method(lua, "decode_headers", |lua, c: &mut Context, (payload, list, pos): (Str, Value, Option<i64>)| {
        let list = match list {
            Value::Nil => {
                let headers: Table = lua.globals().get::<Function>("require")?.call("http.headers")?;
                headers.get::<Function>("new")?.call(())?
            }
            list => list,
        };
        decode(lua, c, &payload.as_bytes(), list, pos.unwrap_or(1))
    })?)?;
    Ok(m)
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    register_type::<Context>(lua, &methods(lua)?, |reg| {
        reg.add_meta_function(MetaMethod::ToString, |_, ud: AnyUserData| {
            Ok(format!("http.hpack: {:p}", ud.to_pointer()))
        });
    })?;
    let t = lua.create_table()?;
    // lua-http's context starts with a 0-byte dynamic table when no size is given.
    t.set("new", function(lua, "new", |lua, size: Option<i64>| {
        lua.create_any_userdata(Context::new(size_arg(size.unwrap_or(0))?))
    })?)?;
    Ok(t)
}
