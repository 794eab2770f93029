//! Commit message templates are repository input: parsing and rendering
//! arbitrary text must end in a value or an error, within the bounds.
#![no_main]
use hoist_template::{MAX_OUTPUT, Template, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let Ok(t) = Template::parse(src) else { return };
    let changes = Value::List(vec![Value::Struct(vec![
        ("OldValue".into(), Value::str("1.0.0")),
        ("NewValue".into(), Value::str("1.1.0")),
        ("Setter".into(), Value::str("flux-system:app")),
    ])]);
    let d = Value::Struct(vec![
        ("AutomationObject".into(), Value::str("flux-system/apps")),
        (
            "Changed".into(),
            Value::Struct(vec![
                (
                    "FileChanges".into(),
                    Value::map(vec![(Value::str("apps/image-tags.yaml"), changes.clone())]),
                ),
                ("Changes".into(), changes),
            ]),
        ),
        (
            "Values".into(),
            Value::map(vec![(Value::str("env"), Value::str("prod"))]),
        ),
    ]);
    if let Ok(out) = t.render(&d) {
        assert!(out.len() <= MAX_OUTPUT);
    }
});
