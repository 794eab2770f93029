# shellcheck shell=bash
# Shared by the bench/ scripts (sourced, not run). HOIST and REG_PID are
# for the scripts that source this.
# shellcheck disable=SC2034
REG_PID=""

# Install the commands a benchmark needs when missing ("command:package"
# pairs), then build hoist in release mode; sets HOIST.
bench_setup() {
  local missing=() t sudo=""
  for t in "$@"; do
    command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t##*:}")
  done
  if ((${#missing[@]})); then
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
  fi
  cargo build --release -q
  HOIST=$PWD/target/release/hoist
}

# Start docker-registry on 127.0.0.1:PORT with its data under DIR, and
# wait until it listens; sets REG_PID (the caller's EXIT trap kills it).
start_registry() { # DIR PORT
  local dir=$1 port=$2
  mkdir -p "$dir"
  cat >"$dir/config.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $(cd "$dir" && pwd)/data}}
http: {addr: 127.0.0.1:$port}
YAML
  docker-registry serve "$dir/config.yml" >/dev/null 2>&1 &
  REG_PID=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.1; done
  echo "docker-registry did not start on 127.0.0.1:$port" >&2
  return 1
}
