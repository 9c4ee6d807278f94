//! Cookie syntax: the Cookie header, Set-Cookie strings and their attributes, cookie dates
//! (RFC 6265bis-02 sections 4, 5.1.1 and 5.2). Cookie names and values are bytes.

/// SameSite enforcement of a cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SameSite {
    #[default]
    None,
    Lax,
    Strict,
}

impl SameSite {
    /// "Strict" and "Lax" (any case) restrict; anything else, like lua-http, does not.
    pub fn parse(v: &[u8]) -> SameSite {
        if v.eq_ignore_ascii_case(b"strict") {
            SameSite::Strict
        } else if v.eq_ignore_ascii_case(b"lax") {
            SameSite::Lax
        } else {
            SameSite::None
        }
    }
}

pub fn trim(s: &[u8]) -> &[u8] {
    let is_wsp = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !is_wsp(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_wsp(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

/// lua-http hands out cookie values without their surrounding double quotes.
fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

/// The name/value pairs of a Cookie header ("a=b; c=d"). Whitespace around names and values is
/// dropped; empty pairs, pairs without '=' and pairs with an empty name are skipped.
pub fn cookie_pairs(s: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    s.split(|&b| b == b';').filter_map(|pair| {
        let (name, value) = split_once(pair, b'=')?;
        let name = trim(name);
        (!name.is_empty()).then(|| (name, unquote(trim(value))))
    })
}

/// A Set-Cookie string split as RFC 6265bis-02 section 5.2 says: the name, the value and the
/// attributes in order (name trimmed but not lower-cased; value None for a bare "Secure").
/// None when the string lacks '=' in its first part or has an empty name.
pub struct SetCookie<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    rest: &'a [u8],
}

impl<'a> SetCookie<'a> {
    pub fn parse(s: &'a [u8]) -> Option<SetCookie<'a>> {
        let (pair, rest) = split_once(s, b';').unwrap_or((s, b""));
        let (name, value) = split_once(pair, b'=')?;
        let name = trim(name);
        if name.is_empty() {
            return None;
        }
        Some(SetCookie {
            name,
            value: unquote(trim(value)),
            rest,
        })
    }

    pub fn attributes(&self) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> {
        let rest = self.rest;
        rest.split(|&b| b == b';').filter_map(|av| {
            let (name, value) = match split_once(av, b'=') {
                Some((n, v)) => (trim(n), Some(trim(v))),
                None => (trim(av), None),
            };
            (!name.is_empty()).then_some((name, value))
        })
    }
}

/// The attributes of a Set-Cookie, interpreted (RFC 6265bis-02 sections 5.2.1 to 5.2.7).
#[derive(Default, Debug)]
pub struct Attributes {
    /// Max-Age in seconds, from the last valid Max-Age.
    pub max_age: Option<f64>,
    /// Expires as a time, from the last valid Expires.
    pub expires: Option<f64>,
    /// Domain lower-cased without its leading dot; empty means host-only.
    pub domain: Option<Vec<u8>>,
    /// Some(None): a Path attribute that asks for the default path.
    pub path: Option<Option<Vec<u8>>>,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: SameSite,
}

impl Attributes {
    pub fn from_set_cookie(sc: &SetCookie) -> Attributes {
        let mut a = Attributes::default();
        for (name, value) in sc.attributes() {
            a.set(name, value);
        }
        a
    }

    /// Apply one attribute; `name` is matched case-insensitively, unknown ones are ignored.
    pub fn set(&mut self, name: &[u8], value: Option<&[u8]>) {
        let value = value.unwrap_or(b"");
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("expires") {
            if let Some(t) = parse_date(value) {
                self.expires = Some(t);
            }
        } else if is("max-age") {
            if let Some(d) = parse_max_age(value) {
                self.max_age = Some(d);
            }
        } else if is("domain") {
            if !value.is_empty() {
                let d = value.strip_prefix(b".").unwrap_or(value);
                self.domain = Some(d.to_ascii_lowercase());
            }
        } else if is("path") {
            self.path = Some((value.first() == Some(&b'/')).then(|| value.to_vec()));
        } else if is("secure") {
            self.secure = true;
        } else if is("httponly") {
            self.http_only = true;
        } else if is("samesite") {
            self.same_site = SameSite::parse(value);
        }
    }
}

/// Max-Age: an optional '-' and digits, else None (section 5.2.2).
fn parse_max_age(v: &[u8]) -> Option<f64> {
    let digits = v.strip_prefix(b"-").unwrap_or(v);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: f64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if digits.len() < v.len() { -n } else { n })
}

fn is_delimiter(b: u8) -> bool {
    matches!(b, 0x09 | 0x20..=0x2F | 0x3B..=0x40 | 0x5B..=0x60 | 0x7B..=0x7E)
}

/// `min..=max` leading digits followed by a non-digit or the end of the token.
fn leading_number(tok: &[u8], min: usize, max: usize) -> Option<(u32, &[u8])> {
    let n = tok.iter().take_while(|b| b.is_ascii_digit()).count();
    if n < min || n > max {
        return None;
    }
    let v = tok[..n]
        .iter()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    Some((v, &tok[n..]))
}

/// hms-time: three 1*2DIGIT fields separated by ':'.
fn parse_time(tok: &[u8]) -> Option<(u32, u32, u32)> {
    let (h, rest) = leading_number(tok, 1, 2)?;
    let (m, rest) = leading_number(rest.strip_prefix(b":")?, 1, 2)?;
    let (s, _) = leading_number(rest.strip_prefix(b":")?, 1, 2)?;
    Some((h, m, s))
}

fn parse_month(tok: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let prefix = tok.get(..3)?;
    MONTHS
        .iter()
        .position(|m| prefix.eq_ignore_ascii_case(m))
        .map(|i| i as u32 + 1)
}

/// A cookie-date (section 5.1.1) as seconds since the epoch; None when it does not parse.
pub fn parse_date(s: &[u8]) -> Option<f64> {
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for tok in s.split(|&b| is_delimiter(b)).filter(|t| !t.is_empty()) {
        if time.is_none() {
            if let Some(t) = parse_time(tok) {
                time = Some(t);
                continue;
            }
        }
        if day.is_none() {
            if let Some((d, _)) = leading_number(tok, 1, 2) {
                day = Some(d);
                continue;
            }
        }
        if month.is_none() {
            if let Some(m) = parse_month(tok) {
                month = Some(m);
                continue;
            }
        }
        if year.is_none() {
            if let Some((y, _)) = leading_number(tok, 2, 4) {
                year = Some(y);
            }
        }
    }
    let ((h, mi, sec), d, mo, mut y) = (time?, day?, month?, year?);
    if (70..=99).contains(&y) {
        y += 1900;
    } else if y <= 69 {
        y += 2000;
    }
    if !(1..=days_in_month(y, mo)).contains(&d) || y < 1601 || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    Some((days * 86400 + i64::from(h * 3600 + mi * 60 + sec)) as f64)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = ((mp + 2) % 12 + 1) as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// An IMF-fixdate ("Thu, 01 Jan 1970 00:00:00 GMT"), clamped to the years 1 to 9999.
pub fn imf_date(t: f64, out: &mut Vec<u8>) {
    const MIN: f64 = -62135596800.0; // 0001-01-01T00:00:00Z
    const MAX: f64 = 253402300799.0; // 9999-12-31T23:59:59Z
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = t.floor().clamp(MIN, MAX) as i64;
    let (days, secs) = (t.div_euclid(86400), t.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    let s = format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[m as usize - 1],
        y,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Option<f64> {
        parse_date(s.as_bytes())
    }

    #[test]
    fn dates() {
        let t = Some(784111777.0);
        assert_eq!(date("Sun, 06 Nov 1994 08:49:37 GMT"), t);
        assert_eq!(date("Sunday, 06-Nov-94 08:49:37 GMT"), t);
        assert_eq!(date("Sun Nov  6 08:49:37 1994"), t);
        assert_eq!(date("6 nov 1994 8:49:37"), t);
        assert_eq!(date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0.0));
        assert_eq!(date("Fri, 31 Dec 9999 23:59:59 GMT"), Some(253402300799.0));
        assert_eq!(date("Wed, 29 Feb 2012 00:00:00 GMT"), Some(1330473600.0));
        assert_eq!(date("Sat, 01 Jan 1601 00:00:00 GMT"), Some(-11644473600.0));
        for bad in [
            "",
            "bogus",
            "2033-11-06 08:49:37",
            "Sun, 31 Feb 2033 08:49:37 GMT",
            "Sun, 06 Nov 2033 24:49:37 GMT",
            "Sun, 06 Nov 2033 08:49 GMT",
            "Sun, 06 Nov 1600 08:49:37 GMT",
            "Sun, 32 Nov 2033 08:49:37 GMT",
        ] {
            assert_eq!(date(bad), None, "{bad}");
        }
    }

    #[test]
    fn imf_dates_round_trip() {
        for t in [
            0.0,
            -1.0,
            784111777.0,
            951782400.0,
            253402300799.0,
            -11644473600.0,
        ] {
            let mut out = Vec::new();
            imf_date(t, &mut out);
            assert_eq!(
                parse_date(&out),
                Some(t),
                "{}",
                String::from_utf8_lossy(&out)
            );
        }
        let mut out = Vec::new();
        imf_date(1e9, &mut out);
        assert_eq!(out, b"Sun, 09 Sep 2001 01:46:40 GMT");
    }

    #[test]
    fn max_age() {
        assert_eq!(parse_max_age(b"100"), Some(100.0));
        assert_eq!(parse_max_age(b"-5"), Some(-5.0));
        for bad in ["", "-", "+5", "1.5", "abc", " 1"] {
            assert_eq!(parse_max_age(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn set_cookie_split() {
        let sc = SetCookie::parse(b" foo = \"bar\" ; Path = /x ;; Secure;=v").unwrap();
        assert_eq!((sc.name, sc.value), (&b"foo"[..], &b"bar"[..]));
        let attrs: Vec<_> = sc.attributes().collect();
        assert_eq!(
            attrs,
            vec![(&b"Path"[..], Some(&b"/x"[..])), (&b"Secure"[..], None)]
        );
        assert!(SetCookie::parse(b"foo").is_none());
        assert!(SetCookie::parse(b"=bar").is_none());
        assert!(SetCookie::parse(b"foo; a=b").is_none());
    }

    #[test]
    fn cookie_header_pairs() {
        let pairs: Vec<_> = cookie_pairs(b" a = b ;c=\"d\";;e;=f; g=").collect();
        assert_eq!(
            pairs,
            vec![
                (&b"a"[..], &b"b"[..]),
                (&b"c"[..], &b"d"[..]),
                (&b"g"[..], &b""[..])
            ]
        );
    }
}
