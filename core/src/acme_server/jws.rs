//! JSON Web Signatures as ACME clients send them (RFC 8555 §6.2, RFC 7515 flattened JSON):
//! parse, check the protected header, verify with a JWK (RFC 7517) and compute its thumbprint
//! (RFC 7638). ES256, ES384, RS256 and EdDSA (Ed25519), all verified with ring.

use base64::Engine as _;
use ring::signature::{self as ring_sig, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use super::{Problem, ProblemType};
use crate::crypto::PublicKey;

/// A request body: `{"protected": ..., "payload": ..., "signature": ...}`, base64url parts.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Flattened {
    protected: String,
    payload: String,
    signature: String,
}

/// The protected header fields ACME uses.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    jwk: Option<Jwk>,
    #[serde(default)]
    kid: Option<String>,
}

/// Who signed a request: a key given inline (new accounts, revocation by certificate key) or
/// an account URL.
#[derive(Clone, Debug)]
pub enum Signer {
    /// The `jwk` header: the key itself.
    Key(Jwk),
    /// The `kid` header: an account URL.
    Account(String),
}

/// A parsed request whose signature is not verified yet.
pub struct SignedRequest {
    alg: String,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
    /// The `nonce` header.
    pub nonce: String,
    /// The `url` header (checked against the request URL by [`parse`]).
    pub url: String,
    /// The `jwk` or `kid` header.
    pub signer: Signer,
    /// The decoded payload: empty for POST-as-GET.
    pub payload: Vec<u8>,
}

impl SignedRequest {
    /// Verify the signature with `key` (the inline key, or the account's).
    pub fn verify(&self, key: &Jwk) -> Result<(), Problem> {
        key.verify(&self.alg, &self.signing_input, &self.signature)
    }

    /// The payload as JSON (`{}` counts as empty for POST-as-GET checks elsewhere).
    pub fn payload_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Problem> {
        serde_json::from_slice(&self.payload).map_err(|e| {
            Problem::malformed(format!("the JWS payload is not the expected JSON: {e}"))
        })
    }

    /// Whether this is a POST-as-GET (empty payload).
    pub fn is_post_as_get(&self) -> bool {
        self.payload.is_empty()
    }
}

/// Parse a flattened JWS body sent to `request_url`: the header's `url` must equal it, the
/// algorithm must be one this server verifies, and exactly one of `jwk` and `kid` is present.
pub fn parse(body: &[u8], request_url: &str) -> Result<SignedRequest, Problem> {
    let flat: Flattened = serde_json::from_slice(body)
        .map_err(|e| Problem::malformed(format!("the body is not a flattened JWS: {e}")))?;
    let header_bytes = b64(&flat.protected, "protected")?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|e| Problem::malformed(format!("the protected header is unreadable: {e}")))?;
    if !matches!(header.alg.as_str(), "ES256" | "ES384" | "RS256" | "EdDSA") {
        return Err(Problem::new(
            ProblemType::BadSignatureAlgorithm,
            format!("{:?} is not accepted; use ES256, ES384, RS256 or EdDSA", header.alg),
        ));
    }
    let nonce = header
        .nonce
        .ok_or_else(|| Problem::new(ProblemType::BadNonce, "the protected header has no nonce"))?;
    let url = header.url.ok_or_else(|| Problem::malformed("the protected header has no url"))?;
    if url != request_url {
        return Err(Problem::unauthorized(format!(
            "the protected header's url {url:?} is not this request's {request_url:?}"
        )));
    }
    let signer = match (header.jwk, header.kid) {
        (Some(jwk), None) => Signer::Key(jwk),
        (None, Some(kid)) => Signer::Account(kid),
        _ => {
            return Err(Problem::malformed(
                "the protected header needs exactly one of jwk and kid",
            ));
        }
    };
    let mut signing_input = flat.protected.into_bytes();
    signing_input.push(b'.');
    signing_input.extend_from_slice(flat.payload.as_bytes());
    Ok(SignedRequest {
        alg: header.alg,
        signing_input,
        signature: b64(&flat.signature, "signature")?,
        nonce,
        url,
        signer,
        payload: b64(&flat.payload, "payload")?,
    })
}

/// An external account binding (RFC 8555 §7.3.4): a JWS over the account's JWK, MACed
/// with HS256 under a key the CA handed out (`kid`).
pub struct ExternalBinding {
    /// The EAB key id.
    pub kid: String,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl ExternalBinding {
    /// Parse the `externalAccountBinding` of a newAccount request sent to `url` for the
    /// account key `account_key`: HS256, the same URL, and the account's key as payload.
    pub fn parse(value: &serde_json::Value, url: &str, account_key: &Jwk) -> Result<Self, Problem> {
        let flat: Flattened = serde_json::from_value(value.clone()).map_err(|e| {
            Problem::malformed(format!("externalAccountBinding is not a flattened JWS: {e}"))
        })?;
        #[derive(Deserialize)]
        struct EabHeader {
            alg: String,
            kid: String,
            url: String,
        }
        let header: EabHeader =
            serde_json::from_slice(&b64(&flat.protected, "externalAccountBinding.protected")?)
                .map_err(|e| Problem::malformed(format!("externalAccountBinding header: {e}")))?;
        if header.alg != "HS256" {
            return Err(Problem::new(
                ProblemType::BadSignatureAlgorithm,
                format!("externalAccountBinding uses {:?}; use HS256", header.alg),
            ));
        }
        if header.url != url {
            return Err(Problem::unauthorized("externalAccountBinding is for another URL"));
        }
        let bound: Jwk =
            serde_json::from_slice(&b64(&flat.payload, "externalAccountBinding.payload")?)
                .map_err(|e| Problem::malformed(format!("externalAccountBinding payload: {e}")))?;
        if bound != *account_key {
            return Err(Problem::unauthorized("externalAccountBinding binds another key"));
        }
        let mut signing_input = flat.protected.into_bytes();
        signing_input.push(b'.');
        signing_input.extend_from_slice(flat.payload.as_bytes());
        Ok(Self {
            kid: header.kid,
            signing_input,
            signature: b64(&flat.signature, "externalAccountBinding.signature")?,
        })
    }

    /// Check the MAC with the EAB key (constant time).
    pub fn verify(&self, hmac_key: &[u8]) -> Result<(), Problem> {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, hmac_key);
        ring::hmac::verify(&key, &self.signing_input, &self.signature)
            .map_err(|_| Problem::unauthorized("externalAccountBinding's MAC does not verify"))
    }
}

/// A public JSON Web Key: EC (P-256, P-384), RSA or OKP (Ed25519). Unknown members are ignored
/// (clients add `alg`, `use`, `kid`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kty")]
pub enum Jwk {
    /// An elliptic-curve key.
    #[serde(rename = "EC")]
    Ec {
        /// `P-256` or `P-384`.
        crv: String,
        /// The x coordinate, base64url.
        x: String,
        /// The y coordinate, base64url.
        y: String,
    },
    /// An RSA key.
    #[serde(rename = "RSA")]
    Rsa {
        /// The modulus, base64url big-endian.
        n: String,
        /// The public exponent, base64url big-endian.
        e: String,
    },
    /// An Edwards-curve key.
    #[serde(rename = "OKP")]
    Okp {
        /// `Ed25519`.
        crv: String,
        /// The public key, base64url.
        x: String,
    },
}

impl Jwk {
    /// The RFC 7638 thumbprint: base64url(SHA-256) of the required members in lexical order.
    pub fn thumbprint(&self) -> String {
        let canonical = match self {
            Jwk::Ec { crv, x, y } => {
                format!(r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#, q(crv), q(x), q(y))
            }
            Jwk::Rsa { n, e } => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, q(e), q(n)),
            Jwk::Okp { crv, x } => format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, q(crv), q(x)),
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    }

    /// Whether this is the key of `public_key` (a certificate's, for revocation by key).
    pub fn is_key_of(&self, public_key: &PublicKey) -> bool {
        let raw = public_key.subject_public_key();
        match self {
            Jwk::Ec { .. } | Jwk::Okp { .. } => self.raw_point().is_ok_and(|p| p == raw),
            Jwk::Rsa { n, e } => {
                match <pkcs1::RsaPublicKey<der::asn1::UintRef<'_>> as der::Decode>::from_der(raw) {
                    Ok(rsa) => {
                        let same = |jwk: &str, der: &[u8]| {
                            b64(jwk, "jwk").is_ok_and(|v| strip_zeros(&v) == strip_zeros(der))
                        };
                        same(n, rsa.modulus.as_bytes()) && same(e, rsa.public_exponent.as_bytes())
                    }
                    Err(_) => false,
                }
            }
        }
    }

    /// The EC point (`04 || x || y`) or Ed25519 key bytes.
    fn raw_point(&self) -> Result<Vec<u8>, Problem> {
        match self {
            Jwk::Ec { crv, x, y } => {
                let size = match crv.as_str() {
                    "P-256" => 32,
                    "P-384" => 48,
                    other => {
                        return Err(bad_key(format!("the EC curve {other:?} is not accepted")));
                    }
                };
                let (x, y) = (b64(x, "jwk.x")?, b64(y, "jwk.y")?);
                if x.len() != size || y.len() != size {
                    return Err(bad_key(format!("{crv} coordinates must be {size} bytes")));
                }
                Ok([&[4u8][..], &x, &y].concat())
            }
            Jwk::Okp { crv, x } if crv == "Ed25519" => b64(x, "jwk.x"),
            Jwk::Okp { crv, .. } => Err(bad_key(format!("the OKP curve {crv:?} is not accepted"))),
            Jwk::Rsa { .. } => Err(bad_key("an RSA key has no point")),
        }
    }

    /// Verify `signature` over `message` as JWS algorithm `alg` with this key.
    fn verify(&self, alg: &str, message: &[u8], signature: &[u8]) -> Result<(), Problem> {
        let ok = match (alg, self) {
            ("RS256", Jwk::Rsa { n, e }) => {
                let components =
                    ring_sig::RsaPublicKeyComponents { n: b64(n, "jwk.n")?, e: b64(e, "jwk.e")? };
                components.verify(&ring_sig::RSA_PKCS1_2048_8192_SHA256, message, signature)
            }
            ("ES256", Jwk::Ec { crv, .. }) if crv == "P-256" => {
                UnparsedPublicKey::new(&ring_sig::ECDSA_P256_SHA256_FIXED, self.raw_point()?)
                    .verify(message, signature)
            }
            ("ES384", Jwk::Ec { crv, .. }) if crv == "P-384" => {
                UnparsedPublicKey::new(&ring_sig::ECDSA_P384_SHA384_FIXED, self.raw_point()?)
                    .verify(message, signature)
            }
            ("EdDSA", Jwk::Okp { .. }) => {
                UnparsedPublicKey::new(&ring_sig::ED25519, self.raw_point()?)
                    .verify(message, signature)
            }
            (alg, _) => {
                return Err(Problem::new(
                    ProblemType::BadSignatureAlgorithm,
                    format!("{alg} does not go with this key"),
                ));
            }
        };
        ok.map_err(|_| Problem::malformed("the JWS signature does not verify"))
    }
}

fn bad_key(message: impl Into<String>) -> Problem {
    Problem::new(ProblemType::BadPublicKey, message)
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// A JSON string literal (the JWK members are base64url or curve names, but quote properly).
fn q(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Decode unpadded base64url, naming the part on failure.
pub(crate) fn b64(text: &str, what: &str) -> Result<Vec<u8>, Problem> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| Problem::malformed(format!("{what} is not base64url")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 §3.1.
        let jwk: Jwk = serde_json::from_str(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .expect("the RFC's JWK parses");
        assert_eq!(jwk.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn header_url_and_algorithm_are_checked() {
        let header = |h: &str| {
            let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            format!(r#"{{"protected":"{}","payload":"","signature":"AA"}}"#, enc(h))
        };
        let url = "http://127.0.0.1/acme/p/new-order";
        let wrong_url = header(r#"{"alg":"ES256","nonce":"n","url":"http://x/","kid":"k"}"#);
        assert_eq!(
            parse(wrong_url.as_bytes(), url).err().map(|p| p.kind),
            Some(ProblemType::Unauthorized)
        );
        let hs = header(&format!(r#"{{"alg":"HS256","nonce":"n","url":"{url}","kid":"k"}}"#));
        assert_eq!(
            parse(hs.as_bytes(), url).err().map(|p| p.kind),
            Some(ProblemType::BadSignatureAlgorithm)
        );
        let both = header(&format!(
            r#"{{"alg":"ES256","nonce":"n","url":"{url}","kid":"k","jwk":{{"kty":"OKP","crv":"Ed25519","x":"AA"}}}}"#
        ));
        assert_eq!(parse(both.as_bytes(), url).err().map(|p| p.kind), Some(ProblemType::Malformed));
        let no_nonce = header(&format!(r#"{{"alg":"ES256","url":"{url}","kid":"k"}}"#));
        assert_eq!(
            parse(no_nonce.as_bytes(), url).err().map(|p| p.kind),
            Some(ProblemType::BadNonce)
        );
        assert!(parse(b"not json", url).is_err());
    }
}
