//! One request/response exchange on a client connection: the request head from lua-http's
//! headers, sending it (hyper for HTTP/1, h2 for HTTP/2), and feeding the response to the
//! stream's input channel: informational heads, the final head, the body, trailers.

use super::{connect, Retry, Sender, Shared};
use crate::headers::Headers;
use crate::stream_common::{self, headers_from_map, BodySource, Failure, InEvent, OutBody, OutFrame, Pseudo};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use std::sync::Arc;
use tokio::sync::mpsc;

type Input = mpsc::Sender<Result<InEvent, Failure>>;

/// A request head, kept so that it can be sent again (see `Retry`).
#[derive(Clone)]
pub struct Parts {
    method: Method,
    uri: Uri,
    version: http::Version,
    headers: HeaderMap,
}

/// HTTP/2 forbids connection-specific fields; they are dropped there.
fn h1_only(name: &HeaderName) -> bool {
    use http::header::*;
    [CONNECTION, TRANSFER_ENCODING, UPGRADE, HOST].contains(name) || name.as_str() == "keep-alive" || name.as_str() == "proxy-connection"
}

/// The request head from lua-http headers (`:method`, `:scheme`, `:authority`, `:path`).
pub fn parts(h: &Headers, version: f64, tls: bool) -> Result<Parts, String> {
    let (Pseudo { method, scheme, authority, path }, mut headers) = stream_common::request_fields(h, |n, value| {
        version != 2.0 || !(h1_only(n) || n == http::header::TE && value != b"trailers")
    })?;
    let method = Method::from_bytes(method.ok_or("request headers have no :method")?).map_err(|_| "invalid :method".to_string())?;
    let authority = authority.map(|a| String::from_utf8_lossy(a).into_owned());
    let uri = if method == Method::CONNECT {
        authority.as_deref().ok_or("a CONNECT request needs :authority")?.parse::<Uri>()
    } else {
        let path = path.map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_else(|| "/".into());
        let absolute = !path.starts_with('/') && path != "*";
        if absolute || version != 2.0 {
            path.parse::<Uri>()
        } else {
            let scheme = scheme.map(|s| String::from_utf8_lossy(s).into_owned()).unwrap_or_else(|| if tls { "https" } else { "http" }.into());
            let authority = authority.as_deref().ok_or("request headers have no :authority")?;
            format!("{scheme}://{authority}{path}").parse::<Uri>()
        }
    }
    .map_err(|e| format!("invalid request target: {e}"))?;
    if version != 2.0 && !headers.contains_key(http::header::HOST) {
        if let Some(a) = &authority {
            let v = HeaderValue::from_str(a).map_err(|_| "invalid :authority".to_string())?;
            headers.insert(http::header::HOST, v);
        }
    }
    let version = match version {
        v if v == 2.0 => http::Version::HTTP_2,
        v if v == 1.0 => http::Version::HTTP_10,
        _ => http::Version::HTTP_11,
    };
    Ok(Parts { method, uri, version, headers })
}

impl Parts {
    fn request<B>(&self, body: B) -> http::Request<B> {
        let mut req = http::Request::new(body);
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.version_mut() = self.version;
        *req.headers_mut() = self.headers.clone();
        req
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub fn idempotent(&self) -> bool {
        self.method.is_idempotent()
    }
}

/// The response head as lua-http headers (`:status` first).
fn head(status: http::StatusCode, map: &HeaderMap, decode: bool) -> Headers {
    let mut h = Headers::new();
    let _ = h.push(b":status", status.as_str().as_bytes(), None);
    if decode {
        let mut rest = map.clone();
        rest.remove(http::header::CONTENT_ENCODING);
        rest.remove(http::header::CONTENT_LENGTH);
        headers_from_map(&mut h, &rest);
    } else {
        headers_from_map(&mut h, map);
    }
    h
}

/// A gzip or deflate (zlib) Content-Encoding this client decodes.
fn decodable(map: &HeaderMap) -> bool {
    map.get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| ["gzip", "x-gzip", "deflate"].iter().any(|e| v.trim().eq_ignore_ascii_case(e)))
}

/// Failed before any response: worth one more try on a fresh connection (see `Retry`).
enum Sent {
    Response(http::Response<BodySource>, Option<hyper::upgrade::OnUpgrade>),
    Failed(Failure, bool),
}

async fn send_h1(shared: &Shared, parts: &Parts, body: OutBody, input: &Input) -> Sent {
    let Sender::H1(send) = &shared.sender else { unreachable!("HTTP/1 sender") };
    let mut req = parts.request(body);
    let informational = input.clone();
    hyper::ext::on_informational(&mut req, move |res| {
        let _ = informational.try_send(Ok(InEvent::Head(head(res.status(), res.headers(), false), None)));
    });
    let fut = {
        let mut send = send.lock().await;
        if send.ready().await.is_err() {
            return Sent::Failed(Failure::new("connection closed", libc::ECONNRESET), true);
        }
        send.send_request(req)
    };
    match fut.await {
        Ok(mut resp) => {
            let switched = resp.status() == http::StatusCode::SWITCHING_PROTOCOLS
                || parts.method == Method::CONNECT && resp.status().is_success();
            let upgrade = switched.then(|| hyper::upgrade::on(&mut resp));
            Sent::Response(resp.map(BodySource::Hyper), upgrade)
        }
        Err(e) => {
            // The peer closed a kept-alive connection before answering.
            let retry = e.is_canceled() || e.is_incomplete_message() || e.is_closed();
            Sent::Failed(Failure::new(e.to_string(), libc::ECONNRESET), retry)
        }
    }
}

async fn send_h2(shared: &Shared, parts: &Parts, body: Option<mpsc::Receiver<OutFrame>>) -> Sent {
    let Sender::H2(send) = &shared.sender else { unreachable!("HTTP/2 sender") };
    let mut send = match send.clone().ready().await {
        Ok(s) => s,
        Err(e) => return Sent::Failed(Failure::new(e.to_string(), libc::ECONNRESET), true),
    };
    let (resp, stream) = match send.send_request(parts.request(()), body.is_none()) {
        Ok(r) => r,
        Err(e) => return Sent::Failed(Failure::new(e.to_string(), libc::ECONNRESET), true),
    };
    if let Some(rx) = body {
        tokio::spawn(stream_common::h2_writer(stream, rx));
    }
    match resp.await {
        Ok(resp) => Sent::Response(resp.map(BodySource::H2), None),
        Err(e) => {
            let retry = e.is_go_away() || e.is_io();
            Sent::Failed(Failure::new(e.to_string(), libc::ECONNRESET), retry)
        }
    }
}

async fn send(shared: &Shared, parts: &Parts, body: Option<mpsc::Receiver<OutFrame>>, input: &Input) -> Sent {
    match &shared.sender {
        Sender::H1(_) => {
            let body = match body {
                Some(rx) => OutBody::channel(rx),
                None => OutBody::empty(),
            };
            send_h1(shared, parts, body, input).await
        }
        Sender::H2(_) => send_h2(shared, parts, body).await,
    }
}

/// Send the request and feed the response into `input`.
pub async fn exchange(
    mut shared: Arc<Shared>,
    parts: Parts,
    body: Option<mpsc::Receiver<OutFrame>>,
    decode: bool,
    retry: Option<Retry>,
    sent_all: Arc<std::sync::atomic::AtomicBool>,
    input: Input,
) {
    let replayable = body.is_none() && parts.idempotent();
    let mut sent = send(&shared, &parts, body, &input).await;
    if let (Sent::Failed(_, true), Some(r)) = (&sent, &retry) {
        if replayable && r.reused {
            shared.set_closed();
            match connect::connect(&r.options).await {
                Ok(fresh) => {
                    fresh.claim();
                    r.pool.insert(&r.options.key, fresh.clone());
                    shared = fresh;
                    sent = send(&shared, &parts, None, &input).await;
                }
                Err(f) => sent = Sent::Failed(f, false),
            }
        }
    }
    let (resp, upgrade) = match sent {
        Sent::Response(r, u) => (r, u),
        Sent::Failed(f, _) => {
            let _ = input.send(Err(f)).await;
            return;
        }
    };
    let (head_parts, source) = resp.into_parts();
    let decode = decode && decodable(&head_parts.headers);
    let h = head(head_parts.status, &head_parts.headers, decode);
    let decode = decode || stream_common::gzip_coded(&head_parts.headers);
    if input.send(Ok(InEvent::Head(h, upgrade))).await.is_err() {
        return;
    }
    let inflater = decode.then(crate::zlib::Inflater::new);
    if stream_common::pump(source, &input, None, inflater).await {
        if sent_all.load(std::sync::atomic::Ordering::Acquire) {
            shared.release();
        } else {
            // The answer came before the whole request body (a 417, say): the connection is
            // in the middle of a message and cannot carry another.
            shared.set_closed();
            shared.conn.close();
        }
    }
    // (the body's end reaches the Lua side only now, when `input` drops: a request made as
    // soon as it is seen finds the connection back in the pool)
}
