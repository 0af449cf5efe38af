#!/usr/bin/env bash
# //tests:mcp_sdk_test: runs the MCP SDK end-to-end tests (*.test.mjs) with
# `node --test` against the real stack. Each node test case becomes one
# JUnit <testcase> in $XML_OUTPUT_FILE (junit_reporter.mjs), so
# tests/summarize_results.py counts them.
#
# node_modules is not a Bazel input: `./dev.sh test` runs
# `npm ci --prefix tests/mcp_client` first. The test finds it next to the
# real package.json its runfiles symlink points to (tests run with
# --spawn_strategy=local here), or at $LATCHKEY_MCP_CLIENT_DIR.
set -euo pipefail

runfiles="$PWD"  # bazel test starts in the runfiles tree of the workspace.
package_json="$runfiles/tests/mcp_client/package.json"

if [[ -n "${LATCHKEY_MCP_CLIENT_DIR:-}" ]]; then
  client_dir="$LATCHKEY_MCP_CLIENT_DIR"
else
  client_dir="$(dirname "$(readlink -f "$package_json")")"
fi

node_bin="$(command -v node || true)"
if [[ -z "$node_bin" ]]; then
  echo "mcp_sdk_test: node is not installed (./dev.sh test installs it)" >&2
  exit 1
fi
if [[ ! -f "$client_dir/node_modules/@modelcontextprotocol/sdk/package.json" ]]; then
  echo "mcp_sdk_test: $client_dir/node_modules is missing; run" >&2
  echo "  npm ci --prefix tests/mcp_client   (./dev.sh test does it)" >&2
  exit 1
fi
if ! cmp -s "$client_dir/package-lock.json" "$runfiles/tests/mcp_client/package-lock.json"; then
  echo "mcp_sdk_test: $client_dir is not this test's package directory" >&2
  exit 1
fi

# The test files are run from the package directory so that their imports
# resolve in its node_modules (runfiles hold symlinks to the same files).
# --http: only the http*.test.mjs files (//tests:mcp_sdk_http_test);
# otherwise all the others (//tests:mcp_sdk_test), so the two targets run
# side by side and each stays short.
tests=()
for file in "$runfiles"/tests/mcp_client/*.test.mjs; do
  name="$(basename "$file")"
  want_http=no; is_http=no
  [[ "${1:-}" == "--http" ]] && want_http=yes
  [[ "$name" == http* ]] && is_http=yes
  [[ "$want_http" == "$is_http" ]] || continue
  tests+=("$client_dir/$name")
done

export LATCHKEY_RUNFILES="$runfiles"
export LATCHKEY_STACK_RUNNER="$runfiles/tests/stack_runner"

reporters=(--test-reporter=spec --test-reporter-destination=stdout)
if [[ -n "${XML_OUTPUT_FILE:-}" ]]; then
  reporters+=(--test-reporter="$client_dir/junit_reporter.mjs"
              --test-reporter-destination="$XML_OUTPUT_FILE")
fi

echo "node $("$node_bin" --version), SDK $(
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$client_dir/node_modules/@modelcontextprotocol/sdk/package.json" | head -1)"
exec "$node_bin" --test "${reporters[@]}" "${tests[@]}"
