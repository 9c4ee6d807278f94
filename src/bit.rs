//! http.bit: band/bor/bxor on 32-bit unsigned values, like Lua 5.2's bit32 (arguments are
//! taken modulo 2^32, results are 0..0xffffffff on every Lua version).
use crate::runtime::{error, function};
use mlua::{Lua, Table, Value};

const MODULUS: f64 = 4_294_967_296.0;

fn word(lua: &Lua, v: Value, arg: usize, name: &str) -> mlua::Result<u32> {
    let ty = v.type_name();
    let n = match v {
        Value::Integer(i) => return Ok(i as u32),
        v => lua.coerce_number(v)?,
    };
    match n {
        Some(n) if n.fract() == 0.0 => Ok(n.rem_euclid(MODULUS) as u32),
        Some(_) => error(format!(
            "bad argument #{arg} to '{name}' (number has no integer representation)"
        )),
        None => error(format!(
            "bad argument #{arg} to '{name}' (number expected, got {ty})"
        )),
    }
}

fn op(lua: &Lua, t: &Table, name: &'static str, f: fn(u32, u32) -> u32) -> mlua::Result<()> {
    let g = function(lua, name, move |lua, (a, b): (Value, Value)| {
        Ok(f(word(lua, a, 1, name)?, word(lua, b, 2, name)?))
    })?;
    t.set(name, g)
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    op(lua, &t, "band", |a, b| a & b)?;
    op(lua, &t, "bor", |a, b| a | b)?;
    op(lua, &t, "bxor", |a, b| a ^ b)?;
    Ok(t)
}
