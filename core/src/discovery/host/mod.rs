//! The host scan: which TLS servers run on this Linux host, read from `/proc`, and the
//! certificate, key and keystore files their configuration names, with the ports they listen
//! on. Paths only: no certificate is read here.
//!
//! A process is identified by its command line: nginx (the master process), Apache httpd (the
//! parent process), Tomcat (`-Dcatalina.base`), Jetty (`-Djetty.base`), WildFly/JBoss
//! (`-Djboss.server.base.dir`), WebLogic (`-Dweblogic.Name`) and any JVM with
//! `-Djavax.net.ssl.keyStore`. Listening ports come from `/proc/net/tcp{,6}` (state LISTEN)
//! matched to the socket inodes of the process and its descendants.

mod apache;
mod include;
mod java;
mod nginx;
mod proc;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::crypto::SecretString;
use crate::deploy::{JavaKeystoreType, ServerType};
use crate::discovery::ScanProblem;
use proc::{Process, ProcessTable};

/// A TLS server running on this host.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunningServer {
    /// What kind of server.
    pub server_type: ServerType,
    /// The process id (nginx and Apache: the master process).
    pub pid: u32,
    /// The executable (`/proc/PID/exe`), or the command's first word when that is unreadable.
    pub program: PathBuf,
    /// The main configuration file (for a plain JVM: its `/proc/PID/cmdline`).
    pub config_path: PathBuf,
    /// The TLS sites the configuration declares.
    pub sites: Vec<TlsSite>,
    /// The TCP ports the process and its children listen on, sorted.
    pub listening_ports: Vec<u16>,
}

/// One certificate (or keystore) a server's configuration names, and where it is served.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsSite {
    /// The file holding the directive (the main configuration or an included one).
    pub config_path: PathBuf,
    /// The certificate file, or the keystore (Java servers).
    pub certificate_path: PathBuf,
    /// The private key file (PEM servers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_path: Option<PathBuf>,
    /// A separate chain file (Apache `SSLCertificateChainFile`, Tomcat `certificateChainFile`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_path: Option<PathBuf>,
    /// The keystore type, when the configuration says and certloop can write it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keystore_type: Option<JavaKeystoreType>,
    /// The keystore password as configured. Never serialized (`SecretString` would
    /// serialize in clear); `Debug` prints it redacted.
    #[serde(skip)]
    pub keystore_password: Option<SecretString>,
    /// The key alias in the keystore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_alias: Option<String>,
    /// The ports the configuration serves this certificate on.
    pub ports: Vec<u16>,
    /// The host names (nginx `server_name`, Apache `ServerName`/`ServerAlias`, Tomcat
    /// `hostName`).
    pub server_names: Vec<String>,
}

/// Where and how far the host scan looks.
#[derive(Clone, Debug)]
pub struct HostScanOptions {
    /// The proc file system (`/proc`; tests give a tree of their own).
    pub proc_root: PathBuf,
    /// At most this many configuration files per server (bounds `include` recursion).
    pub max_config_files: usize,
}

impl Default for HostScanOptions {
    fn default() -> Self {
        HostScanOptions { proc_root: PathBuf::from("/proc"), max_config_files: 512 }
    }
}

/// The TLS servers running on this host, and what could not be read (a process that exited
/// mid-scan or is not readable without privileges, a configuration that does not parse).
pub fn running_servers(options: &HostScanOptions) -> (Vec<RunningServer>, Vec<ScanProblem>) {
    let mut problems = Vec::new();
    let proc_root = &options.proc_root;
    let Some(table) = ProcessTable::read(proc_root, &mut problems) else {
        return (Vec::new(), problems);
    };
    let mut listening =
        proc::listening_sockets(&[proc_root.join("net/tcp"), proc_root.join("net/tcp6")]);
    let mut servers = Vec::new();
    for &pid in table.pids() {
        let Some(process) = table.get(pid) else { continue };
        let parent = process.ppid.and_then(|ppid| table.get(ppid));
        let Some(kind) = identify(process, parent) else { continue };
        let dir = proc_root.join(pid.to_string());
        if !dir.join("cmdline").exists() {
            problems.push(ScanProblem::new(format!("process {pid}"), "exited during the scan"));
            continue;
        }
        // Sockets of a network namespace other than ours are in the process's own net/.
        listening.extend(proc::listening_sockets(&[dir.join("net/tcp"), dir.join("net/tcp6")]));
        let context = ProcessContext::read(pid, &dir, process, kind);
        let (mut server, server_problems) = context.server(options.max_config_files);
        problems.extend(server_problems);
        if server.server_type == ServerType::Generic && server.sites.is_empty() {
            // A JVM without a TLS keystore is no TLS server.
            continue;
        }
        server.listening_ports = table.listening_ports(pid, &listening, &mut problems);
        servers.push(server);
    }
    (servers, problems)
}

/// The servers a command line can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Nginx,
    Apache,
    Java,
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// What server `process` is, when it is a master: an nginx master process, an Apache whose
/// parent is not Apache of the same program (the workers are its children), any JVM.
fn identify(process: &Process, parent: Option<&Process>) -> Option<Kind> {
    let argv0 = process.argv.first()?;
    if argv0.starts_with("nginx: master process") {
        return Some(Kind::Nginx);
    }
    let name = base_name(argv0);
    if matches!(name, "httpd" | "apache2" | "httpd.worker" | "httpd.event") {
        let parent_name = parent.and_then(|p| p.argv.first()).map(|a| base_name(a));
        return (parent_name != Some(name)).then_some(Kind::Apache);
    }
    if name == "java" {
        return Some(Kind::Java);
    }
    None
}

/// What is read of one server process.
struct ProcessContext {
    pid: u32,
    kind: Kind,
    argv: Vec<String>,
    program: PathBuf,
    cwd: PathBuf,
    environment: HashMap<String, String>,
    cmdline_path: PathBuf,
}

impl ProcessContext {
    fn read(pid: u32, dir: &Path, process: &Process, kind: Kind) -> ProcessContext {
        // nginx rewrites its argv: "nginx: master process /usr/sbin/nginx -c /etc/nginx/x.conf".
        let argv: Vec<String> = match process.argv.first() {
            Some(first) if kind == Kind::Nginx => first
                .trim_start_matches("nginx: master process")
                .split_whitespace()
                .chain(process.argv.iter().skip(1).flat_map(|a| a.split_whitespace()))
                .map(str::to_owned)
                .collect(),
            _ => process.argv.clone(),
        };
        let program = std::fs::read_link(dir.join("exe")).unwrap_or_else(|_| {
            PathBuf::from(argv.first().map(String::as_str).unwrap_or_default())
        });
        let cwd = std::fs::read_link(dir.join("cwd")).unwrap_or_else(|_| PathBuf::from("/"));
        let environment = std::fs::read(dir.join("environ"))
            .map(|raw| {
                proc::split_cmdline(&raw)
                    .into_iter()
                    .filter_map(|pair| {
                        pair.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        ProcessContext {
            pid,
            kind,
            argv,
            program,
            cwd,
            environment,
            cmdline_path: dir.join("cmdline"),
        }
    }

    /// The value of `flag` on the command line: `-c FILE`, or `-cFILE` (nginx, Apache; a JVM
    /// has `-cp`).
    fn option(&self, flag: &str) -> Option<&str> {
        let mut args = self.argv.iter().skip(1);
        while let Some(arg) = args.next() {
            if arg == flag {
                return args.next().map(String::as_str);
            }
            if let Some(value) =
                arg.strip_prefix(flag).filter(|v| !v.is_empty() && self.kind != Kind::Java)
            {
                return Some(value);
            }
        }
        None
    }

    fn server(&self, max_files: usize) -> (RunningServer, Vec<ScanProblem>) {
        let mut server = RunningServer {
            server_type: ServerType::Generic,
            pid: self.pid,
            program: self.program.clone(),
            config_path: PathBuf::new(),
            sites: Vec::new(),
            listening_ports: Vec::new(),
        };
        let mut problems = Vec::new();
        match self.kind {
            Kind::Nginx => {
                server.server_type = ServerType::Nginx;
                let prefix = self.option("-p").map(|p| resolve(&self.cwd, p));
                server.config_path = match (self.option("-c"), &prefix) {
                    (Some(config), Some(prefix)) => resolve(prefix, config),
                    (Some(config), None) => resolve(&self.cwd, config),
                    (None, Some(prefix)) => prefix.join("conf/nginx.conf"),
                    (None, None) => first_existing(&[
                        "/etc/nginx/nginx.conf",
                        "/usr/local/nginx/conf/nginx.conf",
                    ]),
                };
                (server.sites, problems) = nginx::sites(&server.config_path, max_files);
            }
            Kind::Apache => {
                server.server_type = ServerType::Apache;
                let debian = base_name(&self.program.to_string_lossy()) == "apache2"
                    || self.argv.first().is_some_and(|a| base_name(a) == "apache2");
                let default_root =
                    self.environment.get("APACHE_CONFDIR").cloned().unwrap_or_else(|| {
                        if debian { "/etc/apache2".to_owned() } else { "/etc/httpd".to_owned() }
                    });
                let server_root = resolve(&self.cwd, self.option("-d").unwrap_or(&default_root));
                let default_config = if debian { "apache2.conf" } else { "conf/httpd.conf" };
                server.config_path =
                    resolve(&server_root, self.option("-f").unwrap_or(default_config));
                let mut variables = std::fs::read_to_string(server_root.join("envvars"))
                    .map(|text| apache::debian_envvars(&text))
                    .unwrap_or_default();
                variables.extend(self.environment.clone());
                (server.sites, problems) =
                    apache::sites(&server.config_path, &server_root, variables, max_files);
            }
            Kind::Java => {
                let properties = java::system_properties(&self.argv);
                if let Some(base) = properties.get("catalina.base") {
                    server.server_type = ServerType::Tomcat;
                    server.config_path = resolve(&self.cwd, base).join("conf/server.xml");
                    let mut properties = properties.clone();
                    properties.insert(
                        "catalina.base".to_owned(),
                        resolve(&self.cwd, base).display().to_string(),
                    );
                    (server.sites, problems) = java::tomcat_sites(&server.config_path, &properties);
                } else if let Some(base) = properties.get("jetty.base") {
                    server.server_type = ServerType::Jetty;
                    let base = resolve(&self.cwd, base);
                    server.config_path = base.join("start.ini");
                    (server.sites, problems) = java::jetty_sites(&base, &properties);
                } else if let Some(base) =
                    properties.get("jboss.server.base.dir").cloned().or_else(|| {
                        properties.get("jboss.home.dir").map(|home| format!("{home}/standalone"))
                    })
                {
                    server.server_type = ServerType::Jboss;
                    let base = resolve(&self.cwd, &base);
                    let config = self
                        .argv
                        .iter()
                        .find_map(|a| {
                            a.strip_prefix("--server-config=").or_else(|| a.strip_prefix("-c="))
                        })
                        .or_else(|| self.option("-c"))
                        .unwrap_or("standalone.xml");
                    server.config_path = resolve(&base.join("configuration"), config);
                    (server.sites, problems) =
                        java::wildfly_sites(&server.config_path, &base, &properties);
                } else if properties.contains_key("weblogic.Name") {
                    server.server_type = ServerType::Weblogic;
                    server.config_path = self.cwd.join("config/config.xml");
                    server.sites.extend(java::system_property_site(
                        &properties,
                        &self.cmdline_path,
                        &self.cwd,
                    ));
                    if server.sites.is_empty() {
                        problems.push(ScanProblem::new(
                            format!("process {}", self.pid),
                            format!(
                                "WebLogic server: its identity keystore is configured in {} (not read); \
                                 add it as a deployment target by hand",
                                server.config_path.display()
                            ),
                        ));
                    }
                } else {
                    server.config_path = self.cmdline_path.clone();
                    server.sites.extend(java::system_property_site(
                        &properties,
                        &self.cmdline_path,
                        &self.cwd,
                    ));
                }
            }
        }
        (server, problems)
    }
}

/// The first of `candidates` that exists, else the first.
fn first_existing(candidates: &[&str]) -> PathBuf {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(candidates.first().copied().unwrap_or_default()))
}

/// `path` as is when absolute, else below `base`.
pub(crate) fn resolve(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn write(path: &Path, content: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// A fake `/proc/PID` with a command line, a parent and socket links.
    fn process(proc_root: &Path, pid: u32, ppid: u32, argv: &[&str], sockets: &[u64]) {
        let dir = proc_root.join(pid.to_string());
        let mut cmdline = argv.join("\0").into_bytes();
        cmdline.push(0);
        write(&dir.join("cmdline"), &cmdline);
        let comm = base_name(argv[0]);
        write(
            &dir.join("stat"),
            format!("{pid} ({comm} (x)) S {ppid} {pid} {pid} 0 -1\n").as_bytes(),
        );
        std::fs::create_dir_all(dir.join("fd")).unwrap();
        symlink("/dev/null", dir.join("fd/0")).unwrap();
        for (i, inode) in sockets.iter().enumerate() {
            symlink(format!("socket:[{inode}]"), dir.join(format!("fd/{}", i + 3))).unwrap();
        }
    }

    #[test]
    fn running_servers_from_a_fake_proc_tree() {
        let dir = tempfile::tempdir().unwrap();
        let proc_root = dir.path().join("proc");
        let etc = dir.path().join("etc");
        write(
            &etc.join("nginx/nginx.conf"),
            b"http { server { listen 443 ssl; server_name a.example; ssl_certificate a.pem; ssl_certificate_key a.key; } }\n",
        );
        write(
            &etc.join("apache2/apache2.conf"),
            b"ErrorLog ${APACHE_LOG_DIR}/error.log\n<VirtualHost *:8443>\nSSLEngine on\nSSLCertificateFile /c.pem\n</VirtualHost>\n",
        );
        write(&etc.join("apache2/envvars"), b"export APACHE_LOG_DIR=/var/log/apache2$SUFFIX\n");

        let nginx_conf = etc.join("nginx/nginx.conf").display().to_string();
        process(
            &proc_root,
            100,
            1,
            &[&format!("nginx: master process /usr/sbin/nginx -c {nginx_conf}")],
            &[123],
        );
        process(&proc_root, 101, 100, &["nginx: worker process"], &[124, 125]);
        let apache_root = etc.join("apache2").display().to_string();
        process(&proc_root, 200, 1, &["/usr/sbin/apache2", "-k", "start", "-d", &apache_root], &[]);
        write(&proc_root.join("200/environ"), b"APACHE_RUN_USER=www-data\0LANG=C\0");
        process(&proc_root, 201, 200, &["/usr/sbin/apache2", "-k", "start"], &[126]);
        process(
            &proc_root,
            300,
            1,
            &[
                "/usr/bin/java",
                "-Djavax.net.ssl.keyStore=/k.p12",
                "-Djavax.net.ssl.keyStoreType=pkcs12",
                "-Djavax.net.ssl.keyStorePassword=pw",
                "Main",
            ],
            &[],
        );
        process(&proc_root, 301, 1, &["/usr/bin/java", "-jar", "plain.jar"], &[]);
        process(&proc_root, 400, 1, &["/bin/sh"], &[]);
        // A process that exited: its directory is there, its files are gone.
        std::fs::create_dir_all(proc_root.join("500")).unwrap();
        write(
            &proc_root.join("net/tcp"),
            b"header\n 0: 00000000:01BB 00000000:0000 0A 0 0 0 0 0 123 1\n 1: 00000000:0050 00000000:0000 0A 0 0 0 0 0 124 1\n 2: 0100007F:1F90 00000000:0000 06 0 0 0 0 0 125 1\n",
        );
        write(&proc_root.join("net/tcp6"), b"header\n 0: 00000000000000000000000000000000:20FB 00000000000000000000000000000000:0000 0A 0 0 0 0 0 126 1\n");

        let options = HostScanOptions { proc_root: proc_root.clone(), max_config_files: 16 };
        let (servers, problems) = running_servers(&options);
        assert_eq!(servers.len(), 3, "{servers:#?}");

        let nginx = &servers[0];
        assert_eq!(nginx.server_type, ServerType::Nginx);
        assert_eq!(nginx.pid, 100);
        assert_eq!(nginx.program, PathBuf::from("/usr/sbin/nginx"));
        assert_eq!(nginx.config_path, etc.join("nginx/nginx.conf"));
        assert_eq!(nginx.listening_ports, vec![80, 443]);
        assert_eq!(nginx.sites.len(), 1);
        assert_eq!(nginx.sites[0].certificate_path, etc.join("nginx/a.pem"));

        let apache = &servers[1];
        assert_eq!(apache.server_type, ServerType::Apache);
        assert_eq!(apache.pid, 200);
        assert_eq!(apache.config_path, etc.join("apache2/apache2.conf"));
        assert_eq!(apache.listening_ports, vec![8443]);
        assert_eq!(apache.sites[0].certificate_path, PathBuf::from("/c.pem"));
        assert_eq!(apache.sites[0].ports, vec![8443]);

        let java = &servers[2];
        assert_eq!(java.server_type, ServerType::Generic);
        assert_eq!(java.pid, 300);
        assert_eq!(java.sites[0].certificate_path, PathBuf::from("/k.p12"));
        assert_eq!(java.sites[0].keystore_type, Some(JavaKeystoreType::Pkcs12));
        let json = serde_json::to_string(&java).unwrap();
        assert!(!json.contains("\"pw\"") && json.contains("certificatePath"), "{json}");
        assert!(!format!("{java:?}").contains("\"pw\""));

        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].at, "process 500");
    }

    #[test]
    fn missing_proc_root_is_a_problem() {
        let options = HostScanOptions {
            proc_root: PathBuf::from("/nonexistent/proc"),
            ..HostScanOptions::default()
        };
        let (servers, problems) = running_servers(&options);
        assert!(servers.is_empty());
        assert_eq!(problems.len(), 1);
    }
}
