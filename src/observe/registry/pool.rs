//! The process's registry clients. A [`Client`] holds what a registry's
//! limits count — its token cache, per-host concurrency and pacing — so
//! hoist keeps one per distinct configuration for the life of the process
//! instead of one per run: in `hoist serve`, fleets that reach a registry
//! the same way (same credentials, options, trust roots and pull Secrets)
//! share one client, hence one token per registry and scope, across fleets
//! and runs. Fleets configured differently get clients of their own, so
//! one fleet's credentials never serve another's requests; what they still
//! share is each host's pacing (`requests_per_second`), which is kept per
//! process in [`Client`].

use std::sync::{Arc, Mutex};

use super::client::{Client, Options};
use super::credentials::{Credential, Credentials};
use super::reference::ImageRef;

/// What makes two clients interchangeable.
struct Key {
    creds: Credentials,
    opts: Options,
    roots: Vec<Vec<u8>>,
    /// Pull Secrets by image, sorted.
    secrets: Vec<(ImageRef, Credential)>,
}

impl Key {
    fn same(&self, other: &Key) -> bool {
        self.creds == other.creds
            && self.opts == other.opts
            && self.roots == other.roots
            && self.secrets == other.secrets
    }
}

/// At most this many configurations are kept (the oldest goes first).
const KEEP: usize = 32;

static CLIENTS: Mutex<Vec<(Key, Arc<Client>)>> = Mutex::new(Vec::new());

/// The client for this configuration: the one already made for it in this
/// process, or a new one (then kept). `secrets` are the pull Secrets of
/// the images it will be asked about.
pub fn client(
    creds: Credentials,
    opts: Options,
    roots: &[Vec<u8>],
    mut secrets: Vec<(ImageRef, Credential)>,
) -> Result<Arc<Client>, String> {
    secrets.sort_by(|a, b| a.0.cmp(&b.0));
    let key = Key {
        creds,
        opts,
        roots: roots.to_vec(),
        secrets,
    };
    let mut kept = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, c)) = kept.iter().find(|(k, _)| k.same(&key)) {
        return Ok(c.clone());
    }
    let c = Arc::new(Client::new(key.creds.clone(), key.opts.clone(), roots)?);
    for (img, cred) in &key.secrets {
        c.set_image_credential(img, cred.clone());
    }
    if kept.len() >= KEEP {
        kept.remove(0);
    }
    kept.push((key, c.clone()));
    Ok(c)
}
