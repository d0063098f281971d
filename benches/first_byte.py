#!/usr/bin/env python3
"""Accept-to-first-byte load bench: roost's pool vs Dovecot 2.3's login processes.

Opens N sequential loopback connections to each target and times connect -> first byte of the
server's reply (roost health-check: after sending PING; Dovecot pop3-login: its greeting, with
the anchor instance's high-performance settings service_count=0, process_min_avail=2). Both are
"a new connection reaches a ready worker and it answers". Prints median/p90 per target and the
ratio. Start the anchor Dovecot first (../shared/dovecot-reference/start.sh); this script starts
roost itself from target/release/roost.

usage: benches/first_byte.py [N]
"""
import os, socket, subprocess, sys, tempfile, time, statistics

N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOST = os.path.join(ROOT, "target", "release", "roost")


def ttfb(port, send):
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if send:
        s.sendall(send)
    b = s.recv(1)
    t1 = time.perf_counter()
    s.close()
    assert b, "no byte"
    return t1 - t0


def measure(name, port, send):
    for _ in range(20):
        ttfb(port, send)
    xs = sorted(ttfb(port, send) for _ in range(N))
    med, p90 = statistics.median(xs), xs[int(len(xs) * 0.9)]
    print(f"{name:<28} median {med*1e6:8.1f} us   p90 {p90*1e6:8.1f} us   (n={N})")
    return med


def main():
    d = tempfile.mkdtemp(prefix="roost-bench-")
    port, mport = 21931, 21932
    cfg = os.path.join(d, "roost.toml")
    with open(cfg, "w") as f:
        f.write(f'base_dir = "{d}/run"\nlisten = "127.0.0.1"\nlog_path = "{d}/roost.log"\n'
                f'[service.health-check]\nprocess_min_avail = 2\nprocess_limit = 4\nclient_limit = 10000\n'
                f'[service.health-check.inet_listener.hc]\nport = {port}\n'
                f'[service.stats.inet_listener.http]\nport = {mport}\n')
    p = subprocess.Popen([ROOST, "serve", "-c", cfg], stdin=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        r = measure("roost health-check (PING)", port, b"PING\n")
        dv = measure("dovecot pop3-login greeting", 20110, b"")
        print(f"ratio dovecot/roost median: {dv / r:.2f}x")
    finally:
        p.terminate()
        p.wait()


if __name__ == "__main__":
    main()
