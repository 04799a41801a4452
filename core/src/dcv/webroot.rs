//! The HTTP file solver: a token file in a web server's document root.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Challenge, ChallengeKind, ChallengeSolver};
use crate::error::{Error, Result};

/// Largest HTTP response the self-check reads.
const SELF_CHECK_MAX_RESPONSE: u64 = 64 * 1024;

/// Where under the web root the token file goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TokenLocation {
    /// `.well-known/acme-challenge/<token>` (RFC 8555 §8.3).
    AcmeChallenge,
    /// `.well-known/pki-validation/<file>` (CA/B Forum BRs §3.2.2.4.18, other CAs).
    PkiValidation,
}

impl TokenLocation {
    /// The directory under the web root.
    pub fn dir(self) -> &'static str {
        match self {
            Self::AcmeChallenge => ".well-known/acme-challenge",
            Self::PkiValidation => ".well-known/pki-validation",
        }
    }
}

/// Fetch the token over HTTP before telling the CA to look.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfCheck {
    /// Connect here instead of resolving the name (`127.0.0.1:8080`); the `Host` header still
    /// names the identifier. Default: `<identifier>:80`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_to: Option<String>,
    /// Give up after this many seconds (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// Writes challenge tokens into a web root, confined to it.
#[derive(Clone, Debug)]
pub struct HttpFileSolver {
    web_root: PathBuf,
    location: TokenLocation,
    self_check: Option<SelfCheck>,
}

impl HttpFileSolver {
    /// A solver writing under `web_root` at `location`.
    pub fn new(web_root: impl Into<PathBuf>, location: TokenLocation) -> Self {
        Self { web_root: web_root.into(), location, self_check: None }
    }

    /// Fetch each token over HTTP in [`ChallengeSolver::wait`].
    pub fn with_self_check(mut self, self_check: Option<SelfCheck>) -> Self {
        self.self_check = self_check;
        self
    }

    /// The canonical web root, checked to be an existing, writable directory.
    pub fn check_web_root(&self) -> Result<PathBuf> {
        let root = &self.web_root;
        let canonical = root.canonicalize().map_err(|e| {
            Error::invalid("dcv.path", format!("web root {} does not exist: {e}", root.display()))
        })?;
        let meta = std::fs::metadata(&canonical).map_err(|e| Error::io(root.display(), e))?;
        if !meta.is_dir() {
            return Err(Error::invalid(
                "dcv.path",
                format!("web root {} is not a directory", root.display()),
            ));
        }
        // Probe writability for real (permission bits lie under root, ACLs and read-only mounts).
        tempfile::NamedTempFile::new_in(&canonical).map_err(|e| {
            Error::invalid("dcv.path", format!("web root {} is not writable: {e}", root.display()))
        })?;
        Ok(canonical)
    }

    /// The token file for `file_name`, after checking that its directory stays inside the web
    /// root (no `..`, no symlink leading out). Creates the directory when missing.
    pub fn token_path(&self, file_name: &str) -> Result<PathBuf> {
        let valid = !file_name.is_empty()
            && file_name.len() <= 255
            && file_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && !file_name.starts_with('.');
        if !valid {
            return Err(Error::invalid(
                "dcv.fileName",
                format!("{file_name:?} is not a plain file name (letters, digits, - _ .)"),
            ));
        }
        let root = self.check_web_root()?;
        let dir = root.join(self.location.dir());
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
        let canonical_dir = dir.canonicalize().map_err(|e| Error::io(dir.display(), e))?;
        if !canonical_dir.starts_with(&root) {
            return Err(Error::invalid(
                "dcv.path",
                format!(
                    "{} leads outside the web root {} (symlink); refusing to write there",
                    dir.display(),
                    root.display()
                ),
            ));
        }
        Ok(canonical_dir.join(file_name))
    }

    /// Write `content` as `file_name` atomically (temporary file + rename, world-readable so
    /// the web server can serve it). Returns the path written.
    pub fn write_token(&self, file_name: &str, content: &str) -> Result<PathBuf> {
        let path = self.token_path(file_name)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir.display(), e))?;
        tmp.write_all(content.as_bytes()).map_err(|e| Error::io(path.display(), e))?;
        tmp.as_file().sync_all().map_err(|e| Error::io(path.display(), e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(|e| Error::io(path.display(), e))?;
        }
        tmp.persist(&path).map_err(|e| Error::io(path.display(), e.error))?;
        Ok(path)
    }

    /// Remove the token file `file_name` (absent is fine).
    pub fn remove_token(&self, file_name: &str) -> Result<()> {
        let path = self.token_path(file_name)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(path.display(), e)),
        }
    }

    async fn fetch(&self, check: &SelfCheck, challenge: &Challenge) -> Result<()> {
        let host = &challenge.identifier;
        let target = check.connect_to.clone().unwrap_or_else(|| format!("{host}:80"));
        let path = format!("/{}/{}", self.location.dir(), challenge.token);
        let timeout = Duration::from_secs(check.timeout_secs.unwrap_or(10).clamp(1, 300));
        let url = format!("http://{host}{path}");
        let body = tokio::time::timeout(timeout, http_get(&target, host, &path))
            .await
            .map_err(|_| Error::io(&url, format!("self-check timed out after {timeout:?}")))??;
        if body.trim_end() != challenge.key_authorization {
            return Err(Error::io(&url, "self-check: the server does not serve the token"));
        }
        Ok(())
    }
}

/// A minimal HTTP/1.1 GET: status 200 and the body, or an error.
async fn http_get(target: &str, host: &str, path: &str) -> Result<String> {
    let url = format!("http://{host}{path}");
    let mut stream =
        tokio::net::TcpStream::connect(target).await.map_err(|e| Error::io(target, e))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: certloop-dcv\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| Error::io(&url, e))?;
    let mut response = Vec::new();
    stream
        .take(SELF_CHECK_MAX_RESPONSE)
        .read_to_end(&mut response)
        .await
        .map_err(|e| Error::io(&url, e))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| Error::io(&url, "self-check: not an HTTP response"))?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(Error::io(&url, format!("self-check: HTTP status {status}")));
    }
    Ok(body.to_owned())
}

#[async_trait]
impl ChallengeSolver for HttpFileSolver {
    fn kind(&self) -> ChallengeKind {
        ChallengeKind::Http01
    }

    async fn prepare(&self) -> Result<()> {
        self.check_web_root().map(|_| ())
    }

    async fn present(&self, challenge: &Challenge) -> Result<()> {
        challenge.check_token()?;
        self.write_token(&challenge.token, &challenge.key_authorization).map(|_| ())
    }

    async fn wait(&self, challenge: &Challenge) -> Result<()> {
        match &self.self_check {
            Some(check) => self.fetch(check, challenge).await,
            None => Ok(()),
        }
    }

    async fn cleanup(&self, challenge: &Challenge) -> Result<()> {
        challenge.check_token()?;
        self.remove_token(&challenge.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lands_under_the_web_root_and_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let solver = HttpFileSolver::new(root.path(), TokenLocation::AcmeChallenge);
        let path = solver.write_token("abc_DEF-1", "abc_DEF-1.thumb").unwrap();
        let expected =
            root.path().canonicalize().unwrap().join(".well-known/acme-challenge/abc_DEF-1");
        assert_eq!(path, expected);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc_DEF-1.thumb");
        solver.remove_token("abc_DEF-1").unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn pki_validation_location() {
        let root = tempfile::tempdir().unwrap();
        let solver = HttpFileSolver::new(root.path(), TokenLocation::PkiValidation);
        let path = solver.write_token("fileauth.txt", "x").unwrap();
        assert!(path.ends_with(".well-known/pki-validation/fileauth.txt"));
    }

    #[test]
    fn traversal_names_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let solver = HttpFileSolver::new(root.path(), TokenLocation::AcmeChallenge);
        for bad in ["../escape", "..", "a/b", "", ".hidden", "a\\b"] {
            let err = solver.write_token(bad, "x").unwrap_err();
            assert!(err.to_string().contains("dcv.fileName"), "{bad}: {err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlink_escape_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(".well-known")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join(".well-known/acme-challenge"))
            .unwrap();
        let solver = HttpFileSolver::new(root.path(), TokenLocation::AcmeChallenge);
        let err = solver.write_token("tok", "x").unwrap_err();
        assert!(err.to_string().contains("outside the web root"), "{err}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn missing_or_file_web_root_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = HttpFileSolver::new(dir.path().join("nope"), TokenLocation::AcmeChallenge);
        assert!(missing.check_web_root().unwrap_err().to_string().contains("does not exist"));
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let not_dir = HttpFileSolver::new(&file, TokenLocation::AcmeChallenge);
        assert!(not_dir.check_web_root().unwrap_err().to_string().contains("not a directory"));
    }
}
