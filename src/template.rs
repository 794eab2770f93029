//! A subset of Go's `text/template`, enough for Flux commit message
//! templates (`spec.git.commit.messageTemplate`).
//!
//! Flux renders these templates with Go's engine plus the Sprig function
//! library, so fleets carry templates such as
//! `{{ range $f, $_ := .Changed.FileChanges -}}- {{ $f }}{{ end }}`. hoist
//! must render the same bytes. Supported: text, `{{- -}}` trimming,
//! comments, field chains on `.`/`$var`/`(pipeline)`, pipelines, variables
//! (`:=`, `=`), `if`/`else if`/`else`, `range` (lists, maps in sorted key
//! order, integers) with `break`/`continue`, `with`, Go's builtins
//! (`and or not len index print printf println eq ne lt le gt ge`) and the
//! Sprig functions listed in [`FUNCTIONS`]. Anything else (`define`,
//! `template`, other Sprig functions) is rejected when the template is
//! parsed, with its line, so a bad template never produces a half-rendered
//! commit message.

use std::fmt::Write as _;

/// Values a template sees. Maps keep their keys sorted, as Go's `range`
/// visits them in key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
    Map(Vec<(Value, Value)>),
    /// Named fields, printed like Go's `%v` of a struct: `{a b}`.
    Struct(Vec<(String, Value)>),
    /// A struct with a `String()` method: fields for `.Field`, and how it
    /// prints (Go calls `String()` when printing).
    Object(Vec<(String, Value)>, String),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// A map from unsorted pairs (sorted here, like Go's `fmtsort`).
    pub fn map(mut pairs: Vec<(Value, Value)>) -> Value {
        pairs.sort_by(|a, b| cmp_values(&a.0, &b.0));
        Value::Map(pairs)
    }

    fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Struct(_) | Value::Object(..) => true,
        }
    }

    fn field(&self, name: &str) -> Result<Value, String> {
        match self {
            Value::Struct(fields) | Value::Object(fields, _) => fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("can't evaluate field {name}")),
            Value::Map(pairs) => Ok(pairs
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == name))
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Nil)),
            Value::Nil => Err(format!("nil pointer evaluating .{name}")),
            other => Err(format!(
                "can't evaluate field {name} in type {}",
                other.type_name()
            )),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Struct(_) | Value::Object(..) => "struct",
        }
    }
}

/// Go's `%v` formatting.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn join(f: &mut std::fmt::Formatter<'_>, items: &[Value]) -> std::fmt::Result {
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{v}")?;
            }
            Ok(())
        }
        match self {
            Value::Nil => f.write_str("<no value>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => f.write_str(s),
            Value::List(l) => {
                f.write_str("[")?;
                join(f, l)?;
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("map[")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                f.write_str("]")
            }
            Value::Object(_, display) => f.write_str(display),
            Value::Struct(fields) => {
                f.write_str("{")?;
                let vals: Vec<Value> = fields.iter().map(|(_, v)| v.clone()).collect();
                join(f, &vals)?;
                f.write_str("}")
            }
        }
    }
}

fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Struct(x) | Value::Object(x, _), Value::Struct(y) | Value::Object(y, _)) => {
            for ((_, u), (_, v)) in x.iter().zip(y) {
                let o = cmp_values(u, v);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// A template error, with the template line it concerns (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template line {}: {}", self.line, self.message)
    }
}

/// Functions hoist implements: Go's builtins and the Sprig functions seen
/// in commit message templates.
pub const FUNCTIONS: &[&str] = &[
    "and",
    "or",
    "not",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    // Sprig
    "upper",
    "lower",
    "title",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "replace",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "join",
    "split",
    "splitList",
    "default",
    "empty",
    "coalesce",
    "ternary",
    "quote",
    "squote",
    "indent",
    "nindent",
    "list",
    "first",
    "last",
    "uniq",
    "sortAlpha",
    "toString",
    "trunc",
    "nospace",
    "repeat",
    "cat",
    "keys",
    "base",
];

/// Deepest nesting of blocks or parentheses accepted (a template is
/// repository input; recursion must stay bounded).
const MAX_NESTING: usize = 64;

#[derive(Debug, Clone)]
enum Arg {
    Dot(Vec<String>),
    Var(String, Vec<String>),
    Str(String),
    Int(i64),
    Bool(bool),
    Nil,
    Func(String),
    Paren(Box<Pipe>, Vec<String>),
}

#[derive(Debug, Clone)]
struct Pipe {
    vars: Vec<String>,
    /// `=` (assign to existing variables) rather than `:=`.
    assign: bool,
    cmds: Vec<Vec<Arg>>,
    line: usize,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Output(Pipe),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    With(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    Break(usize),
    Continue(usize),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

// ---------------------------------------------------------------- lexing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot(Vec<String>),
    Var(String, Vec<String>),
    Field(Vec<String>),
    Ident(String),
    Str(String),
    Int(i64),
    LParen,
    RParen,
    Bar,
    Declare,
    Assign,
    Comma,
}

/// One `{{ … }}` or a run of text, after trimming.
enum Piece {
    Text(String),
    Action(Vec<(Tok, bool)>, usize),
}

fn split_pieces(src: &str) -> Result<Vec<Piece>, Error> {
    let mut pieces = Vec::new();
    let mut rest = 0usize;
    let mut trim_next = false;
    // Line numbers are counted incrementally (once over the source).
    let mut line = 1;
    let mut counted = 0usize;
    while rest <= src.len() {
        let open = src[rest..].find("{{").map(|o| rest + o);
        let mut text = &src[rest..open.unwrap_or(src.len())];
        if trim_next {
            text = text.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        let Some(open) = open else {
            pieces.push(Piece::Text(text.to_string()));
            break;
        };
        line += memchr::memchr_iter(b'\n', &src.as_bytes()[counted..open]).count();
        counted = open;
        let mut inner_start = open + 2;
        if src[inner_start..].starts_with("- ")
            || src[inner_start..].starts_with("-\n")
            || src[inner_start..].starts_with("-\t")
        {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            inner_start += 1;
        }
        pieces.push(Piece::Text(text.to_string()));
        // Find the closing `}}`, skipping string literals.
        let bytes = src.as_bytes();
        let mut i = inner_start;
        let mut close = None;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        if bytes[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                }
                b'`' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'`' {
                        i += 1;
                    }
                }
                b'}' if bytes.get(i + 1) == Some(&b'}') => {
                    close = Some(i);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let close = close.ok_or_else(|| Error {
            line,
            message: "unclosed action (missing `}}`)".into(),
        })?;
        let mut inner = &src[inner_start..close];
        trim_next = false;
        if inner.ends_with(" -") || inner.ends_with("\n-") || inner.ends_with("\t-") {
            inner = &inner[..inner.len() - 1];
            trim_next = true;
        }
        let t = inner.trim();
        if !(t.starts_with("/*") && t.ends_with("*/")) {
            pieces.push(Piece::Action(lex(inner, line)?, line));
        }
        rest = close + 2;
    }
    Ok(pieces)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn lex(s: &str, line: usize) -> Result<Vec<(Tok, bool)>, Error> {
    let err = |m: String| Error { line, message: m };
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut space = true;
    let fields = |i: &mut usize| {
        let mut f = Vec::new();
        while *i < chars.len()
            && chars[*i] == '.'
            && chars.get(*i + 1).is_some_and(|&c| is_ident(c))
        {
            *i += 1;
            let start = *i;
            while *i < chars.len() && is_ident(chars[*i]) {
                *i += 1;
            }
            f.push(chars[start..*i].iter().collect::<String>());
        }
        f
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '|' => {
                i += 1;
                Tok::Bar
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '=' => {
                i += 1;
                Tok::Assign
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                i += 2;
                Tok::Declare
            }
            '.' => {
                let f = fields(&mut i);
                if f.is_empty() {
                    i += 1;
                    Tok::Dot(Vec::new())
                } else if space || out.is_empty() {
                    Tok::Dot(f)
                } else {
                    Tok::Field(f)
                }
            }
            '$' => {
                i += 1;
                let start = i;
                while i < chars.len() && is_ident(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                Tok::Var(name, fields(&mut i))
            }
            '"' => {
                i += 1;
                let mut v = String::new();
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(err("unterminated string".into()));
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = chars.get(i).copied().unwrap_or('\\');
                            i += 1;
                            v.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '"' => '"',
                                '\\' => '\\',
                                other => return Err(err(format!("unsupported escape \\{other}"))),
                            });
                        }
                        c => v.push(c),
                    }
                }
                Tok::Str(v)
            }
            '`' => {
                i += 1;
                let start = i;
                while i < chars.len() && chars[i] != '`' {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(err("unterminated raw string".into()));
                }
                let v: String = chars[start..i].iter().collect();
                i += 1;
                Tok::Str(v)
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                Tok::Int(
                    text.parse()
                        .map_err(|_| err(format!("bad number {text}")))?,
                )
            }
            c if is_ident(c) => {
                let start = i;
                while i < chars.len() && is_ident(chars[i]) {
                    i += 1;
                }
                Tok::Ident(chars[start..i].iter().collect())
            }
            other => return Err(err(format!("unexpected {other:?} in action"))),
        };
        out.push((tok, space));
        space = false;
    }
    Ok(out)
}

// ---------------------------------------------------------------- parsing

struct Parser {
    pieces: std::vec::IntoIter<Piece>,
}

/// How a list of nodes ended.
enum Stop {
    Eof,
    End(usize),
    Else(Vec<(Tok, bool)>, usize),
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, Error> {
        let mut p = Parser {
            pieces: split_pieces(src)?.into_iter(),
        };
        let (nodes, end) = p.list(0)?;
        match end {
            Stop::Eof => Ok(Template { nodes }),
            Stop::End(line) => Err(Error {
                line,
                message: "unexpected {{end}}".into(),
            }),
            Stop::Else(_, line) => Err(Error {
                line,
                message: "unexpected {{else}}".into(),
            }),
        }
    }

    /// Render with `data` as `.` and `$`.
    pub fn render(&self, data: &Value) -> Result<String, Error> {
        let mut ev = Eval {
            vars: vec![("$".into(), data.clone())],
            out: String::new(),
        };
        match ev.nodes(&self.nodes, data)? {
            Flow::Normal => Ok(ev.out),
            Flow::Break(line) | Flow::Continue(line) => Err(Error {
                line,
                message: "break or continue outside range".into(),
            }),
        }
    }
}

impl Parser {
    fn list(&mut self, depth: usize) -> Result<(Vec<Node>, Stop), Error> {
        let mut nodes = Vec::new();
        if depth > MAX_NESTING {
            return Err(Error {
                line: 1,
                message: format!("blocks nested more than {MAX_NESTING} deep"),
            });
        }
        while let Some(piece) = self.pieces.next() {
            let (toks, line) = match piece {
                Piece::Text(t) => {
                    if !t.is_empty() {
                        nodes.push(Node::Text(t));
                    }
                    continue;
                }
                Piece::Action(toks, line) => (toks, line),
            };
            let err = |m: &str| Error {
                line,
                message: m.to_string(),
            };
            let keyword = match toks.first() {
                Some((Tok::Ident(k), _)) => k.as_str(),
                _ => "",
            };
            match keyword {
                "end" if depth > 0 => return Ok((nodes, Stop::End(line))),
                "else" if depth > 0 => return Ok((nodes, Stop::Else(toks[1..].to_vec(), line))),
                "end" | "else" => return Err(err(&format!("unexpected {{{{{keyword}}}}}"))),
                "if" | "with" => {
                    let node = self.branches(keyword, toks[1..].to_vec(), line, depth)?;
                    nodes.push(node);
                }
                "range" => {
                    let pipe = parse_pipe(&toks[1..], line, true)?;
                    let (body, end) = self.list(depth + 1)?;
                    let else_ = match end {
                        Stop::End(_) => Vec::new(),
                        Stop::Else(rest, l) if rest.is_empty() => {
                            let (e, end) = self.list(depth + 1)?;
                            expect_end(end, l)?;
                            e
                        }
                        Stop::Else(_, l) => {
                            return Err(Error {
                                line: l,
                                message: "{{else …}} chains are not allowed in range".into(),
                            });
                        }
                        Stop::Eof => return Err(err("range has no {{end}}")),
                    };
                    nodes.push(Node::Range(pipe, body, else_));
                }
                "break" if toks.len() == 1 => nodes.push(Node::Break(line)),
                "continue" if toks.len() == 1 => nodes.push(Node::Continue(line)),
                "define" | "template" | "block" => {
                    return Err(err(&format!(
                        "{{{{{keyword}}}}} is not supported in commit message templates"
                    )));
                }
                _ => nodes.push(Node::Output(parse_pipe(&toks, line, true)?)),
            }
        }
        Ok((nodes, Stop::Eof))
    }

    /// `if`/`with` with their `else if`/`else with`/`else` chain.
    fn branches(
        &mut self,
        keyword: &str,
        first: Vec<(Tok, bool)>,
        line: usize,
        depth: usize,
    ) -> Result<Node, Error> {
        let mut arms = Vec::new();
        let mut cond = first;
        let mut cond_line = line;
        loop {
            let pipe = parse_pipe(&cond, cond_line, keyword == "with")?;
            let (body, end) = self.list(depth + 1)?;
            arms.push((pipe, body));
            match end {
                Stop::End(_) => break,
                Stop::Eof => {
                    return Err(Error {
                        line,
                        message: format!("{keyword} has no {{{{end}}}}"),
                    });
                }
                Stop::Else(rest, l) if rest.is_empty() => {
                    let (e, end) = self.list(depth + 1)?;
                    expect_end(end, l)?;
                    return Ok(make_branch(keyword, arms, e));
                }
                Stop::Else(rest, l) => match rest.first() {
                    Some((Tok::Ident(k), _)) if k == keyword => {
                        cond = rest[1..].to_vec();
                        cond_line = l;
                    }
                    _ => {
                        return Err(Error {
                            line: l,
                            message: format!("expected {{{{else}}}} or {{{{else {keyword} …}}}}"),
                        });
                    }
                },
            }
        }
        Ok(make_branch(keyword, arms, Vec::new()))
    }
}

fn make_branch(keyword: &str, arms: Vec<(Pipe, Vec<Node>)>, else_: Vec<Node>) -> Node {
    if keyword == "if" {
        Node::If(arms, else_)
    } else {
        Node::With(arms, else_)
    }
}

fn expect_end(end: Stop, line: usize) -> Result<(), Error> {
    match end {
        Stop::End(_) => Ok(()),
        _ => Err(Error {
            line,
            message: "{{else}} must be followed by {{end}}".into(),
        }),
    }
}

fn parse_pipe(toks: &[(Tok, bool)], line: usize, allow_decl: bool) -> Result<Pipe, Error> {
    let err = |m: String| Error { line, message: m };
    let mut vars = Vec::new();
    let mut assign = false;
    let mut rest = toks;
    // `$a, $b :=` / `$a :=` / `$a =`
    let decl_at = toks
        .iter()
        .position(|(t, _)| matches!(t, Tok::Declare | Tok::Assign));
    if let Some(pos) = decl_at {
        if !allow_decl && matches!(toks[pos].0, Tok::Declare) {
            // `if $x := …` is fine in Go too; accept it.
        }
        for (i, (t, _)) in toks[..pos].iter().enumerate() {
            match (i % 2, t) {
                (0, Tok::Var(name, f)) if f.is_empty() => vars.push(format!("${name}")),
                (1, Tok::Comma) => {}
                _ => return Err(err("bad variable declaration".into())),
            }
        }
        if vars.is_empty() || vars.len() > 2 {
            return Err(err("bad variable declaration".into()));
        }
        assign = matches!(toks[pos].0, Tok::Assign);
        rest = &toks[pos + 1..];
    }
    let mut pos = 0;
    let cmds = parse_cmds(rest, &mut pos, line, 0)?;
    Ok(Pipe {
        vars,
        assign,
        cmds,
        line,
    })
}

fn parse_cmds(
    toks: &[(Tok, bool)],
    pos: &mut usize,
    line: usize,
    parens: usize,
) -> Result<Vec<Vec<Arg>>, Error> {
    let err = |m: String| Error { line, message: m };
    if parens > MAX_NESTING {
        return Err(err(format!(
            "parentheses nested more than {MAX_NESTING} deep"
        )));
    }
    let in_paren = parens > 0;
    let mut cmds = vec![Vec::new()];
    while *pos < toks.len() {
        let (tok, _) = &toks[*pos];
        *pos += 1;
        let arg = match tok {
            Tok::RParen if in_paren => break,
            Tok::Bar => {
                if cmds.last().is_some_and(Vec::is_empty) {
                    return Err(err("missing command before |".into()));
                }
                cmds.push(Vec::new());
                continue;
            }
            Tok::Dot(f) => Arg::Dot(f.clone()),
            Tok::Var(n, f) => Arg::Var(format!("${n}"), f.clone()),
            Tok::Str(s) => Arg::Str(s.clone()),
            Tok::Int(i) => Arg::Int(*i),
            Tok::Ident(name) => match name.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                f if FUNCTIONS.contains(&f) => Arg::Func(f.to_string()),
                f => {
                    return Err(err(format!(
                        "function {f:?} is not supported by hoist's template engine (supported: {})",
                        FUNCTIONS.join(", ")
                    )));
                }
            },
            Tok::LParen => {
                let inner = parse_cmds(toks, pos, line, parens + 1)?;
                let mut fields = Vec::new();
                if let Some((Tok::Field(f), false)) = toks.get(*pos) {
                    fields = f.clone();
                    *pos += 1;
                }
                Arg::Paren(
                    Box::new(Pipe {
                        vars: Vec::new(),
                        assign: false,
                        cmds: inner,
                        line,
                    }),
                    fields,
                )
            }
            other => return Err(err(format!("unexpected {other:?}"))),
        };
        cmds.last_mut().expect("one command").push(arg);
    }
    if cmds.iter().any(Vec::is_empty) {
        return Err(err("missing value for command".into()));
    }
    Ok(cmds)
}

// ---------------------------------------------------------------- evaluation

enum Flow {
    Normal,
    Break(usize),
    Continue(usize),
}

struct Eval {
    vars: Vec<(String, Value)>,
    out: String,
}

fn walk_fields(mut v: Value, fields: &[String]) -> Result<Value, String> {
    for f in fields {
        v = v.field(f)?;
    }
    Ok(v)
}

impl Eval {
    fn nodes(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, Error> {
        let mark = self.vars.len();
        let flow = self.nodes_inner(nodes, dot);
        self.vars.truncate(mark);
        flow
    }

    fn nodes_inner(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, Error> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Output(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.vars.is_empty() {
                        let _ = write!(self.out, "{v}");
                    }
                }
                Node::If(arms, else_) | Node::With(arms, else_) => {
                    let is_with = matches!(n, Node::With(..));
                    let mut taken = false;
                    for (cond, body) in arms {
                        let v = self.pipe(cond, dot)?;
                        if v.truthy() {
                            taken = true;
                            let d = if is_with { v } else { dot.clone() };
                            match self.nodes(body, &d)? {
                                Flow::Normal => {}
                                other => return Ok(other),
                            }
                            break;
                        }
                    }
                    if !taken {
                        match self.nodes(else_, dot)? {
                            Flow::Normal => {}
                            other => return Ok(other),
                        }
                    }
                }
                Node::Range(p, body, else_) => {
                    let plain = Pipe {
                        vars: Vec::new(),
                        ..p.clone()
                    };
                    let over = self.pipe(&plain, dot)?;
                    let items: Vec<(Value, Value)> = match over {
                        Value::List(l) => l
                            .into_iter()
                            .enumerate()
                            .map(|(i, v)| (Value::Int(i as i64), v))
                            .collect(),
                        Value::Map(m) => m,
                        Value::Int(n) => (0..n.max(0))
                            .map(|i| (Value::Int(i), Value::Int(i)))
                            .collect(),
                        Value::Nil => Vec::new(),
                        other => {
                            return Err(Error {
                                line: p.line,
                                message: format!("range can't iterate over {other}"),
                            });
                        }
                    };
                    if items.is_empty() {
                        match self.nodes(else_, dot)? {
                            Flow::Normal => {}
                            other => return Ok(other),
                        }
                        continue;
                    }
                    for (k, v) in items {
                        let mark = self.vars.len();
                        match p.vars.as_slice() {
                            [one] => self.vars.push((one.clone(), v.clone())),
                            [a, b] => {
                                self.vars.push((a.clone(), k));
                                self.vars.push((b.clone(), v.clone()));
                            }
                            _ => {}
                        }
                        let flow = self.nodes(body, &v)?;
                        self.vars.truncate(mark);
                        match flow {
                            Flow::Break(_) => break,
                            Flow::Continue(_) | Flow::Normal => {}
                        }
                    }
                }
                Node::Break(l) => return Ok(Flow::Break(*l)),
                Node::Continue(l) => return Ok(Flow::Continue(*l)),
            }
        }
        Ok(Flow::Normal)
    }

    fn var(&self, name: &str, line: usize) -> Result<Value, Error> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| Error {
                line,
                message: format!("undefined variable {name}"),
            })
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, Error> {
        let mut prev: Option<Value> = None;
        for cmd in &p.cmds {
            prev = Some(self.command(cmd, dot, prev, p.line)?);
        }
        let v = prev.unwrap_or(Value::Nil);
        if let Some(name) = p.vars.first() {
            if p.assign {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = v.clone(),
                    None => {
                        return Err(Error {
                            line: p.line,
                            message: format!("undefined variable {name}"),
                        });
                    }
                }
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn arg(&mut self, a: &Arg, dot: &Value, line: usize) -> Result<Value, Error> {
        let at = |m: String| Error { line, message: m };
        match a {
            Arg::Dot(f) => walk_fields(dot.clone(), f).map_err(at),
            Arg::Var(n, f) => walk_fields(self.var(n, line)?, f).map_err(at),
            Arg::Str(s) => Ok(Value::Str(s.clone())),
            Arg::Int(i) => Ok(Value::Int(*i)),
            Arg::Bool(b) => Ok(Value::Bool(*b)),
            Arg::Nil => Ok(Value::Nil),
            Arg::Paren(p, f) => {
                let v = self.pipe(p, dot)?;
                walk_fields(v, f).map_err(at)
            }
            Arg::Func(name) => call(name, Vec::new()).map_err(at),
        }
    }

    fn command(
        &mut self,
        cmd: &[Arg],
        dot: &Value,
        piped: Option<Value>,
        line: usize,
    ) -> Result<Value, Error> {
        let at = |m: String| Error { line, message: m };
        match &cmd[0] {
            Arg::Func(name) => {
                let mut args = Vec::with_capacity(cmd.len());
                for a in &cmd[1..] {
                    args.push(self.arg(a, dot, line)?);
                }
                args.extend(piped);
                call(name, args).map_err(at)
            }
            first => {
                if cmd.len() > 1 || piped.is_some() {
                    return Err(at("can't give argument to non-function".into()));
                }
                self.arg(first, dot, line)
            }
        }
    }
}

fn as_str(v: &Value) -> String {
    match v {
        Value::Nil => String::new(),
        other => other.to_string(),
    }
}

fn int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Str(s) => s.parse().map_err(|_| format!("{s:?} is not a number")),
        other => Err(format!("{other} is not a number")),
    }
}

fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb @ ('s' | 'v' | 'd' | 'q')) => match args.next() {
                Some(v) if verb == 'q' => {
                    let _ = write!(out, "{:?}", as_str(v));
                }
                Some(v) => out.push_str(&v.to_string()),
                None => {
                    let _ = write!(out, "%!{verb}(MISSING)");
                }
            },
            Some(other) => {
                let _ = write!(out, "%!{other}(unsupported)");
            }
            None => out.push_str("%!(NOVERB)"),
        }
    }
    out
}

fn indent(n: i64, s: &str) -> String {
    let pad = " ".repeat(n.max(0) as usize);
    let mut out = String::with_capacity(s.len());
    for (i, l) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&pad);
        out.push_str(l);
    }
    out
}

fn list_of(v: &Value) -> Vec<Value> {
    match v {
        Value::List(l) => l.clone(),
        Value::Map(m) => m.iter().map(|(_, v)| v.clone()).collect(),
        Value::Nil => Vec::new(),
        other => vec![other.clone()],
    }
}

fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
    let need = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "wrong number of args for {name}: want {n} got {}",
                args.len()
            ))
        }
    };
    let s = |i: usize| as_str(&args[i]);
    Ok(match name {
        "and" => args
            .iter()
            .find(|v| !v.truthy())
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Nil),
        "or" => args
            .iter()
            .find(|v| v.truthy())
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Nil),
        "not" => {
            need(1)?;
            Value::Bool(!args[0].truthy())
        }
        "len" => {
            need(1)?;
            Value::Int(match &args[0] {
                Value::Str(s) => s.len(),
                Value::List(l) => l.len(),
                Value::Map(m) => m.len(),
                other => return Err(format!("len of {}", other.type_name())),
            } as i64)
        }
        "index" => {
            let mut v = args.first().cloned().unwrap_or(Value::Nil);
            for k in args.iter().skip(1) {
                v = match (&v, k) {
                    (Value::List(l), _) => {
                        let i = int(k)?;
                        l.get(usize::try_from(i).map_err(|_| "index out of range")?)
                            .cloned()
                            .ok_or_else(|| format!("index out of range: {i}"))?
                    }
                    (Value::Map(m), _) => m
                        .iter()
                        .find(|(mk, _)| mk == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or(Value::Nil),
                    _ => return Err(format!("can't index item of type {}", v.type_name())),
                };
            }
            v
        }
        "print" => {
            // Go adds spaces between operands when neither is a string.
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
                    out.push(' ');
                }
                out.push_str(&a.to_string());
            }
            Value::Str(out)
        }
        "println" => Value::Str(
            args.iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(" ")
                + "\n",
        ),
        "printf" => {
            if args.is_empty() {
                return Err("printf needs a format".into());
            }
            Value::Str(printf(&s(0), &args[1..]))
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
            if args.len() < 2 {
                return Err(format!("{name} needs two arguments"));
            }
            let o = cmp_values(&args[0], &args[1]);
            use std::cmp::Ordering::*;
            Value::Bool(match name {
                "eq" => args[1..].iter().any(|b| &args[0] == b),
                "ne" => o != Equal,
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            })
        }
        "upper" => {
            need(1)?;
            Value::Str(s(0).to_uppercase())
        }
        "lower" => {
            need(1)?;
            Value::Str(s(0).to_lowercase())
        }
        "title" => {
            need(1)?;
            let mut out = String::new();
            let mut start = true;
            for c in s(0).chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = c.is_whitespace();
            }
            Value::Str(out)
        }
        "trim" => {
            need(1)?;
            Value::Str(s(0).trim().to_string())
        }
        "nospace" => {
            need(1)?;
            Value::Str(s(0).chars().filter(|c| !c.is_whitespace()).collect())
        }
        "trimAll" => {
            need(2)?;
            let set: Vec<char> = s(0).chars().collect();
            Value::Str(s(1).trim_matches(set.as_slice()).to_string())
        }
        "trimPrefix" => {
            need(2)?;
            let t = s(1);
            Value::Str(t.strip_prefix(s(0).as_str()).unwrap_or(&t).to_string())
        }
        "trimSuffix" => {
            need(2)?;
            let t = s(1);
            Value::Str(t.strip_suffix(s(0).as_str()).unwrap_or(&t).to_string())
        }
        "replace" => {
            need(3)?;
            Value::Str(s(2).replace(&s(0), &s(1)))
        }
        "contains" => {
            need(2)?;
            Value::Bool(s(1).contains(&s(0)))
        }
        "hasPrefix" => {
            need(2)?;
            Value::Bool(s(1).starts_with(&s(0)))
        }
        "hasSuffix" => {
            need(2)?;
            Value::Bool(s(1).ends_with(&s(0)))
        }
        "repeat" => {
            need(2)?;
            Value::Str(s(1).repeat(int(&args[0])?.max(0) as usize))
        }
        "trunc" => {
            need(2)?;
            let n = int(&args[0])?;
            let t: Vec<char> = s(1).chars().collect();
            let n = (n.unsigned_abs() as usize).min(t.len());
            Value::Str(if int(&args[0])? >= 0 {
                t[..n].iter().collect()
            } else {
                t[t.len() - n..].iter().collect()
            })
        }
        "quote" | "squote" => {
            let q = if name == "quote" { '"' } else { '\'' };
            Value::Str(
                args.iter()
                    .filter(|a| **a != Value::Nil)
                    .map(|a| {
                        if q == '"' {
                            format!("{:?}", as_str(a))
                        } else {
                            format!("'{}'", as_str(a))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        }
        "cat" => Value::Str(
            args.iter()
                .filter(|a| **a != Value::Nil)
                .map(as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "indent" | "nindent" => {
            need(2)?;
            let t = indent(int(&args[0])?, &s(1));
            Value::Str(if name == "nindent" {
                format!("\n{t}")
            } else {
                t
            })
        }
        "join" => {
            need(2)?;
            Value::Str(
                list_of(&args[1])
                    .iter()
                    .map(as_str)
                    .collect::<Vec<_>>()
                    .join(&s(0)),
            )
        }
        "splitList" => {
            need(2)?;
            Value::List(s(1).split(s(0).as_str()).map(Value::str).collect())
        }
        "split" => {
            need(2)?;
            Value::map(
                s(1).split(s(0).as_str())
                    .enumerate()
                    .map(|(i, p)| (Value::Str(format!("_{i}")), Value::str(p)))
                    .collect(),
            )
        }
        "default" => {
            need(2)?;
            if args[1].truthy() {
                args[1].clone()
            } else {
                args[0].clone()
            }
        }
        "empty" => {
            need(1)?;
            Value::Bool(!args[0].truthy())
        }
        "coalesce" => args
            .iter()
            .find(|a| a.truthy())
            .cloned()
            .unwrap_or(Value::Nil),
        "ternary" => {
            need(3)?;
            if args[2].truthy() {
                args[0].clone()
            } else {
                args[1].clone()
            }
        }
        "list" => Value::List(args),
        "first" | "last" => {
            need(1)?;
            let l = list_of(&args[0]);
            let v = if name == "first" { l.first() } else { l.last() };
            v.cloned().unwrap_or(Value::Nil)
        }
        "uniq" => {
            need(1)?;
            let mut out: Vec<Value> = Vec::new();
            for v in list_of(&args[0]) {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            Value::List(out)
        }
        "sortAlpha" => {
            need(1)?;
            let mut l: Vec<String> = list_of(&args[0]).iter().map(as_str).collect();
            l.sort();
            Value::List(l.into_iter().map(Value::Str).collect())
        }
        "keys" => {
            let mut out = Vec::new();
            for a in &args {
                if let Value::Map(m) = a {
                    out.extend(m.iter().map(|(k, _)| k.clone()));
                }
            }
            Value::List(out)
        }
        "toString" => {
            need(1)?;
            Value::Str(as_str(&args[0]))
        }
        "base" => {
            need(1)?;
            let t = s(0);
            Value::Str(t.rsplit('/').next().unwrap_or("").to_string())
        }
        other => return Err(format!("function {other:?} is not supported")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, data: &Value) -> String {
        Template::parse(src).unwrap().render(data).unwrap()
    }

    fn data() -> Value {
        Value::Struct(vec![
            ("AutomationObject".into(), Value::str("flux-system/apps")),
            (
                "Values".into(),
                Value::map(vec![(Value::str("env"), Value::str("prod"))]),
            ),
            (
                "Files".into(),
                Value::map(vec![
                    (Value::str("b.yaml"), Value::Int(2)),
                    (Value::str("a.yaml"), Value::Int(1)),
                ]),
            ),
            (
                "List".into(),
                Value::List(vec![Value::str("x"), Value::str("y"), Value::str("x")]),
            ),
        ])
    }

    #[test]
    fn fields_ranges_trimming() {
        let d = data();
        assert_eq!(
            render("Auto {{ .AutomationObject }}", &d),
            "Auto flux-system/apps"
        );
        assert_eq!(
            render("{{ .Values.env }}/{{ .Values.nope }}", &d),
            "prod/<no value>"
        );
        let t = "Files:\n{{ range $f, $n := .Files -}}\n- {{ $f }}={{ $n }}\n{{ end -}}\ndone";
        assert_eq!(render(t, &d), "Files:\n- a.yaml=1\n- b.yaml=2\ndone");
        assert_eq!(render("{{range .List}}{{.}}{{end}}", &d), "xyx");
        assert_eq!(
            render(
                "{{ range $i, $v := .List }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ $v }}{{ end }}",
                &d
            ),
            "xx"
        );
        assert_eq!(
            render(
                "{{ range .Nope }}x{{ else }}none{{ end }}",
                &Value::map(vec![])
            ),
            "none"
        );
        assert_eq!(render("{{/* comment */}}a  {{- /* c */ -}}  b", &d), "ab");
    }

    #[test]
    fn conditionals_variables_functions() {
        let d = data();
        assert_eq!(
            render(
                "{{ if eq .Values.env \"dev\" }}D{{ else if eq .Values.env \"prod\" }}P{{ else }}O{{ end }}",
                &d
            ),
            "P"
        );
        assert_eq!(
            render("{{ with .Values.env }}[{{ . }}]{{ end }}", &d),
            "[prod]"
        );
        assert_eq!(
            render("{{ $x := .Values.env }}{{ $x = upper $x }}{{ $x }}", &d),
            "PROD"
        );
        assert_eq!(render("{{ .List | uniq | join \", \" }}", &d), "x, y");
        assert_eq!(render("{{ len .List }} {{ index .List 1 }}", &d), "3 y");
        assert_eq!(
            render("{{ printf \"%s-%d%%\" .Values.env 5 }}", &d),
            "prod-5%"
        );
        assert_eq!(render("{{ (index .List 0) | upper | quote }}", &d), "\"X\"");
        assert_eq!(render("{{ \"\" | default \"dflt\" }}", &d), "dflt");
        assert_eq!(render("{{ \"a\\nb\" | indent 2 }}", &d), "  a\n  b");
        assert_eq!(
            render("{{ .List }} {{ .Values }}", &d),
            "[x y x] map[env:prod]"
        );
        assert_eq!(render("{{ range 3 }}{{ . }}{{ end }}", &d), "012");
    }

    #[test]
    fn errors_name_the_line() {
        let e = Template::parse("ok\n{{ sha256sum .X }}").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("sha256sum"), "{e}");
        assert_eq!(
            Template::parse("{{ if .X }}").unwrap_err().message,
            "if has no {{end}}"
        );
        assert!(Template::parse("{{ .X ").is_err());
        assert!(Template::parse("{{ end }}").is_err());
        assert!(Template::parse("{{ define \"x\" }}{{ end }}").is_err());
        let deep = format!("{{{{ {}1{} }}}}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(
            Template::parse(&deep)
                .unwrap_err()
                .message
                .contains("nested")
        );
        let deep = "{{ if 1 }}".repeat(100_000);
        assert!(
            Template::parse(&deep)
                .unwrap_err()
                .message
                .contains("nested")
        );
        let e = Template::parse("{{ .AutomationObject.Nope }}")
            .unwrap()
            .render(&data())
            .unwrap_err();
        assert!(e.message.contains("Nope"), "{e}");
        let e = Template::parse("{{ $nope }}")
            .unwrap()
            .render(&data())
            .unwrap_err();
        assert!(e.message.contains("undefined variable"), "{e}");
    }
}
