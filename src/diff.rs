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
        // Not expected from setter edits; fall back to a whole-file hunk.
        let (na, nb) = (count(old), count(new));
        let _ = writeln!(out, "{}", style('@', &format!("@@ -1,{na} +1,{nb} @@")));
        old.split_inclusive('\n')
            .for_each(|l| push_line(&mut out, '-', l, style));
        new.split_inclusive('\n')
            .for_each(|l| push_line(&mut out, '+', l, style));
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
}
