//! A real registry for tests: Debian's `docker-registry` (CNCF distribution)
//! on 127.0.0.1 with a random port, filled through the HTTP API.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How the harness authenticates its own pushes.
#[derive(Clone)]
enum PushAuth {
    None,
    Basic(String, String),
    Token(std::sync::Arc<super::token::TokenService>),
}

pub struct Registry {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
    push_auth: PushAuth,
    /// PEM of the CA that signed the registry's certificate (HTTPS only).
    ca_pem: Option<Vec<u8>>,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait until the registry accepts connections (or dies).
fn wait_ready(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn sha256(data: &[u8]) -> String {
    let hex: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

impl Registry {
    /// Start a registry that trusts tokens from `ts` (Docker token auth).
    pub fn start_token(ts: std::sync::Arc<super::token::TokenService>) -> Registry {
        let realm = ts.realm();
        Registry::start_token_realm(ts, &realm)
    }

    /// As [`Registry::start_token`], naming `realm` in its challenges.
    pub fn start_token_realm(
        ts: std::sync::Arc<super::token::TokenService>,
        realm: &str,
    ) -> Registry {
        let auth = format!(
            "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
            realm,
            super::token::SERVICE,
            super::token::ISSUER,
            ts.cert_path.display()
        );
        Registry::launch(
            tempfile::tempdir().unwrap(),
            auth,
            PushAuth::Token(ts),
            None,
        )
    }

    /// Start a registry; with `basic`, htpasswd authentication for that user.
    pub fn start(basic: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let mut auth = String::new();
        let push_auth = match basic {
            Some((u, p)) => PushAuth::Basic(u.to_string(), p.to_string()),
            None => PushAuth::None,
        };
        if let Some((user, pass)) = basic {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("htpasswd (apache2-utils)");
            std::fs::write(dir.path().join("htpasswd"), &out.stdout).unwrap();
            auth = format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                dir.path().join("htpasswd").display()
            );
        }
        Registry::launch(dir, auth, push_auth, None)
    }

    /// An HTTPS registry whose certificate for 127.0.0.1 is signed by a
    /// private CA; returns the registry and the CA's PEM path.
    pub fn start_tls() -> (Registry, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "hoist test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let srv_key = rcgen::KeyPair::generate().unwrap();
        let srv_params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let srv_cert = srv_params.signed_by(&srv_key, &issuer).unwrap();
        let (crt, key, ca) = (
            dir.path().join("server.crt"),
            dir.path().join("server.key"),
            dir.path().join("ca.pem"),
        );
        std::fs::write(&crt, srv_cert.pem()).unwrap();
        std::fs::write(&key, srv_key.serialize_pem()).unwrap();
        std::fs::write(&ca, ca_cert.pem()).unwrap();
        let tls = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            crt.display(),
            key.display()
        );
        let reg = Registry::launch(dir, tls, PushAuth::None, Some(ca_cert.pem().into_bytes()));
        (reg, ca)
    }

    fn launch(
        dir: tempfile::TempDir,
        auth: String,
        push_auth: PushAuth,
        ca_pem: Option<Vec<u8>>,
    ) -> Registry {
        for _ in 0..5 {
            let port = free_port();
            let config = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
                dir.path().join("data").display()
            );
            let cfg = dir.path().join("config.yml");
            std::fs::write(&cfg, config).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&cfg)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("docker-registry (apt-get install docker-registry)");
            if wait_ready(&mut child, port) {
                return Registry {
                    child,
                    port,
                    _dir: dir,
                    push_auth,
                    ca_pem,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn client(&self) -> reqwest::Client {
        let mut b = reqwest::Client::builder();
        if let Some(pem) = &self.ca_pem {
            b = b.add_root_certificate(reqwest::Certificate::from_pem(pem).unwrap());
        }
        b.build().unwrap()
    }

    fn base(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.host())
    }

    fn auth(&self, r: reqwest::RequestBuilder, repo: &str) -> reqwest::RequestBuilder {
        match &self.push_auth {
            PushAuth::Basic(u, p) => r.basic_auth(u, Some(p)),
            PushAuth::Token(ts) => r.bearer_auth(ts.admin_token(repo)),
            PushAuth::None => r,
        }
    }

    async fn upload_blob(&self, c: &reqwest::Client, repo: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let base = self.base();
        let r = self
            .auth(c.post(format!("{base}/v2/{repo}/blobs/uploads/")), repo)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202, "start upload");
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let loc = if loc.starts_with("http") {
            loc
        } else {
            format!("{base}{loc}")
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let r = self
            .auth(c.put(format!("{loc}{sep}digest={digest}")), repo)
            .header("content-type", "application/octet-stream")
            .body(data.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "finish upload");
        digest
    }

    /// Push one small image under every tag in `tags`; returns its digest.
    pub fn push(&self, repo: &str, tags: &[String]) -> String {
        self.push_build(repo, tags, "")
    }

    /// `push` of an image whose content differs per `build`.
    pub fn push_build(&self, repo: &str, tags: &[String], build: &str) -> String {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let c = self.client();
            let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
            let layer = format!("layer of {repo}{build}").into_bytes();
            let cd = self.upload_blob(&c, repo, config).await;
            let ld = self.upload_blob(&c, repo, &layer).await;
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{ld}","size":{}}}]}}"#,
                config.len(),
                layer.len()
            );
            let digest = sha256(manifest.as_bytes());
            let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
            let mut set = tokio::task::JoinSet::new();
            for tag in tags {
                let url = format!("{}/v2/{repo}/manifests/{tag}", self.base());
                let req = self
                    .auth(c.put(url), repo)
                    .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                    .body(manifest.clone());
                let sem = sem.clone();
                set.spawn(async move {
                    let _p = sem.acquire().await.unwrap();
                    let r = req.send().await.unwrap();
                    assert_eq!(r.status().as_u16(), 201, "put manifest");
                });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap();
            }
            digest
        })
    }
}

impl Registry {
    /// Upload `blobs` to `repo` and put `manifest` (an OCI manifest or
    /// index) at `reference`; the manifest's digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        blobs: &[Vec<u8>],
        manifest: &str,
        media_type: &str,
    ) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let c = self.client();
            for b in blobs {
                self.upload_blob(&c, repo, b).await;
            }
            let url = format!("{}/v2/{repo}/manifests/{reference}", self.base());
            let r = self
                .auth(c.put(url), repo)
                .header("content-type", media_type)
                .body(manifest.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201, "put manifest {reference}");
            sha256(manifest.as_bytes())
        })
    }
}

/// A fleet repo with one ImageRepository/ImagePolicy for `image` and a marker.
pub fn fleet(dir: &Path, image: &str, range: &str, digest_reflection: bool) {
    let reflect = if digest_reflection {
        "  digestReflectionPolicy: IfNotPresent\n"
    } else {
        ""
    };
    super::write(
        dir,
        "flux/image.yaml",
        &format!(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  image: {image}\n  interval: 1m\n  insecure: true\n---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: app\n  namespace: flux-system\nspec:\n  imageRepositoryRef:\n    name: app\n  policy:\n    semver:\n      range: \"{range}\"\n{reflect}"
        ),
    );
    super::write(
        dir,
        "clusters/prod/image-tags.yaml",
        &format!("image: {image}:0.0.1 # {{\"$imagepolicy\": \"flux-system:app\"}}\n"),
    );
}
