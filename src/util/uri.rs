//! Percent-encoding with JavaScript's encodeURI/encodeURIComponent character sets, and the
//! query-string splitting of `query_args`. Everything works on bytes: non-UTF-8 input is
//! escaped byte by byte, and decoding never validates UTF-8.

use std::borrow::Cow;

/// Which bytes an encoder leaves alone.
pub struct Unreserved([bool; 256]);

const fn unreserved(extra: &[u8]) -> Unreserved {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric();
        c += 1;
    }
    let marks = b"-_.!~*'()";
    let mut i = 0;
    while i < marks.len() {
        t[marks[i] as usize] = true;
        i += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    Unreserved(t)
}

/// The reserved characters (plus '#') that encodeURI keeps and so decodeURI must not decode.
const RESERVED: &[u8] = b";,/?:@&=+$#";

pub static URI: Unreserved = unreserved(RESERVED);
pub static COMPONENT: Unreserved = unreserved(b"");

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Append `s` to `out`, escaping every byte `keep` does not leave alone.
pub fn encode_into(out: &mut Vec<u8>, s: &[u8], keep: &Unreserved) {
    for &b in s {
        if keep.0[b as usize] {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
    }
}

/// `s` escaped; borrowed when nothing needed escaping.
pub fn encode<'a>(s: &'a [u8], keep: &Unreserved) -> Cow<'a, [u8]> {
    match s.iter().position(|&b| !keep.0[b as usize]) {
        None => Cow::Borrowed(s),
        Some(i) => {
            let mut out = Vec::with_capacity(s.len() + (s.len() - i) * 2);
            out.extend_from_slice(&s[..i]);
            encode_into(&mut out, &s[i..], keep);
            Cow::Owned(out)
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `s` with its valid `%XX` escapes decoded, except escapes of the bytes in `keep_escaped`
/// (decodeURI's reserved set). Invalid escapes ("%zz", a trailing "%4") stay as they are.
pub fn decode<'a>(s: &'a [u8], keep_escaped: &[u8]) -> Cow<'a, [u8]> {
    let Some(first) = s.iter().position(|&b| b == b'%') else {
        return Cow::Borrowed(s);
    };
    let mut out = Vec::with_capacity(s.len());
    out.extend_from_slice(&s[..first]);
    let mut i = first;
    while i < s.len() {
        let b = s[i];
        let decoded = match (b, s.get(i + 1), s.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => match (hex_value(h), hex_value(l)) {
                (Some(h), Some(l)) => Some(h << 4 | l),
                _ => None,
            },
            _ => None,
        };
        match decoded {
            Some(c) if !keep_escaped.contains(&c) => {
                out.push(c);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

pub fn decode_component(s: &[u8]) -> Cow<'_, [u8]> {
    decode(s, b"")
}

pub fn decode_uri(s: &[u8]) -> Cow<'_, [u8]> {
    decode(s, RESERVED)
}

/// A query pair: name, value (None without '='), and where the next search starts.
pub type Pair<'a> = (&'a [u8], Option<&'a [u8]>, usize);

/// The next `name[=value]` pair of a query string at or after `pos`, and where the search
/// continues. Like lua-http: empty pieces and leading '='s are skipped; a name without '='
/// has no value; the value is the rest of the piece (it may contain '=').
pub fn next_pair(s: &[u8], mut pos: usize) -> Option<Pair<'_>> {
    while pos < s.len() {
        let end = s[pos..]
            .iter()
            .position(|&b| b == b'&')
            .map_or(s.len(), |i| pos + i);
        let piece = &s[pos..end];
        pos = end + 1;
        let Some(start) = piece.iter().position(|&b| b != b'=') else {
            continue;
        };
        let piece = &piece[start..];
        return Some(match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (&piece[..eq], Some(&piece[eq + 1..]), pos),
            None => (piece, None, pos),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_sets() {
        assert_eq!(&*encode(b"a b;/?#\xff", &URI), b"a%20b;/?#%FF");
        assert_eq!(&*encode(b"a b;/?#", &COMPONENT), b"a%20b%3B%2F%3F%23");
        assert!(matches!(
            encode(b"abc-_.!~*'()", &COMPONENT),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn decode_escapes() {
        assert_eq!(&*decode_component(b"%41%2f%zz%4%"), b"A/%zz%4%");
        assert_eq!(&*decode_uri(b"%41%2f%25%23"), b"A%2f%%23");
        assert_eq!(&*decode_component(b"%%41"), b"%A");
    }

    #[test]
    fn pairs() {
        let s = b"&=a=b=c&&d&==&e=";
        let (n, v, p) = next_pair(s, 0).unwrap();
        assert_eq!((n, v), (&b"a"[..], Some(&b"b=c"[..])));
        let (n, v, p) = next_pair(s, p).unwrap();
        assert_eq!((n, v), (&b"d"[..], None));
        let (n, v, p) = next_pair(s, p).unwrap();
        assert_eq!((n, v), (&b"e"[..], Some(&b""[..])));
        assert!(next_pair(s, p).is_none());
    }
}
