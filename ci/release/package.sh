#!/usr/bin/env bash
# Package a built hoist binary the way ci/github-action/install.sh fetches
# it: hoist-<target>.tar.gz with `hoist` (and the README) at its top, and
# hoist-<target>.tar.gz.sha256 ("<hex>  <name>", as sha256sum prints).
#
#   ci/release/package.sh BINARY TARGET OUTDIR
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 BINARY TARGET OUTDIR" >&2
  exit 2
fi
bin=$1 target=$2 out=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
"$bin" --version >/dev/null # refuse a binary that does not run here
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$bin" "$stage/hoist"
cp "$root/README.md" "$stage/"
name="hoist-$target.tar.gz"
tar -C "$stage" -czf "$out/$name" hoist README.md
(cd "$out" && { sha256sum "$name" 2>/dev/null || shasum -a 256 "$name"; } >"$name.sha256")
echo "$out/$name"
