//! filterTags / exclusionList patterns in Go's syntax: parsing never
//! panics, and whatever Go's grammar accepts the engine compiles (an
//! "internal error" would mean the translation emitted bad syntax).
#![no_main]
use hoist_policy::TagFilter;
use hoist_policy::goregex::{GoRegex, PatternError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first line is the pattern, the rest a tag to match and extract.
    let (pattern, tag) = text.split_once('\n').unwrap_or((text, "v1.2.3-rc.1"));
    match GoRegex::new(pattern) {
        Ok(re) => {
            let _ = re.is_match(tag);
            if let Ok(f) = TagFilter::new(pattern, "$1-${name}-$$") {
                let _ = f.key(tag);
            }
        }
        Err(PatternError::Go(e)) => {
            assert!(!e.to_string().contains("internal error"), "{pattern:?}: {e}");
        }
        Err(PatternError::TooLarge) => {}
    }
});
