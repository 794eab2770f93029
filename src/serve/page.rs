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
/// [`cell`], the tag a link to `url` (its source commit) when given.
fn cell_linked(value: &str, known: Option<&String>, url: Option<&String>) -> String {
    let value = match (value.contains('@'), known) {
        (false, Some(d)) => format!("{value}@{d}"),
        _ => value.to_string(),
    };
    let tag = |t: &str| match url {
        Some(u) => link(u, t),
        None => esc(t),
    };
    match value.split_once("@sha256:") {
        Some((t, d)) => format!(
            "{} <small title=\"sha256:{}\">sha256:{}</small>",
            tag(t),
            esc(d),
            esc(&d.chars().take(12).collect::<String>())
        ),
        None => tag(&value),
    }
}

const STYLE: &str = "*{box-sizing:border-box}body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}\
header{display:flex;flex-wrap:wrap;gap:.2em 1em;align-items:baseline;padding:.8em 1.2em;background:#24292f;color:#fff}header h1{font-size:1.2em;margin:0}header small{color:#d0d7de}\
main{padding:0 1.2em 2em}section.fleet{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:1.2em 0;padding:.2em 1em 1em}\
h2{font-size:1.15em;margin:.8em 0 .1em}h2+p{margin:0 0 .6em;color:#57606a}h3{font-size:1em;margin:1.2em 0 .4em}\
.scroll{overflow-x:auto}table.ladder{border-collapse:separate;border-spacing:6px;min-width:100%}\
.ladder th{text-align:left;font-weight:600;vertical-align:bottom;padding:.2em .4em}.ladder th small{display:block;font-weight:400}\
.ladder tbody th{vertical-align:middle;max-width:16em;overflow-wrap:anywhere}\
td.cell{vertical-align:top;padding:.45em .6em;border-radius:6px;border-left:5px solid #8c959f;background:#f6f8fa;min-width:11em}\
td.cell .tag{font-family:ui-monospace,monospace;font-weight:600;overflow-wrap:anywhere}td.cell .meta,td.cell .why{font-size:.85em;color:#57606a}\
.st-steady{border-color:#1a7f37!important;background:#dafbe1!important}.st-moving{border-color:#0969da!important;background:#ddf4ff!important}\
.st-waiting{border-color:#bf8700!important;background:#fff8c5!important}.st-failed{border-color:#cf222e!important;background:#ffebe9!important}\
.legend{display:flex;flex-wrap:wrap;gap:.4em;margin:.4em 0;padding:0;list-style:none;font-size:.85em}.legend li{padding:.1em .5em;border-left:5px solid;border-radius:4px}\
.held,.waits,.pending{color:#9a6700}.blocked,.failure,.error{color:#cf222e}.success{color:#1a7f37}small{color:#57606a}\
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(17em,1fr));gap:.8em}.chart{border:1px solid #d0d7de;border-radius:6px;padding:.5em .7em}\
.chart h4{margin:0 0 .2em;font-size:.95em}.chart p{margin:.2em 0;font-size:.85em;color:#57606a}.chart svg{width:100%;height:auto;display:block}\
ul{padding-left:1.2em}li,p{overflow-wrap:anywhere}a{color:#0969da}\
@media (max-width:600px){main{padding:0 .4em 1em}section.fleet{padding:.2em .5em .8em}table.ladder{border-spacing:3px}\
td.cell{min-width:0;padding:.3em .35em;font-size:.8em;border-left-width:4px}.ladder th{font-size:.85em}.ladder tbody th{max-width:4.5em}.ladder tbody th small{display:none}}";

/// One fleet on the page.
pub struct Fleet {
    pub label: String,
    pub view: Option<std::sync::Arc<View>>,
    pub reconciled: Vec<crate::report::view::Reconciled>,
}

/// Seconds between the page's refreshes (`<meta http-equiv="refresh">`).
pub const REFRESH: u32 = 30;

/// `3 h`, `12 min`, `2 d`: how long ago, for a cell.
fn ago(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

/// A cell's state: its class, and what it waits on or why it failed.
fn state(
    v: &View,
    rung: &crate::decide::ladder::RungPlan,
    image: &str,
    moves: bool,
    reconciled: &[crate::report::view::Reconciled],
) -> (&'static str, Option<String>) {
    let mine = |b: &&crate::decide::ladder::Blocked| {
        b.image
            .as_deref()
            .is_none_or(|i| i == image || i.starts_with(&format!("{image}:")))
    };
    if let Some(b) = rung.blocked.iter().filter(mine).find(|b| !b.waits) {
        return ("st-failed", Some(format!("blocked: {}", b.reason)));
    }
    if reconciled
        .iter()
        .any(|r| r.environment == rung.rung && r.state == "failure")
    {
        return ("st-failed", Some("Flux: reconcile failed".into()));
    }
    if let Some(b) = rung.blocked.iter().filter(mine).find(|b| b.waits) {
        return (
            "st-waiting",
            Some(format!("waits on signature: {}", b.reason)),
        );
    }
    let gate = v.gates.iter().find(|g| g.environment == rung.rung);
    if moves {
        return match gate {
            Some(g) if g.held => ("st-waiting", Some("waits: on hold".into())),
            Some(g) if g.waits.is_some() => (
                "st-waiting",
                Some(format!("waits: {}", g.waits.as_deref().unwrap_or_default())),
            ),
            _ => ("st-moving", None),
        };
    }
    ("st-steady", None)
}

/// An SVG bar chart of `values` (no script, no external asset), `label`
/// for screen readers.
fn bars(values: &[f64], label: &str, colour: &str) -> String {
    let (w, h) = (300.0, 60.0);
    let max = values.iter().cloned().fold(0.0_f64, f64::max).max(1.0);
    let n = values.len().max(1) as f64;
    let bw = w / n;
    let mut out = format!(
        "<svg viewBox=\"0 0 {w} {}\" role=\"img\" aria-label=\"{}\"><line x1=\"0\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" stroke=\"#d0d7de\"/>",
        h + 1.0,
        esc(label)
    );
    for (i, v) in values.iter().enumerate() {
        let bh = (v / max * (h - 4.0)).max(if *v > 0.0 { 2.0 } else { 0.0 });
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{colour}\"/>",
            i as f64 * bw + bw * 0.15,
            h - bh,
            bw * 0.7
        );
    }
    out.push_str("</svg>");
    out
}

/// The delivery measures of one fleet as small charts, per environment.
fn charts(h: &mut String, v: &View, now: i64) {
    let Some(d) = &v.delivery else {
        return;
    };
    h.push_str("<h3>Delivery, last 30 days</h3><div class=\"charts\" id=\"delivery\">");
    let mut any = false;
    for f in d.figures.iter().filter(|f| f.image == "*") {
        any = true;
        // Deployments per day, oldest first.
        let mut per_day = vec![0.0; 30];
        for l in v
            .landings
            .iter()
            .filter(|l| l.environment == f.environment && !l.rollback)
        {
            let age = (now - l.at) / 86_400;
            if (0..30).contains(&age) {
                per_day[29 - age as usize] += 1.0;
            }
        }
        let leads: Vec<f64> = f.lead_times.iter().map(|s| *s as f64 / 3600.0).collect();
        let _ = write!(
            h,
            "<div class=\"chart\"><h4>{}</h4><p>{} deployment{} · {:.1} a week</p>{}\
<p>lead time (median) {} · per deployment, hours:</p>{}<p>change failure rate {} · time to restore {}</p></div>",
            esc(&f.environment),
            f.deployments,
            if f.deployments == 1 { "" } else { "s" },
            f.per_day * 7.0,
            bars(
                &per_day,
                &format!("deployments per day to {}", f.environment),
                "#0969da"
            ),
            f.lead_time_median
                .map_or("–".into(), |s| crate::report::delivery::long_human(
                    s.max(0) as u64
                )),
            bars(
                &leads,
                &format!("lead time per deployment to {}", f.environment),
                "#8250df"
            ),
            f.change_failure_rate
                .map_or("–".into(), |r| format!("{:.0}%", r * 100.0)),
            f.time_to_restore_median
                .map_or("–".into(), |s| crate::report::delivery::long_human(
                    s.max(0) as u64
                )),
        );
    }
    if !any {
        h.push_str("<p>No hoist landings in the last 30 days.</p>");
    }
    h.push_str("</div>");
}

/// The page for `fleets`.
pub fn render(fleets: &[Fleet]) -> String {
    render_at(fleets, crate::core::time::now())
}

/// [`render`] as of `now` (seconds).
pub fn render_at(fleets: &[Fleet], now: i64) -> String {
    let mut h = String::new();
    let title = match fleets {
        [f] => f
            .view
            .as_ref()
            .and_then(|v| v.repository.clone())
            .unwrap_or_else(|| f.label.clone()),
        _ => format!("{} fleets", fleets.len()),
    };
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta http-equiv=\"refresh\" content=\"{REFRESH}\">\
<title>hoist: the ladder — {}</title><style>{STYLE}</style></head><body><header><h1>hoist: the ladder</h1>\
<small>as of {} UTC · refreshes every {REFRESH} s</small></header><main>",
        esc(&title),
        esc(&crate::core::time::clock(now))
    );
    for Fleet {
        label,
        view,
        reconciled,
    } in fleets
    {
        let name = view
            .as_ref()
            .and_then(|v| v.repository.clone())
            .unwrap_or_else(|| label.clone());
        let _ = write!(
            h,
            "<section class=\"fleet\"><h2>{}</h2><p>{}</p>",
            esc(&name),
            esc(label)
        );
        let Some(v) = view else {
            h.push_str("<p>Not scanned yet: the first run is under way.</p></section>");
            continue;
        };
        // The grid: one column per environment, one row per image.
        let mut images: Vec<&String> = v.rungs.iter().flat_map(|p| p.runs.keys()).collect();
        images.sort();
        images.dedup();
        h.push_str(
            "<div class=\"scroll\"><table class=\"ladder\" id=\"runs\"><thead><tr><th>image</th>",
        );
        for p in &v.rungs {
            let g = v.gates.iter().find(|g| g.environment == p.rung);
            let gate = match g {
                Some(g) if g.held => "<small class=\"held\">on hold</small>".to_string(),
                Some(g) if g.waits.is_some() => format!(
                    "<small class=\"waits\">waits: {}</small>",
                    esc(g.waits.as_deref().unwrap_or_default())
                ),
                _ => "<small>open</small>".to_string(),
            };
            let from = p
                .promote_from
                .as_deref()
                .map(|f| format!("<small>from {}</small>", esc(f)))
                .unwrap_or_default();
            let _ = write!(h, "<th>{}{from}{gate}</th>", esc(&p.rung));
        }
        h.push_str("</tr></thead><tbody>");
        for image in &images {
            let short = image.rsplit('/').next().unwrap_or(image);
            let _ = write!(
                h,
                "<tr><th title=\"{}\">{}<small>{}</small></th>",
                esc(image),
                esc(short),
                esc(image)
            );
            let d = |tag: &str| v.digests.get(*image).and_then(|m| m.get(tag));
            let tag_html = |value: &str| {
                let tag = value.split('@').next().unwrap_or(value);
                cell_linked(
                    value,
                    d(tag),
                    v.tag_links.get(*image).and_then(|m| m.get(tag)),
                )
            };
            for p in &v.rungs {
                let Some((was, now_tag)) = p.runs.get(*image) else {
                    h.push_str("<td class=\"cell\">–</td>");
                    continue;
                };
                let moves = was != now_tag;
                let (class, why) = state(v, p, image, moves, reconciled);
                let since = v
                    .landings
                    .iter()
                    .find(|l| l.environment == p.rung && l.images.iter().any(|i| i == *image))
                    .map(|l| format!("since {}", ago(now - l.at)));
                let _ = write!(
                    h,
                    "<td class=\"cell {class}\"><div class=\"tag\">{}</div>",
                    tag_html(was)
                );
                if let Some(s) = since {
                    let _ = write!(h, "<div class=\"meta\">{s}</div>");
                }
                if moves {
                    let pull = v.pull_requests.iter().find(|q| q.environment == p.rung);
                    let target = tag_html(now_tag);
                    let _ = write!(
                        h,
                        "<div class=\"meta\">→ {target}{}</div>",
                        pull.map(|q| format!(" · {}", link(&q.url, &format!("#{}", q.number))))
                            .unwrap_or_default()
                    );
                }
                if let Some(w) = why {
                    let _ = write!(h, "<div class=\"why\">{}</div>", esc(&w));
                }
                h.push_str("</td>");
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody></table></div>");
        h.push_str(
            "<ul class=\"legend\"><li class=\"st-steady\">runs</li><li class=\"st-moving\">moving</li>\
<li class=\"st-waiting\">waiting (gate, hold, freeze, signature)</li><li class=\"st-failed\">failed</li></ul>",
        );

        charts(&mut h, v, now);

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
    h.push_str("</main></body></html>\n");
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
        assert!(
            cell_linked("v1@sha256:0123456789abcdef", None, None).contains("sha256:0123456789ab<")
        );
        let d = "sha256:fedcba9876543210".to_string();
        assert!(cell_linked("v2", Some(&d), None).contains("sha256:fedcba987654<"));
        let u = "https://e.example/c/1a2b3c4".to_string();
        assert!(
            cell_linked("dev-1a2b3c4-2", None, Some(&u))
                .starts_with("<a href=\"https://e.example/c/1a2b3c4\">dev-1a2b3c4-2</a>")
        );
        assert_eq!(ago(30), "30 s");
        assert_eq!(ago(3 * 3600 + 5), "3 h");
        assert_eq!(ago(3 * 86_400), "3 d");
        let svg = bars(&[0.0, 2.0, 1.0], "x<", "#000");
        assert!(
            svg.starts_with("<svg") && svg.matches("<rect").count() == 3 && svg.contains("x&lt;")
        );
        let page = render(&[Fleet {
            label: "<fleet>".into(),
            view: None,
            reconciled: Vec::new(),
        }]);
        assert!(page.contains("&lt;fleet&gt;") && !page.contains("<script"));
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"30\">"));
    }

    fn rung(
        name: &str,
        runs: (&str, &str),
        blocked: &[(&str, bool)],
    ) -> crate::decide::ladder::RungPlan {
        let blocked: Vec<serde_json::Value> = blocked
            .iter()
            .map(|(why, waits)| {
                serde_json::json!({"namespace": "ns", "policy": "api", "image": "r/api", "reason": why, "waits": waits})
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "rung": name, "files": [], "promotions": [], "blocked": blocked,
            "runs": {"r/api": [runs.0, runs.1]}, "diagnostics": []
        }))
        .unwrap()
    }

    /// Each cell's colour says what it is doing, and on what it waits.
    #[test]
    fn cells_say_moving_waiting_failed_with_ages_and_charts() {
        use crate::report::delivery::Landing;
        use crate::report::view::GateView;
        let now = 1_000_000_000;
        let landing = |env: &str, at: i64| Landing {
            environment: env.into(),
            commit: format!("{env}{at}"),
            at,
            seq: at as u64,
            images: vec!["r/api".into()],
            rollback: false,
            pull: None,
            reconciled: vec![],
        };
        let landings = vec![
            landing("dev", now - 3 * 3600),
            landing("staging", now - 3 * 86_400),
        ];
        let gate = |env: &str, held: bool, waits: Option<&str>| GateView {
            environment: env.into(),
            held,
            waits: waits.map(str::to_string),
            since: None,
        };
        let v = View {
            rungs: vec![
                rung("dev", ("dev-1", "dev-1"), &[]),
                rung("staging", ("s-1", "s-2"), &[]),
                rung("qa", ("q-1", "q-2"), &[]),
                rung(
                    "prod",
                    ("p-1", "p-1"),
                    &[("waiting for a signature from k", true)],
                ),
                rung(
                    "eu",
                    ("e-1", "e-1"),
                    &[("e-2 is not in the registry", false)],
                ),
            ],
            digests: Default::default(),
            pull_requests: vec![],
            gates: vec![
                gate("staging", false, None),
                gate("qa", false, Some("frozen until Mon 08:00")),
                gate("prod", true, None),
            ],
            reconciled: vec![],
            diagnostics: vec![],
            repository: Some("acme/fleet".into()),
            tag_links: Default::default(),
            delivery: Some(crate::report::delivery::figures(
                &landings,
                &Default::default(),
                &["dev".into(), "staging".into()],
                now - 30 * 86_400,
                now,
            )),
            landings,
        };
        let page = render_at(
            &[Fleet {
                label: "hoist.toml".into(),
                view: Some(std::sync::Arc::new(v)),
                reconciled: vec![],
            }],
            now,
        );
        for needle in [
            "<title>hoist: the ladder — acme/fleet</title>",
            "<td class=\"cell st-steady\"><div class=\"tag\">dev-1</div><div class=\"meta\">since 3 h</div>",
            "<td class=\"cell st-moving\"><div class=\"tag\">s-1</div><div class=\"meta\">since 3 d</div><div class=\"meta\">→ s-2</div>",
            "<div class=\"why\">waits: frozen until Mon 08:00</div>",
            "<td class=\"cell st-waiting\"><div class=\"tag\">p-1</div><div class=\"why\">waits on signature: waiting for a signature from k</div>",
            "<td class=\"cell st-failed\"><div class=\"tag\">e-1</div><div class=\"why\">blocked: e-2 is not in the registry</div>",
            "<h4>dev</h4><p>1 deployment · 0.2 a week</p><svg",
        ] {
            assert!(page.contains(needle), "{needle}\n{page}");
        }
        // A cell on hold that would move waits on the hold.
        let v2 = View {
            rungs: vec![rung("prod", ("p-1", "p-2"), &[])],
            digests: Default::default(),
            pull_requests: vec![],
            gates: vec![gate("prod", true, None)],
            reconciled: vec![],
            diagnostics: vec![],
            repository: None,
            tag_links: Default::default(),
            landings: vec![],
            delivery: None,
        };
        let page = render_at(
            &[Fleet {
                label: "x".into(),
                view: Some(std::sync::Arc::new(v2)),
                reconciled: vec![],
            }],
            now,
        );
        assert!(
            page.contains("<div class=\"why\">waits: on hold</div>"),
            "{page}"
        );
    }
}
