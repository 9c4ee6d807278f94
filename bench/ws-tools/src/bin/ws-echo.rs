//! ws-echo PORT: a WebSocket echo server on 127.0.0.1:PORT with tokio-tungstenite and no Lua,
//! tokio with 2 worker threads (as many I/O threads as ours). Every text or binary message
//! goes back as it came; what is already received is echoed before one flush.
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| std::io::Error::other("usage: ws-echo PORT"))?;
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(serve(port))
}

async fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on 127.0.0.1:{port}");
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(echo(tcp));
    }
}

async fn echo(tcp: TcpStream) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut ws = tokio_tungstenite::accept_async(tcp).await?;
    while let Some(msg) = ws.next().await {
        let mut msg = msg?;
        loop {
            if matches!(msg, Message::Text(_) | Message::Binary(_)) {
                ws.feed(msg).await?;
            }
            // Echo what already arrived before flushing once.
            match ws.next().now_or_never() {
                Some(Some(m)) => msg = m?,
                Some(None) => return ws.flush().await,
                None => break,
            }
        }
        ws.flush().await?;
    }
    Ok(())
}
