#!/usr/bin/env python3
"""Traffic for the `synack impair` integration tests (not a test itself).

  udp-recv IP PORT OUT.json [--idle S] [--max S]   receive probes until idle, write a summary
  udp-send IP PORT COUNT RATE [--size N]            send COUNT probes at RATE per second
  raw-send IFACE DST_MAC KIND ...                   raw frames from an AF_PACKET socket:
        sizes N,N,...       one frame of each size (EtherType 0x88b5)
        flood SECONDS SIZE  as fast as possible for SECONDS
  pcap-udp PCAP PORT OUT.json                       the same summary from a capture

A probe's payload: magic 'SNKI', seq (u32), CLOCK_MONOTONIC ns and CLOCK_REALTIME ns at sending
(u64 each; the namespaces share the host's clocks). The receiver timestamps with the kernel's
receive time (SO_TIMESTAMPNS, CLOCK_REALTIME), so its own scheduling does not count.
IP is IPv4 or IPv6 (an address with ':'); pcap-udp reads UDP over either from the capture.
"""
import json, socket, statistics, struct, sys, time

SO_TIMESTAMPNS = getattr(socket, 'SO_TIMESTAMPNS', 35)  # Linux, not in every Python's socket module
MAGIC = b'SNKI'
HDR = struct.Struct('>4sIQQ')


def summarize(records, out):
    """records: [(seq, delay_s or None)] in arrival order."""
    seen = {}
    delays = []
    out_of_order = 0
    highest = -1
    for seq, delay in records:
        seen[seq] = seen.get(seq, 0) + 1
        if seen[seq] == 1:
            if seq < highest:
                out_of_order += 1
            highest = max(highest, seq)
            if delay is not None:
                delays.append(delay)
    s = {
        'arrivals': len(records),
        'unique': len(seen),
        'duplicates': sum(n - 1 for n in seen.values()),
        'out_of_order': out_of_order,
        'highest': highest,
        'delays_us': [round(d * 1e6, 1) for d in delays],
    }
    if delays:
        s['median_us'] = statistics.median(delays) * 1e6
    with open(out, 'w') as f:
        json.dump(s, f)


def family(ip):
    return socket.AF_INET6 if ':' in ip else socket.AF_INET


def udp_recv(ip, port, out, idle=1.0, max_s=60.0):
    s = socket.socket(family(ip), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind((ip, port))
    s.settimeout(0.05)
    print('listening', flush=True)
    records = []
    start = time.monotonic()
    last = None
    while time.monotonic() - start < max_s:
        try:
            data, anc, _flags, _addr = s.recvmsg(65536, 1024)
        except socket.timeout:
            if last is not None and time.monotonic() - last > idle:
                break
            continue
        last = time.monotonic()
        if len(data) < HDR.size or data[:4] != MAGIC:
            continue
        _m, seq, _mono, real = HDR.unpack_from(data)
        delay = None
        for level, typ, val in anc:
            if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack('qq', val[:16])
                delay = (sec * 1e9 + nsec - real) / 1e9
        records.append((seq, delay))
    summarize(records, out)


def udp_send(ip, port, count, rate, size=64):
    s = socket.socket(family(ip), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    pad = b'\0' * max(0, size - HDR.size)
    gap = 1e9 / rate
    t0 = time.monotonic_ns()
    sent = 0
    for seq in range(count):
        # Sleep (not spin) until close to the due time, so the sender leaves the box a CPU: the
        # tests run on two shared cores. Datagrams go out in small bursts at the average rate.
        due = t0 + int(seq * gap)
        ahead = due - time.monotonic_ns()
        if ahead > 200_000:
            time.sleep((ahead - 50_000) / 1e9)
        try:
            s.sendto(HDR.pack(MAGIC, seq, time.monotonic_ns(), time.time_ns()) + pad, (ip, port))
            sent += 1
        except OSError as e:
            print('send %d: %s' % (seq, e), file=sys.stderr)
    el = (time.monotonic_ns() - t0) / 1e9
    print(json.dumps({'sent': sent, 'seconds': el, 'rate': sent / el if el else 0}))


def raw_socket(iface):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((iface, 0))
    return s


def frame(dst, src, size, seq=0):
    body = struct.pack('>I', seq)
    f = dst + src + b'\x88\xb5' + body
    return (f + bytes((i & 0xff) for i in range(max(0, size - len(f)))))[:size]


def raw_send(iface, dst_mac, kind, args):
    s = raw_socket(iface)
    dst = bytes.fromhex(dst_mac.replace(':', ''))
    src = bytes.fromhex(open('/sys/class/net/%s/address' % iface).read().strip().replace(':', ''))
    result = {'sent': 0, 'refused': 0, 'errors': {}}
    if kind == 'sizes':
        for i, n in enumerate(int(x) for x in args[0].split(',')):
            try:
                s.send(frame(dst, src, n, i))
                result['sent'] += 1
            except OSError as e:
                result['refused'] += 1
                result['errors'][str(n)] = e.strerror
    elif kind == 'flood':
        seconds, size = float(args[0]), int(args[1])
        f = frame(dst, src, size)
        end = time.monotonic() + seconds
        sent = refused = 0
        send = s.send
        while time.monotonic() < end:
            for _ in range(256):
                try:
                    send(f)
                    sent += 1
                except OSError:
                    refused += 1
        result['sent'], result['refused'] = sent, refused
    print(json.dumps(result))


def pcap_udp(path, port, out):
    with open(path, 'rb') as f:
        data = f.read()
    magic = data[:4]
    end = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    nano = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    off = 24
    records = []
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + 'IIII', data[off:off + 16])
        fr = data[off + 16:off + 16 + incl]
        off += 16 + incl
        t = sec + frac / (1e9 if nano else 1e6)
        if len(fr) >= 14 + 40 + 8 and fr[12:14] == b'\x86\xdd' and fr[14 + 6] == 17:
            udp = fr[14 + 40:]  # IPv6, UDP right after the fixed header
        elif len(fr) >= 14 + 20 + 8 and fr[12:14] == b'\x08\x00' and fr[14 + 9] == 17:
            udp = fr[14 + (fr[14] & 0x0f) * 4:]
        else:
            continue
        if struct.unpack('>H', udp[2:4])[0] != port:
            continue
        payload = udp[8:]
        if len(payload) < HDR.size or payload[:4] != MAGIC:
            continue
        _m, seq, _mono, real = HDR.unpack_from(payload)
        records.append((seq, t - real / 1e9))
    summarize(records, out)


def main(argv):
    cmd = argv[1]
    if cmd == 'udp-recv':
        opts = dict(zip(argv[5::2], argv[6::2]))
        udp_recv(argv[2], int(argv[3]), argv[4], float(opts.get('--idle', 1.0)), float(opts.get('--max', 60)))
    elif cmd == 'udp-send':
        opts = dict(zip(argv[6::2], argv[7::2]))
        udp_send(argv[2], int(argv[3]), int(argv[4]), float(argv[5]), int(opts.get('--size', 64)))
    elif cmd == 'raw-send':
        raw_send(argv[2], argv[3], argv[4], argv[5:])
    elif cmd == 'pcap-udp':
        pcap_udp(argv[2], int(argv[3]), argv[4])
    else:
        sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main(sys.argv)
