//! Challenge checks. HTTP-01 (RFC 8555 §8.3): fetch
//! `http://{name}:{port}/.well-known/acme-challenge/{token}` and compare the body with the key
//! authorization; one connection, a timeout over the whole exchange, at most 64 KiB read,
//! redirects not followed. DNS-01 (§8.4): ask a DNS server for the TXT records of
//! `_acme-challenge.{name}` over UDP and look for base64url(SHA-256(key authorization)).

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
    /// The DNS server DNS-01 asks (and HTTP-01 too, for A records, when set); without one,
    /// DNS-01 asks the first `nameserver` of `/etc/resolv.conf` and HTTP-01 uses the system
    /// resolver.
    pub dns_server: Option<SocketAddr>,
    /// The most one validation may take.
    pub timeout: Duration,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        Self {
            http01_port: 80,
            resolve: BTreeMap::new(),
            dns_server: None,
            timeout: Duration::from_secs(10),
        }
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
        None if options.dns_server.is_some() || name.parse::<IpAddr>().is_ok() => {
            let ip = match name.parse::<IpAddr>() {
                Ok(ip) => ip,
                Err(_) => first_a_record(options, name).await?,
            };
            SocketAddr::new(ip, port)
        }
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

/// Check that `_acme-challenge.{name}` has a TXT record with the digest of
/// `key_authorization`.
pub async fn validate_dns01(
    options: &ValidationOptions,
    name: &str,
    key_authorization: &str,
) -> Result<(), String> {
    use base64::Engine as _;
    let digest = ring::digest::digest(&ring::digest::SHA256, key_authorization.as_bytes());
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    let record = format!("_acme-challenge.{}", name.trim_end_matches('.'));
    let answers = query(options, &record, simple_dns::TYPE::TXT).await?;
    let found: Vec<String> = answers
        .iter()
        .filter_map(|rdata| match rdata {
            Answer::Txt(text) => Some(text.clone()),
            Answer::A(_) => None,
        })
        .collect();
    if found.iter().any(|text| text == &expected) {
        Ok(())
    } else if found.is_empty() {
        Err(format!("{record} has no TXT record"))
    } else {
        Err(format!("{record} has TXT {found:?}, not the digest of the key authorization"))
    }
}

async fn first_a_record(options: &ValidationOptions, name: &str) -> Result<IpAddr, String> {
    query(options, name, simple_dns::TYPE::A)
        .await?
        .into_iter()
        .find_map(|a| match a {
            Answer::A(ip) => Some(IpAddr::V4(ip)),
            Answer::Txt(_) => None,
        })
        .ok_or_else(|| format!("{name} has no A record"))
}

enum Answer {
    Txt(String),
    A(std::net::Ipv4Addr),
}

/// One UDP question to the configured DNS server (bounded by the validation timeout).
async fn query(
    options: &ValidationOptions,
    name: &str,
    kind: simple_dns::TYPE,
) -> Result<Vec<Answer>, String> {
    use simple_dns::{CLASS, Name, Packet, PacketFlag, Question, rdata::RData};
    let server = match options.dns_server {
        Some(server) => server,
        None => system_nameserver()?,
    };
    let id: u16 = {
        use ring::rand::SecureRandom as _;
        let mut bytes = [0u8; 2];
        ring::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| "no randomness".to_owned())?;
        u16::from_be_bytes(bytes)
    };
    let qname = Name::new(name).map_err(|e| format!("{name:?} is not a DNS name: {e}"))?;
    let mut packet = Packet::new_query(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED);
    packet.questions.push(Question::new(qname, kind.into(), CLASS::IN.into(), false));
    let bytes = packet.build_bytes_vec().map_err(|e| format!("building the DNS query: {e}"))?;
    let bind: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let exchange = async {
        let socket =
            tokio::net::UdpSocket::bind(bind).await.map_err(|e| format!("DNS socket: {e}"))?;
        socket.connect(server).await.map_err(|e| format!("DNS server {server}: {e}"))?;
        socket.send(&bytes).await.map_err(|e| format!("DNS server {server}: {e}"))?;
        let mut buf = vec![0u8; 4096];
        // Answers with another id are not ours (late answers to an earlier query): skip a few.
        for _ in 0..8 {
            let n = socket.recv(&mut buf).await.map_err(|e| format!("DNS server {server}: {e}"))?;
            let answer = Packet::parse(&buf[..n])
                .map_err(|e| format!("DNS server {server} sent an unreadable answer: {e}"))?;
            if answer.id() != id {
                continue;
            }
            return Ok(answer
                .answers
                .iter()
                .filter_map(|rr| match &rr.rdata {
                    RData::TXT(txt) => Some(Answer::Txt(
                        txt.iter_raw()
                            .map(|(k, v)| match v {
                                Some(v) => format!(
                                    "{}={}",
                                    String::from_utf8_lossy(k),
                                    String::from_utf8_lossy(v)
                                ),
                                None => String::from_utf8_lossy(k).into_owned(),
                            })
                            .collect::<String>(),
                    )),
                    RData::A(a) => Some(Answer::A(std::net::Ipv4Addr::from(a.address))),
                    _ => None,
                })
                .collect());
        }
        Err(format!("DNS server {server} did not answer the query"))
    };
    match tokio::time::timeout(options.timeout, exchange).await {
        Ok(result) => result,
        Err(_) => {
            Err(format!("DNS server {server}: no answer for {name} within {:?}", options.timeout))
        }
    }
}

/// The first `nameserver` of /etc/resolv.conf, port 53.
fn system_nameserver() -> Result<SocketAddr, String> {
    let text = std::fs::read_to_string("/etc/resolv.conf")
        .map_err(|e| format!("/etc/resolv.conf: {e} (set a DNS server for DNS-01)"))?;
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .find_map(|rest| rest.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .ok_or_else(|| "/etc/resolv.conf names no nameserver".to_owned())
}
