//! Range, version and float parsers: never panic on any input.
#![no_main]
use hoist_policy::{Range, Version, parse_go_float};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = parse_go_float(s);
    let v = Version::parse_loose(s);
    let _ = Version::parse_tag(s);
    if let Ok(r) = Range::parse(s) {
        let _ = r.to_string();
        for probe in ["0.0.0", "1.2.3", "1.2.3-rc.1", "99999.0.0-x"] {
            let _ = r.matches(&Version::parse_loose(probe).unwrap());
        }
        if let Ok(v) = &v {
            let _ = r.matches(v);
        }
    }
});
