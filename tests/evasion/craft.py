"""craft.py - a packet crafter for the evasion tests (standard library only).

Writes classic pcap files (Ethernet, microsecond timestamps) of TCP
conversations over IPv4 or IPv6, optionally VLAN-tagged (802.1Q, QinQ),
with every checksum correct unless a packet asks for a bad one. A Conn
keeps both directions' sequence numbers; a test cuts each direction's bytes
into segments, reorders, duplicates or corrupts them, and can send any TCP
segment as IP fragments (IPv4 or IPv6) cut wherever it likes.

    pc = Pcap(path)
    c = Conn(pc)
    c.handshake()
    for seq, data in c.cut(C2S, request, [3, 1, 2]):
        c.send(C2S, seq, data)
    ...
    c.close()
    pc.close()
"""
import ipaddress
import random
import struct

C2S, S2C = 0, 1
FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

ETH_IPV4, ETH_IPV6, ETH_8021Q, ETH_8021AD = 0x0800, 0x86DD, 0x8100, 0x88A8
MAC_C = b"\x02\x00\x00\x00\x00\x01"
MAC_S = b"\x02\x00\x00\x00\x00\x02"


def csum(data):
    """The Internet checksum (RFC 1071) of data."""
    if len(data) & 1:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Pcap:
    """A classic pcap file; each frame gets the next timestamp (step_us apart)."""

    def __init__(self, path, t0_us=1772416800_000000, step_us=1000):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.ts = t0_us
        self.step = step_us
        self.n = 0

    def add(self, frame):
        self.ts += self.step
        self.f.write(struct.pack("<IIII", self.ts // 1000000, self.ts % 1000000, len(frame),
                                 len(frame)))
        self.f.write(frame)
        self.n += 1

    def close(self):
        self.f.close()


def eth(payload, ethertype, src=MAC_C, dst=MAC_S, vlans=()):
    """Ethernet II; vlans outermost first. With two ids the outer tag is
    802.1ad (QinQ), the inner 802.1Q."""
    hdr = dst + src
    for i, vid in enumerate(vlans):
        tpid = ETH_8021AD if len(vlans) > 1 and i == 0 else ETH_8021Q
        hdr += struct.pack("!HH", tpid, vid & 0xFFF)
    return hdr + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload, ident=0, mf=False, frag_off=0, df=False, ttl=64,
         bad_csum=False):
    """An IPv4 header (no options) in front of payload; frag_off in bytes."""
    assert frag_off % 8 == 0
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off // 8)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, ttl, proto, 0,
                    src, dst)
    c = csum(h) ^ (0x5555 if bad_csum else 0)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def ipv6(src, dst, nh, payload, hlim=64):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, hlim, src, dst) + payload


def ipv6_frag(src, dst, nh, payload, ident, frag_off, mf):
    """One IPv6 fragment: fixed header, fragment header (44), payload piece."""
    assert frag_off % 8 == 0
    fh = struct.pack("!BBHI", nh, 0, frag_off | (1 if mf else 0), ident)
    return ipv6(src, dst, 44, fh + payload)


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", win=65535, urg=0,
        bad_csum=False):
    """A TCP header (no options) and payload; the checksum covers the IPv4
    or IPv6 pseudo-header of src/dst (4 or 16 bytes each)."""
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags,
                    win, 0, urg)
    seg = h + payload
    if len(src) == 4:
        ph = src + dst + struct.pack("!BBH", 0, 6, len(seg))
    else:
        ph = src + dst + struct.pack("!IxxxB", len(seg), 6)
    c = csum(ph + seg) ^ (0x00FF if bad_csum else 0)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


class Conn:
    """One TCP conversation between a client and a server."""

    def __init__(self, pcap, client="10.20.3.7", server="10.0.0.5", sport=51234, dport=8080,
                 vlans=(), isn=(1000000, 7000000)):
        self.pc = pcap
        self.addr = (ipaddress.ip_address(client).packed, ipaddress.ip_address(server).packed)
        self.v6 = len(self.addr[0]) == 16
        self.port = (sport, dport)
        self.vlans = tuple(vlans)
        self.isn = list(isn)
        self.nxt = [isn[0] + 1, isn[1] + 1]
        self.ident = 100

    # ---- building blocks ----------------------------------------------------

    def tcp_bytes(self, d, seq, flags, payload=b"", urg=0, bad_csum=False, ack=None):
        if ack is None:
            ack = self.nxt[1 - d]
        return tcp(self.addr[d], self.addr[1 - d], self.port[d], self.port[1 - d], seq, ack, flags,
                   payload, urg=urg, bad_csum=bad_csum)

    def l2(self, d, ip_packet):
        et = ETH_IPV6 if self.v6 else ETH_IPV4
        src, dst = (MAC_C, MAC_S) if d == C2S else (MAC_S, MAC_C)
        return eth(ip_packet, et, src, dst, self.vlans)

    def ip(self, d, l4, ip_bad_csum=False):
        if self.v6:
            return ipv6(self.addr[d], self.addr[1 - d], 6, l4)
        self.ident += 1
        return ipv4(self.addr[d], self.addr[1 - d], 6, l4, ident=self.ident, df=True,
                    bad_csum=ip_bad_csum)

    def send(self, d, seq, payload=b"", flags=PSH | ACK, urg=0, bad_csum=False, ack=None):
        """One segment as one frame."""
        self.pc.add(self.l2(d, self.ip(d, self.tcp_bytes(d, seq, flags, payload, urg, bad_csum,
                                                           ack))))

    def fragments(self, d, seq, payload=b"", flags=PSH | ACK, pieces=None):
        """The IP fragments of one segment, in offset order, as (offset, bytes)
        pieces of the L4 bytes: `pieces` lists (offset, length[, replacement])
        and defaults to 8-byte pieces. A replacement gives different bytes for
        that piece (for overlaps); the caller frames them with frag_frames."""
        l4 = self.tcp_bytes(d, seq, flags, payload)
        if pieces is None:
            pieces = [(o, min(8, len(l4) - o)) for o in range(0, len(l4), 8)]
        out = []
        for p in pieces:
            off, n = p[0], p[1]
            data = p[2] if len(p) > 2 else l4[off:off + n]
            out.append((off, data, off + n < len(l4)))
        return l4, out

    def frag_frames(self, d, frags, ident):
        """Frames for (offset, bytes, more_fragments) pieces of one datagram."""
        out = []
        for off, data, mf in frags:
            if self.v6:
                pkt = ipv6_frag(self.addr[d], self.addr[1 - d], 6, data, ident, off, mf)
            else:
                pkt = ipv4(self.addr[d], self.addr[1 - d], 6, data, ident=ident, mf=mf,
                           frag_off=off)
            out.append(self.l2(d, pkt))
        return out

    def cut(self, d, data, sizes):
        """(seq, bytes) pieces of data cut by the repeating size list, from
        this direction's next sequence number, which moves past data."""
        out, pos, i = [], 0, 0
        while pos < len(data):
            n = sizes[i % len(sizes)]
            out.append((self.nxt[d] + pos, data[pos:pos + n]))
            pos += n
            i += 1
        self.nxt[d] += len(data)
        return out

    # ---- whole exchanges ----------------------------------------------------

    def handshake(self):
        self.send(C2S, self.isn[0], flags=SYN, ack=0)
        self.send(S2C, self.isn[1], flags=SYN | ACK)
        self.send(C2S, self.nxt[0], flags=ACK)

    def stream(self, d, data, mss=1400):
        """data in order, mss bytes a segment, each acknowledged."""
        for seq, piece in self.cut(d, data, [mss]):
            self.send(d, seq, piece)
            self.send(1 - d, self.nxt[1 - d], flags=ACK)

    def close(self):
        self.send(C2S, self.nxt[0], flags=FIN | ACK)
        self.nxt[0] += 1
        self.send(S2C, self.nxt[1], flags=FIN | ACK)
        self.nxt[1] += 1
        self.send(C2S, self.nxt[0], flags=ACK)


def shuffled(items, seed):
    out = list(items)
    random.Random(seed).shuffle(out)
    return out
