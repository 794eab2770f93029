//! Scanning many images at once. Each image is its own task; the client's
//! per-registry semaphores bound the load. One failing image never stops
//! the others: its error is returned in its place.

use std::future::Future;
use std::sync::Arc;

use super::client::{Client, RUN_SPEND, RegistryError, Spend};
use super::reference::ImageRef;

/// An image to scan.
#[derive(Debug, Clone)]
pub struct Target {
    /// `spec.image` exactly as written.
    pub image: String,
    pub insecure: bool,
    /// Credentials from the ImageRepository's own pull Secret, by host.
    pub secret: Option<std::collections::BTreeMap<String, super::Credential>>,
    /// `spec.provider` (`generic`, `azure`, …).
    pub provider: String,
}

/// The result for one image.
#[derive(Debug, Clone)]
pub struct Scanned {
    pub image: String,
    pub tags: Result<Vec<String>, String>,
    /// Tags the registry returned that break the OCI tag grammar.
    pub dropped: Vec<String>,
    /// Not scanned: the run's request budget for its registry is spent.
    pub deferred: bool,
}

/// Run a future to completion on the process's registry runtime: two
/// worker threads, made once, on which every registry request runs (the
/// pooled clients' connections live there, so they outlast one run).
/// Blocking callers — the CLI, the bot's workers on tokio's blocking pool —
/// wait here; nothing else runs on these threads.
pub fn block_on<F: Future>(f: F) -> F::Output {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hoist-registry")
            .enable_all()
            .build()
            .map_err(|e| tracing::error!(error = %e, "cannot start the registry runtime"))
            .ok()
    });
    match rt {
        Some(rt) => rt.block_on(f),
        // Without threads to spare, a runtime on this thread alone.
        None => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("cannot start a tokio runtime: {e}")),
    }
}

/// List the tags of every target, concurrently. Results keep input order;
/// `progress` hears about each image as it finishes.
pub async fn scan(
    client: Arc<Client>,
    targets: Vec<Target>,
    mut progress: impl FnMut(&Scanned),
) -> Vec<Scanned> {
    let mut set = tokio::task::JoinSet::new();
    let mut names = std::collections::HashMap::new();
    let spend = Spend::current_or_new();
    for (i, t) in targets.into_iter().enumerate() {
        let client = client.clone();
        let image = t.image.clone();
        let task = set.spawn(RUN_SPEND.scope(spend.clone(), async move {
            let mut deferred = false;
            let result = match ImageRef::parse(&t.image) {
                Err(e) => Err(e),
                Ok(r) => {
                    if t.provider == "azure" {
                        client.use_azure(&r.registry);
                    }
                    if let Some(c) = t.secret.as_ref().and_then(|s| s.get(&r.registry)) {
                        client.set_image_credential(&r, c.clone());
                    }
                    client.list_tags(&r, t.insecure).await.map_err(|e| {
                        deferred = matches!(e, RegistryError::Deferred { .. });
                        e.to_string()
                    })
                }
            };
            let (tags, dropped) = match result {
                Ok((tags, dropped)) => (Ok(tags), dropped),
                Err(e) => (Err(e), Vec::new()),
            };
            (
                i,
                Scanned {
                    image: t.image,
                    tags,
                    dropped,
                    deferred,
                },
            )
        }));
        names.insert(task.id(), (i, image));
    }
    let mut out: Vec<(usize, Scanned)> = Vec::new();
    joined(
        set,
        names,
        |r| {
            progress(&r.1);
            out.push(r);
        },
        |(i, image), e| {
            let scanned = Scanned {
                tags: Err(lost(&image, e)),
                image,
                dropped: Vec::new(),
                deferred: false,
            };
            (i, scanned)
        },
    )
    .await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, s)| s).collect()
}

/// Resolve `(image, insecure, tag)` digests concurrently.
pub async fn digests(
    client: Arc<Client>,
    wants: Vec<(String, bool, String)>,
) -> Vec<(String, String, Result<String, String>)> {
    let mut set = tokio::task::JoinSet::new();
    let mut names = std::collections::HashMap::new();
    let spend = Spend::current_or_new();
    for (image, insecure, tag) in wants {
        let client = client.clone();
        let name = (image.clone(), tag.clone());
        let task = set.spawn(RUN_SPEND.scope(spend.clone(), async move {
            let r = match ImageRef::parse(&image) {
                Err(e) => Err(e),
                Ok(r) => client
                    .digest(&r, insecure, &tag)
                    .await
                    .map_err(|e| e.to_string()),
            };
            (image, tag, r)
        }));
        names.insert(task.id(), name);
    }
    let mut out = Vec::new();
    joined(
        set,
        names,
        |r| out.push(r),
        |(image, tag), e| {
            let why = lost(&format!("{image}:{tag}"), e);
            (image, tag, Err(why))
        },
    )
    .await;
    out.sort();
    out
}

/// The cosign signatures (and, with `attestations`, attestations) of
/// each `(image, insecure, digest, referrers_only)`, concurrently; sorted.
pub async fn signatures(
    client: Arc<Client>,
    wants: Vec<(String, bool, String, bool)>,
    attestations: bool,
) -> Vec<(String, String, Result<crate::core::tags::Signed, String>)> {
    let mut set = tokio::task::JoinSet::new();
    let mut names = std::collections::HashMap::new();
    let spend = Spend::current_or_new();
    for (image, insecure, digest, referrers_only) in wants {
        let client = client.clone();
        let name = (image.clone(), digest.clone());
        let task = set.spawn(RUN_SPEND.scope(spend.clone(), async move {
            let r = match ImageRef::parse(&image) {
                Err(e) => Err(e),
                Ok(r) => client
                    .cosign_artifacts(&r, insecure, &digest, attestations, referrers_only)
                    .await
                    .map_err(|e| e.to_string()),
            };
            (image, digest, r)
        }));
        names.insert(task.id(), name);
    }
    let mut out = Vec::new();
    joined(
        set,
        names,
        |r| out.push(r),
        |(image, digest), e| {
            let why = lost(&format!("{image}@{digest}"), e);
            (image, digest, Err(why))
        },
    )
    .await;
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

/// Hand every task's answer to `each` as it finishes; a task that ended
/// without one (it panicked, or was cancelled) is answered by `lost` from
/// the name it was spawned under, so no image goes missing unreported.
async fn joined<T: 'static, N>(
    mut set: tokio::task::JoinSet<T>,
    mut names: std::collections::HashMap<tokio::task::Id, N>,
    mut each: impl FnMut(T),
    lost: impl Fn(N, &tokio::task::JoinError) -> T,
) {
    while let Some(j) = set.join_next_with_id().await {
        match j {
            Ok((_, r)) => each(r),
            Err(e) => {
                if let Some(name) = names.remove(&e.id()) {
                    each(lost(name, &e));
                }
            }
        }
    }
}

/// The error of an image whose task ended without an answer (a panic in
/// hoist, or a cancelled task): logged, and reported in the image's place
/// instead of the image silently missing from the results.
fn lost(what: &str, e: &tokio::task::JoinError) -> String {
    let how = if e.is_panic() {
        "panicked"
    } else {
        "was cancelled"
    };
    tracing::error!(image = %what, "the registry request task {how}");
    format!("hoist's request task {how} (a bug in hoist; please report it)")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_task_that_panics_is_answered_in_its_place() {
        let answers = super::block_on(async {
            let mut set = tokio::task::JoinSet::new();
            let mut names = std::collections::HashMap::new();
            for n in 0..3u32 {
                let task = set.spawn(async move {
                    if n == 1 {
                        panic!("task {n} fails");
                    }
                    Ok::<u32, String>(n)
                });
                names.insert(task.id(), n);
            }
            let mut out = Vec::new();
            super::joined(
                set,
                names,
                |r| out.push(r),
                |n, e| Err(format!("{n}: {}", super::lost("img", e))),
            )
            .await;
            out.sort();
            out
        });
        assert_eq!(answers.len(), 3, "{answers:?}");
        assert_eq!(&answers[..2], &[Ok(0), Ok(2)]);
        let err = answers[2].clone().unwrap_err();
        assert!(err.starts_with("1: ") && err.contains("panicked"), "{err}");
    }
}
