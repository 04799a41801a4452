//! The process table as `/proc` shows it: every process's command line and parent, a server's
//! descendants, and the ports their sockets listen on (`/proc/net/tcp{,6}`, state LISTEN,
//! matched to the `socket:[INODE]` links under `/proc/PID/fd`). Every read is bounded.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::discovery::ScanProblem;

/// At most this many processes are looked at.
const MAX_PROCESSES: usize = 1 << 17;
/// At most this many descendants of one server are looked at for sockets.
const MAX_DESCENDANTS: usize = 4096;
/// At most this many open files of one process are looked at.
const MAX_FDS: usize = 1 << 16;
/// At most this many lines of one `/proc/net/tcp` file.
const MAX_SOCKETS: usize = 1 << 20;

/// A process as its command line and stat show it.
#[derive(Debug)]
pub(super) struct Process {
    pub(super) argv: Vec<String>,
    pub(super) ppid: Option<u32>,
}

/// The processes under one `/proc`, with who is whose child.
pub(super) struct ProcessTable {
    proc_root: PathBuf,
    /// In ascending order.
    pids: Vec<u32>,
    processes: HashMap<u32, Process>,
    children: HashMap<u32, Vec<u32>>,
}

impl ProcessTable {
    /// Read every process under `proc_root`; `None` (and a problem) when it cannot be listed.
    /// A process whose command line cannot be read is a problem and left out.
    pub(super) fn read(proc_root: &Path, problems: &mut Vec<ScanProblem>) -> Option<Self> {
        let entries = match std::fs::read_dir(proc_root) {
            Ok(entries) => entries,
            Err(e) => {
                problems.push(ScanProblem::new(
                    proc_root.display().to_string(),
                    format!("cannot list processes: {e}"),
                ));
                return None;
            }
        };
        let mut pids: Vec<u32> = entries
            .take(MAX_PROCESSES)
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|name| name.parse().ok()))
            .collect();
        pids.sort_unstable();

        let mut processes = HashMap::new();
        for &pid in &pids {
            let dir = proc_root.join(pid.to_string());
            match std::fs::read(dir.join("cmdline")) {
                Ok(raw) => {
                    let ppid =
                        std::fs::read_to_string(dir.join("stat")).ok().and_then(|s| parent_pid(&s));
                    processes.insert(pid, Process { argv: split_cmdline(&raw), ppid });
                }
                Err(e) => problems.push(ScanProblem::new(
                    format!("process {pid}"),
                    format!("cannot read its command line: {e}"),
                )),
            }
        }
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for (&pid, process) in &processes {
            if let Some(ppid) = process.ppid {
                children.entry(ppid).or_default().push(pid);
            }
        }
        Some(Self { proc_root: proc_root.to_path_buf(), pids, processes, children })
    }

    /// Every pid listed, ascending (also those whose command line could not be read).
    pub(super) fn pids(&self) -> &[u32] {
        &self.pids
    }

    pub(super) fn get(&self, pid: u32) -> Option<&Process> {
        self.processes.get(&pid)
    }

    /// The ports in `listening` (socket inode -> port) held open by `pid` or its descendants
    /// (a master's workers), sorted and without repeats. Not being allowed to read `pid`'s own
    /// open files is a problem; a descendant's is skipped.
    pub(super) fn listening_ports(
        &self,
        pid: u32,
        listening: &HashMap<u64, u16>,
        problems: &mut Vec<ScanProblem>,
    ) -> Vec<u16> {
        let mut ports = Vec::new();
        for (i, member) in self.family(pid).iter().enumerate() {
            match socket_inodes(&self.proc_root.join(member.to_string()).join("fd")) {
                Ok(inodes) => {
                    ports.extend(inodes.iter().filter_map(|inode| listening.get(inode).copied()))
                }
                Err(e) if i == 0 => problems.push(ScanProblem::new(
                    format!("process {pid}"),
                    format!("cannot read its open sockets ({e}); run as root to see its ports"),
                )),
                Err(_) => {}
            }
        }
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// `pid` first, then its descendants breadth first, at most [`MAX_DESCENDANTS`].
    fn family(&self, pid: u32) -> Vec<u32> {
        let mut family = vec![pid];
        let mut next = 0;
        while next < family.len() && family.len() < MAX_DESCENDANTS {
            if let Some(kids) = self.children.get(&family[next]) {
                family.extend(kids.iter().copied());
            }
            next += 1;
        }
        family.truncate(MAX_DESCENDANTS);
        family
    }
}

/// The NUL-separated strings of `/proc/PID/cmdline` or `environ`.
pub(super) fn split_cmdline(raw: &[u8]) -> Vec<String> {
    raw.split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// The parent pid from `/proc/PID/stat`: `pid (comm) state ppid ...`, where comm may hold
/// spaces and parentheses (hence the last `)`).
fn parent_pid(stat: &str) -> Option<u32> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Socket inode → local port of the LISTEN (state `0A`) sockets in `/proc/net/tcp`-format files.
pub(super) fn listening_sockets(files: &[PathBuf]) -> HashMap<u64, u16> {
    let mut sockets = HashMap::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        for line in text.lines().skip(1).take(MAX_SOCKETS) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *state != "0A" {
                continue;
            }
            let port =
                local.rsplit_once(':').and_then(|(_, port)| u16::from_str_radix(port, 16).ok());
            if let (Some(port), Ok(inode)) = (port, inode.parse::<u64>()) {
                sockets.insert(inode, port);
            }
        }
    }
    sockets
}

/// The socket inodes among the open files in `fd_dir` (`socket:[INODE]` links).
fn socket_inodes(fd_dir: &Path) -> std::io::Result<HashSet<u64>> {
    let mut inodes = HashSet::new();
    for entry in std::fs::read_dir(fd_dir)?.take(MAX_FDS).filter_map(|e| e.ok()) {
        let Ok(target) = std::fs::read_link(entry.path()) else { continue };
        let target = target.to_string_lossy();
        if let Some(inode) = target.strip_prefix("socket:[").and_then(|t| t.strip_suffix(']')) {
            inodes.extend(inode.parse::<u64>().ok());
        }
    }
    Ok(inodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_and_net_tcp_parsing() {
        assert_eq!(parent_pid("42 (a) b) c) S 7 42 42"), Some(7));
        assert_eq!(parent_pid("garbage"), None);
        let dir = tempfile::tempdir().unwrap();
        let tcp = dir.path().join("tcp");
        std::fs::write(
            &tcp,
            b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
              0: 00000000:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123 1 0 100 0 0 10 0\n   \
              1: 0100007F:20FB 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 124 1 0 100 0 0 10 0\n   \
              2: short line\n",
        )
        .unwrap();
        let sockets = listening_sockets(&[tcp, dir.path().join("missing")]);
        assert_eq!(sockets, HashMap::from([(123, 443)]));
    }

    #[test]
    fn a_family_is_the_process_and_its_descendants() {
        let table = ProcessTable {
            proc_root: PathBuf::from("/nonexistent"),
            pids: vec![1, 2, 3, 4],
            processes: HashMap::new(),
            children: HashMap::from([(1, vec![2]), (2, vec![3]), (4, vec![1])]),
        };
        assert_eq!(table.family(1), vec![1, 2, 3]);
        assert_eq!(table.family(3), vec![3]);
    }
}
