//! Parsing: tokens into a tree of nodes and pipelines.

use super::lex::{Piece, Tok, split_pieces};
use super::{Error, FUNCTIONS, MAX_NESTING};

#[derive(Debug, Clone)]
pub(super) enum Arg {
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
pub(super) struct Pipe {
    pub(super) vars: Vec<String>,
    /// `=` (assign to existing variables) rather than `:=`.
    pub(super) assign: bool,
    pub(super) cmds: Vec<Vec<Arg>>,
    pub(super) line: usize,
}

#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    Output(Pipe),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    With(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    Break(usize),
    Continue(usize),
}

/// Parse a whole template into its nodes.
pub(super) fn parse(src: &str) -> Result<Vec<Node>, Error> {
    let mut p = Parser {
        pieces: split_pieces(src)?.into_iter(),
    };
    let (nodes, end) = p.list(0)?;
    match end {
        Stop::Eof => Ok(nodes),
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

struct Parser {
    pieces: std::vec::IntoIter<Piece>,
}

/// How a list of nodes ended.
enum Stop {
    Eof,
    End(usize),
    Else(Vec<(Tok, bool)>, usize),
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
