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
    state: State,
    /// Bytes read but not yet given to hyper (a head being collected, or what followed it).
    pending: Vec<u8>,
    /// How many bytes at the front of `pending` are checked and may be handed out.
    ready: usize,
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

fn check_head(buf: &[u8]) -> Verdict {
    let Some(end) = find_head_end(buf) else {
        return if buf.len() > MAX_HEAD {
            Verdict::Reject(TOO_LARGE)
        } else {
            Verdict::Incomplete
        };
    };
    if end > MAX_HEAD {
        return Verdict::Reject(TOO_LARGE);
    }
    let head = &buf[..end];
    // The version is the last word of the request line.
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = head[..line_end].strip_suffix(b"\r").unwrap_or(&head[..line_end]);
    if let Some(v) = line.rsplit(|&b| b == b' ').next() {
        if v.starts_with(b"HTTP/") && v != b"HTTP/1.1" && v != b"HTTP/1.0" && v.len() == 8 && v[5].is_ascii_digit() {
            return Verdict::Reject(VERSION_NOT_SUPPORTED);
        }
    }
    // After a protocol switch (Upgrade, CONNECT) the bytes are not HTTP: pass them through.
    let mut switch = line.starts_with(b"CONNECT ");
    let (mut cl, mut te, mut chunked) = (None, false, false);
    for raw in head[line_end..].split(|&b| b == b'\n') {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Some(colon) = raw.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (&raw[..colon], trim(&raw[colon + 1..]));
        if name.eq_ignore_ascii_case(b"content-length") {
            cl = std::str::from_utf8(value).ok().and_then(|v| v.parse::<u64>().ok()).or(Some(0));
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te = true;
            chunked = value.len() >= 7 && value[value.len() - 7..].eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            switch = true;
        }
    }
    if te && cl.is_some() {
        return Verdict::Reject(BAD_REQUEST);
    }
    let next = if switch {
        State::Closed
    } else if chunked {
        State::Chunked(Chunk::Size { size: 0, digits: false, ext: false })
    } else if te {
        // Not chunked-last: hyper rejects it; stop following.
        State::Closed
    } else {
        match cl {
            Some(n) if n > 0 => State::Body(n),
            _ => State::Head,
        }
    };
    Verdict::Ok { head_len: end, next }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &v[start..end]
}

/// End of the header section (after the blank line), skipping blank lines before a request
/// line as RFC 9112 allows.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let mut i = start;
    while let Some(p) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + p;
        let next = nl + 1;
        if buf.get(next) == Some(&b'\n') {
            return Some(next + 1);
        }
        if buf.get(next) == Some(&b'\r') {
            if next + 1 >= buf.len() {
                return None;
            }
            if buf[next + 1] == b'\n' {
                return Some(next + 2);
            }
        }
        i = next;
    }
    None
}

impl<IO> Guard<IO> {
    pub fn new(io: IO) -> Guard<IO> {
        Guard { io, state: State::Head, pending: Vec::new(), ready: 0 }
    }

    /// Follow `n` bytes of body (not a head); returns how many belong to the current state
    /// before it switches to Head.
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
                // Not HTTP any more (or not followed): all of it passes.
                State::Closed => return data.len(),
                _ => return used,
            }
        }
        used
    }

    /// Check what is pending: mark checked bytes ready, or switch to rejecting.
    fn advance(&mut self) {
        while self.ready < self.pending.len() {
            match self.state {
                State::Head => match check_head(&self.pending[self.ready..]) {
                    Verdict::Incomplete => return,
                    Verdict::Reject(resp) => {
                        self.state = State::Reject(resp);
                        self.pending.truncate(self.ready);
                        return;
                    }
                    Verdict::Ok { head_len, next } => {
                        self.ready += head_len;
                        self.state = next;
                    }
                },
                State::Body(_) | State::Chunked(_) => {
                    let tail = self.pending[self.ready..].to_vec();
                    self.ready += self.follow_body(&tail);
                }
                State::Closed => {
                    self.ready = self.pending.len();
                }
                State::Reject(_) => return,
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guard<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if let State::Reject(resp) = this.state {
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
                            this.state = State::Reject(rest);
                            return Poll::Pending;
                        }
                    }
                }
                let _ = Pin::new(&mut this.io).poll_flush(cx);
                this.state = State::Closed;
                this.pending.clear();
                return Poll::Ready(Ok(()));
            }
            if this.ready > 0 {
                break;
            }
            // Fast path: a body we only count passes straight through.
            if this.pending.is_empty() && matches!(this.state, State::Body(_) | State::Chunked(_) | State::Closed) {
                let before = buf.filled().len();
                std::task::ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
                let got = buf.filled()[before..].to_vec();
                if got.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                let used = this.follow_body(&got);
                if used < got.len() {
                    // A new head follows in the same read: take it back for checking.
                    this.pending.extend_from_slice(&got[used..]);
                    buf.set_filled(before + used);
                    this.advance();
                }
                return Poll::Ready(Ok(()));
            }
            // Uninitialised: zeroing 16 KB on every read showed up in profiles.
            let mut chunk = [std::mem::MaybeUninit::<u8>::uninit(); 16 * 1024];
            let mut rb = ReadBuf::uninit(&mut chunk);
            std::task::ready!(Pin::new(&mut this.io).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                // EOF: give hyper what is left so it can report an incomplete message.
                this.ready = this.pending.len();
                if this.ready == 0 {
                    return Poll::Ready(Ok(()));
                }
                break;
            }
            this.pending.extend_from_slice(rb.filled());
            this.advance();
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

    #[test]
    fn a_body_that_looks_like_a_bad_head_is_just_body() {
        let input = b"POST / HTTP/1.1\r\nContent-Length: 27\r\n\r\nGET / HTTP/3.0\r\nHost: x\r\n\r\n";
        let (passed, answered) = run(input);
        assert_eq!(passed, input.to_vec());
        assert!(answered.is_empty());
    }
}
