//! An HPACK context (RFC 7541): the header tables, the protocol's limit on the dynamic table
//! size, and a buffer of encoded output. Decoding and encoding follow lua-http's choices:
//! headers are added with incremental indexing unless marked never-indexed.
use super::codec::{decode_integer, decode_string, encode_integer, encode_string};
use super::table::Tables;
use std::borrow::Cow;

/// One decoded representation.
pub enum Field<'a> {
    Header { name: Cow<'a, [u8]>, value: Cow<'a, [u8]>, never_index: bool },
    SizeUpdate,
}

pub struct Context {
    pub tables: Tables,
    /// SETTINGS_HEADER_TABLE_SIZE: the most a dynamic table size update may ask for.
    pub limit: usize,
    /// Encoded output waiting to be rendered.
    pub data: Vec<u8>,
}

impl Context {
    pub fn new(size: usize) -> Self {
        Context { tables: Tables::new(size), limit: size, data: Vec::new() }
    }

    fn entry(&self, index: usize) -> Result<(&[u8], &[u8]), String> {
        self.tables.get(index).ok_or_else(|| format!("index {index} not found in table"))
    }

    /// Apply a dynamic table size update (RFC 7541 section 6.3).
    pub fn resize(&mut self, size: usize) -> Result<(), &'static str> {
        if size > self.limit {
            return Err("Dynamic Table size update new maximum size MUST be lower than or equal to the limit");
        }
        self.tables.dynamic.resize(size);
        Ok(())
    }

    /// Decode the representation at `buf[pos]`; `Ok(None)` if it is incomplete. Size updates
    /// are only allowed before the first header (`at_start`).
    pub fn decode_field<'a>(&'a mut self, buf: &'a [u8], pos: usize, at_start: bool) -> Result<Option<(Field<'a>, usize)>, String> {
        let Some(&first) = buf.get(pos) else { return Ok(None) };
        if first & 0x80 != 0 {
            let Some((index, next)) = decode_integer(buf, pos, 7)? else { return Ok(None) };
            let (name, value) = self.entry(index)?;
            let field = Field::Header { name: Cow::Borrowed(name), value: Cow::Borrowed(value), never_index: false };
            return Ok(Some((field, next)));
        }
        if first & 0xe0 == 0x20 {
            let Some((size, next)) = decode_integer(buf, pos, 5)? else { return Ok(None) };
            if !at_start {
                return Err("dynamic table size update MUST occur at the beginning of a header block".into());
            }
            self.resize(size)?;
            return Ok(Some((Field::SizeUpdate, next)));
        }
        // Literals: with incremental indexing (01), never indexed (0001), without indexing (0000).
        if first & 0xc0 == 0x40 {
            // Copy before adding: the name may come from an entry that adding evicts.
            let Some((name, value, next)) = self.decode_literal(buf, pos, 6)? else { return Ok(None) };
            let (name, value) = (name.into_owned(), value.into_owned());
            self.tables.dynamic.add(&name, &value);
            let field = Field::Header { name: Cow::Owned(name), value: Cow::Owned(value), never_index: false };
            return Ok(Some((field, next)));
        }
        let Some((name, value, next)) = self.decode_literal(buf, pos, 4)? else { return Ok(None) };
        Ok(Some((Field::Header { name, value, never_index: first & 0xf0 == 0x10 }, next)))
    }

    /// A literal's name (indexed or literal) and value.
    #[allow(clippy::type_complexity)]
    fn decode_literal<'s>(&'s self, buf: &'s [u8], pos: usize, prefix: u32) -> Result<Option<(Cow<'s, [u8]>, Cow<'s, [u8]>, usize)>, String> {
        let Some((index, mut next)) = decode_integer(buf, pos, prefix)? else { return Ok(None) };
        let name = if index == 0 {
            let Some((name, after)) = decode_string(buf, next)? else { return Ok(None) };
            next = after;
            name
        } else {
            Cow::Borrowed(self.entry(index)?.0)
        };
        let Some((value, next)) = decode_string(buf, next)? else { return Ok(None) };
        Ok(Some((name, value, next)))
    }

    /// lua-http's add_header_indexed: the pair's index if a table has it, else a literal with
    /// incremental indexing (indexed name if known), which adds the pair to the dynamic table.
    pub fn add_header_indexed(&mut self, name: &[u8], value: &[u8], huffman: bool) {
        if let Some(index) = self.tables.find_pair(name, value) {
            encode_integer(&mut self.data, 0x80, 7, index);
            return;
        }
        self.literal(0x40, 6, name, value, huffman);
        self.tables.dynamic.add(name, value);
    }

    /// A never-indexed literal (RFC 7541 section 6.2.3), with the name indexed if known.
    pub fn add_header_never_indexed(&mut self, name: &[u8], value: &[u8], huffman: bool) {
        self.literal(0x10, 4, name, value, huffman);
    }

    fn literal(&mut self, flags: u8, prefix: u32, name: &[u8], value: &[u8], huffman: bool) {
        match self.tables.find_name(name) {
            Some(index) => encode_integer(&mut self.data, flags, prefix, index),
            None => {
                self.data.push(flags);
                encode_string(&mut self.data, name, huffman);
            }
        }
        encode_string(&mut self.data, value, huffman);
    }

    /// Append a dynamic table size update announcing `size`.
    pub fn encode_max_size(&mut self, size: usize) {
        encode_integer(&mut self.data, 0x20, 5, size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(c: &mut Context, buf: &[u8]) -> Vec<(Vec<u8>, Vec<u8>, bool)> {
        let (mut pos, mut out) = (0, Vec::new());
        while let Some((field, next)) = c.decode_field(buf, pos, out.is_empty()).unwrap() {
            if let Field::Header { name, value, never_index } = field {
                out.push((name.into_owned(), value.into_owned(), never_index));
            }
            pos = next;
        }
        assert_eq!(pos, buf.len());
        out
    }

    #[test]
    fn round_trip_and_rfc_c3_1() {
        let mut enc = Context::new(4096);
        for (n, v) in [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")] {
            enc.add_header_indexed(n.as_bytes(), v.as_bytes(), false);
        }
        enc.add_header_never_indexed(b"password", b"secret", true);
        assert_eq!(&enc.data[..20], b"\x82\x86\x84\x41\x0fwww.example.com");
        let mut dec = Context::new(4096);
        let fields = decode_all(&mut dec, &enc.data);
        assert_eq!(fields[3], (b":authority".to_vec(), b"www.example.com".to_vec(), false));
        assert_eq!(fields[4], (b"password".to_vec(), b"secret".to_vec(), true));
        assert_eq!(dec.tables.dynamic.size(), 57);
    }

    #[test]
    fn size_updates() {
        let mut c = Context::new(100);
        assert!(c.decode_field(b"\x3f\x46", 0, true).is_err()); // 101 > limit
        assert!(matches!(c.decode_field(b"\x3f\x45", 0, true), Ok(Some((Field::SizeUpdate, 2)))));
        assert!(c.decode_field(b"\x20", 0, false).is_err());
    }
}
