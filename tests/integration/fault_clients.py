"""Kernel clients for the fault and limit tests (python3, standard library only).

hold HOST PORT N READY_FILE RESULT_FILE [--deadline S]
    Opens N connections (non-blocking connects, at most 200 in flight), checks each with one echo
    round trip (8 bytes), writes READY_FILE ("ready N"), then waits until every connection ended:
    EOF (the server's FIN; the socket is then closed, as a client would) or an error (RST). Writes
    RESULT_FILE: {"opened":N,"fin":F,"rst":R,"open":O,"seconds":S} where O counts connections still
    open at the deadline. Exit 0 when it could open all N, else 1.

flood HOST PORT N SECONDS RESULT_FILE [--bytes B]
    Opens up to N connections at once (non-blocking, kept open), each sending B bytes (default 0)
    and reading whatever comes back, for SECONDS; then closes all. Writes RESULT_FILE:
    {"attempted":N,"connected":C,"failed":F,"pending":P,"bytes_sent":..,"bytes_received":..}.

echo HOST PORT N BYTES RESULT_FILE [--deadline S]
    N sequential-ish echo sessions (10 at a time): each sends BYTES and reads them back exactly.
    RESULT_FILE: {"ok":K,"failed":F,"errors":[...]}; exit 0 when K == N.
"""
import errno
import json
import os
import resource
import selectors
import socket
import sys
import time


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n + 64), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def opt(args, name, default):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return type(default)(v)
    return default


def connect_many(host, port, n, deadline, in_flight=200):
    """Non-blocking connects; returns (connected sockets, failures)."""
    sel = selectors.DefaultSelector()
    done, failed, started = [], 0, 0
    pending = 0
    while (started < n or pending) and time.monotonic() < deadline:
        while started < n and pending < in_flight:
            s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)  # HOST: IPv4 or IPv6
            s.setblocking(False)
            err = s.connect_ex((host, port))
            started += 1
            if err not in (0, errno.EINPROGRESS):
                s.close()
                failed += 1
                continue
            sel.register(s, selectors.EVENT_WRITE)
            pending += 1
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                done.append(s)
            else:
                s.close()
                failed += 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()
        failed += 1
    sel.close()
    return done, failed


def hold(args):
    deadline_s = opt(args, '--deadline', 60.0)
    host, port, n, ready_file, result_file = args[0], int(args[1]), int(args[2]), args[3], args[4]
    raise_nofile(n)
    t0 = time.monotonic()
    socks, failed = connect_many(host, port, n, t0 + deadline_s)
    # One echo round trip each: the server accepted and serves every connection.
    sel = selectors.DefaultSelector()
    want = {}
    bad = set()
    for s in socks:
        try:
            s.send(b'12345678')
        except OSError:
            failed += 1
            bad.add(s)
            continue
        want[s] = 8
        sel.register(s, selectors.EVENT_READ)
    end = time.monotonic() + deadline_s
    while want and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                b = s.recv(64)
            except OSError:
                b = b''
            if not b:
                sel.unregister(s)
                del want[s]
                failed += 1
                bad.add(s)
                continue
            want[s] -= len(b)
            if want[s] <= 0:
                sel.unregister(s)
                del want[s]
    for s in want:
        sel.unregister(s)
    failed += len(want)
    live = [s for s in socks if s not in want and s not in bad]
    with open(ready_file + '.tmp', 'w') as f:
        f.write('ready %d failed %d\n' % (len(live), failed))
    os.rename(ready_file + '.tmp', ready_file)
    # Wait for the server to end every connection: FIN (EOF) or RST (an error).
    for s in live:
        sel.register(s, selectors.EVENT_READ)
    fin = rst = 0
    open_ = set(live)
    t_wait = time.monotonic()
    end = t_wait + deadline_s
    while open_ and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                b = s.recv(4096)
                if b:
                    continue
                fin += 1
            except OSError:
                rst += 1
            sel.unregister(s)
            open_.discard(s)
            s.close()
    res = dict(opened=len(live), failed=failed, fin=fin, rst=rst, open=len(open_),
               seconds=round(time.monotonic() - t_wait, 3))
    with open(result_file, 'w') as f:
        json.dump(res, f)
    print(json.dumps(res))
    return 0 if failed == 0 and len(live) == n else 1


def flood(args):
    nbytes = opt(args, '--bytes', 0)
    host, port, n, seconds, result_file = args[0], int(args[1]), int(args[2]), float(args[3]), args[4]
    raise_nofile(n)
    sel = selectors.DefaultSelector()
    payload = os.urandom(65536)
    state = {}
    attempted = connected = failed = 0
    sent = received = 0
    end = time.monotonic() + seconds
    for _ in range(n):
        s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
        s.setblocking(False)
        err = s.connect_ex((host, port))
        attempted += 1
        if err not in (0, errno.EINPROGRESS):
            s.close()
            failed += 1
            continue
        state[s] = dict(connected=False, left=nbytes)
        sel.register(s, selectors.EVENT_WRITE)
    while time.monotonic() < end and state:
        for key, ev in sel.select(timeout=0.1):
            s = key.fileobj
            st = state.get(s)
            if st is None:
                continue
            if not st['connected']:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    sel.unregister(s)
                    s.close()
                    del state[s]
                    failed += 1
                    continue
                st['connected'] = True
                connected += 1
                sel.modify(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if st['left'] else 0))
                continue
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(65536)
                    received += len(b)
                    if not b:
                        sel.unregister(s)
                        s.close()
                        del state[s]
                        continue
                except OSError:
                    sel.unregister(s)
                    s.close()
                    del state[s]
                    continue
            if ev & selectors.EVENT_WRITE and st['left'] > 0:
                try:
                    k = s.send(payload[:min(st['left'], len(payload))])
                    st['left'] -= k
                    sent += k
                except BlockingIOError:
                    pass
                except OSError:
                    pass
                if st['left'] <= 0:
                    sel.modify(s, selectors.EVENT_READ)
    pending = sum(1 for st in state.values() if not st['connected'])
    for s in list(state):
        s.close()
    res = dict(attempted=attempted, connected=connected, failed=failed, pending=pending,
               bytes_sent=sent, bytes_received=received)
    with open(result_file, 'w') as f:
        json.dump(res, f)
    print(json.dumps(res))
    return 0


def echo(args):
    deadline_s = opt(args, '--deadline', 60.0)
    host, port, n, nbytes, result_file = args[0], int(args[1]), int(args[2]), int(args[3]), args[4]
    ok = failed = 0
    errors = []
    end = time.monotonic() + deadline_s
    for i in range(n):
        data = os.urandom(nbytes)
        try:
            s = socket.create_connection((host, port), timeout=max(1.0, end - time.monotonic()))
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = bytearray()
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
            s.close()
            if bytes(got) == data:
                ok += 1
            else:
                failed += 1
                errors.append('session %d: got %d bytes, sent %d' % (i, len(got), nbytes))
        except OSError as e:
            failed += 1
            errors.append('session %d: %s' % (i, e))
    res = dict(ok=ok, failed=failed, errors=errors[:5])
    with open(result_file, 'w') as f:
        json.dump(res, f)
    print(json.dumps(res))
    return 0 if ok == n else 1


if __name__ == '__main__':
    cmd, rest = sys.argv[1], sys.argv[2:]
    sys.exit({'hold': hold, 'flood': flood, 'echo': echo}[cmd](rest))
