//! The HPACK Huffman code (RFC 7541 section 5.2 and Appendix B). Decoding walks a 4-bit state
//! machine built once from the code table: each state is an inner node of the code tree, and
//! as no code is shorter than 5 bits a nibble completes at most one symbol.
use std::sync::OnceLock;

/// (code, length in bits) for each symbol 0..=255 and EOS (256), from RFC 7541 Appendix B.
const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28),
    (0xfffffe4, 28), (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28),
    (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28),
    (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28),
    (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28),
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28),
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28),
    (0xffffff8, 28), (0xffffff9, 28), (0xffffffa, 28), (0xffffffb, 28),
    (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11),
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11),
    (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6),
    (0x1a, 6), (0x1b, 6), (0x1c, 6), (0x1d, 6),
    (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10),
    (0x1ffa, 13), (0x21, 6), (0x5d, 7), (0x5e, 7),
    (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7),
    (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7),
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7),
    (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7),
    (0xfc, 8), (0x73, 7), (0xfd, 8), (0x1ffb, 13),
    (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5),
    (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6),
    (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7),
    (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5),
    (0x2b, 6), (0x76, 7), (0x2c, 6), (0x8, 5),
    (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15),
    (0x7fc, 11), (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28),
    (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23),
    (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23),
    (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23),
    (0xffffee, 24), (0x7fffe1, 23), (0x7fffe2, 23), (0x7fffe3, 23),
    (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23),
    (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24),
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22),
    (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24),
    (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23), (0x7fffec, 23),
    (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23),
    (0xfffea, 20), (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22),
    (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19),
    (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25),
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27),
    (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25),
    (0x7fff2, 19), (0x1fffe3, 21), (0x3ffffe6, 26), (0x7ffffe0, 27),
    (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24),
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26),
    (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27),
    (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21),
    (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23),
    (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25), (0x1ffffef, 25),
    (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26),
    (0x7ffffe7, 27), (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27),
    (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27),
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26),
    (0x3fffffff, 30),
];
const EOS: u16 = 256;

/// The Huffman-encoded length of `s` in bytes.
pub fn encoded_len(s: &[u8]) -> usize {
    let bits: usize = s.iter().map(|&c| usize::from(CODES[usize::from(c)].1)).sum();
    bits.div_ceil(8)
}

/// Append the Huffman encoding of `s` to `out`, padded with the high bits of EOS (all ones).
pub fn encode(s: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(s));
    let (mut acc, mut nbits) = (0u64, 0u32);
    for &c in s {
        let (code, len) = CODES[usize::from(c)];
        acc = (acc << len) | u64::from(code);
        nbits += u32::from(len);
        while nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
        }
    }
    if nbits > 0 {
        out.push(((acc << (8 - nbits)) | (0xff >> nbits)) as u8);
    }
}

/// One transition of the decoder: the state reached and the symbol completed on the way.
#[derive(Clone, Copy, Default)]
struct Step {
    next: u8,
    /// 0: none; 1..=256: symbol + 1; EMITS_EOS: the EOS code, which must not appear in data.
    emit: u16,
}
const EMITS_EOS: u16 = EOS + 1;

struct Decoder {
    steps: Vec<[Step; 16]>,
    /// Per state: may a string end here? (the bits since the last symbol are at most 7 ones)
    padding: Vec<Result<(), &'static str>>,
}

fn decoder() -> &'static Decoder {
    static D: OnceLock<Decoder> = OnceLock::new();
    D.get_or_init(|| {
        // The code tree: inner nodes hold two children, each Ok(inner node) or Err(symbol).
        let mut inner: Vec<[Option<Result<usize, u16>>; 2]> = vec![[None, None]];
        // Per inner node: depth and whether the path to it is all ones.
        let mut path = vec![(0u32, true)];
        for (sym, &(code, len)) in CODES.iter().enumerate() {
            let mut node = 0;
            for i in (0..u32::from(len)).rev() {
                let bit = ((code >> i) & 1) as usize;
                if i == 0 {
                    inner[node][bit] = Some(Err(sym as u16));
                } else {
                    node = match inner[node][bit] {
                        Some(Ok(n)) => n,
                        _ => {
                            inner.push([None, None]);
                            let (depth, ones) = path[node];
                            path.push((depth + 1, ones && bit == 1));
                            inner[node][bit] = Some(Ok(inner.len() - 1));
                            inner.len() - 1
                        }
                    };
                }
            }
        }
        // The code is complete (every prefix is a node), so every child is set; 256 inner nodes.
        let steps = (0..inner.len())
            .map(|state| {
                let mut row = [Step::default(); 16];
                for (nibble, step) in row.iter_mut().enumerate() {
                    let mut node = state;
                    for i in (0..4).rev() {
                        match inner[node][(nibble >> i) & 1] {
                            Some(Ok(n)) => node = n,
                            Some(Err(sym)) => {
                                step.emit = sym + 1;
                                node = 0;
                            }
                            None => unreachable!("the HPACK code is complete"),
                        }
                    }
                    step.next = node as u8;
                }
                row
            })
            .collect();
        let padding = path
            .iter()
            .map(|&(depth, ones)| match (depth, ones) {
                (_, false) => Err("invalid huffman padding: expected most significant bits to match EOS"),
                (d, true) if d > 7 => Err("invalid huffman padding: too much padding"),
                _ => Ok(()),
            })
            .collect();
        Decoder { steps, padding }
    })
}

/// Decode a Huffman-encoded string, appending to `out`.
pub fn decode(s: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let d = decoder();
    out.reserve(s.len() * 8 / 5);
    let mut state = 0usize;
    for &byte in s {
        for nibble in [byte >> 4, byte & 0xf] {
            let step = d.steps[state][usize::from(nibble)];
            match step.emit {
                0 => {}
                EMITS_EOS => return Err("invalid huffman code (EOS)"),
                sym => out.push((sym - 1) as u8),
            }
            state = usize::from(step.next);
        }
    }
    d.padding[state]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn rfc_examples() {
        for (text, enc) in [
            ("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"),
            ("no-cache", "a8eb10649cbf"),
            ("custom-key", "25a849e95ba97d7f"),
            ("custom-value", "25a849e95bb8e8b4bf"),
            ("302", "6402"),
            ("Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"),
        ] {
            let mut out = Vec::new();
            encode(text.as_bytes(), &mut out);
            assert_eq!(out, hex(enc), "{text}");
            assert_eq!(encoded_len(text.as_bytes()), out.len());
            let mut back = Vec::new();
            decode(&out, &mut back).unwrap();
            assert_eq!(back, text.as_bytes());
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).chain((0..=255).rev()).collect();
        let mut enc = Vec::new();
        encode(&all, &mut enc);
        let mut dec = Vec::new();
        decode(&enc, &mut dec).unwrap();
        assert_eq!(dec, all);
    }

    #[test]
    fn bad_padding_and_eos() {
        let mut out = Vec::new();
        assert!(decode(&[0x1f], &mut out).is_ok()); // "a" + 111
        assert!(decode(&[0x18], &mut out).unwrap_err().contains("EOS"));
        assert!(decode(&[0xff], &mut out).unwrap_err().contains("too much padding"));
        assert!(decode(&[0xff, 0xff, 0xff, 0xff], &mut out).unwrap_err().contains("(EOS)"));
    }
}
