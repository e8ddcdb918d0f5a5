#!/usr/bin/env python3
"""Turn real captures into fuzz corpus seeds (scripts/fuzz-corpus.sh runs it; stdlib only).

  pcap_to_corpus.py OUT_DIR PCAP:ROLE...

OUT_DIR/frame/cap-<sha1>: single frames for fuzz_frame, as captured (Ethernet). Frames of the
same shape (ethertype, ARP op, IP protocol and header length, TCP flags, option kinds, payload
size class) are kept at most MAX_PER_SHAPE times, so the seeds stay few and varied.

OUT_DIR/connection/cap-<sha1>: scripts for fuzz_connection (tests/fuzz/fuzz_connection.cpp reads
them byte by byte), one per TCP connection of a capture, replaying what the peer sent to one
endpoint: its segments (sequence numbers relative to what the connection expects, as the fuzzer
builds them), the time between them, and the endpoint's own sends, closes and aborts. ROLE says
which endpoints to take the view of: 'us=IP' (that address only) or 'both' (each side once).
"""
import hashlib
import os
import struct
import sys

MAX_PER_SHAPE = 4
MAX_SCRIPT = 4000          # fuzz runs use -max_len=4096
MAX_CONN_PER_PCAP = 3


def read_pcap(path):
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    end = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
    nano = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    linktype = struct.unpack(end + 'I', data[20:24])[0] & 0x0fffffff
    if linktype != 1:
        raise SystemExit('%s: not an Ethernet capture (link type %d)' % (path, linktype))
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(end + 'IIII', data[off:off + 16])
        off += 16
        out.append((sec + frac / (1e9 if nano else 1e6), data[off:off + incl]))
        off += incl
    return out


def tcp_options(b):
    opts, i = {}, 0
    while i < len(b):
        kind = b[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(b) or b[i + 1] < 2:
            break
        ln = b[i + 1]
        val = b[i + 2:i + ln]
        if kind == 2 and ln == 4:
            opts['mss'] = struct.unpack('>H', val)[0]
        elif kind == 3 and ln == 3:
            opts['ws'] = val[0]
        elif kind == 4:
            opts['sackok'] = True
        elif kind == 8 and ln == 10:
            opts['ts'] = struct.unpack('>II', val)
        else:
            opts.setdefault('other', []).append(kind)
        i += ln
    return opts


def decode(frame):
    """(shape, tcp segment dict or None) of one Ethernet frame."""
    if len(frame) < 14:
        return ('short',), None
    etype = struct.unpack('>H', frame[12:14])[0]
    if etype == 0x0806:
        op = struct.unpack('>H', frame[20:22])[0] if len(frame) >= 22 else -1
        return ('arp', op), None
    if etype != 0x0800 or len(frame) < 34:
        return ('ether', etype), None
    ip = frame[14:]
    ihl = (ip[0] & 0x0f) * 4
    total = struct.unpack('>H', ip[2:4])[0]
    proto = ip[9]
    if proto != 6 or len(ip) < ihl + 20:
        return ('ip', proto, ihl), None
    tcp = ip[ihl:total]
    sport, dport, seq, ack, offflags, win = struct.unpack('>HHIIHH', tcp[:16])
    doff = (offflags >> 12) * 4
    flags = offflags & 0x1ff
    opts = tcp_options(tcp[20:doff])
    payload = max(0, len(tcp) - doff)
    size = 0 if payload == 0 else 1 if payload < 100 else 2 if payload < 1000 else 3
    shape = ('tcp', ihl, flags, tuple(sorted(opts)), size)
    seg = dict(src=ip[12:16], dst=ip[16:20], sport=sport, dport=dport, seq=seq, ack=ack, win=win,
               syn=bool(flags & 2), fin=bool(flags & 1), rst=bool(flags & 4), psh=bool(flags & 8),
               ackf=bool(flags & 16), opts=opts, len=payload)
    return shape, seg


def save(out_dir, data):
    name = 'cap-' + hashlib.sha1(data).hexdigest()
    with open(os.path.join(out_dir, name), 'wb') as f:
        f.write(data)


def u16(v):
    return struct.pack('>H', v & 0xffff)


def u32(v):
    return struct.pack('>I', v & 0xffffffff)


def clamp(v, lo, hi):
    return max(lo, min(hi, v))


def sdiff(a, b):
    """a - b in 32-bit sequence space, signed."""
    d = (a - b) & 0xffffffff
    return d - (1 << 32) if d >= (1 << 31) else d


def script(conn, us):
    """fuzz_connection input replaying the peer's side of CONN (segments in order) towards US."""
    mine = [s for s in conn if (s['src'], s['sport']) == us]
    theirs = [s for s in conn if (s['src'], s['sport']) != us]
    if not theirs:
        return None
    first = conn[0]
    passive = (first['src'], first['sport']) != us
    syn = next((s for s in conn if s['syn']), None)
    if syn is None:
        return None
    opts = syn['opts']
    out = bytearray([255, 255, 1, 1 if 'ts' in opts else 0, 1 if 'sackok' in opts else 0, 1 if passive else 0])
    my_syn = next((s for s in mine if s['syn']), None)
    peer_syn = next((s for s in theirs if s['syn']), None)
    if not passive:
        if my_syn is None:
            return None
        out += u32(my_syn['seq'])
    out += u32(peer_syn['seq'] if peer_syn else theirs[0]['seq'])
    snd_nxt = None          # what we have sent (our SEQ space), from the capture
    expected = None         # the peer's next in-order sequence number, once synchronized
    peer_isn = peer_syn['seq'] if peer_syn else theirs[0]['seq']
    last_t = conn[0]['t']
    for s in conn:
        gap_ms = int((s['t'] - last_t) * 1000)
        if gap_ms >= 1:
            out += bytes([3]) + u16(clamp(gap_ms, 0, 0xffff))
            last_t = s['t']
        ours = (s['src'], s['sport']) == us
        if ours:
            end = (s['seq'] + s['len'] + s['syn'] + s['fin']) & 0xffffffff
            new = snd_nxt is None or sdiff(end, snd_nxt) > 0
            if s['len'] and new and not s['syn']:
                out += bytes([5]) + u16(s['len'])            # send(len)
            if s['fin'] and new:
                out += bytes([7, 1])                          # close()
            if s['rst']:
                out += bytes([7, 0])                          # abort()
            if new:
                snd_nxt = end
            continue
        flags = (s['syn'] | s['fin'] << 1 | s['rst'] << 2 | s['psh'] << 3 | s['ackf'] << 4
                 | ('mss' in s['opts']) << 5 | ('ws' in s['opts']) << 6 | ('ts' in s['opts']) << 7)
        base = expected if expected is not None else peer_isn
        out += bytes([0, flags]) + u16(clamp(sdiff(s['seq'], base), -32768, 32767))
        if s['ackf']:
            delta = sdiff(s['ack'], snd_nxt) if snd_nxt is not None else 0
            out += struct.pack('>b', clamp(delta, -128, 127))
        out += u16(s['win'])
        if 'mss' in s['opts']:
            out += u16(s['opts']['mss'])
        if 'ws' in s['opts']:
            out += bytes([s['opts']['ws']])
        if 'ts' in s['opts']:
            out += u32(s['opts']['ts'][0]) + u32(s['opts']['ts'][1])
        if not s['syn']:
            out += u16(min(s['len'], 2047))
        if s['syn']:
            expected = (s['seq'] + 1) & 0xffffffff
        elif expected is not None and s['seq'] == expected:
            expected = (expected + s['len'] + s['fin']) & 0xffffffff
        if s['len']:
            out += bytes([6])                                  # receive()
        if len(out) > MAX_SCRIPT:
            break
    return bytes(out[:MAX_SCRIPT + 64])


def main():
    out_dir = sys.argv[1]
    fdir, cdir = os.path.join(out_dir, 'frame'), os.path.join(out_dir, 'connection')
    os.makedirs(fdir, exist_ok=True)
    os.makedirs(cdir, exist_ok=True)
    shapes = {}
    nframes = nconns = 0
    for arg in sys.argv[2:]:
        path, role = arg.rsplit(':', 1)
        conns = {}
        for t, frame in read_pcap(path):
            shape, seg = decode(frame)
            if shapes.get(shape, 0) < MAX_PER_SHAPE:
                shapes[shape] = shapes.get(shape, 0) + 1
                save(fdir, frame)
                nframes += 1
            if seg is not None:
                seg['t'] = t
                a, b = (seg['src'], seg['sport']), (seg['dst'], seg['dport'])
                conns.setdefault(tuple(sorted([a, b])), []).append(seg)
        taken = 0
        for key, conn in conns.items():
            if taken >= MAX_CONN_PER_PCAP or not any(s['syn'] for s in conn):
                continue
            ends = list(key)
            if role.startswith('us='):
                ip = bytes(int(x) for x in role[3:].split('.'))
                ends = [e for e in ends if e[0] == ip]
            for us in ends:
                data = script(conn, us)
                if data:
                    save(cdir, data)
                    nconns += 1
            taken += 1
    print('pcap_to_corpus: %d frame seeds (%d shapes), %d connection seeds' % (nframes, len(shapes), nconns))


if __name__ == '__main__':
    main()
