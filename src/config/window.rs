//! Freeze windows (`freeze = ["Fri 16:00 - Mon 08:00 Europe/Berlin"]`):
//! weekly or daily spans of local time in a time zone (jiff, with the
//! time zone database built in, so a container without
//! /usr/share/zoneinfo still knows Europe/Berlin and its summer time).

/// A weekly or daily window in a time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Minutes since Monday 00:00 (weekly) or since midnight (daily).
    start: u32,
    end: u32,
    weekly: bool,
    zone: String,
    pub text: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Window {
    /// `Fri 16:00 - Mon 08:00 Europe/Berlin`, `22:00 - 06:00 UTC`, zone
    /// optional (UTC).
    pub fn parse(text: &str) -> Result<Window, String> {
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
            start: minutes(&from)?,
            end: minutes(&to)?,
            weekly: from.len() == 2,
            zone: zone.to_string(),
            text: text.to_string(),
        })
    }

    /// Is `at` (seconds since the epoch) inside the window?
    pub fn contains(&self, at: i64) -> bool {
        let Ok(tz) = jiff::tz::TimeZone::get(&self.zone) else {
            return false;
        };
        let Ok(ts) = jiff::Timestamp::from_second(at) else {
            return false;
        };
        let z = ts.to_zoned(tz);
        let day = z.weekday().to_monday_zero_offset() as u32;
        let clock = z.hour() as u32 * 60 + z.minute() as u32;
        let m = if self.weekly {
            day * 1440 + clock
        } else {
            clock
        };
        if self.start <= self.end {
            self.start <= m && m < self.end
        } else {
            m >= self.start || m < self.end
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
}
