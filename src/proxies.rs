//! http.proxies: which proxy a request should use, from the usual environment variables.
//!
//! As in lua-http a proxies object is a table holding the raw variables in the fields
//! `http_proxy`, `https_proxy`, `all_proxy` and `no_proxy` (so a program may also set them by
//! hand); `choose` reads them on every call and scans `no_proxy` in place, without allocating.

use crate::hsts::{ip_literal, strip_root};
use crate::runtime::{error, function};
use mlua::{Function, Lua, LuaString, Table, Value};

/// One environment variable through `getenv`: nil and false mean unset.
fn var(lua: &Lua, getenv: &Function, name: &str) -> mlua::Result<Value> {
    match getenv.call::<Value>(name)? {
        v @ (Value::Nil | Value::String(_)) => Ok(v),
        Value::Boolean(false) => Ok(Value::Nil),
        v => match lua.coerce_string(v.clone())? {
            Some(s) => Ok(Value::String(s)),
            None => error(format!("getenv returned a {} for {}", v.type_name(), name)),
        },
    }
}

/// The lower-case variable if set (even to ""), else the upper-case one.
fn either(lua: &Lua, getenv: &Function, lower: &str, upper: &str) -> mlua::Result<Value> {
    match var(lua, getenv, lower)? {
        Value::Nil => var(lua, getenv, upper),
        v => Ok(v),
    }
}

fn update(lua: &Lua, this: &Table, getenv: Option<Function>) -> mlua::Result<()> {
    let getenv = match getenv {
        Some(f) => f,
        None => lua.globals().get::<Table>("os")?.get("getenv")?,
    };
    // Under CGI, HTTP_PROXY comes from the client's "Proxy:" request header (httpoxy), and on
    // case-insensitive systems http_proxy may be that too: only CGI_HTTP_PROXY is trusted there.
    let http = if var(lua, &getenv, "GATEWAY_INTERFACE")?.is_nil() {
        var(lua, &getenv, "http_proxy")?
    } else {
        var(lua, &getenv, "CGI_HTTP_PROXY")?
    };
    this.raw_set("http_proxy", http)?;
    this.raw_set(
        "https_proxy",
        either(lua, &getenv, "https_proxy", "HTTPS_PROXY")?,
    )?;
    this.raw_set("all_proxy", either(lua, &getenv, "all_proxy", "ALL_PROXY")?)?;
    this.raw_set("no_proxy", either(lua, &getenv, "no_proxy", "NO_PROXY")?)?;
    Ok(())
}

/// Split "host:port", "[v6]:port" or "[v6]" into the host and its port, if any. Anything else
/// (a bare IPv6 address, a name) is all host.
fn split_port(s: &[u8]) -> (&[u8], Option<u16>) {
    fn port(p: &[u8]) -> Option<u16> {
        if p.is_empty() || p.len() > 5 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(p).ok()?.parse().ok()
    }
    if let Some(rest) = s.strip_prefix(b"[") {
        if let Some(end) = rest.iter().position(|&b| b == b']') {
            let (host, after) = (&rest[..end], &rest[end + 1..]);
            if after.is_empty() {
                return (host, None);
            }
            if let Some(p) = after.strip_prefix(b":").and_then(port) {
                return (host, Some(p));
            }
        }
        return (s, None);
    }
    let mut colons = s.iter().enumerate().filter(|&(_, &b)| b == b':');
    if let (Some((i, _)), None) = (colons.next(), colons.next()) {
        if let Some(p) = port(&s[i + 1..]) {
            return (&s[..i], Some(p));
        }
    }
    (s, None)
}

/// Whether `no_proxy` exempts `host` (reached on `port`, if known): entries are separated by
/// commas; `*` matches every host; a name matches itself and its subdomains (a leading dot is
/// allowed); an IP address matches that address; an entry with a port matches only that port.
fn bypass(no_proxy: &[u8], host: &[u8], port: Option<u16>) -> bool {
    let host = strip_root(host);
    let host_ip = ip_literal(host);
    no_proxy.split(|&b| b == b',').any(|entry| {
        let entry = entry.trim_ascii();
        if entry == b"*" {
            return true;
        }
        let (name, entry_port) = split_port(entry);
        if entry_port.is_some() && entry_port != port {
            return false;
        }
        match (host_ip, ip_literal(name)) {
            (Some(h), Some(e)) => h == e,
            (None, None) => {
                let name = strip_root(name.strip_prefix(b".").unwrap_or(name));
                !name.is_empty()
                    && (host.eq_ignore_ascii_case(name)
                        || host.len() > name.len()
                            && host[host.len() - name.len() - 1] == b'.'
                            && host[host.len() - name.len()..].eq_ignore_ascii_case(name))
            }
            _ => false,
        }
    })
}

fn default_port(scheme: &[u8]) -> Option<u16> {
    if scheme.eq_ignore_ascii_case(b"http") {
        Some(80)
    } else if scheme.eq_ignore_ascii_case(b"https") {
        Some(443)
    } else {
        None
    }
}

/// The proxy URI for a request with `scheme` to `host`. The port (given, written in `host`, or
/// the scheme's default) only matters for no_proxy entries that name one.
fn choose(
    this: &Table,
    scheme: &[u8],
    host: &[u8],
    port: Option<u16>,
) -> mlua::Result<Option<LuaString>> {
    let field = match default_port(scheme) {
        Some(80) => Some("http_proxy"),
        Some(_) => Some("https_proxy"),
        None => None,
    };
    // A scheme's own variable, even set to "" (= no proxy), overrides all_proxy.
    let proxy = match field
        .map(|f| this.get::<Option<LuaString>>(f))
        .transpose()?
        .flatten()
    {
        Some(p) => Some(p),
        None => this.get::<Option<LuaString>>("all_proxy")?,
    };
    let Some(proxy) = proxy.filter(|p| !p.as_bytes().is_empty()) else {
        return Ok(None);
    };
    if let Some(no_proxy) = this.get::<Option<LuaString>>("no_proxy")? {
        let (host, host_port) = split_port(host);
        if bypass(
            &no_proxy.as_bytes(),
            host,
            port.or(host_port).or(default_port(scheme)),
        ) {
            return Ok(None);
        }
    }
    Ok(Some(proxy))
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let methods = lua.create_table()?;
    let mt = lua.create_table()?;
    mt.set("__name", "http.proxies")?;
    mt.set("__index", &methods)?;
    methods.set(
        "update",
        function(
            lua,
            "update",
            |lua, (this, getenv): (Table, Option<Function>)| {
                update(lua, &this, getenv)?;
                Ok(this)
            },
        )?,
    )?;
    methods.set(
        "choose",
        function(
            lua,
            "choose",
            |_, (this, scheme, host, port): (Table, LuaString, LuaString, Option<f64>)| {
                let port = match port {
                    None => None,
                    Some(p) if p.fract() == 0.0 && (0.0..=65535.0).contains(&p) => Some(p as u16),
                    Some(_) => return error("bad argument #4 to 'choose' (invalid port)"),
                };
                choose(&this, &scheme.as_bytes(), &host.as_bytes(), port)
            },
        )?,
    )?;

    let module = lua.create_table()?;
    let proxies_mt = mt.clone();
    module.set(
        "new",
        function(lua, "new", move |lua, ()| {
            let t = lua.create_table()?;
            t.set_metatable(Some(proxies_mt.clone()))?;
            Ok(t)
        })?,
    )?;
    module.set("methods", methods)?;
    module.set("mt", mt)?;
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(
            split_port(b"example.com:8080"),
            (&b"example.com"[..], Some(8080))
        );
        assert_eq!(split_port(b"example.com"), (&b"example.com"[..], None));
        assert_eq!(split_port(b"example.com:x"), (&b"example.com:x"[..], None));
        assert_eq!(
            split_port(b"example.com:99999"),
            (&b"example.com:99999"[..], None)
        );
        assert_eq!(split_port(b"::1"), (&b"::1"[..], None));
        assert_eq!(split_port(b"[::1]"), (&b"::1"[..], None));
        assert_eq!(split_port(b"[::1]:443"), (&b"::1"[..], Some(443)));
        assert_eq!(split_port(b"1.2.3.4:80"), (&b"1.2.3.4"[..], Some(80)));
    }

    #[test]
    fn no_proxy_rules() {
        let list = b" localhost , .example.com,Foo.ORG.,10.0.0.1,[::1],api.net:8080,,";
        for (host, port, want) in [
            (&b"localhost"[..], None, true),
            (b"a.localhost", None, true),
            (b"example.com", None, true),
            (b"x.y.example.com", None, true),
            (b"xexample.com", None, false),
            (b"A.FOO.org.", None, true),
            (b"10.0.0.1", None, true),
            (b"1.10.0.0.1", None, false),
            (b"0:0::1", None, true),
            (b"api.net", Some(8080), true),
            (b"api.net", Some(80), false),
            (b"api.net", None, false),
            (b"other.com", None, false),
        ] {
            assert_eq!(
                bypass(list, host, port),
                want,
                "{}",
                String::from_utf8_lossy(host)
            );
        }
        assert!(bypass(b"a.com, * ", b"b.com", None));
        assert!(!bypass(b"", b"b.com", None));
        assert!(!bypass(b".", b"b.com", None));
    }
}
