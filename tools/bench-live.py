#!/usr/bin/env python3
"""bench-live.py - live capture's cost, on a veth pair (docs/performance.md).
Not a test: it prints figures. Needs root (a network namespace of its own,
made with unshare --net, so nothing else is on the wire and nothing is left
behind).

    tools/bench-live.py [--pps R] [--threads N] [--reader-share S]
                        [--binary BIN] PCAP

Starts `BIN -i lhcap -R rules/` on one end of a veth pair, waits until it
counts a probe frame (as tests/ops/ops.py does: libpcap's socket exists
before its ring), writes every frame of PCAP (Ethernet) into the other end
through a packet socket, paced at R frames a second (0, the default: as fast
as Python sends, ~250,000 a second here), waits until the sensor has read or
dropped them all, and prints the send rate, what the sensor read and what
the kernel dropped, and the sensor's CPU time (user and system, from
/proc/PID/stat) from just before the first frame to the last one read,
with the same capture replayed from the file (`-r`, same options) beside it
for comparison. The sender takes one CPU of its own: on a 2-CPU machine the
sensor gets the other, so run it with one thread there."""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "ops"))
import ops  # noqa: E402  (LiveSensor, send_pcap: the live test's own pieces)

KEY = "0123456789abcdef0123456789abcdef"
TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    """(user, system) CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return int(v[11]) / TICK, int(v[12]) / TICK


def quiet(fn, *a):
    """Runs one of ops.py's helpers without its ok/FAIL lines."""
    out = sys.stdout
    sys.stdout = open(os.devnull, "w")
    try:
        return fn(*a)
    finally:
        sys.stdout.close()
        sys.stdout = out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--pps", type=float, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reader-share", default="auto")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "leakhound"))
    a = ap.parse_args()
    ops.in_own_netns("bench-live")
    ip = lambda *x: subprocess.run(["ip"] + list(x), check=True)
    ip("link", "add", "lhcap", "type", "veth", "peer", "name", "lhsend")
    for dev in ("lhcap", "lhsend"):
        ip("link", "set", dev, "addrgenmode", "none")
        ip("link", "set", dev, "mtu", "9000", "up")
    opts = ["-R", os.path.join(ROOT, "rules"), "-q", "--stats-interval", "0", "--site-key", KEY,
            "--threads", str(a.threads), "--reader-share", a.reader_share]
    with tempfile.TemporaryDirectory() as d:
        # the file, for comparison (its CPU includes start-up: ~0.05 s)
        t0 = time.monotonic()
        p = subprocess.Popen([a.binary, "-r", a.pcap, "-o", os.path.join(d, "file")] + opts)
        _, status, ru = os.wait4(p.pid, 0)
        file_wall = time.monotonic() - t0
        if status:
            sys.exit("bench-live: the replay from the file failed")
        lv = ops.LiveSensor([a.binary, "-i", "lhcap", "--buffer-size", "256",
                             "-o", os.path.join(d, "live")] + opts)
        probes = quiet(lv.ready)
        if not probes:
            sys.exit("bench-live: the sensor never counted a probe frame")
        u0, s0 = cpu(lv.p.pid)
        t0 = time.monotonic()
        sent = quiet(ops.send_pcap, "lhsend", a.pcap, a.pps or 1e12)
        send_s = time.monotonic() - t0
        n, drops = quiet(lv.wait_for, probes + sent, "")
        u1, s1 = cpu(lv.p.pid)
        quiet(lv.stop)
        st = ops.final_stats(quiet(ops.events, os.path.join(d, "live", "eve.json"))).get("capture", {})
    wire = os.path.getsize(a.pcap)  # bytes of the file, close to the frames' (16 per frame more)
    print(f"sent {sent} frames ({wire / 1e6:.0f} MB of file) in {send_s:.2f} s: "
          f"{sent / send_s / 1e3:.0f} kpps, {wire * 8 / send_s / 1e9:.2f} Gbps")
    print(f"live: read {n - probes}, kernel drops {drops} (final stats: packets {st.get('packets')}, "
          f"kernel_drops {st.get('kernel_drops')}); CPU {u1 - u0 + s1 - s0:.2f} s "
          f"(user {u1 - u0:.2f}, system {s1 - s0:.2f}) from the first frame to the last read")
    print(f"file: CPU {ru.ru_utime + ru.ru_stime:.2f} s (user {ru.ru_utime:.2f}, system "
          f"{ru.ru_stime:.2f}), wall {file_wall:.2f} s, start-up included")


if __name__ == "__main__":
    main()
