#!/usr/bin/env bash
# Builds the policy libFuzzer target with clang (see FUZZING.md) and runs it
# for a bounded time: rules/run_fuzzer.sh [seconds, default 60].
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-60}"
bazel build //proto:common_cc_proto >/dev/null 2>&1
BIN="$(bazel info bazel-bin 2>/dev/null)"
OUT="${TMPDIR:-/tmp}/latchkey-policy-fuzz"
mkdir -p "$OUT/corpus"
clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I. -I"$BIN" \
  rules/policy_fuzz.cc rules/path_normalizer.cc \
  rules/path_pattern.cc rules/http_method.cc \
  rules/policy_engine.cc \
  "$BIN/proto/common.pb.cc" \
  $(pkg-config --cflags --libs protobuf re2 absl_status absl_statusor \
    absl_strings absl_str_format) -o "$OUT/policy_fuzz"
cd "$OUT"
exec ./policy_fuzz -max_total_time="$SECONDS_TO_RUN" -max_len=4200 \
  -rss_limit_mb=4096 -dict="$OLDPWD/rules/policy_fuzz.dict" corpus
