//! PEM (RFC 7468) encoding and decoding, including bundles of several documents.

use der::pem::{Decoder, LineEnding};

use crate::error::{Error, Result};

/// Encode `der` as PEM with `label`: 64-column base64 lines, `\n` endings, trailing newline.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    // Invariant: encoding only fails for a label with characters RFC 7468 forbids; every
    // label in this crate is a constant. Fall back to an empty string rather than panic.
    der::pem::encode_string(label, LineEnding::LF, der).unwrap_or_default()
}

/// Every PEM document labelled `label` in `input`, in order, as DER.
///
/// Documents with other labels are skipped; text between documents is ignored. No document
/// with the label is an [`Error::InvalidInput`] naming the field that fits the label
/// (`certificate`, `csr`, `crl`, `privateKey`).
pub fn pem_decode_all(input: &[u8], label: &str) -> Result<Vec<Vec<u8>>> {
    let field = field_for_label(label);
    let blocks = pem_blocks(input, field)?;
    let found: Vec<Vec<u8>> =
        blocks.into_iter().filter(|(l, _)| l == label).map(|(_, der)| der).collect();
    if found.is_empty() {
        return Err(Error::invalid(field, format!("no PEM block labelled {label:?} found")));
    }
    Ok(found)
}

/// Whether `input` looks like PEM text rather than DER.
pub(crate) fn looks_like_pem(input: &[u8]) -> bool {
    input.windows(11).any(|w| w == b"-----BEGIN ")
}

/// DER from `input`: the first PEM document with one of `labels`, or `input` itself when it
/// is not PEM. `field` names the input in errors.
pub(crate) fn der_from_pem_or_der(input: &[u8], labels: &[&str], field: &str) -> Result<Vec<u8>> {
    if !looks_like_pem(input) {
        return Ok(input.to_vec());
    }
    let blocks = pem_blocks(input, field)?;
    let seen: Vec<String> = blocks.iter().map(|(l, _)| l.clone()).collect();
    blocks.into_iter().find(|(l, _)| labels.contains(&l.as_str())).map(|(_, der)| der).ok_or_else(
        || {
            Error::invalid(
                field,
                format!("expected a PEM block labelled {}, found {}", labels.join(" or "), {
                    if seen.is_empty() { "none".to_owned() } else { seen.join(", ") }
                }),
            )
        },
    )
}

/// Every PEM document of `input` as (label, DER).
pub(crate) fn pem_blocks(input: &[u8], field: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let text = std::str::from_utf8(input)
        .map_err(|_| Error::invalid(field, "PEM input is not valid UTF-8 text"))?;
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after_begin = &rest[start + "-----BEGIN ".len()..];
        let Some(label_end) = after_begin.find("-----") else {
            return Err(Error::invalid(field, "PEM BEGIN line is not closed by -----"));
        };
        let label = &after_begin[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[start..].find(&end_marker) else {
            return Err(Error::invalid(field, format!("PEM block {label:?} has no END line")));
        };
        let block_end = start + end + end_marker.len();
        let block = rest[start..block_end].trim();
        let mut decoder = Decoder::new_detect_wrap(block.as_bytes())
            .map_err(|e| Error::invalid(field, format!("bad PEM block {label:?}: {e}")))?;
        let mut der = Vec::new();
        decoder
            .decode_to_end(&mut der)
            .map_err(|e| Error::invalid(field, format!("bad PEM block {label:?}: {e}")))?;
        blocks.push((label.to_owned(), der));
        rest = &rest[block_end..];
    }
    Ok(blocks)
}

/// The request field a PEM label belongs to, for error messages.
fn field_for_label(label: &str) -> &'static str {
    match label {
        "CERTIFICATE" => "certificate",
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => "csr",
        "X509 CRL" => "crl",
        l if l.ends_with("PRIVATE KEY") => "privateKey",
        "PUBLIC KEY" => "publicKey",
        _ => "pem",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encode_wraps_at_64_and_round_trips() {
        let der: Vec<u8> = (0..=255u8).collect();
        let pem = pem_encode("CERTIFICATE", &der);
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let bundle = format!("junk\n{pem}text between\n{}", pem_encode("CERTIFICATE", b"ab"));
        let all = pem_decode_all(bundle.as_bytes(), "CERTIFICATE").unwrap();
        assert_eq!(all, vec![der, b"ab".to_vec()]);
    }

    #[test]
    fn wrong_label_and_garbage_are_invalid_input() {
        let pem = pem_encode("X509 CRL", b"abc");
        let err = pem_decode_all(pem.as_bytes(), "CERTIFICATE").unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "certificate"));
        let bad = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(pem_decode_all(bad.as_bytes(), "CERTIFICATE").is_err());
        let open = "-----BEGIN CERTIFICATE-----\nAAAA\n";
        assert!(pem_decode_all(open.as_bytes(), "CERTIFICATE").is_err());
    }
}
