//! Time-to-live strings: `"90d"`, `"1y"`, `"12h"`, `"30m"`, `"3600s"`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// A certificate lifetime. A year is 365 days. There is no month unit: `M` beside `m` invites
/// mistakes, and certificate lifetimes are counted in days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ttl {
    seconds: u64,
}

impl Ttl {
    const UNITS: [(char, u64); 5] =
        [('y', 365 * 86_400), ('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

    /// A lifetime of `seconds`.
    pub const fn from_seconds(seconds: u64) -> Self {
        Self { seconds }
    }

    /// A lifetime of `days`.
    pub const fn from_days(days: u64) -> Self {
        Self { seconds: days * 86_400 }
    }

    /// The length in seconds.
    pub const fn seconds(self) -> u64 {
        self.seconds
    }

    /// As a [`time::Duration`].
    pub fn duration(self) -> time::Duration {
        time::Duration::seconds(i64::try_from(self.seconds).unwrap_or(i64::MAX))
    }

    /// Parse `s`, naming `field` in the error.
    pub fn parse_field(s: &str, field: &str) -> Result<Self, Error> {
        let s = s.trim();
        let bad = |why: &str| {
            Error::invalid(
                field,
                format!("{why} in TTL {s:?}; write a number and a unit, e.g. 90d, 1y, 12h, 30m"),
            )
        };
        let unit = s.chars().last().ok_or_else(|| bad("empty value"))?;
        let (multiplier, digits) = match Self::UNITS.iter().find(|(u, _)| *u == unit) {
            Some((_, m)) => (*m, &s[..s.len() - unit.len_utf8()]),
            None if unit.is_ascii_digit() => (1, s),
            None => return Err(bad(&format!("unknown unit {unit:?}"))),
        };
        let count: u64 = digits.parse().map_err(|_| bad("not a whole number"))?;
        if count == 0 {
            return Err(bad("zero length"));
        }
        let seconds = count.checked_mul(multiplier).filter(|s| *s <= 1_000 * 365 * 86_400);
        seconds.map(Self::from_seconds).ok_or_else(|| bad("longer than 1000 years"))
    }
}

impl fmt::Display for Ttl {
    /// The largest unit that divides the length exactly: `90d`, `1y`, `36h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, multiplier) in Self::UNITS {
            if self.seconds.is_multiple_of(multiplier) && self.seconds > 0 {
                return write!(f, "{}{unit}", self.seconds / multiplier);
            }
        }
        write!(f, "{}s", self.seconds)
    }
}

impl FromStr for Ttl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse_field(s, "ttl")
    }
}

impl Serialize for Ttl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_round_trips() {
        for (text, seconds) in [
            ("90d", 90 * 86_400),
            ("1y", 365 * 86_400),
            ("12h", 43_200),
            ("30m", 1_800),
            ("45", 45),
        ] {
            let ttl: Ttl = text.parse().expect(text);
            assert_eq!(ttl.seconds(), seconds, "{text}");
        }
        assert_eq!(Ttl::from_days(730).to_string(), "2y");
        assert_eq!(Ttl::from_seconds(90_000).to_string(), "25h");
        assert_eq!(Ttl::from_days(90).to_string(), "90d");
    }

    #[test]
    fn rejects_bad_ttls_naming_the_field() {
        for bad in ["", "d", "10x", "-5d", "0d", "1.5d", "99999999999y", "3M"] {
            let err = Ttl::parse_field(bad, "attributes.ttl").expect_err(bad);
            assert!(err.to_string().contains("attributes.ttl"), "{err}");
        }
    }
}
