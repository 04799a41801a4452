//! Conversions between certloop values and SQLite column values, and error mapping.

use rusqlite::ErrorCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::error::{Error, Result};
pub(super) use crate::store::codec::{enum_name, normalize_serial, parse_enum};

/// Unix seconds, for `not_before`/`not_after` (X.509 validity has second precision).
pub(super) fn to_secs(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// The instant `secs` unix seconds.
pub(super) fn from_secs(secs: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| Error::store(format!("stored time {secs} is out of range: {e}")))
}

/// Unix microseconds (PostgreSQL `timestamptz` precision); finer digits are dropped.
pub(super) fn to_micros(t: OffsetDateTime) -> Result<i64> {
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1000))
        .map_err(|_| Error::invalid("timestamp", format!("{t} is out of the storable range")))
}

/// The instant `micros` unix microseconds.
pub(super) fn from_micros(micros: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map_err(|e| Error::store(format!("stored time {micros} is out of range: {e}")))
}

/// JSON text of a value.
pub(super) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::store(format!("cannot encode JSON: {e}")))
}

/// A value from JSON text stored in `column`.
pub(super) fn from_json<T: DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| Error::store(format!("invalid JSON in column {column}: {e}")))
}

/// Carry a certloop error out of a rusqlite row closure.
pub(super) fn in_row<T>(index: usize, result: Result<T>) -> rusqlite::Result<T> {
    result.map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A store error saying what was being done.
pub(super) fn db(doing: impl std::fmt::Display) -> impl FnOnce(rusqlite::Error) -> Error {
    move |e| Error::store(format!("{doing}: {e}"))
}

/// Whether `e` is a UNIQUE or PRIMARY KEY violation.
pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => {
            f.code == ErrorCode::ConstraintViolation
                && (f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
        }
        _ => false,
    }
}

/// Whether `e` is a FOREIGN KEY violation.
pub(super) fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

/// Bound a `u32` for SQL `LIMIT`/`OFFSET`; `None` is "no limit" (-1 in SQLite).
pub(super) fn limit_value(limit: Option<u32>) -> i64 {
    limit.map_or(-1, i64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip_and_truncate() -> Result<()> {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
            .map_err(Error::store)?;
        let back = from_micros(to_micros(t)?)?;
        assert_eq!(back.unix_timestamp_nanos(), 1_700_000_000_123_456_000);
        let before_epoch = OffsetDateTime::from_unix_timestamp_nanos(-1).map_err(Error::store)?;
        assert_eq!(to_micros(before_epoch)?, -1);
        Ok(())
    }
}
