//! Reading the JSON wire shape that the bindings, the REST API and the C ABI accept.
//!
//! A request that does not fit its type fails with [`Error::InvalidInput`] naming the field by
//! its path (`request.attributes.ttl`), and the message never repeats the offending value:
//! serde's own messages quote it (``invalid type: string "s3cret", expected a sequence``), and
//! a password given in the wrong place or shape must not come back in an error, a log or an
//! exception. Field names and the expected types or variants stay.
//!
//! The option shapes that have no serde form in the core (durations in seconds, secret
//! passwords) live here too, one definition for every binding: [`FileScan`], [`NetworkScan`],
//! [`HostScan`], [`Sweep`] and [`OpenOptions`].

mod discovery;
mod facade;

pub use discovery::{FileScan, HostScan, NetworkScan};
pub use facade::{OpenOptions, Sweep};

use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// `value` as a `T`; `what` names the whole value in errors (`request`, `spec`). With an empty
/// `what` (a REST body is the request itself) fields are named by their path alone
/// (`attributes.ttl`), and an error about the whole value names no field (an empty one).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| invalid(what, e))
}

/// `text` (JSON) as a `T`; `what` names the whole document in errors. Syntax errors say where
/// (line and column), never what was there.
pub fn from_str<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| invalid(what, e))?;
    deserializer.end().map_err(|e| Error::invalid(what, without_value(&e.to_string())))?;
    Ok(value)
}

fn invalid(what: &str, error: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = error.path().to_string();
    let field = match (path.as_str(), what) {
        (".", _) => what.to_owned(),
        (_, "") => path,
        _ => format!("{what}.{path}"),
    };
    Error::invalid(field, without_value(&error.inner().to_string()))
}

/// serde's message without the offending value: `invalid type: string "s3cret", expected a
/// sequence` becomes `invalid type, expected a sequence`, and ``unknown variant `s3cret`,
/// expected `pem` or `pkcs12` `` becomes ``unknown variant, expected `pem` or `pkcs12` ``.
/// Unknown and missing field names are kept: they come from the schema's side of the
/// message, and a caller needs them to fix the request.
pub fn without_value(message: &str) -> String {
    for kind in ["invalid type", "invalid value", "invalid length", "unknown variant"] {
        let Some(rest) = message.strip_prefix(kind) else { continue };
        let Some(rest) = rest.strip_prefix(": ").or_else(|| rest.strip_prefix(' ')) else {
            continue;
        };
        // The value comes first and the expectation last: cut at the last separator.
        if let Some(at) = rest.rfind(", expected ").or_else(|| rest.rfind(", there are no")) {
            return format!("{kind}{}", &rest[at..]);
        }
        return kind.to_owned();
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Spec {
        format: Format,
        password: Option<String>,
        keep: Option<u32>,
        aliases: Option<Vec<String>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Format {
        Pem,
        Pkcs12,
    }

    /// The error for `text` read as a document; messages end with the position there.
    fn message(text: &str) -> (String, String) {
        match from_str::<Spec>(text, "spec") {
            Err(Error::InvalidInput { field, message }) => (field, message),
            other => panic!("expected InvalidInput for {text}, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field_path_and_never_the_value() {
        let cases = [
            (
                r#"{"format": "s3cret"}"#,
                "spec.format",
                "unknown variant, expected `pem` or `pkcs12`",
            ),
            (
                r#"{"format": "pem", "password": 12345}"#,
                "spec.password",
                "invalid type, expected a string",
            ),
            (r#"{"format": "pem", "keep": -7}"#, "spec.keep", "invalid value, expected u32"),
            (
                r#"{"format": "pem", "aliases": "s3cret"}"#,
                "spec.aliases",
                "invalid type, expected a sequence",
            ),
        ];
        for (text, field, expected) in cases {
            let (got_field, got) = message(text);
            assert_eq!(got_field, field, "{text}");
            assert!(got.starts_with(&format!("{expected} at line 1 column ")), "{text}: {got}");
            let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
            match from_value::<Spec>(value, "spec") {
                Err(Error::InvalidInput { field: f, message: m }) => {
                    assert_eq!((f.as_str(), m.as_str()), (field, expected), "{text}")
                }
                other => panic!("expected InvalidInput for {text}, got {other:?}"),
            }
            assert!(!got.contains("s3cret") && !got.contains("12345") && !got.contains("-7"));
        }
    }

    #[test]
    fn unknown_and_missing_fields_are_named_and_syntax_errors_say_where() {
        assert_eq!(
            message(r#"{"format": "pem", "pasword": "x"}"#).1.split(',').next(),
            Some("unknown field `pasword`")
        );
        let (field, missing) = message("{}");
        assert_eq!(field, "spec");
        assert!(missing.starts_with("missing field `format`"), "{missing}");
        // A document cut short inside a value: the field it was in, the position, no value.
        let (field, syntax) = message(r#"{"format": "pem", "password": "s3cret"#);
        assert_eq!(field, "spec.password");
        assert!(syntax.contains("line 1") && !syntax.contains("s3cret"), "{syntax}");
        let (_, trailing) = message(r#"{"format": "pem"} s3cret"#);
        assert!(
            trailing.contains("trailing characters") && !trailing.contains("s3cret"),
            "{trailing}"
        );
    }

    #[test]
    fn without_a_name_fields_are_their_path() {
        let value = serde_json::json!({"format": "pem", "keep": "s3cret"});
        let Err(Error::InvalidInput { field, message }) = from_value::<Spec>(value, "") else {
            panic!("a string keep is refused");
        };
        assert_eq!((field.as_str(), message.as_str()), ("keep", "invalid type, expected u32"));
        let Err(Error::InvalidInput { field, .. }) = from_value::<Spec>(serde_json::json!(3), "")
        else {
            panic!("a number is not a spec");
        };
        assert_eq!(field, "");
    }

    #[test]
    fn values_parse() {
        let spec: Spec = from_value(serde_json::json!({"format": "pkcs12", "keep": 2}), "spec")
            .expect("a valid spec");
        assert!(matches!(spec.format, Format::Pkcs12) && spec.keep == Some(2));
    }
}
