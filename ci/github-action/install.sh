#!/usr/bin/env bash
# Install hoist for the GitHub Action: keep a hoist already on PATH when
# it is the version asked for; else a release binary for this runner,
# checked against its published SHA-256 (from the release, or from
# HOIST_RELEASE_URL); else build it with cargo.
set -euo pipefail
want=${HOIST_VERSION:-latest}
repo=${HOIST_ACTION_REPOSITORY:-hoist-dev/hoist}
if command -v hoist >/dev/null 2>&1; then
  have=$(hoist --version | awk '{print $2}')
  if [ "$want" = "$have" ] || { [ "$want" = latest ] && [ -n "${HOIST_ACCEPT_INSTALLED:-}" ]; }; then
    echo "hoist $have is already installed"
    exit 0
  fi
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=x86_64-unknown-linux-musl ;;
  Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-musl ;;
  Darwin-arm64) target=aarch64-apple-darwin ;;
  Darwin-x86_64) target=x86_64-apple-darwin ;;
  *) target="" ;;
esac
dest=${RUNNER_TOOL_CACHE:-$HOME/.cache}/hoist/$want
mkdir -p "$dest"
if [ -n "$target" ] && [ "$want" != main ]; then
  if [ -n "${HOIST_RELEASE_URL:-}" ]; then
    # A mirror (GitHub Enterprise, an air-gapped artifact store) holding
    # the same files as a release.
    base=${HOIST_RELEASE_URL%/}
  elif [ "$want" = latest ]; then
    base="https://github.com/$repo/releases/latest/download"
  else
    base="https://github.com/$repo/releases/download/v$want"
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if curl -fsSL --retry 3 -o "$tmp/hoist.tar.gz" "$base/hoist-$target.tar.gz" &&
    curl -fsSL --retry 3 -o "$tmp/hoist.tar.gz.sha256" "$base/hoist-$target.tar.gz.sha256"; then
    expected=$(awk '{print $1}' "$tmp/hoist.tar.gz.sha256")
    actual=$( (sha256sum "$tmp/hoist.tar.gz" 2>/dev/null || shasum -a 256 "$tmp/hoist.tar.gz") | awk '{print $1}')
    if [ "$expected" != "$actual" ]; then
      echo "::error title=hoist install::checksum mismatch for hoist-$target.tar.gz (expected $expected, got $actual)"
      exit 1
    fi
    tar -xzf "$tmp/hoist.tar.gz" -C "$dest" hoist
    echo "$dest" >> "$GITHUB_PATH"
    echo "installed $("$dest/hoist" --version) ($target), checksum verified"
    exit 0
  fi
  echo "::warning title=hoist install::no release binary for $target ($want); building from source"
fi
# Fallback: build from this action's own source, or from the repository.
if [ -f "${HOIST_ACTION_PATH:-}/Cargo.toml" ]; then
  cargo install --locked --root "$dest" --path "$HOIST_ACTION_PATH"
elif [ "$want" = latest ] || [ "$want" = main ]; then
  cargo install --locked --root "$dest" --git "https://github.com/$repo" hoist
else
  cargo install --locked --root "$dest" --git "https://github.com/$repo" --tag "v$want" hoist
fi
echo "$dest/bin" >> "$GITHUB_PATH"
