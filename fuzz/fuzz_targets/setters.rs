//! Marker/scalar locator + verified splice: never panic, and a verified
//! edit changes nothing outside the replaced spans.
#![no_main]
use hoist_setters::{Replacement, apply_verified, render, scan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(found) = scan(text) else { return };
    let mut reps = Vec::new();
    let mut last_end = 0;
    for s in &found.setters {
        assert!(s.span.start <= s.span.end && s.span.end <= text.len());
        assert!(text.is_char_boundary(s.span.start) && text.is_char_boundary(s.span.end));
        if s.span.start < last_end {
            continue;
        }
        last_end = s.span.end;
        let new = "1.2.3-rc.1".to_string();
        reps.push(Replacement { span: s.span.clone(), old: s.value.clone(), text: render(s.style, &new), new });
    }
    if let Ok(out) = apply_verified(text, &reps) {
        // Outside the spans, the bytes are identical.
        let mut at_old = 0;
        let mut at_new = 0;
        for r in &reps {
            let keep = r.span.start - at_old;
            assert_eq!(&text[at_old..r.span.start], &out[at_new..at_new + keep]);
            at_new += keep + r.text.len();
            at_old = r.span.end;
        }
        assert_eq!(&text[at_old..], &out[at_new..]);
    }
});
