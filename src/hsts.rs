//! http.hsts: a store of HTTP Strict Transport Security hosts (RFC 6797).
//!
//! As in lua-http a store is a Lua table whose metatable indexes `store_methods`, so `max_items`
//! and `time` are plain fields a program (or a test faking the clock) may set on one store or on
//! `store_methods` for all stores. The entries live in a Rust `Entries` userdata kept in the
//! table under a private light-userdata key.

use mlua::{
    AnyUserData, Function, IntoLuaMulti, LightUserData, Lua, LuaString, MultiValue, Table, Value,
};
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::runtime::{error, function};

/// A point in time as returned by the store's `time` function (never NaN).
#[derive(Clone, Copy, Debug)]
struct Expiry(f64);

impl PartialEq for Expiry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Expiry {}
impl PartialOrd for Expiry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Expiry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Clone, Copy)]
struct Entry {
    expires: Expiry,
    subdomains: bool,
}

/// Known HSTS hosts by normalised name, plus an index by expiry for `clean` and `clean_due`.
#[derive(Clone, Default)]
struct Entries {
    hosts: HashMap<Box<[u8]>, Entry>,
    by_expiry: BTreeSet<(Expiry, Box<[u8]>)>,
}

impl Entries {
    fn insert(&mut self, host: Box<[u8]>, entry: Entry) {
        if let Some(old) = self.hosts.get(&host) {
            self.by_expiry.remove(&(old.expires, host.clone()));
        }
        self.by_expiry.insert((entry.expires, host.clone()));
        self.hosts.insert(host, entry);
    }

    fn remove(&mut self, host: &[u8]) {
        if let Some((key, old)) = self.hosts.remove_entry(host) {
            self.by_expiry.remove(&(old.expires, key));
        }
    }

    /// Drop entries that expired before `now` (an entry is still valid at its expiry second).
    fn clean(&mut self, now: f64) {
        while let Some((expires, _)) = self.by_expiry.first() {
            if expires.0 >= now {
                break;
            }
            if let Some((_, host)) = self.by_expiry.pop_first() {
                self.hosts.remove(&host);
            }
        }
    }

    fn live(&self, host: &[u8], now: f64, as_parent: bool) -> bool {
        self.hosts
            .get(host)
            .is_some_and(|e| e.expires.0 >= now && (e.subdomains || !as_parent))
    }

    /// The host itself, or any parent domain stored with includeSubDomains.
    fn check(&self, host: &[u8], now: f64) -> bool {
        self.live(host, now, false)
            || host
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'.')
                .any(|(i, _)| self.live(&host[i + 1..], now, true))
    }
}

/// The IP address a host literal denotes: dotted IPv4, or IPv6 with or without brackets and
/// zone id. Shared with http.proxies.
pub(crate) fn ip_literal(host: &[u8]) -> Option<IpAddr> {
    let host = match host {
        [b'[', inner @ .., b']'] => inner,
        h => h,
    };
    let s = std::str::from_utf8(host).ok()?;
    if let Ok(v4) = s.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    let addr = s.split_once('%').map_or(s, |(a, _)| a);
    addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// A host name without its trailing dot (names are compared case-insensitively).
pub(crate) fn strip_root(host: &[u8]) -> &[u8] {
    host.strip_suffix(b".").unwrap_or(host)
}

/// The store key for `host`, or None for hosts HSTS does not apply to (IP literals, "").
fn host_key(host: &[u8]) -> Option<Box<[u8]>> {
    let host = strip_root(host);
    if host.is_empty() || ip_literal(host).is_some() {
        return None;
    }
    Some(host.to_ascii_lowercase().into_boxed_slice())
}

/// RFC 6797 delta-seconds: 1*DIGIT as a string (as parsed from the header), or, for programs
/// storing directives themselves, a non-negative whole number.
fn max_age(v: &Value) -> Result<f64, &'static str> {
    const BAD: &str = "max-age directive does not match grammar";
    match v {
        Value::Nil => Err("max-age directive is required"),
        Value::String(s) => {
            let b = s.as_bytes();
            if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
                return Err(BAD);
            }
            std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(BAD)
        }
        Value::Integer(i) if *i >= 0 => Ok(*i as f64),
        Value::Number(n) if n.is_finite() && *n >= 0.0 && n.fract() == 0.0 => Ok(*n),
        _ => Err(BAD),
    }
}

/// A number for Lua: an integer when it is whole (Lua 5.3+ prints 100, not 100.0).
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9007199254740992.0 {
        Value::Integer(v as _)
    } else {
        Value::Number(v)
    }
}

fn state_key() -> LightUserData {
    static KEY: u8 = 0;
    LightUserData(&KEY as *const u8 as *mut std::ffi::c_void)
}

fn state(this: &Table) -> mlua::Result<AnyUserData> {
    match this.raw_get(state_key())? {
        Value::UserData(ud) => Ok(ud),
        _ => error("bad argument #1 (http.hsts store expected)"),
    }
}

/// The store's current time, from its (overridable) `time` field.
fn now(this: &Table) -> mlua::Result<f64> {
    state(this)?;
    let t: f64 = this.get::<Function>("time")?.call(())?;
    if t.is_nan() {
        return error("hsts store time function returned NaN");
    }
    Ok(t)
}

/// Run `f` on the store's entries. Callers call `now` first: `time` is Lua code that could
/// itself use the store while it is borrowed.
fn with<R>(this: &Table, f: impl FnOnce(&mut Entries) -> R) -> mlua::Result<R> {
    state(this)?.borrow_mut_scoped::<Entries, _>(f)
}

fn new_store(lua: &Lua, mt: &Table, entries: Entries) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(state_key(), lua.create_any_userdata(entries)?)?;
    t.set_metatable(Some(mt.clone()))?;
    Ok(t)
}

fn store(lua: &Lua, this: &Table, host: &[u8], directives: &Table) -> mlua::Result<MultiValue> {
    let Some(key) = host_key(host) else {
        return false.into_lua_multi(lua);
    };
    let max_age = match max_age(&directives.get::<Value>("max-age")?) {
        Ok(v) => v,
        Err(msg) => return (Value::Nil, msg).into_lua_multi(lua),
    };
    if max_age == 0.0 {
        with(this, |e| e.remove(&key))?;
        return true.into_lua_multi(lua);
    }
    let subdomains = !matches!(
        directives.get::<Value>("includesubdomains")?,
        Value::Nil | Value::Boolean(false)
    );
    let max_items: f64 = this.get("max_items")?;
    let now = now(this)?;
    let entry = Entry {
        expires: Expiry(now + max_age),
        subdomains,
    };
    with(this, |e| {
        if !e.hosts.contains_key(&key) && e.hosts.len() as f64 >= max_items {
            e.clean(now);
            if e.hosts.len() as f64 >= max_items {
                return false;
            }
        }
        e.insert(key, entry);
        true
    })?
    .into_lua_multi(lua)
}

/// `time` for stores that do not override it: like os.time(), whole seconds since the epoch.
fn system_time() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let methods = lua.create_table()?;
    let mt = lua.create_table()?;
    mt.set("__name", "http.hsts.store")?;
    mt.set("__index", &methods)?;

    methods.set("max_items", f64::INFINITY)?;
    methods.set("time", function(lua, "time", |_, ()| Ok(system_time()))?)?;
    let store_mt = mt.clone();
    methods.set(
        "clone",
        function(lua, "clone", move |lua, this: Table| {
            let t = new_store(lua, &store_mt, with(&this, |e| e.clone())?)?;
            // Per-store settings (max_items, time ...) carry over to the copy.
            this.for_each(|k: Value, v: Value| match k {
                Value::LightUserData(l) if l == state_key() => Ok(()),
                k => t.raw_set(k, v),
            })?;
            Ok(t)
        })?,
    )?;
    methods.set(
        "store",
        function(
            lua,
            "store",
            |lua, (this, host, directives): (Table, LuaString, Table)| {
                store(lua, &this, &host.as_bytes(), &directives)
            },
        )?,
    )?;
    methods.set(
        "remove",
        function(lua, "remove", |_, (this, host): (Table, LuaString)| {
            if let Some(key) = host_key(&host.as_bytes()) {
                with(&this, |e| e.remove(&key))?;
            }
            Ok(true)
        })?,
    )?;
    methods.set(
        "check",
        function(lua, "check", |_, (this, host): (Table, LuaString)| {
            let Some(key) = host_key(&host.as_bytes()) else {
                return Ok(false);
            };
            // (an empty store, the common case, needs no call to store.time)
            if with(&this, |e| e.hosts.is_empty())? {
                return Ok(false);
            }
            let now = now(&this)?;
            with(&this, |e| e.check(&key, now))
        })?,
    )?;
    methods.set(
        "clean_due",
        function(lua, "clean_due", |_, this: Table| {
            match with(&this, |e| e.by_expiry.first().map(|(x, _)| x.0))? {
                None => Ok(Value::Number(f64::INFINITY)),
                Some(next) => Ok(number((next - now(&this)?).max(0.0))),
            }
        })?,
    )?;
    methods.set(
        "clean",
        function(lua, "clean", |_, this: Table| {
            let now = now(&this)?;
            with(&this, |e| e.clean(now))?;
            Ok(true)
        })?,
    )?;

    let module = lua.create_table()?;
    let store_mt = mt.clone();
    module.set(
        "new_store",
        function(lua, "new_store", move |lua, ()| {
            new_store(lua, &store_mt, Entries::default())
        })?,
    )?;
    module.set("store_mt", mt)?;
    module.set("store_methods", methods)?;
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(expires: f64, subdomains: bool) -> Entry {
        Entry {
            expires: Expiry(expires),
            subdomains,
        }
    }

    #[test]
    fn keys() {
        assert_eq!(
            host_key(b"Example.COM.").as_deref(),
            Some(&b"example.com"[..])
        );
        assert_eq!(host_key(b"127.0.0.1"), None);
        assert_eq!(host_key(b"::1"), None);
        assert_eq!(host_key(b"[2001:db8::1]"), None);
        assert_eq!(host_key(b"fe80::1%eth0"), None);
        assert_eq!(host_key(b""), None);
        assert_eq!(host_key(b"."), None);
        assert!(host_key(b"1.2.3.256").is_some());
    }

    #[test]
    fn expiry_and_subdomains() {
        let mut e = Entries::default();
        e.insert(b"example.com"[..].into(), entry(100.0, true));
        e.insert(b"plain.org"[..].into(), entry(50.0, false));
        assert!(e.check(b"a.b.example.com", 100.0));
        assert!(!e.check(b"a.b.example.com", 100.5));
        assert!(e.check(b"plain.org", 10.0));
        assert!(!e.check(b"a.plain.org", 10.0));
        assert!(!e.check(b"xexample.com", 10.0));
        e.insert(b"plain.org"[..].into(), entry(200.0, false));
        assert_eq!(e.by_expiry.len(), 2);
        e.clean(150.0);
        assert_eq!(e.hosts.len(), 1);
        assert_eq!(e.by_expiry.first().map(|x| x.0 .0), Some(200.0));
        e.remove(b"plain.org");
        assert!(e.hosts.is_empty() && e.by_expiry.is_empty());
    }
}
