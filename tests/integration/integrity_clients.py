#!/usr/bin/env python3
"""Byte-exact echo integrity under real concurrency: N kernel TCP clients, one OS thread each
(optionally spread over several processes), released at the same moment by a barrier: they
connect and send at once. Each
client sends SIZE bytes of its own random data; clients with an even index shut down their
sending side right after sending (they half-close early), odd ones keep it open until the echo is
back. Every byte that comes back is compared with what that client sent; a wrong range is looked
up in every other client's data, so a leak between connections is named ("client 17's bytes at
its offset 0").

  integrity_clients.py HOST PORT N SIZE [--procs P] [--timeout S] [--seed SEED]

Prints one JSON object: ok, mismatch, short, errors, foreign (a list of leaks found), seconds.
Exits 0 when every client got exactly its own bytes back, 1 otherwise.
"""
import argparse
import json
import multiprocessing as mp
import os
import random
import socket
import sys
import threading
import time


def payload(seed, index, size):
    # Different bytes per connection (and per run unless --seed is given), reproducible from both.
    return random.Random((seed << 20) ^ index).randbytes(size)


def run_client(host, port, index, size, seed, timeout, barrier, results):
    data = payload(seed, index, size)
    r = {"index": index, "status": "error", "got": 0}
    # Released together before connecting: handshakes, accepts and data of different connections
    # all overlap on the server (a barrier after connect would let every accept finish first).
    barrier_wait(barrier)
    try:
        s = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        r["error"] = "connect: %s" % e
        results[index] = r
        return
    try:
        s.settimeout(timeout)
        r["local_port"] = s.getsockname()[1]
        half_close = index % 2 == 0
        got = bytearray()

        def reader():
            while len(got) < size:
                chunk = s.recv(min(65536, size - len(got)))
                if not chunk:
                    break
                got.extend(chunk)

        # Read while writing: an echo server cannot be expected to buffer a whole upload.
        rd = threading.Thread(target=lambda: safe(reader, r))
        rd.start()
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        rd.join(timeout * 2)
        if rd.is_alive():
            r["error"] = "reader stuck after %d of %d bytes" % (len(got), size)
        r["got"] = len(got)
        if "error" in r:
            pass
        elif bytes(got) == data:
            r["status"] = "ok"
        elif len(got) < size and bytes(got) == data[: len(got)]:
            r["status"] = "short"
        else:
            r["status"] = "mismatch"
            r["first_bad"] = next(i for i in range(min(len(got), size)) if got[i] != data[i]) \
                if any(got[i] != data[i] for i in range(min(len(got), size))) else min(len(got), size)
            r["bad_bytes"] = sum(1 for a, b in zip(got, data) if a != b)
            r["sample"] = bytes(got[r["first_bad"]: r["first_bad"] + 32]).hex()
    except OSError as e:
        r["error"] = "%s" % e
    finally:
        try:
            s.close()
        except OSError:
            pass
    results[index] = r


def safe(fn, r):
    try:
        fn()
    except OSError as e:
        r["error"] = "recv: %s" % e


def barrier_wait(barrier):
    try:
        barrier.wait(60)
    except threading.BrokenBarrierError:
        pass


def run_group(host, port, indices, size, seed, timeout, mp_barrier, out_queue):
    results = {}
    local = threading.Barrier(len(indices), action=(lambda: mp_barrier.wait(60)) if mp_barrier else None)
    threads = [threading.Thread(target=run_client, args=(host, port, i, size, seed, timeout, local, results))
               for i in indices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if out_queue is None:
        return results
    out_queue.put(results)


def name_foreign(results, n, size, seed):
    # For each wrong range: whose bytes are they? Look the 32 bytes at the first bad offset up in
    # every client's data (its own included: an offset shifted within one connection counts too).
    found = []
    bad = [r for r in results.values() if r["status"] == "mismatch"]
    if not bad:
        return found
    datas = {i: payload(seed, i, size) for i in range(n)}
    for r in bad[:20]:
        needle = bytes.fromhex(r["sample"])
        owner = None
        if len(needle) >= 16:
            for i, d in datas.items():
                at = d.find(needle)
                if at >= 0:
                    owner = (i, at)
                    break
        found.append({"client": r["index"], "offset": r["first_bad"], "bad_bytes": r["bad_bytes"],
                      "owner": owner[0] if owner else None, "owner_offset": owner[1] if owner else None})
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("size", type=int)
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "big")
    t0 = time.monotonic()
    results = {}
    procs = max(1, min(a.procs, a.n))
    if procs == 1:
        results = run_group(a.host, a.port, list(range(a.n)), a.size, seed, a.timeout, None, None)
    else:
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        barrier = ctx.Barrier(procs)
        groups = [list(range(p, a.n, procs)) for p in range(procs)]
        ps = [ctx.Process(target=run_group, args=(a.host, a.port, g, a.size, seed, a.timeout, barrier, q))
              for g in groups]
        for p in ps:
            p.start()
        for _ in ps:
            results.update(q.get(timeout=a.timeout * 4 + 120))
        for p in ps:
            p.join()
    secs = time.monotonic() - t0
    by = {}
    for r in results.values():
        by[r["status"]] = by.get(r["status"], 0) + 1
    errors = sorted({r.get("error", "") for r in results.values() if r.get("error")})[:5]
    foreign = name_foreign(results, a.n, a.size, seed)
    leaks = [f for f in foreign if f["owner"] is not None and f["owner"] != f["client"]]
    out = {"clients": a.n, "size": a.size, "seed": seed, "procs": procs, "seconds": round(secs, 2),
           "ok": by.get("ok", 0), "mismatch": by.get("mismatch", 0), "short": by.get("short", 0),
           "errors": by.get("error", 0), "error_samples": errors,
           "bytes_checked": sum(r["got"] for r in results.values()),
           "foreign": foreign, "leaks_between_connections": len(leaks)}
    print(json.dumps(out))
    sys.exit(0 if out["ok"] == a.n else 1)


if __name__ == "__main__":
    main()
