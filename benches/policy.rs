//! Policy selection speed: `cargo bench --bench policy -- TAGS_FILE RANGE PATTERN EXTRACT`.
//! Prints `hoist_ns_per_selection=<n> selected=<tag>` for bench/run.sh.

use std::time::Instant;

use hoist::policy::{Policy, PolicySpec};

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let [_, file, range, pattern, extract] = args.as_slice() else {
        eprintln!("usage: policy TAGS_FILE RANGE PATTERN EXTRACT (run via bench/run.sh)");
        return;
    };
    let text = std::fs::read_to_string(file).expect("tags file");
    let tags: Vec<&str> = text.lines().collect();
    let spec = PolicySpec {
        semver_range: Some(range.clone()),
        filter_pattern: Some(pattern.clone()),
        filter_extract: Some(extract.clone()),
        ..Default::default()
    };
    let policy = Policy::from_spec(&spec).expect("policy");
    // Warm up, then time enough selections for a stable number.
    let mut selected = policy.select(&tags).expect("selection").tag;
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        selected = policy.select(&tags).expect("selection").tag;
    }
    let ns = start.elapsed().as_nanos() / rounds;
    println!(
        "hoist_ns_per_selection={ns} selected={selected} tags={}",
        tags.len()
    );
}
