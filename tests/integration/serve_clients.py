#!/usr/bin/env python3
"""Kernel clients for the `synack serve` integration tests (run inside the peer namespace).

    serve_clients.py echo HOST PORT N SIZE     N concurrent connections, each sends SIZE random
        bytes and must read the same bytes back; even-numbered ones then close first, odd-numbered
        ones wait for the server's FIN (its --idle-timeout) and close after it.
    serve_clients.py stall HOST PORT SIZE SECONDS   one connection with a tiny receive buffer sends
        SIZE bytes but reads nothing for SECONDS (the server's echo backs up: zero window), then
        reads the echo and waits for the server's FIN; reports how much came back and when EOF came.
    serve_clients.py loop HOST PORT SECONDS    connect/close in a loop for SECONDS, each attempt
        bounded by a 10 s timeout (SYN retransmissions at 1, 3 and 7 s, as a patient client), and report how many succeeded.

Prints one JSON object on stdout.
"""
import asyncio
import json
import os
import resource
import socket
import sys
import threading
import time


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, 16384)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        pass


async def echo_one(i, host, port, size, res):
    data = os.urandom(size)
    try:
        r, w = await asyncio.open_connection(host, port)
    except OSError as e:
        res['connect_errors'].append("%d: %s" % (i, e))
        return
    try:
        async def send():
            w.write(data)
            await w.drain()
        sender = asyncio.create_task(send())
        got = await r.readexactly(size)
        await sender
        if got != data:
            res['mismatch'] += 1
            first = next(k for k in range(size) if got[k] != data[k])
            res['errors'].append("%d: echo differs from byte %d on" % (i, first))
            return
        if i % 2 == 0:
            w.close()                      # we close first: our FIN, then the server's
            await w.wait_closed()
            res['client_closed_first'] += 1
        else:
            rest = await r.read()           # the server's FIN first (its idle timeout)
            if rest != b'':
                res['mismatch'] += 1
                res['errors'].append("%d: %d bytes more than sent" % (i, len(rest)))
                return
            w.close()
            await w.wait_closed()
            res['server_closed_first'] += 1
        res['ok'] += 1
    except (OSError, asyncio.IncompleteReadError) as e:
        res['errors'].append("%d: %r" % (i, e))


async def echo(host, port, n, size):
    res = {'ok': 0, 'mismatch': 0, 'client_closed_first': 0, 'server_closed_first': 0,
           'connect_errors': [], 'errors': []}
    t0 = time.monotonic()
    await asyncio.gather(*(echo_one(i, host, port, size, res) for i in range(n)))
    res['seconds'] = round(time.monotonic() - t0, 3)
    res['connect_errors'] = res['connect_errors'][:10]
    res['errors'] = res['errors'][:10]
    return res


def loop(host, port, seconds):
    ok = failed = 0
    errors = {}
    lat = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)  # HOST: IPv4 or IPv6
        s.settimeout(10.0)
        t = time.monotonic()
        try:
            s.connect((host, port))
            lat.append(time.monotonic() - t)
            ok += 1
        except OSError as e:
            failed += 1
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
        finally:
            s.close()
        time.sleep(0.01)
    lat.sort()
    return {'ok': ok, 'failed': failed, 'errors': errors,
            'success_pct': round(100.0 * ok / max(1, ok + failed), 2),
            'p50_ms': round(1000 * lat[len(lat) // 2], 3) if lat else None,
            'max_ms': round(1000 * lat[-1], 3) if lat else None}


def stall(host, port, size, seconds):
    data = os.urandom(size)
    s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    s.settimeout(seconds + 60)
    s.connect((host, port))
    sender = threading.Thread(target=s.sendall, args=(data,), daemon=True)
    sender.start()
    t0 = time.monotonic()
    time.sleep(seconds)
    got = bytearray()
    try:
        while len(got) < size:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        tail = s.recv(65536) if len(got) == size else b''  # the server's FIN (idle timeout) next
    except OSError as e:
        return {'echoed': len(got), 'match': False, 'error': repr(e)}
    finally:
        s.close()
    return {'echoed': len(got), 'match': bytes(got) == data[:len(got)], 'extra': len(tail),
            'eof_after_s': round(time.monotonic() - t0, 3)}


def main():
    raise_fd_limit()
    cmd, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == 'echo':
        out = asyncio.run(echo(host, port, int(sys.argv[4]), int(sys.argv[5])))
    elif cmd == 'stall':
        out = stall(host, port, int(sys.argv[4]), float(sys.argv[5]))
    elif cmd == 'loop':
        out = loop(host, port, float(sys.argv[4]))
    else:
        sys.exit("unknown command " + cmd)
    print(json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
