//! http.cookie: Cookie and Set-Cookie parsing and baking, and lua-http's cookie store.
//!
//! A store is a Lua table, as in lua-http, whose metatable's __index is `store_methods`: the
//! fields `psl`, `time`, `max_cookie_length`, `max_cookies` and `max_cookies_per_domain` live
//! there as defaults that a store can override, and the store calls the current `time`. The
//! cookies live in a `Jar` userdata under a private key. The jar is our own rather than the
//! cookie_store crate: that crate reads the system clock, has no SameSite, site for cookies or
//! per-domain limit, keys everything by URL and wants UTF-8 names and values.

mod jar;
mod netscape;
mod parse;

use crate::runtime::{error, function};
use jar::{Jar, Limits, Origin, Request};
use mlua::{
    AnyUserData, FromLuaMulti, IntoLuaMulti, LightUserData, Lua, LuaString, MultiValue, ObjectLike,
    Table, UserDataRefMut, Value,
};
use parse::{Attributes, SetCookie};

static JAR_KEY: u8 = 0;

fn jar_key() -> LightUserData {
    LightUserData(&JAR_KEY as *const u8 as *mut std::ffi::c_void)
}

fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Nil | Value::Boolean(false))
}

fn number(v: &Value) -> Option<f64> {
    match *v {
        Value::Integer(i) => Some(i as f64),
        Value::Number(n) if !n.is_nan() => Some(n),
        _ => None,
    }
}

/// A number for Lua: an integer when it is one (Lua 5.3+ prints it without ".0").
fn to_lua_number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9007199254740992.0 {
        Value::Integer(n as i64)
    } else {
        Value::Number(n)
    }
}

fn string_arg(v: Value) -> Option<LuaString> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// Call `obj:name(arg)` on a table or userdata (an http.headers object, a psl object).
fn call_method<R: FromLuaMulti>(
    obj: &Value,
    name: &str,
    arg: impl IntoLuaMulti,
) -> mlua::Result<R> {
    match obj {
        Value::Table(t) => t.call_method(name, arg),
        Value::UserData(u) => u.call_method(name, arg),
        other => error(format!(
            "attempt to call method '{name}' on a {} value",
            other.type_name()
        )),
    }
}

fn header(headers: &Value, name: &str) -> mlua::Result<Option<LuaString>> {
    Ok(string_arg(call_method(headers, "get", name)?))
}

/// Every value of header `name`, in order.
fn header_values(headers: &Value, name: &str) -> mlua::Result<Vec<LuaString>> {
    let seq: Table = call_method(headers, "get_as_sequence", name)?;
    let n = number(&seq.raw_get("n")?).map_or(seq.raw_len(), |n| n as usize);
    (1..=n)
        .filter_map(|i| seq.raw_get::<Value>(i).map(string_arg).transpose())
        .collect()
}

/// The host of an authority: no userinfo, no port, no IPv6 brackets; lower-cased.
fn authority_host(a: &[u8]) -> Vec<u8> {
    let a = a
        .iter()
        .rposition(|&b| b == b'@')
        .map_or(a, |i| &a[i + 1..]);
    let host = match a.strip_prefix(b"[") {
        Some(rest) => rest
            .iter()
            .position(|&b| b == b']')
            .map_or(a, |i| &rest[..i]),
        None => a.iter().position(|&b| b == b':').map_or(a, |i| &a[..i]),
    };
    host.to_ascii_lowercase()
}

/// The path of a :path header, also in absolute form ("http://host/path").
fn target_path(p: &[u8]) -> &[u8] {
    if p.first() == Some(&b'/') {
        return p;
    }
    let Some(i) = p.windows(3).position(|w| w == b"://") else {
        return b"/";
    };
    let rest = &p[i + 3..];
    rest.iter()
        .position(|&b| b == b'/')
        .map_or(b"/", |j| &rest[j..])
}

/// What a request's headers say about where it goes.
struct Target {
    host: Vec<u8>,
    path: Vec<u8>,
    is_secure: bool,
    is_safe: bool,
}

fn target(headers: &Value, host: Option<LuaString>) -> mlua::Result<Target> {
    let host = match (header(headers, ":authority")?, host) {
        (Some(a), _) => authority_host(&a.as_bytes()),
        (None, Some(h)) => h.as_bytes().to_ascii_lowercase(),
        (None, None) => return error("the request has no :authority header and no host was given"),
    };
    let path =
        header(headers, ":path")?.map_or(b"/".to_vec(), |p| target_path(&p.as_bytes()).to_vec());
    let is_secure =
        header(headers, ":scheme")?.is_some_and(|s| s.as_bytes().eq_ignore_ascii_case(b"https"));
    let is_safe = header(headers, ":method")?
        .is_none_or(|m| matches!(&m.as_bytes()[..], b"GET" | b"HEAD" | b"OPTIONS" | b"TRACE"));
    Ok(Target {
        host,
        path,
        is_secure,
        is_safe,
    })
}

/// A store table and its jar.
struct Store {
    lua: Lua,
    t: Table,
    jar: AnyUserData,
}

impl Store {
    fn of(lua: &Lua, this: Value, method: &str) -> mlua::Result<Store> {
        if let Value::Table(t) = &this {
            if let Value::UserData(jar) = t.raw_get(jar_key())? {
                return Ok(Store {
                    lua: lua.clone(),
                    t: t.clone(),
                    jar,
                });
            }
        }
        error(format!(
            "bad argument #1 to '{method}' (cookie store expected, got {})",
            this.type_name()
        ))
    }

    /// The jar, borrowed: call no Lua while holding it.
    fn jar(&self) -> mlua::Result<UserDataRefMut<Jar>> {
        self.jar.borrow_mut::<Jar>()
    }

    fn now(&self) -> mlua::Result<f64> {
        let t = match self.t.get::<Value>("time")? {
            Value::Function(f) => f.call::<Value>(())?,
            other => {
                return error(format!(
                    "store.time must be a function, got {}",
                    other.type_name()
                ))
            }
        };
        number(&t).map_or_else(
            || {
                error(format!(
                    "store.time() returned {}, not a number",
                    t.type_name()
                ))
            },
            Ok,
        )
    }

    fn field(&self, key: &str) -> mlua::Result<f64> {
        let v = self.t.get::<Value>(key)?;
        number(&v).map_or_else(
            || {
                error(format!(
                    "store.{key} must be a number, got {}",
                    v.type_name()
                ))
            },
            Ok,
        )
    }

    fn limits(&self) -> mlua::Result<Limits> {
        Ok(Limits {
            max_length: self.field("max_cookie_length")?,
            max_cookies: self.field("max_cookies")?,
            max_per_domain: self.field("max_cookies_per_domain")?,
        })
    }

    /// The store's lua-psl object, if it has one.
    fn psl(&self) -> mlua::Result<Option<Value>> {
        let psl = self.t.get::<Value>("psl")?;
        Ok(truthy(&psl).then_some(psl))
    }

    /// The registered domain of `host` (the host itself without a public suffix list).
    fn registered(&self, psl: &Option<Value>, host: &[u8]) -> mlua::Result<Vec<u8>> {
        if let Some(psl) = psl {
            if let Some(d) = string_arg(call_method(
                psl,
                "registrable_domain",
                self.lua.create_string(host)?,
            )?) {
                return Ok(d.as_bytes().to_ascii_lowercase());
            }
        }
        Ok(host.to_ascii_lowercase())
    }

    /// RFC 6265bis-02 section 5.2: a request to `host` from `site` is same-site; an unknown
    /// site counts as cross-site.
    fn same_site(&self, host: &[u8], site: Option<LuaString>) -> mlua::Result<bool> {
        let Some(site) = site else { return Ok(false) };
        let psl = self.psl()?;
        Ok(self.registered(&psl, &site.as_bytes())? == self.registered(&psl, host)?)
    }

    /// Section 5.3 step 5: a Domain attribute naming a public suffix is refused, unless it is
    /// the host itself (then the cookie is host-only). False when the cookie must be refused.
    fn check_public_suffix(&self, host: &[u8], attrs: &mut Attributes) -> mlua::Result<bool> {
        let (Some(psl), Some(domain)) = (self.psl()?, attrs.domain.as_deref()) else {
            return Ok(true);
        };
        if domain.is_empty()
            || !truthy(&call_method::<Value>(
                &psl,
                "is_public_suffix",
                self.lua.create_string(domain)?,
            )?)
        {
            return Ok(true);
        }
        if domain != host {
            return Ok(false);
        }
        attrs.domain = None;
        Ok(true)
    }

    fn set_cookie(
        &self,
        origin: &Origin,
        name: &[u8],
        value: &[u8],
        mut attrs: Attributes,
    ) -> mlua::Result<bool> {
        if !self.check_public_suffix(origin.host, &mut attrs)? {
            return Ok(false);
        }
        let (now, limits) = (self.now()?, self.limits()?);
        Ok(self.jar()?.store(now, &limits, origin, name, value, attrs))
    }

    fn lookup(
        &self,
        req: &mut Request,
        site: Option<LuaString>,
        max_length: Option<f64>,
    ) -> mlua::Result<Vec<u8>> {
        req.same_site = self.same_site(req.host, site)?;
        if self.jar()?.is_empty() {
            // (most stores of most requests: no call to store.time)
            return Ok(Vec::new());
        }
        req.max_length = match max_length {
            Some(n) => n,
            None => self.field("max_cookie_length")?,
        };
        let now = self.now()?;
        Ok(self.jar()?.lookup(now, req))
    }
}

/// The params table of store(): attribute names lower-cased, values strings (as from
/// parse_setcookie) or true. Numbers are taken for max-age (seconds) and expires (a time).
fn attributes_of(params: Option<Table>) -> mlua::Result<Attributes> {
    let mut attrs = Attributes::default();
    let Some(params) = params else {
        return Ok(attrs);
    };
    for key in [
        "expires", "max-age", "domain", "path", "secure", "httponly", "samesite",
    ] {
        let v = params.get::<Value>(key)?;
        match (&v, number(&v)) {
            (Value::String(s), _) => attrs.set(key.as_bytes(), Some(&s.as_bytes())),
            (_, Some(n)) if key == "max-age" => attrs.max_age = Some(n),
            (_, Some(n)) if key == "expires" => attrs.expires = Some(n),
            _ if truthy(&v) => attrs.set(key.as_bytes(), None),
            _ => {}
        }
    }
    Ok(attrs)
}

/// An optional string argument of bake (nil or false: absent).
fn bake_string(lua: &Lua, v: Value, pos: usize) -> mlua::Result<Option<LuaString>> {
    match v {
        Value::Nil | Value::Boolean(false) => Ok(None),
        Value::String(s) => Ok(Some(s)),
        v @ (Value::Integer(_) | Value::Number(_)) => lua.coerce_string(v),
        v => error(format!(
            "bad argument #{pos} to 'bake' (string expected, got {})",
            v.type_name()
        )),
    }
}

type BakeArgs = (
    LuaString,
    LuaString,
    Option<f64>,
    Value,
    Value,
    Value,
    Value,
    Value,
);

fn bake(
    lua: &Lua,
    (name, value, expiry, domain, path, secure, http_only, same_site): BakeArgs,
) -> mlua::Result<LuaString> {
    let same_site = match bake_string(lua, same_site, 8)? {
        None => None,
        Some(s) => match &s.as_bytes()[..] {
            v if v.eq_ignore_ascii_case(b"strict") => Some("Strict"),
            v if v.eq_ignore_ascii_case(b"lax") => Some("Lax"),
            v if v.eq_ignore_ascii_case(b"none") => Some("None"),
            _ => {
                return error(
                    r#"bad argument #8 to 'bake' (invalid value for same_site, expected "strict", "lax" or "none")"#,
                )
            }
        },
    };
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&name.as_bytes());
    out.push(b'=');
    out.extend_from_slice(&value.as_bytes());
    match expiry {
        Some(t) if t.is_nan() => return error("bad argument #3 to 'bake' (expiry_time is NaN)"),
        Some(t) if t == f64::NEG_INFINITY => out.extend_from_slice(b"; Max-Age=0"),
        Some(t) if t.is_finite() => {
            out.extend_from_slice(b"; Expires=");
            parse::imf_date(t, &mut out);
        }
        _ => {}
    }
    for (label, v) in [
        ("; Domain=", bake_string(lua, domain, 4)?),
        ("; Path=", bake_string(lua, path, 5)?),
    ] {
        if let Some(v) = v {
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(&v.as_bytes());
        }
    }
    if truthy(&secure) {
        out.extend_from_slice(b"; Secure");
    }
    if truthy(&http_only) {
        out.extend_from_slice(b"; HttpOnly");
    }
    if let Some(s) = same_site {
        out.extend_from_slice(b"; SameSite=");
        out.extend_from_slice(s.as_bytes());
    }
    lua.create_string(out)
}

fn parse_cookie_into(lua: &Lua, t: &Table, header: &[u8]) -> mlua::Result<()> {
    for (name, value) in parse::cookie_pairs(header) {
        t.raw_set(lua.create_string(name)?, lua.create_string(value)?)?;
    }
    Ok(())
}

fn parse_setcookie(lua: &Lua, s: LuaString) -> mlua::Result<MultiValue> {
    let bytes = s.as_bytes();
    let Some(sc) = SetCookie::parse(&bytes) else {
        return Ok(MultiValue::new());
    };
    let params = lua.create_table()?;
    for (name, value) in sc.attributes() {
        let value = match value {
            Some(v) => Value::String(lua.create_string(v)?),
            None => Value::Boolean(true),
        };
        params.raw_set(lua.create_string(name.to_ascii_lowercase())?, value)?;
    }
    (
        lua.create_string(sc.name)?,
        lua.create_string(sc.value)?,
        params,
    )
        .into_lua_multi(lua)
}

fn lower(s: &LuaString) -> Vec<u8> {
    s.as_bytes().to_ascii_lowercase()
}

type StoreArgs = (
    Value,
    LuaString,
    LuaString,
    Value,
    Value,
    Value,
    LuaString,
    LuaString,
    Option<Table>,
);
type LookupArgs = (
    Value,
    LuaString,
    LuaString,
    Value,
    Value,
    Value,
    Value,
    Value,
    Option<f64>,
);

fn store_methods(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set("psl", false)?;
    m.set(
        "time",
        function(lua, "time", |_, ()| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            Ok(now.map_or(0, |d| d.as_secs() as i64))
        })?,
    )?;
    for key in ["max_cookie_length", "max_cookies", "max_cookies_per_domain"] {
        m.set(key, f64::INFINITY)?;
    }
    m.set(
        "store",
        function(lua, "store", |lua, (this, domain, path, is_http, is_secure, site, name, value, params): StoreArgs| {
            let s = Store::of(lua, this, "store")?;
            let host = lower(&domain);
            let origin = Origin {
                host: &host,
                path: &path.as_bytes(),
                is_http: truthy(&is_http),
                is_secure: truthy(&is_secure),
                same_site: s.same_site(&host, string_arg(site))?,
            };
            s.set_cookie(&origin, &name.as_bytes(), &value.as_bytes(), attributes_of(params)?)
        })?,
    )?;
    m.set(
        "store_from_request",
        function(lua, "store_from_request", |lua, (this, req, resp, host, site): (Value, Value, Value, Option<LuaString>, Value)| {
            let s = Store::of(lua, this, "store_from_request")?;
            let t = target(&req, host)?;
            let origin = Origin {
                host: &t.host,
                path: &t.path,
                is_http: true,
                is_secure: t.is_secure,
                same_site: s.same_site(&t.host, string_arg(site))?,
            };
            for set_cookie in header_values(&resp, "set-cookie")? {
                let bytes = set_cookie.as_bytes();
                if let Some(sc) = SetCookie::parse(&bytes) {
                    s.set_cookie(&origin, sc.name, sc.value, Attributes::from_set_cookie(&sc))?;
                }
            }
            Ok(true)
        })?,
    )?;
    m.set(
        "get",
        function(
            lua,
            "get",
            |lua, (this, domain, path, name): (Value, LuaString, LuaString, LuaString)| {
                let s = Store::of(lua, this, "get")?;
                let now = s.now()?;
                let mut jar = s.jar()?;
                jar.get(now, &lower(&domain), &path.as_bytes(), &name.as_bytes())
                    .map(|v| lua.create_string(v))
                    .transpose()
            },
        )?,
    )?;
    m.set(
        "remove",
        function(
            lua,
            "remove",
            |lua,
             (this, domain, path, name): (
                Value,
                LuaString,
                Option<LuaString>,
                Option<LuaString>,
            )| {
                let s = Store::of(lua, this, "remove")?;
                let (path, name) = (
                    path.map(|p| p.as_bytes().to_vec()),
                    name.map(|n| n.as_bytes().to_vec()),
                );
                s.jar()?
                    .remove(&lower(&domain), path.as_deref(), name.as_deref());
                Ok(())
            },
        )?,
    )?;
    m.set(
        "lookup",
        function(
            lua,
            "lookup",
            |lua, (this, domain, path, is_http, is_secure, is_safe, site, top, max): LookupArgs| {
                let s = Store::of(lua, this, "lookup")?;
                let host = lower(&domain);
                let path = path.as_bytes();
                let mut req = Request {
                    host: &host,
                    path: &path,
                    is_http: truthy(&is_http),
                    is_secure: truthy(&is_secure),
                    same_site: false,
                    lax_allowed: truthy(&is_safe) && truthy(&top),
                    max_length: f64::INFINITY,
                };
                lua.create_string(s.lookup(&mut req, string_arg(site), max)?)
            },
        )?,
    )?;
    m.set(
        "lookup_for_request",
        function(
            lua,
            "lookup_for_request",
            |lua,
             (this, headers, host, site, top, max): (
                Value,
                Value,
                Option<LuaString>,
                Value,
                Value,
                Option<f64>,
            )| {
                let s = Store::of(lua, this, "lookup_for_request")?;
                let t = target(&headers, host)?;
                let mut req = Request {
                    host: &t.host,
                    path: &t.path,
                    is_http: true,
                    is_secure: t.is_secure,
                    same_site: false,
                    lax_allowed: t.is_safe && truthy(&top),
                    max_length: f64::INFINITY,
                };
                lua.create_string(s.lookup(&mut req, string_arg(site), max)?)
            },
        )?,
    )?;
    m.set(
        "clean_due",
        // Seconds until the next cookie expires (as the manual says; the original gave the
        // absolute time), 0 if one already has, math.huge if none will.
        function(lua, "clean_due", |lua, this: Value| {
            let s = Store::of(lua, this, "clean_due")?;
            let now = s.now()?;
            Ok(to_lua_number((s.jar()?.clean_due() - now).max(0.0)))
        })?,
    )?;
    m.set(
        "clean",
        function(lua, "clean", |lua, this: Value| {
            let s = Store::of(lua, this, "clean")?;
            let now = s.now()?;
            s.jar()?.clean(now);
            Ok(true)
        })?,
    )?;
    Ok(m)
}

/// load_from_file and save_to_file: Lua (files.lua) calls the file's :read and :write, which
/// may yield; these do the rest.
fn file_helpers(lua: &Lua) -> mlua::Result<(mlua::Function, mlua::Function)> {
    let load = function(
        lua,
        "load_from_file",
        |lua, (this, text): (Value, LuaString)| {
            let s = Store::of(lua, this, "load_from_file")?;
            let (now, limits) = (s.now()?, s.limits()?);
            netscape::read(&mut *s.jar()?, now, &limits, &text.as_bytes());
            Ok(())
        },
    )?;
    let dump = function(lua, "save_to_file", |lua, this: Value| {
        let s = Store::of(lua, this, "save_to_file")?;
        let now = s.now()?;
        lua.create_string(netscape::write(&*s.jar()?, now))
    })?;
    Ok((load, dump))
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    crate::runtime::register_type::<Jar>(lua, &lua.create_table()?, |_| {})?;
    let t = lua.create_table()?;
    t.set("bake", function(lua, "bake", bake)?)?;
    t.set(
        "parse_cookie",
        function(lua, "parse_cookie", |lua, cookie: LuaString| {
            let t = lua.create_table()?;
            parse_cookie_into(lua, &t, &cookie.as_bytes())?;
            Ok(t)
        })?,
    )?;
    t.set(
        "parse_cookies",
        function(lua, "parse_cookies", |lua, headers: Value| {
            let t = lua.create_table()?;
            for cookie in header_values(&headers, "cookie")? {
                parse_cookie_into(lua, &t, &cookie.as_bytes())?;
            }
            Ok(t)
        })?,
    )?;
    t.set(
        "parse_setcookie",
        function(lua, "parse_setcookie", parse_setcookie)?,
    )?;

    let methods = store_methods(lua)?;
    let (load, dump) = file_helpers(lua)?;
    lua.load(include_str!("files.lua"))
        .set_name("=http.cookie")
        .call::<()>((methods.clone(), load, dump))?;
    let mt = lua.create_table()?;
    mt.set("__index", methods.clone())?;
    t.set("store_methods", methods)?;
    t.set("store_mt", mt.clone())?;
    t.set(
        "new_store",
        function(lua, "new_store", move |lua, ()| {
            let store = lua.create_table()?;
            store.raw_set(jar_key(), lua.create_any_userdata(Jar::default())?)?;
            store.set_metatable(Some(mt.clone()))?;
            Ok(store)
        })?,
    )?;
    Ok(t)
}
