//! HPACK primitives (RFC 7541 section 5): prefixed integers and string literals.
use super::huffman;
use std::borrow::Cow;

/// Decoding fails with a COMPRESSION_ERROR message; `Ok(None)` means the input ends early.
pub type Decoded<T> = Result<Option<(T, usize)>, &'static str>;

/// Larger integers are refused: no index, length or table size is near it.
const MAX_INTEGER: u64 = u32::MAX as u64;

/// Append `value` as an integer with a `prefix`-bit prefix; `flags` fills the first byte's
/// high bits.
pub fn encode_integer(out: &mut Vec<u8>, flags: u8, prefix: u32, value: usize) {
    let limit = (1usize << prefix) - 1;
    if value < limit {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | limit as u8);
    let mut rest = value - limit;
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Decode the `prefix`-bit integer at `buf[pos]`; returns it and the position after it.
pub fn decode_integer(buf: &[u8], pos: usize, prefix: u32) -> Decoded<usize> {
    let Some(&first) = buf.get(pos) else { return Ok(None) };
    let limit = (1u64 << prefix) - 1;
    let mut value = u64::from(first) & limit;
    if value < limit {
        return Ok(Some((value as usize, pos + 1)));
    }
    let mut shift = 0;
    for (i, &b) in buf[pos + 1..].iter().enumerate() {
        value += u64::from(b & 0x7f) << shift;
        if value > MAX_INTEGER || shift > 28 && b & 0x80 != 0 {
            return Err("integer overflow");
        }
        if b & 0x80 == 0 {
            return Ok(Some((value as usize, pos + 2 + i)));
        }
        shift += 7;
    }
    Ok(None)
}

/// Append a string literal, Huffman-coded if `huffman`.
pub fn encode_string(out: &mut Vec<u8>, s: &[u8], huffman: bool) {
    if huffman {
        encode_integer(out, 0x80, 7, huffman::encoded_len(s));
        huffman::encode(s, out);
    } else {
        encode_integer(out, 0, 7, s.len());
        out.extend_from_slice(s);
    }
}

/// Decode the string literal at `buf[pos]`.
pub fn decode_string(buf: &[u8], pos: usize) -> Decoded<Cow<'_, [u8]>> {
    let Some((len, start)) = decode_integer(buf, pos, 7)? else { return Ok(None) };
    let Some(raw) = buf.get(start..).filter(|rest| rest.len() >= len).map(|rest| &rest[..len]) else {
        return Ok(None);
    };
    let s = if buf[pos] & 0x80 != 0 {
        let mut out = Vec::new();
        huffman::decode(raw, &mut out)?;
        Cow::Owned(out)
    } else {
        Cow::Borrowed(raw)
    };
    Ok(Some((s, start + len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_rfc_c1() {
        let mut out = Vec::new();
        encode_integer(&mut out, 0, 5, 10);
        encode_integer(&mut out, 0, 5, 1337);
        encode_integer(&mut out, 0, 8, 42);
        assert_eq!(out, [0x0a, 0x1f, 0x9a, 0x0a, 0x2a]);
        assert_eq!(decode_integer(&out, 0, 5), Ok(Some((10, 1))));
        assert_eq!(decode_integer(&out, 1, 5), Ok(Some((1337, 4))));
        assert_eq!(decode_integer(&out, 4, 8), Ok(Some((42, 5))));
        assert_eq!(decode_integer(&out, 1, 5).map(|_| ()), Ok(()));
        assert_eq!(decode_integer(&out[..3], 1, 5), Ok(None));
        assert_eq!(decode_integer(&[], 0, 5), Ok(None));
    }

    #[test]
    fn integer_limits() {
        let mut out = Vec::new();
        encode_integer(&mut out, 0, 7, u32::MAX as usize);
        assert_eq!(decode_integer(&out, 0, 7), Ok(Some((u32::MAX as usize, out.len()))));
        assert!(decode_integer(&[0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f], 0, 7).is_err());
        assert!(decode_integer(&[0x7f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 0, 7).is_err());
        // Leading zero groups are allowed while they fit.
        assert_eq!(decode_integer(&[0x7f, 0x80, 0x00], 0, 7), Ok(Some((127, 3))));
    }

    #[test]
    fn strings() {
        let mut out = Vec::new();
        encode_string(&mut out, b"custom-key", false);
        encode_string(&mut out, b"custom-key", true);
        assert_eq!(decode_string(&out, 0), Ok(Some((Cow::Borrowed(&b"custom-key"[..]), 11))));
        assert_eq!(decode_string(&out, 11).unwrap().unwrap().0, &b"custom-key"[..]);
        assert_eq!(decode_string(&out[..5], 0), Ok(None));
    }
}
