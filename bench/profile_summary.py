#!/usr/bin/env python3
"""Summarises a bench/profile_stack.sh output directory (docs/performance.md).

Prints, per request: CPU and context switches per daemon (perf stat
window), why threads went off CPU (sched_switch stacks), and the per-stage
timeline of a request joined on request_id from
the audit log (intent and outcome records), the vault's `egress` log line
and the broker's `decision` log line.

    bench/profile_summary.py /tmp/lk-prof-broker
"""
import collections
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone


def micros(stamp):
    # Log lines carry microseconds, audit records nanoseconds.
    whole, frac = stamp.rstrip("Z").split(".")
    t = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return t.timestamp() * 1e6 + int((frac + "000000")[:6])


def records(path):
    with open(path) as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def quantiles(values):
    values = sorted(values)
    n = len(values)
    return "p50 %7.0f  p90 %7.0f  p99 %7.0f" % (
        values[n // 2], values[n * 9 // 10], values[min(n - 1, n * 99 // 100)])


def cpu_and_switches(out):
    requests = int(open(os.path.join(out, "requests-stat.txt")).read())
    print("per request, perf stat window (%d requests):" % requests)
    for name in ["mcp", "broker", "vault", "audit"]:
        path = os.path.join(out, "stat-%s.txt" % name)
        if not os.path.exists(path):
            continue
        cpu, switches = collections.Counter(), collections.Counter()
        for line in open(path):
            m = re.match(r"\s*(\S+?)-\d+\s+([\d,.]+)\s+(msec\s+task-clock|"
                         r"context-switches)", line)
            if not m:
                continue
            thread = re.sub(r"\d+$", "", m.group(1))
            value = float(m.group(2).replace(",", ""))
            (cpu if "task-clock" in m.group(3) else switches)[thread] += value
        print("  %-7s CPU %5.0f us  switches %5.1f  (%s)" % (
            name, sum(cpu.values()) / requests * 1000,
            sum(switches.values()) / requests,
            ", ".join("%s %.0f us %.1f sw" % (t, c / requests * 1000,
                                              switches[t] / requests)
                      for t, c in cpu.most_common(3))))


# Why a thread went off CPU, from the stack recorded at sched_switch; the
# first matching pattern wins.
BLOCK_REASONS = [
    (("grpc_pollset_work", "gpr_cv_wait"),
     "gRPC poller parked on a condvar (another thread owns epoll)"),
    (("epoll_wait",), "gRPC poller in epoll_wait"),
    (("gpr_cv_wait",), "gRPC condvar (CQ, executor, timer)"),
    (("condition_variable",), "application condition_variable"),
    (("futex",), "other lock or futex"),
    (("fdatasync",), "fdatasync"),
    (("poll",), "poll (stdio, curl)"),
]


def off_cpu(out):
    requests = int(open(os.path.join(out, "requests-sched.txt")).read())
    print("off-CPU, sched_switch stacks (%d requests; perf may drop events, "
          "use the shares):" % requests)
    for name in ["mcp", "broker", "vault", "audit"]:
        path = os.path.join(out, "sched-%s.data" % name)
        if not os.path.exists(path):
            continue
        script = subprocess.run(
            ["perf", "script", "-i", path, "-F", "comm,event,ip,sym"],
            capture_output=True, text=True).stdout
        reasons, wakeups = collections.Counter(), 0
        for block in script.split("\n\n"):
            head, _, frames = block.strip().partition("\n")
            if "sched_wakeup" in head:
                wakeups += 1
            elif "sched_switch" in head:
                reasons[next((why for needles, why in BLOCK_REASONS
                              if all(n in frames for n in needles)),
                             "preempted or other")] += 1
        total = sum(reasons.values())
        print("  %-7s %4.1f switches, %4.1f wake-ups issued per request: %s" % (
            name, total / requests, wakeups / requests,
            ", ".join("%s %.0f %%" % (why, 100 * n / total)
                      for why, n in reasons.most_common(4))))


def timeline(out):
    if not os.path.exists(os.path.join(out, "audit.log")):
        print("no logs copied: no timeline")
        return
    stages = collections.defaultdict(dict)
    for e in records(os.path.join(out, "audit.log")):
        r = stages[e.get("request_id")]
        if e.get("source") == "intent":
            r["intent_ts"], r["decided_us"] = micros(e["ts"]), e["latency_us"]
        elif e.get("source") == "broker":
            r["outcome_ts"], r["broker_us"] = micros(e["ts"]), e["latency_us"]
    for e in records(os.path.join(out, "vault.log")):
        if e.get("event") == "egress" and e.get("request_id") in stages:
            r = stages[e["request_id"]]
            r["vault_ts"], r["upstream_us"] = micros(e["ts"]), int(e["upstream_us"])
    for e in records(os.path.join(out, "broker.log")):
        if e.get("event") == "decision" and e.get("request_id") in stages:
            stages[e["request_id"]]["done_ts"] = micros(e["ts"])
    keys = ["intent_ts", "decided_us", "outcome_ts", "broker_us", "vault_ts",
            "upstream_us", "done_ts"]
    rows = [r for r in stages.values() if all(k in r for k in keys)]
    if not rows:
        print("no request with every stage logged")
        return
    print("timeline of %d requests (us):" % len(rows))
    for label, f in [
        ("admission + decision pipeline (to the intent Record call)",
         lambda r: r["decided_us"]),
        ("intent stamped -> vault egress logged, minus upstream",
         lambda r: r["vault_ts"] - r["intent_ts"] - r["upstream_us"]),
        ("upstream call in the vault (upstream_us)",
         lambda r: r["upstream_us"]),
        ("vault egress logged -> outcome stamped",
         lambda r: r["outcome_ts"] - r["vault_ts"]),
        ("outcome stamped -> broker decision logged",
         lambda r: r["done_ts"] - r["outcome_ts"]),
        ("broker: admission -> outcome Record call",
         lambda r: r["broker_us"]),
    ]:
        print("  %s  %s" % (quantiles([f(r) for r in rows]), label))


if __name__ == "__main__":
    cpu_and_switches(sys.argv[1])
    if os.path.exists(os.path.join(sys.argv[1], "requests-sched.txt")):
        off_cpu(sys.argv[1])
    timeline(sys.argv[1])
