//! Go's `strconv.ParseFloat(s, 64)`, which Flux's numerical policy uses.
//!
//! Accepted: Go float literal syntax — optional sign, decimal digits with an
//! optional point and `e` exponent, hexadecimal mantissas that *must* carry a
//! `p` exponent (`0x1p4`), `_` between digits, and `inf`/`infinity`/`nan` in
//! any case (signs only on infinities). Rejected: surrounding spaces, `0x10`,
//! and finite literals that overflow to infinity (`1e400`).

/// Parse like Go. `None` means Go would have returned an error.
pub fn parse_go_float(s: &str) -> Option<f64> {
    if let Some(v) = special(s) {
        return Some(v);
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut neg = false;
    if let Some(&c) = b.first()
        && (c == b'+' || c == b'-')
    {
        neg = c == b'-';
        i = 1;
    }
    let hex = i + 2 < b.len() && b[i] == b'0' && (b[i + 1] | 0x20) == b'x';
    let value = if hex {
        parse_hex(&b[i + 2..])?
    } else {
        parse_decimal(&s[i..])?
    };
    if value.is_infinite() {
        return None;
    }
    if !underscores_ok(s) {
        return None;
    }
    Some(if neg { -value } else { value })
}

fn special(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let (sign, rest) = match lower.as_bytes().first() {
        Some(b'+') => (1.0, &lower[1..]),
        Some(b'-') => (-1.0, &lower[1..]),
        _ => (1.0, lower.as_str()),
    };
    if rest == "inf" || rest == "infinity" {
        return Some(sign * f64::INFINITY);
    }
    if lower == "nan" {
        return Some(f64::NAN);
    }
    None
}

/// Decimal: digits with optional `.`, at least one digit, optional exponent.
fn parse_decimal(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    let mut dot = false;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => digits += 1,
            b'_' => {}
            b'.' if !dot => dot = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] | 0x20) == b'e' {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if i >= b.len() || !b[i].is_ascii_digit() {
            return None;
        }
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    if i != b.len() {
        return None;
    }
    let cleaned: String = s.chars().filter(|&c| c != '_').collect();
    cleaned.parse::<f64>().ok()
}

/// Hex mantissa (after `0x`) with a required binary exponent.
fn parse_hex(b: &[u8]) -> Option<f64> {
    let mut i = 0;
    let mut mantissa: f64 = 0.0;
    let mut digits = 0;
    let mut frac_digits: i64 = 0;
    let mut dot = false;
    while i < b.len() {
        let c = b[i];
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'_' => {
                i += 1;
                continue;
            }
            b'.' if !dot => {
                dot = true;
                i += 1;
                continue;
            }
            _ => break,
        };
        mantissa = mantissa * 16.0 + f64::from(d);
        digits += 1;
        if dot {
            frac_digits += 1;
        }
        i += 1;
    }
    if digits == 0 || i >= b.len() || (b[i] | 0x20) != b'p' {
        return None;
    }
    i += 1;
    let mut esign = 1i64;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        if b[i] == b'-' {
            esign = -1;
        }
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return None;
    }
    let mut e: i64 = 0;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        if b[i] != b'_' && e < 10_000 {
            e = e * 10 + i64::from(b[i] - b'0');
        }
        i += 1;
    }
    if i != b.len() {
        return None;
    }
    let exp = esign * e - 4 * frac_digits;
    let exp = i32::try_from(exp.clamp(-2000, 2000)).ok()?;
    Some(mantissa * 2f64.powi(exp))
}

/// Go's rule: an `_` must sit between digits (a base prefix counts as one).
fn underscores_ok(s: &str) -> bool {
    if !s.contains('_') {
        return true;
    }
    let mut b = s.as_bytes();
    if let Some(&c) = b.first()
        && (c == b'+' || c == b'-')
    {
        b = &b[1..];
    }
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = (b[1] | 0x20) == b'x';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

#[cfg(test)]
mod tests {
    use super::parse_go_float as p;

    #[test]
    fn accepts_go_literals() {
        assert_eq!(p("+5"), Some(5.0));
        assert_eq!(p(".5"), Some(0.5));
        assert_eq!(p("5."), Some(5.0));
        assert_eq!(p("1_000"), Some(1000.0));
        assert_eq!(p("0x1p4"), Some(16.0));
        assert_eq!(p("0x1.8p1"), Some(3.0));
        assert_eq!(p("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(p("INF"), Some(f64::INFINITY));
        assert!(p("NaN").unwrap().is_nan());
        assert_eq!(p("1e-400"), Some(0.0));
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "0x10", " 5", "5 ", "1e400", "", "1a", "_1", "1_", "1__0", "+nan", "infinit", "1e",
            ".", "-", "0x", "1.2.3",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }
}
