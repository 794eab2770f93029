//! Every other file a repository or a registry snapshot feeds hoist:
//! hoist.toml, registry snapshots, and YAML documents holding Flux objects
//! (read through the full plan). The first byte picks the parser.
#![no_main]
use hoist::config::{self, Config};
use hoist::observe::repo::source_file;
use hoist::core::tags::TagList;
use hoist::observe::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match which % 3 {
        0 => {
            let _ = config::parse(text, "hoist.toml");
        }
        1 => {
            let _ = Snapshot::parse(text, "snapshot.yaml");
        }
        _ => {
            let Ok(Some(file)) = source_file("f.yaml".into(), "f.yaml".into(), rest.to_vec())
            else {
                return;
            };
            let list = TagList {
                tags: vec!["1.0.0".into(), "1.1.0".into(), "main-abc1234-1700000000".into()],
                ..Default::default()
            };
            let _ = hoist::decide::plan::plan(&[file], &Config::default(), |_| Ok(&list));
        }
    }
});
