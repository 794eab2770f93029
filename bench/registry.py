#!/usr/bin/env python3
"""Fill a local registry through the distribution HTTP API.

usage: registry.py HOST IMAGES TAGS_PER_IMAGE PREFIX
Pushes one tiny image per repository PREFIX<i> under TAGS_PER_IMAGE tags.
"""
import hashlib, json, sys, http.client
from concurrent.futures import ThreadPoolExecutor

host, images, per, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def req(method, path, body=b"", headers=None):
    c = http.client.HTTPConnection(host, timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    r.read()
    loc = r.getheader("Location")
    c.close()
    return r.status, loc

def blob(repo, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    st, loc = req("POST", f"/v2/{repo}/blobs/uploads/")
    assert st == 202, st
    if loc.startswith("http"):
        loc = "/" + loc.split("/", 3)[3]
    sep = "&" if "?" in loc else "?"
    st, _ = req("PUT", f"{loc}{sep}digest={d}", data, {"Content-Type": "application/octet-stream"})
    assert st == 201, st
    return d, len(data)

def image(i):
    repo = f"{prefix}{i}"
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    cd, cs = blob(repo, cfg)
    ld, ls = blob(repo, f"layer {repo}".encode())
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}]}).encode()
    return repo, m

def tag(args):
    repo, m, t = args
    st, _ = req("PUT", f"/v2/{repo}/manifests/{t}", m, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert st == 201, st

with ThreadPoolExecutor(16) as ex:
    manifests = list(ex.map(image, range(images)))
    work = [(repo, m, f"1.{t // 1000}.{t % 1000}") for repo, m in manifests for t in range(per)]
    list(ex.map(tag, work, chunksize=64))
print(f"pushed {images} images x {per} tags")
