//! Readers for the X.509 fields certificate, CSR and CRL inspection share: names, SANs,
//! usages, times, hex (RFC 5280 §4.1 and §4.2).

use std::borrow::Cow;
use std::net::IpAddr;

use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode, Encode, Sequence, Tag, Tagged};
use time::OffsetDateTime;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{KeyUsages, name::GeneralNames};
use x509_cert::name::Name;
use x509_cert::time::Time;

use crate::error::{Error, Result};
use crate::model::{ExtendedKeyUsage, KeyUsage, Subject, SubjectAltName};

/// Any signed structure: `SEQUENCE { tbs, signatureAlgorithm, signature }` (certificate,
/// CSR, CRL), kept as raw elements so the signed bytes are exactly those of the input.
#[derive(Sequence)]
struct SignedRaw<'a> {
    tbs: AnyRef<'a>,
    algorithm: AnyRef<'a>,
    signature: AnyRef<'a>,
}

/// The exact DER of the to-be-signed part of a signed structure.
pub(crate) fn signed_tbs_der(der: &[u8], field: &str) -> Result<Vec<u8>> {
    let signed = SignedRaw::from_der(der)
        .map_err(|e| Error::invalid(field, format!("not a signed DER structure: {e}")))?;
    // Re-encoding an AnyRef writes its DER header and raw value bytes: the input's bytes.
    signed.tbs.to_der().map_err(|e| Error::invalid(field, format!("to-be-signed part: {e}")))
}

/// One-line DN in encoding order, `C=US, O=Example, CN=a.example`.
pub(crate) fn dn_string(name: &Name) -> String {
    let mut dn = String::new();
    for atv in name.iter() {
        if !dn.is_empty() {
            dn.push_str(", ");
        }
        dn.push_str(&attribute_name(atv));
        dn.push('=');
        dn.push_str(&attribute_value(atv));
    }
    dn
}

/// The subject attributes certloop knows; the first value of each wins.
pub(crate) fn subject_from_name(name: &Name) -> Subject {
    let mut subject = Subject::default();
    for atv in name.iter() {
        let slot = match attribute_name(atv).as_ref() {
            "CN" => &mut subject.common_name,
            "O" => &mut subject.organization,
            "OU" => &mut subject.organizational_unit,
            "C" => &mut subject.country,
            "ST" => &mut subject.state,
            "L" => &mut subject.locality,
            "emailAddress" => &mut subject.email,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(attribute_value(atv));
        }
    }
    subject
}

/// The attribute types with a short name (RFC 4514 §3, plus the customary emailAddress),
/// compared as OIDs so that naming an attribute formats nothing.
const ATTRIBUTE_NAMES: [(ObjectIdentifier, &str); 11] = [
    (ObjectIdentifier::new_unwrap("2.5.4.3"), "CN"),
    (ObjectIdentifier::new_unwrap("2.5.4.6"), "C"),
    (ObjectIdentifier::new_unwrap("2.5.4.7"), "L"),
    (ObjectIdentifier::new_unwrap("2.5.4.8"), "ST"),
    (ObjectIdentifier::new_unwrap("2.5.4.10"), "O"),
    (ObjectIdentifier::new_unwrap("2.5.4.11"), "OU"),
    (ObjectIdentifier::new_unwrap("2.5.4.5"), "serialNumber"),
    (ObjectIdentifier::new_unwrap("2.5.4.9"), "street"),
    (ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.25"), "DC"),
    (ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.1"), "UID"),
    (ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1"), "emailAddress"),
];

/// The short name of an attribute type, or its dotted OID.
fn attribute_name(atv: &AttributeTypeAndValue) -> Cow<'static, str> {
    match ATTRIBUTE_NAMES.iter().find(|(oid, _)| *oid == atv.oid) {
        Some((_, name)) => Cow::Borrowed(name),
        None => Cow::Owned(atv.oid.to_string()),
    }
}

/// An attribute value as text: the string types decoded, anything else as `#hex`.
fn attribute_value(atv: &AttributeTypeAndValue) -> String {
    let bytes = atv.value.value();
    match atv.value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => {
            String::from_utf8_lossy(bytes).into_owned()
        }
        // T.61 in practice carries Latin-1.
        Tag::TeletexString => bytes.iter().map(|&b| char::from(b)).collect(),
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => format!("#{}", hex(bytes)),
    }
}

/// The DNS, IP, e-mail and URI names of a GeneralNames; other kinds are skipped.
pub(crate) fn alt_names(names: &GeneralNames) -> Vec<SubjectAltName> {
    names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DnsName(s) => Some(SubjectAltName::dns(s.to_string())),
            GeneralName::Rfc822Name(s) => Some(SubjectAltName::email(s.to_string())),
            GeneralName::UniformResourceIdentifier(s) => Some(SubjectAltName::uri(s.to_string())),
            GeneralName::IpAddress(octets) => {
                ip_from_octets(octets.as_bytes()).map(SubjectAltName::ip)
            }
            _ => None,
        })
        .collect()
}

/// An iPAddress GeneralName's 4 or 16 octets as an address.
fn ip_from_octets(octets: &[u8]) -> Option<IpAddr> {
    match octets.len() {
        4 => <[u8; 4]>::try_from(octets).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(octets).ok().map(IpAddr::from),
        _ => None,
    }
}

/// The key usage bits that are set, in bit order.
pub(crate) fn key_usages(usage: &x509_cert::ext::pkix::KeyUsage) -> Vec<KeyUsage> {
    let flags = [
        (KeyUsages::DigitalSignature, KeyUsage::DigitalSignature),
        (KeyUsages::NonRepudiation, KeyUsage::NonRepudiation),
        (KeyUsages::KeyEncipherment, KeyUsage::KeyEncipherment),
        (KeyUsages::DataEncipherment, KeyUsage::DataEncipherment),
        (KeyUsages::KeyAgreement, KeyUsage::KeyAgreement),
        (KeyUsages::KeyCertSign, KeyUsage::KeyCertSign),
        (KeyUsages::CRLSign, KeyUsage::CrlSign),
        (KeyUsages::EncipherOnly, KeyUsage::EncipherOnly),
        (KeyUsages::DecipherOnly, KeyUsage::DecipherOnly),
    ];
    flags.into_iter().filter(|(flag, _)| usage.0.contains(*flag)).map(|(_, ku)| ku).collect()
}

/// The extended key usage purposes.
pub(crate) fn extended_key_usages(
    eku: &x509_cert::ext::pkix::ExtendedKeyUsage,
) -> Vec<ExtendedKeyUsage> {
    eku.0
        .iter()
        .map(|oid| match KNOWN_PURPOSES.iter().find(|(known, _)| known == oid) {
            Some((_, purpose)) => purpose.clone(),
            None => ExtendedKeyUsage::from_oid(&oid.to_string()),
        })
        .collect()
}

/// The purposes [`ExtendedKeyUsage`] names (RFC 5280 §4.2.1.12) by OID, so that reading one
/// formats nothing; a test checks each against [`ExtendedKeyUsage::oid`].
const KNOWN_PURPOSES: [(ObjectIdentifier, ExtendedKeyUsage); 6] = [
    (ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1"), ExtendedKeyUsage::ServerAuth),
    (ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2"), ExtendedKeyUsage::ClientAuth),
    (ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3"), ExtendedKeyUsage::CodeSigning),
    (ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4"), ExtendedKeyUsage::EmailProtection),
    (ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8"), ExtendedKeyUsage::TimeStamping),
    (ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9"), ExtendedKeyUsage::OcspSigning),
];

/// An X.509 time as an `OffsetDateTime` (UTC).
pub(crate) fn offset_date_time(t: Time, field: &str) -> Result<OffsetDateTime> {
    let secs = i64::try_from(t.to_unix_duration().as_secs())
        .map_err(|_| Error::invalid(field, "time out of range"))?;
    OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|_| Error::invalid(field, "time out of range"))
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Bytes from hex digits (either case; `:` separators, as openssl prints them, are skipped).
/// `None` unless the digits make whole bytes. Copies nothing but the result, so it may decode
/// key material into a zeroizing buffer.
pub(crate) fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let nibble = |c: u8| char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut digits = text.bytes().filter(|&b| b != b':');
    let mut out = Vec::with_capacity(text.len() / 2);
    while let Some(high) = digits.next() {
        out.push(nibble(high)? << 4 | nibble(digits.next()?)?);
    }
    Some(out)
}

/// A serial number as minimal lower-case hex (no leading zero bytes, at least one byte).
pub(crate) fn serial_hex(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len().saturating_sub(1));
    hex(&bytes[start..])
}

/// SHA-256 of `der`, lower-case hex without separators.
pub fn fingerprint_sha256(der: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn serial_hex_is_minimal() {
        assert_eq!(serial_hex(&[0x00, 0x8f, 0x01]), "8f01");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[0x01, 0x00]), "0100");
    }

    #[test]
    fn fingerprint_of_empty_input() {
        assert_eq!(
            fingerprint_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn known_purposes_match_the_models_oids() {
        for (oid, purpose) in &KNOWN_PURPOSES {
            assert_eq!(oid.to_string(), purpose.oid(), "{purpose:?}");
            assert_eq!(&ExtendedKeyUsage::from_oid(&oid.to_string()), purpose);
        }
    }
}
