#!/usr/bin/env python3
"""Generate benchmark inputs: a tag list and a large fleet repository."""
import os, random, sys

def tags(path, n=100_000):
    rnd = random.Random(7)
    out = []
    for i in range(n):
        r = rnd.random()
        if r < 0.70:
            out.append(f"{rnd.randint(0, 3)}.{rnd.randint(0, 60)}.{rnd.randint(0, 200)}")
        elif r < 0.85:
            out.append(f"{rnd.randint(0, 3)}.{rnd.randint(0, 60)}.{rnd.randint(0, 200)}-rc.{rnd.randint(1, 20)}")
        else:
            out.append(f"main-{rnd.getrandbits(28):07x}-{1700000000 + i}")
    open(path, "w").write("\n".join(out) + "\n")

def fleet(root, files=20_000, marked_every=100):
    os.makedirs(os.path.join(root, "flux"), exist_ok=True)
    policies = []
    n_pol = files // marked_every
    for p in range(n_pol):
        policies.append(f"""---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: app{p}, namespace: flux-system}}
spec: {{image: ghcr.io/acme/app{p}, interval: 5m}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: app{p}, namespace: flux-system}}
spec:
  imageRepositoryRef: {{name: app{p}}}
  policy: {{semver: {{range: ">=1.0.0"}}}}
""")
    open(os.path.join(root, "flux", "policies.yaml"), "w").write("".join(policies))
    snap = ["images:\n"]
    for p in range(n_pol):
        snap.append(f"  ghcr.io/acme/app{p}:\n    tags: [\"1.0.0\", \"1.1.0\", \"1.2.{p}\", \"2.0.0-rc.1\"]\n")
    open(os.path.join(root, "..", "fleet-snapshot.yaml"), "w").write("".join(snap))
    for i in range(files):
        d = os.path.join(root, "apps", f"team{i % 40}", f"svc{i % 500}")
        os.makedirs(d, exist_ok=True)
        body = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc{i}
  labels: {{app: svc{i}, tier: backend}}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/base:1.0.0
          env:
            - {{name: LOG_LEVEL, value: info}}
            - {{name: REGION, value: eu-west-1}}
"""
        if i % marked_every == 0:
            p = i // marked_every
            body += f"""        - name: sidecar
          image: ghcr.io/acme/app{p}:1.0.0 # {{"$imagepolicy": "flux-system:app{p}"}}
"""
        open(os.path.join(d, f"deploy-{i}.yaml"), "w").write(body)

def layout(root, clusters=4, apps=250):
    """A fleet laid out as Flux's guides do: clusters/<c> bootstrap and an
    apps Kustomization (targetNamespace) over apps/<c>, an overlay of
    apps/base/<app> for every app, one marked tag patch and one
    namespace-less policy per app and cluster."""
    def w(rel, text):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").write(text)
    snap = ["images:\n"]
    for a in range(apps):
        w(f"apps/base/app{a}/kustomization.yaml", f"namespace: team{a % 10}\nresources:\n  - deployment.yaml\n")
        w(f"apps/base/app{a}/deployment.yaml", f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app{a}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/acme/app{a}:1.0.0\n")
        snap.append(f"  ghcr.io/acme/app{a}:\n    tags: [\"1.0.0\", \"1.1.0\", \"1.2.{a}\"]\n")
    for c in range(clusters):
        sync = f"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./clusters/c{c}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
        w(f"clusters/c{c}/flux-system/gotk-sync.yaml", sync)
        w(f"clusters/c{c}/flux-system/kustomization.yaml", "resources:\n  - gotk-sync.yaml\n")
        w(f"clusters/c{c}/apps.yaml", sync.replace("name: flux-system\n  namespace", "name: apps\n  namespace", 1).replace(f"./clusters/c{c}", f"./apps/c{c}") + "  targetNamespace: apps\n")
        w(f"clusters/c{c}/automation.yaml", f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata:\n  name: flux-system\n  namespace: apps\nspec:\n  interval: 30m\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n    namespace: flux-system\n  git:\n    checkout:\n      ref:\n        branch: main\n    push:\n      branch: main\n  update:\n    path: ./apps/c{c}\n    strategy: Setters\n")
        res = "".join(f"  - ../base/app{a}\n" for a in range(apps))
        pat = "".join(f"  - path: app{a}-tag.yaml\n" for a in range(apps))
        w(f"apps/c{c}/kustomization.yaml", f"resources:\n{res}  - policies.yaml\npatches:\n{pat}")
        pols = []
        for a in range(apps):
            w(f"apps/c{c}/app{a}-tag.yaml", f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app{a}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/acme/app{a}:1.0.0 # {{\"$imagepolicy\": \"apps:app{a}\"}}\n")
            pols.append(f"---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: app{a}}}\nspec: {{image: ghcr.io/acme/app{a}, interval: 5m}}\n---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: app{a}}}\nspec:\n  imageRepositoryRef: {{name: app{a}}}\n  policy: {{semver: {{range: \">=1.0.0\"}}}}\n")
        w(f"apps/c{c}/policies.yaml", "".join(pols))
    open(os.path.join(root, "..", os.path.basename(root) + "-snapshot.yaml"), "w").write("".join(snap))

if __name__ == "__main__":
    what, path = sys.argv[1], sys.argv[2]
    if what == "layout":
        layout(path, int(sys.argv[3]), int(sys.argv[4]))
    else:
        {"tags": tags, "fleet": fleet}[what](path)
