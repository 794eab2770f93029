//! Every case from the Flux and Masterminds/semver tables (copied into
//! `fixtures/conformance/`) must hold for hoist's policy engine.

use hoist::policy::{Fate, ParseMode, Policy, PolicySpec, Range, Version};
use serde::Deserialize;
use std::collections::BTreeMap;

fn load<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = format!("{}/fixtures/conformance/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[derive(Deserialize)]
struct Params {
    range: Option<String>,
    order: Option<String>,
}

#[derive(Deserialize)]
struct Filter {
    pattern: String,
    extract: String,
}

#[derive(Deserialize)]
struct PolicyCase {
    id: String,
    policy: Option<String>,
    params: Params,
    #[serde(default)]
    filter: Option<Filter>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    expected_latest: Option<String>,
    #[serde(default)]
    expect_error: bool,
}

#[derive(Deserialize)]
struct FilterCase {
    id: String,
    pattern: String,
    extract: String,
    tags: Vec<String>,
    expected_mapping_extracted_to_original: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ParseVersionCase {
    tag: String,
    expect_error: bool,
}

#[derive(Deserialize)]
struct PolicyTables {
    constructor_cases: Vec<PolicyCase>,
    policy_cases: Vec<PolicyCase>,
    filter_cases: Vec<FilterCase>,
    pipeline_cases: Vec<PolicyCase>,
    parse_version_cases: Vec<ParseVersionCase>,
}

fn spec_of(c: &PolicyCase) -> PolicySpec {
    let mut spec = PolicySpec::default();
    match c.policy.as_deref() {
        Some("semver") => spec.semver_range = Some(c.params.range.clone().unwrap_or_default()),
        Some("alphabetical") => {
            spec.alphabetical_order = Some(c.params.order.clone().unwrap_or_default())
        }
        Some("numerical") => {
            spec.numerical_order = Some(c.params.order.clone().unwrap_or_default())
        }
        _ => {}
    }
    if let Some(f) = &c.filter {
        spec.filter_pattern = Some(f.pattern.clone());
        spec.filter_extract = Some(f.extract.clone());
    }
    spec
}

#[test]
fn flux_policy_tables() {
    let t: PolicyTables = load("policy-cases.yaml");
    let mut checked = 0;
    for c in &t.constructor_cases {
        let r = Policy::from_spec(&spec_of(c));
        assert_eq!(r.is_err(), c.expect_error, "{}: {:?}", c.id, r.err());
        checked += 1;
    }
    for c in t.policy_cases.iter().chain(&t.pipeline_cases) {
        let result = Policy::from_spec(&spec_of(c))
            .map_err(|e| e.to_string())
            .and_then(|p| {
                // A null tag list stands for "could not read tags": nothing to select from.
                let tags = c.tags.clone().unwrap_or_default();
                p.select(&tags).map(|s| s.tag).map_err(|e| e.to_string())
            });
        if c.expect_error {
            assert!(
                result.is_err(),
                "{}: expected an error, got {result:?}",
                c.id
            );
        } else {
            assert_eq!(
                result.as_deref().ok(),
                c.expected_latest.as_deref(),
                "{}: {result:?}",
                c.id
            );
        }
        checked += 1;
    }
    for c in &t.filter_cases {
        // Run the filter through an alphabetical policy in explain mode and
        // read the surviving keys back from the fates.
        let spec = PolicySpec {
            alphabetical_order: Some(String::new()),
            filter_pattern: Some(c.pattern.clone()),
            filter_extract: Some(c.extract.clone()),
            ..Default::default()
        };
        let p = Policy::from_spec(&spec).unwrap();
        let (fates, _) = p.explain(&c.tags);
        let mut got = BTreeMap::new();
        for (tag, fate) in c.tags.iter().zip(&fates) {
            if let Fate::Candidate { key } | Fate::Selected { key } = fate {
                got.insert(key.clone(), tag.clone());
            }
        }
        assert_eq!(got, c.expected_mapping_extracted_to_original, "{}", c.id);
        checked += 1;
    }
    for c in &t.parse_version_cases {
        assert_eq!(
            Version::parse_tag(&c.tag).is_err(),
            c.expect_error,
            "tag {:?}",
            c.tag
        );
        checked += 1;
    }
    assert!(checked > 80, "only {checked} cases ran");
}

#[derive(Deserialize)]
struct CheckCase {
    constraint: String,
    version: String,
    expected: bool,
    #[serde(default)]
    public_api_new_constraint_error: Option<String>,
}

#[derive(Deserialize)]
struct VersionParseCase {
    mode: String,
    version: String,
    expect_error: bool,
    #[serde(default)]
    string: Option<String>,
}

#[derive(Deserialize)]
struct ConstraintParseCase {
    input: String,
    expect_error: bool,
    #[serde(default)]
    ors: Option<usize>,
    #[serde(default)]
    ands_in_first_or: Option<usize>,
    #[serde(default)]
    string: Option<String>,
}

#[derive(Deserialize)]
struct CompareCase {
    v1: String,
    v2: String,
    #[serde(default)]
    expected_compare: Option<i32>,
    #[serde(default)]
    relation: Option<String>,
    #[serde(default)]
    expected: Option<bool>,
}

#[derive(Deserialize)]
struct SemverTables {
    check_cases: Vec<CheckCase>,
    single_constraint_check_cases: Vec<CheckCase>,
    version_parse_cases: Vec<VersionParseCase>,
    new_constraint_parse_cases: Vec<ConstraintParseCase>,
    version_compare_cases: Vec<CompareCase>,
}

#[test]
fn masterminds_semver_tables() {
    let t: SemverTables = load("semver-cases.yaml");
    let mut failures = Vec::new();
    let mut checked = 0;
    for c in t.check_cases.iter().chain(&t.single_constraint_check_cases) {
        checked += 1;
        let range = Range::parse(&c.constraint);
        if c.public_api_new_constraint_error.is_some() {
            // Flux uses the public constructor, which rejects these ranges.
            if range.is_ok() {
                failures.push(format!("{:?} should not parse", c.constraint));
            }
            continue;
        }
        let v = Version::parse_loose(&c.version).expect("table versions parse");
        match range {
            Err(e) => failures.push(format!("{:?}: {e}", c.constraint)),
            Ok(r) if r.matches(&v) != c.expected => failures.push(format!(
                "{:?} vs {:?}: expected {}",
                c.constraint, c.version, c.expected
            )),
            Ok(_) => {}
        }
    }
    for c in &t.version_parse_cases {
        let mode = if c.mode.starts_with("NewVersion (default") {
            ParseMode::Coerce
        } else if c.mode.starts_with("NewVersion with CoerceNewVersion=false") {
            ParseMode::NoCoerce
        } else if c.mode == "StrictNewVersion" {
            ParseMode::Strict
        } else {
            panic!("unknown parse mode {:?}", c.mode)
        };
        checked += 1;
        match Version::parse_mode(&c.version, mode) {
            Ok(v) if c.expect_error => failures.push(format!(
                "{mode:?} {:?} should not parse, got {v}",
                c.version
            )),
            Ok(v) => {
                if let Some(s) = &c.string
                    && &v.to_string() != s
                {
                    failures.push(format!("{:?} normalises to {v}, expected {s}", c.version));
                }
            }
            Err(e) if !c.expect_error => failures.push(format!("{mode:?} {:?}: {e}", c.version)),
            Err(_) => {}
        }
    }
    for c in &t.new_constraint_parse_cases {
        checked += 1;
        match Range::parse(&c.input) {
            Ok(r) if c.expect_error => {
                failures.push(format!("{:?} should not parse, got {r}", c.input))
            }
            Ok(r) => {
                let (ors, ands) = r.shape();
                if Some(ors) != c.ors || Some(ands) != c.ands_in_first_or {
                    failures.push(format!("{:?}: shape {ors}/{ands}", c.input));
                }
                if c.string.as_deref() != Some(r.to_string().as_str()) {
                    failures.push(format!(
                        "{:?}: prints as {r}, expected {:?}",
                        c.input, c.string
                    ));
                }
            }
            Err(e) if !c.expect_error => failures.push(format!("{:?}: {e}", c.input)),
            Err(_) => {}
        }
    }
    for c in &t.version_compare_cases {
        checked += 1;
        let a = Version::parse_loose(&c.v1).unwrap();
        let b = Version::parse_loose(&c.v2).unwrap();
        let o = a.precedence(&b) as i32;
        let ok = match (c.expected_compare, c.relation.as_deref(), c.expected) {
            (Some(e), _, _) => o == e,
            (None, Some("less_than"), Some(e)) => (o < 0) == e,
            (None, Some("greater_than"), Some(e)) => (o > 0) == e,
            _ => false,
        };
        if !ok {
            failures.push(format!("compare {:?} {:?} gave {o}", c.v1, c.v2));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 380, "only {checked} cases ran");
}

#[derive(Deserialize)]
struct DigestCase {
    id: String,
    tags: Vec<String>,
    range_1st_pass: String,
    range_2nd_pass: String,
    #[serde(rename = "digestReflectionPolicy_1st_pass")]
    policy_1st: String,
    #[serde(rename = "digestReflectionPolicy_2nd_pass")]
    policy_2nd: String,
    expected_digest_1st_pass: String,
    expected_digest_2nd_pass: String,
}

#[derive(Deserialize)]
struct DigestTables {
    digest_reflection_cases: Vec<DigestCase>,
}

/// Flux's two-pass digest reflection table, run through `plan::plan`: the
/// first pass's edits are the repository the second pass reads, and every
/// marker form (`:image` in one document, `:tag` + `:digest` in another)
/// must end with the digest Flux's status would hold.
#[test]
fn flux_digest_reflection_transitions() {
    use hoist::config::Config;
    use hoist::core::tags::TagList;
    use hoist::observe::repo::{SourceFile, source_file};
    let t: DigestTables = load("policy-cases.yaml");
    assert_eq!(t.digest_reflection_cases.len(), 11);
    let file = |rel: &str, text: &str| -> SourceFile {
        source_file(rel.into(), rel.into(), text.as_bytes().to_vec())
            .unwrap()
            .unwrap()
    };
    let objects = |range: &str, reflection: &str| {
        format!(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: app, namespace: ns}}\nspec: {{image: reg.example/app, interval: 1m}}\n---\n\
             apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: app, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: app}}\n  digestReflectionPolicy: {reflection}\n  policy: {{semver: {{range: '{range}'}}}}\n"
        )
    };
    let workloads = "kind: A\nmetadata: {name: a}\nimage: reg.example/app:0.0.0 # {\"$imagepolicy\": \"ns:app\"}\n---\n\
                     kind: B\nmetadata: {name: b}\ntag: \"0.0.0\" # {\"$imagepolicy\": \"ns:app:tag\"}\ndigest: \"\" # {\"$imagepolicy\": \"ns:app:digest\"}\n";
    // The digests each marker form ends with: (from `:image`, from `:digest`).
    let digests = |text: &str| -> (String, String) {
        let image = text
            .lines()
            .find(|l| l.starts_with("image: "))
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|r| r.split_once('@'))
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        let digest = text
            .lines()
            .find(|l| l.starts_with("digest: "))
            .map(|l| {
                l.split(' ')
                    .nth(1)
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_string()
            })
            .unwrap_or_default();
        (image, digest)
    };
    let run = |range: &str, reflection: &str, text: &str, tags: &[String], pass: &str| {
        let files = vec![
            file("flux.yaml", &objects(range, reflection)),
            file("apps.yaml", text),
        ];
        // Each resolution returns a new digest, named after the pass, as in the upstream test.
        let list = TagList {
            tags: tags.to_vec(),
            digests: tags
                .iter()
                .map(|t| (t.clone(), format!("sha256:{pass}-{t}")))
                .collect(),
            ..Default::default()
        };
        let plan = hoist::decide::plan::plan(&files, &Config::default(), |_| Ok(&list));
        assert!(
            plan.diagnostics.iter().all(|d| !d.is_error()),
            "{:?}",
            plan.diagnostics
        );
        plan.files
            .first()
            .map_or(text.to_string(), |f| f.updated.to_string())
    };
    let upstream = |d: &str, pass: &str| {
        // The table writes digests as D1(tag) / D2(tag).
        d.strip_prefix(&format!("{pass}("))
            .and_then(|r| r.strip_suffix(')'))
            .map_or(String::new(), |tag| format!("sha256:{pass}-{tag}"))
    };
    for c in &t.digest_reflection_cases {
        let after1 = run(&c.range_1st_pass, &c.policy_1st, workloads, &c.tags, "D1");
        let want1 = upstream(&c.expected_digest_1st_pass, "D1");
        assert_eq!(
            digests(&after1),
            (want1.clone(), want1),
            "{} pass 1:\n{after1}",
            c.id
        );
        let after2 = run(&c.range_2nd_pass, &c.policy_2nd, &after1, &c.tags, "D2");
        let want2 = upstream(&c.expected_digest_2nd_pass, "D2")
            .or_if_empty(upstream(&c.expected_digest_2nd_pass, "D1"));
        assert_eq!(
            digests(&after2),
            (want2.clone(), want2),
            "{} pass 2:\n{after2}",
            c.id
        );
    }
}

trait OrIfEmpty {
    fn or_if_empty(self, other: String) -> String;
}

impl OrIfEmpty for String {
    fn or_if_empty(self, other: String) -> String {
        if self.is_empty() { other } else { self }
    }
}

#[derive(Deserialize)]
struct GoFind {
    pattern: String,
    text: String,
    expect: Option<Vec<i64>>,
}

#[derive(Deserialize)]
struct GoInvalid {
    pattern: String,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct GoTables {
    find: Vec<GoFind>,
    invalid: Vec<GoInvalid>,
    valid: Vec<String>,
}

/// Go's `FindStringSubmatchIndex` for the first match.
fn go_find(re: &hoist::policy::goregex::GoRegex, text: &str) -> Option<Vec<i64>> {
    let caps = re.regex().captures(text)?;
    Some(
        (0..caps.len())
            .flat_map(|i| match caps.get(i) {
                Some(m) => [m.start() as i64, m.end() as i64],
                None => [-1, -1],
            })
            .collect(),
    )
}

#[test]
fn go_regexp_tables() {
    use hoist::policy::goregex::GoRegex;
    let t: GoTables = load("go-regexp.yaml");
    let mut failures = Vec::new();
    for c in &t.find {
        match GoRegex::new(&c.pattern) {
            Err(e) => failures.push(format!("{:?}: refused: {e}", c.pattern)),
            Ok(re) => {
                let got = go_find(&re, &c.text);
                if got != c.expect {
                    failures.push(format!(
                        "{:?} on {:?}: got {got:?}, want {:?} (as {:?})",
                        c.pattern,
                        c.text,
                        c.expect,
                        re.regex().as_str()
                    ));
                }
            }
        }
    }
    for c in &t.invalid {
        match GoRegex::new(&c.pattern) {
            Ok(re) => failures.push(format!(
                "{:?}: accepted (as {:?}), Go refuses it",
                c.pattern,
                re.regex().as_str()
            )),
            Err(e) => {
                let msg = e.to_string();
                if !msg.starts_with("error parsing regexp: ") {
                    failures.push(format!("{:?}: not Go's message: {msg}", c.pattern));
                }
                if let Some(want) = &c.error
                    && &msg != want
                {
                    failures.push(format!("{:?}: got {msg:?}, want {want:?}", c.pattern));
                }
            }
        }
    }
    for p in &t.valid {
        if let Err(e) = GoRegex::new(p) {
            failures.push(format!("{p:?}: refused: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} Go regexp rows failed:\n{}",
        failures.len(),
        t.find.len() + t.invalid.len() + t.valid.len(),
        failures.join("\n")
    );
}

#[derive(Deserialize)]
struct PlacementCase {
    name: String,
    yaml: String,
    applies: Option<String>,
}

#[derive(Deserialize)]
struct Placements {
    cases: Vec<PlacementCase>,
}

/// Markers are read where go-yaml puts the comment, as Flux's setter
/// reads them; the others are reported, never applied.
#[test]
fn marker_placement_follows_go_yaml_comment_attachment() {
    let table: Placements = load("marker-placement.yaml");
    assert!(table.cases.len() >= 10);
    for c in &table.cases {
        let scan = hoist::setters::scan(&c.yaml).unwrap();
        let got: Vec<&str> = scan.setters.iter().map(|s| s.value.as_str()).collect();
        match &c.applies {
            Some(v) => {
                assert_eq!(got, [v.as_str()], "{}: {:?}", c.name, scan.problems);
                assert!(scan.problems.is_empty(), "{}", c.name);
            }
            None => {
                assert!(got.is_empty(), "{}: applied {got:?}", c.name);
                assert_eq!(scan.problems.len(), 1, "{}", c.name);
            }
        }
    }
}
