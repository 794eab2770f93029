#!/usr/bin/env python3
"""hoist serve benchmarks (driven by bench/serve.sh).

usage: serve.py latency HOIST REGISTRY WORKDIR EVENTS
       serve.py footprint HOIST REGISTRY WORKDIR REGISTRY_DATA_DIR REPOS TAGS
       serve.py sign KEY FILE          (prints sha256=<hex> of FILE's bytes)

latency:   a fleet without a ladder; EVENTS times: push a new tag through
           the registry API, POST the registry webhook, wait until the
           commit is on the remote. Prints p50 / p99 / max in ms.
footprint: REPOS ImageRepositories with TAGS tags each (tags written into
           the registry's storage directly after one real push per
           repository); hoist serve scans them all at start, then once more
           on a push event. Prints peak RSS and CPU seconds per scan cycle.
"""
import hashlib, hmac, http.client, json, os, subprocess, sys, time, threading

SECRETS = {
    "HOIST_B_GH": "gh-secret",
    "HOIST_B_REG": "reg-token",
}
SERVER_TOML = """
[server]
github_webhook_secret_env = "HOIST_B_GH"
registry_hook_token_env = "HOIST_B_REG"
"""


def req(host, method, path, body=b"", headers=None):
    c = http.client.HTTPConnection(host, timeout=120)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    loc = r.getheader("Location")
    c.close()
    return r.status, loc, data


def blob(host, repo, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    st, loc, _ = req(host, "POST", f"/v2/{repo}/blobs/uploads/")
    assert st == 202, st
    if loc.startswith("http"):
        loc = "/" + loc.split("/", 3)[3]
    sep = "&" if "?" in loc else "?"
    st, _, _ = req(host, "PUT", f"{loc}{sep}digest={d}", data, {"Content-Type": "application/octet-stream"})
    assert st == 201, st
    return d, len(data)


def image(host, repo, salt):
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "salt": salt}).encode()
    layer = f"layer {repo} {salt}".encode()
    cd, cl = blob(host, repo, cfg)
    ld, ll = blob(host, repo, layer)
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cl},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ll}],
    }).encode()


def put_tag(host, repo, manifest, tag):
    st, _, _ = req(host, "PUT", f"/v2/{repo}/manifests/{tag}", manifest,
                   {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert st == 201, st


def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def fleet_repo(work, files):
    """A bare repository holding `files` (path → text) on main."""
    seed, bare = os.path.join(work, "seed"), os.path.join(work, "fleet.git")
    subprocess.run(["rm", "-rf", seed, bare], check=True)
    for path, text in files.items():
        p = os.path.join(seed, path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
    git("init", "-q", "-b", "main", cwd=seed)
    git("add", "-A", cwd=seed)
    git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "seed", cwd=seed)
    git("clone", "-q", "--bare", seed, bare)
    return bare


def serve(hoist, config, state, cpu=None):
    env = dict(os.environ, **SECRETS, HOIST_LOG="hoist=info,warn")
    cmd = [hoist, "serve", "--listen", "127.0.0.1:0", "--config", config, "--state-dir", state]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    p = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    log, addr = [], [None]
    ready = threading.Event()

    def pump():
        for line in p.stderr:
            log.append(line)
            if line.startswith("hoist serve: listening on "):
                addr[0] = line.split()[-1]
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(60):
        p.kill()
        sys.exit("hoist serve did not start:\n" + "".join(log))
    return p, addr[0], log


def wait_for(cond, secs):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.002)
    return cond()


def latency(hoist, host, work, events):
    os.makedirs(work, exist_ok=True)
    # A fresh repository each time: the registry keeps earlier runs' tags.
    repo = f"lat/app{int(time.time())}"
    image_ref = f"{host}/{repo}"
    manifest = image(host, repo, "1")
    put_tag(host, repo, manifest, "dev-1")
    bare = fleet_repo(os.path.join(work, "latency"), {
        "flux/app.yaml": (
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
            "metadata: {name: app, namespace: ns}\n"
            f"spec: {{image: {image_ref}, interval: 1h, insecure: true}}\n---\n"
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
            "metadata: {name: app, namespace: ns}\nspec:\n  imageRepositoryRef: {name: app}\n"
            "  filterTags: {pattern: '^dev-(?P<n>\\d+)$', extract: '$n'}\n"
            "  policy: {numerical: {order: asc}}\n"),
        "clusters/dev/image-tags.yaml": 'app: dev-1 # {"$imagepolicy": "ns:app:tag"}\n',
    })
    cfg = os.path.join(work, "latency.toml")
    with open(cfg, "w") as f:
        f.write(f'write_paths = ["clusters/**/image-tags.yaml"]\n[git]\nurl = "file://{bare}"\n{SERVER_TOML}')
    p, addr, log = serve(hoist, cfg, os.path.join(work, "latency-state"))
    try:
        assert wait_for(lambda: any("run finished" in l for l in log), 60), "".join(log)
        tip = lambda: git("--git-dir", bare, "rev-parse", "main").strip()
        ms = []
        for n in range(2, events + 2):
            before = tip()
            put_tag(host, repo, manifest, f"dev-{n}")
            body = json.dumps({"events": [{"action": "push", "target": {
                "repository": repo, "tag": f"dev-{n}",
                "url": f"http://{host}/v2/{repo}/manifests/dev-{n}"}}]}).encode()
            t0 = time.perf_counter()
            st, _, out = req(addr, "POST", "/hooks/registry", body,
                             {"Authorization": "Bearer " + SECRETS["HOIST_B_REG"]})
            assert st == 202, (st, out)
            assert wait_for(lambda: tip() != before, 60), "".join(log[-20:])
            ms.append((time.perf_counter() - t0) * 1000)
        ms.sort()
        pct = lambda q: ms[round((len(ms) - 1) * q)]
        print(f"  event-to-commit over {len(ms)} registry events: p50 {pct(0.5):.0f} ms, p99 {pct(0.99):.0f} ms, "
              f"max {ms[-1]:.0f} ms (target p50 < 300 ms, p99 < 1 s)")
        print(f"  polling every 60 s (Flux's image automation as usually set up): "
              f"30,000 ms on average, 60,000 ms at worst: p50 is {30000 / pct(0.5):.0f}x sooner")
    finally:
        p.terminate()
        p.wait()


def fill_direct(host, data_dir, repos, tags):
    """One real push per repository, then the other tags written as the
    registry's filesystem driver stores them (a tag is a directory with a
    `current/link` to the manifest digest)."""
    marker = os.path.join(data_dir, f"filled-{repos}x{tags}")
    if os.path.exists(marker):
        return
    from concurrent.futures import ThreadPoolExecutor

    def one(i):
        repo = f"fp/app{i}"
        m = image(host, repo, str(i))
        put_tag(host, repo, m, "1.0.0")
        return repo, "sha256:" + hashlib.sha256(m).hexdigest()

    with ThreadPoolExecutor(16) as ex:
        pushed = list(ex.map(one, range(repos)))
    base = os.path.join(data_dir, "docker/registry/v2/repositories")
    for repo, digest in pushed:
        tdir = os.path.join(base, repo, "_manifests/tags")
        for t in range(1, tags):
            d = os.path.join(tdir, f"1.{t // 1000}.{t % 1000}", "current")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "link"), "w") as f:
                f.write(digest)
    open(marker, "w").close()


def proc_stats(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / tick
    hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return cpu, hwm


def footprint(hoist, host, work, data_dir, repos, tags):
    t0 = time.time()
    fill_direct(host, data_dir, repos, tags)
    print(f"  registry ready: {repos} repositories x {tags} tags ({time.time() - t0:.0f} s)")
    objs, markers = [], []
    for i in range(repos):
        objs.append(
            f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: app{i}, namespace: ns}}\n"
            f"spec: {{image: {host}/fp/app{i}, interval: 1h, insecure: true}}\n---\n"
            f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: app{i}, namespace: ns}}\n"
            f"spec:\n  imageRepositoryRef: {{name: app{i}}}\n  policy: {{semver: {{range: '>=1.0.0'}}}}\n")
        markers.append(f'app{i}: 1.0.0 # {{"$imagepolicy": "ns:app{i}:tag"}}\n')
    bare = fleet_repo(os.path.join(work, "footprint"), {
        "flux/apps.yaml": "---\n".join(objs),
        "clusters/prod/image-tags.yaml": "".join(markers),
    })
    cfg = os.path.join(work, "footprint.toml")
    with open(cfg, "w") as f:
        f.write(f'write_paths = ["clusters/**/image-tags.yaml"]\n[git]\nurl = "file://{bare}"\n'
                f'[scan]\nconcurrency = 16\n{SERVER_TOML}')
    state = os.path.join(work, "footprint-state")
    subprocess.run(["rm", "-rf", state], check=True)
    p, addr, log = serve(hoist, cfg, state, cpu=0)
    try:
        runs = lambda: sum("run finished" in l for l in log)
        t = time.time()
        assert wait_for(lambda: runs() >= 1, 1800), "".join(log[-20:])
        first_wall = time.time() - t
        cpu1, _ = proc_stats(p.pid)
        # A second cycle: a registry event (the scan lists every tag of
        # every image again; the plan covers the pushed image).
        body = json.dumps({"events": [{"action": "push", "target": {"repository": "fp/app0", "tag": "1.0.1"}}]}).encode()
        t = time.time()
        st, _, out = req(addr, "POST", "/hooks/registry", body, {"Authorization": "Bearer " + SECRETS["HOIST_B_REG"]})
        assert st == 202, (st, out)
        assert wait_for(lambda: runs() >= 2, 1800), "".join(log[-20:])
        second_wall = time.time() - t
        cpu2, hwm = proc_stats(p.pid)
        tags_line = subprocess.run(["curl", "-s", f"http://{addr}/metrics"], capture_output=True, text=True).stdout
        seen = [l for l in tags_line.splitlines() if l.startswith("hoist_tags_seen ")]
        print(f"  {seen[0] if seen else 'hoist_tags_seen ?'}")
        print(f"  first cycle (start, first clone, scan, plan, commit): {first_wall:.1f} s wall, {cpu1:.1f} s CPU")
        print(f"  second cycle (event: scan all {repos} images, plan): {second_wall:.1f} s wall, {cpu2 - cpu1:.1f} s CPU")
        print(f"  peak RSS {hwm / 1024:.0f} MiB (target < 150 MiB), hoist serve pinned to one core")
    finally:
        p.terminate()
        p.wait()


def main():
    cmd = sys.argv[1]
    if cmd == "latency":
        latency(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif cmd == "footprint":
        footprint(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7]))
    elif cmd == "sign":
        data = open(sys.argv[3], "rb").read()
        print("sha256=" + hmac.new(sys.argv[2].encode(), data, hashlib.sha256).hexdigest())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
