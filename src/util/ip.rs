//! IP address syntax, as lua-http's `is_ip` accepts it: dotted-quad IPv4 and the RFC 3986
//! IPv6 forms (compressed, IPv4-suffixed), optionally followed by a "%zone".

/// One IPv4 part: 1 or 2 digits, or 3 digits from 100 to 255 (so "01" passes, "001" does not).
fn is_octet(s: &[u8]) -> bool {
    if !(1..=3).contains(&s.len()) || !s.iter().all(u8::is_ascii_digit) {
        return false;
    }
    s.len() < 3
        || (s[0] != b'0' && s.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= 255)
}

pub fn is_ipv4(s: &[u8]) -> bool {
    let mut n = 0;
    s.split(|&b| b == b'.').all(|part| {
        n += 1;
        is_octet(part)
    }) && n == 4
}

fn is_h16(s: &[u8]) -> bool {
    (1..=4).contains(&s.len()) && s.iter().all(u8::is_ascii_hexdigit)
}

/// The number of 16-bit groups in `side` (a ':'-separated half of an IPv6 address), or None
/// if malformed. An IPv4 address counts as two groups and may only end the `last` side.
fn groups(side: &[u8], last: bool) -> Option<usize> {
    if side.is_empty() {
        return Some(0);
    }
    let mut parts = side.split(|&b| b == b':').peekable();
    let mut n = 0;
    while let Some(g) = parts.next() {
        n += if is_h16(g) {
            1
        } else if last && parts.peek().is_none() && is_ipv4(g) {
            2
        } else {
            return None;
        };
    }
    Some(n)
}

/// IPv6 address, with an optional non-empty "%zone" suffix.
pub fn is_ipv6(s: &[u8]) -> bool {
    let addr = match s.iter().position(|&b| b == b'%') {
        Some(i) if i + 1 < s.len() => &s[..i],
        Some(_) => return false,
        None => s,
    };
    match addr.windows(2).position(|w| w == b"::") {
        Some(i) => match (groups(&addr[..i], false), groups(&addr[i + 2..], true)) {
            (Some(l), Some(r)) => l + r <= 7,
            _ => false,
        },
        None => groups(addr, true) == Some(8),
    }
}

pub fn is_ip(s: &[u8]) -> bool {
    is_ipv4(s) || is_ipv6(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts() {
        for s in [
            "127.0.0.1",
            "01.2.3.04",
            "255.255.255.255",
            "::",
            "::1",
            "1::",
            "fe80::1%eth0",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5::1.2.3.4",
            "::ABCD",
        ] {
            assert!(is_ip(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn rejects() {
        for s in [
            "",
            "256.0.0.1",
            "001.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1..1.1",
            " 1.2.3.4",
            "1.2.3.4%eth0",
            "fe80::1%",
            ":::",
            "1::2::3",
            "::1:",
            "12345::",
            "g::",
            "[::1]",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1::2:3:4:5:6:7:8",
            "1.2.3.4::",
            "1:2:3:4:5:6::1.2.3.4",
            "::1.2.3",
            "1::1.2.3.256",
        ] {
            assert!(!is_ip(s.as_bytes()), "{s}");
        }
    }
}
