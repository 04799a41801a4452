//! Writing results: certificate bundles to a directory, tables and JSON to stdout.

/// `println!` for command output: a reader that goes away (`certloop list | head -1`) ends the
/// output quietly instead of panicking, as `println!` does on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::emit(format_args!($($arg)*), true) };
}

/// `print!` counterpart of [`out!`].
macro_rules! out_raw {
    ($($arg:tt)*) => { $crate::output::emit(format_args!($($arg)*), false) };
}

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use certloop::model::IssuedCertificate;
use certloop::{Error, Result};

/// The files `certloop issue --out DIR` writes.
pub struct Bundle {
    /// Every file written, in order.
    pub files: Vec<PathBuf>,
}

/// Write `issued` into `dir`: `cert.pem` (leaf), `chain.pem` (issuing CA up to the root),
/// `fullchain.pem` (leaf + intermediates: what a TLS server sends), `ca.pem` (the root) and,
/// when the library generated the key, `key.pem` (mode 0600). Each file is written to a
/// temporary name and renamed, so a reader never sees half a file.
pub fn write_bundle(dir: &Path, issued: &IssuedCertificate) -> Result<Bundle> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    let chain = split_pem(&issued.certificate_chain);
    let self_signed = chain.len() == 1 && chain[0].trim() == issued.certificate.trim();
    let root = chain.last().cloned().unwrap_or_else(|| issued.certificate.clone());
    let intermediates: String = if self_signed || chain.len() < 2 {
        String::new()
    } else {
        chain[..chain.len() - 1].concat()
    };
    let mut files = Vec::new();
    // The key first: if it cannot be written, no certificate claims a key that is not there.
    if let Some(key) = &issued.private_key {
        files.push(write_atomic(&dir.join("key.pem"), key.expose().as_bytes(), 0o600)?);
    }
    files.push(write_atomic(&dir.join("cert.pem"), issued.certificate.as_bytes(), 0o644)?);
    files.push(write_atomic(&dir.join("chain.pem"), issued.certificate_chain.as_bytes(), 0o644)?);
    let fullchain = format!("{}{}", issued.certificate, intermediates);
    files.push(write_atomic(&dir.join("fullchain.pem"), fullchain.as_bytes(), 0o644)?);
    files.push(write_atomic(&dir.join("ca.pem"), root.as_bytes(), 0o644)?);
    Ok(Bundle { files })
}

/// Write `contents` to `path` atomically with `mode` (temporary file, fsync, rename).
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<PathBuf> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let result = (|| {
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path.display(), e));
    }
    Ok(path.to_path_buf())
}

/// The PEM blocks of a bundle, each with its END line and a newline.
pub fn split_pem(bundle: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in bundle.lines() {
        if line.starts_with("-----BEGIN ") {
            current.clear();
        }
        current.push_str(line);
        current.push('\n');
        if line.starts_with("-----END ") {
            blocks.push(std::mem::take(&mut current));
        }
    }
    blocks
}

/// Write formatted output to stdout. A closed pipe ends the process with success: the reader
/// has what it wanted. Any other write failure ends it with the I/O exit code.
pub fn emit(args: fmt::Arguments<'_>, newline: bool) {
    let mut stdout = io::stdout().lock();
    let written = stdout
        .write_fmt(args)
        .and_then(|()| if newline { stdout.write_all(b"\n") } else { Ok(()) })
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("certloop: cannot write to stdout: {e}");
            std::process::exit(i32::from(crate::exit::IO));
        }
    }
}

/// Print rows as an aligned table with `headers`.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        out!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Print `value` as pretty JSON.
pub fn json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| Error::invalid("output", e.to_string()))?;
    out!("{text}");
    Ok(())
}
