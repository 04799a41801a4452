//! File scan: certificates in PEM, DER, PKCS#12 and JKS files under given roots.
//!
//! The format is told by content, not by name. Bounded: directory depth, file size and file
//! count; directories are visited once each by (device, inode), so symlink loops end; FIFOs,
//! sockets and devices are never opened. A file that cannot be read is a [`ScanProblem`];
//! a file that is not a certificate is passed over.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::crypto::{CertificateInfo, SecretString, pem_decode_all};

use super::{FileFormat, Finding, Location, ScanProblem, ScanProgress, ScanReport, group_chains};

/// What to scan and how far.
#[derive(Clone, Debug)]
pub struct FileScanOptions {
    /// Files or directories to scan.
    pub roots: Vec<PathBuf>,
    /// Directory levels below each root (default 16).
    pub max_depth: usize,
    /// Larger files are passed over (default 1 MiB).
    pub max_file_size: u64,
    /// Stop after examining this many files (default 1,000,000).
    pub max_files: u64,
    /// Follow symbolic links to files and directories (default true; loops end).
    pub follow_symlinks: bool,
    /// Passwords to open PKCS#12 files with; the empty password is always tried.
    pub passwords: Vec<SecretString>,
    /// Also record CA certificates that chain from no leaf, as in trust bundles.
    pub include_ca: bool,
}

impl Default for FileScanOptions {
    fn default() -> Self {
        FileScanOptions {
            roots: Vec::new(),
            max_depth: 16,
            max_file_size: 1024 * 1024,
            max_files: 1_000_000,
            follow_symlinks: true,
            passwords: Vec::new(),
            include_ca: false,
        }
    }
}

/// Scan `options.roots`. `progress` gets the number of files examined so far.
pub fn scan_files(options: &FileScanOptions, progress: Option<ScanProgress<'_>>) -> ScanReport {
    let mut report = ScanReport::default();
    let mut visited: HashSet<(u64, u64)> = HashSet::new();
    // Absolute roots, so a place is named the same whatever the working directory.
    let mut pending: Vec<(PathBuf, usize)> = Vec::new();
    for root in options.roots.iter().rev() {
        match std::path::absolute(root) {
            Ok(root) => pending.push((root, 0)),
            Err(e) => report.problems.push(ScanProblem::new(root.display().to_string(), e)),
        }
    }
    while let Some((path, depth)) = pending.pop() {
        if report.examined >= options.max_files {
            report.problems.push(ScanProblem::new(
                path.display().to_string(),
                format!("not scanned: the limit of {} files was reached", options.max_files),
            ));
            break;
        }
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) => {
                report.problems.push(ScanProblem::new(path.display().to_string(), e));
                continue;
            }
        };
        let meta = if meta.file_type().is_symlink() {
            if !options.follow_symlinks {
                continue;
            }
            match fs::metadata(&path) {
                Ok(target) => target,
                Err(e) => {
                    let e = format!("symbolic link to nothing readable: {e}");
                    report.problems.push(ScanProblem::new(path.display().to_string(), e));
                    continue;
                }
            }
        } else {
            meta
        };
        if meta.is_dir() {
            if !visited.insert((meta.dev(), meta.ino())) {
                continue; // Seen already: a symlink loop or a second way in.
            }
            if depth >= options.max_depth {
                continue;
            }
            match fs::read_dir(&path) {
                Ok(entries) => {
                    let mut children: Vec<PathBuf> = Vec::new();
                    for entry in entries {
                        match entry {
                            Ok(entry) => children.push(entry.path()),
                            Err(e) => report
                                .problems
                                .push(ScanProblem::new(path.display().to_string(), e)),
                        }
                    }
                    // Sorted, so reports come in a stable order; pushed in reverse for a stack.
                    children.sort();
                    pending.extend(children.into_iter().rev().map(|child| (child, depth + 1)));
                }
                Err(e) => report.problems.push(ScanProblem::new(path.display().to_string(), e)),
            }
            continue;
        }
        if !meta.is_file() {
            continue; // FIFOs, sockets and devices are never opened.
        }
        report.examined += 1;
        if let Some(progress) = progress {
            progress(report.examined, None);
        }
        if meta.len() > options.max_file_size {
            continue;
        }
        match read_limited(&path, options.max_file_size) {
            Ok(bytes) => match certificates_in(&path, &bytes, options) {
                Ok(findings) => report.findings.extend(findings),
                Err(e) => report.problems.push(ScanProblem::new(path.display().to_string(), e)),
            },
            Err(e) => report.problems.push(ScanProblem::new(path.display().to_string(), e)),
        }
    }
    report
}

/// The certificates of one file (any of the four formats), as findings at `path`. `Ok(empty)`
/// for a file that holds no certificate; `Err` for one that is a certificate format but
/// cannot be read (a corrupt PEM block, a PKCS#12 no given password opens).
pub fn read_certificate_file(
    path: &Path,
    options: &FileScanOptions,
) -> Result<Vec<Finding>, String> {
    let bytes = read_limited(path, options.max_file_size).map_err(|e| e.to_string())?;
    certificates_in(path, &bytes, options)
}

fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    fs::File::open(path)?.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!("larger than {limit} bytes")));
    }
    Ok(bytes)
}

/// A keystore entry's alias and its certificates (DER), entry certificate first.
type KeystoreEntry = (String, Vec<Vec<u8>>);

const JKS_MAGIC: [u8; 4] = [0xfe, 0xed, 0xfe, 0xed];

fn certificates_in(
    path: &Path,
    bytes: &[u8],
    options: &FileScanOptions,
) -> Result<Vec<Finding>, String> {
    let file = |format: FileFormat, alias: Option<String>| Location::File {
        path: path.to_path_buf(),
        format,
        alias,
    };
    if bytes.starts_with(&JKS_MAGIC) {
        let entries = jks_certificates(bytes)?;
        let mut findings = Vec::new();
        for (alias, chain) in entries {
            let infos = parse_all(&chain).map_err(|e| format!("JKS entry {alias:?}: {e}"))?;
            let location = file(FileFormat::Jks, Some(alias));
            // Each entry is its own place; its first certificate is the entry's certificate.
            findings.extend(group_chains(infos, true, |_| location.clone()).into_iter().take(1));
        }
        return Ok(findings);
    }
    if crate::crypto::pem::looks_like_pem(bytes) {
        if !has_pem_label(bytes, "CERTIFICATE") {
            return Ok(Vec::new()); // A key, a CSR, a CRL: not a certificate file.
        }
        let ders = pem_decode_all(bytes, "CERTIFICATE").map_err(|e| e.to_string())?;
        let infos = parse_all(&ders)?;
        return Ok(group_chains(infos, options.include_ca, |_| file(FileFormat::Pem, None)));
    }
    if bytes.first() != Some(&0x30) {
        return Ok(Vec::new());
    }
    if let Ok(info) = CertificateInfo::from_der(bytes) {
        return Ok(vec![Finding::new(file(FileFormat::Der, None), info, Vec::new())]);
    }
    if !looks_like_pfx(bytes) {
        return Ok(Vec::new());
    }
    let empty = SecretString::new(String::new());
    for password in std::iter::once(&empty).chain(&options.passwords) {
        let Ok(store) = p12_keystore::KeyStore::from_pkcs12(
            bytes,
            password.expose(),
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        ) else {
            continue;
        };
        let mut findings = Vec::new();
        for (alias, entry) in store.entries() {
            let ders: Vec<Vec<u8>> = match entry {
                p12_keystore::KeyStoreEntry::PrivateKeyChain(chain) => {
                    chain.certs().iter().map(|c| c.as_der().to_vec()).collect()
                }
                p12_keystore::KeyStoreEntry::Certificate(cert) => vec![cert.as_der().to_vec()],
                _ => continue,
            };
            let infos = parse_all(&ders).map_err(|e| format!("PKCS#12 entry {alias:?}: {e}"))?;
            let location = file(FileFormat::Pkcs12, Some(alias.clone()));
            findings.extend(group_chains(infos, true, |_| location.clone()).into_iter().take(1));
        }
        return Ok(findings);
    }
    Err("a PKCS#12 keystore that neither the empty password nor a given one opens \
         (give its password)"
        .to_owned())
}

fn parse_all(ders: &[Vec<u8>]) -> Result<Vec<CertificateInfo>, String> {
    ders.iter().map(|der| CertificateInfo::from_der(der).map_err(|e| e.to_string())).collect()
}

fn has_pem_label(bytes: &[u8], label: &str) -> bool {
    let begin = format!("-----BEGIN {label}-----");
    bytes.windows(begin.len()).any(|w| w == begin.as_bytes())
}

/// A PFX (RFC 7292 §4): `SEQUENCE { version INTEGER (3), authSafe ContentInfo, ... }`.
fn looks_like_pfx(bytes: &[u8]) -> bool {
    // The SEQUENCE header: tag, then a short length or 0x8N and N length bytes.
    let header = match bytes.get(1) {
        Some(&len) if len < 0x80 => 2,
        Some(&len) if (0x81..=0x84).contains(&len) => 2 + usize::from(len & 0x7f),
        _ => return false,
    };
    bytes.first() == Some(&0x30) && bytes.get(header..header + 3) == Some(&[0x02, 0x01, 0x03])
}

/// The certificates of every entry of a JKS file, by alias: key entries' chains and trusted
/// certificates. They are stored in clear in JKS (only the keys are encrypted), so no password
/// is needed to list them; the keystore's integrity digest, which needs the password, is not
/// checked.
fn jks_certificates(bytes: &[u8]) -> Result<Vec<KeystoreEntry>, String> {
    let bad = |e: jks::KeyStoreError| format!("not a readable JKS keystore: {e}");
    let mut reader = bytes;
    let mut decoder = jks::decoder::Decoder::new(&mut reader);
    let _magic = decoder.read_u32().map_err(bad)?;
    let version = decoder.read_u32().map_err(bad)?;
    let count = decoder.read_u32().map_err(bad)?;
    // Every entry takes at least a dozen bytes: a count beyond that is corrupt, not a reason
    // to loop for long.
    if u64::from(count) > bytes.len() as u64 / 12 {
        return Err(format!("not a readable JKS keystore: it claims {count} entries"));
    }
    let mut entries = Vec::new();
    for _ in 0..count {
        let (alias, entry) = decoder.read_entry(version).map_err(bad)?;
        let chain = match entry {
            jks::Entry::PrivateKey(key) => {
                key.certificate_chain.into_iter().map(|c| c.content).collect()
            }
            jks::Entry::TrustedCertificate(cert) => vec![cert.certificate.content],
        };
        entries.push((alias, chain));
    }
    Ok(entries)
}
