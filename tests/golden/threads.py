#!/usr/bin/env python3
"""threads.py EXE SRC LH_GEN - the same events whatever --threads N.

Runs the sensor with --threads 1, 2 and 4, for 2 and 4 both with every
worker on a thread of its own (--reader-share 0) and with the reading thread
doing a share of the pairs itself (0.4, 0.25), on committed captures (demo,
impaired: retransmissions, overlaps, loss, midstream; identity-cookie: a
session learned at login and used on later connections) and on a capture
generated here with lh-gen (two hours, 60 accounts, bulk/enum/hijack
scenarios, cookie sessions, every impairment, a third of hosts on IPv6),
and checks, against N = 1:
  - every non-stats event, sorted by (timestamp, event_type, flow_id, line),
    is byte-identical (flow ids do not depend on N);
  - alerts are identical (the engine saw one order whatever N);
  - the final stats agree on decoder.pkts, flow.total, records.* and detect.*;
  - the periodic stats agree too on every counter that is not memory
    (memuse sums N tables), output or pipeline bookkeeping, or the shared
    session table (its counters are read when the aggregator passes);
  - pipeline.threads reports N and reader_share_pm the share, the reader's
    CPU time is there and, for N > 1, one entry per worker whose packets add
    up to the decoded IP packets, worker 0 with some when it has a share;
  - --reader-share auto gives, for N = 2, 3, 4, the share the documented
    rule gives for this machine's CPUs;
  - with N > 1 address-pair buckets moved between workers while idle
    (pipeline.pair_moves > 0), so the comparisons cover moved pairs;
    and the generated capture raised alerts (so the alert comparison is not
    empty).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

SITE_KEY = "golden-test-site-key-0123456789"
# (label, threads, reader share)
THREADS = (("1", 1, "0"), ("2", 2, "0"), ("2/0.4", 2, "0.4"), ("4", 4, "0"), ("4/0.25", 4, "0.25"))


def run(exe, src, pcap, threads, share, out):
    cmd = [exe, "-q", "-R", os.path.join(src, "rules"), "-o", out, "-r", pcap,
           "--stats-interval", "60", "--threads", str(threads), "--reader-share", share]
    p = subprocess.run(cmd, capture_output=True, text=True,
                       env=dict(os.environ, LEAKHOUND_SITE_KEY=SITE_KEY))
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}: {p.stderr}")
    with open(os.path.join(out, "eve.json"), encoding="utf-8") as f:
        return f.read().splitlines()


def sort_key(line):
    e = json.loads(line)
    return (e.get("timestamp", ""), e.get("event_type", ""), e.get("flow_id", 0), line)


def flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def stable_stats(s):
    """Counters that must not depend on N (see the module comment)."""
    return {k: v for k, v in flat(s).items()
            if not k.startswith(("output.", "pipeline.")) and "memuse" not in k
            and not k.startswith("identity.sessions_")}


def final_keys(s):
    f = flat(s)
    return {k: v for k, v in f.items()
            if k in ("decoder.pkts", "flow.total") or k.startswith(("records.", "detect."))}


def check(exe, src, pcap, tmp):
    name = os.path.basename(pcap)
    results = {}
    for label, n, share in THREADS:
        out = os.path.join(tmp, f"{name}-{label.replace('/', '-')}")
        t0 = time.monotonic()
        lines = run(exe, src, pcap, n, share, out)
        dt = time.monotonic() - t0
        events = [l for l in lines if '"event_type":"stats"' not in l]
        stats = [json.loads(l) for l in lines if '"event_type":"stats"' in l]
        results[label] = {
            "events": sorted(events, key=sort_key),
            "alerts": sorted(l for l in events if '"event_type":"alert"' in l),
            "final": stats[-1]["stats"] if stats else {},
            "periodic": [(e["timestamp"], stable_stats(e["stats"])) for e in stats[:-1]],
            "time": dt,
        }
    bad = 0
    ref = results["1"]
    if not ref["events"] or not ref["final"]:
        print(f"FAIL: {name}: no events or no final stats with --threads 1")
        return 1, 0
    for label, n, share in THREADS:
        r = results[label]
        pipe = r["final"].get("pipeline", {})
        want_pm = round(float(share) * 1000) if n > 1 else 0
        if pipe.get("threads") != n or pipe.get("reader_share_pm") != want_pm:
            print(f"FAIL: {name}: --threads {label}: stats say pipeline.threads "
                  f"{pipe.get('threads')}, reader_share_pm {pipe.get('reader_share_pm')}")
            bad += 1
        workers = sorted(k for k in pipe if k.startswith("worker_"))
        want = [f"worker_{i}" for i in range(n)] if n > 1 else []
        if workers != sorted(want) or "cpu_ms" not in pipe.get("reader", {}):
            print(f"FAIL: {name}: --threads {label}: pipeline stats have reader "
                  f"{pipe.get('reader')} and workers {workers}, want {want}")
            bad += 1
        elif n > 1:
            # every IP packet the reader decoded went to exactly one worker
            got = sum(pipe[w]["packets"] for w in workers)
            dec = r["final"].get("decoder", {})
            ip = dec.get("ipv4", 0) + dec.get("ipv6", 0)
            if got == 0 or got > dec.get("pkts", 0) or got < ip - dec.get("event", {}).get("frag_held", 0):
                print(f"FAIL: {name}: --threads {label}: workers got {got} packets; decoder "
                      f"pkts {dec.get('pkts')}, ipv4+ipv6 {ip}")
                bad += 1
            if want_pm and pipe["worker_0"]["packets"] == 0:
                print(f"FAIL: {name}: --threads {label}: the reader's share got no packet")
                bad += 1
            # the events above are compared after buckets moved between
            # workers: every capture here has idle pairs that move
            if not pipe.get("pair_moves"):
                print(f"FAIL: {name}: --threads {label}: no address-pair bucket moved "
                      f"(pipeline.pair_moves {pipe.get('pair_moves')})")
                bad += 1
        if n == 1:
            continue
        if r["events"] != ref["events"]:
            bad += 1
            a, b = set(ref["events"]), set(r["events"])
            print(f"FAIL: {name}: --threads {label}: {len(r['events'])} events vs {len(ref['events'])}"
                  f" with 1; {len(a - b)} only with 1, {len(b - a)} only with {label}")
            for l in sorted(a - b)[:2]:
                print(f"  only with 1: {l[:300]}")
            for l in sorted(b - a)[:2]:
                print(f"  only with {label}: {l[:300]}")
        if r["alerts"] != ref["alerts"]:
            bad += 1
            print(f"FAIL: {name}: --threads {label}: {len(r['alerts'])} alerts vs {len(ref['alerts'])}")
        fa, fb = final_keys(ref["final"]), final_keys(r["final"])
        if fa != fb or not fa:
            bad += 1
            diff = {k: (fa.get(k), fb.get(k)) for k in set(fa) | set(fb) if fa.get(k) != fb.get(k)}
            print(f"FAIL: {name}: --threads {label}: final stats differ: {diff}")
        if r["periodic"] != ref["periodic"]:
            bad += 1
            print(f"FAIL: {name}: --threads {label}: periodic stats differ "
                  f"({len(r['periodic'])} vs {len(ref['periodic'])} events)")
            for (ta, sa), (tb, sb) in zip(ref["periodic"], r["periodic"]):
                if (ta, sa) != (tb, sb):
                    diff = {k: (sa.get(k), sb.get(k)) for k in set(sa) | set(sb)
                            if sa.get(k) != sb.get(k)}
                    print(f"  first at {ta} / {tb}: {dict(list(diff.items())[:5])}")
                    break
    times = ", ".join(f"N={label} {results[label]['time']:.2f}s" for label, _, _ in THREADS)
    print(f"{name}: {len(ref['events'])} events, {len(ref['alerts'])} alerts, "
          f"{len(ref['periodic'])} periodic stats, {bad} mismatches ({times})")
    return bad, len(ref["alerts"])


def auto_share(exe, src, tmp):
    """--reader-share auto (the default): the share the documented rule
    gives for this machine's CPUs, for N = 2, 3 and 4."""
    cpus = len(os.sched_getaffinity(0))
    bad = 0
    for n in (2, 3, 4):
        out = os.path.join(tmp, f"auto-{n}")
        cmd = [exe, "-q", "-R", os.path.join(src, "rules"), "-o", out, "-r",
               os.path.join(src, "pcaps", "demo.pcap"), "--threads", str(n)]
        p = subprocess.run(cmd, capture_output=True, text=True,
                           env=dict(os.environ, LEAKHOUND_SITE_KEY=SITE_KEY))
        want = 0 if cpus > n else (1 - (n - 1) * 0.3) / n
        want = 0 if want < 0.05 else round(want * 1000)
        with open(os.path.join(out, "eve.json"), encoding="utf-8") as f:
            st = [json.loads(l) for l in f if '"event_type":"stats"' in l]
        got = st[-1]["stats"]["pipeline"].get("reader_share_pm") if st else None
        if p.returncode != 0 or got != want:
            print(f"FAIL: --threads {n} on {cpus} CPUs: reader_share_pm {got}, want {want}")
            bad += 1
    print(f"auto reader share on {cpus} CPUs: {bad} mismatches")
    return bad


def main():
    exe, src, gen = sys.argv[1:4]
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        bad += auto_share(exe, src, tmp)
        for cap in ("demo", "impaired", "identity-cookie"):
            b, _ = check(exe, src, os.path.join(src, "pcaps", cap + ".pcap"), tmp)
            bad += b
        pcap = os.path.join(tmp, "threads.pcap")
        subprocess.run([gen, "-q", "-o", pcap, "--seed", "7", "--duration", "2h",
                        "--accounts", "60", "--scenario", "bulk", "--scenario", "enum",
                        "--scenario", "hijack", "--identity", "cookie", "--impair", "all",
                        "--ipv6", "0.3"], check=True)
        b, alerts = check(exe, src, pcap, tmp)
        bad += b
        if alerts == 0:
            print("FAIL: the generated capture raised no alert: the alert comparison is empty")
            bad += 1
    print("OK" if not bad else f"FAIL: {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
