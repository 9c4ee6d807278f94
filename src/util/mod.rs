//! http.util: URI escaping, query strings, relative paths, IP and authority syntax, HTTP dates
//! and quoting. All string functions work on bytes; a result equal to the argument is the
//! argument itself (no new Lua string).

pub(crate) mod authority;
mod date;
mod ip;
mod path;
mod uri;

pub use uri::decode_component;

use crate::runtime::{error, function};
use mlua::{Function, Lua, LuaString, Table, Value};
use std::borrow::Cow;
use std::cell::Cell;
use uri::Unreserved;

/// `orig` if `new` borrows from it unchanged, else a new Lua string.
fn same_or_new(lua: &Lua, orig: &LuaString, new: Cow<[u8]>) -> mlua::Result<LuaString> {
    match new {
        Cow::Borrowed(_) => Ok(orig.clone()),
        Cow::Owned(v) => lua.create_string(v),
    }
}

fn encoder(
    lua: &Lua,
    t: &Table,
    name: &'static str,
    keep: &'static Unreserved,
) -> mlua::Result<()> {
    let f = function(lua, name, move |lua, s: LuaString| {
        same_or_new(lua, &s, uri::encode(&s.as_bytes(), keep))
    })?;
    t.set(name, f)
}

fn decoder(
    lua: &Lua,
    t: &Table,
    name: &'static str,
    decode: fn(&[u8]) -> Cow<[u8]>,
) -> mlua::Result<()> {
    let f = function(lua, name, move |lua, s: LuaString| {
        same_or_new(lua, &s, decode(&s.as_bytes()))
    })?;
    t.set(name, f)
}

/// The iterator over `s`'s pairs: a Rust closure holding the string and the position.
fn query_args(lua: &Lua, s: LuaString) -> mlua::Result<Function> {
    let pos = Cell::new(0);
    function(lua, "query_args", move |lua, ()| {
        let bytes = s.as_bytes();
        let Some((name, value, next)) = uri::next_pair(&bytes, pos.get()) else {
            pos.set(bytes.len());
            return Ok((Value::Nil, Value::Nil));
        };
        pos.set(next);
        let name = Value::String(lua.create_string(uri::decode_component(name))?);
        let value = match value {
            Some(v) => Value::String(lua.create_string(uri::decode_component(v))?),
            None => Value::Nil,
        };
        Ok((name, value))
    })
}

/// "k=v&..." with both sides escaped, keys in byte order (lua-http's order is `pairs` order).
fn dict_to_query(lua: &Lua, dict: Table) -> mlua::Result<LuaString> {
    let mut pairs = Vec::new();
    for kv in dict.pairs::<Value, Value>() {
        let (k, v) = kv?;
        let (kt, vt) = (k.type_name(), v.type_name());
        match (lua.coerce_string(k)?, lua.coerce_string(v)?) {
            (Some(k), Some(v)) => pairs.push((k.as_bytes(), v.as_bytes())),
            _ => {
                return error(format!(
                "bad argument #1 to 'dict_to_query' (string keys and values expected, got {} = {})",
                kt, vt
            ))
            }
        }
    }
    pairs.sort_unstable_by(|a, b| a.0[..].cmp(&b.0[..]));
    let mut out = Vec::new();
    for (k, v) in &pairs {
        if !out.is_empty() {
            out.push(b'&');
        }
        uri::encode_into(&mut out, k, &uri::COMPONENT);
        out.push(b'=');
        uri::encode_into(&mut out, v, &uri::COMPONENT);
    }
    lua.create_string(out)
}

/// A Lua number that must be a whole number (ports).
fn whole_number(lua: &Lua, v: Value, arg: usize, name: &str) -> mlua::Result<i64> {
    let ty = v.type_name();
    let n = match v {
        Value::Integer(i) => return Ok(i),
        v => lua.coerce_number(v)?,
    };
    match n {
        Some(n) if n.fract() == 0.0 && n.abs() < 9.0e18 => Ok(n as i64),
        Some(_) => error(format!(
            "bad argument #{arg} to '{name}' (number has no integer representation)"
        )),
        None => error(format!(
            "bad argument #{arg} to '{name}' (number expected, got {ty})"
        )),
    }
}

fn split_authority(
    lua: &Lua,
    ports: &Table,
    (a, scheme): (LuaString, Value),
) -> mlua::Result<(Value, Value)> {
    let bytes = a.as_bytes();
    let (host, port) = match authority::split(&bytes) {
        Ok(hp) => hp,
        Err(msg) => return Ok((Value::Nil, Value::String(lua.create_string(msg)?))),
    };
    let port = match port {
        Some(p) => Value::Integer(p.into()),
        None => match ports.get::<Value>(scheme)? {
            Value::Nil => {
                return Ok((
                    Value::Nil,
                    Value::String(lua.create_string("unknown scheme")?),
                ))
            }
            p => p,
        },
    };
    let host = if host.len() == bytes.len() {
        a.clone()
    } else {
        lua.create_string(host)?
    };
    Ok((Value::String(host), port))
}

fn to_authority(
    lua: &Lua,
    ports: &Table,
    (host, port, scheme): (LuaString, Value, Value),
) -> mlua::Result<LuaString> {
    let port = match port {
        Value::Nil => None,
        p => Some(whole_number(lua, p, 2, "to_authority")?),
    };
    let default = lua.coerce_integer(ports.get::<Value>(scheme)?)?;
    let h = host.as_bytes();
    let bracket = ip::is_ipv6(&h);
    let port = port.filter(|&p| Some(p) != default);
    if !bracket && port.is_none() {
        return Ok(host.clone());
    }
    let mut out = Vec::with_capacity(h.len() + 8);
    if bracket {
        out.push(b'[');
    }
    out.extend_from_slice(&h);
    if bracket {
        out.push(b']');
    }
    if let Some(p) = port {
        out.extend_from_slice(format!(":{p}").as_bytes());
    }
    lua.create_string(out)
}

fn imf_date(lua: &Lua, time: Option<f64>) -> mlua::Result<LuaString> {
    let secs = match time {
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
        Some(t) if t.is_finite() && t.abs() < date::MAX_SECS => t.floor() as i64,
        Some(_) => return error("bad argument #1 to 'imf_date' (time out of range)"),
    };
    lua.create_string(date::imf_date(secs))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A token as it is; else a quoted-string if every byte may appear in one; else nil.
fn maybe_quote(lua: &Lua, s: LuaString) -> mlua::Result<Value> {
    let b = s.as_bytes();
    if !b.is_empty() && b.iter().all(|&c| is_tchar(c)) {
        return Ok(Value::String(s.clone()));
    }
    if b.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
        return Ok(Value::Nil);
    }
    let mut out = Vec::with_capacity(b.len() + 4);
    out.push(b'"');
    for &c in b.iter() {
        if c == b'"' || c == b'\\' {
            out.push(b'\\');
        }
        out.push(c);
    }
    out.push(b'"');
    Ok(Value::String(lua.create_string(out)?))
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    encoder(lua, &t, "encodeURI", &uri::URI)?;
    encoder(lua, &t, "encodeURIComponent", &uri::COMPONENT)?;
    decoder(lua, &t, "decodeURI", uri::decode_uri)?;
    decoder(lua, &t, "decodeURIComponent", uri::decode_component)?;
    t.set("query_args", function(lua, "query_args", query_args)?)?;
    t.set(
        "dict_to_query",
        function(lua, "dict_to_query", dict_to_query)?,
    )?;
    t.set(
        "resolve_relative_path",
        function(
            lua,
            "resolve_relative_path",
            |lua, (base, rel): (LuaString, LuaString)| {
                lua.create_string(path::resolve(&base.as_bytes(), &rel.as_bytes()))
            },
        )?,
    )?;
    t.set(
        "is_safe_method",
        function(lua, "is_safe_method", |_, m: Value| {
            Ok(matches!(&m, Value::String(s) if matches!(&s.as_bytes()[..], b"GET" | b"HEAD" | b"OPTIONS" | b"TRACE")))
        })?,
    )?;
    t.set(
        "is_ip",
        function(lua, "is_ip", |_, s: LuaString| Ok(ip::is_ip(&s.as_bytes())))?,
    )?;

    // split_authority and to_authority read the live table, so schemes a program adds count.
    let ports = lua.create_table()?;
    for (scheme, port) in [("http", 80), ("ws", 80), ("https", 443), ("wss", 443)] {
        ports.set(scheme, port)?;
    }
    t.set("scheme_to_port", ports.clone())?;
    let p = ports.clone();
    t.set(
        "split_authority",
        function(lua, "split_authority", move |lua, args| {
            split_authority(lua, &p, args)
        })?,
    )?;
    t.set(
        "to_authority",
        function(lua, "to_authority", move |lua, args| {
            to_authority(lua, &ports, args)
        })?,
    )?;
    t.set("imf_date", function(lua, "imf_date", imf_date)?)?;
    t.set("maybe_quote", function(lua, "maybe_quote", maybe_quote)?)?;
    Ok(t)
}
