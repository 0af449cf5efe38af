#!/usr/bin/env python3
"""Prints 'N passed, N failed' over individual test cases (skips before it).

Reads the JUnit test.xml of every test target of this workspace under
bazel-testlogs/. A target that failed without a failing test case in its XML
(crash, timeout, build failure) counts as one failed case. Exit status:
non-zero when anything failed, when nothing ran, or when bazel failed.
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET


def main():
    bazel_rc = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    targets = subprocess.run(
        ["bazel", "query", "tests(//...)", "--output=label"],
        capture_output=True, text=True, check=False).stdout.split()
    passed = failed = skipped = 0
    for label in targets:
        package, name = label.lstrip("/").split(":")
        xml = os.path.join("bazel-testlogs", package, name, "test.xml")
        if not os.path.exists(xml):
            print(f"no result for {label} (not built or not run)", file=sys.stderr)
            failed += 1
            continue
        root = ET.parse(xml).getroot()
        cases = root.iter("testcase")
        t_pass = t_fail = t_skip = 0
        for case in cases:
            if case.find("failure") is not None or case.find("error") is not None:
                t_fail += 1
            elif case.find("skipped") is not None or case.get("result") == "skipped" \
                    or case.get("status") == "notrun":
                t_skip += 1
            else:
                t_pass += 1
        suite_failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0))
                             for s in root.iter("testsuite"))
        if suite_failures and not t_fail:
            t_fail = 1
        if t_fail:
            print(f"FAILED: {label} ({t_fail} case(s)); log: "
                  f"bazel-testlogs/{package}/{name}/test.log", file=sys.stderr)
        passed += t_pass
        failed += t_fail
        skipped += t_skip
    if bazel_rc != 0 and failed == 0:
        failed = 1
    # The last line is exactly "N passed, N failed" (CI reads it); skipped
    # cases (GTEST_SKIP, expected conformance failures) are reported first.
    if skipped:
        print(f"{skipped} skipped (not counted as passed)")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or passed == 0 else 0)


if __name__ == "__main__":
    main()
