#!/bin/bash
# profile_stack.sh: per-daemon CPU and off-CPU profile of the request path
# under stack_bench's concurrency-1 load (see docs/performance.md).
#
#   bench/profile_stack.sh mcp|broker [OUT_DIR] [WINDOW_SECONDS]
#
# Starts stack_bench --only=<scenario> with state on tmpfs, waits for it to
# write the pids of its own daemons (never another stack's), then, one
# window each so the tools do not perturb each other's figures:
#   stat    perf stat per process: task-clock, context switches, migrations
#   cpu     perf record, flat (self time), all daemons at once
#   sched   perf record of sched_switch/sched_wakeup with stacks (off-CPU)
#   trace   perf trace -s: syscall counts and time per process
#   graph   perf record with DWARF call graphs, one daemon at a time
# and writes the requests served in each window (audit log lines / 2) to
# requests-<window>.txt, to turn the counts into per-request figures.
# At the end it copies the daemons' logs and prints the per-stage timeline
# and per-request CPU and switches (bench/profile_summary.py).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SCENARIO=${1:-mcp}
OUT=${2:-/tmp/lk-profile-$SCENARIO}
WIN=${3:-8}
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)/bench/stack_bench
mkdir -p "$OUT"
rm -f "$OUT/pids"
# The stack finds its daemons relative to the runfiles tree.
cd "$BIN.runfiles/latchkey"
"$BIN" --only="$SCENARIO" --state_base=/dev/shm --seconds=$((WIN * 7 + 30)) \
  --pids_file="$OUT/pids" >"$OUT/bench.txt" 2>"$OUT/bench.err" &
BENCH=$!
for _ in $(seq 300); do [ -s "$OUT/pids" ] && break; sleep 0.2; done
sleep 3  # past the bench's warm-up
declare -A PID
while IFS== read -r name value; do PID[$name]=$value; done <"$OUT/pids"
LOG=${PID[audit_log]}
unset 'PID[audit_log]'
echo "daemons: $(tr '\n' ' ' <"$OUT/pids")" >"$OUT/pids.txt"

lines() { wc -l <"$LOG"; }
# window NAME CMD...: runs CMD for every daemon (NAME and pid appended) in
# parallel, waits for them, records the requests served meanwhile.
window() {
  local label=$1; shift
  local before; before=$(lines)
  local jobs=()
  for name in "${!PID[@]}"; do
    "$@" "$name" "${PID[$name]}" &
    jobs+=($!)
  done
  wait "${jobs[@]}" || true
  echo $(( ($(lines) - before) / 2 )) >"$OUT/requests-$label.txt"
}
do_stat() {
  perf stat -e task-clock,context-switches,cpu-migrations,page-faults \
    --per-thread -p "$2" -o "$OUT/stat-$1.txt" -- sleep "$WIN" 2>/dev/null
}
# Flat (self time) for all daemons at once: cheap, so the load stays real.
do_cpu() {
  perf record -F 1999 -p "$2" -o "$OUT/cpu-$1.data" -- sleep "$WIN" \
    >/dev/null 2>&1
}
do_sched() {
  perf record -e sched:sched_switch -e sched:sched_wakeup \
    --call-graph dwarf,8192 -p "$2" -o "$OUT/sched-$1.data" \
    -- sleep "$WIN" >/dev/null 2>&1
}
do_trace() {
  timeout -s INT "$WIN" perf trace -s -p "$2" -o "$OUT/trace-$1.txt" \
    >/dev/null 2>&1 || true
}
window stat do_stat
window cpu do_cpu
window sched do_sched
window trace do_trace
# Call graphs: DWARF unwinding copies the stack at each sample, too costly
# for all daemons at once on two cores, so one daemon at a time; -m 64
# (bigger buffers): with the default the broker's recording came out empty.
for name in broker mcp vault audit; do
  [ -n "${PID[$name]:-}" ] || continue
  sleep 1  # let the previous perf finish writing
  before=$(lines)
  perf record -F 499 -m 64 --call-graph dwarf,8192 -p "${PID[$name]}" \
    -o "$OUT/graph-$name.data" -- sleep $((WIN / 2)) >/dev/null 2>&1 || true
  echo $(( ($(lines) - before) / 2 )) >"$OUT/requests-graph-$name.txt"
done
# The daemons' own logs, for the per-stage timeline (bench/stage_timeline.py).
STACK_DIR=${LOG%/state/audit/audit.log}
cp "$STACK_DIR/broker.log" "$STACK_DIR/vault.log" "$LOG" "$OUT/"
wait "$BENCH" || true
cat "$OUT/bench.txt"
python3 "$HERE/profile_summary.py" "$OUT" || true
