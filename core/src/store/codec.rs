//! Encodings every store shares: enum wire names and serial-number normalization.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The wire name of a serde unit enum (`"certificateHold"`, `"issued"`, ...).
pub(super) fn enum_name<T: Serialize>(value: &T) -> Result<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(Error::store("internal: an enum did not serialize to a string")),
    }
}

/// Parse a serde unit enum from its wire name.
pub(super) fn parse_enum<T: DeserializeOwned>(column: &str, name: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| Error::store(format!("unknown value {name:?} in column {column}")))
}

/// Normalize a serial number for lookup: lower-case hex, no `:` separators.
pub(super) fn normalize_serial(serial: &str) -> String {
    serial.trim().chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_normalized() {
        assert_eq!(normalize_serial(" 0A:bC:01 "), "0abc01");
    }
}
