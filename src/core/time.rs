//! UTC timestamps as forges and Flux write them (RFC 3339), as seconds
//! since the epoch both ways (the calendar is jiff's), and Go durations.

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `secs` as a jiff timestamp, clamped into the years jiff represents
/// (-9999 to 9999); a forge never sends anything outside them.
fn timestamp(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(secs).unwrap_or(if secs < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    })
}

/// `2026-11-27T12:03:07Z`, `…07.123Z`, `…07+01:00` → seconds since the
/// epoch. `None` for anything else: the shape is RFC 3339's exactly (an
/// offset with its colon, no bare date), the calendar is jiff's.
pub fn parse(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let offset = match s.rfind(['Z', 'z', '+', '-']) {
        Some(i) if i >= 19 => &s[i..],
        _ => return None,
    };
    if !(matches!(offset, "Z" | "z") || (offset.len() == 6 && offset.as_bytes()[3] == b':')) {
        return None;
    }
    let normal = format!("{}T{}", &s[..10], &s[11..]).replace('z', "Z");
    normal
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// Seconds since the epoch → `2026-11-27T12:03:07Z`.
pub fn format(secs: i64) -> String {
    timestamp(secs).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `12:03:07` (UTC).
pub fn clock(secs: i64) -> String {
    timestamp(secs).strftime("%H:%M:%S").to_string()
}

/// Day of the week, 0 = Monday.
pub fn weekday(secs: i64) -> i64 {
    i64::from(
        timestamp(secs)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .weekday()
            .to_monday_zero_offset(),
    )
}

/// A span for people: `45s`, `12m`, `2h05m`.
pub fn human(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// Go's `time.ParseDuration` for the units Flux intervals use (`ns`,
/// `us`/`µs`, `ms`, `s`, `m`, `h`), with fractions (`1.5h`) and
/// sequences (`1h30m`). Negative durations are refused.
pub fn parse_go_duration(s: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("{s:?} is not a duration (e.g. 30s, 5m, 1h30m)");
    if s == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    if !total.is_finite() || total > 1e10 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_offsets() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        let t = parse("2026-11-27T12:03:07Z").unwrap();
        assert_eq!(format(t), "2026-11-27T12:03:07Z");
        assert_eq!(parse("2026-11-27T13:03:07+01:00"), Some(t));
        assert_eq!(parse("2026-11-27T12:03:07.250Z"), Some(t));
        assert_eq!(clock(t), "12:03:07");
        assert_eq!(weekday(t), 4, "a Friday");
        assert_eq!(
            format(parse("2024-02-29T23:59:59Z").unwrap()),
            "2024-02-29T23:59:59Z"
        );
        for bad in [
            "",
            "2026-11-27",
            "2026-13-01T00:00:00Z",
            "2026-11-27T12:03:07",
            "x026-11-27T12:03:07Z",
            "2026-11-27T12:03:07+0100",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
