//! Functions: Go's builtins and the supported Sprig functions.

use std::fmt::Write as _;

use super::{MAX_OUTPUT, MAX_VALUE_DEPTH, Value, cmp_values};

/// Roughly the bytes a value holds.
pub(super) fn size_of(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.len(),
        Value::List(l) => l.iter().map(size_of).sum::<usize>() + 8 * l.len(),
        Value::Map(m) => m.iter().map(|(k, v)| size_of(k) + size_of(v)).sum(),
        Value::Struct(f) => f.iter().map(|(k, v)| k.len() + size_of(v)).sum(),
        Value::Object(f, s) => s.len() + f.iter().map(|(k, v)| k.len() + size_of(v)).sum::<usize>(),
        _ => 8,
    }
}

/// How deep lists nest in `v` (stops counting past the limit).
fn depth(v: &Value) -> usize {
    match v {
        Value::List(l) => 1 + l.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Refuse a string result before it is built.
fn check_len(what: &str, len: usize) -> Result<(), String> {
    if len > MAX_OUTPUT {
        return Err(format!(
            "{what} would build a string over {} KiB",
            MAX_OUTPUT >> 10
        ));
    }
    Ok(())
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

fn indent(n: i64, s: &str) -> Result<String, String> {
    let n = usize::try_from(n.max(0)).unwrap_or(usize::MAX);
    let lines = s.bytes().filter(|&b| b == b'\n').count() + 1;
    check_len("indent", n.saturating_mul(lines).saturating_add(s.len()))?;
    let pad = " ".repeat(n);
    let mut out = String::with_capacity(s.len());
    for (i, l) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&pad);
        out.push_str(l);
    }
    Ok(out)
}

fn list_of(v: &Value) -> Vec<Value> {
    match v {
        Value::List(l) => l.clone(),
        Value::Map(m) => m.iter().map(|(_, v)| v.clone()).collect(),
        Value::Nil => Vec::new(),
        other => vec![other.clone()],
    }
}

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
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
            let (from, to, t) = (s(0), s(1), s(2));
            let hits = if from.is_empty() {
                t.chars().count() + 1
            } else {
                t.matches(from.as_str()).count()
            };
            check_len(
                "replace",
                t.len().saturating_add(hits.saturating_mul(to.len())),
            )?;
            Value::Str(t.replace(&from, &to))
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
            let n = usize::try_from(int(&args[0])?.max(0)).unwrap_or(usize::MAX);
            let t = s(1);
            check_len("repeat", n.saturating_mul(t.len()))?;
            Value::Str(t.repeat(n))
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
            let t = indent(int(&args[0])?, &s(1))?;
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
        "list" => {
            if args.iter().map(depth).max().unwrap_or(0) >= MAX_VALUE_DEPTH {
                return Err(format!("lists nested more than {MAX_VALUE_DEPTH} deep"));
            }
            Value::List(args)
        }
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
