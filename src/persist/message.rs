//! Commit messages: Flux's v1 template data, rendered with
//! [`crate::template`], followed by hoist's audit trailers.
//!
//! The data model is Flux's (`TemplateData` in image-automation-controller
//! v1): `.AutomationObject` (prints `namespace/name`), `.Changed.FileChanges`
//! (file → object → changes), `.Changed.Objects` (object → changes),
//! `.Changed.Changes` (deduplicated, in file order) and `.Values`. An object
//! has `.APIVersion .Kind .Name .Namespace` and sorts in that field order, as
//! Go's `range` over a map keyed by Flux's `ObjectIdentifier` does.

use std::collections::BTreeMap;

use crate::decide::plan::{FileChange, PolicyOutcome};
use crate::setters::ObjectId;
use crate::template::{Template, Value};

/// Flux's default message.
pub const DEFAULT_MESSAGE: &str = "Update from image update automation";

/// Trailer keys hoist adds; also how hoist recognises its own commits.
pub const POLICY_TRAILER: &str = "Hoist-Policy";
pub const IMAGE_TRAILER: &str = "Hoist-Image";

fn object_value(o: &ObjectId) -> Value {
    let display = format!(
        "{{{{{} {}}} {{{} {}}}}}",
        o.api_version, o.kind, o.name, o.namespace
    );
    Value::Object(
        vec![
            ("APIVersion".into(), Value::str(&o.api_version)),
            ("Kind".into(), Value::str(&o.kind)),
            ("Name".into(), Value::str(&o.name)),
            ("Namespace".into(), Value::str(&o.namespace)),
        ],
        display,
    )
}

fn change_value(old: &str, new: &str, setter: &str) -> Value {
    Value::Struct(vec![
        ("OldValue".into(), Value::str(old)),
        ("NewValue".into(), Value::str(new)),
        ("Setter".into(), Value::str(setter)),
    ])
}

/// The `.` a template sees.
pub fn template_data(
    automation: Option<(&str, &str)>,
    files: &[FileChange],
    values: &BTreeMap<String, String>,
) -> Value {
    let mut file_changes = Vec::new();
    let mut objects: Vec<(ObjectId, Vec<Value>)> = Vec::new();
    let mut changes: Vec<Value> = Vec::new();
    for f in files {
        let mut per_object = Vec::new();
        for oc in &f.objects {
            let list: Vec<Value> = oc
                .changes
                .iter()
                .map(|c| change_value(&c.old, &c.new, &c.setter))
                .collect();
            for c in &list {
                if !changes.contains(c) {
                    changes.push(c.clone());
                }
            }
            match objects.iter_mut().find(|(o, _)| *o == oc.object) {
                Some((_, l)) => l.extend(list.iter().cloned()),
                None => objects.push((oc.object.clone(), list.clone())),
            }
            per_object.push((object_value(&oc.object), Value::List(list)));
        }
        file_changes.push((Value::str(&f.file), Value::map(per_object)));
    }
    let (ns, name) = automation.unwrap_or(("", ""));
    let automation = Value::Object(
        vec![
            ("Namespace".into(), Value::str(ns)),
            ("Name".into(), Value::str(name)),
        ],
        if ns.is_empty() && name.is_empty() {
            String::new()
        } else {
            format!("{ns}/{name}")
        },
    );
    Value::Struct(vec![
        ("AutomationObject".into(), automation),
        (
            "Changed".into(),
            Value::Struct(vec![
                ("FileChanges".into(), Value::map(file_changes)),
                (
                    "Objects".into(),
                    Value::map(
                        objects
                            .into_iter()
                            .map(|(o, l)| (object_value(&o), Value::List(l)))
                            .collect(),
                    ),
                ),
                ("Changes".into(), Value::List(changes)),
            ]),
        ),
        (
            "Values".into(),
            Value::map(
                values
                    .iter()
                    .map(|(k, v)| (Value::str(k), Value::str(v)))
                    .collect(),
            ),
        ),
    ])
}

/// `(policy "ns/name", image reference)` for every policy whose markers
/// changed, sorted: the audit trailers.
pub fn trailers(files: &[FileChange], outcomes: &[PolicyOutcome]) -> Vec<(String, String)> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for c in files
        .iter()
        .flat_map(|f| &f.objects)
        .flat_map(|o| &o.changes)
    {
        let mut parts = c.setter.splitn(3, ':');
        let (Some(ns), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        let reference = outcomes
            .iter()
            .find(|o| o.namespace == ns && o.name == name)
            .and_then(|o| o.selected.as_ref())
            .map(|s| s.reference())
            .unwrap_or_else(|| c.new.clone());
        out.insert(format!("{ns}/{name}"), reference);
    }
    out.into_iter().collect()
}

/// The full message: the rendered template (or the default), a blank line,
/// then one `Hoist-Policy`/`Hoist-Image` pair per changed policy.
pub fn compose(
    template: Option<&Template>,
    data: &Value,
    trailers: &[(String, String)],
) -> Result<String, crate::template::Error> {
    let body = match template {
        Some(t) => t.render(data)?,
        None => DEFAULT_MESSAGE.to_string(),
    };
    let mut msg = body.trim_end().to_string();
    if msg.is_empty() {
        msg = DEFAULT_MESSAGE.to_string();
    }
    msg.push_str("\n\n");
    for (policy, image) in trailers {
        msg.push_str(&format!(
            "{POLICY_TRAILER}: {policy}\n{IMAGE_TRAILER}: {image}\n"
        ));
    }
    Ok(msg)
}

/// Does this message carry hoist's trailers?
pub fn is_hoist_message(message: &str) -> bool {
    message
        .lines()
        .any(|l| l.starts_with(POLICY_TRAILER) && l[POLICY_TRAILER.len()..].starts_with(": "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::plan::{Change, ObjectChanges};

    fn files() -> Vec<FileChange> {
        let obj = |kind: &str, name: &str| ObjectId {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            namespace: "default".into(),
            name: name.into(),
        };
        let ch = |old: &str, new: &str, setter: &str| Change {
            line: 1,
            old: old.into(),
            new: new.into(),
            setter: setter.into(),
        };
        vec![
            FileChange {
                file: "b/deploy.yaml".into(),
                objects: vec![ObjectChanges {
                    object: obj("Deployment", "web"),
                    changes: vec![ch("1.0.0", "1.1.0", "flux-system:web:tag")],
                }],
                original: Default::default(),
                updated: Default::default(),
            },
            FileChange {
                file: "a/deploy.yaml".into(),
                objects: vec![ObjectChanges {
                    object: obj("Deployment", "api"),
                    changes: vec![
                        ch("r/api:1", "r/api:2", "flux-system:api"),
                        ch("1.0.0", "1.1.0", "flux-system:web:tag"),
                    ],
                }],
                original: Default::default(),
                updated: Default::default(),
            },
        ]
    }

    #[test]
    fn flux_documented_template_renders() {
        // The example from Flux's ImageUpdateAutomation documentation.
        let t = Template::parse(
            "Automated image update\n\nAutomation name: {{ .AutomationObject }}\n\nFiles:\n{{ range $filename, $_ := .Changed.FileChanges -}}\n- {{ $filename }}\n{{ end -}}\n\nObjects:\n{{ range $resource, $changes := .Changed.Objects -}}\n- {{ $resource.Kind }} {{ $resource.Name }}\n  Changes:\n{{- range $_, $change := $changes }}\n    - {{ $change.OldValue }} -> {{ $change.NewValue }}\n{{ end -}}\n{{ end -}}\n",
        )
        .unwrap();
        let mut values = BTreeMap::new();
        values.insert("env".to_string(), "prod".to_string());
        let data = template_data(Some(("flux-system", "apps")), &files(), &values);
        let msg = compose(
            Some(&t),
            &data,
            &[("flux-system/api".into(), "r/api:2".into())],
        )
        .unwrap();
        assert_eq!(
            msg,
            // Byte for byte what Go renders: `{{ end -}}` eats the blank
            // line before "Objects:", and the inner range's body starts
            // and ends with a newline, so changes after the first are
            // separated by an empty line.
            "Automated image update\n\nAutomation name: flux-system/apps\n\nFiles:\n- a/deploy.yaml\n- b/deploy.yaml\nObjects:\n- Deployment api\n  Changes:\n    - r/api:1 -> r/api:2\n\n    - 1.0.0 -> 1.1.0\n- Deployment web\n  Changes:\n    - 1.0.0 -> 1.1.0\n\nHoist-Policy: flux-system/api\nHoist-Image: r/api:2\n"
        );
        assert!(is_hoist_message(&msg));
        let t = Template::parse(
            "{{ len .Changed.Changes }} changes for {{ .Values.env }}{{ range .Changed.Changes }} {{ .Setter }}{{ end }}",
        )
        .unwrap();
        assert_eq!(
            t.render(&data).unwrap(),
            "2 changes for prod flux-system:web:tag flux-system:api"
        );
    }

    #[test]
    fn default_message_and_trailers() {
        let msg = compose(None, &Value::Nil, &[("ns/p".into(), "img:1".into())]).unwrap();
        assert_eq!(
            msg,
            "Update from image update automation\n\nHoist-Policy: ns/p\nHoist-Image: img:1\n"
        );
        assert!(!is_hoist_message("Hoist-Policyx: y\nfix things"));
    }
}
