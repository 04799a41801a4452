//! Schedules in IANA time zones: recurring check times (daily, weekly on a weekday, monthly on
//! a day), maintenance windows, and one-off local date-times. Pure arithmetic over the bundled
//! tz database (`jiff`); times in and out are UTC instants, nothing reads a clock.
//!
//! Local times that do not exist (a DST gap: 02:30 on the spring-forward night) move forward
//! by the gap (03:30), and local times that happen twice (the fall-back night) take the
//! earlier instant, so a daily schedule fires exactly once every local day: RFC 5545's rule
//! for recurrences, and jiff's `compatible` disambiguation.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};

/// How often a recurrence fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Frequency {
    /// Every day at the time.
    Daily,
    /// Every week on `weekday` at the time.
    Weekly,
    /// Every month on `dayOfMonth` (the last day when the month is shorter) at the time.
    Monthly,
}

/// A weekday: ISO number 1 (Monday) to 7 (Sunday), or an English name (`"sunday"`, `"Sun"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WeekdaySpec {
    /// 1 (Monday) ..= 7 (Sunday).
    Number(i64),
    /// A day name, any case, full or three letters.
    Name(String),
}

/// A recurring time. JSON: `{"frequency": "weekly", "weekday": "sunday", "time": "02:30",
/// "timeZone": "Europe/Berlin"}`; `{"frequency": "monthly", "dayOfMonth": 31, ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Recurrence {
    /// Daily, weekly or monthly.
    pub frequency: Frequency,
    /// The day of a weekly recurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekday: Option<WeekdaySpec>,
    /// The day (1 to 31) of a monthly recurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_of_month: Option<i64>,
    /// Local time, `HH:MM` or `HH:MM:SS`.
    pub time: String,
    /// IANA time zone (`Europe/Berlin`, `UTC`).
    pub time_zone: String,
}

/// A recurring maintenance window: a [`Recurrence`] that opens it and how long it stays open.
/// JSON: the recurrence's fields plus `"durationMinutes": 120`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowSpec {
    /// Daily, weekly or monthly.
    pub frequency: Frequency,
    /// The day of a weekly window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekday: Option<WeekdaySpec>,
    /// The day (1 to 31) of a monthly window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_of_month: Option<i64>,
    /// Local opening time, `HH:MM`.
    pub time: String,
    /// IANA time zone.
    pub time_zone: String,
    /// How long the window stays open, in minutes.
    pub duration_minutes: i64,
}

/// A one-off local date and time in a zone: `{"dateTime": "2027-03-28T02:30",
/// "timeZone": "Europe/London"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalDateTime {
    /// `YYYY-MM-DDTHH:MM[:SS]`, local.
    pub date_time: String,
    /// IANA time zone.
    pub time_zone: String,
}

/// A validated [`Recurrence`].
#[derive(Clone, Debug)]
pub struct CompiledRecurrence {
    rule: Rule,
    time: Time,
    zone: TimeZone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Daily,
    Weekly(jiff::civil::Weekday),
    Monthly(i8),
}

/// A validated [`WindowSpec`].
#[derive(Clone, Debug)]
pub struct CompiledWindow {
    opens: CompiledRecurrence,
    duration: time::Duration,
}

impl Recurrence {
    /// Validate; errors name `{field}.timeZone`, `.weekday`, `.dayOfMonth` or `.time`.
    pub fn compile(&self, field: &str) -> Result<CompiledRecurrence> {
        let zone = zone(&self.time_zone, field)?;
        let time = local_time(&self.time, field)?;
        let rule = match self.frequency {
            Frequency::Daily => {
                no_weekday(self.weekday.as_ref(), field, "daily")?;
                no_day(self.day_of_month, field, "daily")?;
                Rule::Daily
            }
            Frequency::Weekly => {
                no_day(self.day_of_month, field, "weekly")?;
                let spec = self.weekday.as_ref().ok_or_else(|| {
                    Error::invalid(format!("{field}.weekday"), "a weekly schedule needs a weekday")
                })?;
                Rule::Weekly(weekday(spec, field)?)
            }
            Frequency::Monthly => {
                no_weekday(self.weekday.as_ref(), field, "monthly")?;
                let day = self.day_of_month.ok_or_else(|| {
                    Error::invalid(
                        format!("{field}.dayOfMonth"),
                        "a monthly schedule needs a dayOfMonth (1 to 31)",
                    )
                })?;
                if !(1..=31).contains(&day) {
                    return Err(Error::invalid(
                        format!("{field}.dayOfMonth"),
                        format!(
                            "{day} is not a day of the month: use 1 to 31 (31 means the last day)"
                        ),
                    ));
                }
                Rule::Monthly(day as i8)
            }
        };
        Ok(CompiledRecurrence { rule, time, zone })
    }
}

impl WindowSpec {
    /// The recurrence that opens the window.
    pub fn recurrence(&self) -> Recurrence {
        Recurrence {
            frequency: self.frequency,
            weekday: self.weekday.clone(),
            day_of_month: self.day_of_month,
            time: self.time.clone(),
            time_zone: self.time_zone.clone(),
        }
    }

    /// Validate; errors name the field as [`Recurrence::compile`] does, and
    /// `{field}.durationMinutes`.
    pub fn compile(&self, field: &str) -> Result<CompiledWindow> {
        let opens = self.recurrence().compile(field)?;
        let duration_field = format!("{field}.durationMinutes");
        if self.duration_minutes <= 0 {
            return Err(Error::invalid(
                duration_field,
                format!(
                    "{} minutes: the window would never open; give a positive duration",
                    self.duration_minutes
                ),
            ));
        }
        let duration = time::Duration::minutes(self.duration_minutes);
        if duration > opens.min_period() {
            return Err(Error::invalid(
                duration_field,
                format!(
                    "{} minutes is longer than the time between two {:?} windows: they would \
                     overlap; use a shorter duration or a less frequent window",
                    self.duration_minutes, self.frequency
                ),
            ));
        }
        Ok(CompiledWindow { opens, duration })
    }
}

impl LocalDateTime {
    /// The instant; errors name `{field}.dateTime` or `{field}.timeZone`. A time in a DST gap
    /// moves forward by the gap; one in an overlap takes the earlier instant.
    pub fn resolve(&self, field: &str) -> Result<OffsetDateTime> {
        let zone = zone(&self.time_zone, field)?;
        let civil: DateTime = self.date_time.parse().map_err(|_| {
            Error::invalid(
                format!("{field}.dateTime"),
                format!("{:?} is not a local date and time like 2027-06-01T09:00", self.date_time),
            )
        })?;
        let zoned = zone.to_ambiguous_zoned(civil).compatible().map_err(|e| {
            Error::invalid(format!("{field}.dateTime"), format!("{}: {e}", self.date_time))
        })?;
        Ok(to_time(zoned.timestamp()))
    }
}

impl CompiledRecurrence {
    /// The first occurrence at or after `instant`.
    pub fn next_at_or_after(&self, instant: OffsetDateTime) -> OffsetDateTime {
        let at = from_time(instant);
        let mut date = at.to_zoned(self.zone.clone()).date();
        // The previous local day too: an occurrence pushed forward out of a DST gap, or on a
        // local day that began before `instant` in another offset, is still found. A monthly
        // rule recurs within 62 days; the bound is never reached.
        date = date.yesterday().unwrap_or(date);
        for _ in 0..70 {
            if self.matches(date)
                && let Some(occurrence) = self.on(date)
                && occurrence >= at
            {
                return to_time(occurrence);
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        // Only at the end of jiff's range (year 9999): never in practice.
        instant
    }

    /// The first occurrence strictly after `instant`.
    pub fn next_after(&self, instant: OffsetDateTime) -> OffsetDateTime {
        self.next_at_or_after(instant + time::Duration::NANOSECOND)
    }

    /// The longest possible gap between two occurrences: 25 hours daily (a DST change), 7 days
    /// and an hour weekly, 31 days and an hour monthly (Feb → Mar on day 31 is shorter).
    pub fn max_period(&self) -> time::Duration {
        let hour = time::Duration::HOUR;
        match self.rule {
            Rule::Daily => time::Duration::DAY + hour,
            Rule::Weekly(_) => time::Duration::WEEK + hour,
            Rule::Monthly(_) => time::Duration::days(31) + hour,
        }
    }

    /// The shortest gap between two occurrences (23 hours daily, a week less an hour weekly,
    /// 28 days less an hour monthly).
    fn min_period(&self) -> time::Duration {
        let hour = time::Duration::HOUR;
        match self.rule {
            Rule::Daily => time::Duration::DAY - hour,
            Rule::Weekly(_) => time::Duration::WEEK - hour,
            Rule::Monthly(_) => time::Duration::days(28) - hour,
        }
    }

    fn matches(&self, date: Date) -> bool {
        match self.rule {
            Rule::Daily => true,
            Rule::Weekly(day) => date.weekday() == day,
            Rule::Monthly(day) => date.day() == day.min(date.days_in_month()),
        }
    }

    /// The occurrence on local `date` (gap: forward; overlap: earlier).
    fn on(&self, date: Date) -> Option<Timestamp> {
        let zoned: Zoned =
            self.zone.to_ambiguous_zoned(date.to_datetime(self.time)).compatible().ok()?;
        Some(zoned.timestamp())
    }
}

impl CompiledWindow {
    /// The window open at `instant` (`start <= instant < end`), or else the next one.
    pub fn current_or_next(&self, instant: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
        // The earliest opening after `instant - duration`: if it opened at or before
        // `instant`, it is still open.
        let start = self.opens.next_after(instant - self.duration);
        (start, start + self.duration)
    }

    /// Whether a window is open at `instant`.
    pub fn contains(&self, instant: OffsetDateTime) -> bool {
        self.current_or_next(instant).0 <= instant
    }

    /// How long it stays open.
    pub fn duration(&self) -> time::Duration {
        self.duration
    }

    /// The longest time from one opening to the next.
    pub fn max_period(&self) -> time::Duration {
        self.opens.max_period()
    }
}

fn zone(name: &str, field: &str) -> Result<TimeZone> {
    TimeZone::get(name).map_err(|_| {
        Error::invalid(
            format!("{field}.timeZone"),
            format!(
                "{name:?} is not an IANA time zone; use a name like \"Europe/Berlin\" or \"UTC\""
            ),
        )
    })
}

fn local_time(text: &str, field: &str) -> Result<Time> {
    let parsed = (text.len() == 5 || text.len() == 8).then(|| text.parse::<Time>().ok()).flatten();
    parsed.ok_or_else(|| {
        Error::invalid(
            format!("{field}.time"),
            format!("{text:?} is not a time of day: use HH:MM (00:00 to 23:59)"),
        )
    })
}

fn weekday(spec: &WeekdaySpec, field: &str) -> Result<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    let bad = |shown: String| {
        Error::invalid(
            format!("{field}.weekday"),
            format!("{shown} is not a weekday: use 1 (Monday) to 7 (Sunday) or a day name"),
        )
    };
    match spec {
        WeekdaySpec::Number(n) => match n {
            1 => Ok(Monday),
            2 => Ok(Tuesday),
            3 => Ok(Wednesday),
            4 => Ok(Thursday),
            5 => Ok(Friday),
            6 => Ok(Saturday),
            7 => Ok(Sunday),
            other => Err(bad(other.to_string())),
        },
        WeekdaySpec::Name(name) => {
            let folded = name.trim().to_ascii_lowercase();
            let days = [
                ("monday", Monday),
                ("tuesday", Tuesday),
                ("wednesday", Wednesday),
                ("thursday", Thursday),
                ("friday", Friday),
                ("saturday", Saturday),
                ("sunday", Sunday),
            ];
            days.iter()
                .find(|(full, _)| {
                    folded == *full || (folded.len() == 3 && full.starts_with(&folded))
                })
                .map(|(_, day)| *day)
                .ok_or_else(|| bad(format!("{name:?}")))
        }
    }
}

fn no_weekday(weekday: Option<&WeekdaySpec>, field: &str, frequency: &str) -> Result<()> {
    match weekday {
        Some(_) => Err(Error::invalid(
            format!("{field}.weekday"),
            format!("a {frequency} schedule has no weekday; use frequency weekly"),
        )),
        None => Ok(()),
    }
}

fn no_day(day: Option<i64>, field: &str, frequency: &str) -> Result<()> {
    match day {
        Some(_) => Err(Error::invalid(
            format!("{field}.dayOfMonth"),
            format!("a {frequency} schedule has no dayOfMonth; use frequency monthly"),
        )),
        None => Ok(()),
    }
}

fn from_time(t: OffsetDateTime) -> Timestamp {
    let nanos = t.unix_timestamp_nanos();
    Timestamp::from_nanosecond(nanos).unwrap_or(if nanos < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

fn to_time(t: Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::error::ErrorKind;

    fn rec(json: serde_json::Value) -> CompiledRecurrence {
        let spec: Recurrence = serde_json::from_value(json).expect("recurrence");
        spec.compile("check").expect("compiles")
    }

    fn field_of(e: &Error) -> String {
        match e {
            Error::InvalidInput { field, .. } => field.clone(),
            other => panic!("not an input error: {other}"),
        }
    }

    #[test]
    fn daily_across_the_berlin_spring_gap_moves_forward_once() {
        let r = rec(serde_json::json!({"frequency": "daily", "time": "02:30",
                                      "timeZone": "Europe/Berlin"}));
        // 2027-03-28: clocks jump 02:00 CET -> 03:00 CEST; 02:30 does not exist.
        let before = r.next_at_or_after(datetime!(2027-03-27 00:00 UTC));
        assert_eq!(before, datetime!(2027-03-27 01:30 UTC)); // 02:30 CET
        let gap = r.next_after(before);
        assert_eq!(gap, datetime!(2027-03-28 01:30 UTC)); // 03:30 CEST
        let after = r.next_after(gap);
        assert_eq!(after, datetime!(2027-03-29 00:30 UTC)); // 02:30 CEST
    }

    #[test]
    fn daily_across_the_new_york_fall_overlap_fires_once_at_the_earlier_instant() {
        let r = rec(serde_json::json!({"frequency": "daily", "time": "01:30",
                                      "timeZone": "America/New_York"}));
        // 2027-11-07: 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST).
        let first = r.next_at_or_after(datetime!(2027-11-07 00:00 UTC));
        assert_eq!(first, datetime!(2027-11-07 05:30 UTC));
        let next = r.next_after(first);
        assert_eq!(next, datetime!(2027-11-08 06:30 UTC), "no second firing at 06:30Z");
    }

    #[test]
    fn weekly_by_name_and_number_monthly_clamped_to_the_month_end() {
        let by_name = rec(serde_json::json!({"frequency": "weekly", "weekday": "Sun",
                                            "time": "02:00", "timeZone": "UTC"}));
        let by_number = rec(serde_json::json!({"frequency": "weekly", "weekday": 7,
                                              "time": "02:00", "timeZone": "UTC"}));
        let from = datetime!(2027-01-06 12:00 UTC); // a Wednesday
        assert_eq!(by_name.next_at_or_after(from), datetime!(2027-01-10 02:00 UTC));
        assert_eq!(by_number.next_at_or_after(from), datetime!(2027-01-10 02:00 UTC));
        let monthly = rec(serde_json::json!({"frequency": "monthly", "dayOfMonth": 31,
                                            "time": "04:00", "timeZone": "UTC"}));
        let mut at = datetime!(2027-01-01 00:00 UTC);
        let mut seen = Vec::new();
        for _ in 0..14 {
            at = monthly.next_after(at);
            seen.push(at.date());
        }
        assert_eq!(seen[0], time::macros::date!(2027 - 01 - 31));
        assert_eq!(seen[1], time::macros::date!(2027 - 02 - 28));
        assert_eq!(seen[3], time::macros::date!(2027 - 04 - 30));
        assert_eq!(seen[13], time::macros::date!(2028 - 02 - 29), "leap year");
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn exact_occurrences_and_windows() {
        let r = rec(serde_json::json!({"frequency": "daily", "time": "03:00", "timeZone": "UTC"}));
        let at = datetime!(2027-05-01 03:00 UTC);
        assert_eq!(r.next_at_or_after(at), at);
        assert_eq!(r.next_after(at), datetime!(2027-05-02 03:00 UTC));
        let spec: WindowSpec = serde_json::from_value(serde_json::json!({"frequency": "daily",
            "time": "01:00", "timeZone": "Asia/Tokyo", "durationMinutes": 120}))
        .expect("window");
        let w = spec.compile("w").expect("compiles");
        // 01:00-03:00 JST is 16:00-18:00Z the day before.
        let inside = datetime!(2027-05-01 17:00 UTC);
        assert!(w.contains(inside));
        assert_eq!(
            w.current_or_next(inside),
            (datetime!(2027-05-01 16:00 UTC), datetime!(2027-05-01 18:00 UTC))
        );
        let end = datetime!(2027-05-01 18:00 UTC);
        assert!(!w.contains(end), "the end is outside");
        assert_eq!(w.current_or_next(end).0, datetime!(2027-05-02 16:00 UTC));
        assert!(w.contains(datetime!(2027-05-01 16:00 UTC)), "the start is inside");
    }

    #[test]
    fn a_local_date_time_in_a_gap_moves_forward() {
        let local = LocalDateTime {
            date_time: "2027-03-28T01:30".into(),
            time_zone: "Europe/London".into(),
        };
        // London skips 01:00-02:00 on 2027-03-28: 01:30 becomes 02:30 BST = 01:30Z.
        assert_eq!(local.resolve("at").expect("resolves"), datetime!(2027-03-28 01:30 UTC));
    }

    #[test]
    fn bad_input_names_the_field() {
        let cases = [
            (
                serde_json::json!({"frequency": "daily", "time": "03:00", "timeZone": "Mars/Base"}),
                "check.timeZone",
            ),
            (
                serde_json::json!({"frequency": "weekly", "weekday": 8, "time": "03:00",
                                "timeZone": "UTC"}),
                "check.weekday",
            ),
            (
                serde_json::json!({"frequency": "weekly", "weekday": "funday", "time": "03:00",
                                "timeZone": "UTC"}),
                "check.weekday",
            ),
            (
                serde_json::json!({"frequency": "weekly", "time": "03:00", "timeZone": "UTC"}),
                "check.weekday",
            ),
            (
                serde_json::json!({"frequency": "daily", "weekday": 1, "time": "03:00",
                                "timeZone": "UTC"}),
                "check.weekday",
            ),
            (
                serde_json::json!({"frequency": "monthly", "dayOfMonth": -3, "time": "03:00",
                                "timeZone": "UTC"}),
                "check.dayOfMonth",
            ),
            (
                serde_json::json!({"frequency": "monthly", "dayOfMonth": 32, "time": "03:00",
                                "timeZone": "UTC"}),
                "check.dayOfMonth",
            ),
            (
                serde_json::json!({"frequency": "daily", "time": "25:00", "timeZone": "UTC"}),
                "check.time",
            ),
            (
                serde_json::json!({"frequency": "daily", "time": "noon", "timeZone": "UTC"}),
                "check.time",
            ),
        ];
        for (json, field) in cases {
            let spec: Recurrence = serde_json::from_value(json.clone()).expect("parses");
            let e = spec.compile("check").expect_err(&json.to_string());
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert_eq!(field_of(&e), field, "{json}");
        }
        for minutes in [0, -10, 60 * 24] {
            let spec = WindowSpec {
                frequency: Frequency::Daily,
                weekday: None,
                day_of_month: None,
                time: "01:00".into(),
                time_zone: "UTC".into(),
                duration_minutes: minutes,
            };
            let e = spec.compile("w").expect_err("bad duration");
            assert_eq!(field_of(&e), "w.durationMinutes", "{minutes}");
        }
        let bad = LocalDateTime { date_time: "2027-02-30T10:00".into(), time_zone: "UTC".into() };
        assert_eq!(field_of(&bad.resolve("at").expect_err("no Feb 30")), "at.dateTime");
        let unknown: std::result::Result<Recurrence, _> = serde_json::from_value(
            serde_json::json!({"frequency": "daily", "time": "03:00", "timeZone": "UTC", "x": 1}),
        );
        assert!(unknown.is_err(), "unknown fields are refused");
    }
}
