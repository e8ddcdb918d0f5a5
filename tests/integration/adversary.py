#!/usr/bin/python3
"""An adversarial TCP peer for synack's integration tests (issue 8), written with scapy.

Runs in the peer namespace of scripts/netns.sh and does its own TCP over an AF_PACKET socket on
the peer's veth (the kernel's RSTs for the ports it uses are dropped by an iptables rule the test
adds inside that namespace). Every frame synack sends arrives on that socket: it is the wire the
checks look at. Needs Debian's python3-scapy: run it with /usr/bin/python3.

  adversary.py server --stats FILE --pid PID ...   attacks `synack serve --echo` (PID), reading
                                                  its --stats FILE (SIGUSR1) before and after
  adversary.py client --synack BIN --client-ns NS ...
                                                  plays an HTTP server for `synack get`, which it
                                                  starts itself in NS, and attacks that connection

Prints `ok: ...` / `FAIL: ...` lines; exits 1 if any check failed, 77 if scapy is missing.
IPv4 or IPv6 as --my-ip says (family twins: the IPv6 run forges IPv6 headers; the IPv4-only
frames -- header checksum, total length, IP options, IPv4 fragments -- have IPv6 analogues:
payload length, extension-header chains, the fragment header).
"""
import argparse
import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time

try:
    from scapy.config import conf
    conf.verb = 0
    from scapy.layers.inet import IP, TCP, IPOption_Router_Alert, fragment
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
except ImportError as e:  # pragma: no cover
    print("SKIP: scapy is missing (%s): apt-get install python3-scapy" % e)
    sys.exit(77)

# The family, from --my-ip (argparse runs later; the module-level helpers need it first).
V6 = any(":" in v for k, v in zip(sys.argv, sys.argv[1:]) if k == "--my-ip")
L3 = IPv6 if V6 else IP          # scapy's network layer of every frame
L3_HLEN = 40 if V6 else 20       # its header length (no options / extension headers)
ETHERTYPE = 0x86DD if V6 else 0x0800
AF = socket.AF_INET6 if V6 else socket.AF_INET
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
M32 = 1 << 32
FAILURES = []


def log(msg):
    print(msg, flush=True)


def check(cond, msg, detail=None):
    if cond:
        log("ok: " + msg)
    else:
        FAILURES.append(msg)
        log("FAIL: " + msg + ("" if detail is None else " -- " + str(detail)))
    return cond


def section(name):
    log("-- " + name)


def add(a, b):
    return (a + b) % M32


def sub(a, b):
    """a - b as a signed 32-bit distance."""
    d = (a - b) % M32
    return d - M32 if d >= M32 // 2 else d


def flags_str(t):
    return str(t.flags)


def describe(p):
    t = p[TCP]
    return "%s:%d > %s:%d [%s] seq %d ack %d win %d len %d" % (
        p[L3].src, t.sport, p[L3].dst, t.dport, flags_str(t), t.seq, t.ack, t.window, len(bytes(t.payload)))


class Wire:
    """The peer's veth: frames out (Ethernet + what scapy built), IPv4 (IPv6) TCP frames from
    synack in."""

    def __init__(self, iface, my_ip, peer_ip):
        self.iface, self.my_ip, self.peer_ip = iface, my_ip, peer_ip
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((iface, ETH_P_ALL))
        self.my_mac = open("/sys/class/net/%s/address" % iface).read().strip()
        self.peer_bin = socket.inet_pton(AF, peer_ip)
        self.peer_mac = None
        self.queue = []      # received TCP packets not yet taken: (time, scapy IP packet)
        self.log = []        # everything received from the peer, for failure dumps

    def set_peer_mac(self, mac):
        self.peer_mac = mac

    def send_bytes(self, ip_bytes):
        eth = bytes(Ether(src=self.my_mac, dst=self.peer_mac, type=ETHERTYPE))
        self.sock.send(eth + bytes(ip_bytes))

    def send(self, pkt):
        self.send_bytes(bytes(pkt))

    def _read(self, timeout):
        """Reads what is there (waiting up to `timeout` for the first frame) into the queue."""
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return False
        while True:
            try:
                data, addr = self.sock.recvfrom(1 << 17, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return True
            if addr[2] == PACKET_OUTGOING or len(data) < 34:
                continue
            etype = struct.unpack("!H", data[12:14])[0]
            if etype == 0x0806 and self.peer_mac is None:
                continue
            if V6:  # TCP right after the header (synack sends no extension headers)
                if etype != 0x86DD or len(data) < 54 or data[20] != 6 or data[22:38] != self.peer_bin:
                    continue
            elif etype != 0x0800 or data[23] != 6 or data[26:30] != self.peer_bin:
                continue
            if self.peer_mac is None:
                self.peer_mac = ":".join("%02x" % b for b in data[6:12])
            p = L3(data[14:])
            now = time.monotonic()
            self.queue.append((now, p))
            self.log.append((now, p))

    def take(self, pred, timeout):
        """The first queued or arriving packet with pred(p) true (removed from the queue), or None."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (t, p) in enumerate(self.queue):
                if pred(p):
                    del self.queue[i]
                    return t, p
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._read(left)

    def collect(self, pred, duration):
        """Every packet with pred(p) true that is queued or arrives within `duration` seconds."""
        out = []
        deadline = time.monotonic() + duration
        while True:
            keep = []
            for t, p in self.queue:
                (out if pred(p) else keep).append((t, p))
            self.queue = keep
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            self._read(left)

    def drain(self):
        self._read(0)
        self.queue = []


class Conn:
    """One TCP connection played by hand. snd_nxt: our next sequence number; rcv_nxt: the next
    byte we expect from synack (we ACK all we get: it is also synack's SND.UNA and SND.NXT when
    nothing is in flight); peer_wnd: synack's window in bytes."""

    def __init__(self, wire, sport, dport, wscale=7, win_field=1024, mss=1460):
        self.w, self.sport, self.dport = wire, sport, dport
        self.iss = random.randrange(1 << 31)
        self.snd_nxt = self.iss
        self.rcv_nxt = None
        self.peer_iss = None
        self.wscale, self.win_field, self.mss = wscale, win_field, mss
        self.peer_wscale = 0
        self.peer_wnd = 0
        self.received = b""

    # --- building and matching -----------------------------------------------------------------
    def ip(self, **kw):
        return L3(src=self.w.my_ip, dst=self.w.peer_ip, **kw)

    def tcp(self, flags="A", seq=None, ack=None, win=None, options=None):
        return TCP(sport=self.sport, dport=self.dport, flags=flags,
                   seq=self.snd_nxt if seq is None else seq,
                   ack=(self.rcv_nxt or 0) if ack is None else ack,
                   window=self.win_field if win is None else win, options=options or [])

    def pkt(self, flags="A", payload=b"", **kw):
        p = self.ip() / self.tcp(flags, **kw)
        if payload:
            p = p / Raw(payload)
        return p

    def send(self, flags="A", payload=b"", **kw):
        self.w.send(self.pkt(flags, payload, **kw))

    def mine(self, p):
        return TCP in p and p[TCP].sport == self.dport and p[TCP].dport == self.sport

    def expect(self, pred, timeout):
        r = self.w.take(lambda p: self.mine(p) and pred(p[TCP], p), timeout)
        return None if r is None else r[1]

    def quiet(self, duration):
        """What synack sent on this connection in `duration` seconds (a list; [] = silence)."""
        return [p for _, p in self.w.collect(self.mine, duration)]

    def _update_peer_window(self, t):
        self.peer_wnd = t.window << (0 if "S" in flags_str(t) else self.peer_wscale)

    # --- the handshake ------------------------------------------------------------------------
    def _syn_options(self):
        o = [("MSS", self.mss)]
        if self.wscale is not None:
            o += [("NOP", None), ("WScale", self.wscale)]
        return o

    def connect(self, timeout=5.0, final_win=None):
        """Active open towards synack (a server). Returns the SYN-ACK or None."""
        self.send("S", seq=self.iss, ack=0, options=self._syn_options(), win=65535)
        self.snd_nxt = add(self.iss, 1)
        sa = self.expect(lambda t, p: "S" in flags_str(t) and "A" in flags_str(t), timeout)
        if sa is None:
            return None
        t = sa[TCP]
        self._take_syn(t)
        self.send("A", win=final_win)
        return sa

    def accept(self, syn, timeout=5.0, syn_ack_win=None):
        """Passive open: answer synack's SYN (a client). Returns its ACK or None."""
        t = syn[TCP]
        self.sport, self.dport = t.dport, t.sport
        self._take_syn(t)
        self.send("SA", seq=self.iss, options=self._syn_options(),
                  win=65535 if syn_ack_win is None else syn_ack_win)
        self.snd_nxt = add(self.iss, 1)
        ack = self.expect(lambda t2, p: "A" in flags_str(t2) and t2.ack == self.snd_nxt, timeout)
        if ack is not None:
            self._update_peer_window(ack[TCP])
            self._take_data(ack[TCP])
        return ack

    def _take_syn(self, t):
        self.peer_iss = t.seq
        self.rcv_nxt = add(t.seq, 1)
        ws = [v for k, v in t.options if k == "WScale"]
        self.peer_wscale = ws[0] if ws and self.wscale is not None else 0
        self.peer_wnd = t.window

    # --- data -----------------------------------------------------------------------------------
    def _take_data(self, t):
        data = bytes(t.payload)
        if data and t.seq == self.rcv_nxt:
            self.received += data
            self.rcv_nxt = add(self.rcv_nxt, len(data))
            return True
        return False

    def send_data(self, data, chunk=1400):
        for i in range(0, len(data), chunk):
            part = data[i:i + chunk]
            self.send("PA", part)
            self.snd_nxt = add(self.snd_nxt, len(part))

    def recv_data(self, n, timeout, ack=True):
        """Takes synack's in-order data until `n` new bytes arrived, ACKing every data segment.
        Returns the bytes (fewer when the deadline passed)."""
        start = len(self.received)
        deadline = time.monotonic() + timeout
        while len(self.received) - start < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            p = self.expect(lambda t, p: len(bytes(t.payload)) > 0 or "F" in flags_str(t), left)
            if p is None:
                break
            t = p[TCP]
            self._update_peer_window(t)
            self._take_data(t)
            if ack:
                self.send("A")
        return self.received[start:]

    def echo(self, data, timeout=5.0):
        self.send_data(data)
        got = self.recv_data(len(data), timeout)
        return got == data, got


def is_pure_ack(t, p):
    return flags_str(t) == "A" and len(bytes(t.payload)) == 0


# -------------------------------------------------------------------------------------------------
# Raw frames the parser must refuse (built byte by byte where scapy would fix them up).

def tcp_bytes(conn, flags, payload=b"", doff=None, options=b"", seq=None):
    """A TCP header + payload with a correct checksum, data offset `doff` (words) written as given."""
    fl = 0
    for ch, bit in (("F", 0x01), ("S", 0x02), ("R", 0x04), ("P", 0x08), ("A", 0x10), ("U", 0x20),
                    ("E", 0x40), ("C", 0x80)):
        if ch in flags:
            fl |= bit
    hdr_words = (20 + len(options)) // 4
    off = hdr_words if doff is None else doff
    hdr = struct.pack("!HHIIBBHHH", conn.sport, conn.dport, conn.snd_nxt if seq is None else seq,
                      conn.rcv_nxt, off << 4, fl, conn.win_field, 0, 0) + options
    seg = hdr + payload
    src = socket.inet_pton(AF, conn.w.my_ip)
    dst = socket.inet_pton(AF, conn.w.peer_ip)
    if V6:  # RFC 8200 §8.1
        pseudo = src + dst + struct.pack("!I3xB", len(seg), 6)
    else:
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
    csum = inet_checksum(pseudo + seg)
    return seg[:16] + struct.pack("!H", csum) + seg[18:]


def inet_checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ip_bytes(conn, payload, total=None, ihl=5, csum_ok=True, proto=6):
    if V6:
        assert ihl == 5 and csum_ok, "an IPv4-only malformation"
        return ip6_bytes(conn, payload, plen=None if total is None else total - 40, nh=proto)
    tot = 4 * ihl + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot, random.randrange(65536), 0x4000, 64, proto, 0,
                      socket.inet_aton(conn.w.my_ip), socket.inet_aton(conn.w.peer_ip))
    hdr += b"\x01" * (4 * ihl - 20)
    c = inet_checksum(hdr)
    if not csum_ok:
        c ^= 0x5a5a
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def ip6_bytes(conn, payload, plen=None, nh=6):
    """An IPv6 header (payload length `plen`, next header `nh`) + payload."""
    hdr = struct.pack("!IHBB16s16s", 0x60000000, len(payload) if plen is None else plen, nh, 64,
                      socket.inet_pton(AF, conn.w.my_ip), socket.inet_pton(AF, conn.w.peer_ip))
    return hdr + payload


def ext6(nh, body=b"\x01\x04\0\0\0\0"):
    """An extension header (hop-by-hop, routing or destination options layout): next header `nh`,
    hdr ext len from the body (default: a PadN filling 8 bytes)."""
    assert (2 + len(body)) % 8 == 0
    return struct.pack("!BB", nh, (2 + len(body)) // 8 - 1) + body


def bad_tcp_checksum(b):
    """An IP packet's TCP checksum with its high byte flipped."""
    at = L3_HLEN + 16
    return b[:at] + bytes([b[at] ^ 0xff]) + b[at + 1:]


# -------------------------------------------------------------------------------------------------
# Counters.

def flatten(d, prefix=""):
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        elif isinstance(v, (int, float)):
            out[prefix + k] = v
    return out


class ServeStats:
    """`synack serve --stats FILE`: SIGUSR1, then wait (bounded) for the file to be replaced."""

    def __init__(self, path, pid):
        self.path, self.pid = path, pid

    def _ino(self):
        try:
            return os.stat(self.path).st_ino
        except FileNotFoundError:
            return None

    def snap(self, timeout=10.0):
        before = self._ino()
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ino = self._ino()
            if ino is not None and ino != before:
                with open(self.path) as f:
                    return flatten(json.load(f))
            time.sleep(0.02)
        raise RuntimeError("no new --stats file after SIGUSR1 within %.0f s" % timeout)


def delta(a, b):
    return {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b)}


def check_delta(d, expect, what):
    """expect: {counter: n} exact, or {counter: (lo, hi)} a range (hi None = no bound)."""
    for k, v in sorted(expect.items()):
        got = d.get(k, 0)
        if isinstance(v, tuple):
            lo, hi = v
            ok = got >= lo and (hi is None or got <= hi)
            want = ">= %d" % lo if hi is None else "in [%d, %d]" % (lo, hi)
        else:
            ok, want = got == v, "== %d" % v
        check(ok, "%s: counter %s moved by %d (want %s)" % (what, k, got, want))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -------------------------------------------------------------------------------------------------
# Shared scenarios (both ends): the wire reactions to RST, SYN, injection.

def rst_and_syn_attacks(c, what, stats_before=None):
    """On an established connection with nothing in flight: out-of-window RST (silence),
    in-window-but-not-exact RST (a challenge ACK), a second one within the second (rate limited:
    silence), then (after the 1 s rate-limit window) a SYN (a challenge ACK). The connection
    stays up."""
    c.w.drain()
    c.send("R", seq=add(c.snd_nxt, 1 << 31), ack=0)
    got = c.quiet(0.4)
    check(not got, "%s: RST far outside the window: ignored (no answer)" % what, [describe(p) for p in got])

    c.send("R", seq=add(c.snd_nxt, 100), ack=0)
    ch = c.expect(lambda t, p: "A" in flags_str(t), 2.0)
    t_rst = time.monotonic()  # after synack's clock read the RST
    check(ch is not None and is_pure_ack(ch[TCP], ch) and ch[TCP].seq == c.rcv_nxt and ch[TCP].ack == c.snd_nxt,
          "%s: RST in the window but not at RCV.NXT: challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT> (seq %d ack %d)"
          % (what, c.rcv_nxt, c.snd_nxt), ch and describe(ch))
    c.send("R", seq=add(c.snd_nxt, 200), ack=0)
    got = c.quiet(0.3)
    check(not got, "%s: a second in-window RST within the second: no second challenge ACK (RFC 5961 §7)" % what,
          [describe(p) for p in got])

    # RFC 5961 §7's per-second budget: wait it out (deadline, not a guess).
    left = 1.1 - (time.monotonic() - t_rst)
    if left > 0:
        c.quiet(left)
    c.send("S", seq=add(c.snd_nxt, 1000), ack=0, options=c._syn_options())
    ch = c.expect(lambda t, p: True, 2.0)
    check(ch is not None and is_pure_ack(ch[TCP], ch) and ch[TCP].seq == c.rcv_nxt and ch[TCP].ack == c.snd_nxt,
          "%s: SYN on the established connection: challenge ACK, no RST, no SYN-ACK" % what, ch and describe(ch))


def injection_attacks(c, what):
    """Blind data outside the window (right and left of it) and data with an ACK of data never
    sent: each answered by an ACK that acknowledges nothing new, none of it taken."""
    c.w.drain()
    for name, seq in (("far right of the window", add(c.snd_nxt, 1 << 30)),
                      ("left of the window (old data)", add(c.snd_nxt, -5000 % M32))):
        c.send("PA", b"INJECTED" * 8, seq=seq)
        a = c.expect(lambda t, p: True, 2.0)
        check(a is not None and is_pure_ack(a[TCP], a) and a[TCP].ack == c.snd_nxt and a[TCP].seq == c.rcv_nxt,
              "%s: data %s: dropped, answered with <SEQ=SND.NXT><ACK=RCV.NXT>" % (what, name), a and describe(a))
    c.send("PA", b"BADACK!!", ack=add(c.rcv_nxt, 100000))
    a = c.expect(lambda t, p: True, 2.0)
    check(a is not None and is_pure_ack(a[TCP], a) and a[TCP].ack == c.snd_nxt,
          "%s: data whose ACK covers bytes never sent: dropped, ACK for RCV.NXT unchanged (RFC 5961 §5)" % what,
          a and describe(a))


def zero_window_probes(c, what, duration, pid, want=4):
    """We hold the window closed and answer every probe with win 0, until `want` probes came or
    `duration` seconds passed. Returns the probe times."""
    probes = []
    cpu0 = cpu_seconds(pid)
    start = time.monotonic()
    end = start + duration
    while len(probes) < want:
        left = end - time.monotonic()
        if left <= 0:
            break
        p = c.expect(lambda t, p: True, left)
        if p is None:
            break
        t = p[TCP]
        if len(bytes(t.payload)) > 0 or "F" in flags_str(t):
            check(False, "%s: synack sent data into a zero window" % what, describe(p))
            continue
        if t.seq == add(c.rcv_nxt, -1 % M32):
            probes.append(time.monotonic())
            c.send("A", win=0)
    # A little longer: nothing but probes may come, and not sooner than the backoff allows.
    extra = c.quiet(0.3)
    elapsed = time.monotonic() - start
    cpu = cpu_seconds(pid) - cpu0
    gaps = [b - a for a, b in zip(probes, probes[1:])]
    log("   %s: %d probes in %.1f s, gaps %s, synack CPU %.3f s" %
        (what, len(probes), elapsed, ["%.2f" % g for g in gaps], cpu))
    check(len(probes) >= want, "%s: zero window: persist probes keep coming (%d in %.1f s)"
          % (what, len(probes), elapsed))
    check(not extra, "%s: no other segment while the window is closed" % what, [describe(p) for p in extra])
    check(len(gaps) >= 2 and all(g2 >= 0.8 * g1 for g1, g2 in zip(gaps, gaps[1:])) and gaps[-1] >= 2.5 * gaps[0]
          and gaps[0] >= 0.15, "%s: probe intervals grow (exponential backoff from at least RTO.min)" % what, gaps)
    check(cpu < 0.25 * elapsed, "%s: no busy loop while the window is closed (%.3f s CPU in %.1f s)"
          % (what, cpu, elapsed))
    return probes


def retransmissions(c, what, timeout, count):
    """We never ACK: collect synack's transmissions of its first unacknowledged byte (until
    `count` of them or a RST)."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        p = c.expect(lambda t, p: True, max(0.0, deadline - time.monotonic()))
        if p is None:
            break
        t = p[TCP]
        if "R" in flags_str(t):
            seen.append((time.monotonic(), "R", t.seq))
            break
        if len(bytes(t.payload)) > 0 and t.seq == c.rcv_nxt:
            seen.append((time.monotonic(), "D", t.seq))
            if len(seen) >= count:
                break
    return seen


def check_backoff(what, sends, retries):
    times = [t for t, k, _ in sends if k == "D"]
    gaps = [b - a for a, b in zip(times, times[1:])]
    log("   %s: %d transmissions of the same data, gaps %s" % (what, len(times), ["%.2f" % g for g in gaps]))
    check(len(times) == retries + 1, "%s: the data went out once and was retransmitted %d times (--retries %d)"
          % (what, len(times) - 1, retries))
    check(len(gaps) >= 2 and all(g2 >= 1.2 * g1 for g1, g2 in zip(gaps, gaps[1:])) and gaps[-1] >= 2.5 * gaps[0],
          "%s: retransmission intervals double (RFC 6298 §5.5)" % what, gaps)


# -------------------------------------------------------------------------------------------------
# Against `synack serve --echo`.

def run_server(a):
    w = Wire(a.iface, a.my_ip, a.peer_ip)
    w.set_peer_mac(a.peer_mac)
    st = ServeStats(a.stats, a.pid)
    ports = iter(range(a.port_lo, a.port_hi + 1))
    base = st.snap()

    def conn(**kw):
        return Conn(w, next(ports), a.port, **kw)

    def established(what, **kw):
        c = conn(**kw)
        sa = c.connect()
        if not check(sa is not None, "%s: handshake with synack serve (port %d)" % (what, c.sport)):
            raise SystemExit(finish())
        ok, got = c.echo(b"hello %d\n" % c.sport)
        check(ok, "%s: the connection echoes" % what, got)
        return c

    # --- RST / SYN -------------------------------------------------------------------------------
    section("RST and SYN on an established connection (RFC 5961 §3, §4)")
    s0 = st.snap()
    c = established("rst/syn")
    rst_and_syn_attacks(c, "serve")
    ok, got = c.echo(b"still here after RSTs and a SYN\n")
    check(ok, "serve: the connection still echoes after the RSTs and the SYN", got)
    s1 = st.snap()
    check_delta(delta(s0, s1), {"tcp.rst_out_of_window": 1, "tcp.rst_in_window": 2, "tcp.syn_challenged": 1,
                                "tcp.challenge_acks": 2, "tcp.challenge_acks_limited": 1,
                                "engine.connections_reset": 0, "listener.syn_received": 1}, "serve rst/syn")

    # --- injection ------------------------------------------------------------------------------
    section("blind data injection outside the window, and ACKs of data never sent (RFC 5961 §5)")
    injection_attacks(c, "serve")
    ok, got = c.echo(b"clean stream\n")
    check(ok, "serve: the echo stream has none of the injected bytes", got)
    s2 = st.snap()
    check_delta(delta(s1, s2), {"tcp.out_of_window": 2, "tcp.bad_acks": 1}, "serve injection")

    # --- malformed frames -----------------------------------------------------------------------
    section("malformed and odd frames: dropped by the parser, counted by reason, no answer")
    ev = b"EVIL"
    if V6:
        ph = 0   # next header numbers: hop-by-hop, destination options, fragment
        do = 60
        frag = 44
        frames = [
            ("IPv6 payload length beyond the frame (a cut-off packet)", "payload_length_beyond_frame",
             ip6_bytes(c, tcp_bytes(c, "PA", ev), plen=200)),
            # Extension-header chains (RFC 8200 §4): each reaches the engine (the link's filter
            # passes a first hop-by-hop / routing / destination options header addressed to us).
            ("hop-by-hop options after a destination options header", "ipv6_hop_by_hop_not_first",
             ip6_bytes(c, ext6(ph) + ext6(6) + tcp_bytes(c, "PA", ev), nh=do)),
            ("an extension header running past the payload", "ipv6_ext_header_past_payload",
             ip6_bytes(c, struct.pack("!BB", 6, 200) + b"\0" * 6 + tcp_bytes(c, "PA", ev), nh=do)),
            ("nine destination options headers (more than the parser walks)", "ipv6_too_many_ext_headers",
             ip6_bytes(c, b"".join(ext6(do) for _ in range(8)) + ext6(6) + tcp_bytes(c, "PA", ev), nh=do)),
            ("a fragment header behind hop-by-hop options", "ip_fragment",
             ip6_bytes(c, ext6(frag) + struct.pack("!BBHI", 6, 0, 1, random.randrange(1 << 32))
                       + tcp_bytes(c, "PA", ev), nh=ph)),
        ]
    else:
        frames = [
            ("bad IPv4 checksum", "bad_ip_checksum", ip_bytes(c, tcp_bytes(c, "PA", ev), csum_ok=False)),
            ("IPv4 total length beyond the frame (a cut-off packet)", "total_length_beyond_frame",
             ip_bytes(c, tcp_bytes(c, "PA", ev), total=200)),
            ("IPv4 total length shorter than its header", "total_length_too_small",
             ip_bytes(c, tcp_bytes(c, "PA", ev), total=16)),
        ]
    frames += [
        ("bad TCP checksum", "bad_tcp_checksum", bad_tcp_checksum(ip_bytes(c, tcp_bytes(c, "PA", ev)))),
        ("TCP header cut short (12 bytes)", "truncated_tcp", ip_bytes(c, tcp_bytes(c, "PA")[:12])),
        ("data offset 4 (< 5)", "data_offset_too_small", ip_bytes(c, tcp_bytes(c, "PA", ev, doff=4))),
        ("data offset 15, past the segment", "data_offset_beyond_segment",
         ip_bytes(c, tcp_bytes(c, "PA", ev, doff=15))),
        ("option length 0", "option_length_zero", ip_bytes(c, tcp_bytes(c, "PA", ev, options=b"\x08\x00\x01\x01"))),
        ("option length past the header", "option_past_header",
         ip_bytes(c, tcp_bytes(c, "PA", ev, options=b"\x1e\x08\x00\x00"))),
        ("SYN+FIN", "syn_and_fin", ip_bytes(c, tcp_bytes(c, "SF", ev))),
        ("SYN+RST", "syn_and_rst", ip_bytes(c, tcp_bytes(c, "SR"))),
        ("all flags set", "syn_and_fin", ip_bytes(c, tcp_bytes(c, "FSRPAUEC", ev))),
    ]
    # Frames the kernel's packet filter (link/rx_filter.cpp) refuses before they reach the engine:
    # IP fragments (synack does not reassemble) and an IPv4 header cut before the addresses. No
    # engine counter can see them: frames_received must not move for them. IPv6: a fragment
    # header right after the fixed header (both fragments of a segment) and an IPv6 header cut
    # before the destination address.
    if V6:
        seg = tcp_bytes(c, "PA", b"FRAGMENTED" * 10)
        ident = random.randrange(1 << 32)
        frags = [ip6_bytes(c, struct.pack("!BBHI", 6, 0, 1, ident) + seg[:64], nh=44),
                 ip6_bytes(c, struct.pack("!BBHI", 6, 0, 64, ident) + seg[64:], nh=44)]  # offset 8 x 8
        check(True, "a %d-byte segment split into %d IPv6 fragments" % (len(seg), len(frags)))
        filtered = frags + [ip6_bytes(c, b"")[:30]]
    else:
        frags = fragment(c.pkt("PA", b"FRAGMENTED" * 10), fragsize=64)
        check(len(frags) == 2, "a 100-byte segment split into %d IP fragments" % len(frags))
        filtered = [bytes(f) for f in frags] + [ip_bytes(c, b"")[:12]]
    # The same on the listening port from a new tuple: no connection may come of it.
    c_new = conn()
    c_new.rcv_nxt = 0
    listen_frames = [("SYN+FIN to the listening port", "syn_and_fin", ip_bytes(c_new, tcp_bytes(c_new, "SF"))),
                     ("all flags to the listening port", "syn_and_fin", ip_bytes(c_new, tcp_bytes(c_new, "FSRPAUEC")))]
    s2 = st.snap()
    w.drain()
    for name, _, b in frames + listen_frames:
        w.send_bytes(b)
    for b in filtered:
        w.send_bytes(b)
    got = [p for _, p in w.collect(lambda p: TCP in p, 0.6)]
    check(not got, "no answer to any of the %d malformed frames, the fragments or the cut IP header"
          % (len(frames) + len(listen_frames)),
          [describe(p) for p in got])
    s3 = st.snap()
    expect = {}
    for name, reason, _ in frames + listen_frames:
        expect["engine.dropped." + reason] = expect.get("engine.dropped." + reason, 0) + 1
    expect["engine.frames_received"] = len(frames) + len(listen_frames)  # not the filtered ones
    if V6:
        # Neighbour discovery may add a frame or two: the client's kernel answers some of the
        # malformed extension-header chains with an ICMPv6 parameter problem to us, and resolving
        # our address first can draw an NA (or NS) from our kernel to synack's address.
        expect["engine.frames_received"] = (len(frames) + len(listen_frames), len(frames) + len(listen_frames) + 3)
    expect.setdefault("engine.dropped.ip_fragment", 0)  # IPv6: one behind hop-by-hop options
    expect["engine.dropped.truncated_ipv4"] = 0
    expect["listener.syn_received"] = 0
    expect["listener.half_open_created"] = 0
    expect["tcp.bytes_received"] = 0
    check_delta(delta(s2, s3), expect, "serve malformed")
    ok, got = c.echo(b"after the malformed frames\n")
    check(ok, "serve: the connection still echoes, none of the malformed frames' bytes in the stream", got)

    if V6:
        section("extension headers: a segment behind hop-by-hop (Router Alert) and destination options is taken")
        ra = b"\x05\x02\0\0" + b"\x01\x00"  # Router Alert (RFC 2711) + PadN: 8 bytes
        seg = tcp_bytes(c, "PA", b"with ext headers\n")
        c.w.send_bytes(ip6_bytes(c, ext6(60, ra) + ext6(6) + seg, nh=0))
        c.snd_nxt = add(c.snd_nxt, 17)
        got = c.recv_data(17, 3.0)
        check(got == b"with ext headers\n", "serve: data behind an extension-header chain echoed", got)
    else:
        section("IP options: a well-formed segment with an IP option (Router Alert) is taken")
        p = c.ip(options=[IPOption_Router_Alert()]) / c.tcp("PA") / Raw(b"with ip options\n")
        c.w.send(p)
        c.snd_nxt = add(c.snd_nxt, 16)
        got = c.recv_data(16, 3.0)
        check(got == b"with ip options\n", "serve: data under an IPv4 header with options echoed", got)

    section("an exact RST ends the connection; later segments get RSTs")
    s4 = st.snap()
    c.send("R", seq=c.snd_nxt, ack=0)
    got = c.quiet(0.3)
    check(not got, "serve: no answer to a valid RST", [describe(p) for p in got])
    c.send("PA", b"anyone?")
    r = c.expect(lambda t, p: True, 2.0)
    check(r is not None and "R" in flags_str(r[TCP]), "serve: data after the RST is answered with a RST",
          r and describe(r))
    s5 = st.snap()
    check_delta(delta(s4, s5), {"engine.connections_reset": 1, "engine.segments_no_connection": 1}, "serve reset")

    # --- zero window ------------------------------------------------------------------------------
    section("a peer that advertises a zero window forever")
    z = established("zero window")
    s6 = st.snap()
    z.win_field = 0            # every segment from us says window 0 from now on
    z.send("A")
    z.send_data(b"Z" * 3000)   # echoed back into a closed window
    # synack ACKs the data (window 0 from us), then probes.
    zero_window_probes(z, "serve", a.zero_window_seconds, a.pid)
    s7 = st.snap()
    check_delta(delta(s6, s7), {"tcp.zero_window_probes": (2, None), "engine.connections_timed_out": 0},
                "serve zero window")
    z.win_field = 1024
    z.send("A")  # open the window: the echo comes through
    got = z.recv_data(3000, 5.0)
    check(got == b"Z" * 3000, "serve: once the window opens the held data arrives (%d bytes)" % len(got))

    # --- never ACK --------------------------------------------------------------------------------
    section("a peer that never ACKs: retransmissions with backoff, then timed_out")
    n = established("never ack")
    s8 = st.snap()
    n.send_data(b"N" * 100)
    sends = retransmissions(n, "serve", a.retries_seconds, a.retries + 1)
    deadline = time.monotonic() + a.retries_seconds
    while True:  # the last RTO runs out: poll the counters (bounded)
        s9 = st.snap()
        if delta(s8, s9).get("engine.connections_timed_out", 0) >= 1 or time.monotonic() > deadline:
            break
        sends += retransmissions(n, "serve", 0.2, 1)
    sends += retransmissions(n, "serve", 0.0, 1)
    check_backoff("serve", sends, a.retries)
    check_delta(delta(s8, s9), {"engine.connections_timed_out": 1, "tcp.rto_expirations": (a.retries, a.retries + 1)},
                "serve never-ack")
    n.send("A", ack=add(n.rcv_nxt, 100))
    r = n.expect(lambda t, p: True, 2.0)
    check(r is not None and "R" in flags_str(r[TCP]), "serve: the timed-out connection is gone (RST to a late ACK)",
          r and describe(r))

    # --- 64 KiB coalesced frame -------------------------------------------------------------------
    section("a 64 KiB coalesced frame (one IP packet of 65535 bytes)")
    if a.mtu < 65535:
        log("   skipped: the link's MTU is %d" % a.mtu)
    else:
        g = established("super segment")
        s10 = st.snap()
        big = bytes((i * 7 + 13) % 251 for i in range(65535 - L3_HLEN - 20))
        g.send("PA", big)
        g.snd_nxt = add(g.snd_nxt, len(big))  # our ACKs must carry the sequence after the frame
        got = g.recv_data(len(big), 10.0)
        d = delta(s10, st.snap())
        check(got == big, "serve: the %d-byte segment was taken whole and echoed (%d bytes back)"
              % (len(big), len(got)))
        check_delta(d, {"tcp.bytes_received": (len(big), None), "tcp.bytes_beyond_window": 0,
                        "engine.dropped_total": 0}, "serve 64 KiB frame")

    end = st.snap()
    d = delta(base, end)
    log("   serve counters moved: %s" % json.dumps({k: v for k, v in sorted(d.items()) if v}))
    return finish()


# -------------------------------------------------------------------------------------------------
# Against an established `synack get` connection (we are the HTTP server).

class GetRun:
    def __init__(self, a, name, extra=()):
        self.a, self.name = a, name
        self.stats = os.path.join(a.tmp, "get-%s.json" % name)
        self.body = os.path.join(a.tmp, "get-%s.body" % name)
        self.err = os.path.join(a.tmp, "get-%s.err" % name)
        for f in (self.stats, self.body):
            if os.path.exists(f):
                os.remove(f)
        host = "[%s]" % a.my_ip if V6 else a.my_ip
        cmd = ["ip", "netns", "exec", a.client_ns, a.synack, "get",
               "http://%s:%d/adversary" % (host, a.port), "-o", self.body, "--stats", self.stats,
               "--retries", str(a.retries), "-m", "30"] + list(extra)
        log("   $ synack %s" % " ".join(cmd[5:]))
        self.errf = open(self.err, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.errf)

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            check(False, "get %s: synack get did not exit within %.0f s" % (self.name, timeout))
        self.errf.close()
        err = open(self.err).read()
        stats = {}
        if os.path.exists(self.stats):
            with open(self.stats) as f:
                stats = flatten(json.load(f))
        return rc, err, stats

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def http_response(body):
    return (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body


def serve_one(w, a, name, syn_ack_win=None, extra=()):
    """Starts synack get, answers its SYN. Returns (run, conn) once the handshake is done."""
    w.drain()
    run = GetRun(a, name, extra)
    syn = w.take(lambda p: TCP in p and p[TCP].dport == a.port and flags_str(p[TCP]) == "S", 15.0)
    if not check(syn is not None, "get %s: synack get's SYN arrived" % name):
        run.kill()
        raise SystemExit(finish())
    c = Conn(w, a.port, syn[1][TCP].sport)
    ack = c.accept(syn[1], syn_ack_win=syn_ack_win)
    check(ack is not None, "get %s: handshake completed" % name)
    return run, c


def read_request(c, what, timeout=5.0):
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in c.received and time.monotonic() < deadline:
        c.recv_data(1, deadline - time.monotonic())
    ok = c.received.startswith(b"GET /adversary HTTP/1.1\r\n") and c.received.endswith(b"\r\n\r\n")
    check(ok, "%s: the GET request arrived whole" % what, c.received[:80])
    return ok


def answer_and_close(c, body, what, timeout=5.0):
    """Sends the response and our FIN; ACKs synack's FIN."""
    c.send_data(http_response(body))
    c.send("FA")
    c.snd_nxt = add(c.snd_nxt, 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = c.expect(lambda t, p: True, deadline - time.monotonic())
        if p is None:
            break
        t = p[TCP]
        c._take_data(t)
        if "F" in flags_str(t):
            c.rcv_nxt = add(t.seq + len(bytes(t.payload)), 1)
            c.send("A")
            return True
        if "R" in flags_str(t):
            check(False, "%s: synack get reset the connection" % what, describe(p))
            return False
    check(False, "%s: no FIN from synack get" % what)
    return False


def run_client(a):
    w = Wire(a.iface, a.my_ip, a.peer_ip)
    w.set_peer_mac(a.peer_mac)

    section("get: RSTs, a SYN and blind injection on an established client connection")
    run, c = serve_one(w, a, "attacks")
    read_request(c, "get attacks")
    rst_and_syn_attacks(c, "get")
    injection_attacks(c, "get")
    # Malformed copies of the response: none may reach the body.
    ev = b"HTTP/1.1 500 EVIL\r\n\r\n"
    bad = [bad_tcp_checksum(ip_bytes(c, tcp_bytes(c, "PA", ev))), ip_bytes(c, tcp_bytes(c, "SF", ev))]
    if not V6:  # IPv6 has no header checksum
        bad.append(ip_bytes(c, tcp_bytes(c, "PA", ev), csum_ok=False))
    for b in bad:
        w.send_bytes(b)
    got = c.quiet(0.3)
    check(not got, "get: no answer to a bad TCP checksum, SYN+FIN%s" % ("" if V6 else ", a bad IPv4 checksum"),
          [describe(p) for p in got])
    body = b"survived\n"
    answer_and_close(c, body, "get attacks")
    rc, err, st = run.wait(10)
    check(rc == 0, "get attacks: synack get exited 0 (exit %d: %s)" % (rc, err.strip()[-300:]))
    check(os.path.exists(run.body) and open(run.body, "rb").read() == body, "get attacks: the body is intact")
    check_delta(st, {"tcp.rst_out_of_window": 1, "tcp.rst_in_window": 2, "tcp.syn_challenged": 1,
                     "tcp.challenge_acks": 2, "tcp.challenge_acks_limited": 1, "tcp.out_of_window": 2,
                     "tcp.bad_acks": 1, "engine.dropped.bad_ip_checksum": 0 if V6 else 1,
                     "engine.dropped.bad_tcp_checksum": 1,
                     "engine.dropped.syn_and_fin": 1, "engine.connections_reset": 0}, "get attacks")

    section("get: a server that advertises a zero window forever (until it opens it)")
    run, c = serve_one(w, a, "zero-window", syn_ack_win=0)
    probes = zero_window_probes(c, "get", a.zero_window_seconds, run.proc.pid)
    c.send("A", win=c.win_field)
    read_request(c, "get zero window")
    answer_and_close(c, b"late\n", "get zero window")
    rc, err, st = run.wait(10)
    check(rc == 0, "get zero window: synack get exited 0 once the window opened (exit %d: %s)" % (rc, err.strip()[-300:]))
    check_delta(st, {"tcp.zero_window_probes": (len(probes), len(probes) + 1)}, "get zero window")

    section("get: a server that never ACKs the request: retransmissions, then timed_out")
    run, c = serve_one(w, a, "never-ack")
    first = c.expect(lambda t, p: len(bytes(t.payload)) > 0, 3.0)
    check(first is not None, "get never-ack: the request went out")
    sends = [(time.monotonic(), "D", first[TCP].seq)] if first else []
    sends += retransmissions(c, "get", a.retries_seconds, a.retries)
    rc, err, st = run.wait(a.retries_seconds)
    sends += retransmissions(c, "get", 0.0, 1)
    check_backoff("get", sends, a.retries)
    check(rc == 1 and "timed out" in err.lower().replace("_", " "),
          "get never-ack: synack get exited 1 with timed out (exit %d: %s)" % (rc, err.strip()[-200:]))
    check_delta(st, {"engine.connections_timed_out": 1, "tcp.rto_expirations": (a.retries, a.retries + 1)},
                "get never-ack")

    section("get: the response in one 64 KiB coalesced frame")
    if a.mtu < 65535:
        log("   skipped: the link's MTU is %d" % a.mtu)
    else:
        run, c = serve_one(w, a, "super-segment")
        read_request(c, "get super segment")
        body = bytes((i * 7 + 13) % 251 for i in range(65535 - L3_HLEN - 20 - 64))
        resp = http_response(body)
        c.send("PA", resp)
        a_ = c.expect(lambda t, p: "A" in flags_str(t) and t.ack == add(c.snd_nxt, len(resp)), 2.0)
        c.snd_nxt = add(c.snd_nxt, len(resp))
        check(a_ is not None, "get super segment: synack ACKed the %d-byte segment whole" % len(resp),
              [describe(p) for _, p in w.log[-5:]])
        c.send("FA")
        c.snd_nxt = add(c.snd_nxt, 1)
        fin = c.expect(lambda t, p: "F" in flags_str(t), 5.0)
        if fin is not None:
            c.rcv_nxt = add(fin[TCP].seq, 1)
            c.send("A")
        rc, err, st = run.wait(10)
        check(rc == 0 and open(run.body, "rb").read() == body,
              "get super segment: synack get exited 0 with the %d-byte body intact (exit %d: %s)"
              % (len(body), rc, err.strip()[-200:]))
        check_delta(st, {"tcp.bytes_beyond_window": 0, "engine.dropped_total": 0}, "get super segment")
    return finish()


def finish():
    if FAILURES:
        log("%d check(s) failed" % len(FAILURES))
        return 1
    log("ok: all checks passed")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["server", "client"])
    ap.add_argument("--iface", required=True)
    ap.add_argument("--my-ip", required=True)
    ap.add_argument("--peer-ip", required=True)
    ap.add_argument("--peer-mac", required=True, help="synack's interface's MAC address")
    ap.add_argument("--port", type=int, required=True, help="serve's port / our HTTP port")
    ap.add_argument("--port-lo", type=int, default=40000)
    ap.add_argument("--port-hi", type=int, default=40099)
    ap.add_argument("--stats", help="serve's --stats FILE")
    ap.add_argument("--pid", type=int, help="serve's pid")
    ap.add_argument("--synack", help="the synack binary (client mode)")
    ap.add_argument("--client-ns", help="the namespace synack get runs in (client mode)")
    ap.add_argument("--tmp", default="/tmp")
    ap.add_argument("--retries", type=int, default=3)
    ap.add_argument("--mtu", type=int, default=1500)
    ap.add_argument("--zero-window-seconds", type=float, default=15.0,
                    help="give up waiting for 4 persist probes after this long")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    # RTO 200 ms (rto_min), doubling: the data and `retries` retransmissions, then the last RTO.
    a.retries_seconds = sum(0.2 * 2 ** i for i in range(a.retries + 1)) * 2 + 3.0
    random.seed(a.seed)
    try:
        rc = run_server(a) if a.mode == "server" else run_client(a)
    except SystemExit as e:
        rc = e.code
    except Exception as e:  # a crash is a failure, with the trace
        import traceback
        traceback.print_exc()
        log("FAIL: the adversary crashed: %r" % e)
        rc = 1
    sys.exit(rc)


if __name__ == "__main__":
    main()
