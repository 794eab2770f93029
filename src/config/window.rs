//! Freeze windows (`freeze = ["Fri 16:00 - Mon 08:00 Europe/Berlin"]`):
//! weekly or daily spans of local time in a time zone, or one range of
//! dates (`"2026-12-20 - 2027-01-04 Europe/Berlin"`, both days whole), all
//! on jiff with the time zone database built in, so a container without
//! /usr/share/zoneinfo still knows Europe/Berlin and its summer time.

/// A weekly, daily or dated window in a time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    span: Span,
    zone: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Span {
    /// Minutes since Monday 00:00 (weekly) or since midnight (daily).
    Repeating { start: u32, end: u32, weekly: bool },
    /// From one instant to another (seconds since the epoch, the end not
    /// included).
    Dates { from: i64, to: i64 },
}

/// Does `word` start like a date (`2026-12-20`)?
fn is_date(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Window {
    /// `Fri 16:00 - Mon 08:00 Europe/Berlin`, `22:00 - 06:00 UTC`,
    /// `2026-12-20 - 2027-01-04 Europe/Berlin` (from the first day's start
    /// to the last day's end) or `2026-12-20 18:00 - 2027-01-04 08:00`;
    /// the zone is optional (UTC).
    pub fn parse(text: &str) -> Result<Window, String> {
        if text.split_whitespace().next().is_some_and(is_date) {
            return Self::parse_dates(text);
        }
        let bad = |why: &str| {
            format!("{text:?}: {why} (expected e.g. \"Fri 16:00 - Mon 08:00 Europe/Berlin\")")
        };
        let (from, rest) = text
            .split_once(" - ")
            .ok_or_else(|| bad("no ` - ` between start and end"))?;
        let rest: Vec<&str> = rest.split_whitespace().collect();
        let from: Vec<&str> = from.split_whitespace().collect();
        let (to, zone) = match (from.len(), rest.as_slice()) {
            (2, [d, t]) => (vec![*d, *t], "UTC"),
            (2, [d, t, z]) => (vec![*d, *t], *z),
            (1, [t]) => (vec![*t], "UTC"),
            (1, [t, z]) => (vec![*t], *z),
            _ => return Err(bad("start and end must both have a weekday, or neither")),
        };
        jiff::tz::TimeZone::get(zone).map_err(|_| bad(&format!("unknown time zone {zone:?}")))?;
        let minutes = |parts: &[&str]| -> Result<u32, String> {
            let (day, clock) = match parts {
                [d, c] => (
                    DAYS.iter()
                        .position(|x| d.to_ascii_lowercase().starts_with(x))
                        .ok_or_else(|| bad(&format!("unknown weekday {d:?}")))?
                        as u32,
                    *c,
                ),
                [c] => (0, *c),
                _ => return Err(bad("malformed")),
            };
            let (h, m) = clock
                .split_once(':')
                .ok_or_else(|| bad("times are HH:MM"))?;
            let (h, m): (u32, u32) = (
                h.parse().map_err(|_| bad("times are HH:MM"))?,
                m.parse().map_err(|_| bad("times are HH:MM"))?,
            );
            if h > 24 || m > 59 || (h == 24 && m > 0) {
                return Err(bad("times are HH:MM, 00:00 to 24:00"));
            }
            Ok(day * 1440 + h * 60 + m)
        };
        Ok(Window {
            span: Span::Repeating {
                start: minutes(&from)?,
                end: minutes(&to)?,
                weekly: from.len() == 2,
            },
            zone: zone.to_string(),
            text: text.to_string(),
        })
    }

    /// `2026-12-20 - 2027-01-04 Europe/Berlin`, with optional `HH:MM`
    /// after each date (without one: the start of the first day, the end
    /// of the last).
    fn parse_dates(text: &str) -> Result<Window, String> {
        let bad = |why: &str| {
            format!(
                "{text:?}: {why} (expected e.g. \"2026-12-20 - 2027-01-04 Europe/Berlin\" or \"2026-12-20 18:00 - 2027-01-04 08:00 UTC\")"
            )
        };
        let (from, rest) = text
            .split_once(" - ")
            .ok_or_else(|| bad("no ` - ` between start and end"))?;
        let from: Vec<&str> = from.split_whitespace().collect();
        let rest: Vec<&str> = rest.split_whitespace().collect();
        let (to, zone) = match rest.as_slice() {
            [d] if is_date(d) => (&rest[..1], "UTC"),
            [d, z] if is_date(d) && !z.contains(':') => (&rest[..1], *z),
            [d, _] if is_date(d) => (&rest[..2], "UTC"),
            [d, _, z] if is_date(d) => (&rest[..2], *z),
            _ => {
                return Err(bad(
                    "the end must be a date (YYYY-MM-DD), with HH:MM or not",
                ));
            }
        };
        let tz = jiff::tz::TimeZone::get(zone)
            .map_err(|_| bad(&format!("unknown time zone {zone:?}")))?;
        // An instant: the date at the time given, or at the start of the
        // day (`end_of_day`: of the next day, so the last day is whole).
        let instant = |parts: &[&str], end_of_day: bool| -> Result<i64, String> {
            let date: jiff::civil::Date = parts[0]
                .parse()
                .map_err(|_| bad(&format!("{:?} is not a date (YYYY-MM-DD)", parts[0])))?;
            let civil = match parts.get(1) {
                Some(clock) => {
                    let time: jiff::civil::Time =
                        clock
                            .parse()
                            .ok()
                            .filter(|_| clock.len() == 5)
                            .ok_or_else(|| bad(&format!("{clock:?} is not a time (HH:MM)")))?;
                    date.to_datetime(time)
                }
                None if end_of_day => date
                    .tomorrow()
                    .map_err(|_| bad("the end date is out of range"))?
                    .to_datetime(jiff::civil::Time::midnight()),
                None => date.to_datetime(jiff::civil::Time::midnight()),
            };
            tz.to_ambiguous_zoned(civil)
                .compatible()
                .map(|z| z.timestamp().as_second())
                .map_err(|e| bad(&e.to_string()))
        };
        if from.len() > 2 || (from.len() == 2 && from[1].len() != 5) {
            return Err(bad("the start is a date and an optional HH:MM"));
        }
        let (from, to) = (instant(&from, false)?, instant(to, true)?);
        if to <= from {
            return Err(bad("the end is not after the start"));
        }
        Ok(Window {
            span: Span::Dates { from, to },
            zone: zone.to_string(),
            text: text.to_string(),
        })
    }

    /// When a dated window ends (seconds since the epoch); `None` for a
    /// weekly or daily one.
    pub fn ends(&self) -> Option<i64> {
        match self.span {
            Span::Dates { to, .. } => Some(to),
            Span::Repeating { .. } => None,
        }
    }

    /// Is `at` (seconds since the epoch) inside the window?
    pub fn contains(&self, at: i64) -> bool {
        let (start, end, weekly) = match self.span {
            Span::Dates { from, to } => return from <= at && at < to,
            Span::Repeating { start, end, weekly } => (start, end, weekly),
        };
        let Ok(tz) = jiff::tz::TimeZone::get(&self.zone) else {
            return false;
        };
        let Ok(ts) = jiff::Timestamp::from_second(at) else {
            return false;
        };
        let z = ts.to_zoned(tz);
        let day = z.weekday().to_monday_zero_offset() as u32;
        let clock = z.hour() as u32 * 60 + z.minute() as u32;
        let m = if weekly { day * 1440 + clock } else { clock };
        if start <= end {
            start <= m && m < end
        } else {
            m >= start || m < end
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freeze_windows() {
        let w = Window::parse("Fri 16:00 - Mon 08:00 Europe/Berlin").unwrap();
        let at = |s: &str| crate::core::time::parse(s).unwrap();
        // Friday 27 November 2026: Berlin is UTC+1.
        assert!(!w.contains(at("2026-11-27T14:59:00Z")));
        assert!(w.contains(at("2026-11-27T15:00:00Z")));
        assert!(w.contains(at("2026-11-29T12:00:00Z")), "Sunday");
        assert!(w.contains(at("2026-11-30T06:59:00Z")));
        assert!(!w.contains(at("2026-11-30T07:00:00Z")));
        // Summer time: UTC+2.
        assert!(w.contains(at("2026-07-03T14:00:00Z")));
        let night = Window::parse("22:00 - 06:00").unwrap();
        assert!(night.contains(at("2026-11-27T23:30:00Z")));
        assert!(!night.contains(at("2026-11-27T12:00:00Z")));
        for bad in [
            "Fri 16:00 Mon 08:00",
            "Fri 16:00 - 08:00",
            "Fri 25:00 - Mon 08:00",
            "Fri 16:00 - Mon 08:00 Mars/Olympus",
            "Frx 16:00 - Mon 08:00",
        ] {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn date_range_freezes() {
        let at = |s: &str| crate::core::time::parse(s).unwrap();
        let w = Window::parse("2026-12-20 - 2027-01-04 Europe/Berlin").unwrap();
        // Berlin is UTC+1 in winter: the window opens at 23:00 UTC the day
        // before and closes at 23:00 UTC on 4 January (the day is whole).
        assert!(!w.contains(at("2026-12-19T22:59:59Z")));
        assert!(w.contains(at("2026-12-19T23:00:00Z")));
        assert!(w.contains(at("2026-12-31T12:00:00Z")));
        assert!(w.contains(at("2027-01-04T22:59:59Z")));
        assert!(!w.contains(at("2027-01-04T23:00:00Z")));
        assert_eq!(w.ends(), Some(at("2027-01-04T23:00:00Z")));
        let timed = Window::parse("2026-12-20 18:00 - 2027-01-04 08:00").unwrap();
        assert!(!timed.contains(at("2026-12-20T17:59:00Z")));
        assert!(timed.contains(at("2026-12-20T18:00:00Z")));
        assert!(!timed.contains(at("2027-01-04T08:00:00Z")));
        // A summer range: UTC+2.
        let summer = Window::parse("2026-07-01 - 2026-07-01 Europe/Berlin").unwrap();
        assert!(summer.contains(at("2026-06-30T22:00:00Z")));
        assert!(!summer.contains(at("2026-07-01T22:00:00Z")));
        assert_eq!(Window::parse("Fri 16:00 - Mon 08:00").unwrap().ends(), None);
        for (bad, why) in [
            ("2027-01-04 - 2026-12-20", "not after the start"),
            ("2026-12-20 - Mon 08:00", "must be a date"),
            ("2026-13-20 - 2027-01-04", "not a date"),
            ("2026-12-20 25:00 - 2027-01-04", "not a time"),
            ("2026-12-20 - 2027-01-04 Mars/Olympus", "unknown time zone"),
            ("2026-12-20 2027-01-04", "no ` - `"),
        ] {
            let err = Window::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
