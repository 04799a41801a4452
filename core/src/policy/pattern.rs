//! Name patterns in template rules, and the check that a user-written pattern is well formed.
//!
//! | kind | pattern forms | example |
//! |---|---|---|
//! | DNS | `*` (anything), `*.suffix` (exactly one left-most label), literal | `*.acme.com` |
//! | IP | `*`, a CIDR range, a literal address | `10.0.0.0/8`, `::1/128`, `192.0.2.7` |
//! | EMAIL | `*`, `local@domain` where local is `*` or literal and domain is a DNS pattern | `*@acme.com` |
//! | URI | `*`, a prefix ending in `*`, a literal | `spiffe://acme/*` |
//! | subject | `*`, `*.suffix` (DNS semantics), a literal; `email` uses EMAIL patterns | `*.acme.com`, `Acme Ltd` |
//!
//! DNS names, e-mail domains and subject values compare case-insensitively; URIs and e-mail
//! local parts compare exactly.

use std::net::IpAddr;

use ipnet::IpNet;

use super::SubjectAttribute;
use crate::model::{SanType, SubjectAltName};

/// Whether a SAN `value` of `kind` matches `pattern`.
pub(crate) fn san_matches(kind: SanType, pattern: &str, value: &str) -> bool {
    let pattern = pattern.trim();
    if pattern == "*" {
        return true;
    }
    match kind {
        SanType::Dns => dns_matches(pattern, value),
        SanType::Ip => ip_matches(pattern, value),
        SanType::Email => email_matches(pattern, value),
        SanType::Uri => match pattern.strip_suffix('*') {
            Some(prefix) => value.starts_with(prefix),
            None => value == pattern,
        },
    }
}

/// Whether a subject attribute `value` matches `pattern`; the e-mail attribute uses e-mail
/// SAN patterns (`*@acme.com`).
pub(crate) fn subject_matches(attribute: SubjectAttribute, pattern: &str, value: &str) -> bool {
    if attribute == SubjectAttribute::Email {
        return san_matches(SanType::Email, pattern, value);
    }
    let pattern = pattern.trim();
    pattern == "*"
        || if pattern.starts_with("*.") {
            dns_matches(pattern, value)
        } else {
            pattern.eq_ignore_ascii_case(value.trim())
        }
}

/// Check that `pattern` is a well-formed pattern for SANs of `kind`; the error says why not.
pub(crate) fn check_san_pattern(kind: SanType, pattern: &str) -> Result<(), String> {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return Err("empty pattern".into());
    }
    if pattern == "*" {
        return Ok(());
    }
    match kind {
        SanType::Dns => check_dns_pattern(pattern),
        SanType::Ip => {
            let ok = if pattern.contains('/') {
                pattern.parse::<IpNet>().is_ok()
            } else {
                pattern.parse::<IpAddr>().is_ok()
            };
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "{pattern:?} is neither an IP address nor a CIDR range like 10.0.0.0/8"
                ))
            }
        }
        SanType::Email => {
            let (local, domain) = pattern.rsplit_once('@').ok_or_else(|| {
                format!("{pattern:?} is not an e-mail pattern; write local@domain or *@domain")
            })?;
            if local.is_empty() || (local.contains('*') && local != "*") {
                return Err(format!(
                    "{pattern:?}: the local part must be `*` or a literal without `*`"
                ));
            }
            check_dns_pattern(domain)
        }
        SanType::Uri => {
            let body = pattern.strip_suffix('*').unwrap_or(pattern);
            if body.contains('*') {
                Err(format!("{pattern:?}: `*` is allowed only as the last character of a URI"))
            } else if body.contains(char::is_whitespace) {
                Err(format!("{pattern:?}: URIs contain no spaces"))
            } else {
                Ok(())
            }
        }
    }
}

/// Check a subject attribute pattern.
pub(crate) fn check_subject_pattern(
    attribute: SubjectAttribute,
    pattern: &str,
) -> Result<(), String> {
    if attribute == SubjectAttribute::Email {
        return check_san_pattern(SanType::Email, pattern);
    }
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return Err("empty pattern".into());
    }
    if pattern == "*" {
        return Ok(());
    }
    match pattern.strip_prefix("*.") {
        Some(suffix) if !suffix.contains('*') => Ok(()),
        _ if !pattern.contains('*') => Ok(()),
        _ => Err(format!(
            "{pattern:?}: `*` is allowed only alone or as the whole left-most label (`*.acme.com`)"
        )),
    }
}

/// `*.suffix` matches exactly one non-empty left-most label in front of `suffix`.
fn dns_matches(pattern: &str, value: &str) -> bool {
    let pattern = normalize_dns(pattern);
    let value = normalize_dns(value);
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            value.split_once('.').is_some_and(|(first, rest)| !first.is_empty() && rest == suffix)
        }
        None => pattern == value,
    }
}

fn normalize_dns(name: &str) -> String {
    let name = name.trim();
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

fn check_dns_pattern(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    let rest = pattern.strip_prefix("*.").unwrap_or(pattern);
    if rest.contains('*') {
        return Err(format!(
            "{pattern:?}: `*` is allowed only alone or as the whole left-most label (`*.acme.com`)"
        ));
    }
    let rest = rest.strip_suffix('.').unwrap_or(rest);
    SubjectAltName::dns(rest)
        .validate("pattern")
        .map_err(|_| format!("{pattern:?} is not a DNS name pattern"))
}

fn ip_matches(pattern: &str, value: &str) -> bool {
    let Ok(ip) = value.trim().parse::<IpAddr>() else {
        return false;
    };
    if pattern.contains('/') {
        pattern.parse::<IpNet>().is_ok_and(|net| net.contains(&ip))
    } else {
        pattern.parse::<IpAddr>().is_ok_and(|p| p == ip)
    }
}

fn email_matches(pattern: &str, value: &str) -> bool {
    let (Some((p_local, p_domain)), Some((v_local, v_domain))) =
        (pattern.rsplit_once('@'), value.trim().rsplit_once('@'))
    else {
        return false;
    };
    (p_local == "*" || p_local == v_local) && dns_matches(p_domain, v_domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_wildcard_matches_exactly_one_label() {
        assert!(san_matches(SanType::Dns, "*.acme.com", "a.acme.com"));
        assert!(san_matches(SanType::Dns, "*.acme.com", "A.ACME.com."));
        assert!(san_matches(SanType::Dns, "*.acme.com", "*.acme.com"));
        assert!(!san_matches(SanType::Dns, "*.acme.com", "a.b.acme.com"));
        assert!(!san_matches(SanType::Dns, "*.acme.com", "acme.com"));
        assert!(!san_matches(SanType::Dns, "*.acme.com", "evilacme.com"));
        assert!(san_matches(SanType::Dns, "*", "anything.example"));
        assert!(san_matches(SanType::Dns, "Acme.com", "acme.COM"));
        assert!(!san_matches(SanType::Dns, "acme.com", "www.acme.com"));
    }

    #[test]
    fn ip_patterns_accept_cidr_and_literals() {
        assert!(san_matches(SanType::Ip, "10.0.0.0/8", "10.200.3.4"));
        assert!(!san_matches(SanType::Ip, "10.0.0.0/8", "11.0.0.1"));
        assert!(san_matches(SanType::Ip, "::1/128", "::1"));
        assert!(!san_matches(SanType::Ip, "::1/128", "::2"));
        assert!(san_matches(SanType::Ip, "192.0.2.7", "192.0.2.7"));
        assert!(!san_matches(SanType::Ip, "10.0.0.0/8", "not-an-ip"));
    }

    #[test]
    fn email_and_uri_patterns() {
        assert!(san_matches(SanType::Email, "*@acme.com", "bob@ACME.com"));
        assert!(!san_matches(SanType::Email, "*@acme.com", "bob@evil.com"));
        assert!(san_matches(SanType::Email, "*@*.acme.com", "bob@eu.acme.com"));
        assert!(!san_matches(SanType::Email, "alice@acme.com", "bob@acme.com"));
        assert!(san_matches(SanType::Uri, "spiffe://acme/*", "spiffe://acme/ns/web"));
        assert!(!san_matches(SanType::Uri, "spiffe://acme/*", "spiffe://evil/ns"));
        assert!(san_matches(SanType::Uri, "urn:x", "urn:x"));
    }

    #[test]
    fn bad_patterns_are_reported() {
        for (kind, bad) in [
            (SanType::Dns, "a.*.acme.com"),
            (SanType::Dns, "api-*.acme.com"),
            (SanType::Dns, ""),
            (SanType::Ip, "10.0.0.0/33"),
            (SanType::Ip, "300.1.1.1"),
            (SanType::Email, "acme.com"),
            (SanType::Email, "a*@acme.com"),
            (SanType::Uri, "spiffe://*/x"),
        ] {
            assert!(check_san_pattern(kind, bad).is_err(), "{bad}");
        }
        for (kind, good) in [
            (SanType::Dns, "*.acme.com"),
            (SanType::Ip, "::1/128"),
            (SanType::Email, "*@acme.com"),
            (SanType::Uri, "spiffe://acme/*"),
        ] {
            assert!(check_san_pattern(kind, good).is_ok(), "{good}");
        }
        let cn = SubjectAttribute::CommonName;
        assert!(check_subject_pattern(cn, "Acme*").is_err());
        assert!(check_subject_pattern(cn, "*.acme.com").is_ok());
        assert!(check_subject_pattern(SubjectAttribute::Email, "acme.com").is_err());
        assert!(subject_matches(SubjectAttribute::Organization, "acme ltd", "ACME Ltd"));
        assert!(subject_matches(cn, "*.acme.com", "www.acme.com"));
        assert!(!subject_matches(cn, "*.acme.com", "a.www.acme.com"));
        assert!(subject_matches(SubjectAttribute::Email, "*@acme.com", "bob@acme.com"));
    }
}
