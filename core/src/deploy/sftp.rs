//! Agentless deployment over SSH with the OpenSSH client binaries (`sftp`, `ssh`), in batch
//! mode: no prompts, host keys always checked, bounded by a connect timeout and the target's
//! command timeout.
//!
//! Files are uploaded under a temporary name, the current file is hard-linked to
//! `NAME.certloop.1` (the one remote version kept) and the upload renamed over it
//! (OpenSSH's `posix-rename`), so the remote path always holds a complete file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::command::run_command;
use super::target::DeployTarget;
use crate::error::{Error, Result};
use crate::keystore::KeystoreFile;

/// The connection half of an SFTP target.
#[derive(Clone, Debug)]
pub(crate) struct Remote {
    host: String,
    port: u16,
    user: String,
    identity_file: Option<PathBuf>,
    known_hosts_file: Option<PathBuf>,
    remote_dir: String,
    timeout: Duration,
}

/// One remote file written, and whether it replaced one.
#[derive(Clone, Debug)]
pub(crate) struct RemoteFile {
    pub(crate) path: String,
    pub(crate) replaced: bool,
}

impl Remote {
    pub(crate) fn of(target: &DeployTarget) -> Result<Remote> {
        let need = |v: &Option<String>, field: &str| {
            v.clone().ok_or_else(|| Error::invalid(field, "required for an sftp target"))
        };
        Ok(Remote {
            host: need(&target.host, "host")?,
            port: target.port.unwrap_or(22),
            user: need(&target.user, "user")?,
            identity_file: target.identity_file.clone(),
            known_hosts_file: target.known_hosts_file.clone(),
            remote_dir: need(&target.remote_dir, "remoteDir")?,
            timeout: target.timeout(),
        })
    }

    fn common_options(&self) -> Vec<String> {
        let mut args = vec![
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            format!("ConnectTimeout={}", self.timeout.as_secs().clamp(1, 30)),
        ];
        if let Some(known) = &self.known_hosts_file {
            args.push("-o".into());
            args.push(format!("UserKnownHostsFile={}", known.display()));
        }
        if let Some(identity) = &self.identity_file {
            args.extend(["-o".into(), "IdentitiesOnly=yes".into(), "-i".into()]);
            args.push(identity.display().to_string());
        }
        args
    }

    fn destination(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }

    /// Run an `sftp` batch file.
    async fn sftp_batch(&self, batch: &str, scratch: &Path) -> Result<String> {
        let batch_path = scratch.join("batch");
        std::fs::write(&batch_path, batch).map_err(|e| Error::io(batch_path.display(), e))?;
        let mut argv = vec!["sftp".to_owned()];
        argv.extend(self.common_options());
        argv.extend(["-P".into(), self.port.to_string(), "-b".into()]);
        argv.push(batch_path.display().to_string());
        argv.push(self.destination());
        run_command(&argv, self.timeout).await
    }

    /// Run a command on the remote host (arguments quoted for its POSIX shell).
    pub(crate) async fn run(&self, command: &[String]) -> Result<String> {
        let mut argv = vec!["ssh".to_owned()];
        argv.extend(self.common_options());
        argv.extend(["-p".into(), self.port.to_string(), self.destination(), "--".into()]);
        argv.push(command.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" "));
        run_command(&argv, self.timeout).await
    }

    /// Upload `files` (paths relative to `remoteDir`), keeping one previous version each.
    pub(crate) async fn upload(&self, files: &[KeystoreFile]) -> Result<Vec<RemoteFile>> {
        let scratch = scratch_dir()?;
        let result = self.upload_in(files, scratch.path()).await;
        drop(scratch);
        result
    }

    async fn upload_in(&self, files: &[KeystoreFile], scratch: &Path) -> Result<Vec<RemoteFile>> {
        let mut batch = String::new();
        let mut remote = Vec::new();
        for (index, file) in files.iter().enumerate() {
            let name = remote_name(&file.path)?;
            let local = scratch.join(format!("file{index}"));
            write_private(&local, &file.contents)?;
            let path = format!("{}/{name}", self.remote_dir.trim_end_matches('/'));
            let staged = format!("{}/.{name}.certloop-new", self.remote_dir.trim_end_matches('/'));
            let previous = format!("{path}.certloop.1");
            // A leading '-' lets sftp go on when the command fails (nothing to keep yet).
            batch.push_str(&format!("-rm {}\n", quote(&previous)));
            batch.push_str(&format!("-ln {} {}\n", quote(&path), quote(&previous)));
            batch.push_str(&format!(
                "put {} {}\n",
                quote(&local.display().to_string()),
                quote(&staged)
            ));
            batch.push_str(&format!("chmod {:o} {}\n", file.mode, quote(&staged)));
            batch.push_str(&format!("rename {} {}\n", quote(&staged), quote(&path)));
            remote.push(path);
        }
        // Which files existed before: listed first, so rollback knows what to restore.
        let listing = self.existing(&remote, scratch).await?;
        self.sftp_batch(&batch, scratch).await?;
        Ok(remote
            .into_iter()
            .map(|path| RemoteFile { replaced: listing.contains(&path), path })
            .collect())
    }

    /// The subset of `paths` that exist on the remote host.
    async fn existing(&self, paths: &[String], scratch: &Path) -> Result<Vec<String>> {
        let batch: String = paths.iter().map(|p| format!("-ls -1 {}\n", quote(p))).collect();
        let listing = self.sftp_batch(&batch, scratch).await?;
        Ok(paths
            .iter()
            .filter(|p| listing.lines().any(|line| line.trim() == p.as_str()))
            .cloned()
            .collect())
    }

    /// Put back the previous version of each file (or remove a file that was new).
    pub(crate) async fn restore(&self, files: &[RemoteFile]) -> Result<()> {
        let scratch = scratch_dir()?;
        let mut batch = String::new();
        for file in files.iter().rev() {
            if file.replaced {
                batch.push_str(&format!(
                    "rename {}.certloop.1 {}\n",
                    quote(&file.path),
                    quote(&file.path)
                ));
            } else {
                batch.push_str(&format!("rm {}\n", quote(&file.path)));
            }
        }
        let result = self.sftp_batch(&batch, scratch.path()).await.map(|_| ());
        drop(scratch);
        result
    }
}

/// The remote file name: a keystore path for SFTP must be a bare file name.
fn remote_name(path: &Path) -> Result<String> {
    let name = path.to_str().unwrap_or_default();
    if name.is_empty() || name.contains('/') || name.starts_with('.') || name.contains('"') {
        return Err(Error::invalid(
            "keystore",
            format!(
                "{:?}: an sftp keystore names bare files, written into remoteDir",
                path.display()
            ),
        ));
    }
    Ok(name.to_owned())
}

fn scratch_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("certloop-sftp-")
        .tempdir()
        .map_err(|e| Error::io("temporary directory", e))
}

fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| Error::io(path.display(), e))?;
    file.write_all(contents).map_err(|e| Error::io(path.display(), e))
}

/// Quote for an sftp batch line.
fn quote(text: &str) -> String {
    format!("\"{text}\"")
}

/// Quote for a POSIX shell.
fn shell_quote(arg: &str) -> String {
    if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@".contains(&b))
    {
        return arg.to_owned();
    }
    format!("'{}'", arg.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("nginx"), "nginx");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn remote_names_are_bare() {
        assert!(remote_name(Path::new("fullchain.pem")).is_ok());
        assert!(remote_name(Path::new("../x")).is_err());
        assert!(remote_name(Path::new("/etc/x")).is_err());
    }
}
