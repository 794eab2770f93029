//! Unified diffs of planned edits.
//!
//! Setter edits never add or remove line breaks, so line N of the original
//! is line N of the result and hunks can be built directly from the changed
//! line numbers — exact, and linear in the file size.

use std::fmt::Write;

/// Lines of context around each change (same as `diff -u`).
const CONTEXT: usize = 3;

/// A hunk-level unified diff of `old` → `new` for `path`, with `a/`/`b/`
/// prefixes so `git apply` accepts it. `style(kind, line)` decorates lines
/// (kind is one of `'-'`, `'+'`, `' '`, `'@'`, `'h'` for the header).
pub fn unified(path: &str, old: &str, new: &str, style: &dyn Fn(char, &str) -> String) -> String {
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let mut out = String::new();
    let _ = writeln!(out, "{}", style('h', &format!("--- a/{path}")));
    let _ = writeln!(out, "{}", style('h', &format!("+++ b/{path}")));
    if a.len() != b.len() {
        // Not expected from setter edits; fall back to a whole-file hunk.
        let _ = writeln!(
            out,
            "{}",
            style('@', &format!("@@ -1,{} +1,{} @@", a.len(), b.len()))
        );
        for l in &a {
            push_line(&mut out, '-', l, style);
        }
        for l in &b {
            push_line(&mut out, '+', l, style);
        }
        return out;
    }
    let changed: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    let mut i = 0;
    while i < changed.len() {
        let start = changed[i].saturating_sub(CONTEXT);
        let mut end = (changed[i] + CONTEXT + 1).min(a.len());
        let mut j = i + 1;
        while j < changed.len() && changed[j] <= end + CONTEXT {
            end = (changed[j] + CONTEXT + 1).min(a.len());
            j += 1;
        }
        let n = end - start;
        let _ = writeln!(
            out,
            "{}",
            style('@', &format!("@@ -{},{n} +{},{n} @@", start + 1, start + 1))
        );
        let mut k = start;
        while k < end {
            if a[k] == b[k] {
                push_line(&mut out, ' ', a[k], style);
                k += 1;
                continue;
            }
            // A run of changed lines: all removals, then all additions.
            let run_end = (k..end).find(|&r| a[r] == b[r]).unwrap_or(end);
            for line in &a[k..run_end] {
                push_line(&mut out, '-', line, style);
            }
            for line in &b[k..run_end] {
                push_line(&mut out, '+', line, style);
            }
            k = run_end;
        }
        i = j;
    }
    out
}

fn push_line(out: &mut String, kind: char, line: &str, style: &dyn Fn(char, &str) -> String) {
    let body = line.strip_suffix('\n').unwrap_or(line);
    let body = body.strip_suffix('\r').unwrap_or(body);
    let _ = writeln!(out, "{}", style(kind, &format!("{kind}{body}")));
    if !line.ends_with('\n') {
        out.push_str("\\ No newline at end of file\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunks_with_context() {
        let old: String = (1..=20).map(|i| format!("l{i}\n")).collect();
        let new = old.replace("l5\n", "L5\n").replace("l18\n", "L18\n");
        let d = unified("f.yaml", &old, &new, &|_, s| s.to_string());
        assert!(
            d.contains("@@ -2,7 +2,7 @@\n l2\n l3\n l4\n-l5\n+L5\n l6\n"),
            "{d}"
        );
        assert!(d.contains("@@ -15,6 +15,6 @@"), "{d}");
        let two = old.replace("l5\nl6\n", "L5\nL6\n");
        let d = unified("f", &old, &two, &|_, s| s.to_string());
        assert!(d.contains("-l5\n-l6\n+L5\n+L6\n"), "{d}");
    }
}
