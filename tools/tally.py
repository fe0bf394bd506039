#!/usr/bin/env python3
"""tally.py - sum meson test results over several builds' testlog.json.

Prints one line per failed test, then "N passed, N failed" (", N skipped"
when any). A missing log counts as nothing run."""
import json
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        continue
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        res = t.get("result")
        name = f"{path.split('/')[0]}:{t.get('name')}"
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif res == "SKIP":
            skipped += 1
            print(f"skipped: {name}")
        else:
            failed += 1
            print(f"FAILED: {name} ({res})")
tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
