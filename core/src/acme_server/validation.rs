//! HTTP-01 validation (RFC 8555 §8.3): fetch
//! `http://{name}:{port}/.well-known/acme-challenge/{token}` and compare the body with the key
//! authorization. One connection, a timeout over the whole exchange, at most 64 KiB read;
//! redirects are not followed.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::rt::TokioIo;

/// How the server reaches the names it validates.
#[derive(Clone, Debug)]
pub struct ValidationOptions {
    /// The port HTTP-01 connects to (80 by RFC 8555; tests use a free loopback port).
    pub http01_port: u16,
    /// Addresses to use for names instead of the system resolver, like curl's `--resolve`
    /// (split-horizon setups, loopback tests).
    pub resolve: BTreeMap<String, IpAddr>,
    /// The most one validation may take.
    pub timeout: Duration,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        Self { http01_port: 80, resolve: BTreeMap::new(), timeout: Duration::from_secs(10) }
    }
}

const MAX_BODY: usize = 64 * 1024;

/// Check that `name` serves `key_authorization` for `token`. `Err` says why not, for the
/// challenge's error (the client's operator reads it).
pub async fn validate_http01(
    options: &ValidationOptions,
    name: &str,
    token: &str,
    key_authorization: &str,
) -> Result<(), String> {
    let fetch = fetch(options, name, token);
    let body = match tokio::time::timeout(options.timeout, fetch).await {
        Ok(result) => result?,
        Err(_) => return Err(format!("{name}: no answer within {:?}", options.timeout)),
    };
    let served = String::from_utf8_lossy(&body);
    if served.trim_end() == key_authorization {
        Ok(())
    } else {
        let shown: String = served.chars().take(100).collect();
        Err(format!("{name} served {shown:?}, not the key authorization of token {token}"))
    }
}

async fn fetch(options: &ValidationOptions, name: &str, token: &str) -> Result<Bytes, String> {
    let port = options.http01_port;
    let address = match options.resolve.get(&name.to_ascii_lowercase()) {
        Some(ip) => SocketAddr::new(*ip, port),
        None => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| format!("{name} does not resolve: {e}"))?
            .next()
            .ok_or_else(|| format!("{name} has no address"))?,
    };
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| format!("{name} ({address}): cannot connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{name}: HTTP handshake failed: {e}"))?;
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get(format!("/.well-known/acme-challenge/{token}"))
        .header(hyper::header::HOST, host_header(name, port))
        .header(hyper::header::USER_AGENT, "certloop-acme-server")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("{name}: {e}"))?;
    let response =
        sender.send_request(request).await.map_err(|e| format!("{name}: request failed: {e}"))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("{name}: reading the answer failed: {e}"))?
        .to_bytes();
    connection.abort();
    if !status.is_success() {
        return Err(format!("{name} answered {status} for the challenge file"));
    }
    Ok(body)
}

fn host_header(name: &str, port: u16) -> String {
    match (name.parse::<IpAddr>(), port) {
        (Ok(IpAddr::V6(ip)), 80) => format!("[{ip}]"),
        (Ok(IpAddr::V6(ip)), port) => format!("[{ip}]:{port}"),
        (_, 80) => name.to_owned(),
        (_, port) => format!("{name}:{port}"),
    }
}
