//! Execution: walking the tree with data, within fixed bounds.

use std::fmt::Write as _;

use super::funcs::{call, size_of};
use super::parse::{Arg, Node, Pipe};
use super::{Error, MAX_OUTPUT, MAX_STEPS, MAX_WORK, Value};

/// Run the nodes with `data` as `.` and `$`.
pub(super) fn render(nodes: &[Node], data: &Value) -> Result<String, Error> {
    let mut ev = Eval {
        vars: vec![("$".into(), data.clone())],
        out: String::new(),
        steps: 0,
        work: 0,
        line: 1,
    };
    match ev.nodes(nodes, data)? {
        Flow::Normal => Ok(ev.out),
        Flow::Break(line) | Flow::Continue(line) => Err(Error {
            line,
            message: "break or continue outside range".into(),
        }),
    }
}

enum Flow {
    Normal,
    Break(usize),
    Continue(usize),
}

struct Eval {
    vars: Vec<(String, Value)>,
    out: String,
    /// Actions run and loop iterations so far.
    steps: u64,
    /// Bytes of values copied or produced so far.
    work: usize,
    /// The line of the latest action, for errors in plain text.
    line: usize,
}

/// A `fmt::Write` that refuses to grow its string past [`MAX_OUTPUT`].
struct Capped<'a>(&'a mut String);

impl std::fmt::Write for Capped<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.0.len() + s.len() > MAX_OUTPUT {
            return Err(std::fmt::Error);
        }
        self.0.push_str(s);
        Ok(())
    }
}

fn too_long(line: usize) -> Error {
    Error {
        line,
        message: format!("the message would exceed {} KiB", MAX_OUTPUT >> 10),
    }
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

    /// Count one step of work; a template that loops too long stops here.
    fn step(&mut self, line: usize) -> Result<(), Error> {
        self.steps += 1;
        self.line = line;
        if self.steps > MAX_STEPS {
            return Err(Error {
                line,
                message: format!("the template runs more than {MAX_STEPS} steps"),
            });
        }
        Ok(())
    }

    /// Account for a value copied or produced.
    fn charge(&mut self, v: &Value, line: usize) -> Result<(), Error> {
        self.work = self.work.saturating_add(size_of(v));
        if self.work > MAX_WORK {
            return Err(Error {
                line,
                message: format!(
                    "the template copies more than {} MiB of values",
                    MAX_WORK >> 20
                ),
            });
        }
        Ok(())
    }

    fn nodes_inner(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, Error> {
        for n in nodes {
            match n {
                Node::Text(t) => {
                    Capped(&mut self.out)
                        .write_str(t)
                        .map_err(|_| too_long(self.line))?;
                }
                Node::Output(p) => {
                    self.step(p.line)?;
                    let v = self.pipe(p, dot)?;
                    if p.vars.is_empty() {
                        write!(Capped(&mut self.out), "{v}").map_err(|_| too_long(p.line))?;
                    }
                }
                Node::If(arms, else_) | Node::With(arms, else_) => {
                    let is_with = matches!(n, Node::With(..));
                    let mut taken = false;
                    for (cond, body) in arms {
                        self.step(cond.line)?;
                        let v = self.pipe(cond, dot)?;
                        if v.truthy() {
                            taken = true;
                            let d = if is_with { &v } else { dot };
                            match self.nodes(body, d)? {
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
                    self.step(p.line)?;
                    let over = self.pipe(&plain, dot)?;
                    // Integers are counted lazily: `range N` costs steps,
                    // never N items of memory.
                    let items: Box<dyn Iterator<Item = (Value, Value)>> = match over {
                        Value::List(l) => Box::new(
                            l.into_iter()
                                .enumerate()
                                .map(|(i, v)| (Value::Int(i as i64), v)),
                        ),
                        Value::Map(m) => Box::new(m.into_iter()),
                        Value::Int(n) => {
                            Box::new((0..n.max(0)).map(|i| (Value::Int(i), Value::Int(i))))
                        }
                        Value::Nil => Box::new(std::iter::empty()),
                        other => {
                            return Err(Error {
                                line: p.line,
                                message: format!("range can't iterate over {}", other.type_name()),
                            });
                        }
                    };
                    let mut items = items.peekable();
                    if items.peek().is_none() {
                        match self.nodes(else_, dot)? {
                            Flow::Normal => {}
                            other => return Ok(other),
                        }
                        continue;
                    }
                    for (k, v) in items {
                        self.step(p.line)?;
                        self.charge(&v, p.line)?;
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
        let v = self.arg_inner(a, dot, line)?;
        self.charge(&v, line)?;
        Ok(v)
    }

    fn arg_inner(&mut self, a: &Arg, dot: &Value, line: usize) -> Result<Value, Error> {
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
                let v = call(name, args).map_err(at)?;
                if matches!(&v, Value::Str(s) if s.len() > MAX_OUTPUT) {
                    return Err(too_long(line));
                }
                self.charge(&v, line)?;
                Ok(v)
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
