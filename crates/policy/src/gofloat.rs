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

/// Hex mantissa (after `0x`) with a required binary exponent, rounded
/// exactly as Go does (to nearest, ties to even), subnormals included.
fn parse_hex(b: &[u8]) -> Option<f64> {
    // value = mantissa * 2^exp; `sticky` records non-zero digits that did
    // not fit in the 60 bits kept (enough for 53 bits plus rounding).
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut digits = 0;
    let mut dot = false;
    let mut i = 0;
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
        if mantissa < 1 << 56 {
            mantissa = mantissa * 16 + u64::from(d);
            if dot {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !dot {
                exp += 4;
            }
        }
        digits += 1;
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
        if b[i] != b'_' && e < 100_000 {
            e = e * 10 + i64::from(b[i] - b'0');
        }
        i += 1;
    }
    if i != b.len() {
        return None;
    }
    Some(compose(mantissa, exp + esign * e, sticky))
}

/// The f64 nearest to `m * 2^exp` (plus a sticky fraction below `m`'s
/// last bit), ties to even; infinity on overflow, zero on underflow.
fn compose(m: u64, exp: i64, sticky: bool) -> f64 {
    if m == 0 {
        return 0.0;
    }
    let bits = 64 - i64::from(m.leading_zeros());
    let top = exp + bits - 1;
    if top > 1023 {
        return f64::INFINITY;
    }
    // Exponent of the result's last significand bit: 52 below the top
    // bit, but never below the smallest subnormal's.
    let mut lsb = (top - 52).max(-1074);
    let shift = lsb - exp;
    let mut sig = if shift <= 0 {
        m << -shift
    } else if shift > 63 {
        0
    } else {
        let dropped = m & ((1u64 << shift) - 1);
        let half = 1u64 << (shift - 1);
        let sig = m >> shift;
        let up = dropped > half || (dropped == half && (sticky || sig & 1 == 1));
        sig + u64::from(up)
    };
    if sig == 1 << 53 {
        sig >>= 1;
        lsb += 1;
    }
    if sig >= 1 << 52 {
        let biased = lsb + 52 + 1023;
        if biased >= 2047 {
            return f64::INFINITY;
        }
        f64::from_bits(((biased as u64) << 52) | (sig & ((1 << 52) - 1)))
    } else {
        // Subnormal (lsb is -1074).
        f64::from_bits(sig)
    }
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
    fn hex_floats_round_like_go() {
        // Subnormals below 2^-1022 are values, not zero.
        assert_eq!(p("0x1p-1074"), Some(f64::from_bits(1)));
        assert_eq!(p("0x1p-1022"), Some(f64::MIN_POSITIVE));
        assert_eq!(p("0x.8p-1073"), Some(f64::from_bits(1)));
        assert_eq!(p("0x1.8p-1074"), Some(f64::from_bits(2)));
        assert_eq!(p("0x1p-1075"), Some(0.0));
        assert_eq!(p("0x1.0000000000001p-1075"), Some(f64::from_bits(1)));
        assert_eq!(p("0x1.fffffffffffffp1023"), Some(f64::MAX));
        assert_eq!(p("0x1p1024"), None);
        assert_eq!(p("0x1.fffffffffffff8p1023"), None);
        // Ties to even, and digits past the 60 kept bits still count.
        assert_eq!(p("0x1.00000000000008p0"), Some(1.0));
        assert_eq!(p("0x1.00000000000018p0"), Some(1.0 + 2f64.powi(-51)));
        assert_eq!(p("0x1.000000000000080000001p0"), Some(1.0 + f64::EPSILON));
        assert_eq!(p("0x10000000000000000000p-76"), Some(1.0));
        assert_eq!(p("-0x1p-1074"), Some(-f64::from_bits(1)));
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
