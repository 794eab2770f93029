//! Lexing: template text into text pieces and the tokens of each `{{ … }}`.

use super::Error;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
pub(super) enum Piece {
    Text(String),
    Action(Vec<(Tok, bool)>, usize),
}

pub(super) fn split_pieces(src: &str) -> Result<Vec<Piece>, Error> {
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
