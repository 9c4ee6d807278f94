//! Userdata whose block layout is ours, for the few types whose hot methods are plain C
//! functions instead of mlua callbacks (a callback costs 1-2k instructions per call: argument
//! and result conversion, its protected call). http.headers and http.websocket use it.
//!
//! A block holds a `T` (written in place) and carries its type's metatable, which is also in
//! the registry under the type's key. The C functions get that metatable as upvalue 1 and
//! check `self` against it. `gc` leaves `T::default()` behind: a finalizer may still reach the
//! object after its own ran.

use mlua::ffi::{self, lua_State};
use mlua::{AnyUserData, Function, Lua, Table, Value};
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

pub type Raw = unsafe extern "C-unwind" fn(*mut lua_State) -> c_int;

/// Is the value at `idx` a block of `T` (by its metatable, at `mt`, and its size)?
pub unsafe fn is<T>(l: *mut lua_State, idx: c_int, mt: c_int) -> bool {
    let (idx, mt) = (ffi::lua_absindex(l, idx), ffi::lua_absindex(l, mt));
    if ffi::lua_type(l, idx) != ffi::LUA_TUSERDATA || ffi::lua_getmetatable(l, idx) == 0 {
        return false;
    }
    let ok = ffi::lua_rawequal(l, -1, mt) != 0 && ffi::lua_rawlen(l, idx) == std::mem::size_of::<T>();
    ffi::lua_pop(l, 1);
    ok
}

/// Push a new block holding `value`, with the metatable at `mt`.
pub unsafe fn push<T>(l: *mut lua_State, mt: c_int, value: T) {
    let mt = ffi::lua_absindex(l, mt);
    #[cfg(feature = "lua54")]
    let block = ffi::lua_newuserdatauv(l, std::mem::size_of::<T>(), 0);
    #[cfg(not(feature = "lua54"))]
    let block = ffi::lua_newuserdata(l, std::mem::size_of::<T>());
    std::ptr::write(block as *mut T, value);
    ffi::lua_pushvalue(l, mt);
    ffi::lua_setmetatable(l, -2);
}

/// Wrap `value` in a new Lua object of the type registered under `key`.
pub fn into_lua<T>(lua: &Lua, key: &CStr, value: T) -> mlua::Result<AnyUserData> {
    // Raw stack work without mlua's protected calls (costly on LuaJIT): these pushes can fail
    // only when Lua runs out of memory.
    lua.exec_raw_lua(|raw| unsafe {
        let l = raw.state();
        if ffi::lua_checkstack(l, 3) == 0 {
            return Err(mlua::Error::StackError);
        }
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, key.as_ptr());
        push(l, -1, value);
        ffi::lua_replace(l, -2);
        match raw.pop_value() {
            Value::UserData(ud) => Ok(ud),
            _ => unreachable!("a userdata was pushed"),
        }
    })
}

/// The block of `T` inside `v`, if `v` is an object of the type registered under `key`. The
/// pointer is valid while `v` lives.
pub fn block<T>(lua: &Lua, key: &CStr, v: &Value) -> mlua::Result<Option<*mut T>> {
    lua.exec_raw_lua(|raw| unsafe {
        let l = raw.state();
        if ffi::lua_checkstack(l, 3) == 0 {
            return Err(mlua::Error::StackError);
        }
        raw.push_value(v)?;
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, key.as_ptr());
        let p = if is::<T>(l, -2, -1) { Some(ffi::lua_touserdata(l, -2) as *mut T) } else { None };
        ffi::lua_pop(l, 2);
        Ok(p)
    })
}

/// `__gc`: drop the block's value, leaving `T::default()`.
pub unsafe extern "C-unwind" fn gc<T: Default>(l: *mut lua_State) -> c_int {
    // A table given our metatable ends up here too; it has nothing to free.
    if is::<T>(l, 1, ffi::lua_upvalueindex(1)) {
        drop(std::mem::take(&mut *(ffi::lua_touserdata(l, 1) as *mut T)));
    }
    0
}

/// A C function with the metatable `mt` as upvalue 1 (and `extra`, if any, as upvalue 2).
pub fn closure(lua: &Lua, mt: &Table, f: Raw, extra: Option<&Function>) -> mlua::Result<Function> {
    unsafe {
        match extra {
            None => lua.exec_raw(mt, |l| ffi::lua_pushcclosure(l, f, 1)),
            Some(g) => lua.exec_raw((mt, g), |l| ffi::lua_pushcclosure(l, f, 2)),
        }
    }
}

/// Register `mt` as the metatable of the type under `key`.
pub fn register(lua: &Lua, key: &CStr, mt: &Table) -> mlua::Result<()> {
    lua.set_named_registry_value(key.to_str().unwrap_or_default(), mt)
}

/// Raise `msg` with the caller's position (like `error(msg, 2)`).
pub unsafe fn raise(l: *mut lua_State, msg: &'static str) -> ! {
    ffi::luaL_where(l, 1);
    push_bytes(l, msg.as_bytes());
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

#[inline]
pub unsafe fn push_bytes(l: *mut lua_State, b: &[u8]) {
    #[cfg(any(feature = "lua51", feature = "luajit", feature = "lua52"))]
    ffi::lua_pushlstring_(l, b.as_ptr() as *const c_char, b.len());
    #[cfg(not(any(feature = "lua51", feature = "luajit", feature = "lua52")))]
    ffi::lua_pushlstring(l, b.as_ptr() as *const c_char, b.len());
}

/// Call the function in upvalue 2 (the mlua version of a C function's slow path) with this
/// call's arguments, and return what it returns.
pub unsafe fn slow_path(l: *mut lua_State) -> c_int {
    let n = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(2));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, ffi::LUA_MULTRET);
    ffi::lua_gettop(l)
}
