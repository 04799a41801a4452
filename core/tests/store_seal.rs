//! Sealing and master key handling (`certloop::store::{MasterKey, Sealer}`).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use certloop::store::{
    MASTER_KEY_FILE, MasterKey, Sealer, ca_key_context, certificate_key_context,
    connector_param_context,
};
use certloop::{ErrorKind, Result};

#[test]
fn seal_round_trip() -> Result<()> {
    let sealer = Sealer::new(&MasterKey::generate()?)?;
    let sealed = sealer.seal(b"private key bytes", b"ca-key:1")?;
    assert!(!sealed.windows(7).any(|w| w == b"private"), "plaintext must not appear");
    assert_eq!(sealer.open(&sealed, b"ca-key:1")?.as_slice(), b"private key bytes");
    assert_eq!(sealer.open(&sealer.seal(b"", b"")?, b"")?.as_slice(), b"");
    Ok(())
}

#[test]
fn sealed_blob_fails_with_other_key_context_or_tampering() -> Result<()> {
    let sealer = Sealer::new(&MasterKey::generate()?)?;
    let other = Sealer::new(&MasterKey::generate()?)?;
    let sealed = sealer.seal(b"secret", b"cert-key:a")?;

    let err = other.open(&sealed, b"cert-key:a").err().map(|e| (e.kind(), e.to_string()));
    let (kind, message) = err.ok_or_else(|| certloop::Error::crypto("opened with another key"))?;
    assert_eq!(kind, ErrorKind::Crypto);
    assert!(message.contains("wrong master key or corrupted data"), "{message}");

    let moved = sealer.open(&sealed, b"cert-key:b");
    assert_eq!(moved.err().map(|e| e.kind()), Some(ErrorKind::Crypto));

    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        sealer.open(&tampered, b"cert-key:a").err().map(|e| e.kind()),
        Some(ErrorKind::Crypto)
    );
    assert!(sealer.open(&sealed[..10], b"cert-key:a").is_err());
    assert!(sealer.open(&[], b"cert-key:a").is_err());
    let mut wrong_version = sealed;
    wrong_version[0] = 9;
    let message = sealer.open(&wrong_version, b"cert-key:a").err().map(|e| e.to_string());
    assert!(message.is_some_and(|m| m.contains("version 9")));
    Ok(())
}

#[test]
fn master_key_file_is_created_0600_and_reused() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| certloop::Error::io("tempdir", e))?;
    let state = dir.path().join("state");
    let first = MasterKey::from_env_value(None, &state)?;
    let path = state.join(MASTER_KEY_FILE);
    let mode =
        fs::metadata(&path).map_err(|e| certloop::Error::io("meta", e))?.permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode =
        fs::metadata(&state).map_err(|e| certloop::Error::io("meta", e))?.permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    // No temp file left behind.
    let entries = fs::read_dir(&state).map_err(|e| certloop::Error::io("dir", e))?.count();
    assert_eq!(entries, 1);

    let second = MasterKey::from_env_value(None, &state)?;
    let sealed = Sealer::new(&first)?.seal(b"x", b"c")?;
    assert_eq!(Sealer::new(&second)?.open(&sealed, b"c")?.as_slice(), b"x");
    assert_eq!(format!("{first:?}"), "MasterKey([redacted])");
    Ok(())
}

#[test]
fn group_readable_master_key_file_is_refused() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| certloop::Error::io("tempdir", e))?;
    MasterKey::from_env_value(None, dir.path())?;
    let path = dir.path().join(MASTER_KEY_FILE);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644))
        .map_err(|e| certloop::Error::io("chmod", e))?;
    let err = MasterKey::from_env_value(None, dir.path()).err();
    let err = err.ok_or_else(|| certloop::Error::invalid("test", "0644 key file accepted"))?;
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let message = err.to_string();
    assert!(message.contains("master.key") && message.contains("0644"), "{message}");
    assert!(message.contains("chmod 600"), "{message}");
    Ok(())
}

#[test]
fn env_value_hex_and_base64_are_accepted_and_win_over_the_file() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| certloop::Error::io("tempdir", e))?;
    let hex: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
    let from_hex = MasterKey::from_env_value(Some(&hex), dir.path())?;
    let from_b64 = MasterKey::from_env_value(
        Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"),
        dir.path(),
    )?;
    let from_upper = MasterKey::from_env_value(Some(&hex.to_uppercase()), dir.path())?;
    let sealed = Sealer::new(&from_hex)?.seal(b"k", b"c")?;
    assert_eq!(Sealer::new(&from_b64)?.open(&sealed, b"c")?.as_slice(), b"k");
    assert_eq!(Sealer::new(&from_upper)?.open(&sealed, b"c")?.as_slice(), b"k");
    let bytes: [u8; 32] = core::array::from_fn(|i| i as u8);
    assert_eq!(Sealer::new(&MasterKey::from_bytes(bytes))?.open(&sealed, b"c")?.as_slice(), b"k");
    assert!(!dir.path().join(MASTER_KEY_FILE).exists(), "env key must not create a file");
    Ok(())
}

#[test]
fn bad_env_values_name_the_variable() {
    let dir = std::env::temp_dir();
    for bad in ["", "abc", &"zz".repeat(32), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="] {
        let err = MasterKey::from_env_value(Some(bad), &dir).err();
        assert_eq!(err.as_ref().map(|e| e.kind()), Some(ErrorKind::InvalidInput), "{bad:?}");
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("CERTLOOP_MASTER_KEY"), "{message}");
        if !bad.is_empty() {
            assert!(!message.contains(bad), "the value leaked into the message");
        }
    }
}

#[test]
fn row_contexts_differ_so_blobs_cannot_move_between_rows() -> Result<()> {
    let sealer = Sealer::new(&MasterKey::generate()?)?;
    let sealed = sealer.seal(b"k", &ca_key_context("1"))?;
    assert!(sealer.open(&sealed, &ca_key_context("2")).is_err());
    assert!(sealer.open(&sealed, &certificate_key_context("1")).is_err());
    assert_ne!(connector_param_context("a/b", "c"), connector_param_context("a", "b/c"));
    Ok(())
}

/// Two processes sharing one inventory with different master keys: the second is refused
/// before it seals anything the first could not read, and the error names the key and store.
#[tokio::test]
async fn a_store_refuses_a_master_key_other_than_the_one_it_was_sealed_with() -> Result<()> {
    use std::sync::Arc;

    use certloop::Certloop;
    use certloop::store::{SqliteStore, Store};

    let dir = tempfile::tempdir().map_err(|e| certloop::Error::io("temp dir", e))?;
    let path = dir.path().join("shared.db");
    let first_key = MasterKey::from_env_value(Some(&"ab".repeat(32)), dir.path())?;
    let first = Certloop::with_store(Arc::new(SqliteStore::open(&path)?), first_key)?;
    first.check_master_key().await?;
    first.init_default().await?;
    // The same key again (another process, a restart) is fine.
    let again = MasterKey::from_env_value(Some(&"ab".repeat(32)), dir.path())?;
    Certloop::with_store(Arc::new(SqliteStore::open(&path)?), again)?.check_master_key().await?;

    let store = Arc::new(SqliteStore::open(&path)?);
    let other = Certloop::with_store(store.clone(), MasterKey::generate()?)?;
    let err = other.check_master_key().await.err().ok_or_else(|| {
        certloop::Error::crypto("a store sealed with another key accepted this one")
    })?;
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let message = err.to_string();
    assert!(message.contains("master key") && message.contains(&store.location()), "{message}");
    // The first key still opens everything: the check was not overwritten.
    first.check_master_key().await?;
    Ok(())
}
