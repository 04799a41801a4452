//! Atomic replacement of a set of files, keeping previous versions for rollback.
//!
//! Every new file is first written in full to a temporary name in its own directory and
//! fsynced; only then is each current file hard-linked to its first previous-version name
//! (`NAME.certloop.1`, older ones shifted to `.2`, `.3`, ...) and the temporary renamed over it,
//! and the directory fsynced. The destination path always exists and always holds a complete
//! file: a reader (or a server reloading) sees the old file or the new one, never a prefix.
//!
//! A set of files (certificate and key) cannot be renamed in one step, so while the renames
//! run a journal (`.NAME.certloop-journal` beside the first file) lists the set. If the
//! process dies midway, the next [`write_files`] to the same first path (every deployment)
//! finds the journal and first puts every file of the interrupted set back to its previous
//! version ([`recover_interrupted`]): the set is entirely old or entirely new, never mixed.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::KeystoreFile;
use crate::crypto::fingerprint_sha256;
use crate::error::{Error, Result};

/// The journal of a set of renames in progress.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Journal {
    keep: usize,
    files: Vec<JournalEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JournalEntry {
    path: PathBuf,
    existed: bool,
    /// SHA-256 of the new contents: a file that has it was already swapped in.
    new_sha256: String,
}

/// One file that [`write_files`] replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    /// The destination.
    pub path: PathBuf,
    /// Whether a file was there before.
    pub existed: bool,
    /// Where the version it replaced was kept (absent when nothing existed or `keep` was 0).
    pub previous: Option<PathBuf>,
}

/// What [`write_files`] did, enough to undo it with [`WrittenFiles::restore`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WrittenFiles {
    /// Every file written, in order.
    pub files: Vec<WrittenFile>,
    keep: usize,
}

impl WrittenFiles {
    /// The destination paths.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files.iter().map(|f| f.path.clone()).collect()
    }

    /// Put back what was there before: each file's previous version is restored atomically
    /// (and the older versions shift back), a file that did not exist is removed.
    pub fn restore(&self) -> Result<()> {
        let mut first_error = None;
        for file in self.files.iter().rev() {
            if let Err(e) = restore_one(file, self.keep) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// The `n`th previous version of `path`: `NAME.certloop.N` beside it.
pub fn previous_version_path(path: &Path, n: usize) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".certloop.{n}"));
    path.with_file_name(name)
}

/// Write every file atomically, keeping the last `keep` versions of each. On failure nothing
/// is left changed: files already replaced are restored and temporaries removed.
pub fn write_files(files: &[KeystoreFile], keep: usize) -> Result<WrittenFiles> {
    if files.is_empty() {
        return Ok(WrittenFiles { files: Vec::new(), keep });
    }
    let mut seen = HashSet::new();
    for file in files {
        if file.path.file_name().is_none() {
            return Err(Error::invalid(
                "path",
                format!("{} is not a file path", file.path.display()),
            ));
        }
        if !seen.insert(file.path.clone()) {
            return Err(Error::invalid(
                "path",
                format!("{} is written twice by one keystore", file.path.display()),
            ));
        }
    }
    recover_interrupted(&files[0].path, keep)?;
    // 1. Stage every file in full before touching any destination.
    let mut staged: Vec<PathBuf> = Vec::with_capacity(files.len());
    for file in files {
        match stage(file) {
            Ok(tmp) => staged.push(tmp),
            Err(e) => {
                staged.iter().for_each(|tmp| drop(fs::remove_file(tmp)));
                return Err(e);
            }
        }
    }
    // 2. Swap them in, one rename each, under a journal.
    let journal = Journal {
        keep,
        files: files
            .iter()
            .map(|f| JournalEntry {
                path: f.path.clone(),
                existed: f.path.exists(),
                new_sha256: fingerprint_sha256(&f.contents),
            })
            .collect(),
    };
    let journal_path = journal_path(&files[0].path);
    if let Err(e) = write_journal(&journal_path, &journal) {
        staged.iter().for_each(|tmp| drop(fs::remove_file(tmp)));
        return Err(e);
    }
    let mut written = WrittenFiles { files: Vec::with_capacity(files.len()), keep };
    for (index, (file, tmp)) in files.iter().zip(&staged).enumerate() {
        #[cfg(test)]
        fault::point(index);
        match swap_in(&file.path, tmp, keep) {
            Ok(done) => written.files.push(done),
            Err(e) => {
                staged[index..].iter().for_each(|tmp| drop(fs::remove_file(tmp)));
                // Best effort: the error that matters is the one that stopped the write.
                drop(written.restore());
                drop(remove_journal(&journal_path));
                return Err(e);
            }
        }
    }
    remove_journal(&journal_path)?;
    Ok(written)
}

/// Finish an interrupted [`write_files`] whose first file is `first_path`: every file of the
/// set that was already swapped in goes back to its previous version. Returns whether there
/// was anything to recover. [`write_files`] calls it first; call it directly to repair a
/// target without writing anything new.
pub fn recover_interrupted(first_path: &Path, keep: usize) -> Result<bool> {
    let path = journal_path(first_path);
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(path.display(), e)),
    };
    let journal: Journal = serde_json::from_slice(&text)
        .map_err(|e| Error::io(path.display(), format!("unreadable journal: {e}")))?;
    for entry in journal.files.iter().rev() {
        let swapped = fs::read(&entry.path)
            .map(|contents| fingerprint_sha256(&contents) == entry.new_sha256)
            .unwrap_or(false);
        if swapped {
            let previous = previous_version_path(&entry.path, 1);
            let file = WrittenFile {
                path: entry.path.clone(),
                existed: entry.existed,
                previous: (entry.existed && previous.exists()).then_some(previous),
            };
            restore_one(&file, journal.keep.max(keep))?;
        }
        remove_stale_temporaries(&entry.path);
    }
    remove_journal(&path)?;
    Ok(true)
}

fn journal_path(first: &Path) -> PathBuf {
    let name = first.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    first.with_file_name(format!(".{name}.certloop-journal"))
}

fn write_journal(path: &Path, journal: &Journal) -> Result<()> {
    let body = serde_json::to_vec(journal).map_err(|e| Error::io(path.display(), e))?;
    let tmp = temp_path(path, "new");
    let result = (|| {
        let mut out = fs::File::create(&tmp)?;
        out.write_all(&body)?;
        out.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        drop(fs::remove_file(&tmp));
        return Err(Error::io(path.display(), e));
    }
    sync_dir(&parent_dir(path))
}

fn remove_journal(path: &Path) -> Result<()> {
    fs::remove_file(path).map_err(|e| Error::io(path.display(), e))?;
    sync_dir(&parent_dir(path))
}

/// Temporaries a dead process left beside `path` (`.NAME.certloop-new-PID`).
fn remove_stale_temporaries(path: &Path) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = format!(".{name}.certloop-");
    let Ok(entries) = fs::read_dir(parent_dir(path)) else { return };
    for entry in entries.flatten() {
        let entry_name = entry.file_name().to_string_lossy().into_owned();
        if entry_name.starts_with(&prefix) && !entry_name.ends_with("journal") {
            drop(fs::remove_file(entry.path()));
        }
    }
}

/// Fault injection for the crash test: abort the process before the `n`th swap.
#[cfg(test)]
pub(crate) mod fault {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static ABORT_BEFORE_SWAP: AtomicUsize = AtomicUsize::new(usize::MAX);

    pub(crate) fn abort_before_swap(n: usize) {
        ABORT_BEFORE_SWAP.store(n, Ordering::SeqCst);
    }

    pub(super) fn point(index: usize) {
        if ABORT_BEFORE_SWAP.load(Ordering::SeqCst) == index {
            std::process::abort();
        }
    }
}

/// Write `file` in full to a temporary name beside its destination, fsynced, with its mode.
fn stage(file: &KeystoreFile) -> Result<PathBuf> {
    let dir = parent_dir(&file.path);
    if !dir.is_dir() {
        fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
    }
    let tmp = temp_path(&file.path, "new");
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, file.mode);
    let result = (|| {
        let mut out = options.open(&tmp)?;
        // The umask may have cleared bits of the requested mode: set it exactly.
        #[cfg(unix)]
        out.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(file.mode))?;
        out.write_all(&file.contents)?;
        out.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            drop(fs::remove_file(&tmp));
            Err(Error::io(file.path.display(), e))
        }
    }
}

/// Keep the current version of `path` (when `keep` > 0), then rename `tmp` over it.
fn swap_in(path: &Path, tmp: &Path, keep: usize) -> Result<WrittenFile> {
    let io = |e: std::io::Error| Error::io(path.display(), e);
    let existed = path.exists();
    let mut previous = None;
    if existed && keep > 0 {
        rotate_up(path, keep)?;
        let first = previous_version_path(path, 1);
        fs::hard_link(path, &first).map_err(io)?;
        previous = Some(first);
    }
    fs::rename(tmp, path).map_err(io)?;
    sync_dir(&parent_dir(path))?;
    Ok(WrittenFile { path: path.to_owned(), existed, previous })
}

/// Shift `.1 → .2 → ... → .keep`, dropping the oldest, so `.1` is free.
fn rotate_up(path: &Path, keep: usize) -> Result<()> {
    let oldest = previous_version_path(path, keep);
    if oldest.exists() {
        fs::remove_file(&oldest).map_err(|e| Error::io(oldest.display(), e))?;
    }
    for n in (1..keep).rev() {
        let from = previous_version_path(path, n);
        if from.exists() {
            let to = previous_version_path(path, n + 1);
            fs::rename(&from, &to).map_err(|e| Error::io(from.display(), e))?;
        }
    }
    Ok(())
}

/// Undo [`swap_in`] for one file.
fn restore_one(file: &WrittenFile, keep: usize) -> Result<()> {
    let path = &file.path;
    let io = |e: std::io::Error| Error::io(path.display(), e);
    match (&file.previous, file.existed) {
        (Some(previous), _) => {
            // Link the kept version to a temporary, then rename: `path` is never missing.
            let tmp = temp_path(path, "restore");
            drop(fs::remove_file(&tmp));
            fs::hard_link(previous, &tmp).map_err(io)?;
            fs::rename(&tmp, path).map_err(io)?;
            fs::remove_file(previous).map_err(io)?;
            for n in 2..=keep {
                let from = previous_version_path(path, n);
                if from.exists() {
                    let to = previous_version_path(path, n - 1);
                    fs::rename(&from, &to).map_err(|e| Error::io(from.display(), e))?;
                }
            }
        }
        (None, false) => match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        },
        (None, true) => {
            return Err(Error::InvalidState(format!(
                "{} cannot be restored: no previous version was kept (keepVersions is 0)",
                path.display()
            )));
        }
    }
    sync_dir(&parent_dir(path))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn temp_path(path: &Path, what: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.certloop-{what}-{}", std::process::id()))
}

/// fsync a directory so that renames in it survive a crash.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let handle = fs::File::open(dir).map_err(|e| Error::io(dir.display(), e))?;
        handle.sync_all().map_err(|e| Error::io(dir.display(), e))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn file(path: &Path, text: &str, mode: u32) -> KeystoreFile {
        KeystoreFile::new(path.to_owned(), text.as_bytes().to_vec(), mode)
    }

    #[test]
    fn keeps_versions_and_restores() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pem");
        let b = dir.path().join("sub/b.pem");
        for round in 1..=4 {
            let text = format!("v{round}");
            write_files(&[file(&a, &text, 0o644), file(&b, &text, 0o600)], 2).unwrap();
        }
        assert_eq!(fs::read_to_string(&a).unwrap(), "v4");
        assert_eq!(fs::read_to_string(previous_version_path(&a, 1)).unwrap(), "v3");
        assert_eq!(fs::read_to_string(previous_version_path(&a, 2)).unwrap(), "v2");
        assert!(!previous_version_path(&a, 3).exists());
        let written = write_files(&[file(&a, "v5", 0o644), file(&b, "v5", 0o600)], 2).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&b).unwrap().permissions().mode() & 0o777, 0o600);
        }
        written.restore().unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "v4");
        assert_eq!(fs::read_to_string(&b).unwrap(), "v4");
        assert_eq!(fs::read_to_string(previous_version_path(&a, 1)).unwrap(), "v3");
        // No temporaries are left behind.
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains("certloop-")), "{names:?}");
    }

    #[test]
    fn restore_removes_files_that_were_new_and_refuses_without_versions() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pem");
        let written = write_files(&[file(&a, "new", 0o644)], 3).unwrap();
        written.restore().unwrap();
        assert!(!a.exists());
        write_files(&[file(&a, "one", 0o644)], 0).unwrap();
        let unkept = write_files(&[file(&a, "two", 0o644)], 0).unwrap();
        assert!(unkept.restore().is_err());
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pem");
        fs::write(&a, "old").unwrap();
        // The second destination is a directory: the rename over it fails.
        let blocker = dir.path().join("blocker");
        fs::create_dir(&blocker).unwrap();
        fs::write(blocker.join("x"), "x").unwrap();
        let err = write_files(&[file(&a, "new", 0o644), file(&blocker, "new", 0o644)], 1);
        assert!(err.is_err());
        assert_eq!(fs::read_to_string(&a).unwrap(), "old");
        assert!(!previous_version_path(&a, 1).exists());
    }

    /// The child half of the crash test: writes v2 over v1 and dies before swap `n`.
    #[test]
    #[ignore = "run by crash_midway_leaves_old_or_new_files as a child process"]
    fn crash_child() {
        let (Ok(dir), Ok(n)) = (std::env::var("CRASH_DIR"), std::env::var("CRASH_BEFORE")) else {
            return;
        };
        let dir = PathBuf::from(dir);
        fault::abort_before_swap(n.parse().unwrap());
        let set =
            ["cert.pem", "chain.pem", "key.pem"].map(|name| file(&dir.join(name), "v2", 0o600));
        drop(write_files(&set, 2));
    }

    #[test]
    fn crash_midway_leaves_old_or_new_files() {
        let exe = std::env::current_exe().unwrap();
        for before in 0..=3 {
            let dir = tempfile::tempdir().unwrap();
            let names = ["cert.pem", "chain.pem", "key.pem"];
            let v1 = names.map(|name| file(&dir.path().join(name), "v1", 0o600));
            write_files(&v1, 2).unwrap();
            let status = std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "keystore::atomic::tests::crash_child",
                    "--ignored",
                    "--nocapture",
                ])
                .env("CRASH_DIR", dir.path())
                .env("CRASH_BEFORE", before.to_string())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            let contents: Vec<String> =
                names.iter().map(|n| fs::read_to_string(dir.path().join(n)).unwrap()).collect();
            if before < 3 {
                assert!(!status.success(), "the child should have died before swap {before}");
                // Mixed right after the crash when some swaps happened...
                assert_eq!(contents.iter().filter(|c| *c == "v2").count(), before);
                // ...and entirely old once the next writer recovers.
                assert!(recover_interrupted(&dir.path().join("cert.pem"), 2).unwrap());
                for name in names {
                    assert_eq!(fs::read_to_string(dir.path().join(name)).unwrap(), "v1", "{name}");
                    assert_eq!(
                        fs::read_to_string(previous_version_path(&dir.path().join(name), 1)).ok(),
                        None,
                        "versions shifted back"
                    );
                }
            } else {
                assert!(status.success());
                assert!(contents.iter().all(|c| c == "v2"), "{contents:?}");
                assert!(!recover_interrupted(&dir.path().join("cert.pem"), 2).unwrap());
            }
            let leftovers: Vec<String> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("certloop-"))
                .collect();
            assert!(leftovers.is_empty(), "{leftovers:?}");
        }
    }

    #[test]
    fn the_same_path_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pem");
        let err = write_files(&[file(&a, "1", 0o644), file(&a, "2", 0o644)], 1).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }
}
