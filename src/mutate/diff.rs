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
/// Streams through both texts, holding only the current hunk.
pub fn unified(path: &str, old: &str, new: &str, style: &dyn Fn(char, &str) -> String) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", style('h', &format!("--- a/{path}")));
    let _ = writeln!(out, "{}", style('h', &format!("+++ b/{path}")));
    let count = |s: &str| s.split_inclusive('\n').count();
    if count(old) != count(new) {
        // Lines were added or removed (a split, not a setter edit): let
        // `similar` find the shortest edit script.
        moved_lines(&mut out, old, new, style);
        return out;
    }
    let mut hunk = Hunk::default();
    let mut before: std::collections::VecDeque<&str> = std::collections::VecDeque::new();
    for (i, (a, b)) in old
        .split_inclusive('\n')
        .zip(new.split_inclusive('\n'))
        .enumerate()
    {
        if a != b {
            if hunk.lines.is_empty() {
                hunk.start = i - before.len();
                hunk.lines.extend(before.drain(..).map(|l| (' ', l)));
            } else {
                hunk.lines.extend(hunk.pending.drain(..).map(|l| (' ', l)));
            }
            hunk.lines.push(('-', a));
            hunk.plus.push(b);
            continue;
        }
        hunk.flush_run();
        if hunk.lines.is_empty() {
            before.push_back(a);
            if before.len() > CONTEXT {
                before.pop_front();
            }
            continue;
        }
        hunk.pending.push(a);
        if hunk.pending.len() > 2 * CONTEXT {
            // The next change (if any) is too far away: close this hunk.
            hunk.emit(&mut out, style);
            before = hunk.pending.drain(..).skip(CONTEXT + 1).collect();
            hunk = Hunk::default();
        }
    }
    hunk.flush_run();
    if !hunk.lines.is_empty() {
        hunk.emit(&mut out, style);
    }
    out
}

/// A unified diff creating `path` with `new` (`--- /dev/null`).
pub fn created(path: &str, new: &str, style: &dyn Fn(char, &str) -> String) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", style('h', "--- /dev/null"));
    let _ = writeln!(out, "{}", style('h', &format!("+++ b/{path}")));
    moved_lines(&mut out, "", new, style);
    out
}

/// Hunks for texts whose lines do not correspond one to one.
fn moved_lines(out: &mut String, old: &str, new: &str, style: &dyn Fn(char, &str) -> String) {
    let diff = similar::TextDiff::from_lines(old, new);
    // `diff -u` numbering: an empty side starts at the line before.
    let range = |r: std::ops::Range<usize>| {
        let len = r.len();
        let start = if len == 0 { r.start } else { r.start + 1 };
        format!("{start},{len}")
    };
    for group in diff.grouped_ops(CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let a = first.old_range().start..last.old_range().end;
        let b = first.new_range().start..last.new_range().end;
        let _ = writeln!(
            out,
            "{}",
            style('@', &format!("@@ -{} +{} @@", range(a), range(b)))
        );
        for op in &group {
            for change in diff.iter_changes(op) {
                let kind = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                push_line(out, kind, change.value(), style);
            }
        }
    }
}

/// The hunk being built: its lines, changed lines awaiting their `+` half,
/// and equal lines seen since the last change.
#[derive(Default)]
struct Hunk<'a> {
    start: usize,
    lines: Vec<(char, &'a str)>,
    plus: Vec<&'a str>,
    pending: Vec<&'a str>,
}

impl<'a> Hunk<'a> {
    /// End a run of changed lines: all removals first, then all additions.
    fn flush_run(&mut self) {
        let plus = std::mem::take(&mut self.plus);
        self.lines.extend(plus.into_iter().map(|l| ('+', l)));
    }

    fn emit(&mut self, out: &mut String, style: &dyn Fn(char, &str) -> String) {
        self.lines
            .extend(self.pending.iter().take(CONTEXT).map(|l| (' ', *l)));
        let n = self.lines.iter().filter(|(k, _)| *k != '+').count();
        let _ = writeln!(
            out,
            "{}",
            style(
                '@',
                &format!("@@ -{},{n} +{},{n} @@", self.start + 1, self.start + 1)
            )
        );
        for (k, l) in &self.lines {
            push_line(out, *k, l, style);
        }
    }
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

    #[test]
    fn added_and_removed_lines() {
        let old: String = (1..=14).map(|i| format!("l{i}\n")).collect();
        let new = old.replace("l3\nl4\n", "").replace("l12\n", "l12\nnew\n");
        let d = unified("k.yaml", &old, &new, &|_, s| s.to_string());
        assert!(
            d.contains("@@ -1,7 +1,5 @@\n l1\n l2\n-l3\n-l4\n l5\n l6\n l7\n@@"),
            "{d}"
        );
        assert!(
            d.ends_with("@@ -10,5 +8,6 @@\n l10\n l11\n l12\n+new\n l13\n l14\n"),
            "{d}"
        );
        let c = created("n.yaml", "a\nb", &|_, s| s.to_string());
        assert_eq!(
            c,
            "--- /dev/null\n+++ b/n.yaml\n@@ -0,0 +1,2 @@\n+a\n+b\n\\ No newline at end of file\n"
        );
    }
}
