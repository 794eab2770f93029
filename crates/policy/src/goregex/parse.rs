//! Go's `regexp/syntax` parser (Perl flags), building a tree that is then
//! written out in the `regex` crate's syntax. The structure follows Go's
//! parser closely so that the same input fails at the same place with the
//! same message; comments name the Go behaviour being reproduced.

use std::fmt;
use std::fmt::Write as _;

use super::names;

/// A pattern Go refuses, with Go's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoError {
    /// Go's error code (`missing closing )`).
    pub code: &'static str,
    /// The part of the pattern at fault.
    pub expr: String,
}

impl GoError {
    fn new(code: &'static str, expr: &str) -> GoError {
        GoError {
            code,
            expr: expr.to_string(),
        }
    }

    pub(super) fn internal(detail: &str) -> GoError {
        GoError::new("regexp/syntax: internal error", detail)
    }
}

impl fmt::Display for GoError {
    /// Go's `*syntax.Error` text; an expression past 200 characters (Go
    /// quotes the whole pattern for some errors) is cut with `…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expr = match self.expr.char_indices().nth(200) {
            Some((cut, _)) => format!("{}…", &self.expr[..cut]),
            None => self.expr.clone(),
        };
        write!(f, "error parsing regexp: {}: `{expr}`", self.code)
    }
}

impl std::error::Error for GoError {}

const INVALID_CHAR_RANGE: &str = "invalid character class range";
const INVALID_ESCAPE: &str = "invalid escape sequence";
const INVALID_NAMED_CAPTURE: &str = "invalid named capture";
const INVALID_PERL_OP: &str = "invalid or unsupported Perl syntax";
const INVALID_REPEAT_OP: &str = "invalid nested repetition operator";
const INVALID_REPEAT_SIZE: &str = "invalid repeat count";
const MISSING_BRACKET: &str = "missing closing ]";
const MISSING_PAREN: &str = "missing closing )";
const MISSING_REPEAT_ARGUMENT: &str = "missing argument to repetition operator";
const TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
const UNEXPECTED_PAREN: &str = "unexpected )";
const NESTING_DEPTH: &str = "expression nests too deeply";
const LARGE: &str = "expression too large";

/// Go's limits: one repeat count (and the product of nested counts), tree
/// height, and compiled size in instructions (128 MiB / 40 bytes).
const MAX_REPEAT: i32 = 1000;
const MAX_HEIGHT: u32 = 1000;
const MAX_SIZE: i64 = (128 << 20) / 40;

// Parse flags (Go's FoldCase, DotNL, OneLine, NonGreedy).
const FOLD: u16 = 1;
const DOT_NL: u16 = 2;
const ONE_LINE: u16 = 4;
const NON_GREEDY: u16 = 8;

/// Matches nothing: the crate's spelling of Go's empty class.
const NEVER: &str = r"[^\x{0}-\x{10FFFF}]";
const ALWAYS: &str = r"[\x{0}-\x{10FFFF}]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RepOp {
    Star,
    Plus,
    Quest,
    Counted,
}

#[derive(Debug)]
enum Kind {
    Empty,
    /// A run of literal code points (u32: Go's escapes can name surrogates).
    Lit {
        chars: Vec<u32>,
        fold: bool,
    },
    /// An already written class, `.` or assertion.
    Leaf {
        text: String,
        /// Can take a repetition suffix without a group around it.
        atomic: bool,
    },
    Capture(Box<Tree>),
    Rep {
        op: RepOp,
        min: i32,
        max: i32,
        greedy: bool,
        sub: Box<Tree>,
    },
    Concat(Vec<Tree>),
    Alt(Vec<Tree>),
}

#[derive(Debug)]
struct Tree {
    kind: Kind,
    /// Go's `calcHeight`.
    height: u32,
    /// Go's `calcSize`.
    size: i64,
}

impl Tree {
    fn leaf(kind: Kind) -> Tree {
        let size = match &kind {
            Kind::Lit { chars, .. } => chars.len() as i64,
            _ => 1,
        };
        Tree {
            kind,
            height: 1,
            size: size.max(1),
        }
    }

    fn children(&self) -> &[Tree] {
        match &self.kind {
            Kind::Capture(s) | Kind::Rep { sub: s, .. } => std::slice::from_ref(s.as_ref()),
            Kind::Concat(v) | Kind::Alt(v) => v,
            _ => &[],
        }
    }

    fn is_lit(&self) -> bool {
        matches!(self.kind, Kind::Lit { .. })
    }
}

/// One open group: its alternatives so far and the current concatenation.
struct Frame {
    alts: Vec<Tree>,
    cur: Vec<Tree>,
    /// Capture index, or `None` for `(?:…)` and the top level.
    cap: Option<usize>,
    /// Flags in force before the group opened, restored at `)`.
    saved: u16,
}

struct Parser<'a> {
    whole: &'a str,
    flags: u16,
    frames: Vec<Frame>,
    names: Vec<String>,
    /// Nodes built, and the product of repeat counts: Go only checks the
    /// compiled size once their product could exceed the limit.
    nodes: i64,
    repeats: i64,
    largest: i64,
}

pub(super) fn translate(pattern: &str) -> Result<(String, Vec<String>), GoError> {
    let mut p = Parser {
        whole: pattern,
        flags: ONE_LINE,
        frames: vec![Frame {
            alts: Vec::new(),
            cur: Vec::new(),
            cap: None,
            saved: ONE_LINE,
        }],
        names: vec![String::new()],
        nodes: 0,
        repeats: 1,
        largest: 0,
    };
    let root = p.parse()?;
    let mut out = String::with_capacity(pattern.len() * 2);
    emit(&root, &mut out);
    Ok((out, p.names))
}

impl<'a> Parser<'a> {
    fn parse(&mut self) -> Result<Tree, GoError> {
        let mut t = self.whole;
        // The text from the previous repetition operator on, when the
        // previous token was one: Go refuses stacked operators (`a**`).
        let mut last_repeat: Option<&'a str> = None;
        while let Some(c) = t.chars().next() {
            let mut repeat = None;
            match c {
                '(' => {
                    if t.as_bytes().get(1) == Some(&b'?') {
                        t = self.parse_perl_flags(t)?;
                    } else {
                        self.names.push(String::new());
                        self.open(Some(self.names.len() - 1));
                        t = &t[1..];
                    }
                }
                '|' => {
                    let frame = self.frames.last_mut().expect("root frame");
                    let cur = std::mem::take(&mut frame.cur);
                    let node = self.concat(cur)?;
                    self.frames.last_mut().expect("root frame").alts.push(node);
                    t = &t[1..];
                }
                ')' => {
                    self.right_paren()?;
                    t = &t[1..];
                }
                // Go's Perl mode is one-line unless `(?m)`: `^` and `$`
                // then anchor the text; in multi-line mode, lines.
                '^' | '$' => {
                    let one_line = self.flags & ONE_LINE != 0;
                    let text = match (c, one_line) {
                        ('^', true) => r"\A",
                        ('^', false) => "(?m:^)",
                        (_, true) => r"\z",
                        (_, false) => "(?m:$)",
                    };
                    self.push_leaf(text, false)?;
                    t = &t[1..];
                }
                '.' => {
                    let text = if self.flags & DOT_NL != 0 {
                        "(?s:.)"
                    } else {
                        "."
                    };
                    self.push_leaf(text, true)?;
                    t = &t[1..];
                }
                '[' => t = self.parse_class(t)?,
                '*' | '+' | '?' => {
                    let op = match c {
                        '*' => RepOp::Star,
                        '+' => RepOp::Plus,
                        _ => RepOp::Quest,
                    };
                    let before = t;
                    t = self.repeat(op, 0, 0, before, &t[1..], last_repeat)?;
                    repeat = Some(before);
                }
                '{' => {
                    let before = t;
                    match parse_repeat(t) {
                        None => {
                            // Not a well-formed repeat: `{` is a literal.
                            self.literal('{' as u32)?;
                            t = &t[1..];
                        }
                        Some((min, max, after)) => {
                            if !(0..=MAX_REPEAT).contains(&min)
                                || max > MAX_REPEAT
                                || (max >= 0 && min > max)
                            {
                                return Err(GoError::new(
                                    INVALID_REPEAT_SIZE,
                                    &before[..before.len() - after.len()],
                                ));
                            }
                            t =
                                self.repeat(RepOp::Counted, min, max, before, after, last_repeat)?;
                            repeat = Some(before);
                        }
                    }
                }
                '\\' => t = self.parse_backslash(t)?,
                _ => {
                    self.literal(c as u32)?;
                    t = &t[c.len_utf8()..];
                }
            }
            last_repeat = repeat;
        }
        if self.frames.len() > 1 {
            return Err(GoError::new(MISSING_PAREN, self.whole));
        }
        let frame = self.frames.pop().expect("root frame");
        let root = self.close(frame)?;
        if self.largest > MAX_SIZE && self.nodes.saturating_mul(self.repeats) >= MAX_SIZE {
            return Err(GoError::new(LARGE, self.whole));
        }
        Ok(root)
    }

    /// `\` at the top level: assertions, `\Q…\E`, classes, then escapes.
    fn parse_backslash(&mut self, t: &'a str) -> Result<&'a str, GoError> {
        match t.as_bytes().get(1) {
            Some(b'A') => {
                self.push_leaf(r"\A", false)?;
                return Ok(&t[2..]);
            }
            // Go's \b and \B are ASCII word boundaries.
            Some(b'b') => {
                self.push_leaf(r"(?-u:\b)", false)?;
                return Ok(&t[2..]);
            }
            Some(b'B') => {
                self.push_leaf(r"(?-u:\B)", false)?;
                return Ok(&t[2..]);
            }
            Some(b'C') => return Err(GoError::new(INVALID_ESCAPE, &t[..2])),
            Some(b'Q') => {
                let rest = &t[2..];
                let (lit, after) = match rest.find(r"\E") {
                    Some(i) => (&rest[..i], &rest[i + 2..]),
                    None => (rest, ""),
                };
                for c in lit.chars() {
                    self.literal(c as u32)?;
                }
                return Ok(after);
            }
            Some(b'z') => {
                self.push_leaf(r"\z", false)?;
                return Ok(&t[2..]);
            }
            _ => {}
        }
        if let Some((class, rest)) = parse_unicode_class(t)? {
            self.push_class(&class, false)?;
            return Ok(rest);
        }
        if let Some((class, rest)) = parse_perl_class(t) {
            self.push_class(&class, false)?;
            return Ok(rest);
        }
        let (c, rest) = parse_escape(t)?;
        self.literal(c)?;
        Ok(rest)
    }

    /// `(?…`: a named capture, a non-capturing group, or flags.
    fn parse_perl_flags(&mut self, s: &'a str) -> Result<&'a str, GoError> {
        let b = s.as_bytes();
        let with_p = b.len() > 4 && b[2] == b'P' && b[3] == b'<';
        let with_name = b.len() > 3 && b[2] == b'<';
        if with_p || with_name {
            let start = if with_p { 4 } else { 3 };
            let Some(end) = s.find('>') else {
                return Err(GoError::new(INVALID_NAMED_CAPTURE, s));
            };
            let capture = &s[..=end];
            let name = &s[start..end];
            if name.is_empty() || !name.bytes().all(|c| c == b'_' || c.is_ascii_alphanumeric()) {
                return Err(GoError::new(INVALID_NAMED_CAPTURE, capture));
            }
            self.names.push(name.to_string());
            self.open(Some(self.names.len() - 1));
            return Ok(&s[end + 1..]);
        }
        let mut t = &s[2..];
        let mut flags = self.flags;
        let mut negative = false;
        let mut saw_flag = false;
        while let Some(c) = t.chars().next() {
            t = &t[c.len_utf8()..];
            match c {
                'i' => flags |= FOLD,
                'm' => flags &= !ONE_LINE,
                's' => flags |= DOT_NL,
                'U' => flags |= NON_GREEDY,
                '-' => {
                    if negative {
                        break;
                    }
                    negative = true;
                    // As Go: invert, so the sets above become clears.
                    flags = !flags;
                    saw_flag = false;
                    continue;
                }
                ':' | ')' => {
                    if negative {
                        if !saw_flag {
                            break;
                        }
                        flags = !flags;
                    }
                    if c == ':' {
                        self.open(None);
                    }
                    self.flags = flags;
                    return Ok(t);
                }
                _ => break,
            }
            saw_flag = true;
        }
        Err(GoError::new(INVALID_PERL_OP, &s[..s.len() - t.len()]))
    }

    fn open(&mut self, cap: Option<usize>) {
        self.frames.push(Frame {
            alts: Vec::new(),
            cur: Vec::new(),
            cap,
            saved: self.flags,
        });
    }

    fn right_paren(&mut self) -> Result<(), GoError> {
        if self.frames.len() < 2 {
            return Err(GoError::new(UNEXPECTED_PAREN, self.whole));
        }
        let frame = self.frames.pop().expect("checked above");
        self.flags = frame.saved;
        let cap = frame.cap;
        let inner = self.close(frame)?;
        let node = match cap {
            Some(_) => self.node(Kind::Capture(Box::new(inner)))?,
            None => inner,
        };
        self.push(node)
    }

    /// A group's content: its alternatives, or its one concatenation.
    fn close(&mut self, mut frame: Frame) -> Result<Tree, GoError> {
        let last = self.concat(std::mem::take(&mut frame.cur))?;
        if frame.alts.is_empty() {
            return Ok(last);
        }
        frame.alts.push(last);
        self.node(Kind::Alt(frame.alts))
    }

    fn concat(&mut self, mut items: Vec<Tree>) -> Result<Tree, GoError> {
        merge_last_literals(&mut items);
        match items.len() {
            0 => Ok(self.count(Tree::leaf(Kind::Empty))),
            1 => Ok(items.pop().expect("one item")),
            _ => self.node(Kind::Concat(items)),
        }
    }

    /// Build a node with children, applying Go's height and size checks.
    fn node(&mut self, kind: Kind) -> Result<Tree, GoError> {
        let mut tree = Tree {
            kind,
            height: 1,
            size: 0,
        };
        let subs = tree.children();
        let height = 1 + subs.iter().map(|s| s.height).max().unwrap_or(0);
        let sum: i64 = subs.iter().fold(0i64, |a, s| a.saturating_add(s.size));
        let size = match &tree.kind {
            Kind::Capture(_) => sum.saturating_add(2),
            Kind::Rep { op, min, max, .. } => match op {
                RepOp::Star => sum.saturating_add(2),
                RepOp::Plus | RepOp::Quest => sum.saturating_add(1),
                RepOp::Counted if *max == -1 && *min == 0 => sum.saturating_add(2),
                RepOp::Counted if *max == -1 => (*min as i64).saturating_mul(sum).saturating_add(1),
                RepOp::Counted => (*max as i64)
                    .saturating_mul(sum)
                    .saturating_add((max - min) as i64),
            },
            Kind::Alt(v) => sum.saturating_add(v.len() as i64 - 1),
            _ => sum,
        };
        tree.height = height;
        tree.size = size.max(1);
        if height > MAX_HEIGHT {
            return Err(GoError::new(NESTING_DEPTH, self.whole));
        }
        Ok(self.count(tree))
    }

    fn count(&mut self, tree: Tree) -> Tree {
        self.nodes += 1;
        self.largest = self.largest.max(tree.size);
        tree
    }

    /// Push onto the current concatenation. As Go's `maybeConcat`, the two
    /// literals below the new item are merged first (never the top one,
    /// which a following `*` may still apply to).
    fn push(&mut self, tree: Tree) -> Result<(), GoError> {
        let cur = &mut self.frames.last_mut().expect("root frame").cur;
        merge_last_literals(cur);
        cur.push(tree);
        Ok(())
    }

    fn push_leaf(&mut self, text: &str, atomic: bool) -> Result<(), GoError> {
        let t = self.count(Tree::leaf(Kind::Leaf {
            text: text.to_string(),
            atomic,
        }));
        self.push(t)
    }

    /// A class body (`[…]` content or a lone escape such as `\d`) under
    /// the current case folding.
    fn push_class(&mut self, class: &ClassText, outer_negated: bool) -> Result<(), GoError> {
        let mut text = String::new();
        class.write(&mut text, outer_negated);
        if self.flags & FOLD != 0 {
            text = format!("(?i:{text})");
        }
        self.push_leaf(&text, true)
    }

    fn literal(&mut self, c: u32) -> Result<(), GoError> {
        let t = self.count(Tree::leaf(Kind::Lit {
            chars: vec![c],
            fold: self.flags & FOLD != 0,
        }));
        self.push(t)
    }

    /// Apply a repetition to the item on top of the current concatenation.
    fn repeat(
        &mut self,
        op: RepOp,
        min: i32,
        max: i32,
        before: &'a str,
        after: &'a str,
        last_repeat: Option<&'a str>,
    ) -> Result<&'a str, GoError> {
        let mut after = after;
        let mut non_greedy = self.flags & NON_GREEDY != 0;
        if let Some(rest) = after.strip_prefix('?') {
            after = rest;
            non_greedy = !non_greedy;
        }
        if let Some(last) = last_repeat {
            return Err(GoError::new(
                INVALID_REPEAT_OP,
                &last[..last.len() - after.len()],
            ));
        }
        let Some(sub) = self.frames.last_mut().expect("root frame").cur.pop() else {
            return Err(GoError::new(
                MISSING_REPEAT_ARGUMENT,
                &before[..before.len() - after.len()],
            ));
        };
        let node = self.node(Kind::Rep {
            op,
            min,
            max,
            greedy: !non_greedy,
            sub: Box::new(sub),
        })?;
        if op == RepOp::Counted {
            let n = if max == -1 { min } else { max };
            self.repeats = self.repeats.saturating_mul(n.max(1) as i64).min(MAX_SIZE);
            if (min >= 2 || max >= 2) && !repeat_is_valid(&node, MAX_REPEAT) {
                return Err(GoError::new(
                    INVALID_REPEAT_SIZE,
                    &before[..before.len() - after.len()],
                ));
            }
        }
        self.frames.last_mut().expect("root frame").cur.push(node);
        Ok(after)
    }

    /// `[…]`, as Go's `parseClass` (Perl mode: `-` is fine anywhere).
    fn parse_class(&mut self, s: &'a str) -> Result<&'a str, GoError> {
        let mut t = &s[1..];
        let mut class = ClassText::default();
        let mut negated = false;
        if let Some(rest) = t.strip_prefix('^') {
            negated = true;
            t = rest;
        }
        let mut first = true;
        while t.is_empty() || !t.starts_with(']') || first {
            first = false;
            if t.len() > 2
                && t.starts_with("[:")
                && let Some((named, rest)) = parse_named_class(t)?
            {
                class.append(&named);
                t = rest;
                continue;
            }
            if let Some((u, rest)) = parse_unicode_class(t)? {
                class.append(&u);
                t = rest;
                continue;
            }
            if let Some((perl, rest)) = parse_perl_class(t) {
                class.append(&perl);
                t = rest;
                continue;
            }
            let range_start = t;
            let (lo, rest) = parse_class_char(t, s)?;
            t = rest;
            let mut hi = lo;
            let b = t.as_bytes();
            if b.len() >= 2 && b[0] == b'-' && b[1] != b']' {
                let (h, rest) = parse_class_char(&t[1..], s)?;
                t = rest;
                hi = h;
                if hi < lo {
                    return Err(GoError::new(
                        INVALID_CHAR_RANGE,
                        &range_start[..range_start.len() - t.len()],
                    ));
                }
            }
            class.range(lo, hi);
        }
        self.push_class(&class, negated)?;
        Ok(&t[1..])
    }
}

/// Merge the two literals below the top of `items` when they fold alike.
fn merge_last_literals(items: &mut Vec<Tree>) {
    let n = items.len();
    if n < 2 || !items[n - 1].is_lit() || !items[n - 2].is_lit() {
        return;
    }
    let (Kind::Lit { fold: f1, .. }, Kind::Lit { fold: f2, .. }) =
        (&items[n - 1].kind, &items[n - 2].kind)
    else {
        return;
    };
    if f1 != f2 {
        return;
    }
    let top = items.pop().expect("two items");
    if let (Kind::Lit { chars: add, .. }, Some(prev)) = (top.kind, items.last_mut())
        && let Kind::Lit { chars, .. } = &mut prev.kind
    {
        chars.extend(add);
        prev.size = chars.len() as i64;
    }
}

/// Go's `repeatIsValid`: nested counted repeats may not multiply past `n`.
fn repeat_is_valid(tree: &Tree, mut n: i32) -> bool {
    if let Kind::Rep {
        op: RepOp::Counted,
        min,
        max,
        ..
    } = tree.kind
    {
        let mut m = max;
        if m == 0 {
            return true;
        }
        if m < 0 {
            m = min;
        }
        if m > n {
            return false;
        }
        if m > 0 {
            n /= m;
        }
    }
    tree.children().iter().all(|s| repeat_is_valid(s, n))
}

/// `{min}`, `{min,}` or `{min,max}`; `None` when `s` is not of that form
/// (Go then reads `{` as a literal). Too-large numbers give `min == -1`.
fn parse_repeat(s: &str) -> Option<(i32, i32, &str)> {
    let s = s.strip_prefix('{')?;
    let (mut min, mut s) = parse_int(s)?;
    let max;
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix(',') {
        s = rest;
        if s.is_empty() {
            return None;
        }
        if s.starts_with('}') {
            max = -1;
        } else {
            let (m, rest) = parse_int(s)?;
            s = rest;
            max = m;
            if m < 0 {
                min = -1;
            }
        }
    } else {
        max = min;
    }
    let rest = s.strip_prefix('}')?;
    Some((min, max, rest))
}

/// A decimal number without leading zeros; values from 1e8 on are -1.
fn parse_int(s: &str) -> Option<(i32, &str)> {
    let b = s.as_bytes();
    if b.first().is_none_or(|c| !c.is_ascii_digit()) {
        return None;
    }
    if b.len() >= 2 && b[0] == b'0' && b[1].is_ascii_digit() {
        return None;
    }
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut n: i32 = 0;
    for &d in &b[..digits] {
        if n >= 100_000_000 {
            n = -1;
            break;
        }
        n = n * 10 + (d - b'0') as i32;
    }
    Some((n, &s[digits..]))
}

/// The items of a class, already in the crate's syntax.
#[derive(Default)]
struct ClassText {
    items: String,
}

impl ClassText {
    fn append(&mut self, other: &ClassText) {
        self.items.push_str(&other.items);
    }

    /// Add `lo-hi`. Surrogates cannot occur in a Go string being matched,
    /// and the crate cannot name them, so they are left out.
    fn range(&mut self, lo: u32, hi: u32) {
        let mut add = |lo: u32, hi: u32| {
            if lo > hi {
                return;
            }
            write_char(&mut self.items, lo);
            if hi != lo {
                self.items.push('-');
                write_char(&mut self.items, hi);
            }
        };
        add(lo, hi.min(0xD7FF));
        add(lo.max(0xE000), hi);
    }

    /// A whole class `[…]` (negated when asked).
    fn write(&self, out: &mut String, negated: bool) {
        match (self.items.is_empty(), negated) {
            (true, false) => out.push_str(NEVER),
            (true, true) => out.push_str(ALWAYS),
            (false, _) => {
                out.push('[');
                if negated {
                    out.push('^');
                }
                out.push_str(&self.items);
                out.push(']');
            }
        }
    }

    /// A set of items, or its complement as a nested class.
    fn set(items: &str, negated: bool) -> ClassText {
        ClassText {
            items: if negated {
                format!("[^{items}]")
            } else {
                items.to_string()
            },
        }
    }
}

/// A literal code point in the crate's syntax.
fn write_char(out: &mut String, c: u32) {
    match char::from_u32(c) {
        Some(ch) if ch.is_ascii_alphanumeric() => out.push(ch),
        Some(_) => {
            let _ = write!(out, "\\x{{{c:X}}}");
        }
        None => out.push_str(NEVER),
    }
}

/// Go's Perl classes, which are ASCII-only.
fn parse_perl_class(s: &str) -> Option<(ClassText, &str)> {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b'\\' {
        return None;
    }
    let (items, negated) = match b[1] {
        b'd' => ("0-9", false),
        b'D' => ("0-9", true),
        b's' => (r"\x{9}\x{A}\x{C}\x{D}\x{20}", false),
        b'S' => (r"\x{9}\x{A}\x{C}\x{D}\x{20}", true),
        b'w' => ("0-9A-Za-z_", false),
        b'W' => ("0-9A-Za-z_", true),
        _ => return None,
    };
    Some((ClassText::set(items, negated), &s[2..]))
}

/// `[:name:]` inside a class (ASCII-only, as Go's POSIX classes).
fn parse_named_class(s: &str) -> Result<Option<(ClassText, &str)>, GoError> {
    if !s.starts_with("[:") {
        return Ok(None);
    }
    let Some(i) = s[2..].find(":]") else {
        return Ok(None);
    };
    let end = i + 4;
    let name = &s[..end];
    let (base, negated) = match name.strip_prefix("[:^") {
        Some(rest) => (rest, true),
        None => (&name[2..], false),
    };
    let items = match base {
        "alnum:]" => "0-9A-Za-z",
        "alpha:]" => "A-Za-z",
        "ascii:]" => r"\x{0}-\x{7F}",
        "blank:]" => r"\x{9}\x{20}",
        "cntrl:]" => r"\x{0}-\x{1F}\x{7F}",
        "digit:]" => "0-9",
        "graph:]" => r"\x{21}-\x{7E}",
        "lower:]" => "a-z",
        "print:]" => r"\x{20}-\x{7E}",
        "punct:]" => r"\x{21}-\x{2F}\x{3A}-\x{40}\x{5B}-\x{60}\x{7B}-\x{7E}",
        "space:]" => r"\x{9}-\x{D}\x{20}",
        "upper:]" => "A-Z",
        "word:]" => "0-9A-Za-z_",
        "xdigit:]" => "0-9A-Fa-f",
        _ => return Err(GoError::new(INVALID_CHAR_RANGE, name)),
    };
    Ok(Some((ClassText::set(items, negated), &s[end..])))
}

/// `\pL`, `\p{Greek}`, `\P{…}`, `\p{^…}`.
fn parse_unicode_class(s: &str) -> Result<Option<(ClassText, &str)>, GoError> {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b'\\' || (b[1] != b'p' && b[1] != b'P') {
        return Ok(None);
    }
    let mut negated = b[1] == b'P';
    let t = &s[2..];
    let (seq, mut name, rest) = match t.chars().next() {
        None => (&s[..2], "", t),
        Some('{') => {
            let Some(end) = s.find('}') else {
                return Err(GoError::new(INVALID_CHAR_RANGE, s));
            };
            (&s[..=end], &s[3..end], &s[end + 1..])
        }
        Some(c) => {
            let seq = &s[..2 + c.len_utf8()];
            (seq, &seq[2..], &s[seq.len()..])
        }
    };
    if let Some(n) = name.strip_prefix('^') {
        negated = !negated;
        name = n;
    }
    let Some(class) = names::lookup(name) else {
        return Err(GoError::new(INVALID_CHAR_RANGE, seq));
    };
    negated ^= class.negated;
    let mut items: String = class.items.iter().map(|n| format!(r"\p{{{n}}}")).collect();
    if items.is_empty() {
        items.push_str(NEVER);
    }
    Ok(Some((ClassText::set(&items, negated), rest)))
}

fn parse_class_char<'s>(s: &'s str, whole: &str) -> Result<(u32, &'s str), GoError> {
    match s.chars().next() {
        None => Err(GoError::new(MISSING_BRACKET, whole)),
        Some('\\') => parse_escape(s),
        Some(c) => Ok((c as u32, &s[c.len_utf8()..])),
    }
}

/// One escaped code point, as Go's `parseEscape`.
fn parse_escape(s: &str) -> Result<(u32, &str), GoError> {
    let mut t = &s[1..];
    let Some(c) = t.chars().next() else {
        return Err(GoError::new(TRAILING_BACKSLASH, ""));
    };
    t = &t[c.len_utf8()..];
    let octal = |t: &str| {
        t.as_bytes()
            .first()
            .is_some_and(|b| (b'0'..=b'7').contains(b))
    };
    match c {
        '1'..='7' if !octal(t) => {}
        '0'..='7' => {
            // Up to three octal digits (a lone \1-\7 is a backreference,
            // which Go does not support).
            let mut r = c as u32 - '0' as u32;
            for _ in 1..3 {
                if !octal(t) {
                    break;
                }
                r = r * 8 + (t.as_bytes()[0] - b'0') as u32;
                t = &t[1..];
            }
            return Ok((r, t));
        }
        'x' => {
            let Some(c) = t.chars().next() else {
                return Err(GoError::new(INVALID_ESCAPE, s));
            };
            t = &t[c.len_utf8()..];
            if c == '{' {
                let mut r: u32 = 0;
                let mut digits = 0;
                loop {
                    let Some(c) = t.chars().next() else {
                        return Err(GoError::new(INVALID_ESCAPE, &s[..s.len() - t.len()]));
                    };
                    t = &t[c.len_utf8()..];
                    if c == '}' {
                        break;
                    }
                    let Some(v) = c.to_digit(16) else {
                        return Err(GoError::new(INVALID_ESCAPE, &s[..s.len() - t.len()]));
                    };
                    r = r * 16 + v;
                    if r > 0x10FFFF {
                        return Err(GoError::new(INVALID_ESCAPE, &s[..s.len() - t.len()]));
                    }
                    digits += 1;
                }
                if digits == 0 {
                    return Err(GoError::new(INVALID_ESCAPE, &s[..s.len() - t.len()]));
                }
                return Ok((r, t));
            }
            let x = c.to_digit(16);
            let y = t.chars().next();
            if let Some(y) = y {
                t = &t[y.len_utf8()..];
            }
            if let (Some(x), Some(y)) = (x, y.and_then(|y| y.to_digit(16))) {
                return Ok((x * 16 + y, t));
            }
        }
        'a' => return Ok((7, t)),
        'f' => return Ok((12, t)),
        'n' => return Ok((10, t)),
        'r' => return Ok((13, t)),
        't' => return Ok((9, t)),
        'v' => return Ok((11, t)),
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => return Ok((c as u32, t)),
        _ => {}
    }
    Err(GoError::new(INVALID_ESCAPE, &s[..s.len() - t.len()]))
}

/// Write the tree in the crate's syntax. Recursion is bounded by Go's
/// height limit, checked while the tree was built.
fn emit(tree: &Tree, out: &mut String) {
    match &tree.kind {
        Kind::Empty => {}
        Kind::Lit { chars, fold } => {
            if *fold {
                out.push_str("(?i:");
            }
            for &c in chars {
                write_char(out, c);
            }
            if *fold {
                out.push(')');
            }
        }
        Kind::Leaf { text, .. } => out.push_str(text),
        Kind::Capture(sub) => {
            out.push('(');
            emit(sub, out);
            out.push(')');
        }
        Kind::Rep {
            op,
            min,
            max,
            greedy,
            sub,
        } => {
            if *op == RepOp::Counted && *max == 0 {
                // `x{0}` matches the empty string, but the crate would drop
                // the groups inside it and renumber the rest; keep them in
                // a branch that can never match.
                out.push_str("(?:");
                out.push_str(NEVER);
                emit(sub, out);
                out.push_str(")?");
                return;
            }
            let atomic = match &sub.kind {
                Kind::Leaf { atomic, .. } => *atomic,
                Kind::Lit { chars, fold } => *fold || chars.len() == 1,
                Kind::Capture(_) | Kind::Alt(_) => true,
                _ => false,
            };
            if atomic {
                emit(sub, out);
            } else {
                out.push_str("(?:");
                emit(sub, out);
                out.push(')');
            }
            match op {
                RepOp::Star => out.push('*'),
                RepOp::Plus => out.push('+'),
                RepOp::Quest => out.push('?'),
                RepOp::Counted if max == min => {
                    let _ = write!(out, "{{{min}}}");
                }
                RepOp::Counted if *max < 0 => {
                    let _ = write!(out, "{{{min},}}");
                }
                RepOp::Counted => {
                    let _ = write!(out, "{{{min},{max}}}");
                }
            }
            if !greedy {
                out.push('?');
            }
        }
        Kind::Concat(items) => {
            for item in items {
                emit(item, out);
            }
        }
        Kind::Alt(items) => {
            out.push_str("(?:");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                emit(item, out);
            }
            out.push(')');
        }
    }
}
