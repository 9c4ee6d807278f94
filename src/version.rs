//! http.version: the library's name and the lua-http version it reproduces.
use mlua::{Lua, Table};

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("name", "lua-http")?;
    t.set("version", "0.4")?;
    Ok(t)
}
