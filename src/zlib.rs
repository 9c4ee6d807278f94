//! http.zlib: lua-http's streaming closures over flate2. `deflate()` writes a zlib stream (sync
//! flush after each piece, so a reader can decode every piece as it arrives); `inflate()` reads
//! a zlib stream or, like lua-zlib's default inflate (windowBits 15+32), a gzip stream,
//! detected from the first byte, so Content-Encoding: gzip works too (concatenated gzip members
//! included). Corrupt, truncated or trailing input raises a Lua error.
use crate::runtime::{error, function};
use flate2::{Compress, Compression, Crc, Decompress, FlushCompress, FlushDecompress, Status};
use mlua::{Lua, Table, Value};
use std::cell::RefCell;

/// Output space added whenever the output buffer runs full.
const CHUNK: usize = 16 * 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

enum Inflate {
    /// Nothing received yet: the first byte picks the format.
    Start,
    GzipHeader(Vec<u8>),
    Body { z: Decompress, crc: Option<Crc> },
    GzipTrailer { crc: Crc, got: Vec<u8> },
    /// A complete stream has been read; `gzip` streams may be followed by another member.
    End { gzip: bool },
    Failed,
}

/// The length of the gzip header (RFC 1952) at the start of `b`, or None if more bytes are
/// needed.
fn gzip_header_len(b: &[u8]) -> Result<Option<usize>, &'static str> {
    if !GZIP_MAGIC.starts_with(&b[..b.len().min(2)]) {
        return Err("not a gzip header");
    }
    if b.len() < 10 {
        return Ok(None);
    }
    let (method, flags) = (b[2], b[3]);
    if method != 8 || flags & 0xe0 != 0 {
        return Err("unsupported gzip header");
    }
    let mut n = 10;
    if flags & 0x04 != 0 {
        match b.get(n..n + 2) {
            Some(x) => n += 2 + usize::from(u16::from_le_bytes([x[0], x[1]])),
            None => return Ok(None),
        }
    }
    for flag in [0x08, 0x10] {
        if flags & flag != 0 {
            match b.get(n..).and_then(|rest| rest.iter().position(|&c| c == 0)) {
                Some(end) => n += end + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & 0x02 != 0 {
        n += 2;
    }
    Ok(if b.len() >= n { Some(n) } else { None })
}

/// Run the decompressor over `input`, appending to `out`. Returns the bytes consumed and
/// whether the deflate stream ended.
fn inflate_body(z: &mut Decompress, input: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), String> {
    let start_in = z.total_in();
    loop {
        if out.capacity() - out.len() < CHUNK / 4 {
            out.reserve(CHUNK);
        }
        let consumed = (z.total_in() - start_in) as usize;
        let status = z
            .decompress_vec(&input[consumed..], out, FlushDecompress::None)
            .map_err(|e| e.message().unwrap_or("corrupt data").to_string())?;
        let consumed = (z.total_in() - start_in) as usize;
        if status == Status::StreamEnd {
            return Ok((consumed, true));
        }
        // Output space left over means the decompressor wants more input.
        if out.len() < out.capacity() {
            return Ok((consumed, false));
        }
    }
}

impl Inflate {
    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        while !input.is_empty() {
            match self {
                Inflate::Start => {
                    *self = if input[0] == GZIP_MAGIC[0] {
                        Inflate::GzipHeader(Vec::new())
                    } else {
                        Inflate::Body { z: Decompress::new(true), crc: None }
                    };
                }
                Inflate::GzipHeader(buf) => {
                    // Take input in growing slices so a big first chunk is not copied whole.
                    let old = buf.len();
                    let mut taken = 0;
                    loop {
                        let more = (input.len() - taken).min(buf.len().max(64));
                        buf.extend_from_slice(&input[taken..taken + more]);
                        taken += more;
                        if let Some(n) = gzip_header_len(buf).map_err(|e| format!("invalid gzip stream ({e})"))? {
                            input = &input[n - old..];
                            *self = Inflate::Body { z: Decompress::new(false), crc: Some(Crc::new()) };
                            break;
                        }
                        if taken == input.len() {
                            return Ok(());
                        }
                    }
                }
                Inflate::Body { z, crc } => {
                    let before = out.len();
                    let kind = if crc.is_some() { "gzip" } else { "zlib" };
                    let (used, ended) =
                        inflate_body(z, input, out).map_err(|e| format!("invalid {kind} stream ({e})"))?;
                    input = &input[used..];
                    if let Some(c) = crc {
                        c.update(&out[before..]);
                    }
                    if ended {
                        *self = match crc.take() {
                            Some(crc) => Inflate::GzipTrailer { crc, got: Vec::with_capacity(8) },
                            None => Inflate::End { gzip: false },
                        };
                    }
                }
                Inflate::GzipTrailer { crc, got } => {
                    let n = (8 - got.len()).min(input.len());
                    got.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    if got.len() == 8 {
                        let sum = u32::from_le_bytes([got[0], got[1], got[2], got[3]]);
                        let size = u32::from_le_bytes([got[4], got[5], got[6], got[7]]);
                        if sum != crc.sum() || size != crc.amount() {
                            return Err("invalid gzip stream (checksum mismatch)".into());
                        }
                        *self = Inflate::End { gzip: true };
                    }
                }
                Inflate::End { gzip: true } => *self = Inflate::GzipHeader(Vec::new()),
                Inflate::End { gzip: false } => return Err("invalid zlib stream (data after the end of the stream)".into()),
                Inflate::Failed => return Err("invalid stream (it failed before)".into()),
            }
        }
        Ok(())
    }
}

/// A streaming gzip/zlib decoder for Rust callers (the client's Content-Encoding decoding).
pub struct Inflater(Inflate);

impl Inflater {
    pub fn new() -> Inflater {
        Inflater(Inflate::Start)
    }

    /// Decode `input`; with `end`, the stream must be complete.
    pub fn feed(&mut self, input: &[u8], end: bool) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity((input.len() * 4).clamp(64, CHUNK));
        self.0.feed(input, &mut out)?;
        if end && !matches!(self.0, Inflate::End { .. }) {
            return Err("invalid stream (unexpected end of input)".into());
        }
        Ok(out)
    }
}

fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Nil | Value::Boolean(false))
}

fn inflate(lua: &Lua) -> mlua::Result<mlua::Function> {
    let state = RefCell::new(Inflate::Start);
    function(lua, "inflate", move |lua, (data, eos): (mlua::LuaString, Value)| {
        let mut st = state.try_borrow_mut().map_err(|_| mlua::Error::RuntimeError("inflate: re-entered".into()))?;
        let data = data.as_bytes();
        let mut out = Vec::with_capacity((data.len() * 4).clamp(64, CHUNK));
        let mut res = st.feed(&data, &mut out);
        if res.is_ok() && truthy(&eos) && !matches!(*st, Inflate::End { .. }) {
            res = Err("invalid stream (unexpected end of input)".into());
        }
        if let Err(e) = res {
            *st = Inflate::Failed;
            return error(e);
        }
        lua.create_string(&out)
    })
}

fn deflate(lua: &Lua) -> mlua::Result<mlua::Function> {
    let state = RefCell::new(Some(Compress::new(Compression::default(), true)));
    function(lua, "deflate", move |lua, (data, eos): (mlua::LuaString, Value)| {
        let mut st = state.try_borrow_mut().map_err(|_| mlua::Error::RuntimeError("deflate: re-entered".into()))?;
        let data = data.as_bytes();
        let finish = truthy(&eos);
        let Some(z) = st.as_mut() else {
            return if data.is_empty() { lua.create_string("") } else { error("deflate: stream already finished") };
        };
        if data.is_empty() && !finish {
            // Nothing new to flush: a sync flush would only add an empty block.
            return lua.create_string("");
        }
        let flush = if finish { FlushCompress::Finish } else { FlushCompress::Sync };
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let start_in = z.total_in();
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(CHUNK);
            }
            let (consumed, produced) = ((z.total_in() - start_in) as usize, out.len());
            let status = z
                .compress_vec(&data[consumed..], &mut out, flush)
                .map_err(|e| mlua::Error::RuntimeError(format!("deflate: {e}")))?;
            // A sync flush is complete when output space is left over; a finish at StreamEnd.
            if status == Status::StreamEnd || !finish && out.len() < out.capacity() {
                break;
            }
            if out.len() == produced && (z.total_in() - start_in) as usize == consumed && out.len() < out.capacity() {
                return error("deflate: the compressor made no progress");
            }
        }
        if finish {
            *st = None;
        }
        lua.create_string(&out)
    })
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("engine", "flate2")?;
    t.set("inflate", function(lua, "inflate", |lua, ()| inflate(lua))?)?;
    t.set("deflate", function(lua, "deflate", |lua, ()| deflate(lua))?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_header_lengths() {
        let base = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        assert_eq!(gzip_header_len(&base[..5]), Ok(None));
        assert_eq!(gzip_header_len(&base), Ok(Some(10)));
        let mut named = base.to_vec();
        named[3] = 0x08 | 0x02;
        named.extend_from_slice(b"name\0");
        assert_eq!(gzip_header_len(&named), Ok(None));
        named.extend_from_slice(&[1, 2]);
        assert_eq!(gzip_header_len(&named), Ok(Some(17)));
        assert!(gzip_header_len(&[0x1f, 0x8c]).is_err());
    }
}
