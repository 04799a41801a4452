//! Pinning verification: connect to an endpoint over TLS, read the certificate it serves
//! without trusting it, and compare its SHA-256 fingerprint with the one expected.
//!
//! The chain is not validated (the point is to see *what* is served, trusted or not), but the
//! handshake signature is: the server proves it holds the key of the certificate it sent.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::{fingerprint_sha256, inspect_certificate};
use crate::error::{Error, Result};

/// The result of one pinning check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PinCheck {
    /// `host:port` that was asked.
    pub endpoint: String,
    /// The SNI name sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Whether the served leaf is the expected certificate.
    pub matches: bool,
    /// SHA-256 fingerprint expected (lower-case hex).
    pub expected_sha256: String,
    /// SHA-256 fingerprint of the served leaf.
    pub served_sha256: String,
    /// SHA-256 of the served leaf's SubjectPublicKeyInfo, base64 (the `pin-sha256` form of
    /// RFC 7469).
    pub served_spki_sha256: String,
    /// The served leaf's subject, one line.
    pub served_subject: String,
    /// The served leaf's notAfter.
    #[serde(with = "time::serde::rfc3339")]
    pub served_not_after: OffsetDateTime,
    /// How many certificates the server sent.
    pub served_chain_length: usize,
}

/// What an endpoint serves.
#[derive(Clone, Debug)]
pub struct ServedChain {
    /// The certificates as sent, leaf first, DER.
    pub certificates: Vec<Vec<u8>>,
}

/// Connect to `endpoint` (`host:port`), send `server_name` as SNI (or the host when it is a
/// name), complete a TLS handshake within `timeout` and return the chain the server sent.
pub fn fetch_served_chain(
    endpoint: &str,
    server_name: Option<&str>,
    timeout: Duration,
) -> Result<ServedChain> {
    let (host, address) = resolve(endpoint)?;
    let name = server_name.unwrap_or(&host).to_owned();
    let name = ServerName::try_from(name.clone())
        .map_err(|_| Error::invalid("serverName", format!("{name:?} is not a DNS name or IP")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        Arc::new(CapturingVerifier { provider: provider.clone(), seen: Mutex::default() });
    let tls_err = |e: rustls::Error| Error::io(endpoint, format!("TLS: {e}"));
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let mut connection = ClientConnection::new(Arc::new(config), name).map_err(tls_err)?;
    let mut socket = TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| Error::io(endpoint, format!("connect: {e}")))?;
    let io_err = |e: std::io::Error| Error::io(endpoint, format!("TLS handshake: {e}"));
    socket.set_read_timeout(Some(timeout)).map_err(io_err)?;
    socket.set_write_timeout(Some(timeout)).map_err(io_err)?;
    // Bounded: every read and write times out, and a handshake is a handful of flights.
    for _ in 0..32 {
        if !connection.is_handshaking() {
            break;
        }
        connection.complete_io(&mut socket).map_err(io_err)?;
    }
    if connection.is_handshaking() {
        return Err(Error::io(endpoint, "TLS handshake did not complete"));
    }
    connection.send_close_notify();
    // Closing politely is best effort: the answer is already in hand.
    drop(connection.write_tls(&mut socket).and_then(|_| socket.flush()));
    let certificates = connection
        .peer_certificates()
        .map(|certs| certs.iter().map(|c| c.as_ref().to_vec()).collect::<Vec<_>>())
        .or_else(|| verifier.seen.lock().ok().and_then(|seen| seen.clone()))
        .unwrap_or_default();
    if certificates.is_empty() {
        return Err(Error::io(endpoint, "the server sent no certificate"));
    }
    Ok(ServedChain { certificates })
}

/// Compare what `endpoint` serves with `expected_sha256`.
pub fn check_pin(
    endpoint: &str,
    server_name: Option<&str>,
    expected_sha256: &str,
    timeout: Duration,
) -> Result<PinCheck> {
    let served = fetch_served_chain(endpoint, server_name, timeout)?;
    pin_check_of(endpoint, server_name, expected_sha256, &served)
}

/// The [`PinCheck`] for a chain already fetched.
pub fn pin_check_of(
    endpoint: &str,
    server_name: Option<&str>,
    expected_sha256: &str,
    served: &ServedChain,
) -> Result<PinCheck> {
    let leaf_der = served
        .certificates
        .first()
        .ok_or_else(|| Error::io(endpoint, "the server sent no certificate"))?;
    let leaf = inspect_certificate(leaf_der)?;
    let spki_hash = ring::digest::digest(&ring::digest::SHA256, leaf.spki_der());
    let served_sha256 = fingerprint_sha256(leaf_der);
    let expected = expected_sha256.to_ascii_lowercase().replace(':', "");
    Ok(PinCheck {
        endpoint: endpoint.to_owned(),
        server_name: server_name.map(str::to_owned),
        matches: served_sha256 == expected,
        expected_sha256: expected,
        served_sha256,
        served_spki_sha256: base64::engine::general_purpose::STANDARD.encode(spki_hash.as_ref()),
        served_subject: leaf.subject_dn.clone(),
        served_not_after: leaf.not_after,
        served_chain_length: served.certificates.len(),
    })
}

/// Split `host:port` (or `[v6]:port`) and resolve it to one address.
fn resolve(endpoint: &str) -> Result<(String, SocketAddr)> {
    let bad = || Error::invalid("endpoint", format!("{endpoint:?} is not host:port"));
    let (host, port) = endpoint.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    let address = (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::io(endpoint, format!("cannot resolve: {e}")))?
        .next()
        .ok_or_else(|| Error::io(endpoint, "the name resolves to no address"))?;
    Ok((host.to_owned(), address))
}

/// Accepts any server certificate (recording it) but checks the handshake signatures.
#[derive(Debug)]
struct CapturingVerifier {
    provider: Arc<CryptoProvider>,
    seen: Mutex<Option<Vec<Vec<u8>>>>,
}

impl ServerCertVerifier for CapturingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.as_ref().to_vec()];
        chain.extend(intermediates.iter().map(|c| c.as_ref().to_vec()));
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(chain);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_parsed() {
        assert_eq!(resolve("127.0.0.1:8443").unwrap().1.port(), 8443);
        assert_eq!(resolve("[::1]:443").unwrap().0, "::1");
        for bad in ["nohost", "127.0.0.1:", ":443", "127.0.0.1:0", "127.0.0.1:99999"] {
            assert!(resolve(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_closed_port_is_an_io_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = check_pin(&format!("127.0.0.1:{port}"), None, "00", Duration::from_secs(2));
        assert_eq!(err.unwrap_err().kind(), crate::ErrorKind::Io);
    }
}
