//! Userdata whose block layout is ours, for the few types whose hot methods are plain C
//! functions instead of mlua callbacks (a callback costs 1-2k instructions per call: argument
//! and result conversion, its protected call). http.headers and http.websocket use it.
//!
//! A block holds a `T` written in place behind its type's TypeId, which is how functions
//! recognise their objects (cheaper than comparing metatables, and no Lua code can forge it);
//! the type's metatable is in the registry under the type's key, and C functions that create
//! objects get it as upvalue 1. `gc` leaves `T::default()` behind: a finalizer may still reach
//! the object after its own ran.

use mlua::ffi::{self, lua_State};
use mlua::{AnyUserData, Function, Lua, Table, Value};
use std::any::TypeId;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

pub type Raw = unsafe extern "C-unwind" fn(*mut lua_State) -> c_int;

#[repr(C)]
struct Tagged<T> {
    tag: TypeId,
    value: T,
}

/// The `T` inside the value at `idx`, if it is a block of `T`.
#[inline]
pub unsafe fn get<T: 'static>(l: *mut lua_State, idx: c_int) -> Option<*mut T> {
    if ffi::lua_type(l, idx) != ffi::LUA_TUSERDATA || ffi::lua_rawlen(l, idx) != std::mem::size_of::<Tagged<T>>() {
        return None;
    }
    let block = ffi::lua_touserdata(l, idx) as *mut Tagged<T>;
    ((*block).tag == TypeId::of::<T>()).then(|| std::ptr::addr_of_mut!((*block).value))
}

/// Push a new block holding `value`, with the metatable at `mt`.
pub unsafe fn push<T: 'static>(l: *mut lua_State, mt: c_int, value: T) {
    const { assert!(std::mem::align_of::<Tagged<T>>() <= 8, "Lua aligns userdata blocks to 8 bytes") };
    let mt = ffi::lua_absindex(l, mt);
    let size = std::mem::size_of::<Tagged<T>>();
    #[cfg(feature = "lua54")]
    let block = ffi::lua_newuserdatauv(l, size, 0);
    #[cfg(not(feature = "lua54"))]
    let block = ffi::lua_newuserdata(l, size);
    std::ptr::write(block as *mut Tagged<T>, Tagged { tag: TypeId::of::<T>(), value });
    ffi::lua_pushvalue(l, mt);
    ffi::lua_setmetatable(l, -2);
}

/// Wrap `value` in a new Lua object of the type registered under `key`.
pub fn into_lua<T: 'static>(lua: &Lua, key: &CStr, value: T) -> mlua::Result<AnyUserData> {
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

/// The `T` inside `v`, if `v` is a block of `T`. The pointer is valid while `v` lives.
pub fn block<T: 'static>(lua: &Lua, v: &Value) -> mlua::Result<Option<*mut T>> {
    if !matches!(v, Value::UserData(_)) {
        return Ok(None);
    }
    lua.exec_raw_lua(|raw| unsafe {
        let l = raw.state();
        if ffi::lua_checkstack(l, 2) == 0 {
            return Err(mlua::Error::StackError);
        }
        raw.push_value(v)?;
        let p = get::<T>(l, -1);
        ffi::lua_pop(l, 1);
        Ok(p)
    })
}

/// `__gc`: drop the block's value, leaving `T::default()`.
pub unsafe extern "C-unwind" fn gc<T: Default + 'static>(l: *mut lua_State) -> c_int {
    if let Some(p) = get::<T>(l, 1) {
        drop(std::mem::take(&mut *p));
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

/// Run Rust code that should not panic; None if it did (the caller then raises, or takes its
/// slow path, whose mlua callback reports the panic). A panic must not unwind into Lua.
pub fn catch<R>(f: impl FnOnce() -> R) -> Option<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
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
