//! `WWW-Authenticate` challenges (RFC 7235) as registries send them:
//! `Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"`
//! or `Basic realm="Registry Realm"`.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parse the first Basic or Bearer challenge in a header value.
pub fn parse(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => {
            let params = params(rest);
            let realm = params.get("realm")?.clone();
            Some(Challenge::Bearer {
                realm,
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            })
        }
        _ => None,
    }
}

/// `key=value` / `key="quoted, value"` pairs separated by commas.
fn params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        let key_start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let key = s[key_start..i].trim().to_ascii_lowercase();
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        i += 1;
        let mut value = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                let ch_len = s[i..].chars().next().map_or(1, char::len_utf8);
                value.push_str(&s[i..i + ch_len]);
                i += ch_len;
            }
            i += 1;
        } else {
            let start = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            value = s[start..i].trim().to_string();
        }
        if !key.is_empty() {
            out.insert(key, value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic() {
        let c = parse(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: Some("ghcr.io".into()),
                scope: Some("repository:a/b:pull".into())
            }
        );
        assert_eq!(
            parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        let c = parse(r#"Bearer realm="https://x/t", scope="repository:a:pull,push""#).unwrap();
        assert!(
            matches!(c, Challenge::Bearer { scope: Some(s), .. } if s == "repository:a:pull,push")
        );
        assert_eq!(parse("Negotiate abc"), None);
        assert_eq!(parse("Bearer service=x"), None);
        assert_eq!(parse(""), None);
        assert!(parse("Bearer realm=\"unterminated").is_some());
    }
}
