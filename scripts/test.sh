#!/usr/bin/env bash
# Every check CI runs, in one command. Works on a fresh machine: it installs
# what the tests need first (as root via apt-get when something is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

# Real parts the tests start: a registry (CNCF distribution), skopeo to
# cross-check digests, htpasswd for Basic auth, git (with http-backend and
# daemon, for real remotes), ssh-keygen and gpg for signed commits, openssl
# for a GitHub App key, and Chromium (headless) for the ladder page.
need=()
command -v git >/dev/null 2>&1 || need+=(git)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v gpg >/dev/null 2>&1 || need+=(gnupg)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ((${#need[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
