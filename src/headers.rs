//! http.headers: lua-http's ordered list of header fields, kept in Rust (`Headers`) so the
//! server, client and HPACK code can build and read it without going through Lua.
//!
//! Headers objects are created and read on every request, so their methods are plain C
//! functions on a userdata whose layout this file owns, not mlua callbacks: as callbacks they
//! measured 0.87x the speed of the original pure-Lua headers, as C functions 4x (1.2x on
//! LuaJIT; see bench/headers.sh). They keep lua-http's error style (a plain string with the
//! caller's position, like `error(msg, 2)`).
//!
//! Rules that keep the raw functions sound:
//! - Lua errors (which longjmp) are raised only where no Rust value that owns memory is live,
//!   and never inside `guard` (LuaJIT raises them as foreign exceptions).
//! - List operations that could panic run inside `guard` (which turns a panic into an error);
//!   reading a field cannot panic.
//! - No reference into a `Headers` is held across a Lua call that allocates: allocation can
//!   run finalizers, and a finalizer may use this same object. Loops re-borrow by index, and
//!   stored bytes reach Lua through `push_stored`.

mod list;

#[allow(unused_imports)] // default_never_index: for the server, client and hpack modules
pub use list::{default_never_index, Headers, MultiValued, TooLarge};

use crate::runtime::raw::{self, push_bytes, raise, Raw};
use mlua::ffi::{self, lua_State};
use mlua::{AnyUserData, Function, Lua, Table, Value};
use std::os::raw::{c_char, c_int};

/// The userdata block of a headers object.
#[derive(Default)]
struct Slot {
    headers: Headers,
    /// Set while Rust code holds the list through `with_headers`; Lua methods then refuse.
    busy: bool,
}

/// The metatable of headers objects, in the registry under this key.
const MT_KEY: &std::ffi::CStr = c"http.core.headers";

/// Wrap `h` in a new Lua headers object.
#[allow(dead_code)] // for the server, client and hpack modules
pub fn into_lua(lua: &Lua, h: Headers) -> mlua::Result<AnyUserData> {
    raw::into_lua(lua, MT_KEY, Slot { headers: h, busy: false })
}

/// Run `f` on the list inside `v`, which must be a headers object. Lua methods called on the
/// same object while `f` runs fail with an error instead of seeing it half-changed.
#[allow(dead_code)] // for the server, client and hpack modules
pub fn with_headers<R>(lua: &Lua, v: &Value, f: impl FnOnce(&mut Headers) -> R) -> mlua::Result<R> {
    let p = raw::block::<Slot>(lua, v)?;
    let Some(p) = p else {
        return Err(mlua::Error::RuntimeError(format!(
            "http.headers expected, got {}",
            v.type_name()
        )));
    };
    // `v` keeps the object alive while we use it.
    let slot = unsafe { &mut *p };
    if slot.busy {
        return Err(mlua::Error::RuntimeError("http.headers object in use".into()));
    }
    struct Busy<'a>(&'a mut bool);
    impl Drop for Busy<'_> {
        fn drop(&mut self) {
            *self.0 = false;
        }
    }
    slot.busy = true;
    let _busy = Busy(&mut slot.busy);
    Ok(f(&mut slot.headers))
}

// ---- helpers on the raw Lua stack ----

/// Run pure Rust code; a panic becomes a Lua error once its payload is gone.
unsafe fn guard<R>(l: *mut lua_State, f: impl FnOnce() -> R) -> R {
    match raw::catch(f) {
        Some(r) => r,
        None => raise(l, "internal error (panic) in http.headers"),
    }
}

/// Push bytes stored in a headers list, fetched by `get` (None: the field is gone; returns
/// false and pushes nothing). Lua 5.1, 5.2 and LuaJIT may collect garbage before they copy a
/// string, and a finalizer may change this list then; there the bytes are first copied where
/// the list cannot free them: a buffer on the C stack, or a userdata when they are long.
#[inline]
unsafe fn push_stored<'a>(l: *mut lua_State, get: impl Fn() -> Option<&'a [u8]>) -> bool {
    let Some(b) = get() else { return false };
    if cfg!(any(feature = "lua53", feature = "lua54")) {
        push_bytes(l, b);
        return true;
    }
    const SHORT: usize = 256;
    if b.len() <= SHORT {
        let mut buf = std::mem::MaybeUninit::<[u8; SHORT]>::uninit();
        let buf = buf.as_mut_ptr() as *mut u8;
        std::ptr::copy_nonoverlapping(b.as_ptr(), buf, b.len());
        push_bytes(l, std::slice::from_raw_parts(buf, b.len()));
        return true;
    }
    let len = b.len();
    let buf = ffi::lua_newuserdata(l, len) as *mut u8;
    // The allocation may have run a finalizer: fetch again.
    let Some(b) = get() else {
        ffi::lua_pop(l, 1);
        return false;
    };
    let len = len.min(b.len());
    std::ptr::copy_nonoverlapping(b.as_ptr(), buf, len);
    push_bytes(l, std::slice::from_raw_parts(buf, len));
    ffi::lua_remove(l, -2);
    true
}

#[inline]
unsafe fn bytes_at<'a>(p: *const c_char, len: usize) -> &'a [u8] {
    std::slice::from_raw_parts(p as *const u8, len)
}

/// A name to look up: strings and numbers (as Lua converts them); anything else matches
/// nothing, as in lua-http.
#[inline]
unsafe fn opt_bytes<'a>(l: *mut lua_State, idx: c_int) -> Option<&'a [u8]> {
    match ffi::lua_type(l, idx) {
        ffi::LUA_TSTRING | ffi::LUA_TNUMBER => {
            let mut len = 0;
            let p = ffi::lua_tolstring(l, idx, &mut len);
            Some(bytes_at(p, len))
        }
        _ => None,
    }
}

#[inline]
unsafe fn check_bytes<'a>(l: *mut lua_State, idx: c_int) -> &'a [u8] {
    let mut len = 0;
    let p = ffi::luaL_checklstring(l, idx, &mut len);
    bytes_at(p, len)
}

/// The never_index argument: nil or absent means "the name's default".
#[inline]
unsafe fn opt_flag(l: *mut lua_State, idx: c_int) -> Option<bool> {
    match ffi::lua_type(l, idx) {
        ffi::LUA_TNONE | ffi::LUA_TNIL => None,
        _ => Some(ffi::lua_toboolean(l, idx) != 0),
    }
}

/// A 1-based field index given as an integral number, as 0-based; None for anything else.
#[inline]
unsafe fn opt_index(l: *mut lua_State, idx: c_int) -> Option<usize> {
    if ffi::lua_type(l, idx) != ffi::LUA_TNUMBER {
        return None;
    }
    let n = ffi::lua_tonumber(l, idx);
    (n >= 1.0 && n.fract() == 0.0 && n < 4e9).then(|| n as usize - 1)
}

/// `self` of a method: argument 1, which must be a headers object.
unsafe fn this(l: *mut lua_State) -> *mut Slot {
    match raw::get::<Slot>(l, 1) {
        Some(p) => p,
        None => {
            ffi::lua_pushfstring(l, c"http.headers expected, got %s".as_ptr(), ffi::luaL_typename(l, 1));
            ffi::luaL_argerror(l, 1, ffi::lua_tostring(l, -1));
            unreachable!("luaL_argerror raises")
        }
    }
}

/// The list of a slot, once no more Lua calls come before the caller is done with it.
#[inline]
unsafe fn list<'a>(l: *mut lua_State, p: *mut Slot) -> &'a mut Headers {
    if (*p).busy {
        raise(l, "http.headers object in use");
    }
    &mut (*p).headers
}

/// Push a new headers object holding `h`, with the metatable at `mt`.
unsafe fn push_slot(l: *mut lua_State, mt: c_int, h: Headers) {
    raw::push(l, mt, Slot { headers: h, busy: false });
}

/// Push field `i` (0-based) as name, value, never_index; nil when there is none.
unsafe fn push_field(l: *mut lua_State, p: *mut Slot, i: usize) -> c_int {
    let field = || list(l, p).field(i);
    if !push_stored(l, || field().map(|f| f.0)) {
        ffi::lua_pushnil(l);
        return 1;
    }
    if !push_stored(l, || field().map(|f| f.1)) {
        // A finalizer run by the push above removed the field.
        ffi::lua_pop(l, 1);
        ffi::lua_pushnil(l);
        return 1;
    }
    let never_index = field().is_some_and(|f| f.2);
    ffi::lua_pushboolean(l, never_index as c_int);
    3
}

// ---- the methods ----

unsafe extern "C-unwind" fn new(l: *mut lua_State) -> c_int {
    push_slot(l, ffi::lua_upvalueindex(1), Headers::new());
    1
}

unsafe extern "C-unwind" fn clone(l: *mut lua_State) -> c_int {
    let p = this(l);
    let h = list(l, p);
    let copy = guard(l, || h.clone());
    push_slot(l, ffi::lua_upvalueindex(1), copy);
    1
}

unsafe extern "C-unwind" fn len(l: *mut lua_State) -> c_int {
    let p = this(l);
    ffi::lua_pushinteger(l, list(l, p).len() as ffi::lua_Integer);
    1
}

unsafe extern "C-unwind" fn tostring(l: *mut lua_State) -> c_int {
    let p = this(l);
    ffi::lua_pushfstring(l, c"http.headers{%d headers}".as_ptr(), list(l, p).len() as c_int);
    1
}

unsafe extern "C-unwind" fn append(l: *mut lua_State) -> c_int {
    let p = this(l);
    let name = check_bytes(l, 2);
    let value = check_bytes(l, 3);
    let never_index = opt_flag(l, 4);
    let h = list(l, p);
    if guard(l, || h.push(name, value, never_index)).is_err() {
        raise(l, "headers too large");
    }
    0
}

unsafe extern "C-unwind" fn geti(l: *mut lua_State) -> c_int {
    let p = this(l);
    match opt_index(l, 2) {
        Some(i) => push_field(l, p, i),
        None => {
            ffi::lua_pushnil(l);
            1
        }
    }
}

/// `each()`: a closure over (object, next 0-based index), as lua-http's iterator is.
unsafe extern "C-unwind" fn each(l: *mut lua_State) -> c_int {
    this(l);
    ffi::lua_settop(l, 1);
    ffi::lua_pushvalue(l, 1);
    ffi::lua_pushinteger(l, 0);
    ffi::lua_pushcclosure(l, each_step, 2);
    ffi::lua_pushvalue(l, 1);
    2
}

unsafe extern "C-unwind" fn each_step(l: *mut lua_State) -> c_int {
    let Some(p) = raw::get::<Slot>(l, ffi::lua_upvalueindex(1)) else { return 0 };
    let i = ffi::lua_tointeger(l, ffi::lua_upvalueindex(2)) as usize;
    if i >= list(l, p).len() {
        return 0;
    }
    ffi::lua_pushinteger(l, (i + 1) as ffi::lua_Integer);
    ffi::lua_replace(l, ffi::lua_upvalueindex(2));
    push_field(l, p, i)
}

/// What `push_values` makes of the values it finds.
#[derive(PartialEq, Clone, Copy)]
enum Gather {
    /// Each value on the stack.
    Stack,
    /// Appended to the table on top of the stack.
    Table,
    /// On the stack with "," between them, ready for `lua_concat`.
    Commas,
}

/// Push the values of the fields called `name`; returns how many there were.
unsafe fn push_values(l: *mut lua_State, p: *mut Slot, name: Option<&[u8]>, into: Gather) -> c_int {
    let Some(name) = name else { return 0 };
    let mut n = 0;
    let mut from = 0;
    loop {
        let h = list(l, p);
        let Some(i) = guard(l, || h.find(from, name)) else {
            break;
        };
        if into != Gather::Table && n >= 8 {
            ffi::luaL_checkstack(l, 2, c"too many header values".as_ptr());
        }
        if !push_stored(l, || list(l, p).field(i).map(|f| f.1)) {
            break;
        }
        if into == Gather::Commas && n > 0 {
            push_bytes(l, b",");
            ffi::lua_insert(l, -2);
        }
        n += 1;
        if into == Gather::Table {
            ffi::lua_rawseti(l, -2, n as ffi::lua_Integer);
        }
        from = i + 1;
    }
    n
}

unsafe extern "C-unwind" fn get(l: *mut lua_State) -> c_int {
    let p = this(l);
    let name = opt_bytes(l, 2);
    push_values(l, p, name, Gather::Stack)
}

unsafe extern "C-unwind" fn get_as_sequence(l: *mut lua_State) -> c_int {
    let p = this(l);
    let name = opt_bytes(l, 2);
    ffi::lua_createtable(l, 0, 1);
    let n = push_values(l, p, name, Gather::Table);
    ffi::lua_pushinteger(l, n as ffi::lua_Integer);
    ffi::lua_setfield(l, -2, c"n".as_ptr());
    1
}

unsafe extern "C-unwind" fn get_comma_separated(l: *mut lua_State) -> c_int {
    let p = this(l);
    let name = opt_bytes(l, 2);
    match push_values(l, p, name, Gather::Commas) {
        0 => ffi::lua_pushnil(l),
        n => ffi::lua_concat(l, 2 * n - 1),
    }
    1
}

unsafe extern "C-unwind" fn has(l: *mut lua_State) -> c_int {
    let p = this(l);
    let name = opt_bytes(l, 2);
    let h = list(l, p);
    let found = name.is_some_and(|name| guard(l, || h.has(name)));
    ffi::lua_pushboolean(l, found as c_int);
    1
}

unsafe extern "C-unwind" fn delete(l: *mut lua_State) -> c_int {
    let p = this(l);
    let name = opt_bytes(l, 2);
    let h = list(l, p);
    let found = name.is_some_and(|name| guard(l, || h.delete(name)));
    ffi::lua_pushboolean(l, found as c_int);
    1
}

unsafe extern "C-unwind" fn modifyi(l: *mut lua_State) -> c_int {
    let p = this(l);
    let i = opt_index(l, 2);
    let value = check_bytes(l, 3);
    let never_index = opt_flag(l, 4);
    let h = list(l, p);
    let done = match i {
        Some(i) => guard(l, || h.modify(i, value, never_index)),
        None => Ok(false),
    };
    match done {
        Ok(true) => 0,
        Ok(false) => raise(l, "invalid index"),
        Err(TooLarge) => raise(l, "headers too large"),
    }
}

unsafe extern "C-unwind" fn upsert(l: *mut lua_State) -> c_int {
    let p = this(l);
    let name = check_bytes(l, 2);
    let value = check_bytes(l, 3);
    let never_index = opt_flag(l, 4);
    let h = list(l, p);
    match guard(l, || h.upsert(name, value, never_index)) {
        Ok(Ok(())) => 0,
        Ok(Err(MultiValued)) => raise(l, "Cannot upsert multi-valued field"),
        Err(TooLarge) => raise(l, "headers too large"),
    }
}

unsafe extern "C-unwind" fn sort(l: *mut lua_State) -> c_int {
    let p = this(l);
    let h = list(l, p);
    guard(l, || h.sort());
    0
}

/// A C function with the metatable as its upvalue.
fn closure(lua: &Lua, mt: &Table, f: Raw) -> mlua::Result<Function> {
    raw::closure(lua, mt, f, None)
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let mt = lua.create_table()?;
    let methods = lua.create_table()?;
    let raw: [(&str, Raw); 14] = [
        ("len", len),
        ("clone", clone),
        ("append", append),
        ("each", each),
        ("has", has),
        ("delete", delete),
        ("geti", geti),
        ("get_as_sequence", get_as_sequence),
        ("get", get),
        ("get_comma_separated", get_comma_separated),
        ("modifyi", modifyi),
        ("upsert", upsert),
        ("sort", sort),
        ("new", new),
    ];
    let module = lua.create_table()?;
    for (name, f) in raw {
        let target = if name == "new" { &module } else { &methods };
        target.set(name, closure(lua, &mt, f)?)?;
    }
    mt.set("__name", "http.headers")?;
    mt.set("__index", &methods)?;
    mt.set("__len", methods.get::<Function>("len")?)?;
    mt.set("__pairs", methods.get::<Function>("each")?)?;
    mt.set("__tostring", closure(lua, &mt, tostring)?)?;
    mt.set("__gc", closure(lua, &mt, raw::gc::<Slot>)?)?;
    raw::register(lua, MT_KEY, &mt)?;
    module.set("methods", methods)?;
    module.set("mt", mt)?;
    Ok(module)
}
