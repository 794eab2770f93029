//! `GET /`: the ladder page. One server-rendered HTML document: no
//! script, no external asset, readable without CSS; every value escaped.

use std::fmt::Write;

use crate::report::view::View;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Only http(s) links are links; anything else is shown as text.
fn link(url: &str, text: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        format!("<a href=\"{}\">{}</a>", esc(url), esc(text))
    } else {
        esc(text)
    }
}

/// `tag@sha256:abcdef…` (or `tag` whose digest the scan knows) → `tag`
/// and a short digest.
fn cell(value: &str, known: Option<&String>) -> String {
    let value = match (value.contains('@'), known) {
        (false, Some(d)) => format!("{value}@{d}"),
        _ => value.to_string(),
    };
    match value.split_once("@sha256:") {
        Some((tag, d)) => format!(
            "{} <small title=\"sha256:{}\">sha256:{}</small>",
            esc(tag),
            esc(d),
            esc(&d.chars().take(12).collect::<String>())
        ),
        None => esc(&value),
    }
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1f2328}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #d0d7de;padding:.35em .7em;text-align:left;vertical-align:top}\
th{background:#f6f8fa}.moves{background:#fff8c5}.held{color:#9a6700}.waits{color:#9a6700}.blocked{color:#cf222e}\
.success{color:#1a7f37}.failure,.error{color:#cf222e}.pending{color:#9a6700}small{color:#57606a}";

/// One fleet on the page.
pub struct Fleet {
    pub label: String,
    pub view: Option<std::sync::Arc<View>>,
    pub reconciled: Vec<crate::report::view::Reconciled>,
}

/// The page for `fleets`.
pub fn render(fleets: &[Fleet]) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>hoist: the ladder</title><style>{STYLE}</style></head><body><h1>hoist: the ladder</h1>"
    );
    for Fleet {
        label,
        view,
        reconciled,
    } in fleets
    {
        let _ = write!(h, "<section><h2>{}</h2>", esc(label));
        let Some(v) = view else {
            h.push_str("<p>Not scanned yet: the first run is under way.</p></section>");
            continue;
        };
        // Per image: what each rung runs, and where it would move.
        let mut images: Vec<&String> = v.rungs.iter().flat_map(|p| p.runs.keys()).collect();
        images.sort();
        images.dedup();
        h.push_str("<table id=\"runs\"><thead><tr><th>image</th>");
        for p in &v.rungs {
            let _ = write!(h, "<th>{}</th>", esc(&p.rung));
        }
        h.push_str("</tr></thead><tbody>");
        for image in &images {
            let _ = write!(h, "<tr><th>{}</th>", esc(image));
            let d = |tag: &str| v.digests.get(*image).and_then(|m| m.get(tag));
            for p in &v.rungs {
                match p.runs.get(*image) {
                    None => h.push_str("<td>–</td>"),
                    Some((was, now)) if was == now => {
                        let _ = write!(h, "<td>{}</td>", cell(was, d(was)));
                    }
                    Some((was, now)) => {
                        let _ = write!(
                            h,
                            "<td class=\"moves\">{} → {}</td>",
                            cell(was, d(was)),
                            cell(now, d(now))
                        );
                    }
                }
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody></table>");

        h.push_str("<h3>Gates</h3><ul id=\"gates\">");
        for g in &v.gates {
            let state = match (&g.waits, g.held) {
                (_, true) => "<span class=\"held\">on hold</span>".to_string(),
                (Some(w), false) => format!("<span class=\"waits\">waits: {}</span>", esc(w)),
                (None, false) => "open".to_string(),
            };
            let since = g
                .since
                .as_deref()
                .map(|s| format!(" <small>last promotion merged {}</small>", esc(s)))
                .unwrap_or_default();
            let _ = write!(h, "<li>{}: {state}{since}</li>", esc(&g.environment));
        }
        for p in &v.rungs {
            for b in &p.blocked {
                let state = b.state();
                let _ = write!(
                    h,
                    "<li class=\"{state}\">{} {state}: {}/{}: {}</li>",
                    esc(&p.rung),
                    esc(&b.namespace),
                    esc(&b.policy),
                    esc(&b.reason)
                );
            }
        }
        h.push_str("</ul><h3>Open pull requests</h3>");
        if v.pull_requests.is_empty() {
            h.push_str("<p id=\"pulls\">None.</p>");
        } else {
            h.push_str("<ul id=\"pulls\">");
            for p in &v.pull_requests {
                let _ = write!(
                    h,
                    "<li>{}: {}{}</li>",
                    esc(&p.environment),
                    link(&p.url, &format!("#{} {}", p.number, p.title)),
                    if p.auto_merge {
                        " <small>(merges when checks pass)</small>"
                    } else {
                        ""
                    }
                );
            }
            h.push_str("</ul>");
        }
        h.push_str("<h3>Last reconcile</h3>");
        if reconciled.is_empty() {
            h.push_str("<p id=\"reconciled\">No Flux event yet.</p>");
        } else {
            h.push_str("<ul id=\"reconciled\">");
            for r in reconciled {
                let _ = write!(
                    h,
                    "<li>{}: <span class=\"{}\">{}</span> {} <small>{} at {}</small></li>",
                    esc(&r.environment),
                    esc(&r.state),
                    esc(&r.state),
                    esc(&r.description),
                    esc(&r.commit.chars().take(12).collect::<String>()),
                    esc(&r.at)
                );
            }
            h.push_str("</ul>");
        }
        h.push_str("</section>");
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_only_web_links_are_links() {
        assert_eq!(esc("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
        assert_eq!(link("javascript:alert(1)", "x"), "x");
        assert!(link("https://e.example/1", "#1 <b>").contains("&lt;b&gt;"));
        assert!(cell("v1@sha256:0123456789abcdef", None).contains("sha256:0123456789ab<"));
        let d = "sha256:fedcba9876543210".to_string();
        assert!(cell("v2", Some(&d)).contains("sha256:fedcba987654<"));
        let page = render(&[Fleet {
            label: "<fleet>".into(),
            view: None,
            reconciled: Vec::new(),
        }]);
        assert!(page.contains("&lt;fleet&gt;") && !page.contains("<script"));
    }
}
