//! Faults between hoist and a real registry: each ends in a retry that
//! succeeds or a clear per-image error, in bounded time, without a panic.

use crate::common;
use common::proxy::{Fault, Links, Proxy};
use common::registry::{Registry, fleet};
use common::*;

struct Setup {
    _reg: Registry,
    proxy: Proxy,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let reg = Registry::start(None);
    reg.push("acme/app", &["1.0.0".to_string(), "1.4.2".to_string()]);
    let proxy = Proxy::start(reg.host(), Some(1), Links::Relative);
    let dir = tempfile::tempdir().unwrap();
    fleet(
        dir.path(),
        &format!("{}/acme/app", proxy.host()),
        ">=1.0.0",
        false,
    );
    write(
        dir.path(),
        "hoist.toml",
        "[scan]\ntimeout_seconds = 2\nretries = 2\nrequests_per_second = 200\n",
    );
    Setup {
        _reg: reg,
        proxy,
        dir,
    }
}

fn scan(s: &Setup) -> (Run, serde_json::Value) {
    let run = hoist(&[
        "scan",
        "--repo",
        common::s(s.dir.path()),
        "--output",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_default();
    (run, v)
}

fn assert_selected(s: &Setup, what: &str) {
    let (run, v) = scan(s);
    assert_eq!(run.code, 0, "{what}: {}", run.stderr);
    assert_eq!(v["images"][0]["policies"][0]["tag"], "1.4.2", "{what}");
}

fn assert_error(s: &Setup, what: &str, needle: &str) {
    let (run, v) = scan(s);
    assert_eq!(run.code, 1, "{what}");
    let err = v["images"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        err.contains(needle),
        "{what}: {err:?} should mention {needle:?}"
    );
    let diags = v["diagnostics"].to_string();
    assert!(diags.contains(needle), "{what}: {diags}");
}

#[test]
fn transient_faults_are_retried() {
    let s = setup();
    assert_selected(&s, "no fault");
    assert_eq!(s.proxy.injected(), 0);
    for (fault, what, n) in [
        (Fault::ServerError(2), "two 500s", 2),
        (Fault::TooMany(1), "429 with Retry-After", 1),
        (Fault::Stall(1), "a stalled reply", 1),
        (Fault::CutBody(2), "connections cut mid-body", 2),
    ] {
        s.proxy.set(fault);
        assert_selected(&s, what);
        // The faults really reached hoist, and it asked again after each.
        assert_eq!(s.proxy.injected(), n, "{what}: faults served");
        assert!(
            s.proxy
                .tag_requests
                .load(std::sync::atomic::Ordering::SeqCst)
                > n,
            "{what}: retried after the faults"
        );
    }
}

#[test]
fn persistent_faults_are_clear_per_image_errors() {
    let s = setup();
    let cases = [
        (
            Fault::ServerError(100),
            "persistent 500s",
            "answered 500 after 3 attempts",
        ),
        (
            Fault::Stall(100),
            "a registry that never answers",
            "timed out",
        ),
        (
            Fault::CutBody(100),
            "connections always cut",
            "connection broke while reading the reply",
        ),
        (Fault::Malformed, "malformed JSON", "malformed reply"),
        (Fault::LinkLoop, "a Link loop", "Link header loops back"),
        (Fault::Endless, "an endless body", "is larger than"),
    ];
    for (fault, what, needle) in cases {
        s.proxy.set(fault);
        assert_error(&s, what, needle);
        assert!(s.proxy.injected() > 0, "{what}: no fault was served");
    }
    // Retry-After longer than hoist will wait: a clear error, not a long sleep.
    s.proxy.set(Fault::TooMany(100));
    assert_error(&s, "429 for ever", "too many requests");
}
