use super::*;

fn go_err(p: &str) -> String {
    match GoRegex::new(p) {
        Err(e) => e.to_string(),
        Ok(r) => panic!(
            "{p:?} should be refused, compiled as {:?}",
            r.regex().as_str()
        ),
    }
}

fn finds(p: &str, s: &str) -> Option<String> {
    let re = GoRegex::new(p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
    re.regex().find(s).map(|m| m.as_str().to_string())
}

#[test]
fn go_error_text() {
    assert_eq!(
        go_err("a**"),
        "error parsing regexp: invalid nested repetition operator: `**`"
    );
    assert_eq!(
        go_err("x{2}{3}"),
        "error parsing regexp: invalid nested repetition operator: `{2}{3}`"
    );
    assert_eq!(
        go_err("a{1001}"),
        "error parsing regexp: invalid repeat count: `{1001}`"
    );
    assert_eq!(
        go_err("(?x)a"),
        "error parsing regexp: invalid or unsupported Perl syntax: `(?x`"
    );
    assert_eq!(
        go_err(r"\u0061"),
        "error parsing regexp: invalid escape sequence: `\\u`"
    );
    assert_eq!(
        go_err(r"\p{IsLatin}"),
        "error parsing regexp: invalid character class range: `\\p{IsLatin}`"
    );
    assert_eq!(
        go_err("[[:foo:]]"),
        "error parsing regexp: invalid character class range: `[:foo:]`"
    );
    assert_eq!(
        go_err("*"),
        "error parsing regexp: missing argument to repetition operator: `*`"
    );
    assert_eq!(
        go_err("(a"),
        "error parsing regexp: missing closing ): `(a`"
    );
    assert_eq!(go_err("a)"), "error parsing regexp: unexpected ): `a)`");
    assert_eq!(
        go_err("[a-z"),
        "error parsing regexp: missing closing ]: `[a-z`"
    );
    assert_eq!(
        go_err(r"a\"),
        "error parsing regexp: trailing backslash at end of expression: ``"
    );
}

#[test]
fn empty_and_full_classes_compile() {
    assert_eq!(finds(r"\p{^Any}", "abc"), None);
    assert_eq!(finds(r"[^\x00-\x{10FFFF}]", "abc"), None);
    assert_eq!(finds(r"[\x{D800}-\x{DFFF}]", "abc"), None);
    assert_eq!(finds(r"\x{D800}|b", "abc").as_deref(), Some("b"));
    assert_eq!(finds(r"\pC", "a\u{1}").as_deref(), Some("\u{1}"));
    // Go's \pC holds no unassigned code points.
    assert_eq!(finds(r"\pC", "\u{378}"), None);
    assert_eq!(finds(r"\p{Cs}", "abc"), None);
    assert_eq!(finds(r"^*a", "a").as_deref(), Some("a"));
    assert_eq!(finds(r"\b+a", "a").as_deref(), Some("a"));
}

#[test]
fn every_script_name_is_known_to_the_engine() {
    for s in names::SCRIPTS {
        GoRegex::new(&format!(r"\p{{{s}}}")).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

#[test]
fn deep_nesting_within_go_limits_compiles() {
    let p = "(".repeat(999) + &")".repeat(999);
    GoRegex::new(&p).unwrap();
    let p = "(?:".repeat(999) + &")*".repeat(999);
    GoRegex::new(&p).unwrap();
    assert!(go_err(&("(".repeat(1000) + &")".repeat(1000))).contains("nests too deeply"));
    assert!(go_err(&("(?:".repeat(1000) + &")*".repeat(1000))).contains("nests too deeply"));
    // Flag groups between repeats build height without nesting.
    assert!(go_err(&("a".to_string() + &"*(?i)".repeat(2000))).contains("nests too deeply"));
}
