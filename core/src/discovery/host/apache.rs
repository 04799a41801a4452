//! Apache httpd configuration: line-based directives (case-insensitive, `\` continuations,
//! `#` comments), `Include`/`IncludeOptional` with wildcards and directories, `ServerRoot`,
//! `Define` and `${VAR}`, and the `<VirtualHost>` blocks with `SSLEngine on`. Other sections
//! (`<IfModule>`, `<IfDefine>`, `<Directory>`) are read as if their condition held.
//! Relative paths are relative to `ServerRoot`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{TlsSite, include, resolve};
use crate::discovery::ScanProblem;

/// At most this many variable substitutions in one line (a `Define` cannot make it loop).
const MAX_SUBSTITUTIONS: usize = 64;

/// The TLS sites of the configuration `config_path`, with `server_root` the starting
/// `ServerRoot` and `variables` the process environment (for `${APACHE_LOG_DIR}` and the like),
/// reading at most `max_files` files.
pub(crate) fn sites(
    config_path: &Path,
    server_root: &Path,
    variables: HashMap<String, String>,
    max_files: usize,
) -> (Vec<TlsSite>, Vec<ScanProblem>) {
    let mut reader = Reader {
        server_root: server_root.to_path_buf(),
        variables,
        files_read: 0,
        max_files,
        stack: Vec::new(),
        problems: Vec::new(),
        main: SslSettings::default(),
        virtual_host: None,
        listen_ports: Vec::new(),
        sites: Vec::new(),
    };
    reader.read(config_path, None, false);
    let main = std::mem::take(&mut reader.main);
    if main.engine == Some(true) {
        let mut ports = reader.listen_ports.clone();
        ports.sort_unstable();
        ports.dedup();
        reader.finish_site(main, ports, None);
    }
    (reader.sites, reader.problems)
}

/// The mod_ssl directives of one server (the main server or a virtual host).
#[derive(Debug, Default)]
struct SslSettings {
    engine: Option<bool>,
    certificates: Vec<(String, String)>,
    keys: Vec<(String, String)>,
    chain: Option<(String, String)>,
    server_names: Vec<String>,
    /// Where the server was declared (`file:line`).
    at: String,
    /// The file that declared it.
    file: PathBuf,
}

struct VirtualHost {
    settings: SslSettings,
    ports: Vec<u16>,
}

struct Reader {
    server_root: PathBuf,
    variables: HashMap<String, String>,
    files_read: usize,
    max_files: usize,
    stack: Vec<PathBuf>,
    problems: Vec<ScanProblem>,
    main: SslSettings,
    virtual_host: Option<VirtualHost>,
    listen_ports: Vec<u16>,
    sites: Vec<TlsSite>,
}

impl Reader {
    fn read(&mut self, path: &Path, included_at: Option<&str>, optional: bool) {
        let at = || included_at.map_or_else(|| path.display().to_string(), str::to_owned);
        if self.files_read >= self.max_files {
            self.problems.push(ScanProblem::new(
                at(),
                format!("more than {} configuration files; not read", self.max_files),
            ));
            return;
        }
        if path.is_dir() {
            // `Include dir/` reads every file below it, sorted.
            let mut files: Vec<PathBuf> = match std::fs::read_dir(path) {
                Ok(entries) => entries
                    .take(self.max_files)
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect(),
                Err(e) => {
                    self.problems.push(ScanProblem::new(
                        at(),
                        format!("cannot read {}: {e}", path.display()),
                    ));
                    return;
                }
            };
            files.sort();
            for file in files {
                self.read(&file, included_at, optional);
            }
            return;
        }
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canonical) {
            self.problems.push(ScanProblem::new(
                at(),
                format!("include loop: {} includes itself; not read again", path.display()),
            ));
            return;
        }
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                self.problems
                    .push(ScanProblem::new(at(), format!("cannot read {}: {e}", path.display())));
                return;
            }
        };
        self.files_read += 1;
        self.stack.push(canonical);
        for (line_number, line) in logical_lines(&text) {
            let at = format!("{}:{line_number}", path.display());
            self.directive(&line, path, &at);
        }
        self.stack.pop();
    }

    fn directive(&mut self, line: &str, file: &Path, at: &str) {
        let line = self.substitute(line);
        let words = split_words(&line);
        let Some(first) = words.first() else { return };
        if let Some(section) = first.strip_prefix("</") {
            if section.trim_end_matches('>').eq_ignore_ascii_case("virtualhost") {
                match self.virtual_host.take() {
                    Some(host) => {
                        let main = self.main_snapshot();
                        self.finish_site(host.settings, host.ports, Some(&main));
                    }
                    None => self
                        .problems
                        .push(ScanProblem::new(at, "</VirtualHost> without <VirtualHost>")),
                }
            }
            return;
        }
        if let Some(section) = first.strip_prefix('<') {
            let name = section.trim_end_matches('>');
            if name.eq_ignore_ascii_case("virtualhost") {
                if self.virtual_host.is_some() {
                    self.problems.push(ScanProblem::new(at, "<VirtualHost> inside <VirtualHost>"));
                    return;
                }
                let ports = words[1..]
                    .iter()
                    .map(|w| w.trim_end_matches('>'))
                    .filter_map(address_port)
                    .collect();
                let settings = SslSettings {
                    at: at.to_owned(),
                    file: file.to_path_buf(),
                    ..SslSettings::default()
                };
                self.virtual_host = Some(VirtualHost { settings, ports });
            }
            return;
        }
        let args = &words[1..];
        let name = first.to_ascii_lowercase();
        let value = || args.first().cloned().unwrap_or_default();
        match name.as_str() {
            "serverroot" => self.server_root = PathBuf::from(value()),
            "define" => {
                if let Some(variable) = args.first() {
                    self.variables
                        .insert(variable.clone(), args.get(1).cloned().unwrap_or_default());
                }
            }
            "include" | "includeoptional" => {
                let pattern = resolve(&self.server_root, &value());
                let limit = self.max_files.saturating_sub(self.files_read).saturating_add(1);
                let optional = name == "includeoptional";
                // httpd 2.4 accepts an `Include` wildcard that matches nothing.
                for path in include::expand(&pattern, limit) {
                    self.read(&path, Some(at), optional);
                }
            }
            "listen" => {
                if let Some(port) = args.first().and_then(|a| address_port(a)) {
                    self.listen_ports.push(port);
                }
            }
            "sslengine" => self.settings().engine = Some(value().eq_ignore_ascii_case("on")),
            "sslcertificatefile" => self.settings().certificates.push((value(), at.to_owned())),
            "sslcertificatekeyfile" => self.settings().keys.push((value(), at.to_owned())),
            "sslcertificatechainfile" => self.settings().chain = Some((value(), at.to_owned())),
            "servername" => {
                if let Some(server_name) = args.first() {
                    // `ServerName https://host:443`: the host.
                    let host = server_name.rsplit("://").next().unwrap_or(server_name);
                    let host = host.split(':').next().unwrap_or(host);
                    self.settings().server_names.insert(0, host.to_owned());
                }
            }
            "serveralias" => self.settings().server_names.extend(args.iter().cloned()),
            _ => {}
        }
    }

    /// The settings that directives go to now: the open virtual host's, else the main server's.
    fn settings(&mut self) -> &mut SslSettings {
        match &mut self.virtual_host {
            Some(host) => &mut host.settings,
            None => &mut self.main,
        }
    }

    /// What a virtual host inherits from the main server: its certificate, key and chain.
    fn main_snapshot(&self) -> SslSettings {
        SslSettings {
            engine: self.main.engine,
            certificates: self.main.certificates.clone(),
            keys: self.main.keys.clone(),
            chain: self.main.chain.clone(),
            ..SslSettings::default()
        }
    }

    fn finish_site(&mut self, settings: SslSettings, ports: Vec<u16>, main: Option<&SslSettings>) {
        let engine = settings.engine.or(main.and_then(|m| m.engine)).unwrap_or(false);
        if !engine {
            return;
        }
        let inherit = |own: &Vec<(String, String)>, from: Option<&Vec<(String, String)>>| {
            if own.is_empty() { from.cloned().unwrap_or_default() } else { own.clone() }
        };
        let certificates = inherit(&settings.certificates, main.map(|m| &m.certificates));
        let keys = inherit(&settings.keys, main.map(|m| &m.keys));
        let chain = settings.chain.clone().or_else(|| main.and_then(|m| m.chain.clone()));
        if certificates.is_empty() {
            let at =
                if settings.at.is_empty() { "main server".to_owned() } else { settings.at.clone() };
            self.problems.push(ScanProblem::new(at, "SSLEngine on without SSLCertificateFile"));
            return;
        }
        for (i, (certificate, at)) in certificates.iter().enumerate() {
            if certificate.contains("${") {
                self.problems.push(ScanProblem::new(
                    at.clone(),
                    format!("SSLCertificateFile {certificate} uses an undefined variable"),
                ));
                continue;
            }
            // mod_ssl: without SSLCertificateKeyFile the key is in the certificate file.
            let key =
                keys.get(i).or(keys.last()).map_or(certificate.as_str(), |(key, _)| key.as_str());
            let config_path = at
                .rsplit_once(':')
                .map_or_else(|| settings.file.clone(), |(file, _)| PathBuf::from(file));
            self.sites.push(TlsSite {
                config_path,
                certificate_path: resolve(&self.server_root, certificate),
                key_path: Some(resolve(&self.server_root, key)),
                chain_path: chain.as_ref().map(|(chain, _)| resolve(&self.server_root, chain)),
                keystore_type: None,
                keystore_password: None,
                key_alias: None,
                ports: ports.clone(),
                server_names: settings.server_names.clone(),
            });
        }
    }

    /// `${NAME}` replaced by a `Define` or an environment variable; unknown ones stay.
    fn substitute(&self, line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        let mut count = 0;
        while let Some(start) = rest.find("${") {
            let Some(length) = rest[start + 2..].find('}') else { break };
            let name = &rest[start + 2..start + 2 + length];
            out.push_str(&rest[..start]);
            match self.variables.get(name) {
                Some(value) if count < MAX_SUBSTITUTIONS => out.push_str(value),
                _ => out.push_str(&rest[start..start + 3 + length]),
            }
            count += 1;
            rest = &rest[start + 3 + length..];
        }
        out.push_str(rest);
        out
    }
}

/// Lines with `\` continuations joined and comments and blank lines dropped, each with the
/// number of its first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, physical) in text.lines().enumerate() {
        let (start, mut joined) = pending.take().unwrap_or((index + 1, String::new()));
        if let Some(head) = physical.strip_suffix('\\') {
            joined.push_str(head);
            joined.push(' ');
            pending = Some((start, joined));
            continue;
        }
        joined.push_str(physical);
        let trimmed = joined.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            lines.push((start, trimmed.to_owned()));
        }
    }
    if let Some((start, joined)) = pending {
        let trimmed = joined.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            lines.push((start, trimmed.to_owned()));
        }
    }
    lines
}

/// Words of a directive line; `"..."` and `'...'` hold spaces, `\"` escapes a quote.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            while let Some(c2) = chars.next() {
                if c2 == '\\' && chars.peek() == Some(&c) {
                    word.extend(chars.next());
                } else if c2 == c {
                    break;
                } else {
                    word.push(c2);
                }
            }
        } else {
            while let Some(&c2) = chars.peek() {
                if c2.is_whitespace() {
                    break;
                }
                word.push(c2);
                chars.next();
            }
        }
        words.push(word);
    }
    words
}

/// The port of `*:443`, `_default_:443`, `[::1]:8443`, `192.0.2.1:443`, `443`.
fn address_port(address: &str) -> Option<u16> {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split_once("]:").and_then(|(_, port)| port.parse().ok());
    }
    match address.rsplit_once(':') {
        Some((_, port)) => port.parse().ok(),
        None => address.parse().ok(),
    }
}

/// The variables of a Debian `envvars` file (`export APACHE_LOG_DIR=/var/log/apache2$SUFFIX`):
/// plain assignments only, `$SUFFIX` taken as empty (the default instance).
pub(crate) fn debian_envvars(text: &str) -> HashMap<String, String> {
    let mut variables = HashMap::new();
    for line in text.lines() {
        let Some(assignment) = line.trim().strip_prefix("export ") else { continue };
        let Some((name, value)) = assignment.split_once('=') else { continue };
        let value = value.trim().trim_matches('"').trim_matches('\'');
        let value = value.replace("${SUFFIX}", "").replace("$SUFFIX", "");
        if !value.contains('$') && !value.contains('`') {
            variables.insert(name.trim().to_owned(), value);
        }
    }
    variables
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn words_lines_and_addresses() {
        assert_eq!(split_words(r#"A "b c" 'd' e\"f"#), vec!["A", "b c", "d", "e\\\"f"]);
        let lines = logical_lines("# c\nA b \\\n  c\n\n  B\n");
        assert_eq!(lines, vec![(2, "A b    c".to_owned()), (5, "B".to_owned())]);
        assert_eq!(address_port("*:8443"), Some(8443));
        assert_eq!(address_port("[::1]:443"), Some(443));
        assert_eq!(address_port("_default_:443"), Some(443));
        assert_eq!(address_port("*"), None);
        let envvars =
            debian_envvars("export APACHE_LOG_DIR=/var/log/apache2$SUFFIX\nexport X=\"y\"\n");
        assert_eq!(envvars["APACHE_LOG_DIR"], "/var/log/apache2");
        assert_eq!(envvars["X"], "y");
    }

    #[test]
    fn debian_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("etc/apache2");
        write(
            &root.join("apache2.conf"),
            "ServerRoot \"ROOT\"\nDefine CERTS /srv/certs\nErrorLog ${APACHE_LOG_DIR}/error.log\n\
             Include ports.conf\n<IfModule mod_ssl.c>\n  SSLCertificateChainFile ${CERTS}/global-chain.pem\n</IfModule>\n\
             IncludeOptional mods-enabled/*.load\nIncludeOptional sites-enabled/*.conf\n"
                .replace("ROOT", &root.display().to_string())
                .as_str(),
        );
        write(
            &root.join("ports.conf"),
            "Listen 80\n<IfModule ssl_module>\n  Listen 8443\n</IfModule>\n",
        );
        write(
            &root.join("sites-enabled/000-default.conf"),
            "<VirtualHost *:80>\n  ServerName plain.example\n  DocumentRoot /var/www\n</VirtualHost>\n",
        );
        write(
            &root.join("sites-enabled/default-ssl.conf"),
            "<IfModule mod_ssl.c>\n<VirtualHost _default_:8443 [::1]:9443>\n  ServerName secure.example\n  \
             ServerAlias www.secure.example \\\n    alt.example\n  CustomLog ${APACHE_LOG_DIR}/ssl.log combined\n  \
             sslengine On\n  SSLCertificateFile ${CERTS}/secure.pem\n  SSLCertificateKeyFile \"private/secure.key\"\n\
             </VirtualHost>\n<VirtualHost *:9444>\n  SSLEngine on\n  SSLCertificateFile /etc/ssl/both.pem\n</VirtualHost>\n\
             <VirtualHost *:9445>\n  SSLEngine on\n  SSLCertificateFile ${UNDEFINED}/x.pem\n</VirtualHost>\n</IfModule>\n",
        );
        let variables =
            HashMap::from([("APACHE_LOG_DIR".to_owned(), "/var/log/apache2".to_owned())]);
        let (sites, problems) =
            sites(&root.join("apache2.conf"), Path::new("/nonexistent"), variables, 512);

        assert_eq!(sites.len(), 2, "{sites:#?}");
        let secure = &sites[0];
        assert_eq!(secure.config_path, root.join("sites-enabled/default-ssl.conf"));
        assert_eq!(secure.certificate_path, PathBuf::from("/srv/certs/secure.pem"));
        assert_eq!(secure.key_path, Some(root.join("private/secure.key")));
        assert_eq!(secure.chain_path, Some(PathBuf::from("/srv/certs/global-chain.pem")));
        assert_eq!(secure.ports, vec![8443, 9443]);
        assert_eq!(
            secure.server_names,
            vec!["secure.example", "www.secure.example", "alt.example"]
        );
        let both = &sites[1];
        assert_eq!(both.key_path, Some(PathBuf::from("/etc/ssl/both.pem")));
        assert_eq!(both.ports, vec![9444]);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(
            problems[0].at,
            format!("{}:17", root.join("sites-enabled/default-ssl.conf").display())
        );
        assert!(problems[0].error.contains("${UNDEFINED}"));
    }

    #[test]
    fn include_directory_missing_include_and_loop() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            &root.join("httpd.conf"),
            "Include conf.d\nInclude missing.conf\nIncludeOptional gone.conf\n",
        );
        write(&root.join("conf.d/a.conf"), "Include httpd.conf\n");
        let (sites, problems) = sites(&root.join("httpd.conf"), root, HashMap::new(), 512);
        assert!(sites.is_empty());
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].error.contains("include loop"));
        assert_eq!(problems[1].at, format!("{}:2", root.join("httpd.conf").display()));
    }
}
