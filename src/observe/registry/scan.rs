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

/// Run a future to completion on a small multi-threaded runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(f)
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
