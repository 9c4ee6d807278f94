//! Server-side HTTP/1 framing checks that hyper does not make the way lua-http users expect:
//! a request line with an HTTP version other than 1.x gets 505 (hyper says 400), and a request
//! with both Content-Length and Transfer-Encoding gets 400 and the connection closed (hyper
//! lets Transfer-Encoding win, which is how requests are smuggled past proxies).
//!
//! `Guard` sits between the socket and hyper. It follows message boundaries (head, then a
//! Content-Length or chunked body) so it sees every head of a pipelined or keep-alive
//! connection, holds each head back until it is complete and checked, and on a violation writes
//! the error response itself and ends the stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest request head (request line and header section) accepted; larger gets 431.
const MAX_HEAD: usize = 64 * 1024;

enum Chunk {
    /// Reading a chunk-size line; `size` so far, `ext` once past the digits.
    Size { size: u64, digits: bool, ext: bool },
    /// The LF of the size line.
    SizeLf { size: u64 },
    Data(u64),
    /// The CRLF after chunk data.
    DataCr,
    DataLf,
    /// Trailer section: `line` is the length of the current line so far.
    Trailer { line: usize, cr: bool },
}

enum State {
    Head,
    Body(u64),
    Chunked(Chunk),
    /// Answering a bad request: bytes left to write, then EOF.
    Reject(&'static [u8]),
    Closed,
}

pub struct Guard<IO> {
    io: IO,
    check: Check,
    /// Bytes read but not yet given to hyper (a head arriving in pieces, or what followed it).
    pending: Vec<u8>,
    /// How many bytes at the front of `pending` are checked and may be handed out.
    ready: usize,
}

/// Where the guard is in the request stream; apart from `Guard` so it can check bytes that
/// the guard itself holds.
struct Check {
    state: State,
    head: HeadScan,
}

const VERSION_NOT_SUPPORTED: &[u8] =
    b"HTTP/1.1 505 HTTP Version Not Supported\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
const TOO_LARGE: &[u8] =
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
const BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

enum Verdict {
    Incomplete,
    Ok { head_len: usize, next: State },
    Reject(&'static [u8]),
}

/// A request head read line by line. It keeps its place, so a head that arrives in many
/// pieces is still read once, not again from its start on every piece.
#[derive(Default)]
struct HeadScan {
    /// Offset of the next line to read, from the start of the head.
    at: usize,
    /// Past the request line (blank lines before it are allowed, RFC 9112 section 2.2).
    started: bool,
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked: bool,
    /// Upgrade or CONNECT: after this head the bytes are not HTTP.
    switch: bool,
}

impl HeadScan {
    /// Read the complete lines of `buf` (which starts at the head) not read yet.
    fn next(&mut self, buf: &[u8]) -> Verdict {
        while let Some(len) = buf.get(self.at..).and_then(|rest| memchr::memchr(b'\n', rest)) {
            let line = &buf[self.at..self.at + len];
            self.at += len + 1;
            if self.at > MAX_HEAD {
                return Verdict::Reject(TOO_LARGE);
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !self.started {
                let start = line.iter().position(|&b| b != b'\r').unwrap_or(line.len());
                if start < line.len() {
                    self.started = true;
                    if let Some(resp) = self.request_line(&line[start..]) {
                        return Verdict::Reject(resp);
                    }
                }
            } else if line.is_empty() {
                return self.end();
            } else {
                self.field(line);
            }
        }
        if buf.len() > MAX_HEAD {
            Verdict::Reject(TOO_LARGE)
        } else {
            Verdict::Incomplete
        }
    }

    fn request_line(&mut self, line: &[u8]) -> Option<&'static [u8]> {
        // The version is the last word; only an 8-byte one like "HTTP/2.0" is refused.
        if let Some(i) = line.len().checked_sub(8) {
            let v = &line[i..];
            let word = (i == 0 || line[i - 1] == b' ') && !v.contains(&b' ');
            if word && v.starts_with(b"HTTP/") && v[5].is_ascii_digit() && v != b"HTTP/1.1" && v != b"HTTP/1.0" {
                return Some(VERSION_NOT_SUPPORTED);
            }
        }
        self.switch = line.starts_with(b"CONNECT ");
        None
    }

    fn field(&mut self, line: &[u8]) {
        // The value of `line` if it is the field `name`.
        let value = |name: &[u8]| {
            let n = name.len();
            (line.get(n) == Some(&b':') && line[..n].eq_ignore_ascii_case(name)).then(|| trim(&line[n + 1..]))
        };
        // Most fields are none of these three: the first letter rules them out cheaply.
        match line[0] | 0x20 {
            b'c' => {
                if let Some(v) = value(b"content-length") {
                    self.content_length = Some(std::str::from_utf8(v).ok().and_then(|v| v.parse().ok()).unwrap_or(0));
                }
            }
            b't' => {
                if let Some(v) = value(b"transfer-encoding") {
                    self.transfer_encoding = true;
                    self.chunked = v.len() >= 7 && v[v.len() - 7..].eq_ignore_ascii_case(b"chunked");
                }
            }
            b'u' => self.switch |= value(b"upgrade").is_some(),
            _ => {}
        }
    }

    fn end(&self) -> Verdict {
        if self.transfer_encoding && self.content_length.is_some() {
            return Verdict::Reject(BAD_REQUEST);
        }
        let next = if self.switch {
            State::Closed
        } else if self.chunked {
            State::Chunked(Chunk::Size { size: 0, digits: false, ext: false })
        } else if self.transfer_encoding {
            // Not chunked-last: hyper rejects it; stop following.
            State::Closed
        } else {
            match self.content_length {
                Some(n) if n > 0 => State::Body(n),
                _ => State::Head,
            }
        };
        Verdict::Ok { head_len: self.at, next }
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &v[start..end]
}

impl Check {
    /// How many bytes at the front of `data` (which starts where the last check stopped) may
    /// pass: up to an incomplete head, or to a head that is rejected (the state says so).
    fn verify(&mut self, data: &[u8]) -> usize {
        let mut used = 0;
        while used < data.len() {
            match self.state {
                State::Head => match self.head.next(&data[used..]) {
                    Verdict::Incomplete => break,
                    Verdict::Reject(resp) => {
                        self.state = State::Reject(resp);
                        break;
                    }
                    Verdict::Ok { head_len, next } => {
                        used += head_len;
                        self.state = next;
                        self.head = HeadScan::default();
                    }
                },
                State::Body(_) | State::Chunked(_) => used += self.follow_body(&data[used..]),
                // Not HTTP any more (or not followed): all of it passes.
                State::Closed => used = data.len(),
                State::Reject(_) => break,
            }
        }
        used
    }

    /// Follow body bytes (not a head); returns how many belong to the current state before
    /// it switches to Head.
    fn follow_body(&mut self, data: &[u8]) -> usize {
        let mut used = 0;
        while used < data.len() {
            match &mut self.state {
                State::Body(left) => {
                    let n = (*left).min((data.len() - used) as u64) as usize;
                    used += n;
                    *left -= n as u64;
                    if *left == 0 {
                        self.state = State::Head;
                        return used;
                    }
                }
                State::Chunked(c) => {
                    let b = data[used];
                    used += 1;
                    let next = match c {
                        Chunk::Size { size, digits, ext } => match b {
                            b'\r' => Some(Chunk::SizeLf { size: *size }),
                            b'\n' => Some(if *size == 0 { Chunk::Trailer { line: 0, cr: false } } else { Chunk::Data(*size) }),
                            _ if *ext => None,
                            _ if b.is_ascii_hexdigit() && (!*digits || *size < u64::MAX >> 4) => {
                                *size = (*size << 4) | (b as char).to_digit(16).unwrap_or(0) as u64;
                                *digits = true;
                                None
                            }
                            _ => {
                                *ext = true;
                                None
                            }
                        },
                        Chunk::SizeLf { size } => Some(if *size == 0 { Chunk::Trailer { line: 0, cr: false } } else { Chunk::Data(*size) }),
                        Chunk::Data(left) => {
                            // Skip the rest of this chunk's data in one go.
                            let n = (*left - 1).min((data.len() - used) as u64) as usize;
                            used += n;
                            *left -= 1 + n as u64;
                            (*left == 0).then_some(Chunk::DataCr)
                        }
                        Chunk::DataCr => Some(if b == b'\n' { Chunk::Size { size: 0, digits: false, ext: false } } else { Chunk::DataLf }),
                        Chunk::DataLf => Some(Chunk::Size { size: 0, digits: false, ext: false }),
                        Chunk::Trailer { line, cr } => match b {
                            b'\r' => {
                                *cr = true;
                                None
                            }
                            b'\n' if *line == 0 => {
                                self.state = State::Head;
                                return used;
                            }
                            b'\n' => Some(Chunk::Trailer { line: 0, cr: false }),
                            _ => {
                                *line += 1 + *cr as usize;
                                *cr = false;
                                None
                            }
                        },
                    };
                    if let Some(n) = next {
                        *c = n;
                    }
                }
                _ => return used,
            }
        }
        used
    }
}

impl<IO> Guard<IO> {
    pub fn new(io: IO) -> Guard<IO> {
        Guard { io, check: Check { state: State::Head, head: HeadScan::default() }, pending: Vec::new(), ready: 0 }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guard<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if let State::Reject(resp) = this.check.state {
                // Hand over what was checked before the bad head, then answer and end.
                if this.ready > 0 {
                    break;
                }
                let mut rest = resp;
                while !rest.is_empty() {
                    match Pin::new(&mut this.io).poll_write(cx, rest) {
                        Poll::Ready(Ok(n)) if n > 0 => rest = &rest[n..],
                        Poll::Ready(Ok(_)) => break,
                        Poll::Ready(Err(_)) => break,
                        Poll::Pending => {
                            this.check.state = State::Reject(rest);
                            return Poll::Pending;
                        }
                    }
                }
                let _ = Pin::new(&mut this.io).poll_flush(cx);
                this.check.state = State::Closed;
                this.pending.clear();
                return Poll::Ready(Ok(()));
            }
            if this.ready > 0 {
                break;
            }
            if this.pending.is_empty() {
                // The usual case: read straight into hyper's buffer, check there, and take
                // back only what may not pass yet.
                let before = buf.filled().len();
                std::task::ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
                let got = &buf.filled()[before..];
                if got.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                let used = this.check.verify(got);
                if used < got.len() {
                    this.pending.extend_from_slice(&got[used..]);
                    buf.set_filled(before + used);
                }
                if used > 0 {
                    return Poll::Ready(Ok(()));
                }
                // Nothing may pass yet (an incomplete or rejected head): passing 0 bytes
                // would read as EOF.
                continue;
            }
            // Uninitialised: zeroing 16 KB on every read showed up in profiles.
            let mut chunk = [std::mem::MaybeUninit::<u8>::uninit(); 16 * 1024];
            let mut rb = ReadBuf::uninit(&mut chunk);
            std::task::ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                // EOF: give hyper what is left so it can report an incomplete message.
                this.ready = this.pending.len();
                this.check.head = HeadScan::default();
                if this.ready == 0 {
                    return Poll::Ready(Ok(()));
                }
                break;
            }
            this.pending.extend_from_slice(rb.filled());
            this.ready += this.check.verify(&this.pending[this.ready..]);
        }
        let n = this.ready.min(buf.remaining());
        buf.put_slice(&this.pending[..n]);
        this.pending.drain(..n);
        this.ready -= n;
        Poll::Ready(Ok(()))
    }
}

crate::connection_common::write_through!(Guard);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn through(input: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        client.write_all(input).await.unwrap();
        client.shutdown().await.unwrap();
        let mut g = Guard::new(server);
        let mut passed = Vec::new();
        g.read_to_end(&mut passed).await.unwrap();
        drop(g);
        let mut answered = Vec::new();
        client.read_to_end(&mut answered).await.unwrap();
        (passed, answered)
    }

    fn run(input: &[u8]) -> (Vec<u8>, Vec<u8>) {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(through(input))
    }

    #[test]
    fn passes_pipelined_requests_with_bodies() {
        let input = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\nPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\nGET /d HTTP/1.0\r\n\r\n";
        let (passed, answered) = run(input);
        assert_eq!(passed, input.to_vec());
        assert!(answered.is_empty());
    }

    #[test]
    fn rejects_unknown_versions_with_505() {
        let (passed, answered) = run(b"GET / HTTP/3.0\r\nHost: x\r\n\r\n");
        assert!(passed.is_empty());
        assert!(answered.starts_with(b"HTTP/1.1 505 "));
    }

    #[test]
    fn rejects_both_framings_even_after_a_good_request() {
        let good = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut input = good.to_vec();
        input.extend_from_slice(b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        let (passed, answered) = run(&input);
        assert_eq!(passed, good.to_vec());
        assert!(answered.starts_with(b"HTTP/1.1 400 "));
    }

    #[test]
    fn rejects_a_huge_head_with_431() {
        let mut input = b"GET /".to_vec();
        input.extend(std::iter::repeat_n(b'a', 70000));
        input.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
        let (passed, answered) = run(&input);
        assert!(passed.is_empty(), "{} bytes passed", passed.len());
        assert!(answered.starts_with(b"HTTP/1.1 431 "));
    }

    #[test]
    fn passes_what_follows_an_upgrade_request_at_once() {
        // Not at EOF: the bytes after the head are no head to wait for.
        let input = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x85abcd\x09\x07\x0f\x08\x0e";
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async {
            let (mut client, server) = tokio::io::duplex(1 << 16);
            client.write_all(input).await.unwrap();
            let mut g = Guard::new(server);
            let mut passed = vec![0u8; input.len()];
            let read = tokio::time::timeout(std::time::Duration::from_secs(1), g.read_exact(&mut passed)).await;
            assert!(read.is_ok(), "the frame after the upgrade head was held back");
            assert_eq!(passed, input.to_vec());
        });
    }

    /// Like `run`, but the client writes one byte at a time, so every head arrives in pieces.
    fn run_bytewise(input: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let (mut client, server) = tokio::io::duplex(1 << 20);
            let mut g = Guard::new(server);
            let reader = async {
                let mut passed = Vec::new();
                g.read_to_end(&mut passed).await.unwrap();
                passed
            };
            let writer = async {
                for b in input {
                    client.write_all(&[*b]).await.unwrap();
                    tokio::task::yield_now().await;
                }
                client.shutdown().await.unwrap();
            };
            let (passed, ()) = tokio::join!(reader, writer);
            drop(g);
            let mut answered = Vec::new();
            client.read_to_end(&mut answered).await.unwrap();
            (passed, answered)
        })
    }

    #[test]
    fn heads_in_pieces_are_checked_the_same() {
        let good = b"\r\nPOST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\nHost: x\n\nPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(run_bytewise(good), (good.to_vec(), Vec::new()));
        let mut bad = good.to_vec();
        bad.extend_from_slice(b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
        let (passed, answered) = run_bytewise(&bad);
        assert_eq!(passed, good.to_vec());
        assert!(answered.starts_with(b"HTTP/1.1 400 "));
    }

    #[test]
    fn the_version_is_checked_after_blank_lines_and_only_as_the_last_word() {
        let (passed, answered) = run(b"\r\n\r\nGET / HTTP/2.0\r\n\r\n");
        assert!(passed.is_empty());
        assert!(answered.starts_with(b"HTTP/1.1 505 "));
        for ok in [&b"GET / HTTP/1.1\r\n\r\n"[..], b"GET /HTTP/2.0 HTTP/1.0\r\n\r\n", b"GET / xHTTP/2.0\r\n\r\n"] {
            let (passed, answered) = run(ok);
            assert_eq!(passed, ok.to_vec());
            assert!(answered.is_empty());
        }
    }

    #[test]
    fn field_names_match_whole_and_in_any_case() {
        // "Content-Lengthy" is not Content-Length: no body follows, the next head is checked.
        let input = b"GET / HTTP/1.1\r\nContent-Lengthy: 3\r\nTRANSFER-ENCODING: Chunked\r\n\r\n0\r\n\r\nGET / HTTP/9.9\r\n\r\n";
        let (passed, answered) = run(input);
        assert_eq!(passed, input[..input.len() - 18].to_vec());
        assert!(answered.starts_with(b"HTTP/1.1 505 "));
    }

    #[test]
    fn a_body_that_looks_like_a_bad_head_is_just_body() {
        let input = b"POST / HTTP/1.1\r\nContent-Length: 27\r\n\r\nGET / HTTP/3.0\r\nHost: x\r\n\r\n";
        let (passed, answered) = run(input);
        assert_eq!(passed, input.to_vec());
        assert!(answered.is_empty());
    }
}
