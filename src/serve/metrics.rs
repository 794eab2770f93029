//! The bot's counters, in Prometheus' text exposition format. Kept by
//! hand (atomics and one small map): a dozen series do not need a
//! metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the event-to-commit histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

#[derive(Default)]
pub struct Metrics {
    pub scans: AtomicU64,
    pub runs_skipped: AtomicU64,
    pub tags_seen: AtomicU64,
    pub selections: AtomicU64,
    pub commits: AtomicU64,
    pub registry_errors: AtomicU64,
    pub run_failures: AtomicU64,
    pub statuses: AtomicU64,
    /// Automatic rollbacks landed after a failed reconcile.
    pub rollbacks: AtomicU64,
    /// `(hook, outcome)` → count.
    deliveries: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Pull request actions by kind (opened, updated, merged…).
    pulls: Mutex<BTreeMap<String, u64>>,
    latency: Mutex<Histogram>,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn delivery(&self, hook: &'static str, outcome: &'static str) {
        if let Ok(mut m) = self.deliveries.lock() {
            *m.entry((hook, outcome)).or_default() += 1;
        }
    }

    pub fn pull(&self, action: &str) {
        if let Ok(mut m) = self.pulls.lock() {
            *m.entry(action.to_string()).or_default() += 1;
        }
    }

    pub fn event_to_commit(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Ok(mut h) = self.latency.lock() {
            for (i, b) in BUCKETS.iter().enumerate() {
                if s <= *b {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += s;
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            &mut out,
            "hoist_scans_total",
            "Registry scans of a fleet's images.",
            self.scans.load(Relaxed),
        );
        counter(
            &mut out,
            "hoist_runs_skipped_total",
            "Scheduled scans that found nothing new (no run).",
            self.runs_skipped.load(Relaxed),
        );
        counter(
            &mut out,
            "hoist_selections_total",
            "Rung plans made (one per rung and run).",
            self.selections.load(Relaxed),
        );
        counter(
            &mut out,
            "hoist_commits_total",
            "Commits pushed (base or bot branches).",
            self.commits.load(Relaxed),
        );
        counter(
            &mut out,
            "hoist_registry_errors_total",
            "Images whose scan failed.",
            self.registry_errors.load(Relaxed),
        );
        counter(
            &mut out,
            "hoist_run_failures_total",
            "Rungs that failed (Git, forge, setup).",
            self.run_failures.load(Relaxed),
        );
        counter(
            &mut out,
            "hoist_reconcile_statuses_total",
            "Commit statuses posted for Flux events.",
            self.statuses.load(Relaxed),
        );
        counter(
            &mut out,
            "hoist_rollbacks_total",
            "Automatic rollbacks landed after Flux reported a promotion failing.",
            self.rollbacks.load(Relaxed),
        );
        counter(
            &mut out,
            "hoist_forge_errors_total",
            "Forge replies that were server errors or rate limits, and transport failures.",
            crate::propose::forge::http::ERRORS.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP hoist_tags_seen Tags listed in the last scan, all images.\n# TYPE hoist_tags_seen gauge\nhoist_tags_seen {}",
            self.tags_seen.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP hoist_forge_rate_limit_remaining The last x-ratelimit-remaining a forge sent (-1: none yet).\n# TYPE hoist_forge_rate_limit_remaining gauge\nhoist_forge_rate_limit_remaining {}",
            crate::propose::forge::http::RATE_LIMIT_REMAINING.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP hoist_http_requests_total HTTP requests made, by service (registry, forge), host and route class.\n# TYPE hoist_http_requests_total counter"
        );
        let label = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
        for c in crate::core::requests::snapshot() {
            let _ = writeln!(
                out,
                "hoist_http_requests_total{{service=\"{}\",host=\"{}\",route=\"{}\"}} {}",
                c.service.word(),
                label(&c.host),
                label(&c.route),
                c.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP hoist_pull_requests_total Pull request actions, by action.\n# TYPE hoist_pull_requests_total counter"
        );
        if let Ok(m) = self.pulls.lock() {
            for (a, n) in m.iter() {
                let _ = writeln!(out, "hoist_pull_requests_total{{action=\"{a}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP hoist_webhook_deliveries_total Webhook deliveries, by hook and outcome.\n# TYPE hoist_webhook_deliveries_total counter"
        );
        if let Ok(m) = self.deliveries.lock() {
            for ((hook, outcome), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "hoist_webhook_deliveries_total{{hook=\"{hook}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP hoist_event_to_commit_seconds From the first event of a run to its last push.\n# TYPE hoist_event_to_commit_seconds histogram"
        );
        if let Ok(h) = self.latency.lock() {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "hoist_event_to_commit_seconds_bucket{{le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "hoist_event_to_commit_seconds_bucket{{le=\"+Inf\"}} {}\nhoist_event_to_commit_seconds_sum {}\nhoist_event_to_commit_seconds_count {}",
                h.count, h.sum, h.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.delivery("github", "accepted");
        m.delivery("github", "accepted");
        m.delivery("flux", "unauthorized");
        m.pull("opened");
        m.event_to_commit(Duration::from_millis(200));
        m.event_to_commit(Duration::from_secs(3));
        let t = m.render();
        assert!(
            t.contains("hoist_webhook_deliveries_total{hook=\"github\",outcome=\"accepted\"} 2\n")
        );
        assert!(t.contains("hoist_pull_requests_total{action=\"opened\"} 1\n"));
        assert!(t.contains("hoist_event_to_commit_seconds_bucket{le=\"0.25\"} 1\n"));
        assert!(t.contains("hoist_event_to_commit_seconds_bucket{le=\"5\"} 2\n"));
        assert!(t.contains("hoist_event_to_commit_seconds_count 2\n"));
        // Every sample line belongs to a declared family.
        for line in t.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(t.contains(&format!("# TYPE {family} ")), "{line}");
        }
    }
}
