//! Functions exported to Lua, and how their failures reach Lua.
//!
//! mlua raises callback errors as userdata; lua-http raises plain strings (with the caller's
//! position, like `error(msg, 2)`) or, for HTTP/2, error tables. Every function we export is an
//! mlua callback (arguments and results converted straight from and to the Lua stack) called
//! through a small C trampoline in protected mode, except a few hot ones that are plain C
//! functions (runtime::raw; their slow paths are such callbacks). When the callback fails it
//! leaves the error it means (a clean message, or a Lua value given to `raise`) in `PENDING`
//! before mlua raises; the trampoline, which owns no Rust values, raises that instead. Panics
//! are caught in the callback and reported the same way.

use mlua::{ffi, FromLuaMulti, Function, IntoLua, IntoLuaMulti, Lua, Table, UserDataRefMut, UserDataRegistry};
use std::any::Any;
use std::cell::RefCell;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What the failed callback wants raised.
enum Pending {
    Message(String),
    Value(mlua::RegistryKey),
}

thread_local! {
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

unsafe extern "C-unwind" fn trampoline(l: *mut ffi::lua_State) -> c_int {
    let n = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    if ffi::lua_pcall(l, n, ffi::LUA_MULTRET, 0) == ffi::LUA_OK {
        return ffi::lua_gettop(l);
    }
    push_error(l);
    ffi::lua_error(l)
}

/// Replace the error object on top of the stack with the error to raise.
unsafe fn push_error(l: *mut ffi::lua_State) {
    match PENDING.with(|p| p.borrow_mut().take()) {
        Some(Pending::Message(msg)) => {
            ffi::luaL_where(l, 1);
            ffi::lua_pushlstring(l, msg.as_ptr() as *const _, msg.len());
            drop(msg);
            ffi::lua_concat(l, 2);
        }
        Some(Pending::Value(key)) => {
            ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, key.id() as _);
            drop(key);
        }
        None => {
            // mlua failed before our callback ran: an argument that did not convert.
            let mut len = 0;
            let p = ffi::luaL_tolstring(l, -1, &mut len);
            let raw = String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len)).into_owned();
            ffi::lua_pop(l, 1);
            let mut nlen = 0;
            let np = ffi::lua_tolstring(l, ffi::lua_upvalueindex(2), &mut nlen);
            let name = String::from_utf8_lossy(std::slice::from_raw_parts(np as *const u8, nlen)).into_owned();
            let msg = conversion_message(&name, &raw);
            ffi::luaL_where(l, 1);
            ffi::lua_pushlstring(l, msg.as_ptr() as *const _, msg.len());
            drop(msg);
            ffi::lua_concat(l, 2);
        }
    }
}

/// "bad argument #2: error converting Lua string to f64 (...)" as Lua says it:
/// "bad argument #2 to 'f' (number expected, got string)".
fn conversion_message(name: &str, raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw);
    let pos = first
        .strip_prefix("bad argument #")
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .filter(|d| !d.is_empty());
    let conv = first.find("error converting Lua ").map(|i| &first[i + "error converting Lua ".len()..]);
    match (pos, conv.and_then(|c| c.split_once(" to "))) {
        (Some(pos), Some((from, to))) => {
            let to = to.split(|c: char| c == ' ' || c == '(').next().unwrap_or(to);
            format!("bad argument #{} to '{}' ({} expected, got {})", pos, name, lua_type_name(to), from)
        }
        (Some(pos), None) => {
            let rest = first.split_once(": ").map_or(first, |(_, r)| r);
            let rest = if rest.contains("not expected type") { "wrong object type" } else { rest };
            format!("bad argument #{} to '{}' ({})", pos, name, rest)
        }
        _ => format!("{}: {}", name, first),
    }
}

unsafe extern "C-unwind" fn make_trampoline(l: *mut ffi::lua_State) -> c_int {
    ffi::lua_settop(l, 2);
    ffi::lua_pushcclosure(l, trampoline, 2);
    1
}

struct Factory(Function);

/// Make the calling function raise `value` (any Lua value: a string, an h2_error table ...).
pub fn raise<R>(lua: &Lua, value: impl IntoLua) -> mlua::Result<R> {
    let key = lua.create_registry_value(value.into_lua(lua)?)?;
    PENDING.with(|p| *p.borrow_mut() = Some(Pending::Value(key)));
    Err(mlua::Error::RuntimeError("raised".into()))
}

/// A Lua-style error message: raised as a plain string with the caller's position.
pub fn error<R>(msg: impl Into<String>) -> mlua::Result<R> {
    Err(mlua::Error::RuntimeError(msg.into()))
}

/// The text of an mlua error, without mlua's decorations.
pub fn message(name: &str, err: &mlua::Error) -> String {
    use mlua::Error as E;
    match err {
        // A Lua error raised in a callback we called carries mlua's traceback: drop it.
        E::RuntimeError(s) | E::MemoryError(s) => match s.find("\nstack traceback:") {
            Some(i) => s[..i].to_string(),
            None => s.clone(),
        },
        E::CallbackError { cause, .. } | E::WithContext { cause, .. } => message(name, cause),
        E::BadArgument { pos, cause, .. } => {
            format!("bad argument #{} to '{}' ({})", pos, name, message(name, cause))
        }
        E::FromLuaConversionError { from, to, .. } => {
            format!("{} expected, got {}", lua_type_name(to), from)
        }
        E::UserDataTypeMismatch => "wrong object type".into(),
        E::UserDataBorrowError | E::UserDataBorrowMutError => {
            format!("'{}' called while the object is in use", name)
        }
        E::UserDataDestructed => "object already closed".into(),
        other => other.to_string(),
    }
}

/// The Lua name of the Rust type an argument failed to convert to.
fn lua_type_name(rust: &str) -> &str {
    match rust {
        "f64" | "f32" | "i64" | "i32" | "u64" | "u32" | "usize" | "isize" | "u16" | "u8" | "i8"
        | "i16" | "Number" | "Integer" => "number",
        "String" | "LuaString" | "BString" | "&str" => "string",
        "Table" => "table",
        "Function" => "function",
        "AnyUserData" | "userdata" => "userdata",
        "bool" => "boolean",
        other => other,
    }
}

fn panic_message(p: &Box<dyn Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("internal error (panic): {}", s)
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("internal error (panic): {}", s)
    } else {
        "internal error (panic)".into()
    }
}

/// Leave the error a failed callback means for the trampoline (unless `raise` already did).
fn fail_with(name: &str, err: &mlua::Error) {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if p.is_none() {
            *p = Some(Pending::Message(message(name, err)));
        }
    });
}

fn wrap(lua: &Lua, f: Function, name: &str) -> mlua::Result<Function> {
    if lua.app_data_ref::<Factory>().is_none() {
        let factory = unsafe { lua.create_c_function(make_trampoline)? };
        lua.set_app_data(Factory(factory));
    }
    let factory = lua.app_data_ref::<Factory>().unwrap().0.clone();
    factory.call((f, name))
}

/// Export a Rust function to Lua with lua-http's error behaviour (see the module comment).
pub fn function<A, R, F>(lua: &Lua, name: &'static str, f: F) -> mlua::Result<Function>
where
    A: FromLuaMulti,
    R: IntoLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<R> + 'static,
{
    let inner = lua.create_function(move |lua, args: A| match catch_unwind(AssertUnwindSafe(|| f(lua, args))) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => {
            fail_with(name, &e);
            Err(e)
        }
        Err(p) => {
            let e = mlua::Error::RuntimeError(panic_message(&p));
            fail_with(name, &e);
            Err(e)
        }
    })?;
    wrap(lua, inner, name)
}

/// Export a method of userdata type `T`: the first argument must be a `T`, borrowed mutably
/// for the duration of the call.
pub fn method<T, A, R, F>(lua: &Lua, name: &'static str, f: F) -> mlua::Result<Function>
where
    T: 'static,
    A: FromLuaMulti,
    R: IntoLuaMulti,
    F: Fn(&Lua, &mut T, A) -> mlua::Result<R> + 'static,
{
    function(lua, name, move |lua, (mut this, args): (UserDataRefMut<T>, A)| f(lua, &mut this, args))
}

/// Like `method`, but the closure also receives the userdata handle itself (to return it, or
/// to keep it alive in a background task).
pub fn method_ud<T, A, R, F>(lua: &Lua, name: &'static str, f: F) -> mlua::Result<Function>
where
    T: 'static,
    A: FromLuaMulti,
    R: IntoLuaMulti,
    F: Fn(&Lua, &mlua::AnyUserData, &mut T, A) -> mlua::Result<R> + 'static,
{
    function(lua, name, move |lua, (ud, args): (mlua::AnyUserData, A)| {
        ud.borrow_mut_scoped::<T, _>(|this| f(lua, &ud, this, args))?
    })
}

/// Register userdata type `T` whose methods are the functions in `methods` (a plain table, so
/// the Lua side can add shims to it), plus any metamethods `meta` adds.
pub fn register_type<T: 'static>(
    lua: &Lua,
    methods: &Table,
    meta: impl FnOnce(&mut UserDataRegistry<T>),
) -> mlua::Result<()> {
    let methods = methods.clone();
    lua.register_userdata_type::<T>(move |reg| {
        use mlua::UserDataFields;
        reg.add_meta_field("__index", methods);
        meta(reg);
    })
}

/// Panics are always caught and reported as Lua errors; keep them off stderr.
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::env::var_os("HTTP_CORE_DEBUG_PANICS").is_some() {
                default(info);
            }
        }));
    });
}
