//! The setter marker grammar: `# {"$imagepolicy": "<ns>:<name>[:tag|:name|:digest]"}`.

use std::fmt;

/// Which part of the policy result a marker writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// `ns:name`: `image:tag`, or `image:tag@digest` when a digest is known.
    Image,
    /// `ns:name:tag`
    Tag,
    /// `ns:name:name`
    Name,
    /// `ns:name:digest`
    Digest,
}

/// A parsed marker: which policy, which field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MarkerRef {
    /// The policy's namespace.
    pub namespace: String,
    /// The policy's name.
    pub name: String,
    /// Which part of the selected image the value takes.
    pub field: Field,
}

impl fmt::Display for MarkerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.namespace, self.name)?;
        match self.field {
            Field::Image => Ok(()),
            Field::Tag => f.write_str(":tag"),
            Field::Name => f.write_str(":name"),
            Field::Digest => f.write_str(":digest"),
        }
    }
}

/// The bytes Flux looks for before it parses a file at all.
pub const NEEDLE: &[u8] = b"\"$imagepolicy\"";

/// Parse a comment body (the text after the first `#`).
///
/// `Ok(None)`: not a marker (no `$imagepolicy` in it). `Err`: it mentions
/// `$imagepolicy` but is malformed; the message says how.
pub fn parse_comment(body: &str) -> Result<Option<MarkerRef>, String> {
    if !body.contains("$imagepolicy") {
        return Ok(None);
    }
    let json = body.trim_start_matches('#').trim();
    let obj: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|e| format!("marker is not a JSON object ({e})"))?;
    for (k, v) in &obj {
        if !v.is_string() {
            return Err(format!("marker field {k:?} must be a string"));
        }
    }
    let Some(value) = obj.get("$imagepolicy").and_then(|v| v.as_str()) else {
        return Err("marker has no \"$imagepolicy\" field".into());
    };
    parse_ref(value).map(Some)
}

/// Parse `ns:name` with an optional `:tag`, `:name` or `:digest` suffix.
pub fn parse_ref(value: &str) -> Result<MarkerRef, String> {
    let shown = hoist_diag::quoted(value);
    let parts: Vec<&str> = value.split(':').collect();
    let field = match parts.as_slice() {
        [_, _] => Field::Image,
        [_, _, "tag"] => Field::Tag,
        [_, _, "name"] => Field::Name,
        [_, _, "digest"] => Field::Digest,
        [_, _, other] => {
            return Err(format!(
                "unknown marker suffix {} in {shown}: use :tag, :name or :digest, or none",
                hoist_diag::quoted(other)
            ));
        }
        _ => {
            return Err(format!(
                "marker value {shown} must be \"<namespace>:<policy>\" with an optional :tag, :name or :digest"
            ));
        }
    };
    if parts[0].is_empty() || parts[1].is_empty() {
        return Err(format!(
            "marker value {shown} has an empty namespace or policy name"
        ));
    }
    // No Kubernetes object can have a longer name, so no policy can match.
    if parts[0].len() > 63 || parts[1].len() > 253 {
        return Err(format!(
            "marker value {shown} names an object longer than Kubernetes allows (namespace 63, name 253 characters)"
        ));
    }
    Ok(MarkerRef {
        namespace: parts[0].to_string(),
        name: parts[1].to_string(),
        field,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_forms_and_errors() {
        let m = parse_comment(r#" {"$imagepolicy": "ns:p"}"#)
            .unwrap()
            .unwrap();
        assert_eq!((m.field, m.to_string().as_str()), (Field::Image, "ns:p"));
        assert_eq!(
            parse_comment(r##"## {"$imagepolicy": "ns:p:tag"}"##)
                .unwrap()
                .unwrap()
                .field,
            Field::Tag
        );
        assert_eq!(
            parse_comment(r#"{"$imagepolicy":"a:b:name"}"#)
                .unwrap()
                .unwrap()
                .field,
            Field::Name
        );
        assert_eq!(
            parse_comment(r#"{"$imagepolicy":"a:b:digest"}"#)
                .unwrap()
                .unwrap()
                .field,
            Field::Digest
        );
        assert_eq!(parse_comment(" just a comment"), Ok(None));
        assert!(
            parse_comment(r#" {"$imagepolicy": "ns:p:bogus"}"#)
                .unwrap_err()
                .contains("bogus")
        );
        assert!(parse_comment(r#" {"$imagepolicy": "ns:p""#).is_err());
        assert!(parse_comment(r#" {"$imagepolicy": ""}"#).is_err());
        assert!(parse_comment(r#" {"$imagepolicy": 3}"#).is_err());
        assert!(parse_comment(r#" {"$imagepolicy": ":p"}"#).is_err());
    }
}
