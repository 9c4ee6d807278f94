//! ws-load URL [CLIENTS] [SECONDS] [SIZE] [WINDOW]: CLIENTS connections (10) to a WebSocket echo
//! server, each keeping WINDOW text messages of SIZE bytes (1, 32) in flight for SECONDS (10),
//! checking every echo. Prints "messages N seconds S rate R errors E" (exit code 1 if a client
//! failed). One thread (pin it to its
//! own core): it needs far less CPU than any server it measures.
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

fn arg<T: std::str::FromStr>(i: usize, default: T) -> T {
    std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn main() {
    let url: String = arg(1, String::new());
    if url.is_empty() {
        eprintln!("usage: ws-load URL [CLIENTS] [SECONDS] [SIZE] [WINDOW]");
        std::process::exit(2);
    }
    let (clients, secs, size, window) = (arg(2, 10usize), arg(3, 10f64), arg(4, 32usize), arg(5, 1u64));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (messages, errors, elapsed) = rt.block_on(async move {
        let start = Instant::now();
        let stop = start + Duration::from_secs_f64(secs);
        let tasks: Vec<_> = (0..clients).map(|_| tokio::spawn(client(url.clone(), size, window, stop))).collect();
        let (mut messages, mut errors) = (0u64, 0u64);
        for t in tasks {
            match t.await {
                Ok(Ok(n)) => messages += n,
                Ok(Err(e)) => {
                    eprintln!("client: {e}");
                    errors += 1;
                }
                Err(e) => {
                    eprintln!("client task: {e}");
                    errors += 1;
                }
            }
        }
        (messages, errors, start.elapsed().as_secs_f64())
    });
    println!("messages {messages} seconds {elapsed:.3} rate {:.0} errors {errors}", messages as f64 / elapsed);
    if errors > 0 {
        std::process::exit(1);
    }
}

/// Echoes received (and checked) until `stop`, then the rest in flight, then a close.
async fn client(url: String, size: usize, window: u64, stop: Instant) -> Result<u64, String> {
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.map_err(|e| e.to_string())?;
    let (mut tx, mut rx) = ws.split();
    let payload = Utf8Bytes::from("x".repeat(size));
    let (mut sent, mut got) = (0u64, 0u64);
    loop {
        let sending = Instant::now() < stop;
        if sending {
            while sent - got < window {
                tx.feed(Message::Text(payload.clone())).await.map_err(|e| e.to_string())?;
                sent += 1;
            }
            tx.flush().await.map_err(|e| e.to_string())?;
        } else if got == sent {
            break;
        }
        let mut next = rx.next().await;
        loop {
            match next {
                Some(Ok(Message::Text(t))) if t == payload => got += 1,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(m)) => return Err(format!("unexpected message: {m:?}")),
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("connection closed".into()),
            }
            // Count everything already received before sending more.
            next = match rx.next().now_or_never() {
                Some(n) => n,
                None => break,
            };
        }
    }
    tx.send(Message::Close(None)).await.map_err(|e| e.to_string())?;
    // The server's answer to our close, then its end of the connection.
    while let Some(Ok(_)) = rx.next().await {}
    Ok(got)
}
