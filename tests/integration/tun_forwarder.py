#!/usr/bin/env python3
"""A VPN in miniature for the integration tests (issue 15): one end of a point-to-point tunnel.

One process per namespace. Each opens /dev/net/tun (IFF_TUN|IFF_NO_PI: bare IP packets, as
WireGuard's and OpenVPN's tun devices carry; or IFF_TAP: Ethernet frames, OpenVPN's tap mode) as a
new, non-persistent device NAME, configures it with `ip` (MTU, addresses, up), and carries every
packet the kernel routes into it to the other end as one UDP datagram, and every datagram it
receives into its device, like a real VPN over an underlay link (here a veth between the two
namespaces). The device disappears when the process exits, even on SIGKILL.

    tun_forwarder.py --dev NAME --local IP:PORT --peer IP:PORT [--tap] [--mtu MTU]
                     [--addr ADDR/PLEN]... [--loss PCT] [--loss-file FILE] [--seed N] [--check]

  --loss PCT      drop PCT percent of the packets read from the device (this end's outbound
                  direction), decided by a random.Random(--seed) stream: reproducible.
  --loss-file F   on SIGHUP, read the loss percentage from F (so a test can switch loss on and
                  off without tearing the tunnel down).
  --check         check every IPv4/IPv6 packet read from the device (what this end's kernel or a
                  packet socket on the device sent): it starts with an IP header (version 4 or 6,
                  no link-layer header), the IPv4 header checksum and the TCP checksum are right.
                  Counted as non_ip, bad_ip_csum, bad_tcp_csum, tcp_checked (first few offenders
                  in "samples").

Prints "ready NAME" on stdout once the device is up and configured; SIGUSR1 prints the counters as
one JSON line; SIGTERM/SIGINT print them and exit 0.
"""
import argparse
import array
import errno
import fcntl
import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def hostport(s):
    host, _, port = s.rpartition(':')
    return host.strip('[]'), int(port)


def csum_ok(data):
    """The Internet checksum over data (which includes its checksum field) verifies: the
    one's-complement sum is 0xffff. Summed in native byte order (RFC 1071: the result is
    byte-order independent)."""
    if len(data) % 2:
        data += b'\0'
    s = sum(array.array('H', data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s == 0xffff


class Stats:
    def __init__(self):
        self.c = dict(dev_rx=0, dev_rx_bytes=0, udp_tx=0, dropped=0, udp_rx=0, dev_tx=0, dev_tx_bytes=0,
                      dev_write_errors=0, udp_send_errors=0, non_ip=0, bad_ip_csum=0, bad_tcp_csum=0,
                      tcp_checked=0, ipv4=0, ipv6=0)
        self.samples = []

    def sample(self, what, pkt):
        if len(self.samples) < 5:
            self.samples.append({"what": what, "head": pkt[:48].hex()})


def check_packet(pkt, st, tap):
    if tap:
        if len(pkt) < 14:
            return
        etype = struct.unpack('>H', pkt[12:14])[0]
        if etype not in (0x0800, 0x86dd):
            return
        pkt = pkt[14:]
    if not pkt:
        st.c['non_ip'] += 1
        return
    v = pkt[0] >> 4
    if v == 4 and len(pkt) >= 20:
        st.c['ipv4'] += 1
        ihl = (pkt[0] & 0x0f) * 4
        if ihl < 20 or len(pkt) < ihl or not csum_ok(pkt[:ihl]):
            st.c['bad_ip_csum'] += 1
            st.sample('bad_ip_csum', pkt)
            return
        total = struct.unpack('>H', pkt[2:4])[0]
        frag = struct.unpack('>H', pkt[6:8])[0]
        if pkt[9] == 6 and (frag & 0x3fff) == 0 and ihl <= total <= len(pkt):
            seg = pkt[ihl:total]
            pseudo = pkt[12:20] + struct.pack('>BBH', 0, 6, len(seg))
            st.c['tcp_checked'] += 1
            if not csum_ok(pseudo + seg):
                st.c['bad_tcp_csum'] += 1
                st.sample('bad_tcp_csum', pkt)
    elif v == 6 and len(pkt) >= 40:
        st.c['ipv6'] += 1
        plen = struct.unpack('>H', pkt[4:6])[0]
        if pkt[6] == 6 and 40 + plen <= len(pkt):   # TCP right after the fixed header
            seg = pkt[40:40 + plen]
            pseudo = pkt[8:40] + struct.pack('>IxxxB', len(seg), 6)
            st.c['tcp_checked'] += 1
            if not csum_ok(pseudo + seg):
                st.c['bad_tcp_csum'] += 1
                st.sample('bad_tcp_csum', pkt)
    else:
        st.c['non_ip'] += 1
        st.sample('non_ip', pkt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dev', required=True)
    ap.add_argument('--local', required=True, help='IP:PORT of this end on the underlay')
    ap.add_argument('--peer', required=True, help='IP:PORT of the other end')
    ap.add_argument('--tap', action='store_true', help='IFF_TAP (Ethernet frames) instead of IFF_TUN')
    ap.add_argument('--mtu', type=int, default=1400)
    ap.add_argument('--addr', action='append', default=[])
    ap.add_argument('--loss', type=float, default=0.0)
    ap.add_argument('--loss-file')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--check', action='store_true')
    a = ap.parse_args()

    fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    flags = (IFF_TAP if a.tap else IFF_TUN) | IFF_NO_PI
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', a.dev.encode(), flags))

    lhost, lport = hostport(a.local)
    phost, pport = hostport(a.peer)
    fam = socket.AF_INET6 if ':' in lhost else socket.AF_INET
    us = socket.socket(fam, socket.SOCK_DGRAM)
    for opt in (getattr(socket, 'SO_RCVBUFFORCE', 33), getattr(socket, 'SO_SNDBUFFORCE', 32)):
        try:
            us.setsockopt(socket.SOL_SOCKET, opt, 8 << 20)
        except OSError:
            pass
    us.bind((lhost, lport))
    us.setblocking(False)
    peer = (phost, pport)

    def ip(*args):
        subprocess.run(['ip'] + list(args), check=True)

    ip('link', 'set', 'dev', a.dev, 'mtu', str(a.mtu), 'txqueuelen', '10000')
    for addr in a.addr:
        if ':' in addr:
            ip('-6', 'addr', 'add', addr, 'dev', a.dev, 'nodad')
        else:
            ip('addr', 'add', addr, 'dev', a.dev)
    ip('link', 'set', 'dev', a.dev, 'up')

    st = Stats()
    rng = random.Random(a.seed)
    loss = [a.loss / 100.0]
    pending = {'usr1': False, 'hup': False, 'stop': False}

    def dump():
        out = dict(st.c)
        out['dev'] = a.dev
        out['loss_pct'] = loss[0] * 100.0
        out['samples'] = st.samples
        sys.stdout.write(json.dumps(out) + '\n')
        sys.stdout.flush()

    def on_sig(signo, _frame):
        if signo == signal.SIGUSR1:
            pending['usr1'] = True
        elif signo == signal.SIGHUP:
            pending['hup'] = True
        else:
            pending['stop'] = True

    for s in (signal.SIGUSR1, signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_sig)

    sys.stdout.write('ready %s\n' % a.dev)
    sys.stdout.flush()

    bufsize = max(a.mtu + 64, 65600)
    c = st.c
    while not pending['stop']:
        if pending['usr1']:
            pending['usr1'] = False
            dump()
        if pending['hup']:
            pending['hup'] = False
            if a.loss_file:
                try:
                    with open(a.loss_file) as f:
                        loss[0] = float(f.read().strip() or 0) / 100.0
                except (OSError, ValueError) as e:
                    sys.stderr.write('loss file: %s\n' % e)
            sys.stdout.write('loss %.3f\n' % (loss[0] * 100.0))
            sys.stdout.flush()
        try:
            r, _, _ = select.select([fd, us], [], [], 0.5)
        except InterruptedError:
            continue
        if fd in r:
            for _ in range(256):
                try:
                    pkt = os.read(fd, bufsize)
                except BlockingIOError:
                    break
                except InterruptedError:
                    continue
                c['dev_rx'] += 1
                c['dev_rx_bytes'] += len(pkt)
                if a.check:
                    check_packet(pkt, st, a.tap)
                if loss[0] > 0 and rng.random() < loss[0]:
                    c['dropped'] += 1
                    continue
                try:
                    us.sendto(pkt, peer)
                    c['udp_tx'] += 1
                except (BlockingIOError, InterruptedError):
                    c['udp_send_errors'] += 1
                except OSError as e:
                    if e.errno not in (errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH):
                        raise
                    c['udp_send_errors'] += 1
        if us in r:
            for _ in range(256):
                try:
                    pkt = us.recv(bufsize)
                except BlockingIOError:
                    break
                except InterruptedError:
                    continue
                except ConnectionRefusedError:   # the other end is not up yet (ICMP port unreachable)
                    continue
                c['udp_rx'] += 1
                try:
                    os.write(fd, pkt)
                    c['dev_tx'] += 1
                    c['dev_tx_bytes'] += len(pkt)
                except OSError:
                    c['dev_write_errors'] += 1
    dump()
    os.close(fd)
    return 0


if __name__ == '__main__':
    sys.exit(main())
