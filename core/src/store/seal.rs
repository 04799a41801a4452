//! Encryption at rest: the master key and the [`Sealer`] that seals CA private keys, managed
//! leaf keys and sensitive connector parameters with AES-256-GCM (NIST SP 800-38D).
//!
//! A sealed blob is `version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)`.
//! The caller's `context` (for example `b"ca-key:<ca id>"`) is bound as additional
//! authenticated data, so a blob copied to another row does not open there.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The environment variable that holds the master key (64 hex chars or base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "CERTLOOP_MASTER_KEY";

/// The master key's file name inside the state directory.
pub const MASTER_KEY_FILE: &str = "master.key";

const KEY_LEN: usize = 32;
const SEAL_VERSION: u8 = 1;

/// The 256-bit key every sealed blob is encrypted with. Zeroized on drop, never printed.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl MasterKey {
    /// A fresh random key, for in-memory stores and tests.
    pub fn generate() -> Result<MasterKey> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| Error::crypto("the system random generator failed"))?;
        Ok(MasterKey { bytes })
    }

    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> MasterKey {
        MasterKey { bytes: Zeroizing::new(bytes) }
    }

    /// The key from `$CERTLOOP_MASTER_KEY` when it is set, else from `<dir>/master.key`,
    /// which is created (mode 0600) when missing. See [`MasterKey::from_env_value`].
    pub fn from_env_or_file(dir: &Path) -> Result<MasterKey> {
        let value = std::env::var(MASTER_KEY_ENV).ok();
        Self::from_env_value(value.as_deref(), dir)
    }

    /// The key from `env_value` (the content of `$CERTLOOP_MASTER_KEY`) when it is `Some`:
    /// 64 hexadecimal characters or the base64 (standard or URL-safe) of 32 bytes. Otherwise
    /// from `<dir>/master.key`, which must be owner-only (mode 0600), or, when that file does
    /// not exist, a new random key written there atomically with mode 0600.
    pub fn from_env_value(env_value: Option<&str>, dir: &Path) -> Result<MasterKey> {
        if let Some(value) = env_value {
            return parse_key_text(value).ok_or_else(|| {
                Error::invalid(
                    MASTER_KEY_ENV,
                    "expected 64 hexadecimal characters or the base64 encoding of 32 bytes \
                     (generate one with `openssl rand -hex 32`)",
                )
            });
        }
        let path = dir.join(MASTER_KEY_FILE);
        match fs::metadata(&path) {
            Ok(_) => Self::read_file(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create_file(dir, &path),
            Err(e) => Err(Error::io(path.display(), e)),
        }
    }

    /// Read an existing key file, refusing one that group or others can access.
    fn read_file(path: &Path) -> Result<MasterKey> {
        check_owner_only(path)?;
        let raw = Zeroizing::new(fs::read(path).map_err(|e| Error::io(path.display(), e))?);
        if raw.len() == KEY_LEN {
            let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
            bytes.copy_from_slice(&raw);
            return Ok(MasterKey { bytes });
        }
        let text = std::str::from_utf8(&raw).ok();
        text.and_then(parse_key_text).ok_or_else(|| {
            Error::invalid(
                path.display().to_string(),
                "the master key file must hold 32 raw bytes, 64 hexadecimal characters or \
                 base64 of 32 bytes; restore it from your backup (without it sealed keys \
                 cannot be decrypted)",
            )
        })
    }

    /// Create `<dir>/master.key` with a new key: temp file (0600) + fsync, then a hard link to
    /// the final name, which never replaces a key another process created meanwhile.
    fn create_file(dir: &Path, path: &Path) -> Result<MasterKey> {
        create_private_dir(dir)?;
        let key = Self::generate()?;
        let mut text = Zeroizing::new(crate::crypto::x509::hex(key.bytes.as_ref()));
        text.push('\n');
        let tmp = dir.join(format!(".{MASTER_KEY_FILE}.{}.tmp", uuid::Uuid::new_v4()));
        let written = write_new_private(&tmp, text.as_bytes());
        let linked = written.and_then(|()| match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::io(path.display(), e)),
        });
        // Best effort: the temp name is random and holds a key we may discard.
        let _ = fs::remove_file(&tmp);
        if !linked? {
            // Another process won the race: use its key.
            return Self::read_file(path);
        }
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(key)
    }

    fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Seals and opens blobs with the master key (AES-256-GCM, random 96-bit nonces).
pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
    check: String,
}

/// What [`Sealer::key_check`] authenticates: names the purpose so the value is good for
/// nothing else.
const KEY_CHECK_MESSAGE: &[u8] = b"certloop/v1/master-key-check";

impl Sealer {
    /// A sealer for `master`.
    pub fn new(master: &MasterKey) -> Result<Sealer> {
        let unbound = UnboundKey::new(&AES_256_GCM, master.as_bytes())
            .map_err(|_| Error::crypto("cannot build the AES-256-GCM key"))?;
        let check = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, master.as_bytes()),
            KEY_CHECK_MESSAGE,
        );
        Ok(Sealer {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
            check: crate::crypto::x509::hex(check.as_ref()),
        })
    }

    /// A check value of the master key (hex of HMAC-SHA256 keyed by it over a fixed message):
    /// the same key always gives the same value and another key another, while the value
    /// tells nothing about the key. A store keeps the value of the first key that opened it.
    pub fn key_check(&self) -> &str {
        &self.check
    }

    /// Encrypt `plaintext`, binding `context` (which row it belongs to) as associated data.
    /// Returns `version || nonce || ciphertext+tag`.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| Error::crypto("the system random generator failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(1 + NONCE_LEN);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut body,
            )
            .map_err(|_| Error::crypto("AES-256-GCM sealing failed"))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decrypt a blob made by [`Sealer::seal`] with the same `context`.
    /// [`Error::Crypto`] when the key, the context or the data does not match.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let fail = || {
            Error::crypto(
                "cannot decrypt sealed data: wrong master key or corrupted data \
                 (check CERTLOOP_MASTER_KEY / master.key)",
            )
        };
        let Some((&version, rest)) = sealed.split_first() else {
            return Err(fail());
        };
        if version != SEAL_VERSION {
            return Err(Error::crypto(format!(
                "cannot decrypt sealed data: unknown format version {version} (written by a \
                 newer certloop?)"
            )));
        }
        if rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(fail());
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut buf = Zeroizing::new(body.to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(context), buf.as_mut_slice())
            .map_err(|_| fail())?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

/// The sealing context of a CA's private key: binds the blob to that CA's row.
pub fn ca_key_context(ca_id: &str) -> Vec<u8> {
    format!("certloop/v1/ca-key/{ca_id}").into_bytes()
}

/// The sealing context of a managed leaf certificate's private key.
pub fn certificate_key_context(certificate_id: &str) -> Vec<u8> {
    format!("certloop/v1/certificate-key/{certificate_id}").into_bytes()
}

/// The sealing context of a sensitive connector parameter `name` of connector `connector_id`.
pub fn connector_param_context(connector_id: &str, name: &str) -> Vec<u8> {
    // The length prefix keeps ("a/b", "c") and ("a", "b/c") apart.
    format!("certloop/v1/connector-param/{}/{connector_id}/{name}", connector_id.len()).into_bytes()
}

/// 64 hex chars or base64 of 32 bytes (surrounding whitespace ignored).
fn parse_key_text(text: &str) -> Option<MasterKey> {
    let text = text.trim();
    let decoded = Zeroizing::new(if text.len() == 2 * KEY_LEN {
        crate::crypto::x509::hex_decode(text).or_else(|| base64_decode(text))?
    } else {
        base64_decode(text)?
    });
    let bytes: [u8; KEY_LEN] = decoded.as_slice().try_into().ok()?;
    Some(MasterKey::from_bytes(bytes))
}

/// RFC 4648 base64, standard (§4) or URL-safe (§5) alphabet, padding optional.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// Refuse a key file that group or others may read or write.
#[cfg(unix)]
fn check_owner_only(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path).map_err(|e| Error::io(path.display(), e))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::invalid(
            path.display().to_string(),
            format!(
                "the master key file has mode {:04o}; it must be readable by its owner only: \
                 run `chmod 600 {}`",
                mode & 0o7777,
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path) -> Result<()> {
    // No POSIX modes here; the directory's ACL is what protects the file.
    Ok(())
}

/// Create `dir` (and parents) owner-only when it does not exist; leave an existing one alone.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| Error::io(dir.display(), e))
}

/// Write a new file with mode 0600 (failing if it exists) and fsync it.
fn write_new_private(path: &PathBuf, data: &[u8]) -> Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| Error::io(path.display(), e))?;
    file.write_all(data).map_err(|e| Error::io(path.display(), e))?;
    file.sync_all().map_err(|e| Error::io(path.display(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64_decode_the_same_key() {
        let bytes: Vec<u8> = (0u8..32).collect();
        let hex = crate::crypto::x509::hex(&bytes);
        assert_eq!(crate::crypto::x509::hex_decode(&hex).as_deref(), Some(bytes.as_slice()));
        // `openssl rand -base64 32` style, with padding, for bytes 0..32.
        let b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        assert_eq!(base64_decode(b64).as_deref(), Some(bytes.as_slice()));
        assert_eq!(base64_decode(b64.trim_end_matches('=')).as_deref(), Some(bytes.as_slice()));
        assert!(base64_decode("A").is_none());
        assert!(base64_decode("AA*A").is_none());
        assert!(crate::crypto::x509::hex_decode("0g").is_none());
    }

    #[test]
    fn seal_output_has_version_nonce_and_tag() -> Result<()> {
        let sealer = Sealer::new(&MasterKey::generate()?)?;
        let sealed = sealer.seal(b"abc", b"ctx")?;
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 3 + 16);
        assert_eq!(sealed[0], SEAL_VERSION);
        let other = sealer.seal(b"abc", b"ctx")?;
        assert_ne!(sealed, other, "nonces must differ");
        Ok(())
    }
}
