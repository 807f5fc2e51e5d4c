#!/usr/bin/env python3
"""Cold-start timer for bench/run.sh (stdlib only).

Starts `strongbox server` N times on an existing data dir and, for each start,
measures the wall time from exec to the first successful HTTPS response, by
polling in a tight loop (TCP connect + TLS + one HTTP/1.1 request, 1 ms apart).
It also captures the server's own "strongbox: ready in N ms" figure from stdout.

The probe request is GET /secrets/{name} with a bearer token (expects 200) when
--token is given, else GET /_strongbox/health (expects 200).

Prints one line per start and a final line
    COLDSTART ready_ms=<median> wall_ms=<median> ready_all=a,b,.. wall_all=a,b,..
"""
import argparse
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time


def probe(port, ctx, sni, host_hdr, path, token):
    """One attempt: returns the HTTP status code, or None if not reachable yet."""
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=1.0)
    except OSError:
        return None
    try:
        s = ctx.wrap_socket(raw, server_hostname=sni)
        req = f"GET {path} HTTP/1.1\r\nHost: {host_hdr}\r\nConnection: close\r\n"
        if token:
            req += f"Authorization: Bearer {token}\r\n"
        req += "\r\n"
        s.sendall(req.encode())
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        s.close()
        line = buf.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) >= 2 else None
    except (OSError, ssl.SSLError, ValueError):
        return None
    finally:
        try:
            raw.close()
        except OSError:
            pass


def stop(proc, timeout=10.0):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def one_start(args, ctx, path, log):
    cmd = [args.bin, "server", "--data-dir", args.data_dir,
           "--listen", f"127.0.0.1:{args.port}", "--dns-suffix", args.dns_suffix]
    ready = {"ms": None}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)

    def reader():
        for line in proc.stdout:
            if line.startswith("strongbox: ready in") and ready["ms"] is None:
                try:
                    ready["ms"] = float(line.split()[3])
                except (IndexError, ValueError):
                    pass
    th = threading.Thread(target=reader, daemon=True)
    th.start()

    wall = None
    deadline = t0 + args.timeout
    try:
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"coldstart: server exited early with code {proc.returncode}")
            status = probe(args.port, ctx, args.sni, args.host_header, path, args.token)
            if status == 200:
                wall = (time.perf_counter() - t0) * 1000.0
                break
            if status is not None and status != 200:
                raise SystemExit(f"coldstart: probe {path} answered HTTP {status}")
            time.sleep(0.001)
        if wall is None:
            raise SystemExit(f"coldstart: no successful response within {args.timeout}s")
        # the ready line is printed before the listener accepts; give the reader a moment
        for _ in range(200):
            if ready["ms"] is not None:
                break
            time.sleep(0.005)
    finally:
        stop(proc)
        th.join(timeout=2)
    return ready["ms"], wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dns-suffix", default="vault.localhost")
    ap.add_argument("--ca", help="CA file to verify the server (default: data-dir/ca.pem if present)")
    ap.add_argument("--token", help="bearer token; probe GET /secrets/NAME instead of health")
    ap.add_argument("--secret", default="s000000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--log", default=os.devnull)
    ap.add_argument("--label", default="start")
    args = ap.parse_args()

    args.sni = "localhost"
    args.host_header = f"default.{args.dns_suffix}:{args.port}"
    ca = args.ca or os.path.join(args.data_dir, "ca.pem")
    if os.path.exists(ca):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False  # SNI is "localhost"; chain is still verified
    else:  # first start: the CA does not exist until the server creates it
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    path = (f"/secrets/{args.secret}?api-version=7.4" if args.token else "/_strongbox/health")

    readies, walls = [], []
    with open(args.log, "a") as log:
        for i in range(args.runs):
            r, w = one_start(args, ctx, path, log)
            readies.append(r)
            walls.append(w)
            rs = f"{r:.0f} ms" if r is not None else "n/a"
            print(f"  {args.label} {i + 1}/{args.runs}: server says ready in {rs}; "
                  f"exec -> first 200 over HTTPS {w:.1f} ms", flush=True)
    rv = [r for r in readies if r is not None]
    rmed = statistics.median(rv) if rv else float("nan")
    print(f"COLDSTART ready_ms={rmed:.1f} wall_ms={statistics.median(walls):.1f} "
          f"ready_all={','.join('%.0f' % r for r in rv)} "
          f"wall_all={','.join('%.1f' % w for w in walls)}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
