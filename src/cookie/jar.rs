//! The cookie store of RFC 6265bis-02 (sections 5.1.3, 5.1.4, 5.3 and 5.4), without the Lua
//! side: cookies kept per domain, so a lookup visits only the host and its parent domains.
//! Times are whatever the store's `time` function counts in (seconds, os.time by default).

use super::parse::{Attributes, SameSite};
use std::collections::HashMap;

pub struct Cookie {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
    pub path: Vec<u8>,
    /// INFINITY for a session cookie.
    pub expiry: f64,
    creation: f64,
    /// Insertion order, to order cookies created at the same time.
    seq: u64,
    pub host_only: bool,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: SameSite,
}

impl Cookie {
    /// A host-only, insecure, non-HttpOnly cookie created `now`.
    pub fn new(name: &[u8], value: &[u8], path: &[u8], expiry: f64, now: f64) -> Cookie {
        Cookie {
            name: name.to_vec(),
            value: value.to_vec(),
            path: path.to_vec(),
            expiry,
            creation: now,
            seq: 0,
            host_only: true,
            secure: false,
            http_only: false,
            same_site: SameSite::None,
        }
    }

    fn len(&self) -> usize {
        self.name.len() + 1 + self.value.len()
    }

    fn expired(&self, now: f64) -> bool {
        self.expiry < now
    }
}

/// The store's size limits (`max_cookie_length`, `max_cookies`, `max_cookies_per_domain`).
pub struct Limits {
    pub max_length: f64,
    pub max_cookies: f64,
    pub max_per_domain: f64,
}

/// Where a Set-Cookie came from.
pub struct Origin<'a> {
    /// Lower-cased host.
    pub host: &'a [u8],
    pub path: &'a [u8],
    pub is_http: bool,
    pub is_secure: bool,
    /// The site for cookies is the host's registered domain.
    pub same_site: bool,
}

/// What a lookup is for.
pub struct Request<'a> {
    pub host: &'a [u8],
    pub path: &'a [u8],
    pub is_http: bool,
    pub is_secure: bool,
    pub same_site: bool,
    /// A safe method in a top-level browsing context: Lax cookies go along cross-site.
    pub lax_allowed: bool,
    pub max_length: f64,
}

pub struct Jar {
    domains: HashMap<Vec<u8>, Vec<Cookie>>,
    count: usize,
    next_seq: u64,
    /// No cookie expires before this (INFINITY: none expires); exact after a clean.
    due: f64,
}

impl Default for Jar {
    fn default() -> Jar {
        Jar {
            domains: HashMap::new(),
            count: 0,
            next_seq: 0,
            due: f64::INFINITY,
        }
    }
}

pub fn is_ip(host: &[u8]) -> bool {
    let host = host
        .strip_prefix(b"[")
        .and_then(|h| h.strip_suffix(b"]"))
        .unwrap_or(host);
    std::str::from_utf8(host).is_ok_and(|h| h.parse::<std::net::IpAddr>().is_ok())
}

/// Section 5.1.3: `host` is `domain` or a host name below it.
pub fn domain_match(host: &[u8], domain: &[u8]) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host[host.len() - domain.len() - 1] == b'.'
            && !is_ip(host))
}

/// The request path without its query or fragment; "/" when empty.
pub fn request_path(path: &[u8]) -> &[u8] {
    let end = path
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(path.len());
    if end == 0 {
        b"/"
    } else {
        &path[..end]
    }
}

/// Section 5.1.4: the default path of a request path.
pub fn default_path(path: &[u8]) -> &[u8] {
    let path = request_path(path);
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) if i > 0 && path[0] == b'/' => &path[..i],
        _ => b"/",
    }
}

/// Section 5.1.4: `path` (of a request) path-matches `cookie_path`.
pub fn path_match(path: &[u8], cookie_path: &[u8]) -> bool {
    path.starts_with(cookie_path)
        && (path.len() == cookie_path.len()
            || cookie_path.ends_with(b"/")
            || path[cookie_path.len()] == b'/')
}

impl Jar {
    /// Section 5.3: store a cookie received from `origin`. Returns whether it was accepted (a
    /// cookie that arrives already expired is accepted: it only removes its predecessor).
    pub fn store(
        &mut self,
        now: f64,
        limits: &Limits,
        origin: &Origin,
        name: &[u8],
        value: &[u8],
        attrs: Attributes,
    ) -> bool {
        let expiry = match (attrs.max_age, attrs.expires) {
            (Some(age), _) if age <= 0.0 => f64::NEG_INFINITY,
            (Some(age), _) => now + age,
            (None, Some(t)) => t,
            (None, None) => f64::INFINITY,
        };
        let (domain, host_only) = match attrs.domain {
            Some(d) if !d.is_empty() => {
                if !domain_match(origin.host, &d) {
                    return false;
                }
                (d, false)
            }
            _ => (origin.host.to_vec(), true),
        };
        let path = match &attrs.path {
            Some(Some(p)) => p.clone(),
            _ => default_path(origin.path).to_vec(),
        };
        let cookie = Cookie {
            host_only,
            secure: attrs.secure,
            http_only: attrs.http_only,
            same_site: attrs.same_site,
            ..Cookie::new(name, value, &path, expiry, now)
        };
        // An insecure origin can neither set Secure nor overwrite or shadow a secure cookie.
        if (!origin.is_secure && (cookie.secure || self.shadows_secure(&domain, &cookie)))
            || (cookie.http_only && !origin.is_http)
            || (cookie.same_site != SameSite::None && !origin.same_site)
        {
            return false;
        }
        if name.starts_with(b"__Secure-") && !cookie.secure {
            return false;
        }
        let root_path = matches!(&attrs.path, Some(Some(p)) if p == b"/");
        if name.starts_with(b"__Host-") && !(cookie.secure && cookie.host_only && root_path) {
            return false;
        }
        self.put(now, limits, domain, cookie, origin.is_http)
    }

    /// Section 5.3 step 12: an insecure origin may not overwrite or shadow a secure cookie.
    fn shadows_secure(&self, domain: &[u8], new: &Cookie) -> bool {
        self.domains.iter().any(|(d, cookies)| {
            (domain_match(d, domain) || domain_match(domain, d))
                && cookies
                    .iter()
                    .any(|c| c.secure && c.name == new.name && path_match(&new.path, &c.path))
        })
    }

    /// Add or replace (keeping the creation time) a cookie, within the limits.
    pub fn put(
        &mut self,
        now: f64,
        limits: &Limits,
        domain: Vec<u8>,
        mut cookie: Cookie,
        is_http: bool,
    ) -> bool {
        if cookie.len() as f64 > limits.max_length {
            return false;
        }
        self.clean_if_due(now);
        match self.position(&domain, &cookie.path, &cookie.name) {
            Some(i) => {
                let list = self.domains.get_mut(&domain).expect("position found it");
                if list[i].http_only && !is_http {
                    return false;
                }
                let old = list.remove(i);
                cookie.creation = old.creation;
                cookie.seq = old.seq;
                self.count -= 1;
            }
            None => {
                let in_domain = self.domains.get(&domain).map_or(0, Vec::len);
                if !cookie.expired(now)
                    && (self.count as f64 >= limits.max_cookies
                        || in_domain as f64 >= limits.max_per_domain)
                {
                    return false;
                }
                cookie.seq = self.next_seq;
                self.next_seq += 1;
            }
        }
        if cookie.expired(now) {
            self.drop_empty(&domain);
            return true;
        }
        self.due = self.due.min(cookie.expiry);
        self.domains.entry(domain).or_default().push(cookie);
        self.count += 1;
        true
    }

    fn position(&self, domain: &[u8], path: &[u8], name: &[u8]) -> Option<usize> {
        self.domains
            .get(domain)?
            .iter()
            .position(|c| c.path == path && c.name == name)
    }

    fn drop_empty(&mut self, domain: &[u8]) {
        if self.domains.get(domain).is_some_and(Vec::is_empty) {
            self.domains.remove(domain);
        }
    }

    /// Section 5.4: the Cookie header value for a request.
    pub fn lookup(&mut self, now: f64, req: &Request) -> Vec<u8> {
        self.clean_if_due(now);
        let path = request_path(req.path);
        let mut found: Vec<&Cookie> = Vec::new();
        let visible = |c: &&Cookie| {
            path_match(path, &c.path)
                && (!c.secure || req.is_secure)
                && (!c.http_only || req.is_http)
                && match c.same_site {
                    SameSite::None => true,
                    SameSite::Lax => req.same_site || req.lax_allowed,
                    SameSite::Strict => req.same_site,
                }
        };
        if let Some(list) = self.domains.get(req.host) {
            found.extend(list.iter().filter(visible));
        }
        if !is_ip(req.host) {
            for (i, _) in req.host.iter().enumerate().filter(|(_, &b)| b == b'.') {
                if let Some(list) = self.domains.get(&req.host[i + 1..]) {
                    found.extend(list.iter().filter(|c| !c.host_only).filter(visible));
                }
            }
        }
        found.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.creation.total_cmp(&b.creation))
                .then(a.seq.cmp(&b.seq))
        });
        let mut out = Vec::new();
        for c in found {
            let sep = if out.is_empty() { 0 } else { 2 };
            if (out.len() + sep + c.len()) as f64 > req.max_length {
                continue;
            }
            if sep > 0 {
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(&c.name);
            out.push(b'=');
            out.extend_from_slice(&c.value);
        }
        out
    }

    pub fn get(&mut self, now: f64, domain: &[u8], path: &[u8], name: &[u8]) -> Option<&[u8]> {
        self.clean_if_due(now);
        let i = self.position(domain, path, name)?;
        Some(&self.domains[domain][i].value)
    }

    /// Remove the cookie `name` at `domain` and `path`; every cookie at `domain` and `path`
    /// when `name` is None; every cookie of `domain` when `path` is None too.
    pub fn remove(&mut self, domain: &[u8], path: Option<&[u8]>, name: Option<&[u8]>) {
        let Some(list) = self.domains.get_mut(domain) else {
            return;
        };
        let before = list.len();
        list.retain(|c| !(path.is_none_or(|p| c.path == p) && name.is_none_or(|n| c.name == n)));
        self.count -= before - list.len();
        self.drop_empty(domain);
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn clean_if_due(&mut self, now: f64) {
        if self.due < now {
            self.clean(now);
        }
    }

    /// Remove all expired cookies.
    pub fn clean(&mut self, now: f64) {
        self.domains.retain(|_, list| {
            list.retain(|c| !c.expired(now));
            !list.is_empty()
        });
        self.count = self.domains.values().map(Vec::len).sum();
        self.due = self.clean_due();
    }

    /// When the next cookie expires (INFINITY when none will).
    pub fn clean_due(&self) -> f64 {
        self.domains
            .values()
            .flatten()
            .map(|c| c.expiry)
            .fold(f64::INFINITY, f64::min)
    }

    /// All cookies with their domain, oldest first.
    pub fn all(&self) -> Vec<(&[u8], &Cookie)> {
        let mut all: Vec<_> = self
            .domains
            .iter()
            .flat_map(|(d, list)| list.iter().map(move |c| (d.as_slice(), c)))
            .collect();
        all.sort_by_key(|(_, c)| c.seq);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_LIMITS: Limits = Limits {
        max_length: f64::INFINITY,
        max_cookies: f64::INFINITY,
        max_per_domain: f64::INFINITY,
    };

    fn origin(host: &str) -> Origin<'_> {
        Origin {
            host: host.as_bytes(),
            path: b"/a/b",
            is_http: true,
            is_secure: true,
            same_site: true,
        }
    }

    fn request(host: &'static str, path: &'static str) -> Request<'static> {
        Request {
            host: host.as_bytes(),
            path: path.as_bytes(),
            is_http: true,
            is_secure: true,
            same_site: true,
            lax_allowed: true,
            max_length: f64::INFINITY,
        }
    }

    fn attrs(list: &[(&str, Option<&str>)]) -> Attributes {
        let mut a = Attributes::default();
        for (n, v) in list {
            a.set(n.as_bytes(), v.map(str::as_bytes));
        }
        a
    }

    #[test]
    fn matching() {
        assert!(domain_match(b"a.example.com", b"example.com"));
        assert!(!domain_match(b"aexample.com", b"example.com"));
        assert!(!domain_match(b"1.2.3.4", b"2.3.4"));
        assert_eq!(default_path(b"/a/b?x=/y"), b"/a");
        assert_eq!(default_path(b"/a"), b"/");
        assert_eq!(default_path(b"a/b"), b"/");
        assert_eq!(default_path(b""), b"/");
        assert!(path_match(b"/a/b", b"/a"));
        assert!(path_match(b"/a/b", b"/a/"));
        assert!(!path_match(b"/ab", b"/a"));
        assert!(is_ip(b"[::1]") && is_ip(b"10.0.0.1") && !is_ip(b"example.com"));
    }

    #[test]
    fn store_and_lookup_order() {
        let mut jar = Jar::default();
        let o = origin("www.example.com");
        assert!(jar.store(
            0.0,
            &NO_LIMITS,
            &o,
            b"a",
            b"1",
            attrs(&[("Path", Some("/"))])
        ));
        assert!(jar.store(
            1.0,
            &NO_LIMITS,
            &o,
            b"b",
            b"2",
            attrs(&[("Domain", Some(".Example.COM"))])
        ));
        assert!(jar.store(2.0, &NO_LIMITS, &o, b"c", b"3", attrs(&[])));
        assert!(!jar.store(
            2.0,
            &NO_LIMITS,
            &o,
            b"d",
            b"4",
            attrs(&[("Domain", Some("other.com"))])
        ));
        assert_eq!(
            jar.lookup(3.0, &request("www.example.com", "/a/x")),
            b"b=2; c=3; a=1"
        );
        assert_eq!(jar.lookup(3.0, &request("x.example.com", "/a")), b"b=2");
        assert_eq!(jar.lookup(3.0, &request("x.www.example.com", "/")), b"");
        let mut r = request("www.example.com", "/a");
        r.max_length = 8.0;
        assert_eq!(jar.lookup(3.0, &r), b"b=2; c=3");
    }

    #[test]
    fn expiry_and_limits() {
        let mut jar = Jar::default();
        let o = origin("h.com");
        let limits = Limits {
            max_length: 5.0,
            max_cookies: 2.0,
            max_per_domain: f64::INFINITY,
        };
        assert!(jar.store(
            0.0,
            &limits,
            &o,
            b"a",
            b"1",
            attrs(&[("Max-Age", Some("10"))])
        ));
        assert!(jar.store(0.0, &limits, &o, b"b", b"1", attrs(&[])));
        assert!(!jar.store(0.0, &limits, &o, b"c", b"1", attrs(&[])));
        assert!(!jar.store(0.0, &limits, &o, b"b", b"12345", attrs(&[])));
        assert_eq!(jar.clean_due(), 10.0);
        assert!(jar.store(11.0, &limits, &o, b"c", b"1", attrs(&[])));
        assert_eq!(jar.clean_due(), f64::INFINITY);
        assert!(jar.store(
            11.0,
            &limits,
            &o,
            b"b",
            b"2",
            attrs(&[("Max-Age", Some("0"))])
        ));
        assert_eq!(jar.get(11.0, b"h.com", b"/a", b"b"), None);
        assert_eq!(jar.get(11.0, b"h.com", b"/a", b"c"), Some(&b"1"[..]));
    }
}
