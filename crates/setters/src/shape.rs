//! The event stream of an original text, kept in a small process-wide
//! memo so that verifying many edits of one text (a rung planned once per
//! image against the same marker file) parses that text once, not once per
//! edit. Only the edited text is parsed for each edit; its events are
//! compared with the original's by fingerprint.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use granit_parser::{Event, Parser};

use crate::yaml::scan_error;

/// One event of the original: where it starts, a fingerprint of the event
/// (what `==` on events compares: kind, value, style, anchor, tag), and
/// for a scalar a fingerprint of its text alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen {
    pub(crate) start: usize,
    pub(crate) event: u64,
    pub(crate) scalar: Option<u64>,
}

/// The original's events, then how its parse ended: `None` at the end of
/// the stream, or the parse error.
#[derive(Debug)]
pub(crate) struct Shape {
    text: Box<str>,
    pub(crate) events: Vec<Seen>,
    pub(crate) error: Option<String>,
}

/// Texts remembered at most (the latest first), and the largest remembered.
const KEPT: usize = 8;
const LARGEST: usize = 4 << 20;

static MEMO: Mutex<Vec<Arc<Shape>>> = Mutex::new(Vec::new());

/// The shape of `text`, from the memo when the same bytes were seen lately.
pub(crate) fn of(text: &str) -> Arc<Shape> {
    if let Ok(memo) = MEMO.lock()
        && let Some(s) = memo.iter().find(|s| *s.text == *text)
    {
        return s.clone();
    }
    let shape = Arc::new(parse(text));
    if text.len() <= LARGEST
        && let Ok(mut memo) = MEMO.lock()
    {
        memo.insert(0, shape.clone());
        memo.truncate(KEPT);
    }
    shape
}

fn parse(text: &str) -> Shape {
    let mut events = Vec::new();
    let mut error = None;
    for next in Parser::new_from_str(text) {
        match next {
            Ok((ev, span)) => events.push(Seen {
                start: span.byte_range().map_or(usize::MAX, |r| r.start),
                event: fingerprint(&ev),
                scalar: scalar_fingerprint(&ev),
            }),
            Err(e) => {
                error = Some(scan_error(&e).to_string());
                break;
            }
        }
    }
    Shape {
        text: text.into(),
        events,
        error,
    }
}

/// A hash of everything `Event`'s equality compares.
pub(crate) fn fingerprint(e: &Event<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    std::mem::discriminant(e).hash(&mut h);
    match e {
        Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        Event::SequenceEnd | Event::MappingEnd => {}
        Event::Alias(id) => id.hash(&mut h),
        Event::Anchor(id, name) => (id, name).hash(&mut h),
        Event::UnresolvedAlias(name) => name.hash(&mut h),
        Event::Scalar(value, style, anchor, tag) => (value, style, anchor, tag).hash(&mut h),
        Event::SequenceStart(style, anchor, tag) | Event::MappingStart(style, anchor, tag) => {
            (style, anchor, tag).hash(&mut h)
        }
        // Rare (directives) or added later: compared as printed.
        other => format!("{other:?}").hash(&mut h),
    }
    h.finish()
}

/// A hash of a scalar's text alone.
pub(crate) fn scalar_fingerprint(e: &Event<'_>) -> Option<u64> {
    match e {
        Event::Scalar(value, ..) => Some(text_fingerprint(value)),
        _ => None,
    }
}

/// The fingerprint [`scalar_fingerprint`] gives a scalar reading `s`.
pub(crate) fn text_fingerprint(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}
