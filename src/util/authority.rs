//! Splitting an authority ("host:port", "[v6]:port") like lua-http's `split_authority`.

use super::ip::is_ipv6;

/// Host and port of `authority`. As in lua-http, the port is the digits after the last ':'
/// (trailing blanks allowed); without them the whole authority is the host. Brackets come off
/// an IPv6 literal.
pub fn split(authority: &[u8]) -> Result<(&[u8], Option<u16>), &'static str> {
    let (host, port) = match authority.iter().rposition(|&b| b == b':') {
        Some(colon) => {
            let rest = &authority[colon + 1..];
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 && rest[digits..].iter().all(|&b| b == b' ' || b == b'\t') {
                let port = port(&rest[..digits]).ok_or("invalid port")?;
                (&authority[..colon], Some(port))
            } else {
                (authority, None)
            }
        }
        None => (authority, None),
    };
    Ok((unbracket(host), port))
}

/// The value of a port's decimal digits (leading zeros allowed); None above 65535.
pub fn port(digits: &[u8]) -> Option<u16> {
    digits.iter().try_fold(0u16, |n, &d| n.checked_mul(10)?.checked_add(u16::from(d - b'0')))
}

fn unbracket(host: &[u8]) -> &[u8] {
    match host {
        [b'[', inner @ .., b']'] if is_ipv6(inner) => inner,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits() {
        assert_eq!(
            split(b"localhost:8000"),
            Ok((&b"localhost"[..], Some(8000)))
        );
        assert_eq!(split(b"[::1]:80"), Ok((&b"::1"[..], Some(80))));
        assert_eq!(split(b"[::1]"), Ok((&b"::1"[..], None)));
        assert_eq!(split(b"[v1.x]:80"), Ok((&b"[v1.x]"[..], Some(80))));
        assert_eq!(split(b"host:080 \t"), Ok((&b"host"[..], Some(80))));
        assert_eq!(split(b"host:0000000000080"), Ok((&b"host"[..], Some(80))));
        assert_eq!(split(b"host:abc"), Ok((&b"host:abc"[..], None)));
        assert_eq!(split(b"host:"), Ok((&b"host:"[..], None)));
        assert_eq!(split(b"host:65536"), Err("invalid port"));
    }
}
