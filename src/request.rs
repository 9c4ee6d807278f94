//! http.request's URI parsing (the module itself is lua/http/request.lua). A plain C function:
//! every `new_from_uri` parses its URI, and Lua patterns made that a quarter of a request's
//! Lua-thread instructions (callgrind: 31k per `new_from_uri`, 20k of them in pattern matching).

use crate::runtime::raw;
use crate::util::authority;
use mlua::ffi::{self, lua_State};
use mlua::{Lua, Table};
use std::borrow::Cow;
use std::os::raw::c_int;

/// An absolute URI's parts: `scheme://[userinfo@]host[:port]path`, fragment dropped.
#[derive(Debug, PartialEq)]
struct Parts<'a> {
    scheme: Cow<'a, [u8]>,
    userinfo: Option<&'a [u8]>,
    host: Cow<'a, [u8]>,
    port: Option<u16>,
    /// Without its leading '/' when the URI has none (the caller adds it).
    path: &'a [u8],
}

fn lower(s: &[u8]) -> Cow<'_, [u8]> {
    if s.iter().any(u8::is_ascii_uppercase) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Host and port of `host[:digits]` or `[v6][:digits]`; the colon is optional before digits,
/// as in the patterns this replaces.
fn host_port(s: &[u8]) -> Option<(&[u8], Option<u16>)> {
    let (host, rest) = match s.strip_prefix(b"[") {
        Some(inner) => {
            let close = inner.iter().position(|&b| b == b']')?;
            let host = &inner[..close];
            if host.is_empty() || !host.iter().all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
                return None;
            }
            (host, &inner[close + 1..])
        }
        None => {
            let end = s.iter().position(|&b| matches!(b, b':' | b'[' | b']')).unwrap_or(s.len());
            if end == 0 {
                return None;
            }
            (&s[..end], &s[end..])
        }
    };
    let digits = rest.strip_prefix(b":").unwrap_or(rest);
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let port = if digits.is_empty() { None } else { Some(authority::port(digits)?) };
    Some((host, port))
}

fn parse(uri: &[u8]) -> Option<Parts<'_>> {
    if uri.iter().any(|&b| b < 32 || b == 127 || b == b' ') {
        return None;
    }
    let sep = uri.iter().position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')))?;
    if sep == 0 || !uri[0].is_ascii_alphabetic() || !uri[sep..].starts_with(b"://") {
        return None;
    }
    let rest = &uri[sep + 3..];
    let end = rest.iter().position(|&b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    let path = &rest[..rest.iter().position(|&b| b == b'#').unwrap_or(rest.len())];
    // The last '@' ends the userinfo.
    let (userinfo, hostport) = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let (host, port) = host_port(hostport)?;
    Some(Parts { scheme: lower(&uri[..sep]), userinfo, host: lower(host), port, path })
}

/// parse_uri(uri): scheme (lower-case), userinfo or nil, host (lower-case, no brackets), port
/// or nil (the scheme's default is for the caller), path (origin-form, "/" at least); or nil.
unsafe extern "C-unwind" fn parse_uri(l: *mut lua_State) -> c_int {
    if ffi::lua_type(l, 1) != ffi::LUA_TSTRING {
        return 0;
    }
    let mut len = 0;
    let p = ffi::lua_tolstring(l, 1, &mut len);
    let uri = std::slice::from_raw_parts(p as *const u8, len);
    let Some(Some(parts)) = raw::catch(|| parse(uri)) else { return 0 };
    raw::push_bytes(l, &parts.scheme);
    match parts.userinfo {
        Some(u) => raw::push_bytes(l, u),
        None => ffi::lua_pushnil(l),
    }
    raw::push_bytes(l, &parts.host);
    match parts.port {
        Some(n) => ffi::lua_pushinteger(l, n.into()),
        None => ffi::lua_pushnil(l),
    }
    if parts.path.first() == Some(&b'/') {
        raw::push_bytes(l, parts.path);
    } else {
        raw::push_bytes(l, &[b"/", parts.path].concat());
    }
    5
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("parse_uri", unsafe { lua.create_c_function(parse_uri)? })?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(uri: &str) -> Option<(String, Option<String>, String, Option<u16>, String)> {
        let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        parse(uri.as_bytes()).map(|x| (s(&x.scheme), x.userinfo.map(s), s(&x.host), x.port, s(x.path)))
    }

    #[test]
    fn parses_absolute_uris() {
        let t = |a: &str, u: Option<&str>, h: &str, port: Option<u16>, path: &str| {
            Some((a.to_string(), u.map(str::to_string), h.to_string(), port, path.to_string()))
        };
        assert_eq!(p("http://127.0.0.1:8080/"), t("http", None, "127.0.0.1", Some(8080), "/"));
        assert_eq!(p("HTTPS://User:Pw@Example.COM/a?b#frag"), t("https", Some("User:Pw"), "example.com", None, "/a?b"));
        assert_eq!(p("http://a@b@host?q"), t("http", Some("a@b"), "host", None, "?q"));
        assert_eq!(p("http://[::1]:80"), t("http", None, "::1", Some(80), ""));
        assert_eq!(p("http://[::1]"), t("http", None, "::1", None, ""));
        assert_eq!(p("http://host:/x"), t("http", None, "host", None, "/x"));
        assert_eq!(p("socks5h://h:0"), t("socks5h", None, "h", Some(0), ""));
        assert_eq!(p("http://host:0065535/"), t("http", None, "host", Some(65535), "/"));
    }

    #[test]
    fn refuses_malformed_ones() {
        for bad in [
            "http://host:65536/", "http://host:99999999999999999999/", "http://host:8a/", "http://:80/",
            "http:///x", "http://[]/", "http://[::1/", "http://[g::1]/", "http://a[b/", "1http://h/",
            "http:/h/", "//h/", "http://h/a b", "http://h/\t", "http://h/\x7f", "",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }
}
