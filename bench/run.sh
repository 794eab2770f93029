#!/usr/bin/env bash
# Benchmarks with ratios against a peer measured in the same run.
#   bench/run.sh            all benchmarks
# Needs: cargo, node+npm, python3, ripgrep, hyperfine (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
W=bench/work
mkdir -p "$W"
missing=()
for t in rg:ripgrep hyperfine:hyperfine node:nodejs npm:npm; do
  command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t##*:}")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
fi
cargo build --release -q
HOIST=$PWD/target/release/hoist

echo "== 1. policy selection over 100,000 tags (semver range + filterTags) vs node semver.maxSatisfying"
[ -d "$W/node_modules/semver" ] || npm install --silent --prefix "$W" semver@7 >/dev/null
[ -f "$W/tags.txt" ] || python3 bench/gen.py tags "$W/tags.txt"
RANGE='>=1.10.0 <3.0.0'
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
