//! nginx configuration: a tokenizer (quotes, escapes, `#` comments, `{}` blocks, `;`), the
//! `include` directive with wildcards, and the TLS `server` blocks of `http` and `stream`.
//! Relative paths (includes, certificates) are relative to the configuration prefix: the
//! directory of the main configuration file.

use std::path::{Path, PathBuf};

use super::{TlsSite, include, resolve};
use crate::discovery::ScanProblem;

/// Blocks nest at most this deep.
const MAX_DEPTH: usize = 64;

/// The TLS sites that the configuration `config_path` declares, reading at most `max_files`
/// files, and what could not be read or understood.
pub(crate) fn sites(config_path: &Path, max_files: usize) -> (Vec<TlsSite>, Vec<ScanProblem>) {
    let prefix = config_path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut loader =
        Loader { prefix, files_read: 0, max_files, stack: Vec::new(), problems: Vec::new() };
    let directives = loader.load(config_path, None);
    let mut sites = Vec::new();
    for directive in &directives {
        if matches!(directive.name.as_str(), "http" | "stream")
            && let Some(block) = &directive.block
        {
            collect_sites(block, &loader.prefix, &mut sites, &mut loader.problems);
        }
    }
    (sites, loader.problems)
}

/// One directive, with its block when it has one, and where it is.
#[derive(Debug)]
struct Directive {
    name: String,
    args: Vec<String>,
    file: PathBuf,
    line: usize,
    block: Option<Vec<Directive>>,
}

impl Directive {
    fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String, usize),
    Semicolon(usize),
    Open(usize),
    Close(usize),
}

/// Split nginx configuration text into tokens. Errors name the line.
fn tokenize(text: &str) -> Result<Vec<Token>, (usize, String)> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            ';' => tokens.push(Token::Semicolon(line)),
            '{' => tokens.push(Token::Open(line)),
            '}' => tokens.push(Token::Close(line)),
            '"' | '\'' => {
                let (start, quote) = (line, c);
                let mut word = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    if c == '\n' {
                        line += 1;
                    }
                    if c == quote {
                        closed = true;
                        break;
                    }
                    if c == '\\' {
                        match chars.next() {
                            Some(escaped @ ('"' | '\'' | '\\')) => word.push(escaped),
                            Some('n') => word.push('\n'),
                            Some('t') => word.push('\t'),
                            Some('r') => word.push('\r'),
                            Some(other) => {
                                if other == '\n' {
                                    line += 1;
                                }
                                word.push('\\');
                                word.push(other);
                            }
                            None => break,
                        }
                    } else {
                        word.push(c);
                    }
                }
                if !closed {
                    return Err((start, format!("unterminated {quote}quoted string")));
                }
                tokens.push(Token::Word(word, start));
            }
            _ => {
                let mut word = String::from(c);
                if c == '\\'
                    && let Some(next) = chars.next()
                {
                    word.push(next);
                }
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, ';' | '{' | '}') {
                        break;
                    }
                    chars.next();
                    word.push(c);
                    if c == '\\'
                        && let Some(next) = chars.next()
                    {
                        word.push(next);
                    }
                }
                tokens.push(Token::Word(word, line));
            }
        }
    }
    Ok(tokens)
}

/// Turn tokens into directives. Errors name the line.
fn parse(tokens: &[Token], file: &Path) -> Result<Vec<Directive>, (usize, String)> {
    let mut position = 0;
    let directives = parse_block(tokens, &mut position, file, 0)?;
    match tokens.get(position) {
        Some(Token::Close(line)) => Err((*line, "unexpected \"}\"".to_owned())),
        _ => Ok(directives),
    }
}

fn parse_block(
    tokens: &[Token],
    position: &mut usize,
    file: &Path,
    depth: usize,
) -> Result<Vec<Directive>, (usize, String)> {
    let mut directives = Vec::new();
    while let Some(token) = tokens.get(*position) {
        let (name, line) = match token {
            Token::Close(_) => return Ok(directives),
            Token::Word(name, line) => (name.clone(), *line),
            Token::Semicolon(line) => return Err((*line, "unexpected \";\"".to_owned())),
            Token::Open(line) => return Err((*line, "unexpected \"{\"".to_owned())),
        };
        *position += 1;
        let mut args = Vec::new();
        loop {
            match tokens.get(*position) {
                Some(Token::Word(arg, _)) => {
                    args.push(arg.clone());
                    *position += 1;
                }
                Some(Token::Semicolon(_)) => {
                    *position += 1;
                    directives.push(Directive {
                        name,
                        args,
                        file: file.to_path_buf(),
                        line,
                        block: None,
                    });
                    break;
                }
                Some(Token::Open(open_line)) => {
                    if depth >= MAX_DEPTH {
                        return Err((*open_line, "blocks nested too deep".to_owned()));
                    }
                    *position += 1;
                    let block = parse_block(tokens, position, file, depth + 1)?;
                    match tokens.get(*position) {
                        Some(Token::Close(_)) => *position += 1,
                        _ => return Err((line, format!("block \"{name}\" is not closed"))),
                    }
                    directives.push(Directive {
                        name,
                        args,
                        file: file.to_path_buf(),
                        line,
                        block: Some(block),
                    });
                    break;
                }
                Some(Token::Close(close_line)) => {
                    return Err((*close_line, format!("directive \"{name}\" has no \";\"")));
                }
                None => return Err((line, format!("directive \"{name}\" has no \";\""))),
            }
        }
    }
    Ok(directives)
}

/// Reads files and splices `include`d ones in, bounded by `max_files` and loop-safe.
struct Loader {
    prefix: PathBuf,
    files_read: usize,
    max_files: usize,
    /// The files being read, outermost first (canonical paths): an include of one is a loop.
    stack: Vec<PathBuf>,
    problems: Vec<ScanProblem>,
}

impl Loader {
    fn load(&mut self, path: &Path, included_at: Option<&str>) -> Vec<Directive> {
        let at = || included_at.map_or_else(|| path.display().to_string(), str::to_owned);
        if self.files_read >= self.max_files {
            self.problems.push(ScanProblem::new(
                at(),
                format!("more than {} configuration files; not read", self.max_files),
            ));
            return Vec::new();
        }
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canonical) {
            self.problems.push(ScanProblem::new(
                at(),
                format!("include loop: {} includes itself; not read again", path.display()),
            ));
            return Vec::new();
        }
        self.files_read += 1;
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                self.problems
                    .push(ScanProblem::new(at(), format!("cannot read {}: {e}", path.display())));
                return Vec::new();
            }
        };
        let parsed = tokenize(&text).and_then(|tokens| parse(&tokens, path));
        let directives = match parsed {
            Ok(directives) => directives,
            Err((line, error)) => {
                self.problems.push(ScanProblem::new(format!("{}:{line}", path.display()), error));
                return Vec::new();
            }
        };
        self.stack.push(canonical);
        let directives = self.expand_includes(directives);
        self.stack.pop();
        directives
    }

    fn expand_includes(&mut self, directives: Vec<Directive>) -> Vec<Directive> {
        let mut out = Vec::with_capacity(directives.len());
        for mut directive in directives {
            if directive.name == "include" && directive.block.is_none() {
                let [pattern] = directive.args.as_slice() else {
                    self.problems.push(ScanProblem::new(directive.at(), "include takes one file"));
                    continue;
                };
                let pattern = resolve(&self.prefix, pattern);
                let limit = self.max_files.saturating_sub(self.files_read).saturating_add(1);
                for file in include::expand(&pattern, limit) {
                    out.extend(self.load(&file, Some(&directive.at())));
                }
                continue;
            }
            if let Some(block) = directive.block.take() {
                directive.block = Some(self.expand_includes(block));
            }
            out.push(directive);
        }
        out
    }
}

/// The TLS sites of the `server` blocks in `block` (an `http` or `stream` block).
fn collect_sites(
    block: &[Directive],
    prefix: &Path,
    sites: &mut Vec<TlsSite>,
    problems: &mut Vec<ScanProblem>,
) {
    let inherited_certificates: Vec<&Directive> =
        block.iter().filter(|d| d.name == "ssl_certificate").collect();
    let inherited_keys: Vec<&Directive> =
        block.iter().filter(|d| d.name == "ssl_certificate_key").collect();
    let inherited_ssl_on = block.iter().any(is_ssl_on);
    for server in block.iter().filter(|d| d.name == "server") {
        let Some(body) = &server.block else { continue };
        let listens: Vec<(Option<u16>, bool)> =
            body.iter().filter(|d| d.name == "listen").map(parse_listen).collect();
        let own_certificates: Vec<&Directive> =
            body.iter().filter(|d| d.name == "ssl_certificate").collect();
        let own_keys: Vec<&Directive> =
            body.iter().filter(|d| d.name == "ssl_certificate_key").collect();
        let ssl_on = body.iter().any(is_ssl_on) || inherited_ssl_on;
        let ssl_listen = listens.iter().any(|(_, ssl)| *ssl);
        if !(ssl_listen || ssl_on || !own_certificates.is_empty()) {
            continue;
        }
        let mut ports: Vec<u16> = listens
            .iter()
            .filter(|(_, ssl)| *ssl || !ssl_listen)
            .filter_map(|(port, _)| *port)
            .collect();
        if listens.is_empty() {
            ports.push(80);
        }
        ports.sort_unstable();
        ports.dedup();
        let server_names: Vec<String> = body
            .iter()
            .filter(|d| d.name == "server_name")
            .flat_map(|d| d.args.iter().cloned())
            .filter(|name| !name.is_empty())
            .collect();
        let (certificates, keys) = if own_certificates.is_empty() {
            (&inherited_certificates, if own_keys.is_empty() { &inherited_keys } else { &own_keys })
        } else {
            (&own_certificates, if own_keys.is_empty() { &inherited_keys } else { &own_keys })
        };
        if certificates.is_empty() {
            problems
                .push(ScanProblem::new(server.at(), "TLS server block without ssl_certificate"));
            continue;
        }
        for (i, certificate) in certificates.iter().enumerate() {
            let key = keys.get(i).or(keys.last());
            let Some(certificate_path) = path_argument(certificate, problems) else { continue };
            let key_path = match key {
                Some(key) => match path_argument(key, problems) {
                    Some(path) => Some(path),
                    None => continue,
                },
                None => None,
            };
            sites.push(TlsSite {
                config_path: certificate.file.clone(),
                certificate_path: resolve(prefix, &certificate_path),
                key_path: key_path.map(|key| resolve(prefix, &key)),
                chain_path: None,
                keystore_type: None,
                keystore_password: None,
                key_alias: None,
                ports: ports.clone(),
                server_names: server_names.clone(),
            });
        }
    }
}

fn is_ssl_on(directive: &Directive) -> bool {
    directive.name == "ssl" && directive.args.first().is_some_and(|a| a == "on")
}

/// The file argument of `ssl_certificate`/`ssl_certificate_key`, or a problem when nginx only
/// resolves it at handshake time (variables) or it names no file (`data:`, `engine:`).
fn path_argument(directive: &Directive, problems: &mut Vec<ScanProblem>) -> Option<String> {
    let Some(path) = directive.args.first() else {
        problems
            .push(ScanProblem::new(directive.at(), format!("{} without a file", directive.name)));
        return None;
    };
    if path.contains('$') {
        problems.push(ScanProblem::new(
            directive.at(),
            format!(
                "{} {path} uses nginx variables: the file is chosen per handshake, \
                 list the certificates with a file scan of their directory",
                directive.name
            ),
        ));
        return None;
    }
    if path.starts_with("data:") || path.starts_with("engine:") || path.starts_with("store:") {
        problems.push(ScanProblem::new(
            directive.at(),
            format!("{} is not a file ({path}); skipped", directive.name),
        ));
        return None;
    }
    Some(path.clone())
}

/// The port of a `listen` directive (`443`, `127.0.0.1:8443`, `[::1]:443`, `localhost`:
/// 80; `unix:` sockets have none) and whether it has the `ssl` parameter.
fn parse_listen(directive: &Directive) -> (Option<u16>, bool) {
    let ssl = directive.args.iter().skip(1).any(|a| a == "ssl");
    let Some(address) = directive.args.first() else { return (None, ssl) };
    if address.starts_with("unix:") {
        return (None, ssl);
    }
    let port_text = if let Some(rest) = address.strip_prefix('[') {
        match rest.split_once("]:") {
            Some((_, port)) => port,
            None => "80",
        }
    } else if let Some((_, port)) = address.rsplit_once(':') {
        port
    } else if address.chars().all(|c| c.is_ascii_digit()) {
        address
    } else {
        "80"
    };
    (port_text.parse().ok(), ssl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn tokenizer_handles_quotes_escapes_and_comments() {
        let tokens = tokenize("a \"b c\";  # x { ;\n d 'e\\'f' {\n}\n").unwrap();
        assert_eq!(
            tokens,
            vec![
                Token::Word("a".into(), 1),
                Token::Word("b c".into(), 1),
                Token::Semicolon(1),
                Token::Word("d".into(), 2),
                Token::Word("e'f".into(), 2),
                Token::Open(2),
                Token::Close(3),
            ]
        );
        assert_eq!(tokenize("a \"b;\n\n").unwrap_err().0, 1);
    }

    #[test]
    fn parse_errors_name_the_line() {
        let tokens = tokenize("http {\n  server {\n    listen 443\n  }\n}\n").unwrap();
        let (line, error) = parse(&tokens, Path::new("x.conf")).unwrap_err();
        assert_eq!(line, 4);
        assert!(error.contains("listen"), "{error}");
        let tokens = tokenize("http {\n").unwrap();
        assert_eq!(parse(&tokens, Path::new("x.conf")).unwrap_err().0, 1);
    }

    #[test]
    fn listen_forms() {
        let listen = |args: &[&str]| {
            parse_listen(&Directive {
                name: "listen".into(),
                args: args.iter().map(|a| a.to_string()).collect(),
                file: PathBuf::new(),
                line: 1,
                block: None,
            })
        };
        assert_eq!(listen(&["443", "ssl"]), (Some(443), true));
        assert_eq!(listen(&["127.0.0.1:8443", "ssl", "http2"]), (Some(8443), true));
        assert_eq!(listen(&["[::1]:443"]), (Some(443), false));
        assert_eq!(listen(&["[::]:9443", "default_server", "ssl"]), (Some(9443), true));
        assert_eq!(listen(&["localhost"]), (Some(80), false));
        assert_eq!(listen(&["unix:/run/x.sock", "ssl"]), (None, true));
    }

    #[test]
    fn config_tree_with_includes_globs_loop_inheritance_and_variables() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            &root.join("nginx.conf"),
            "user www-data;\nevents { worker_connections 64; }\nhttp {\n  \
             ssl_certificate /etc/ssl/shared.pem;\n  ssl_certificate_key shared.key;\n  \
             include conf.d/*.conf;\n  include sites-enabled/*;\n}\n",
        );
        write(
            &root.join("conf.d/a.conf"),
            "server {\n  listen 443 ssl;\n  listen 80;\n  server_name a.example \"www.a.example\";\n  \
             ssl_certificate certs/a.pem;\n  ssl_certificate_key certs/a.key;\n  include snippets/loop.conf;\n}\n",
        );
        // Includes itself (relative to the prefix): a loop, reported once, not followed.
        write(&root.join("snippets/loop.conf"), "include snippets/loop.conf;\n");
        write(
            &root.join("conf.d/b.conf.disabled"),
            "server { listen 1 ssl; ssl_certificate x; }\n",
        );
        write(
            &root.join("sites-enabled/inherit"),
            "server { listen [::]:8443 ssl; server_name b.example; }\n\
             server { listen 8080; server_name plain.example; }\n",
        );
        write(
            &root.join("sites-enabled/vars"),
            "server {\n  listen 127.0.0.1:9443;\n  ssl on;\n  \
             ssl_certificate /certs/$ssl_server_name.crt;\n  ssl_certificate_key /k.key;\n}\n",
        );
        let (sites, problems) = sites(&root.join("nginx.conf"), 512);

        assert_eq!(sites.len(), 2, "{sites:#?}");
        let a = &sites[0];
        assert_eq!(a.config_path, root.join("conf.d/a.conf"));
        assert_eq!(a.certificate_path, root.join("certs/a.pem"));
        assert_eq!(a.key_path, Some(root.join("certs/a.key")));
        assert_eq!(a.ports, vec![443]);
        assert_eq!(a.server_names, vec!["a.example", "www.a.example"]);
        let b = &sites[1];
        assert_eq!(b.config_path, root.join("nginx.conf"));
        assert_eq!(b.certificate_path, PathBuf::from("/etc/ssl/shared.pem"));
        assert_eq!(b.key_path, Some(root.join("shared.key")));
        assert_eq!(b.ports, vec![8443]);
        assert_eq!(b.server_names, vec!["b.example"]);

        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].error.contains("include loop"), "{problems:#?}");
        assert_eq!(problems[1].at, format!("{}:4", root.join("sites-enabled/vars").display()));
        assert!(problems[1].error.contains("$ssl_server_name"));
    }

    #[test]
    fn file_count_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(&root.join("nginx.conf"), "http { include c/*.conf; }\n");
        for i in 0..5 {
            write(
                &root.join(format!("c/{i}.conf")),
                "server { listen 443 ssl; ssl_certificate x.pem; }\n",
            );
        }
        let (sites, problems) = sites(&root.join("nginx.conf"), 3);
        assert_eq!(sites.len(), 2);
        assert!(problems.iter().any(|p| p.error.contains("more than 3")), "{problems:#?}");
    }
}
