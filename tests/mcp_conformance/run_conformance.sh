#!/usr/bin/env bash
# //tests:mcp_conformance_test: the official MCP conformance suite's server
# scenarios against latchkey-mcp --http and the real stack
# (run_conformance.mjs does the work; each scenario is one JUnit test case).
#
# node_modules is not a Bazel input: `./dev.sh test` runs
# `npm ci --prefix tests/mcp_conformance` (and tests/mcp_client, whose stack
# harness this reuses) first. The directories are found next to the real
# package.json files the runfiles symlinks point to.
set -euo pipefail

runfiles="$PWD"
conformance_dir="$(dirname "$(readlink -f "$runfiles/tests/mcp_conformance/package.json")")"
client_dir="$(dirname "$(readlink -f "$runfiles/tests/mcp_client/package.json")")"

node_bin="$(command -v node || true)"
if [[ -z "$node_bin" ]]; then
  echo "mcp_conformance_test: node is not installed (./dev.sh test installs it)" >&2
  exit 1
fi
for dir in "$conformance_dir" "$client_dir"; do
  if [[ ! -d "$dir/node_modules/@modelcontextprotocol" ]]; then
    echo "mcp_conformance_test: $dir/node_modules is missing; run" >&2
    echo "  npm ci --prefix ${dir#"$(dirname "$(dirname "$dir")")/"}   (./dev.sh test does it)" >&2
    exit 1
  fi
done
if ! cmp -s "$conformance_dir/package-lock.json" "$runfiles/tests/mcp_conformance/package-lock.json"; then
  echo "mcp_conformance_test: $conformance_dir is not this test's package directory" >&2
  exit 1
fi

export LATCHKEY_RUNFILES="$runfiles"
export LATCHKEY_STACK_RUNNER="$runfiles/tests/stack_runner"
export LATCHKEY_MCP_CLIENT_DIR="$client_dir"
export LATCHKEY_CONFORMANCE_DIR="$conformance_dir"
echo "node $("$node_bin" --version), conformance $(
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$conformance_dir/node_modules/@modelcontextprotocol/conformance/package.json" | head -1)"
exec "$node_bin" "$conformance_dir/run_conformance.mjs"
