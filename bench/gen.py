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

if __name__ == "__main__":
    what, path = sys.argv[1], sys.argv[2]
    {"tags": tags, "fleet": fleet}[what](path)
