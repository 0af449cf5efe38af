#!/usr/bin/env bash
# Latchkey developer entry point. On a fresh Debian 12 machine, as root:
#   ./dev.sh up      install dependencies, build, start the whole demo stack
#   ./dev.sh test    install dependencies, build and run every test
# Other commands: deps, build, bench [seconds], fuzz [seconds], stop-hint.
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$PWD"

BUILD_PACKAGES=(
  bazel-bootstrap bazel-bootstrap-source g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libabsl-dev libre2-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev nlohmann-json3-dev python3 libcpp-httplib-dev
  prometheus-cpp-dev
)
TEST_PACKAGES=(nginx-light curl clang libclang-rt-14-dev python3-cryptography openssl systemd git awscli python3-brotli zstd python3-botocore python3-oauthlib python3-jwt python3-prometheus-client)  # python3-prometheus-client: metrics_http_test parses a scrape with the reference parser; python3-botocore, python3-oauthlib, python3-jwt: tests/verifier/verify.py recomputes credentials independently, and auth_upstream.py verifies JWT-bearer assertions; systemd: systemd-socket-activate; awscli: gateway_aws_e2e_test; python3-brotli, zstd: vault_stream_upstream.py encodes br and zstd answers

log() { printf '\033[1m[latchkey]\033[0m %s\n' "$*" >&2; }

install_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
      log "need root to install packages; run: sudo apt-get install ${missing[*]}"
      exit 1
    fi
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  fi
}

cmd_deps() { install_packages "${BUILD_PACKAGES[@]}"; }

cmd_build() {
  cmd_deps
  log "building (bazel, offline, system libraries)"
  # One build: its progress noise is filtered, its status kept (pipefail).
  local rc=0
  bazel build //... 2>&1 | { grep -v '^INFO\|^Loading\|^Analyzing' >&2 || true; } \
    || rc=$?
  if ((rc != 0)); then log "build failed (exit $rc)"; exit "$rc"; fi
}

# ---------------------------------------------------------------- up
STATE="$ROOT/.state"
RUN="$STATE/run"
BIN="$ROOT/bazel-bin"
DEMO_PORT="${LATCHKEY_DEMO_PORT:-8787}"
PIDS=()

stop_all() {
  log "stopping"
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  log "stopped; state kept in $STATE (delete it to start from scratch)"
}

start_daemon() {  # name, socket, command...
  local name=$1 socket=$2; shift 2
  "$@" >>"$STATE/logs/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do
    [[ -S "$socket" ]] && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || { log "$name failed to start:"; tail -5 "$STATE/logs/$name.log" >&2; exit 1; }
    sleep 0.05
  done
  log "$name did not create $socket"; exit 1
}

ctl() { "$BIN/ctl/latchkeyctl" --run_dir="$RUN" "$@"; }

cmd_up() {
  cmd_build
  mkdir -p "$STATE/logs" "$STATE/state" && chmod 700 "$STATE" "$STATE/state"
  trap stop_all EXIT
  trap 'exit 0' INT TERM

  log "demo upstream on http://127.0.0.1:$DEMO_PORT (echoes requests as JSON)"
  rm -f "$STATE/upstream.port"
  # Debian's interpreter, not a version-manager shim that would fork and
  # leave the server running when we stop it.
  /usr/bin/python3 tests/upstream/echo_upstream.py --port "$DEMO_PORT" \
    --port-file "$STATE/upstream.port" >>"$STATE/logs/upstream.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do [[ -s "$STATE/upstream.port" ]] && break; sleep 0.05; done
  [[ -s "$STATE/upstream.port" ]] || { log "demo upstream failed (port $DEMO_PORT busy? set LATCHKEY_DEMO_PORT)"; exit 1; }

  start_daemon audit "$RUN/audit.sock" "$BIN/audit_sink/latchkey-audit" \
    --socket="$RUN/audit.sock" --state_dir="$STATE/state/audit"
  start_daemon vault "$RUN/vault.sock" "$BIN/vault/latchkey-vault" \
    --socket="$RUN/vault.sock" --state_dir="$STATE/state/vault" \
    --audit_socket="$RUN/audit.sock"

  if ctl vault status --json | grep -q '"initialized": false'; then
    # The demo keeps a single share (1 of 1) on disk; production uses the
    # default 3-of-5 shares held by different operators.
    ctl vault init --shares=1 --threshold=1 | tail -n +2 > "$STATE/unseal.key"
    chmod 600 "$STATE/unseal.key"
    log "vault initialized. DEMO unseal key (kept in $STATE/unseal.key; never do this in production):"
    log "  $(cat "$STATE/unseal.key")"
  fi
  ctl vault unseal < "$STATE/unseal.key" >/dev/null
  log "vault unsealed"
  # The demo token is random per machine; the vault encrypts it at rest.
  [[ -s "$STATE/demo-upstream.token" ]] || { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' | sed 's/^/demo_/' > "$STATE/demo-upstream.token"; chmod 600 "$STATE/demo-upstream.token"; }
  # The demo upstream is on loopback, so its origin is marked internal.
  ctl secret put demo-token --internal_origin="http://127.0.0.1:$DEMO_PORT" \
    --description="bearer token of the demo upstream" < "$STATE/demo-upstream.token" >/dev/null

  if [[ ! -s "$STATE/agent.token" ]]; then
    (umask 077; printf 'lk_agent_%s' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$STATE/agent.token")
  fi
  local token_hash
  token_hash=$(sha256sum < "$STATE/agent.token" | cut -d' ' -f1)
  sed -e "s/@TOKEN_SHA256@/$token_hash/" -e "s/@PORT@/$DEMO_PORT/" \
    deploy/demo/broker.textproto.in > "$STATE/broker.textproto"
  start_daemon broker "$RUN/broker.sock" "$BIN/broker/latchkey-broker" \
    --config="$STATE/broker.textproto" --state_dir="$STATE/state/broker" \
    --socket="$RUN/broker.sock" --admin_socket="$RUN/admin.sock" \
    --vault_socket="$RUN/vault.sock" --audit_socket="$RUN/audit.sock"

  cat >&2 <<JSON

Latchkey is running. Logs: $STATE/logs/. Stop with Ctrl-C.
Add this to your MCP client's configuration (Claude Desktop:
claude_desktop_config.json, Cursor: .cursor/mcp.json, Claude Code: .mcp.json;
README.md, "Connect an MCP client", has each one spelled out):

{
  "mcpServers": {
    "latchkey": {
      "command": "$BIN/mcp_adapter/latchkey-mcp",
      "args": ["--broker_socket=$RUN/broker.sock", "--token_file=$STATE/agent.token"]
    }
  }
}

Try it: ask the agent to "list Latchkey capabilities" and to "GET /v1/hello with demo-api".
Operators: $BIN/ctl/latchkeyctl --run_dir=$RUN audit query
JSON
  wait -n "${PIDS[@]}" || true
  log "a daemon exited; see $STATE/logs"
}

# ---------------------------------------------------------------- test
# The MCP SDK tests (//tests:mcp_sdk_test) run the official TypeScript SDK
# client under node; its packages are pinned by tests/mcp_client/package-lock.json.
install_mcp_client() {
  if ! command -v node >/dev/null; then
    install_packages nodejs npm
  elif ! command -v npm >/dev/null; then
    install_packages npm
  fi
  local lock=tests/mcp_client/package-lock.json
  local stamp=tests/mcp_client/node_modules/.package-lock.json
  if [[ ! -f "$stamp" || "$lock" -nt "$stamp" ]]; then
    log "installing the MCP SDK test client (npm ci --prefix tests/mcp_client)"
    npm ci --prefix tests/mcp_client --no-audit --no-fund --loglevel=error >&2
  fi
  # //tests:mcp_conformance_test: the official MCP conformance suite, pinned
  # by tests/mcp_conformance/package-lock.json.
  lock=tests/mcp_conformance/package-lock.json
  stamp=tests/mcp_conformance/node_modules/.package-lock.json
  if [[ ! -f "$stamp" || "$lock" -nt "$stamp" ]]; then
    log "installing the MCP conformance suite (npm ci --prefix tests/mcp_conformance)"
    npm ci --prefix tests/mcp_conformance --no-audit --no-fund --loglevel=error >&2
  fi
  # //tests/authserver:oauth2_authserver_test: a real OAuth 2.0
  # authorization server (oidc-provider), pinned by
  # tests/authserver/package-lock.json.
  lock=tests/authserver/package-lock.json
  stamp=tests/authserver/node_modules/.package-lock.json
  if [[ ! -f "$stamp" || "$lock" -nt "$stamp" ]]; then
    log "installing the OAuth2 authorization server (npm ci --prefix tests/authserver)"
    npm ci --prefix tests/authserver --no-audit --no-fund --loglevel=error >&2
  fi
}

cmd_test() {
  cmd_deps
  install_packages "${TEST_PACKAGES[@]}"
  install_mcp_client
  local rc=0
  # --nocache_test_results: run every test now, even when the disk cache
  # holds a result for the same inputs.
  bazel test //... --nocache_test_results --test_output=errors \
    --test_summary=terse "$@" || rc=$?
  python3 tests/summarize_results.py "$rc"
}

cmd_bench() {
  cmd_deps
  install_packages "${TEST_PACKAGES[@]}"
  bazel build -c opt //bench:stack_bench //tests:stack_binaries >/dev/null 2>&1
  # Once with durable state on disk (what production pays: one fsync per
  # audit batch), once on tmpfs to show what the hops cost without it.
  bazel run -c opt //bench:stack_bench -- --seconds="${1:-5}" --state_base=/tmp
  bazel run -c opt //bench:stack_bench -- --seconds="${1:-5}" --state_base=/dev/shm
}

cmd_fuzz() {
  install_packages "${TEST_PACKAGES[@]}"
  rules/run_fuzzer.sh "${1:-60}"
}

case "${1:-}" in
  deps) cmd_deps ;;
  build) cmd_build ;;
  up) cmd_up ;;
  test) shift; cmd_test "$@" ;;
  bench) shift; cmd_bench "$@" ;;
  fuzz) shift; cmd_fuzz "$@" ;;
  *) echo "usage: $0 {up|test|bench [seconds]|fuzz [seconds]|deps|build}" >&2; exit 2 ;;
esac
