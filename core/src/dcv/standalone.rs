//! A standalone HTTP-01 responder for hosts without a web server (RFC 8555 §8.3).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{Challenge, ChallengeKind, ChallengeSolver};
use crate::error::{Error, Result};

const PREFIX: &str = "/.well-known/acme-challenge/";
/// A client gets this long to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head read.
const MAX_HEAD: usize = 8 * 1024;

type Tokens = Arc<Mutex<HashMap<String, String>>>;

/// Binds `listen` on `prepare` and answers `GET /.well-known/acme-challenge/<token>` with the
/// key authorization of the tokens presented; everything else is 404. Stops on drop.
#[derive(Debug)]
pub struct StandaloneHttpSolver {
    listen: SocketAddr,
    tokens: Tokens,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl StandaloneHttpSolver {
    /// A responder that will bind `listen`.
    pub fn new(listen: SocketAddr) -> Self {
        Self { listen, tokens: Arc::default(), server: Mutex::new(None) }
    }

    /// Bind and start serving (idempotent).
    pub async fn start(&self) -> Result<()> {
        if self.server.lock().map_err(|_| Error::io(self.listen, "lock poisoned"))?.is_some() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.listen).await.map_err(|e| {
            Error::io(self.listen, format!("cannot bind the HTTP-01 responder: {e}"))
        })?;
        let tokens = self.tokens.clone();
        let handle = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, tokens.clone()));
            }
        });
        let mut server = self.server.lock().map_err(|_| Error::io(self.listen, "lock poisoned"))?;
        if let Some(old) = server.replace(handle) {
            old.abort();
        }
        Ok(())
    }

    fn stop(&self) {
        if let Ok(mut server) = self.server.lock()
            && let Some(handle) = server.take()
        {
            handle.abort();
        }
    }
}

impl Drop for StandaloneHttpSolver {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(mut stream: TcpStream, tokens: Tokens) {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(READ_TIMEOUT, async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    if read.is_err() {
        return;
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let body = match (method, path.strip_prefix(PREFIX)) {
        ("GET" | "HEAD", Some(token)) => {
            tokens.lock().ok().and_then(|tokens| tokens.get(token).cloned())
        }
        _ => None,
    };
    let response = match body {
        Some(body) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            if method == "HEAD" { "" } else { body.as_str() }
        ),
        None => {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
        }
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[async_trait]
impl ChallengeSolver for StandaloneHttpSolver {
    fn kind(&self) -> ChallengeKind {
        ChallengeKind::Http01
    }

    async fn prepare(&self) -> Result<()> {
        self.start().await
    }

    async fn present(&self, challenge: &Challenge) -> Result<()> {
        challenge.check_token()?;
        self.start().await?;
        self.tokens
            .lock()
            .map_err(|_| Error::io(self.listen, "lock poisoned"))?
            .insert(challenge.token.clone(), challenge.key_authorization.clone());
        Ok(())
    }

    async fn cleanup(&self, challenge: &Challenge) -> Result<()> {
        let empty = {
            let mut tokens =
                self.tokens.lock().map_err(|_| Error::io(self.listen, "lock poisoned"))?;
            tokens.remove(&challenge.token);
            tokens.is_empty()
        };
        if empty {
            self.stop();
        }
        Ok(())
    }
}
