//! Subject distinguished names and subject alternative names.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The subject attributes certloop sets and reads (RFC 5280 §4.1.2.6).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// CN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// O.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// OU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizational_unit: Option<String>,
    /// C, two letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// ST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// L.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// emailAddress (PKCS#9); prefer an EMAIL SAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Subject {
    /// A subject with only a common name.
    pub fn common_name(cn: impl Into<String>) -> Self {
        Self { common_name: Some(cn.into()), ..Self::default() }
    }

    /// Whether no attribute is set.
    pub fn is_empty(&self) -> bool {
        self.attributes().next().is_none()
    }

    /// The set attributes as (short name, value), in the order they are encoded.
    pub fn attributes(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("C", &self.country),
            ("ST", &self.state),
            ("L", &self.locality),
            ("O", &self.organization),
            ("OU", &self.organizational_unit),
            ("CN", &self.common_name),
            ("emailAddress", &self.email),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    }

    /// Fill every attribute that is unset here from `defaults`.
    pub fn or(mut self, defaults: &Subject) -> Self {
        let pairs = [
            (&mut self.common_name, &defaults.common_name),
            (&mut self.organization, &defaults.organization),
            (&mut self.organizational_unit, &defaults.organizational_unit),
            (&mut self.country, &defaults.country),
            (&mut self.state, &defaults.state),
            (&mut self.locality, &defaults.locality),
            (&mut self.email, &defaults.email),
        ];
        for (mine, default) in pairs {
            if mine.is_none() {
                mine.clone_from(default);
            }
        }
        self
    }
}

impl fmt::Display for Subject {
    /// OpenSSL-like one-line form: `CN=a, O=b`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.attributes().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// The kind of a subject alternative name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum SanType {
    /// dNSName.
    #[serde(rename = "DNS")]
    Dns,
    /// iPAddress.
    #[serde(rename = "IP")]
    Ip,
    /// rfc822Name.
    #[serde(rename = "EMAIL")]
    Email,
    /// uniformResourceIdentifier.
    #[serde(rename = "URI")]
    Uri,
}

impl SanType {
    /// The wire name: `DNS`, `IP`, `EMAIL`, `URI`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns => "DNS",
            Self::Ip => "IP",
            Self::Email => "EMAIL",
            Self::Uri => "URI",
        }
    }
}

impl FromStr for SanType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dns" | "dns_name" | "dnsname" => Ok(Self::Dns),
            "ip" | "ip_address" | "ipaddress" => Ok(Self::Ip),
            "email" | "rfc822" | "rfc822name" | "mail" => Ok(Self::Email),
            "uri" | "url" => Ok(Self::Uri),
            _ => Err(Error::invalid(
                "altNames.type",
                format!("unknown SAN type {s:?}; use DNS, IP, EMAIL or URI"),
            )),
        }
    }
}

impl<'de> Deserialize<'de> for SanType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One subject alternative name, `{"type": "DNS", "value": "a.example"}` on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SubjectAltName {
    /// The kind of name.
    #[serde(rename = "type")]
    pub kind: SanType,
    /// The name: a DNS name, an IP address, an e-mail address or a URI.
    pub value: String,
}

impl SubjectAltName {
    /// A dNSName.
    pub fn dns(value: impl Into<String>) -> Self {
        Self { kind: SanType::Dns, value: value.into() }
    }

    /// An iPAddress.
    pub fn ip(addr: IpAddr) -> Self {
        Self { kind: SanType::Ip, value: addr.to_string() }
    }

    /// An rfc822Name.
    pub fn email(value: impl Into<String>) -> Self {
        Self { kind: SanType::Email, value: value.into() }
    }

    /// A URI.
    pub fn uri(value: impl Into<String>) -> Self {
        Self { kind: SanType::Uri, value: value.into() }
    }

    /// Parse the CLI form `DNS:a.example`, `IP:10.0.0.1`, `EMAIL:a@b`, `URI:spiffe://x`;
    /// a bare value is a DNS name, or an IP address when it parses as one.
    pub fn parse_tagged(s: &str) -> Result<Self, Error> {
        let tagged =
            s.split_once(':').and_then(|(tag, value)| Some((tag.parse::<SanType>().ok()?, value)));
        let san = match tagged {
            Some((kind, value)) => Self { kind, value: value.to_owned() },
            None => match s.parse::<IpAddr>() {
                Ok(ip) => Self::ip(ip),
                Err(_) => Self::dns(s),
            },
        };
        san.validate("san")?;
        Ok(san)
    }

    /// Check the value's syntax for its type, naming `field` in the error.
    pub fn validate(&self, field: &str) -> Result<(), Error> {
        let value = self.value.as_str();
        let bad = |why: &str| {
            Error::invalid(field, format!("{} SAN {value:?}: {why}", self.kind.as_str()))
        };
        if value.trim().is_empty() {
            return Err(bad("empty value"));
        }
        match self.kind {
            SanType::Dns => {
                let name = value.strip_prefix("*.").unwrap_or(value);
                if value.len() > 253 {
                    return Err(bad("longer than 253 characters"));
                }
                if !name.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                }) {
                    return Err(bad(
                        "not a DNS name (letters, digits, '-' in dot-separated labels; '*.' only as the whole left-most label)",
                    ));
                }
            }
            SanType::Ip => {
                value.parse::<IpAddr>().map_err(|_| bad("not an IPv4 or IPv6 address"))?;
            }
            SanType::Email => {
                let ok = value.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && domain.contains('.') && value.is_ascii()
                });
                if !ok {
                    return Err(bad("not an e-mail address"));
                }
            }
            SanType::Uri => {
                let ok = value.split_once(':').is_some_and(|(scheme, rest)| {
                    !scheme.is_empty()
                        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                        && !rest.is_empty()
                }) && value.is_ascii()
                    && !value.contains(char::is_whitespace);
                if !ok {
                    return Err(bad("not a URI (scheme:rest, ASCII, no spaces)"));
                }
            }
        }
        Ok(())
    }

    /// The value as an IP address, for IP SANs.
    pub fn ip_addr(&self) -> Option<IpAddr> {
        (self.kind == SanType::Ip).then(|| self.value.parse().ok()).flatten()
    }
}

impl fmt::Display for SubjectAltName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_sans_parse_and_validate() {
        assert_eq!(
            SubjectAltName::parse_tagged("DNS:a.example").unwrap(),
            SubjectAltName::dns("a.example")
        );
        assert_eq!(SubjectAltName::parse_tagged("IP:10.0.0.1").unwrap().kind, SanType::Ip);
        assert_eq!(SubjectAltName::parse_tagged("::1").unwrap().kind, SanType::Ip);
        assert_eq!(SubjectAltName::parse_tagged("URI:spiffe://x/y").unwrap().value, "spiffe://x/y");
        assert_eq!(SubjectAltName::parse_tagged("email:a@b.example").unwrap().kind, SanType::Email);
        assert_eq!(SubjectAltName::parse_tagged("plain.example").unwrap().kind, SanType::Dns);
        for bad in [
            "DNS:",
            "IP:300.1.1.1",
            "DNS:a..b",
            "EMAIL:nobody",
            "DNS:bad name",
            "URI:no spaces here",
        ] {
            assert!(SubjectAltName::parse_tagged(bad).is_err(), "{bad}");
        }
    }
}
