#!/usr/bin/env python3
"""An IPv6 SYN flood, for test_serve_flood.sh's IPv6 twin (hping3 has no IPv6).

    syn_flood6.py DST PORT SECONDS

Like `hping3 --flood -S -p PORT DST`: bare SYNs (no options, window 512, random sequence numbers)
from the source ports 1024-65535 in turn, as fast as one raw socket sends them, for SECONDS (or
until SIGINT/SIGTERM). The kernel fills in the TCP checksum (IPV6_CHECKSUM) and the source address.
The SYN-ACKs come back to a namespace with no such connection: drop its RSTs (ip6tables OUTPUT),
as a spoofing flooder's would never come. Prints "sent N SYNs in S s (R/s)" at the end.
"""
import errno
import os
import random
import signal
import socket
import struct
import sys
import time


def main():
    dst, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.setsockopt(socket.IPPROTO_IPV6, getattr(socket, 'IPV6_CHECKSUM', 7), 16)  # checksum at TCP offset 16
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    rnd = random.Random(int.from_bytes(os.urandom(4), 'big'))
    # TCP header: sport, dport, seq, ack, data offset 5 (20 bytes), SYN, window 512, checksum 0, urg 0.
    frames = [struct.pack('!HHIIBBHHH', sp, port, rnd.getrandbits(32), 0, 5 << 4, 0x02, 512, 0, 0)
              for sp in range(1024, 65536)]
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    addr = (dst, 0)
    sent = errors = 0
    t0 = time.monotonic()
    until = t0 + seconds
    while not stop:
        for i, f in enumerate(frames):
            try:
                s.sendto(f, addr)
                sent += 1
            except OSError as e:
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise
                errors += 1
            if i & 1023 == 0 and (stop or time.monotonic() >= until):
                stop.append(1)
                break
    dt = time.monotonic() - t0
    print("sent %d SYNs in %.1f s (%.0f/s), %d send errors" % (sent, dt, sent / max(dt, 1e-9), errors), flush=True)


if __name__ == '__main__':
    main()
