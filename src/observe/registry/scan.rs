//! Scanning many images at once. Each image is its own task; the client's
//! per-registry semaphores bound the load. One failing image never stops
//! the others: its error is returned in its place.

use std::future::Future;
use std::sync::Arc;

use super::client::Client;
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
    for (i, t) in targets.into_iter().enumerate() {
        let client = client.clone();
        set.spawn(async move {
            let result = match ImageRef::parse(&t.image) {
                Err(e) => Err(e),
                Ok(r) => {
                    if t.provider == "azure" {
                        client.use_azure(&r.registry);
                    }
                    if let Some(c) = t.secret.as_ref().and_then(|s| s.get(&r.registry)) {
                        client.set_image_credential(&r, c.clone());
                    }
                    client
                        .list_tags(&r, t.insecure)
                        .await
                        .map_err(|e| e.to_string())
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
                },
            )
        });
    }
    let mut out: Vec<(usize, Scanned)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        if let Ok(r) = joined {
            progress(&r.1);
            out.push(r);
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, s)| s).collect()
}

/// Resolve `(image, insecure, tag)` digests concurrently.
pub async fn digests(
    client: Arc<Client>,
    wants: Vec<(String, bool, String)>,
) -> Vec<(String, String, Result<String, String>)> {
    let mut set = tokio::task::JoinSet::new();
    for (image, insecure, tag) in wants {
        let client = client.clone();
        set.spawn(async move {
            let r = match ImageRef::parse(&image) {
                Err(e) => Err(e),
                Ok(r) => client
                    .digest(&r, insecure, &tag)
                    .await
                    .map_err(|e| e.to_string()),
            };
            (image, tag, r)
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        if let Ok(r) = joined {
            out.push(r);
        }
    }
    out.sort();
    out
}
