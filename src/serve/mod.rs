//! `hoist serve`: the long-running bot.
//!
//! One process serves one or more fleets (one `--config` each). Each fleet
//! has a queue and a worker: work on one repository runs one job at a
//! time, different fleets run in parallel. Events (registry pushes, Git
//! pushes, merged pull requests) and the scheduler only *mark* a fleet as
//! needing a run, so a burst of a hundred pushes coalesces into one run
//! that scans the newest tags. The run itself is `hoist run`'s
//! (`climb`), blocking, on tokio's blocking pool. Nothing is kept in
//! memory that a restart needs: Git, the forge and the registry hold the
//! state, and every run converges on it.

pub use crate::config::server as config;
pub mod flux;
pub mod hooks;
pub mod metrics;
pub mod page;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::core::diag::Diag;
use crate::core::secret::Secret;
use crate::run::climb::Climbed;
use crate::run::comment::CommentEvent;
use crate::run::session::{Outcome, Overrides, Repository, Scope, Session};
use hooks::Event;

/// Jobs waiting per fleet beyond the coalesced run; more are refused
/// (503) so a flood cannot grow memory.
const MAX_JOBS: usize = 256;
/// After SIGTERM, how long queued comments and Flux results are still
/// answered: half the deployment's 120 s grace, leaving the rest for a
/// run that is finishing its rung.
const DRAIN: Duration = Duration::from_secs(60);
/// Delivery ids remembered for de-duplication.
const SEEN_DELIVERIES: usize = 10_000;

/// What `hoist serve` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// One hoist.toml per fleet; the first one's `[server]` sets the
    /// listener, secrets and limits.
    pub configs: Vec<PathBuf>,
    pub listen: Option<String>,
    pub state_dir: PathBuf,
}

/// Hook secrets, read once at start from the variables `[server]` names.
#[derive(Default)]
struct Secrets {
    github: Option<Secret>,
    azure: Option<Secret>,
    gitlab: Option<Secret>,
    /// The key of GitLab's signing token (`whsec_…` decoded).
    gitlab_signing: Option<Vec<u8>>,
    registry: Option<Secret>,
    flux: Option<Secret>,
}

struct App {
    fleets: Vec<Arc<Fleet>>,
    secrets: Secrets,
    seen: Mutex<hooks::Seen>,
    metrics: metrics::Metrics,
    state_dir: PathBuf,
    stopping: AtomicBool,
    /// Set with `stopping`: until when queued jobs are still answered.
    drain_until: std::sync::OnceLock<Instant>,
}

/// One fleet repository and its queue.
struct Fleet {
    label: String,
    config_path: PathBuf,
    config: Config,
    queue: Mutex<Queue>,
    wake: Notify,
    /// Images seen by the last scan (`None` before the first).
    images: Mutex<Option<Vec<String>>>,
    /// The scan interval the fleet's ImageRepositories ask for.
    interval: Mutex<Duration>,
    /// The fingerprint of the last run that finished without failures.
    last: Mutex<Option<u64>>,
    /// Where the repository is, once settled.
    located: Mutex<Option<(Repository, Overrides)>>,
    /// Markers by policy, kept from run to run (image events plan only
    /// the files naming the image).
    index: crate::decide::index::SharedIndex,
    /// The ladder as the last run saw it (the page, `/api/ladder`).
    view: Mutex<Option<Arc<crate::report::view::View>>>,
    /// The last reconcile result per environment (Flux events).
    reconciled: Mutex<std::collections::BTreeMap<String, crate::report::view::Reconciled>>,
    /// `batch`: when each rung (or `rung/image`) first had changes
    /// pending, since it last landed (seconds since the epoch).
    batches: Mutex<std::collections::HashMap<String, i64>>,
    /// The earliest batching window still open: the worker runs the fleet
    /// again then.
    batch_due: Mutex<Option<i64>>,
}

impl crate::run::climb::Batching for Fleet {
    fn wait(&self, key: &str, window: Duration, now: i64) -> Option<i64> {
        let mut b = self.batches.lock().ok()?;
        let since = *b.entry(key.to_string()).or_insert(now);
        let until = since.saturating_add(window.as_secs() as i64);
        (now < until).then_some(until)
    }

    fn close(&self, key: &str) {
        if let Ok(mut b) = self.batches.lock() {
            b.remove(key);
        }
    }
}

#[derive(Default)]
struct Queue {
    run: Option<Trigger>,
    jobs: VecDeque<Job>,
}

/// A pending run: coalesced from every event since the last one.
struct Trigger {
    /// Run even if nothing seems to have changed (an event said so).
    force: bool,
    /// The first event's arrival, for event-to-commit latency.
    since: Instant,
    reasons: Vec<String>,
    /// Only these fleet images need planning (every event named images);
    /// `None`: the whole fleet.
    only: Option<std::collections::BTreeSet<String>>,
}

enum Job {
    Comment(CommentEvent),
    Flux(flux::FluxEvent, String),
}

impl Fleet {
    /// Mark the fleet as needing a run.
    fn trigger(&self, force: bool, reason: String, at: Instant) {
        self.trigger_for(force, reason, at, None);
    }

    /// Mark the fleet as needing a run for `only` these images (`None`:
    /// all). Runs coalesce: the images of every event add up, and one
    /// event for the whole fleet makes it a whole-fleet run.
    fn trigger_for(
        &self,
        force: bool,
        reason: String,
        at: Instant,
        only: Option<std::collections::BTreeSet<String>>,
    ) {
        if let Ok(mut q) = self.queue.lock() {
            match &mut q.run {
                Some(t) => {
                    t.force |= force;
                    t.since = t.since.min(at);
                    if t.reasons.len() < 16 && !t.reasons.contains(&reason) {
                        t.reasons.push(reason);
                    }
                    t.only = match (t.only.take(), only) {
                        (Some(mut a), Some(b)) if a.len() + b.len() <= 1000 => {
                            a.extend(b);
                            Some(a)
                        }
                        _ => None,
                    };
                }
                None => {
                    q.run = Some(Trigger {
                        force,
                        since: at,
                        reasons: vec![reason],
                        only,
                    })
                }
            }
        }
        self.wake.notify_one();
    }

    /// The fleet's images a push of `image` concerns (as the last scan
    /// named them); empty before the first scan.
    fn images_matching(&self, image: &str) -> std::collections::BTreeSet<String> {
        let mut out: std::collections::BTreeSet<String> = self
            .config
            .repositories
            .iter()
            .filter(|r| hooks::image_matches(image, &r.image))
            .map(|r| r.image.clone())
            .collect();
        if let Ok(Some(list)) = self.images.lock().map(|i| i.clone()) {
            out.extend(list.into_iter().filter(|i| hooks::image_matches(image, i)));
        }
        out
    }

    /// Queue a job; false when the queue is full.
    fn push(&self, job: Job) -> bool {
        let Ok(mut q) = self.queue.lock() else {
            return false;
        };
        // A newer result for the same Flux object replaces an older one.
        if let Job::Flux(e, env) = &job
            && let Some(slot) = q.jobs.iter_mut().find(|j| {
                matches!(j, Job::Flux(o, oenv) if oenv == env && o.kind == e.kind && o.namespace == e.namespace && o.name == e.name)
            })
        {
            *slot = job;
            drop(q);
            self.wake.notify_one();
            return true;
        }
        if q.jobs.len() >= MAX_JOBS {
            return false;
        }
        q.jobs.push_back(job);
        drop(q);
        self.wake.notify_one();
        true
    }

    fn take(&self) -> (Option<Trigger>, Vec<Job>) {
        match self.queue.lock() {
            Ok(mut q) => (q.run.take(), q.jobs.drain(..).collect()),
            Err(_) => (None, Vec::new()),
        }
    }

    /// Does this fleet's configuration govern forge repository `name`?
    fn governs(&self, name: &str) -> bool {
        let l = &self.config.ladder;
        l.forge
            .as_ref()
            .map(|f| f.repository.as_str())
            .into_iter()
            .chain(l.rungs.iter().filter_map(|r| r.repository.as_deref()))
            .any(|r| r.eq_ignore_ascii_case(name))
    }

    /// Might a push of `image` matter here?
    fn watches(&self, image: &str) -> bool {
        let from_config = self
            .config
            .repositories
            .iter()
            .any(|r| hooks::image_matches(image, &r.image));
        from_config
            || match self.images.lock().ok().and_then(|i| i.clone()) {
                // Not scanned yet: any image might be ours.
                None => true,
                Some(list) => list.iter().any(|i| hooks::image_matches(image, i)),
            }
    }
}

/// Load every config, check secrets and the state dir, then serve until
/// SIGTERM or SIGINT.
pub fn serve(opts: Options) -> Result<(), Vec<Diag>> {
    if opts.configs.is_empty() {
        return Err(vec![Diag::error(
            "hoist serve needs --config FILE (a hoist.toml naming the fleet repository)",
        )]);
    }
    let mut fleets = Vec::new();
    for path in &opts.configs {
        let cfg = crate::config::load(std::path::Path::new("."), Some(path))?;
        if cfg.git.url.is_none() && cfg.ladder.forge.is_none() {
            return Err(vec![
                Diag::error(
                    "hoist serve needs the fleet repository: set [git] url, or [forge] repository",
                )
                .at(path.display().to_string(), None),
            ]);
        }
        let interval = cfg.server.interval;
        fleets.push(Arc::new(Fleet {
            label: path.display().to_string(),
            config_path: path.clone(),
            config: cfg,
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            images: Mutex::new(None),
            interval: Mutex::new(interval),
            last: Mutex::new(None),
            located: Mutex::new(None),
            index: Default::default(),
            view: Mutex::new(None),
            reconciled: Mutex::new(Default::default()),
            batches: Mutex::new(Default::default()),
            batch_due: Mutex::new(None),
        }));
    }
    let first = fleets[0].config.server.clone();
    let secret = |var: &Option<String>, field: &str| -> Result<Option<Secret>, Vec<Diag>> {
        let Some(var) = var else { return Ok(None) };
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Some(Secret::new(v))),
            _ => Err(vec![
                Diag::error(format!(
                    "server.{field} names {var}, but that environment variable is empty or unset"
                ))
                .at(fleets[0].label.clone(), None),
            ]),
        }
    };
    let secrets = Secrets {
        github: secret(
            &first.github_webhook_secret_env,
            "github_webhook_secret_env",
        )?,
        azure: secret(
            &first.azure_devops_hook_secret_env,
            "azure_devops_hook_secret_env",
        )?,
        gitlab: secret(&first.gitlab_webhook_token_env, "gitlab_webhook_token_env")?,
        gitlab_signing: secret(&first.gitlab_signing_token_env, "gitlab_signing_token_env")?
            .map(|t| {
                hooks::signing_key(t.expose()).ok_or_else(|| {
                    vec![
                        Diag::error(
                            "server.gitlab_signing_token_env: the signing token is not whsec_<base64>, the form GitLab shows when it makes one",
                        )
                        .at(fleets[0].label.clone(), None),
                    ]
                })
            })
            .transpose()?,
        registry: secret(&first.registry_hook_token_env, "registry_hook_token_env")?,
        flux: secret(&first.flux_hmac_key_env, "flux_hmac_key_env")?,
    };
    std::fs::create_dir_all(&opts.state_dir).map_err(|e| {
        vec![Diag::error(format!(
            "cannot create the state directory {}: {e}",
            opts.state_dir.display()
        ))]
    })?;
    let listen = opts
        .listen
        .clone()
        .or(first.listen.clone())
        .unwrap_or_else(|| "0.0.0.0:8080".into());
    let app = Arc::new(App {
        fleets,
        secrets,
        seen: Mutex::new(hooks::Seen::new(SEEN_DELIVERIES)),
        metrics: metrics::Metrics::default(),
        state_dir: opts.state_dir.clone(),
        stopping: AtomicBool::new(false),
        drain_until: std::sync::OnceLock::new(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| vec![Diag::error(format!("cannot start the runtime: {e}"))])?;
    runtime.block_on(run(app, listen, first.max_body_bytes))
}

async fn run(app: Arc<App>, listen: String, max_body: usize) -> Result<(), Vec<Diag>> {
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| vec![Diag::error(format!("cannot listen on {listen}: {e}"))])?;
    let addr = listener
        .local_addr()
        .map_err(|e| vec![Diag::error(format!("cannot listen on {listen}: {e}"))])?;
    // The one line tests and operators wait for.
    eprintln!("hoist serve: listening on {addr}");
    tracing::info!(%addr, fleets = app.fleets.len(), "serving");

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = Vec::new();
    for fleet in app.fleets.iter() {
        fleet.trigger(true, "start".into(), Instant::now());
        workers.push(tokio::spawn(worker(
            app.clone(),
            fleet.clone(),
            stop_rx.clone(),
        )));
        tokio::spawn(scheduler(fleet.clone(), stop_rx.clone()));
    }

    let router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .route("/", get(ladder_page))
        .route("/api/ladder", get(ladder_json))
        .route("/hooks/github", post(github_hook))
        .route("/hooks/azure-devops", post(azure_hook))
        .route("/hooks/gitlab", post(gitlab_hook))
        .route("/hooks/registry", post(registry_hook))
        .route("/hooks/flux", post(flux_hook))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(app.clone());

    let stopping = {
        let app = app.clone();
        async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing the work in flight");
            eprintln!("hoist serve: shutting down");
            let _ = app.drain_until.set(Instant::now() + DRAIN);
            app.stopping.store(true, Ordering::SeqCst);
            let _ = stop_tx.send(true);
        }
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(stopping)
        .await
        .map_err(|e| vec![Diag::error(format!("the server failed: {e}"))])?;
    for w in workers {
        let _ = w.await;
    }
    eprintln!("hoist serve: stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Re-scan on the fleet's interval, with up to ±10 % jitter so fleets
/// (and replicas) do not scan in lockstep.
async fn scheduler(fleet: Arc<Fleet>, mut stop: watch::Receiver<bool>) {
    loop {
        let base = fleet
            .interval
            .lock()
            .map(|d| *d)
            .unwrap_or(config::DEFAULT_INTERVAL);
        let wait = crate::core::backoff::spread(base, 0.1);
        tokio::select! {
            _ = tokio::time::sleep(wait) => fleet.trigger(false, "scheduled scan".into(), Instant::now()),
            _ = stop.changed() => return,
        }
    }
}

async fn worker(app: Arc<App>, fleet: Arc<Fleet>, mut stop: watch::Receiver<bool>) {
    loop {
        let stopping = app.stopping.load(Ordering::SeqCst);
        let (run, jobs) = fleet.take();
        // Shutting down: no new run (the next start does it), but the
        // comments and Flux results already accepted are answered (202
        // told their senders they would be), until the drain deadline.
        let run = if stopping { None } else { run };
        if stopping && jobs.is_empty() {
            return;
        }
        if run.is_none() && jobs.is_empty() {
            // A batching window closes: run then (forced: nothing new may
            // have arrived, and what waited must land).
            let due = fleet.batch_due.lock().ok().and_then(|d| *d);
            let sleep = due.map(|d| {
                let secs = (d - crate::core::time::now()).max(0) as u64;
                Duration::from_secs(secs) + Duration::from_millis(200)
            });
            tokio::select! {
                _ = fleet.wake.notified() => continue,
                _ = stop.changed() => continue,
                _ = tokio::time::sleep(sleep.unwrap_or(Duration::from_secs(86_400))), if sleep.is_some() => {
                    if let Ok(mut d) = fleet.batch_due.lock() {
                        *d = None;
                    }
                    fleet.trigger(true, "a batching window closed".into(), Instant::now());
                    continue;
                }
            }
        }
        let (a, f) = (app.clone(), fleet.clone());
        // The blocking pool runs Git, registry and forge work; this task
        // waits for it even while shutting down, so a push or a pull
        // request write is never cut in half.
        let _ = tokio::task::spawn_blocking(move || process(&a, &f, run, jobs)).await;
    }
}

fn process(app: &App, fleet: &Fleet, run: Option<Trigger>, jobs: Vec<Job>) {
    let total = jobs.len();
    for (done, job) in jobs.into_iter().enumerate() {
        if app.stopping.load(Ordering::SeqCst)
            && app.drain_until.get().is_some_and(|d| Instant::now() >= *d)
        {
            tracing::warn!(
                fleet = %fleet.label,
                left = total - done,
                "shutting down: the drain time is up, queued comments and Flux results left unanswered"
            );
            break;
        }
        match job {
            Job::Comment(ev) => handle_comment(app, fleet, &ev),
            Job::Flux(ev, env) => report_flux(app, fleet, &ev, &env),
        }
    }
    if let Some(t) = run
        && !app.stopping.load(Ordering::SeqCst)
    {
        run_fleet(app, fleet, t);
    }
}

/// Where the fleet is and how to reach it, settled once.
fn locate(app: &App, fleet: &Fleet) -> Result<(Repository, Overrides), Vec<Diag>> {
    if let Ok(l) = fleet.located.lock()
        && let Some(found) = l.clone()
    {
        return Ok(found);
    }
    let mut repository = Repository::Url {
        url: fleet.config.git.url.clone().unwrap_or_default(),
        state_dir: app.state_dir.clone(),
    };
    let mut overrides = Overrides {
        config: Some(fleet.config_path.clone()),
        ..Overrides::default()
    };
    if fleet.config.git.url.is_none() {
        crate::run::climb::settle_from_config(
            &fleet.config,
            &fleet.label,
            Some(app.state_dir.clone()),
            &mut repository,
            &mut overrides,
        )?;
    }
    if let Ok(mut l) = fleet.located.lock() {
        *l = Some((repository.clone(), overrides.clone()));
    }
    Ok((repository, overrides))
}

fn open_session(app: &App, fleet: &Fleet) -> Result<Option<Session>, String> {
    let (repository, overrides) = locate(app, fleet).map_err(|d| diag_text(&d))?;
    let session = Session::open(&repository, &overrides, &|_, _, _| {}).map_err(|f| f.text())?;
    app.metrics.scans.fetch_add(1, Ordering::Relaxed);
    if let Some(s) = &session {
        app.metrics
            .tags_seen
            .store(s.tag_count() as u64, Ordering::Relaxed);
        app.metrics
            .registry_errors
            .fetch_add(s.scan_errors() as u64, Ordering::Relaxed);
        let images = s.images();
        if let Ok(mut i) = fleet.images.lock() {
            *i = Some(images);
        }
        let shortest = s
            .intervals()
            .iter()
            .filter_map(|i| crate::core::time::parse_go_duration(i).ok())
            .filter(|d| *d >= Duration::from_secs(1))
            .min();
        if let (Some(d), Ok(mut slot)) = (shortest, fleet.interval.lock()) {
            *slot = d;
        }
    }
    Ok(session)
}

fn diag_text(d: &[Diag]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// One run of the fleet: scan, and climb the ladder (or commit the
/// policies' choices when there is no ladder) unless nothing changed.
fn run_fleet(app: &App, fleet: &Fleet, t: Trigger) {
    // Every event of one run carries its fleet and a run id (the JSON log
    // puts them in each line's span), so a log pipeline can follow one
    // promotion end to end.
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run_id = RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    let _run = tracing::info_span!("run", fleet = %fleet.label, run_id).entered();
    let started = Instant::now();
    tracing::info!(fleet = %fleet.label, why = %t.reasons.join(", "), "run started");
    let mut session = match open_session(app, fleet) {
        Ok(Some(s)) => s,
        Ok(None) => {
            tracing::info!(fleet = %fleet.label, "the automation is suspended");
            return;
        }
        Err(e) => {
            app.metrics.run_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(fleet = %fleet.label, error = %e, "opening the fleet failed");
            return;
        }
    };
    let fp = session.fingerprint();
    let unchanged = fleet.last.lock().map(|l| *l == Some(fp)).unwrap_or(false);
    let have_view = fleet.view.lock().is_ok_and(|v| v.is_some());
    // Nothing new: the view stands, and no forge call is made.
    if !(unchanged && have_view) {
        store_view(fleet, &session);
    }
    if unchanged && !t.force {
        app.metrics.runs_skipped.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(fleet = %fleet.label, "nothing changed since the last run");
        return;
    }
    let ladder = match session.ladder() {
        Ok(l) => l,
        Err(f) => {
            tracing::error!(fleet = %fleet.label, error = %f.text(), "reading the ladder failed");
            return;
        }
    };
    let results: Vec<(String, Climbed)> = if ladder.is_empty() {
        let scope = match &t.only {
            Some(images) => {
                tracing::info!(fleet = %fleet.label, images = ?images, "planning only the files that name these images");
                Scope::Images {
                    images: images.clone(),
                    index: fleet.index.clone(),
                }
            }
            None => Scope::Policies,
        };
        let c = match session.commit(&scope) {
            Ok(r) => Climbed::Done {
                report: Box::new(r),
                actions: Vec::new(),
            },
            Err(f) => Climbed::Failed(f),
        };
        vec![("policies".into(), c)]
    } else {
        crate::run::climb::climb_until(
            &mut session,
            &ladder,
            &|| app.stopping.load(Ordering::SeqCst),
            Some(fleet),
        )
    };
    let mut pushed = false;
    let mut failed = false;
    for (env, c) in &results {
        let line = crate::run::comment::summarize_on(c, crate::run::climb::forge_kind(&ladder));
        match c {
            Climbed::Done { report, actions } => {
                app.metrics.selections.fetch_add(1, Ordering::Relaxed);
                if matches!(report.outcome, Outcome::Pushed { .. }) {
                    pushed = true;
                    app.metrics.commits.fetch_add(1, Ordering::Relaxed);
                }
                for a in actions {
                    if let Ok(v) = serde_json::to_value(a)
                        && let Some(kind) = v["action"].as_str()
                        && kind != "status"
                    {
                        app.metrics.pull(kind);
                    }
                }
                tracing::info!(fleet = %fleet.label, environment = %env, outcome = "done", "{line}");
            }
            Climbed::Failed(_) => {
                failed = true;
                app.metrics.run_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(fleet = %fleet.label, environment = %env, outcome = "failed", "{line}");
            }
            Climbed::Held => {
                tracing::info!(fleet = %fleet.label, environment = %env, outcome = "held", "{line}")
            }
            Climbed::Gated(_) => {
                tracing::info!(fleet = %fleet.label, environment = %env, outcome = "gated", "{line}")
            }
            Climbed::Deferred(_) => {
                tracing::info!(fleet = %fleet.label, environment = %env, outcome = "deferred", "{line}")
            }
            Climbed::Batched { until, .. } => {
                if let Ok(mut due) = fleet.batch_due.lock() {
                    *due = Some(due.map_or(*until, |d| d.min(*until)));
                }
                tracing::info!(fleet = %fleet.label, environment = %env, outcome = "batched", "{line}")
            }
            Climbed::NotRun(_) => {
                failed = true;
                tracing::warn!(fleet = %fleet.label, environment = %env, outcome = "not-run", "{line}");
            }
        }
    }
    if pushed {
        app.metrics.event_to_commit(t.since.elapsed());
        // The page shows the repository as the run left it: the new tip,
        // planned with the tag lists this run already has.
        match session.reread() {
            Ok(()) => store_view(fleet, &session),
            Err(f) => {
                tracing::warn!(fleet = %fleet.label, error = %f.text(), "cannot read the new tip for the page")
            }
        }
    }
    if !failed && let Ok(mut l) = fleet.last.lock() {
        *l = Some(fp);
    }
    tracing::info!(
        fleet = %fleet.label,
        why = %t.reasons.join(", "),
        ms = started.elapsed().as_millis() as u64,
        "run finished"
    );
}

/// Remember the ladder as `session` reads it (before it commits).
fn store_view(fleet: &Fleet, session: &Session) {
    let Ok(ladder) = session.ladder() else {
        return;
    };
    let (plans, diags) = session.preview_ladder().unwrap_or_default();
    let holds: Vec<String> = session
        .holds()
        .map(|h| h.into_keys().collect())
        .unwrap_or_default();
    let mut v = crate::report::view::gather(
        &ladder,
        plans,
        diags,
        &holds,
        ladder.forge.is_some(),
        &|i, t| session.tag_digest(i, t),
    );
    add_history(&mut v, &ladder, session);
    if let Ok(mut slot) = fleet.view.lock() {
        *slot = Some(Arc::new(v));
    }
}

/// The page's ages, delivery charts and tag links: hoist's landings on
/// the base branch as this session's clone holds it (Git alone), and the
/// source commits the tags name.
fn add_history(
    v: &mut crate::report::view::View,
    ladder: &crate::decide::ladder::Ladder,
    session: &Session,
) {
    let sources = &ladder.sources;
    let now = crate::core::time::now();
    if let (Some((repo, tip)), Ok(objects)) = (session.history_at(200), session.objects()) {
        let image_of = |ns: &str, name: &str| {
            crate::decide::ladder::image_of(&objects, ns, name).map(|(_, i)| i.to_string())
        };
        let since = now - 30 * 86_400;
        let mut h = crate::report::history::landings_from(
            &repo,
            tip,
            ladder,
            since - 30 * 86_400,
            &image_of,
        );
        // Squash merges name no trailer: the merged pull requests say
        // which were hoist's. One page of the listing per pull request
        // rung, as the view is rebuilt every run (`since` in the future
        // ends it there); deeper listings and the reconcile notes are
        // `hoist report`'s.
        for d in crate::report::history::with_pulls(ladder, &mut h, &image_of, false, i64::MAX) {
            tracing::debug!(note = %d.message, "page history");
        }
        h.landings.sort_by_key(|l| std::cmp::Reverse(l.seq));
        let order: Vec<String> = ladder.rungs.iter().map(|r| r.name.clone()).collect();
        let from: std::collections::BTreeMap<String, String> = ladder
            .rungs
            .iter()
            .filter_map(|r| Some((r.name.clone(), r.promote_from.clone()?)))
            .collect();
        v.delivery = Some(crate::report::delivery::figures(
            &h.landings,
            &from,
            &order,
            since,
            now,
        ));
        v.landings = h.landings;
    }
    let Some(fcfg) = &ladder.forge else {
        return;
    };
    let Ok(forge) = crate::propose::forge::open(fcfg, None) else {
        return;
    };
    for p in &v.rungs {
        for (image, (was, now)) in &p.runs {
            let Some(source) = sources.get(image) else {
                continue;
            };
            for tag in [was, now] {
                let tag = tag.split('@').next().unwrap_or(tag);
                if let Some(sha) = crate::report::view::commit_in_tag(tag) {
                    v.tag_links
                        .entry(image.clone())
                        .or_default()
                        .insert(tag.to_string(), forge.commit_url(source, sha));
                }
            }
        }
    }
}

fn handle_comment(app: &App, fleet: &Fleet, ev: &CommentEvent) {
    let ladder = &fleet.config.ladder;
    let mut open = || open_session(app, fleet);
    match crate::run::comment::handle(ev, ladder, &mut open) {
        Ok(h) => match h.ignored {
            Some(why) => tracing::debug!(pull = ev.pull, %why, "comment ignored"),
            None => tracing::info!(
                pull = ev.pull,
                author = %ev.author,
                accepted = h.accepted,
                refused = h.refused,
                "comment handled"
            ),
        },
        Err(e) => tracing::error!(pull = ev.pull, error = %e, "handling a comment failed"),
    }
}

/// Post the status a Flux event stands for on the commit it names, unless
/// hoist's latest status there already says the same.
fn report_flux(app: &App, fleet: &Fleet, ev: &flux::FluxEvent, env: &str) {
    let Some(sha) = ev.revision.as_deref().and_then(flux::commit_of) else {
        return;
    };
    let ladder = &fleet.config.ladder;
    let Some(fcfg) = &ladder.forge else {
        return;
    };
    let repository = ladder.rung(env).and_then(|r| r.repository.as_deref());
    let status = ev.status(env);
    let at = ev
        .timestamp
        .as_deref()
        .and_then(crate::core::time::parse)
        .unwrap_or_else(crate::core::time::now);
    let seen = crate::report::view::Reconciled {
        environment: env.to_string(),
        context: status.context.clone(),
        state: status.state.as_str().to_string(),
        description: status.description.clone(),
        commit: sha.clone(),
        at: crate::core::time::format(at),
    };
    if let Ok(mut r) = fleet.reconciled.lock() {
        r.insert(env.to_string(), seen.clone());
    }
    let result = crate::propose::forge::open(fcfg, repository).and_then(|f| {
        let mut actions = Vec::new();
        crate::run::climb::ensure_status(&*f, &sha, &status, &mut actions)?;
        if ladder.rung(env).is_some_and(|r| r.report_deployments)
            && f.deployment(&sha, env, &status)?
        {
            tracing::info!(%env, %sha, state = status.state.as_str(), "deployment status posted");
        }
        // A result (not progress) is recorded on the promotions it
        // covers, once each: the record the next rung's gates read.
        if status.state != crate::propose::forge::StatusState::Pending {
            let ok = status.state == crate::propose::forge::StatusState::Success;
            let at = ev
                .timestamp
                .as_deref()
                .and_then(crate::core::time::parse)
                .unwrap_or_else(crate::core::time::now);
            let what = format!("{} {}/{}", ev.kind, ev.namespace, ev.name);
            let noted = crate::propose::gate::note_reconciled(&*f, env, &sha, ok, at, &what)?;
            for n in &noted.pulls {
                tracing::info!(%env, pull = n, ok, "reconcile recorded on the promotion");
            }
            if let Some(rung) = ladder.rung(env)
                && rung.on_failure == crate::config::ladder::OnFailure::Rollback
            {
                if let Some(promotion) = noted.to_roll_back {
                    let why = format!("{what}: {}", status.description);
                    roll_back(app, fleet, rung, &promotion, &why);
                } else if ok
                    && let Some((open, promotion)) = crate::propose::gate::needless_rollback(
                        &*f,
                        &crate::run::rollback::branch(rung),
                        &sha,
                    )?
                {
                    match open_session(app, fleet) {
                        Ok(Some(s)) => {
                            match crate::run::rollback::lift(&s, &*f, rung, &open, promotion) {
                                Ok(()) => tracing::info!(%env, pull = open.number, promotion, outcome = "recovered", "closed a needless automatic rollback and released the rung"),
                                Err(e) => tracing::error!(%env, error = %e, "closing a needless automatic rollback failed"),
                            }
                        }
                        Ok(None) => {}
                        Err(e) => tracing::error!(%env, error = %e, "opening the fleet failed"),
                    }
                }
            }
        }
        Ok(!actions.is_empty())
    });
    // A success may open the next rung's gate: climb again.
    if status.state == crate::propose::forge::StatusState::Success
        && ladder.rungs.iter().any(|r| {
            r.promote_from.as_deref() == Some(env) && (r.require_reconciled || r.soak.is_some())
        })
    {
        fleet.trigger(true, format!("{env} reconciled"), Instant::now());
    }
    match result {
        Ok(true) => {
            app.metrics.statuses.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%env, context = %status.context, state = status.state.as_str(), %sha, "reconcile status posted");
        }
        Ok(false) => {}
        Err(e) => tracing::error!(%env, error = %e, "posting a reconcile status failed"),
    }
    tracing::debug!(%env, %sha, state = status.state.as_str(), "flux event handled");
}

/// `on_failure = "rollback"`: Flux reported `promotion` failing in
/// `rung`.
fn roll_back(
    app: &App,
    fleet: &Fleet,
    rung: &crate::decide::ladder::Rung,
    promotion: &crate::propose::forge::PullRequest,
    why: &str,
) {
    let env = &rung.name;
    let mut session = match open_session(app, fleet) {
        Ok(Some(s)) => s,
        Ok(None) => {
            tracing::warn!(%env, pull = promotion.number, "the automation is suspended: no automatic rollback");
            return;
        }
        Err(e) => {
            tracing::error!(%env, error = %e, "opening the fleet for a rollback failed");
            return;
        }
    };
    let done =
        crate::run::rollback::automatic(&mut session, &fleet.config.ladder, rung, promotion, why);
    if done.failed {
        tracing::error!(environment = %env, pull = promotion.number, outcome = "failed", "automatic rollback: {}", done.landed);
    } else {
        app.metrics.rollbacks.fetch_add(1, Ordering::Relaxed);
        tracing::info!(environment = %env, pull = promotion.number, outcome = "rolled-back", "automatic rollback: {}", done.landed);
    }
}

// ---- HTTP ----

fn reply(code: StatusCode, text: impl Into<String>) -> Response {
    let mut t = text.into();
    t.push('\n');
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        t,
    )
        .into_response()
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    let probe = app.state_dir.join(".hoist-ready");
    let ok = tokio::task::spawn_blocking(move || {
        std::fs::write(&probe, b"ok").and_then(|_| std::fs::remove_file(&probe))
    })
    .await;
    match ok {
        Ok(Ok(())) => reply(StatusCode::OK, "ready"),
        Ok(Err(e)) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the state directory is not writable: {e}"),
        ),
        Err(_) => reply(StatusCode::SERVICE_UNAVAILABLE, "not ready"),
    }
}

/// Each fleet's last view, with the reconcile results Flux reported
/// since (kept apart: they arrive between runs).
fn views(app: &App) -> Vec<page::Fleet> {
    app.fleets
        .iter()
        .map(|f| page::Fleet {
            label: f.label.clone(),
            view: f.view.lock().ok().and_then(|v| v.clone()),
            reconciled: f
                .reconciled
                .lock()
                .map(|r| r.values().cloned().collect())
                .unwrap_or_default(),
        })
        .collect()
}

async fn ladder_page(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page::render(&views(&app)),
    )
        .into_response()
}

/// `hoist ladder --output json`'s shape, one entry per fleet.
async fn ladder_json(State(app): State<Arc<App>>) -> Response {
    let fleets: Vec<serde_json::Value> = views(&app)
        .into_iter()
        .map(|f| {
            let mut ladder = serde_json::to_value(f.view.as_deref()).unwrap_or_default();
            if ladder.is_object() {
                ladder["reconciled"] = serde_json::to_value(&f.reconciled).unwrap_or_default();
            }
            serde_json::json!({ "fleet": f.label, "ladder": ladder })
        })
        .collect();
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string_pretty(&serde_json::json!({ "fleets": fleets })).unwrap_or_default(),
    )
        .into_response()
}

async fn metrics_page(State(app): State<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

/// Where a delivery's events went.
fn dispatch(app: &App, hook: &'static str, events: Vec<Event>) -> Response {
    let now = Instant::now();
    let mut queued = 0;
    let mut ignored = Vec::new();
    for e in events {
        match e {
            Event::Ignored(why) => ignored.push(why),
            Event::ImagePushed { image, tag } => {
                let reason = match &tag {
                    Some(t) => format!("{image}:{t} pushed"),
                    None => format!("{image} pushed"),
                };
                let mut any = false;
                for f in app.fleets.iter().filter(|f| f.watches(&image)) {
                    let only = f.images_matching(&image);
                    // Before the first scan the fleet's images are unknown.
                    let only = (!only.is_empty()).then_some(only);
                    f.trigger_for(true, reason.clone(), now, only);
                    any = true;
                }
                if any {
                    queued += 1;
                } else {
                    ignored.push(format!("no fleet uses {image}"));
                }
            }
            Event::RepoChanged { repository, why } => {
                let mut any = false;
                for f in app.fleets.iter().filter(|f| f.governs(&repository)) {
                    f.trigger(true, format!("{repository}: {why}"), now);
                    any = true;
                }
                if any {
                    queued += 1;
                } else {
                    ignored.push(format!("no fleet lives in {repository}"));
                }
            }
            Event::Comment(c) => {
                if crate::run::comment::parse(&c.body).is_empty() || c.author_is_bot {
                    ignored.push("no /hoist command".into());
                    continue;
                }
                match app.fleets.iter().find(|f| f.governs(&c.repository)) {
                    Some(f) => {
                        if !f.push(Job::Comment(c)) {
                            app.metrics.delivery(hook, "busy");
                            return reply(
                                StatusCode::SERVICE_UNAVAILABLE,
                                "the queue is full; deliver again later",
                            );
                        }
                        queued += 1;
                    }
                    None => ignored.push(format!("no fleet lives in {}", c.repository)),
                }
            }
        }
    }
    if queued > 0 {
        app.metrics.delivery(hook, "accepted");
        reply(
            StatusCode::ACCEPTED,
            format!("accepted: {queued} event(s) queued"),
        )
    } else {
        app.metrics.delivery(hook, "ignored");
        reply(
            StatusCode::ACCEPTED,
            format!("ignored: {}", ignored.join("; ")),
        )
    }
}

fn unauthorized(app: &App, hook: &'static str, what: &str) -> Response {
    app.metrics.delivery(hook, "unauthorized");
    reply(StatusCode::UNAUTHORIZED, what)
}

fn disabled(app: &App, hook: &'static str, field: &str) -> Response {
    app.metrics.delivery(hook, "disabled");
    reply(
        StatusCode::NOT_FOUND,
        format!("this hook is off: set server.{field} in hoist.toml"),
    )
}

fn bad_request(app: &App, hook: &'static str, why: String) -> Response {
    app.metrics.delivery(hook, "malformed");
    reply(StatusCode::BAD_REQUEST, why)
}

/// A delivery id seen before: answered, not acted on.
fn replayed(app: &App, hook: &'static str, id: Option<&str>) -> Option<Response> {
    let id = id?;
    let first = app
        .seen
        .lock()
        .map(|mut s| s.first_time(&format!("{hook}:{id}")))
        .unwrap_or(true);
    if first {
        return None;
    }
    app.metrics.delivery(hook, "duplicate");
    Some(reply(
        StatusCode::OK,
        "ignored: a delivery already received",
    ))
}

async fn github_hook(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    const HOOK: &str = "github";
    let Some(secret) = &app.secrets.github else {
        return disabled(&app, HOOK, "github_webhook_secret_env");
    };
    if !hooks::verify_hmac(
        secret.expose().as_bytes(),
        &body,
        header_str(&headers, "x-hub-signature-256"),
    ) {
        return unauthorized(
            &app,
            HOOK,
            "the X-Hub-Signature-256 signature does not match",
        );
    }
    let Some(event) = header_str(&headers, "x-github-event") else {
        return bad_request(&app, HOOK, "no X-GitHub-Event header".into());
    };
    let v = match hooks::github_payload(header_str(&headers, "content-type"), &body) {
        Ok(v) => v,
        Err(e) => return bad_request(&app, HOOK, e.to_string()),
    };
    if let Some(r) = replayed(&app, HOOK, header_str(&headers, "x-github-delivery")) {
        return r;
    }
    answer(&app, HOOK, hooks::github(event, &v).map(|e| vec![e]))
}

/// Dispatch what a delivery parsed to, or say why it could not be (400).
fn answer(
    app: &App,
    hook: &'static str,
    parsed: Result<Vec<Event>, hooks::PayloadError>,
) -> Response {
    match parsed {
        Ok(events) => dispatch(app, hook, events),
        Err(e) => bad_request(app, hook, e.to_string()),
    }
}

async fn azure_hook(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    const HOOK: &str = "azure-devops";
    let Some(secret) = &app.secrets.azure else {
        return disabled(&app, HOOK, "azure_devops_hook_secret_env");
    };
    if !hooks::azure_ok(
        header_str(&headers, "authorization"),
        header_str(&headers, "x-hoist-secret"),
        secret.expose().as_bytes(),
    ) {
        return unauthorized(&app, HOOK, "Basic auth or X-Hoist-Secret does not match");
    }
    let v = match hooks::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(&app, HOOK, e.to_string()),
    };
    let id = v["id"].as_str().map(str::to_string);
    if let Some(r) = replayed(&app, HOOK, id.as_deref()) {
        return r;
    }
    answer(&app, HOOK, hooks::azure(&v).map(|e| vec![e]))
}

async fn gitlab_hook(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    const HOOK: &str = "gitlab";
    let (token, signing) = (&app.secrets.gitlab, &app.secrets.gitlab_signing);
    if token.is_none() && signing.is_none() {
        return disabled(&app, HOOK, "gitlab_webhook_token_env");
    }
    if let Some(secret) = token
        && !header_str(&headers, "x-gitlab-token")
            .is_some_and(|t| hooks::same_secret(t.as_bytes(), secret.expose().as_bytes()))
    {
        return unauthorized(&app, HOOK, "the X-Gitlab-Token does not match");
    }
    if let Some(key) = signing
        && let Err(why) = hooks::verify_signed_delivery(
            key,
            header_str(&headers, "webhook-id"),
            header_str(&headers, "webhook-timestamp"),
            header_str(&headers, "webhook-signature"),
            &body,
            jiff::Timestamp::now().as_second(),
        )
    {
        return unauthorized(&app, HOOK, why);
    }
    let Some(event) = header_str(&headers, "x-gitlab-event") else {
        return bad_request(&app, HOOK, "no X-Gitlab-Event header".into());
    };
    let v = match hooks::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(&app, HOOK, e.to_string()),
    };
    let id = header_str(&headers, "x-gitlab-event-uuid").or(header_str(&headers, "webhook-id"));
    if let Some(r) = replayed(&app, HOOK, id) {
        return r;
    }
    answer(&app, HOOK, hooks::gitlab(event, &v).map(|e| vec![e]))
}

async fn registry_hook(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    const HOOK: &str = "registry";
    let Some(secret) = &app.secrets.registry else {
        return disabled(&app, HOOK, "registry_hook_token_env");
    };
    if !hooks::bearer_ok(
        header_str(&headers, "authorization"),
        secret.expose().as_bytes(),
    ) {
        return unauthorized(&app, HOOK, "Authorization: Bearer <token> does not match");
    }
    let v = match hooks::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(&app, HOOK, e.to_string()),
    };
    answer(&app, HOOK, hooks::registry(&v))
}

async fn flux_hook(
    State(app): State<Arc<App>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const HOOK: &str = "flux";
    let Some(key) = &app.secrets.flux else {
        return disabled(&app, HOOK, "flux_hmac_key_env");
    };
    if !hooks::verify_hmac(
        key.expose().as_bytes(),
        &body,
        header_str(&headers, "x-signature"),
    ) {
        return unauthorized(&app, HOOK, "the X-Signature signature does not match");
    }
    let v = match hooks::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(&app, HOOK, e.to_string()),
    };
    // The Provider's address may say which cluster it is: ?cluster=eu-1.
    let cluster = uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("cluster="))
            .map(|c| c.chars().take(253).collect::<String>())
    });
    let ev = match flux::parse(&v, cluster.as_deref()) {
        Ok(e) => e,
        Err(e) => return bad_request(&app, HOOK, e.to_string()),
    };
    let ignore = |why: String| {
        app.metrics.delivery(HOOK, "ignored");
        reply(StatusCode::ACCEPTED, format!("ignored: {why}"))
    };
    if !ev.reportable() {
        return ignore(format!("{} results are not reported", ev.kind));
    }
    if ev.revision.as_deref().and_then(flux::commit_of).is_none() {
        return ignore("the event names no Git commit (metadata.revision)".into());
    }
    for f in &app.fleets {
        if let Some(env) = ev.environment(&f.config.server.flux) {
            let env = env.to_string();
            if !f.push(Job::Flux(ev, env)) {
                app.metrics.delivery(HOOK, "busy");
                return reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the queue is full; deliver again later",
                );
            }
            app.metrics.delivery(HOOK, "accepted");
            return reply(StatusCode::ACCEPTED, "accepted");
        }
    }
    ignore(format!(
        "no [[server.flux]] route matches {} {}/{} (cluster {})",
        ev.kind,
        ev.namespace,
        ev.name,
        ev.cluster.as_deref().unwrap_or("unknown")
    ))
}
