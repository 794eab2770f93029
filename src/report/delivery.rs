//! The four delivery measures (DORA's) per image and environment, from
//! what hoist leaves behind: its commits on the base branch (their
//! `Hoist-Environment`, `Hoist-Image` and `Hoist-Rollback` trailers), the
//! pull requests those commits merged, and the reconcile notes Flux's
//! results left on them. Pure: [`crate::report::history`] reads them.
//!
//! - **deployments** and their frequency: the landings on an environment
//!   (a push, or a merged promotion) in the window, rollbacks not counted;
//! - **lead time**: from hoist's first commit of the build on the ladder
//!   (the first rung's landing; each promotion took what its source rung
//!   ran when it landed) to Flux's first successful reconcile of the
//!   landing in the environment, or to the landing itself where there is
//!   no reconcile record (push rungs, no `hoist serve`);
//! - **change failure rate**: deployments Flux reported failing, or that
//!   a rollback followed, over all deployments;
//! - **time to restore**: from the first failure to the next success on
//!   the environment (or, without reconcile records, to the next landing).

use std::collections::BTreeMap;

use serde::Serialize;

/// A commit that landed on an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    pub environment: String,
    /// The commit on the base branch (a push, or a pull request's merge).
    pub commit: String,
    /// When it landed (seconds since the epoch).
    pub at: i64,
    /// Its place on the base branch's first-parent line, larger = later:
    /// what "before" means (commits of one second are still ordered).
    pub seq: u64,
    /// The image repositories it moved (`Hoist-Image`, tag dropped).
    pub images: Vec<String>,
    /// A rollback (`Hoist-Rollback`), not a deployment.
    pub rollback: bool,
    /// The pull request that merged it, when known.
    pub pull: Option<u64>,
    /// Reconcile notes on that pull request for this environment: (ok,
    /// when).
    pub reconciled: Vec<(bool, i64)>,
}

/// The figures of one image (or `*`: all images) in one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub image: String,
    pub environment: String,
    pub deployments: usize,
    /// Deployments per day over the window.
    pub per_day: f64,
    /// Median lead time, seconds (none without deployments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_time_median: Option<i64>,
    /// Every deployment's lead time, seconds, oldest first.
    pub lead_times: Vec<i64>,
    /// How many lead times end at a reconcile (the rest at the landing).
    pub reconciled: usize,
    pub failed: usize,
    /// failed / deployments (none without deployments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_failure_rate: Option<f64>,
    /// Median time to restore, seconds, over the failures restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_restore_median: Option<i64>,
    pub restore_times: Vec<i64>,
    /// Failures not restored yet.
    pub still_failing: usize,
}

/// The report: a window and its figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// RFC 3339.
    pub since: String,
    pub until: String,
    pub days: f64,
    pub figures: Vec<Figures>,
}

/// The median of `v` (the lower middle of an even count: a value that
/// happened).
pub fn median(v: &[i64]) -> Option<i64> {
    let mut s = v.to_vec();
    s.sort_unstable();
    if s.is_empty() {
        None
    } else {
        Some(s[(s.len() - 1) / 2])
    }
}

/// The figures for `[since, until]` from `landings` (any order, reaching
/// back before `since` so that lead times find their origins), with
/// `sources` naming each environment's `promote_from` and `order` the
/// ladder's environments in order.
pub fn figures(
    landings: &[Landing],
    sources: &BTreeMap<String, String>,
    order: &[String],
    since: i64,
    until: i64,
) -> Delivery {
    let mut sorted: Vec<&Landing> = landings.iter().collect();
    sorted.sort_by_key(|l| l.seq);
    let mut images: Vec<&String> = sorted.iter().flat_map(|l| &l.images).collect();
    images.sort();
    images.dedup();
    let days = ((until - since).max(1)) as f64 / 86_400.0;
    let mut out = Vec::new();
    for env in order {
        let on_env: Vec<&Landing> = sorted
            .iter()
            .copied()
            .filter(|l| &l.environment == env)
            .collect();
        if on_env.is_empty() {
            continue;
        }
        for image in images.iter().map(|s| Some(s.as_str())).chain([None]) {
            let f = one(&sorted, &on_env, sources, env, image, since, until, days);
            if f.deployments > 0 || f.failed > 0 {
                out.push(f);
            }
        }
    }
    Delivery {
        since: crate::core::time::format(since),
        until: crate::core::time::format(until),
        days,
        figures: out,
    }
}

#[allow(clippy::too_many_arguments)]
fn one(
    all: &[&Landing],
    on_env: &[&Landing],
    sources: &BTreeMap<String, String>,
    env: &str,
    image: Option<&str>,
    since: i64,
    until: i64,
    days: f64,
) -> Figures {
    let has = |l: &Landing| image.is_none_or(|i| l.images.iter().any(|x| x == i));
    let mine: Vec<&Landing> = on_env.iter().copied().filter(|l| has(l)).collect();
    let mut f = Figures {
        image: image.unwrap_or("*").to_string(),
        environment: env.to_string(),
        deployments: 0,
        per_day: 0.0,
        lead_time_median: None,
        lead_times: Vec::new(),
        reconciled: 0,
        failed: 0,
        change_failure_rate: None,
        time_to_restore_median: None,
        restore_times: Vec::new(),
        still_failing: 0,
    };
    for (i, d) in mine.iter().enumerate() {
        if d.rollback || d.at < since || d.at > until {
            continue;
        }
        f.deployments += 1;
        // Lead time: to the first success after it landed, from the
        // build's first landing on the ladder.
        let success = d
            .reconciled
            .iter()
            .filter(|(ok, at)| *ok && *at >= d.at)
            .map(|(_, at)| *at)
            .min();
        if success.is_some() {
            f.reconciled += 1;
        }
        let end = success.unwrap_or(d.at);
        let start = origin(all, sources, env, d, image);
        f.lead_times.push((end - start).max(0));
        // A failure: Flux said so, or the next landing here rolled it
        // back.
        let failure = d
            .reconciled
            .iter()
            .filter(|(ok, at)| !*ok && *at >= d.at)
            .map(|(_, at)| *at)
            .min();
        let next = mine.get(i + 1);
        let rolled = next.is_some_and(|n| n.rollback);
        let failed_at = match (failure, rolled) {
            (Some(t), _) => Some(t),
            (None, true) => Some(d.at),
            (None, false) => None,
        };
        let Some(failed_at) = failed_at else {
            continue;
        };
        f.failed += 1;
        // Restored: the first success on the environment after the
        // failure (a later landing's or this one's), or, with no reconcile
        // record after it, the next landing.
        let restored = on_env
            .iter()
            .flat_map(|l| &l.reconciled)
            .filter(|(ok, at)| *ok && *at > failed_at)
            .map(|(_, at)| *at)
            .min()
            .or_else(|| {
                on_env
                    .iter()
                    .filter(|l| l.seq > d.seq && l.reconciled.is_empty())
                    .map(|l| l.at)
                    .min()
            });
        match restored {
            Some(t) if t <= until => f.restore_times.push(t - failed_at),
            _ => f.still_failing += 1,
        }
    }
    f.per_day = f.deployments as f64 / days;
    f.lead_time_median = median(&f.lead_times);
    f.time_to_restore_median = median(&f.restore_times);
    if f.deployments > 0 {
        f.change_failure_rate = Some(f.failed as f64 / f.deployments as f64);
    }
    f
}

/// When the build `d` carries first landed on the ladder: follow
/// `promote_from` down, each time to the source's last landing (of
/// `image`, for one image) at or before the current one.
fn origin(
    all: &[&Landing],
    sources: &BTreeMap<String, String>,
    env: &str,
    d: &Landing,
    image: Option<&str>,
) -> i64 {
    let mut at = d.at;
    let mut seq = d.seq;
    let mut env = env.to_string();
    // Bounded by the ladder's length (promote_from has no cycles).
    for _ in 0..=sources.len() {
        let Some(src) = sources.get(&env) else {
            break;
        };
        let prior = all
            .iter()
            .filter(|l| {
                &l.environment == src
                    && !l.rollback
                    && l.seq <= seq
                    && image.is_none_or(|i| l.images.iter().any(|x| x == i))
                    // All images: the source landing of one of them.
                    && (image.is_some() || l.images.iter().any(|x| d.images.contains(x)))
            })
            .max_by_key(|l| l.seq);
        match prior {
            Some(l) => {
                at = l.at;
                seq = l.seq;
                env = src.clone();
            }
            None => break,
        }
    }
    at
}

/// Parse `--since`: `30d`, `2w`, a Go duration (`12h`), or a date
/// (`2026-11-01`, UTC). The start of the window, seconds.
pub fn parse_since(s: &str, now: i64) -> Result<i64, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "--since {s:?}: give a number of days (30d), weeks (2w), a duration (12h) or a date (2026-11-01)"
        )
    };
    if let Some(n) = s.strip_suffix('d').or_else(|| s.strip_suffix('w')) {
        let n: i64 = n.parse().map_err(|_| bad())?;
        let unit = if s.ends_with('w') { 7 * 86_400 } else { 86_400 };
        if !(1..=3660).contains(&n) {
            return Err(bad());
        }
        return Ok(now - n * unit);
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_second())
            .map_err(|_| bad());
    }
    crate::core::time::parse_go_duration(s)
        .map(|d| now - d.as_secs() as i64)
        .map_err(|_| bad())
}

/// The report for people: one row per image and environment, then the
/// environment's figures over all images.
pub fn text(d: &Delivery) -> String {
    let dur = |s: Option<i64>| s.map_or("-".to_string(), |s| long_human(s.max(0) as u64));
    let mut rows = vec![[
        "IMAGE".to_string(),
        "ENVIRONMENT".into(),
        "DEPLOYS".into(),
        "PER WEEK".into(),
        "LEAD TIME".into(),
        "FAILED".into(),
        "RESTORED IN".into(),
    ]];
    for f in &d.figures {
        rows.push([
            if f.image == "*" {
                "(all images)".to_string()
            } else {
                f.image.clone()
            },
            f.environment.clone(),
            f.deployments.to_string(),
            format!("{:.1}", f.per_day * 7.0),
            dur(f.lead_time_median),
            match f.change_failure_rate {
                Some(r) => format!("{} ({:.0}%)", f.failed, r * 100.0),
                None => f.failed.to_string(),
            },
            match (f.time_to_restore_median, f.still_failing) {
                (t, 0) => dur(t),
                (None, n) => format!("{n} still failing"),
                (t, n) => format!("{}, {n} still failing", dur(t)),
            },
        ]);
    }
    let mut out = format!(
        "Delivery from {} to {} ({:.0} days)\n\n",
        &d.since[..10.min(d.since.len())],
        &d.until[..10.min(d.until.len())],
        d.days
    );
    if d.figures.is_empty() {
        out.push_str("No hoist landings in this window.\n");
        return out;
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}", w = *w))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(
        "\nLead time and time to restore are medians; lead time runs from hoist's first commit of a build to Flux's reconcile of it (or its landing, where nothing was reported).\n",
    );
    out
}

/// `3d 4h`, `5h 02m`, `12m`, `40s`.
pub fn long_human(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    fn land(env: &str, at: i64, image: &str) -> Landing {
        Landing {
            environment: env.into(),
            commit: format!("{env}-{at}"),
            at,
            seq: at as u64,
            images: vec![image.into()],
            rollback: false,
            pull: None,
            reconciled: vec![],
        }
    }

    #[test]
    fn lead_time_follows_the_ladder_down_and_failures_are_restored() {
        let t0 = 1_000_000;
        let mut l = vec![
            land("dev", t0, "api"),
            land("dev", t0 + H, "api"),
            land("staging", t0 + 2 * H, "api"),
            land("prod", t0 + 5 * H, "api"),
            land("prod", t0 + 30 * H, "api"),
        ];
        // prod's first landing reconciled 10 minutes later; the second
        // failed after 5 minutes, was rolled back and was fine an hour
        // after the failure.
        l[3].reconciled = vec![(true, t0 + 5 * H + 600)];
        l[4].reconciled = vec![(false, t0 + 30 * H + 300)];
        let mut rb = land("prod", t0 + 30 * H + 900, "api");
        rb.rollback = true;
        rb.reconciled = vec![(true, t0 + 31 * H + 300)];
        l.push(rb);
        let sources: BTreeMap<String, String> = [
            ("staging".to_string(), "dev".to_string()),
            ("prod".into(), "staging".into()),
        ]
        .into();
        let order = ["dev".to_string(), "staging".into(), "prod".into()];
        let d = figures(&l, &sources, &order, t0 - H, t0 + 7 * 24 * H - H);
        let prod = d
            .figures
            .iter()
            .find(|f| f.environment == "prod" && f.image == "api")
            .unwrap();
        assert_eq!(prod.deployments, 2);
        // From dev's second landing (the one staging took) to 10 min after
        // prod's landing; the second from the same origin to its landing.
        assert_eq!(prod.lead_times, vec![4 * H + 600, 29 * H]);
        assert_eq!(prod.reconciled, 1);
        assert_eq!(prod.failed, 1);
        assert_eq!(prod.change_failure_rate, Some(0.5));
        assert_eq!(prod.restore_times, vec![H]);
        assert_eq!(prod.still_failing, 0);
        assert!((prod.per_day - 2.0 / 7.0).abs() < 1e-9);
        let dev = d.figures.iter().find(|f| f.environment == "dev").unwrap();
        assert_eq!(dev.lead_times, vec![0, 0]);
        let text = text(&d);
        assert!(text.contains("1 (50%)"), "{text}");
        assert!(text.contains("(all images)"), "{text}");
        assert!(text.contains("4h 10m"), "{text}");
    }

    #[test]
    fn windows_and_medians() {
        assert_eq!(median(&[5, 1, 3, 2]), Some(2));
        assert_eq!(median(&[]), None);
        let now = 10_000_000;
        assert_eq!(parse_since("30d", now), Ok(now - 30 * 86_400));
        assert_eq!(parse_since("2w", now), Ok(now - 14 * 86_400));
        assert_eq!(parse_since("12h", now), Ok(now - 12 * 3600));
        assert_eq!(parse_since("1970-01-02", now), Ok(86_400));
        assert!(parse_since("soon", now).unwrap_err().contains("--since"));
        assert!(parse_since("0d", now).is_err());
        assert_eq!(long_human(3 * 86_400 + 4 * 3600), "3d 4h");
    }
}
