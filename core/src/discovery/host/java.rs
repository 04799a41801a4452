//! Java servers: Tomcat `server.xml`, Jetty `start.ini`/`start.d/*.ini`, WildFly/JBoss
//! `standalone.xml`, and the `javax.net.ssl.keyStore` system properties of any JVM. XML is
//! read with roxmltree (no DTDs, no entities from outside).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{TlsSite, resolve};
use crate::crypto::SecretString;
use crate::deploy::JavaKeystoreType;
use crate::discovery::ScanProblem;

/// At most this many `${...}` references are replaced in one value.
const MAX_SUBSTITUTIONS: usize = 32;
/// Jetty: at most this many `start.d/*.ini` files.
const MAX_INI_FILES: usize = 256;

/// The `-Dname=value` system properties of a JVM command line.
pub(crate) fn system_properties(argv: &[String]) -> HashMap<String, String> {
    argv.iter()
        .filter_map(|arg| arg.strip_prefix("-D"))
        .map(|property| match property.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (property.to_owned(), String::new()),
        })
        .collect()
}

/// `${name}` and `${name:default}` replaced from `properties`; unknown ones without a default
/// stay as written.
pub(crate) fn substitute(text: &str, properties: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    for _ in 0..MAX_SUBSTITUTIONS {
        let Some(start) = rest.find("${") else { break };
        let Some(length) = rest[start + 2..].find('}') else { break };
        let reference = &rest[start + 2..start + 2 + length];
        let (name, default) = match reference.split_once(':') {
            Some((name, default)) => (name, Some(default)),
            None => (reference, None),
        };
        out.push_str(&rest[..start]);
        match properties.get(name).map(String::as_str).or(default) {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[start..start + 3 + length]),
        }
        rest = &rest[start + 3 + length..];
    }
    out.push_str(rest);
    out
}

/// `PKCS12`, `JKS` (any case); other types (PKCS11, BCFKS) are none of ours.
pub(crate) fn keystore_type(text: &str) -> Option<JavaKeystoreType> {
    match text.to_ascii_uppercase().as_str() {
        "PKCS12" | "P12" | "PFX" => Some(JavaKeystoreType::Pkcs12),
        "JKS" => Some(JavaKeystoreType::Jks),
        _ => None,
    }
}

fn keystore_site(config_path: &Path, keystore: PathBuf, ports: Vec<u16>) -> TlsSite {
    TlsSite {
        config_path: config_path.to_path_buf(),
        certificate_path: keystore,
        key_path: None,
        chain_path: None,
        keystore_type: None,
        keystore_password: None,
        key_alias: None,
        ports,
        server_names: Vec::new(),
    }
}

fn read_xml(path: &Path, problems: &mut Vec<ScanProblem>) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) => {
            problems
                .push(ScanProblem::new(path.display().to_string(), format!("cannot read: {e}")));
            None
        }
    }
}

fn xml_problem(path: &Path, error: &roxmltree::Error) -> ScanProblem {
    ScanProblem::new(format!("{}:{}", path.display(), error.pos().row), error)
}

/// Tomcat: the TLS connectors of `server_xml`, with `properties` the JVM's system properties
/// (`catalina.base`, `catalina.home`). Relative keystore paths are relative to catalina.base.
pub(crate) fn tomcat_sites(
    server_xml: &Path,
    properties: &HashMap<String, String>,
) -> (Vec<TlsSite>, Vec<ScanProblem>) {
    let mut problems = Vec::new();
    let mut sites = Vec::new();
    let Some(text) = read_xml(server_xml, &mut problems) else { return (sites, problems) };
    let document = match roxmltree::Document::parse(&text) {
        Ok(document) => document,
        Err(e) => return (sites, vec![xml_problem(server_xml, &e)]),
    };
    let base = properties.get("catalina.base").map(PathBuf::from).unwrap_or_default();
    let value = |node: roxmltree::Node<'_, '_>, name: &str| {
        node.attribute(name).map(|v| substitute(v, properties))
    };
    let path = |text: String| resolve(&base, &text);
    for connector in document.descendants().filter(|n| n.has_tag_name("Connector")) {
        let ssl_enabled =
            value(connector, "SSLEnabled").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let host_configs: Vec<_> =
            connector.children().filter(|n| n.has_tag_name("SSLHostConfig")).collect();
        if !ssl_enabled && host_configs.is_empty() {
            continue;
        }
        let ports: Vec<u16> =
            value(connector, "port").and_then(|p| p.parse().ok()).into_iter().collect();
        let at = format!(
            "{}:{}",
            server_xml.display(),
            document.text_pos_at(connector.range().start).row
        );
        let before = sites.len();
        for host_config in &host_configs {
            let host_name =
                value(*host_config, "hostName").unwrap_or_else(|| "_default_".to_owned());
            for certificate in host_config.children().filter(|n| n.has_tag_name("Certificate")) {
                let mut site = if let Some(keystore) = value(certificate, "certificateKeystoreFile")
                {
                    let mut site = keystore_site(server_xml, path(keystore), ports.clone());
                    site.keystore_type = value(certificate, "certificateKeystoreType")
                        .as_deref()
                        .and_then(keystore_type);
                    site.keystore_password =
                        value(certificate, "certificateKeystorePassword").map(SecretString::new);
                    site.key_alias = value(certificate, "certificateKeyAlias");
                    site
                } else if let Some(file) = value(certificate, "certificateFile") {
                    let mut site = keystore_site(server_xml, path(file), ports.clone());
                    site.key_path = value(certificate, "certificateKeyFile").map(path);
                    site.chain_path = value(certificate, "certificateChainFile").map(path);
                    site
                } else {
                    continue;
                };
                site.server_names = vec![host_name.clone()];
                sites.push(site);
            }
        }
        // Tomcat 8.5/9 legacy form: the keystore on the Connector itself.
        if let Some(keystore) = value(connector, "keystoreFile") {
            let mut site = keystore_site(server_xml, path(keystore), ports.clone());
            site.keystore_type =
                value(connector, "keystoreType").as_deref().and_then(keystore_type);
            site.keystore_password = value(connector, "keystorePass").map(SecretString::new);
            site.key_alias = value(connector, "keyAlias");
            sites.push(site);
        }
        if sites.len() == before {
            problems
                .push(ScanProblem::new(at, "TLS Connector without a keystore or certificate file"));
        }
    }
    (sites, problems)
}

/// Jetty: the `ssl` module's keystore in `start.ini` and `start.d/*.ini` under `jetty_base`;
/// system properties on the command line win over the ini files.
pub(crate) fn jetty_sites(
    jetty_base: &Path,
    properties: &HashMap<String, String>,
) -> (Vec<TlsSite>, Vec<ScanProblem>) {
    let mut problems = Vec::new();
    let mut files = vec![jetty_base.join("start.ini")];
    if let Ok(entries) = std::fs::read_dir(jetty_base.join("start.d")) {
        let mut ini: Vec<PathBuf> = entries
            .take(MAX_INI_FILES)
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "ini"))
            .collect();
        ini.sort();
        files.extend(ini);
    }
    let mut settings: HashMap<String, (String, PathBuf)> = HashMap::new();
    let mut ssl_module = false;
    let mut first_file = None;
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                problems.push(ScanProblem::new(
                    file.display().to_string(),
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        first_file.get_or_insert_with(|| file.clone());
        for line in text.lines().map(str::trim) {
            if let Some(modules) =
                line.strip_prefix("--module=").or_else(|| line.strip_prefix("--modules="))
            {
                ssl_module |= modules.split(',').any(|m| matches!(m.trim(), "ssl" | "https"));
            } else if let Some((name, value)) = line.split_once('=')
                && !line.starts_with('#')
                && !line.starts_with("--")
            {
                settings.insert(name.trim().to_owned(), (value.trim().to_owned(), file.clone()));
            }
        }
    }
    for (name, value) in properties {
        if name.starts_with("jetty.") {
            settings.insert(name.clone(), (value.clone(), PathBuf::from("(command line)")));
        }
    }
    let get = |name: &str| settings.get(name).map(|(value, _)| substitute(value, properties));
    let keystore = settings.get("jetty.sslContext.keyStorePath");
    if keystore.is_none() && !ssl_module {
        return (Vec::new(), problems);
    }
    let config_path = keystore
        .map(|(_, file)| file.clone())
        .or(first_file)
        .unwrap_or_else(|| jetty_base.join("start.ini"));
    // The ssl module's default keystore (Jetty 10 and later).
    let path =
        get("jetty.sslContext.keyStorePath").unwrap_or_else(|| "etc/keystore.p12".to_owned());
    let port = get("jetty.ssl.port").and_then(|p| p.parse().ok()).unwrap_or(8443);
    let mut site = keystore_site(&config_path, resolve(jetty_base, &path), vec![port]);
    site.keystore_type = get("jetty.sslContext.keyStoreType").as_deref().and_then(keystore_type);
    site.keystore_password = get("jetty.sslContext.keyStorePassword").map(SecretString::new);
    site.key_alias = get("jetty.sslContext.certAlias");
    (vec![site], problems)
}

/// WildFly/JBoss: the keystores of `standalone_xml` (Elytron `<key-store>` and the legacy
/// security-realm `<keystore>`), with `base_dir` the `jboss.server.base.dir`.
pub(crate) fn wildfly_sites(
    standalone_xml: &Path,
    base_dir: &Path,
    properties: &HashMap<String, String>,
) -> (Vec<TlsSite>, Vec<ScanProblem>) {
    let mut problems = Vec::new();
    let mut sites = Vec::new();
    let Some(text) = read_xml(standalone_xml, &mut problems) else { return (sites, problems) };
    let document = match roxmltree::Document::parse(&text) {
        Ok(document) => document,
        Err(e) => return (sites, vec![xml_problem(standalone_xml, &e)]),
    };
    let mut properties = properties.clone();
    let base = base_dir.display().to_string();
    properties.entry("jboss.server.base.dir".to_owned()).or_insert_with(|| base.clone());
    properties
        .entry("jboss.server.config.dir".to_owned())
        .or_insert_with(|| format!("{base}/configuration"));
    properties.entry("jboss.server.data.dir".to_owned()).or_insert_with(|| format!("{base}/data"));
    let relative_to = |path: &str, relative: Option<&str>| match relative {
        Some(name) => match properties.get(name) {
            Some(dir) => resolve(Path::new(dir), path),
            None => resolve(base_dir, path),
        },
        None => resolve(base_dir, path),
    };
    // The HTTPS port of the socket binding group: `${jboss.https.port:8443}`.
    let ports: Vec<u16> = document
        .descendants()
        .filter(|n| n.has_tag_name("socket-binding") && n.attribute("name") == Some("https"))
        .filter_map(|n| n.attribute("port"))
        .filter_map(|p| substitute(p, &properties).parse().ok())
        .collect();
    for node in document.descendants() {
        let site = if node.has_tag_name("key-store") {
            let Some(file) = node.children().find(|n| n.has_tag_name("file")) else { continue };
            let Some(path) = file.attribute("path") else { continue };
            let path = substitute(path, &properties);
            let mut site = keystore_site(
                standalone_xml,
                relative_to(&path, file.attribute("relative-to")),
                ports.clone(),
            );
            site.keystore_type = node
                .children()
                .find(|n| n.has_tag_name("implementation"))
                .and_then(|n| n.attribute("type"))
                .and_then(keystore_type);
            site.keystore_password = node
                .children()
                .find(|n| n.has_tag_name("credential-reference"))
                .and_then(|n| n.attribute("clear-text"))
                .map(|p| SecretString::new(substitute(p, &properties)));
            site.key_alias = node.attribute("alias-filter").map(str::to_owned);
            site
        } else if node.has_tag_name("keystore") {
            let Some(path) = node.attribute("path") else { continue };
            let path = substitute(path, &properties);
            let mut site = keystore_site(
                standalone_xml,
                relative_to(&path, node.attribute("relative-to")),
                ports.clone(),
            );
            site.keystore_type = node.attribute("provider").and_then(keystore_type);
            site.keystore_password = node
                .attribute("keystore-password")
                .map(|p| SecretString::new(substitute(p, &properties)));
            site.key_alias = node.attribute("alias").map(str::to_owned);
            site
        } else {
            continue;
        };
        sites.push(site);
    }
    (sites, problems)
}

/// Any JVM: the keystore of `-Djavax.net.ssl.keyStore=`, named in `config_path` (the command
/// line). Relative paths are relative to the working directory `cwd`.
pub(crate) fn system_property_site(
    properties: &HashMap<String, String>,
    config_path: &Path,
    cwd: &Path,
) -> Option<TlsSite> {
    let keystore = properties.get("javax.net.ssl.keyStore")?;
    let mut site = keystore_site(config_path, resolve(cwd, keystore), Vec::new());
    site.keystore_type =
        properties.get("javax.net.ssl.keyStoreType").and_then(|t| keystore_type(t));
    site.keystore_password =
        properties.get("javax.net.ssl.keyStorePassword").cloned().map(SecretString::new);
    Some(site)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn substitution_and_properties() {
        let props =
            system_properties(&["java".into(), "-Da=1".into(), "-Dflag".into(), "-Xmx1g".into()]);
        assert_eq!(props, properties(&[("a", "1"), ("flag", "")]));
        assert_eq!(substitute("${a}/x/${b:8443}/${c}", &props), "1/x/8443/${c}");
    }

    #[test]
    fn tomcat_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("conf")).unwrap();
        let server_xml = base.join("conf/server.xml");
        std::fs::write(
            &server_xml,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Server port="8005" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="8080" protocol="HTTP/1.1" redirectPort="8443"/>
    <Connector port="8443" protocol="org.apache.coyote.http11.Http11NioProtocol" SSLEnabled="true">
      <SSLHostConfig hostName="shop.example">
        <Certificate certificateKeystoreFile="conf/shop.p12" certificateKeystoreType="PKCS12"
                     certificateKeystorePassword="s3cret" certificateKeyAlias="tomcat" type="RSA"/>
        <Certificate certificateFile="${catalina.home}/pem/ec.crt" certificateKeyFile="pem/ec.key"
                     certificateChainFile="/etc/ssl/chain.pem" type="EC"/>
      </SSLHostConfig>
    </Connector>
    <Connector port="9443" SSLEnabled="true" scheme="https" secure="true"
               keystoreFile="${catalina.base}/conf/legacy.jks" keystoreType="JKS"
               keystorePass="changeit" keyAlias="legacy"/>
    <Connector port="9444" SSLEnabled="true"/>
  </Service>
</Server>"#,
        )
        .unwrap();
        let props = properties(&[
            ("catalina.base", &base.display().to_string()),
            ("catalina.home", "/opt/tomcat"),
        ]);
        let (sites, problems) = tomcat_sites(&server_xml, &props);
        assert_eq!(sites.len(), 3, "{sites:#?}");
        assert_eq!(sites[0].certificate_path, base.join("conf/shop.p12"));
        assert_eq!(sites[0].keystore_type, Some(JavaKeystoreType::Pkcs12));
        assert_eq!(sites[0].keystore_password.as_ref().map(SecretString::expose), Some("s3cret"));
        assert_eq!(sites[0].key_alias.as_deref(), Some("tomcat"));
        assert_eq!(sites[0].ports, vec![8443]);
        assert_eq!(sites[0].server_names, vec!["shop.example"]);
        assert_eq!(sites[1].certificate_path, PathBuf::from("/opt/tomcat/pem/ec.crt"));
        assert_eq!(sites[1].key_path, Some(base.join("pem/ec.key")));
        assert_eq!(sites[1].chain_path, Some(PathBuf::from("/etc/ssl/chain.pem")));
        assert_eq!(sites[2].certificate_path, base.join("conf/legacy.jks"));
        assert_eq!(sites[2].keystore_type, Some(JavaKeystoreType::Jks));
        assert_eq!(sites[2].key_alias.as_deref(), Some("legacy"));
        assert_eq!(sites[2].ports, vec![9443]);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].at, format!("{}:16", server_xml.display()));

        std::fs::write(&server_xml, "<Server>\n<Service>\n</Server>").unwrap();
        let (sites, problems) = tomcat_sites(&server_xml, &props);
        assert!(sites.is_empty());
        assert_eq!(problems[0].at, format!("{}:3", server_xml.display()));
    }

    #[test]
    fn jetty_ini_files() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("start.d")).unwrap();
        std::fs::write(base.join("start.ini"), "--module=http\njetty.http.port=8080\n").unwrap();
        std::fs::write(
            base.join("start.d/ssl.ini"),
            "--module=ssl\njetty.ssl.port=9443\njetty.sslContext.keyStorePath=etc/site.jks\n\
             jetty.sslContext.keyStoreType=JKS\njetty.sslContext.keyStorePassword=pw\n",
        )
        .unwrap();
        let (sites, problems) = jetty_sites(base, &HashMap::new());
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].config_path, base.join("start.d/ssl.ini"));
        assert_eq!(sites[0].certificate_path, base.join("etc/site.jks"));
        assert_eq!(sites[0].keystore_type, Some(JavaKeystoreType::Jks));
        assert_eq!(sites[0].keystore_password.as_ref().map(SecretString::expose), Some("pw"));
        assert_eq!(sites[0].ports, vec![9443]);
    }

    #[test]
    fn wildfly_elytron_key_store() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("configuration")).unwrap();
        let xml = base.join("configuration/standalone.xml");
        std::fs::write(
            &xml,
            r#"<server xmlns="urn:jboss:domain:20.0">
  <profile><subsystem xmlns="urn:wildfly:elytron:18.0"><tls><key-stores>
    <key-store name="applicationKS">
      <credential-reference clear-text="password"/>
      <implementation type="JKS"/>
      <file path="application.keystore" relative-to="jboss.server.config.dir"/>
    </key-store>
  </key-stores></tls></subsystem></profile>
  <socket-binding-group name="standard-sockets">
    <socket-binding name="http" port="${jboss.http.port:8080}"/>
    <socket-binding name="https" port="${jboss.https.port:8443}"/>
  </socket-binding-group>
</server>"#,
        )
        .unwrap();
        let (sites, problems) =
            wildfly_sites(&xml, base, &properties(&[("jboss.https.port", "9443")]));
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].certificate_path, base.join("configuration/application.keystore"));
        assert_eq!(sites[0].keystore_type, Some(JavaKeystoreType::Jks));
        assert_eq!(sites[0].keystore_password.as_ref().map(SecretString::expose), Some("password"));
        assert_eq!(sites[0].ports, vec![9443]);
    }
}
