#!/usr/bin/env python3
"""GET latency while hostile certificate imports run (bench/import_stall.sh; stdlib only).

For each hostile import kind, starts --parallel imports at once (each on its own connection)
and, while they run, sends a GET /secrets/{probe} every 20 ms on another connection. Prints,
per kind, the imports' wall time and status codes and the GET latencies during them
(median, p99/max, count; each timed from its TCP connect, TLS included), after a baseline of GETs with nothing else running.

Kinds (built here, no real keys needed: the server must refuse them all):
  pbkdf2-100keys  26 KB PFX: 100 encrypted key bags, PBKDF2 at 1,000,000 iterations each
  scrypt          PFX: one key bag under scrypt N=2^20, r=8, p=4
  mac-max         PFX whose MAC asks for 600,000 iterations (the most accepted; wrong MAC):
                  the slowest file the server still works on
  chain           PEM: a key and a chain of --chain-file certificates in reverse order
"""
import argparse
import base64
import json
import socket
import ssl
import statistics
import threading
import time


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        head = bytes([tag, n])
    else:
        ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([tag, 0x80 | len(ln)]) + ln
    return head + body


def seq(*parts):
    return tlv(0x30, b"".join(parts))


def oid(b):
    return tlv(0x06, bytes(b))


def uint(n):
    b = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big")
    return tlv(0x02, b)


DATA = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01]
PBES2 = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D]
PBKDF2 = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0C]
SCRYPT = [0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x04, 0x0B]
HMAC_SHA256 = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x09]
AES256CBC = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A]
SHA256 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]
SHROUDED = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x02]
NULL = b"\x05\x00"


def enc():
    return seq(oid(AES256CBC), tlv(0x04, b"\0" * 16))


def pbkdf2(iterations):
    kdf = seq(oid(PBKDF2), seq(tlv(0x04, b"\7" * 16), uint(iterations), seq(oid(HMAC_SHA256), NULL)))
    return seq(oid(PBES2), seq(kdf, enc()))


def scrypt(n, r, p):
    kdf = seq(oid(SCRYPT), seq(tlv(0x04, b"\7" * 16), uint(n), uint(r), uint(p)))
    return seq(oid(PBES2), seq(kdf, enc()))


def bag(alg):
    return seq(oid(SHROUDED), tlv(0xA0, seq(alg, tlv(0x04, b"\x5a" * 48))))


def pfx(bags, mac_iterations=None):
    container = seq(oid(DATA), tlv(0xA0, tlv(0x04, seq(*bags))))
    auth = seq(oid(DATA), tlv(0xA0, tlv(0x04, seq(container))))
    parts = [uint(3), auth]
    if mac_iterations is not None:
        digest = seq(seq(oid(SHA256), NULL), tlv(0x04, b"\0" * 32))
        parts.append(seq(digest, tlv(0x04, b"\1" * 8), uint(mac_iterations)))
    return seq(*parts)


class Client:
    def __init__(self, port, host, cafile, token):
        self.port, self.host, self.token = port, host, token
        self.ctx = ssl.create_default_context(cafile=cafile)

    def call(self, method, path, body=None, timeout=600):
        # timed from the connect: a fresh connection per request, as a new client would
        t0 = time.perf_counter()
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s = self.ctx.wrap_socket(raw, server_hostname=self.host)
        data = json.dumps(body).encode() if body is not None else b""
        req = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nConnection: close\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode() + data
        s.sendall(req)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        took = time.perf_counter() - t0
        s.close()
        status = int(buf.split(b"\r\n", 1)[0].split()[1])
        return status, buf.split(b"\r\n\r\n", 1)[-1], took


def ms(x):
    return f"{x * 1000:.1f} ms"


def get_stats(lat):
    if not lat:
        return "the imports ended before the first GET (under 50 ms)"
    lat = sorted(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return f"GET n={len(lat)} median={ms(statistics.median(lat))} p99={ms(p99)} max={ms(lat[-1])}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--chain-file", required=True, help="PEM: key, then the chain (any order)")
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--kinds", default="pbkdf2-100keys,scrypt,mac-max,chain")
    ap.add_argument("--api", default="7.6")
    a = ap.parse_args()
    c = Client(a.port, a.host, a.ca, a.token)
    q = f"api-version={a.api}"
    st, body, _ = c.call("PUT", f"/secrets/probe?{q}", {"value": "v"})
    assert st == 200, (st, body)
    base = [c.call("GET", f"/secrets/probe?{q}")[2] for _ in range(30)]
    print(f"BASELINE {get_stats(base)}", flush=True)
    chain_text = open(a.chain_file).read()
    payloads = {
        "pbkdf2-100keys": base64.b64encode(pfx([bag(pbkdf2(1_000_000))] * 100)).decode(),
        "scrypt": base64.b64encode(pfx([bag(scrypt(1 << 20, 8, 4))])).decode(),
        "mac-max": base64.b64encode(pfx([bag(pbkdf2(2048))], 600_000)).decode(),
        "chain": base64.b64encode(chain_text.encode()).decode(),
    }
    for kind in a.kinds.split(","):
        value = payloads[kind]
        results = []
        lat = []
        done = threading.Event()

        def imp(i):
            st, body, took = c.call("POST", f"/certificates/{kind}-{i}/import?{q}", {"value": value, "pwd": "pw"})
            msg = ""
            try:
                msg = json.loads(body)["error"]["message"][:90]
            except (ValueError, KeyError, TypeError):
                pass
            results.append((st, took, msg))

        threads = [threading.Thread(target=imp, args=(i,)) for i in range(a.parallel)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(0.05)
        while any(t.is_alive() for t in threads):
            lat.append(c.call("GET", f"/secrets/probe?{q}")[2])
            time.sleep(0.02)
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        sizes = f"{len(value) * 3 // 4} bytes"
        statuses = ",".join(str(r[0]) for r in results)
        slowest = max(r[1] for r in results)
        print(f"IMPORT kind={kind} size={sizes} parallel={a.parallel} wall={wall:.2f}s slowest={slowest:.2f}s "
              f"status={statuses} | {get_stats(lat)}", flush=True)
        print(f"       message: {results[0][2]}", flush=True)


if __name__ == "__main__":
    main()
