//! Functions exported to Lua, and how their failures reach Lua.
//!
//! mlua raises callback errors as userdata; lua-http raises plain strings (with the caller's
//! position, like `error(msg, 2)`) or, for HTTP/2, error tables. Every function we export is an
//! mlua callback wrapped in a small C trampoline: the callback never raises, it returns a
//! sentinel plus the error value, and the trampoline (which owns no Rust values) raises it.
//! Panics are caught in the callback and turned into error strings the same way.

use mlua::{ffi, AnyUserData, FromLuaMulti, Function, IntoLua, IntoLuaMulti, Lua, MultiValue, Table, UserDataRegistry, Value};
use std::any::Any;
use std::cell::RefCell;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

static RAISE: u8 = 0;

fn raise_key() -> *mut std::ffi::c_void {
    &RAISE as *const u8 as *mut std::ffi::c_void
}

unsafe extern "C-unwind" fn trampoline(l: *mut ffi::lua_State) -> c_int {
    let n = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, ffi::LUA_MULTRET);
    let top = ffi::lua_gettop(l);
    if top >= 1 && ffi::lua_touserdata(l, 1) == raise_key() {
        if ffi::lua_type(l, 2) == ffi::LUA_TSTRING {
            ffi::luaL_where(l, 1);
            ffi::lua_pushvalue(l, 2);
            ffi::lua_concat(l, 2);
        } else {
            ffi::lua_pushvalue(l, 2);
        }
        ffi::lua_error(l);
    }
    top
}

unsafe extern "C-unwind" fn make_trampoline(l: *mut ffi::lua_State) -> c_int {
    ffi::lua_settop(l, 1);
    ffi::lua_pushcclosure(l, trampoline, 1);
    1
}

struct Factory(Function);

thread_local! {
    /// A value passed to `raise` waiting for the callback wrapper to pick it up.
    static PENDING: RefCell<Option<mlua::RegistryKey>> = const { RefCell::new(None) };
}

const PENDING_MARK: &str = "\u{0}http.core pending raise";

/// Make the calling function raise `value` (any Lua value: a string, an h2_error table ...).
pub fn raise<R>(lua: &Lua, value: impl IntoLua) -> mlua::Result<R> {
    let key = lua.create_registry_value(value.into_lua(lua)?)?;
    PENDING.with(|p| *p.borrow_mut() = Some(key));
    Err(mlua::Error::RuntimeError(PENDING_MARK.into()))
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

fn failure(lua: &Lua, name: &str, err: mlua::Error) -> mlua::Result<MultiValue> {
    let value = match &err {
        E::RuntimeError(s) if s == PENDING_MARK => {
            let key = PENDING.with(|p| p.borrow_mut().take());
            match key {
                Some(k) => {
                    let v: Value = lua.registry_value(&k)?;
                    lua.remove_registry_value(k)?;
                    v
                }
                None => Value::String(lua.create_string("internal error: lost error value")?),
            }
        }
        _ => Value::String(lua.create_string(message(name, &err))?),
    };
    (Value::LightUserData(mlua::LightUserData(raise_key())), value).into_lua_multi(lua)
}
use mlua::Error as E;

fn wrap(lua: &Lua, f: Function) -> mlua::Result<Function> {
    if lua.app_data_ref::<Factory>().is_none() {
        let factory = unsafe { lua.create_c_function(make_trampoline)? };
        lua.set_app_data(Factory(factory));
    }
    let factory = lua.app_data_ref::<Factory>().unwrap().0.clone();
    factory.call(f)
}

/// Export a Rust function to Lua with lua-http's error behaviour (see the module comment).
pub fn function<A, R, F>(lua: &Lua, name: &'static str, f: F) -> mlua::Result<Function>
where
    A: FromLuaMulti,
    R: IntoLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<R> + 'static,
{
    let inner = lua.create_function(move |lua, args: MultiValue| {
        let r = catch_unwind(AssertUnwindSafe(|| {
            let args = A::from_lua_args(args, 1, Some(name), lua)?;
            f(lua, args)?.into_lua_multi(lua)
        }));
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => failure(lua, name, e),
            Err(p) => failure(lua, name, mlua::Error::RuntimeError(panic_message(&p))),
        }
    })?;
    wrap(lua, inner)
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
    function(lua, name, move |lua, (ud, args): (Value, A)| {
        let ud = match ud {
            Value::UserData(ud) => ud,
            other => {
                return error(format!(
                    "bad argument #1 to '{}' (object expected, got {})",
                    name,
                    other.type_name()
                ))
            }
        };
        ud.borrow_mut_scoped::<T, _>(|this| f(lua, this, args))
            .map_err(|e| match e {
                E::UserDataTypeMismatch => E::RuntimeError(format!(
                    "bad argument #1 to '{}' (wrong object type)",
                    name
                )),
                e => e,
            })?
    })
}

/// Like `method`, but the closure also receives the userdata handle itself (to return it, or
/// to keep it alive in a background task).
pub fn method_ud<T, A, R, F>(lua: &Lua, name: &'static str, f: F) -> mlua::Result<Function>
where
    T: 'static,
    A: FromLuaMulti,
    R: IntoLuaMulti,
    F: Fn(&Lua, &AnyUserData, &mut T, A) -> mlua::Result<R> + 'static,
{
    function(lua, name, move |lua, (ud, args): (AnyUserData, A)| {
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
