#!/usr/bin/env python3
"""Data server and clients for svxlat's end-to-end tests (tests/e2e).

The server runs on each service instance (behind the host agent) and speaks a
one-line protocol; every client subcommand runs in the client namespace, talks
through the translator, checks what it got and exits 0 (ok) or 1 (failed),
printing one line of result. Every socket operation has a timeout.

Server commands (the client's first line):

  PING                  -> "PONG NAME\n", close
  SINK                  -> read until EOF, answer "NBYTES SHA256 NAME\n", close
  SOURCE N SEED [MBPS]  -> send N bytes of the SEED stream (paced when MBPS), close
  HALF N SEED           -> read until EOF (the client's half-close), then send
                           "NAME\n" and N bytes of the SEED stream in pieces, close
  HOLD TAG              -> "ok NAME\n", then wait; log "TAG reset|eof|timeout"
  ABORT TAG             -> "ok NAME\n" and some data, then close with RST
  HALFS TAG             -> "NAME\n", shut the write side down (FIN first), then
                           read until EOF; log "TAG halfs NBYTES SHA256"
  SINKABORT TAG N       -> "ok NAME\n", read N bytes, then close with RST
Any failure is logged as "error PEER COMMAND-LINE EXCEPTION".

The SEED stream is a 1 MiB pseudo-random block repeated, each MiB starting
with its index, so a lost, duplicated or reordered MiB changes the hash.
"""

import argparse
import hashlib
import http.client
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

MIB = 1 << 20
IO_TIMEOUT = 20.0


def parse_size(text):
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower()
    if text and text[-1] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text)


def stream(seed, total):
    """Yields the SEED stream's first total bytes as memoryviews."""
    block = bytearray(random.Random(seed).randbytes(MIB))
    index = 0
    sent = 0
    while sent < total:
        struct.pack_into(">Q", block, 0, index)
        n = min(MIB, total - sent)
        yield memoryview(block)[:n]
        sent += n
        index += 1


def stream_sha256(seed, total):
    h = hashlib.sha256()
    for chunk in stream(seed, total):
        h.update(chunk)
    return h.hexdigest()


def recv_line(sock, limit=4096):
    data = b""
    while not data.endswith(b"\n"):
        piece = sock.recv(1)
        if not piece:
            break
        data += piece
        if len(data) > limit:
            raise ValueError("line too long")
    return data.decode(errors="replace").strip()


def recv_all(sock, h=None):
    total = 0
    while True:
        piece = sock.recv(256 * 1024)
        if not piece:
            return total
        total += len(piece)
        if h is not None:
            h.update(piece)


def linger_zero(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# ---------------------------------------------------------------- server

class Server:
    def __init__(self, name, events):
        self.name = name
        self.events_path = events
        self.lock = threading.Lock()

    def event(self, text):
        with self.lock:
            with open(self.events_path, "a") as f:
                f.write(text + "\n")
                f.flush()

    def handle(self, conn, peer):
        conn.settimeout(IO_TIMEOUT)
        line = ""
        try:
            line = recv_line(conn)
            words = line.split()
            if not words:
                return
            cmd, args = words[0], words[1:]
            if cmd == "PING":
                conn.sendall(f"PONG {self.name}\n".encode())
            elif cmd == "SINK":
                h = hashlib.sha256()
                n = recv_all(conn, h)
                conn.sendall(f"{n} {h.hexdigest()} {self.name}\n".encode())
                self.event(f"sink {n} {h.hexdigest()}")
            elif cmd == "SOURCE":
                total, seed = parse_size(args[0]), int(args[1])
                mbps = float(args[2]) if len(args) > 2 else 0.0
                start = time.monotonic()
                sent = 0
                for chunk in stream(seed, total):
                    conn.sendall(chunk)
                    sent += len(chunk)
                    if mbps > 0:
                        ahead = sent / (mbps * 1e6 / 8) - (time.monotonic() - start)
                        if ahead > 0:
                            time.sleep(ahead)
                self.event(f"source {sent}")
            elif cmd == "HALF":
                total, seed = parse_size(args[0]), int(args[1])
                got = recv_all(conn)
                self.event(f"half-eof {got}")
                conn.sendall(f"{self.name}\n".encode())
                for chunk in stream(seed, total):
                    # In pieces, with pauses: the server keeps sending well
                    # after the client's FIN was processed.
                    for off in range(0, len(chunk), 256 * 1024):
                        conn.sendall(chunk[off:off + 256 * 1024])
                    time.sleep(0.02)
                self.event(f"half-sent {total}")
            elif cmd == "HOLD":
                tag = args[0]
                conn.sendall(f"ok {self.name}\n".encode())
                conn.settimeout(30.0)
                try:
                    n = recv_all(conn)
                    self.event(f"{tag} eof {n}")
                except ConnectionResetError:
                    self.event(f"{tag} reset")
                except socket.timeout:
                    self.event(f"{tag} timeout")
            elif cmd == "HALFS":
                tag = args[0]
                conn.sendall(f"{self.name}\n".encode())
                conn.shutdown(socket.SHUT_WR)
                h = hashlib.sha256()
                n = recv_all(conn, h)
                self.event(f"{tag} halfs {n} {h.hexdigest()}")
            elif cmd == "SINKABORT":
                tag, limit = args[0], parse_size(args[1])
                conn.sendall(f"ok {self.name}\n".encode())
                got = 0
                while got < limit:
                    piece = conn.recv(min(65536, limit - got))
                    if not piece:
                        break
                    got += len(piece)
                linger_zero(conn)
                self.event(f"{tag} aborted after {got}")
            elif cmd == "ABORT":
                tag = args[0]
                conn.sendall(f"ok {self.name}\n".encode() + b"x" * 1000)
                time.sleep(0.3)
                linger_zero(conn)
                self.event(f"{tag} aborted")
            else:
                conn.sendall(b"error: unknown command\n")
        except (OSError, ValueError, IndexError) as e:
            self.event(f"error {peer} {line!r} {e!r}")
        finally:
            conn.close()

    def serve(self, bind, port):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((bind, port))
        ls.listen(256)
        while True:
            conn, peer = ls.accept()
            threading.Thread(target=self.handle, args=(conn, peer), daemon=True).start()


# ---------------------------------------------------------------- clients

def connect(host, port, timeout=IO_TIMEOUT):
    return socket.create_connection((host, port), timeout=timeout)


def cmd_upload(a):
    total = parse_size(a.size)
    expect = hashlib.sha256()
    start = time.monotonic()
    with connect(a.host, a.port) as s:
        s.sendall(b"SINK\n")
        for chunk in stream(a.seed, total):
            expect.update(chunk)
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        reply = recv_line(s).split()
    secs = time.monotonic() - start
    ok = len(reply) == 3 and int(reply[0]) == total and reply[1] == expect.hexdigest()
    print(f"upload {total} bytes in {secs:.1f}s ({total * 8 / secs / 1e6:.0f} Mbit/s): "
          f"sent sha256 {expect.hexdigest()}, server {reply[2] if len(reply) == 3 else '?'} "
          f"got {reply[0] if reply else '?'} bytes sha256 {reply[1] if len(reply) > 1 else '?'}")
    return 0 if ok else 1


def cmd_download(a):
    total = parse_size(a.size)
    h = hashlib.sha256()
    start = time.monotonic()
    with connect(a.host, a.port) as s:
        s.sendall(f"SOURCE {total} {a.seed} {a.mbps}\n".encode())
        got = recv_all(s, h)
    secs = time.monotonic() - start
    expect = stream_sha256(a.seed, total)
    ok = got == total and h.hexdigest() == expect
    print(f"download {got}/{total} bytes in {secs:.1f}s ({got * 8 / secs / 1e6:.0f} Mbit/s): "
          f"sha256 {h.hexdigest()} expected {expect}")
    return 0 if ok else 1


def cmd_halfclose(a):
    total = parse_size(a.size)
    h = hashlib.sha256()
    with connect(a.host, a.port) as s:
        s.sendall(f"HALF {total} {a.seed}\n".encode())
        s.sendall(b"some request bytes before the half-close\n")
        s.shutdown(socket.SHUT_WR)
        name = recv_line(s)
        got = recv_all(s, h)
    expect = stream_sha256(a.seed, total)
    ok = got == total and h.hexdigest() == expect
    print(f"half-close: wrote, shut down the write side, then received {got}/{total} bytes "
          f"from {name}; sha256 {'matches' if h.hexdigest() == expect else 'DIFFERS'}")
    return 0 if ok else 1


def cmd_server_halfclose(a):
    """The server closes its side first; the client then sends SIZE bytes."""
    total = parse_size(a.size)
    expect = hashlib.sha256()
    with connect(a.host, a.port) as s:
        s.sendall(f"HALFS {a.tag}\n".encode())
        name = recv_line(s)
        rest = recv_all(s)  # the server's FIN
        if rest:
            print(f"server-half-close: {rest} unexpected bytes before the FIN")
            return 1
        for chunk in stream(a.seed, total):
            expect.update(chunk)
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        try:
            recv_all(s)
        except OSError:
            pass
    print(f"server-half-close: {name} sent FIN first, then the client sent {total} bytes, "
          f"sha256 {expect.hexdigest()}")
    print(f"expect {a.tag} halfs {total} {expect.hexdigest()}")
    return 0


def cmd_abort_download(a):
    """The client aborts (RST) in the middle of a large download."""
    s = connect(a.host, a.port)
    s.sendall(f"SOURCE 1G {a.seed}\n".encode())
    got = 0
    while got < parse_size(a.after):
        piece = s.recv(256 * 1024)
        if not piece:
            print(f"abort-download: EOF after {got} bytes")
            return 1
        got += len(piece)
    linger_zero(s)
    s.close()
    print(f"abort-download: closed with RST after {got} bytes (seed {a.seed})")
    return 0


def cmd_upload_aborted(a):
    """The server aborts (RST) in the middle of an upload: send() must fail."""
    with connect(a.host, a.port) as s:
        s.sendall(f"SINKABORT {a.tag} {a.after}\n".encode())
        line = recv_line(s)
        sent = 0
        block = b"u" * 65536
        deadline = time.monotonic() + 15
        try:
            while time.monotonic() < deadline:
                s.sendall(block)
                sent += len(block)
        except (ConnectionResetError, BrokenPipeError) as e:
            print(f"upload-aborted: {type(e).__name__} after sending {sent} bytes to {line[3:]}")
            return 0
    print(f"upload-aborted: still sending after {sent} bytes and 15 s, no reset")
    return 1


def cmd_hold_abort(a):
    """The client aborts: HOLD, then close with SO_LINGER 0 (RST)."""
    s = connect(a.host, a.port)
    s.sendall(f"HOLD {a.tag}\n".encode())
    line = recv_line(s)
    if not line.startswith("ok "):
        print(f"client-abort: unexpected answer {line!r}")
        return 1
    linger_zero(s)
    s.close()
    print(f"client-abort: connection to {line[3:]} closed with RST (tag {a.tag})")
    return 0


def cmd_server_abort(a):
    """The server aborts: the client must see ECONNRESET, not EOF."""
    with connect(a.host, a.port) as s:
        s.sendall(f"ABORT {a.tag}\n".encode())
        line = recv_line(s)
        try:
            n = recv_all(s)
            print(f"server-abort: got EOF after {n} bytes from {line!r}, expected ECONNRESET")
            return 1
        except ConnectionResetError:
            print(f"server-abort: ECONNRESET from {line[3:]} (tag {a.tag})")
            return 0
        except socket.timeout:
            print("server-abort: timed out waiting for the reset")
            return 1


def http_get(host, port, path, timeout=10.0):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def instance_of(body):
    text = body.decode(errors="replace").strip()
    return text.split()[-1] if text.startswith("instance ") else None


def cmd_parallel(a):
    """N connections open at once, then each fetches PATH and checks it."""
    barrier = threading.Barrier(a.n + 1, timeout=30)
    results = [None] * a.n

    def one(i):
        conn = http.client.HTTPConnection(a.host, a.port, timeout=20)
        try:
            conn.connect()
            barrier.wait()
            barrier.wait()
            conn.request("GET", a.path)
            r = conn.getresponse()
            body = r.read()
            results[i] = (r.status, hashlib.sha256(body).hexdigest(), len(body))
        except Exception as e:  # noqa: BLE001 - reported per connection
            results[i] = ("error", repr(e), 0)
            try:
                barrier.abort()
            except Exception:  # noqa: BLE001
                pass
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(a.n)]
    for t in threads:
        t.start()
    flows_seen = None
    try:
        barrier.wait()  # all connected
        if a.status_cmd:
            out = subprocess.run(a.status_cmd, shell=True, capture_output=True, text=True,
                                 timeout=10).stdout
            flows_seen = json.loads(out)["flows"]
        barrier.wait()  # go
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join(60)
    bad = [(i, r) for i, r in enumerate(results) if r is None or r[0] != 200 or r[1] != a.sha256]
    print(f"parallel: {a.n - len(bad)}/{a.n} connections ok"
          + (f", translator held {flows_seen} flows while all were open" if flows_seen is not None
             else ""))
    for i, r in bad[:10]:
        print(f"  connection {i}: {r}")
    if flows_seen is not None and flows_seen < a.n:
        print(f"parallel: expected at least {a.n} flows while all were open")
        return 1
    return 0 if not bad else 1


def cmd_fetch_many(a):
    """N sequential fetches of /; prints per-instance counts as JSON."""
    counts = {}
    failures = []
    for i in range(a.n):
        try:
            status, body = http_get(a.host, a.port, "/", timeout=a.timeout)
            name = instance_of(body) if status == 200 else None
            if name is None:
                failures.append((i, status, body[:60]))
            else:
                counts[name] = counts.get(name, 0) + 1
        except OSError as e:
            failures.append((i, "error", repr(e)))
    print(json.dumps({"n": a.n, "counts": counts, "failures": len(failures)}))
    for f in failures[:10]:
        print(f"  fetch {f[0]}: {f[1]} {f[2]}", file=sys.stderr)
    return 0 if not failures else 1


def cmd_ping(a):
    with connect(a.host, a.port, timeout=5) as s:
        s.sendall(b"PING\n")
        print(recv_line(s))
    return 0


def cmd_sha(a):
    print(stream_sha256(a.seed, parse_size(a.size)))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("serve")
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, default=9000)
    s.add_argument("--name", required=True)
    s.add_argument("--events", required=True)

    def client(name, fn, **extra):
        c = sub.add_parser(name)
        c.add_argument("--host", default="192.0.2.10")
        c.add_argument("--port", type=int, default=9000)
        for k, v in extra.items():
            c.add_argument("--" + k.replace("_", "-"), **v)
        c.set_defaults(fn=fn)
        return c

    client("upload", cmd_upload, size=dict(default="200M"), seed=dict(type=int, default=1))
    client("download", cmd_download, size=dict(default="200M"), seed=dict(type=int, default=2),
           mbps=dict(type=float, default=0.0))
    client("halfclose", cmd_halfclose, size=dict(default="8M"), seed=dict(type=int, default=3))
    client("client-abort", cmd_hold_abort, tag=dict(required=True))
    client("server-abort", cmd_server_abort, tag=dict(required=True))
    client("ping", cmd_ping)
    client("server-halfclose", cmd_server_halfclose, tag=dict(required=True),
           size=dict(default="4M"), seed=dict(type=int, default=4))
    client("abort-download", cmd_abort_download, seed=dict(type=int, default=6),
           after=dict(default="2M"))
    client("upload-aborted", cmd_upload_aborted, tag=dict(required=True),
           after=dict(default="2M"))
    c = client("parallel", cmd_parallel, n=dict(type=int, default=64), path=dict(default="/"),
               sha256=dict(required=True), status_cmd=dict(default=""))
    c.set_defaults(port=80)
    c = client("fetch-many", cmd_fetch_many, n=dict(type=int, default=200),
               timeout=dict(type=float, default=5.0))
    c.set_defaults(port=80)
    c = sub.add_parser("sha")
    c.add_argument("--size", required=True)
    c.add_argument("--seed", type=int, required=True)
    c.set_defaults(fn=cmd_sha)

    a = p.parse_args()
    if a.cmd == "serve":
        Server(a.name, a.events).serve(a.bind, a.port)
        return 0
    return a.fn(a)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError) as e:
        print(f"{sys.argv[1] if len(sys.argv) > 1 else 'svxe2e'}: {e!r}")
        sys.exit(1)
