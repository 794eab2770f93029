#!/usr/bin/env bash
# Benchmarks with ratios against a peer measured in the same run.
#   bench/run.sh            all benchmarks
# Needs: cargo, node+npm, python3, ripgrep, hyperfine (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
W=bench/work
mkdir -p "$W"
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup rg:ripgrep hyperfine:hyperfine node:nodejs npm:npm docker-registry:docker-registry skopeo:skopeo

echo "== 1. policy selection over 100,000 tags (semver range + filterTags) vs node semver.maxSatisfying"
[ -d "$W/node_modules/semver" ] || npm install --silent --prefix "$W" semver@7 >/dev/null
[ -f "$W/tags.txt" ] || python3 bench/gen.py tags "$W/tags.txt"
RANGE='>=1.10.0 <3.0.0'
# shellcheck disable=SC2016 # '$v' is the regex replacement, not a shell variable
h=$(cargo bench -q --bench policy -- "$W/tags.txt" "$RANGE" '^(?P<v>[0-9]+\.[0-9]+\.[0-9]+(?:-rc\.[0-9]+)?)$' '$v')
n=$(node bench/maxsat.js "$W/tags.txt" "$RANGE" "$PWD/$W")
echo "  $h"
echo "  $n"
hn=${h#hoist_ns_per_selection=}; hn=${hn%% *}
nn=${n#node_ns_per_selection=}; nn=${nn%% *}
python3 -c "print(f'  hoist {$hn/1e6:.2f} ms/selection, node {$nn/1e6:.2f} ms/selection: hoist is {$nn/$hn:.1f}x faster (target >= 5x)')"

echo "== 2. hoist plan on 20,000 YAML files (1% with markers) vs rg -l over the same tree"
if [ ! -d "$W/fleet" ]; then python3 bench/gen.py fleet "$W/fleet"; fi
hyperfine -N --warmup 2 --runs 10 --export-json "$W/plan.json" \
  "rg -l -F '\"\$imagepolicy\"' $W/fleet" \
  "$HOIST plan --repo $W/fleet --registry-snapshot $W/fleet-snapshot.yaml" >/dev/null
python3 - "$W/plan.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
rg, hoist = r[0]["mean"], r[1]["mean"]
print(f"  rg -l: {rg*1000:.1f} ms, hoist plan: {hoist*1000:.1f} ms: hoist takes {hoist/rg:.2f}x rg's time (target <= 2x)")
PY
n=$($HOIST plan --repo $W/fleet --registry-snapshot $W/fleet-snapshot.yaml --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["changes"])')
echo "  (plan found $n changes)"

echo "== 2b. a Flux layout (clusters/<c> -> apps/<c> overlays over apps/base): growth with the fleet vs kubectl kustomize"
for n in 2 4 8; do
  L="$W/layout-$n"
  [ -d "$L" ] || python3 bench/gen.py layout "$L" "$n" 250
done
command -v kubectl >/dev/null 2>&1 || { echo "  (kubectl missing: the peer is skipped)"; }
for n in 2 4 8; do
  L="$W/layout-$n"
  peer=()
  if command -v kubectl >/dev/null 2>&1; then
    peer=("bash -c 'for c in $L/apps/c*; do kubectl kustomize \$c >/dev/null; done'")
  fi
  hyperfine -N --warmup 1 --runs 5 --export-json "$W/layout-$n.json" \
    "$HOIST plan --repo $L --registry-snapshot $W/layout-$n-snapshot.yaml" "${peer[@]}" >/dev/null
  python3 - "$W/layout-$n.json" "$n" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
line = f"  {sys.argv[2]} clusters x 250 apps ({int(sys.argv[2]) * 250} marker files): hoist plan {r[0]['mean']*1000:.1f} ms"
if len(r) > 1:
    line += f", kubectl kustomize of every cluster: {r[1]['mean']*1000:.1f} ms ({r[1]['mean']/r[0]['mean']:.1f}x hoist's time)"
print(line)
PY
  /usr/bin/time -f "    peak RSS %M KiB" "$HOIST" plan --repo "$L" --registry-snapshot "$W/layout-$n-snapshot.yaml" >/dev/null
done

echo "== 3. one 50 MB multi-document file with one marker: time and peak memory"
if [ ! -f "$W/big/big.yaml" ]; then
  mkdir -p "$W/big"
  python3 - "$W/big/big.yaml" <<'PY'
import sys
out, n, i = [], 0, 0
while n < 50 << 20:
    s = f'---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  key: "value {i} with some padding to make the document longer"\n  other: [1, 2, 3]\n'
    out.append(s); n += len(s); i += 1
out.append('---\nkind: Last\nimage: ghcr.io/acme/app0:1.0.0 # {"$imagepolicy": "flux-system:app0"}\n')
open(sys.argv[1], "w").write("".join(out))
PY
  sed -n '1,/^---$/p' "$W/fleet/flux/policies.yaml" > /dev/null
  python3 -c "import sys; t=open('$W/fleet/flux/policies.yaml').read().split('---\n'); open('$W/big/policies.yaml','w').write('---\n'+t[1]+'---\n'+t[2])"
fi
/usr/bin/time -f "  wall %e s, peak RSS %M KiB" "$HOIST" plan --repo "$W/big" --registry-snapshot "$W/fleet-snapshot.yaml" > /dev/null

echo "== 4. registry scan: hoist scan vs skopeo list-tags per image (sequential, as a script would)"
REG_DIR=$W/registry
if [ ! -f "$REG_DIR/filled" ]; then
  rm -rf "$REG_DIR"; mkdir -p "$REG_DIR"
fi
PORT=${HOIST_BENCH_REGISTRY_PORT:-5055}
trap 'kill $REG_PID 2>/dev/null' EXIT
start_registry "$REG_DIR" "$PORT"
if [ ! -f "$REG_DIR/filled" ]; then
  python3 bench/registry.py "127.0.0.1:$PORT" 1 20000 one/big
  python3 bench/registry.py "127.0.0.1:$PORT" 300 100 many/app
  touch "$REG_DIR/filled"
fi
mkfleet() { # dir images...
  local d=$1; shift; mkdir -p "$d"; : > "$d/repos.yaml"
  local i=0
  for img in "$@"; do
    printf -- '---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: r%s, namespace: flux-system}\nspec: {image: %s, interval: 1m, insecure: true}\n' $i "$img" >> "$d/repos.yaml"
    i=$((i+1))
  done
}
mkfleet "$W/scan-a" "127.0.0.1:$PORT/one/big0"
mapfile -t MANY < <(for i in $(seq 0 299); do echo "127.0.0.1:$PORT/many/app$i"; done)
mkfleet "$W/scan-b" "${MANY[@]}"
printf '%s\n' "${MANY[@]}" > "$W/scan-b/images.txt"
cat > "$W/skopeo-each.sh" <<'SH'
#!/usr/bin/env bash
while read -r img; do skopeo list-tags --tls-verify=false "docker://$img" > /dev/null; done < "$1"
SH
chmod +x "$W/skopeo-each.sh"
echo "127.0.0.1:$PORT/one/big0" > "$W/scan-a/images.txt"
for case in a b; do
  hyperfine -N --warmup 1 --runs 5 --export-json "$W/scan-$case.json" \
    "$W/skopeo-each.sh $W/scan-$case/images.txt" \
    "$HOIST scan --repo $W/scan-$case --output json" >/dev/null
  python3 - "$W/scan-$case.json" "$case" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
sk, ho = r[0]["mean"], r[1]["mean"]
label = {"a": "(a) 1 image x 20,000 tags", "b": "(b) 300 images x 100 tags"}[sys.argv[2]]
print(f"  {label}: skopeo {sk*1000:.0f} ms, hoist {ho*1000:.0f} ms: hoist is {sk/ho:.1f}x faster")
PY
  /usr/bin/time -f "    hoist peak RSS %M KiB" "$HOIST" scan --repo "$W/scan-$case" --output json > "$W/scan-$case.out"
  python3 -c "import json,sys; d=json.load(open('$W/scan-$case.out')); print('    images scanned:', len(d['images']), 'tags:', sum(i['tags'] or 0 for i in d['images']))"
done
