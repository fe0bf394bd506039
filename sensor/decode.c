/* decode.c - link, network and transport decoding of one captured packet.
 *
 * In: p->data/caplen/wirelen/linktype/ts_us from capture. Out: the layer
 * fields of struct packet and a result (OK, HELD for a kept IP fragment,
 * DROP), with every packet counted in struct decode_stats and every drop
 * counted by its reason. Nothing is allocated per packet; fragments go to
 * the defragmenter (defrag.c), which allocates only for what it holds.
 *
 * Every field is read through rd8/rd16/rd32, which return 0 past the end of
 * the captured bytes, after a length check that counts the right reason:
 * nothing is ever read past caplen.
 *
 * Link types (DLT numbers, copied so that only capture.c includes pcap):
 * EN10MB, NULL and LOOP (family in either byte order), RAW, IPV4, IPV6,
 * LINUX_SLL, LINUX_SLL2, PPP, PPP_SERIAL and C_HDLC. On Ethernet-like links:
 * 802.1Q/802.1ad/0x9100/0x9200 tags (the first PKT_MAX_VLAN ids kept, more
 * counted as vlan_too_many and skipped), MPLS stacks (the payload after the
 * bottom label is told by its version nibble) and PPPoE sessions.
 *
 * Decisions:
 * - Lengths come from the headers, not from caplen. Trailing link padding
 *   past the IPv4 total length / IPv6 payload length is ignored. A header
 *   claiming more bytes than were on the wire (wirelen) is malformed
 *   (ipv4_bad_totlen, ipv6_truncated). A packet cut short by the snap length
 *   (caplen < wirelen) is still delivered when its L4 header is whole:
 *   l3_len and payload_len then cover only the captured bytes (so
 *   payload_len can be less than the header says; compare caplen with
 *   wirelen to tell) and the L4 checksum is not verified. A header that is
 *   not whole is a drop counted as <layer>_truncated.
 * - A fragment must be captured whole to be held (else <ip>_truncated).
 *   An atomic IPv6 fragment (offset 0, no M) is decoded as a plain packet.
 * - p->vlan_n is the number of ids stored, never more than PKT_MAX_VLAN.
 * - IPv6 walks at most DECODE_MAX_EXTHDR extension headers; more, a
 *   hop-by-hop header that is not first, or one reaching past the payload
 *   length is ipv6_bad_exthdr. ESP and no-next-header end the chain and
 *   are delivered as other_l4 with the rest as payload.
 * - Bad checksums (cfg->verify_checksums) are counted and flagged in
 *   p->csum_bad but the packet is still delivered: the consumer decides.
 *   A zero UDP checksum means "none" in IPv4 and is bad in IPv6. The L4
 *   sum over IPv6 uses the final destination a routing header names.
 *   ICMP/ICMPv6 sums are not verified (nothing downstream uses ICMP data).
 * - Non-IP traffic (ARP, LLDP, ...) is DROP counted in non_ip; an ethertype
 *   or link protocol we do not know at all is counted ethertype_unknown too.
 * - Raw links and MPLS payloads guess the version from the first nibble; a
 *   nibble that is neither 4 nor 6 is ipv4_bad_version, no byte at all is
 *   ipv4_truncated (raw) or mpls_truncated (MPLS).
 * - IP-in-IP (4, 41) is decapsulated, up to DECODE_MAX_IP_DEPTH IP headers;
 *   p then describes the inner packet. Deeper nesting and GRE are counted
 *   tunnel_unsupported and delivered as the outer flow (other_l4).
 * - ipv4/ipv6 count IP headers decoded (a tunnelled packet counts twice, a
 *   reassembled datagram not again); tcp/udp/icmp/other_l4 count delivered
 *   L4 packets; vlan and mpls count packets carrying tags or labels. */
#include "sensor/decode.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/defrag.h"

/* libpcap's DLT_* numbers */
enum {
    LINK_NULL = 0,
    LINK_EN10MB = 1,
    LINK_PPP = 9,
    LINK_RAW = 12,
    LINK_RAW_OPENBSD = 14,
    LINK_PPP_SERIAL = 50,
    LINK_RAW_LINKTYPE = 101,
    LINK_C_HDLC = 104,
    LINK_LOOP = 108,
    LINK_LINUX_SLL = 113,
    LINK_IPV4 = 228,
    LINK_IPV6 = 229,
    LINK_LINUX_SLL2 = 276,
};

enum {
    ETH_IPV4 = 0x0800,
    ETH_IPV6 = 0x86dd,
    ETH_VLAN = 0x8100,
    ETH_QINQ = 0x88a8,
    ETH_QINQ_OLD = 0x9100,
    ETH_QINQ_OLD2 = 0x9200,
    ETH_MPLS = 0x8847,
    ETH_MPLS_MC = 0x8848,
    ETH_PPPOE_SESS = 0x8864,
};

enum { PPP_IPV4 = 0x0021, PPP_IPV6 = 0x0057 };

#define DECODE_MAX_IP_DEPTH 2 /* outer + one tunnelled IP header */
#define DECODE_MAX_EXTHDR 8   /* IPv6 extension headers walked per header chain */

struct decoder {
    struct decode_config cfg;
    struct decode_stats st;
    struct defrag *df;
};

/* What an L4 checksum's pseudo header needs. */
struct pseudo {
    const uint8_t *src, *dst; /* 4 or 16 bytes; dst is the final destination */
    int ver;
};

static const char *const event_names[] = {
#define DECODE_NAME(n, s) s,
    DECODE_EVENTS(DECODE_NAME)
#undef DECODE_NAME
};

const char *decode_event_name(enum decode_event ev)
{
    if ((unsigned)ev >= DECODE_EVENT_MAX) return "unknown";
    return event_names[ev];
}

void decode_config_default(struct decode_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->defrag.memcap = 32u << 20;
    cfg->defrag.max_datagrams = 4096;
    cfg->defrag.max_frags = 256;
    cfg->defrag.timeout_us = 30u * 1000000u;
    cfg->verify_checksums = 1;
}

struct decoder *decoder_new(const struct decode_config *cfg)
{
    struct decoder *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    if (cfg)
        d->cfg = *cfg;
    else
        decode_config_default(&d->cfg);
    d->df = defrag_new(&d->cfg.defrag, d->st.ev);
    if (!d->df) {
        free(d);
        return NULL;
    }
    return d;
}

void decoder_free(struct decoder *d)
{
    if (!d) return;
    defrag_free(d->df);
    free(d);
}

const struct decode_stats *decoder_stats(const struct decoder *d)
{
    return &d->st;
}

uint64_t decoder_memuse(const struct decoder *d)
{
    return d ? defrag_memuse(d->df) : 0;
}

void decoder_expire(struct decoder *d, uint64_t now_us)
{
    defrag_expire(d->df, now_us);
}

/* ---- bounds-checked readers: 0 past len, never a read past it ---------------- */

static inline uint8_t rd8(const uint8_t *b, uint32_t len, uint32_t off)
{
    return off < len ? b[off] : 0;
}

static inline uint16_t rd16(const uint8_t *b, uint32_t len, uint32_t off)
{
    if (off > len || len - off < 2) return 0;
    return (uint16_t)((uint32_t)b[off] << 8 | b[off + 1]);
}

static inline uint32_t rd32(const uint8_t *b, uint32_t len, uint32_t off)
{
    if (off > len || len - off < 4) return 0;
    return (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 | (uint32_t)b[off + 2] << 8 |
           b[off + 3];
}

/* Copies n bytes at off into dst, or zeroes dst when they are not all there. */
static inline void rdcopy(void *dst, const uint8_t *b, uint32_t len, uint32_t off, uint32_t n)
{
    if (off > len || len - off < n)
        memset(dst, 0, n);
    else
        memcpy(dst, b + off, n);
}

static enum decode_result drop(struct decoder *d, enum decode_event ev)
{
    d->st.ev[ev]++;
    return DECODE_DROP;
}

static enum decode_result non_ip(struct decoder *d, int unknown)
{
    d->st.non_ip++;
    if (unknown) d->st.ev[DEC_ETHERTYPE_UNKNOWN]++;
    return DECODE_DROP;
}

/* Non-IP ethertypes seen on ordinary networks: dropped as non_ip without
 * counting them as unknown. */
static int ethertype_known(uint16_t t)
{
    if (t <= 1500) /* 802.3 length: LLC/SNAP, STP, CDP, ... */
        return 1;
    switch (t) {
    case 0x0806: /* ARP */
    case 0x0842: /* Wake-on-LAN */
    case 0x8035: /* RARP */
    case 0x8137: /* IPX */
    case 0x8809: /* slow protocols (LACP) */
    case 0x8863: /* PPPoE discovery */
    case 0x888e: /* EAPOL */
    case 0x88cc: /* LLDP */
    case 0x88e5: /* MACsec */
    case 0x88f7: /* PTP */
    case 0x8902: /* CFM */
    case 0x8906: /* FCoE */
    case 0x9000: /* loopback */
        return 1;
    default:
        return 0;
    }
}

/* ---- checksums ------------------------------------------------------------- */

/* Ones' complement sum in the host's byte order, eight bytes a step
 * (RFC 1071: the sum is byte-order independent, and 0xffff, the only value
 * compared, reads the same both ways). Every chunk but the last must have
 * an even length. */
static uint64_t sum_bytes(uint64_t s, const uint8_t *b, uint32_t len)
{
    if (len >= 32) {
        /* whole 64-bit words with their carries (2^64 = 1 mod 0xffff, so a
         * carry out adds back in as 1), four independent chains a step */
        uint64_t a[4] = {0, 0, 0, 0}, c = 0;
        for (; len >= 32; b += 32, len -= 32)
            for (int k = 0; k < 4; k++) {
                uint64_t w;
                memcpy(&w, b + 8 * k, 8);
                a[k] += w;
                c += a[k] < w;
            }
        for (int k = 0; k < 4; k++)
            s += (a[k] & 0xffffffffu) + (a[k] >> 32);
        s += c;
    }
    for (; len >= 8; b += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        s += (w & 0xffffffffu) + (w >> 32);
    }
    if (len >= 4) {
        uint32_t w;
        memcpy(&w, b, 4);
        s += w;
        b += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        memcpy(&w, b, 2);
        s += w;
        b += 2;
        len -= 2;
    }
    if (len) {
        uint8_t tail[2] = {b[0], 0};
        uint16_t w;
        memcpy(&w, tail, 2);
        s += w;
    }
    return s;
}

static uint16_t fold(uint64_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* 1 when the L4 segment l4[0..len) sums to 0xffff with its pseudo header. */
static int l4_csum_ok(const struct pseudo *ph, uint8_t proto, const uint8_t *l4, uint32_t len)
{
    uint32_t alen = ph->ver == 4 ? 4 : 16;
    /* the IPv6 layout of length and protocol sums the same as IPv4's */
    const uint8_t lp[8] = {(uint8_t)(len >> 24),
                           (uint8_t)(len >> 16),
                           (uint8_t)(len >> 8),
                           (uint8_t)len,
                           0,
                           0,
                           0,
                           proto};
    uint64_t s = sum_bytes(0, ph->src, alen);
    s = sum_bytes(s, ph->dst, alen);
    s = sum_bytes(s, lp, 8);
    s = sum_bytes(s, l4, len);
    return fold(s) == 0xffff;
}

/* ---- transport ------------------------------------------------------------- */

static enum decode_result decode_ip(struct decoder *d, struct packet *p, const uint8_t *b,
                                    uint32_t cap, uint32_t wire, int ver, unsigned depth,
                                    int reasm);

/* l4[0..cap) captured of the wire bytes l4[0..wire) the IP header claims. */
static enum decode_result decode_l4(struct decoder *d, struct packet *p, const uint8_t *l4,
                                    uint32_t cap, uint32_t wire, const struct pseudo *ph,
                                    unsigned depth)
{
    int whole = cap >= wire;
    switch (p->proto) {
    case 6: {
        if (wire < 20 || cap < 20) return drop(d, DEC_TCP_TRUNCATED);
        uint32_t doff = (uint32_t)(rd8(l4, cap, 12) >> 4) * 4;
        if (doff < 20 || doff > wire) return drop(d, DEC_TCP_BAD_HLEN);
        if (doff > cap) return drop(d, DEC_TCP_TRUNCATED);
        d->st.tcp++;
        p->sport = rd16(l4, cap, 0);
        p->dport = rd16(l4, cap, 2);
        p->seq = rd32(l4, cap, 4);
        p->ack = rd32(l4, cap, 8);
        p->tcp_flags = rd8(l4, cap, 13);
        p->tcp_win = rd16(l4, cap, 14);
        p->urg_ptr = rd16(l4, cap, 18);
        p->payload = l4 + doff;
        p->payload_len = (whole ? wire : cap) - doff;
        if (d->cfg.verify_checksums && whole && !l4_csum_ok(ph, 6, l4, wire)) {
            d->st.ev[DEC_TCP_BAD_CSUM]++;
            p->csum_bad = 1;
        }
        return DECODE_OK;
    }
    case 17: {
        if (wire < 8 || cap < 8) return drop(d, DEC_UDP_TRUNCATED);
        uint32_t ulen = rd16(l4, cap, 4);
        if (ulen < 8 || ulen > wire) return drop(d, DEC_UDP_BAD_LEN);
        d->st.udp++;
        p->sport = rd16(l4, cap, 0);
        p->dport = rd16(l4, cap, 2);
        p->payload = l4 + 8;
        p->payload_len = (cap < ulen ? cap : ulen) - 8;
        if (d->cfg.verify_checksums && cap >= ulen) {
            uint16_t c = rd16(l4, cap, 6);
            if ((c == 0 && ph->ver == 6) || (c != 0 && !l4_csum_ok(ph, 17, l4, ulen))) {
                d->st.ev[DEC_UDP_BAD_CSUM]++;
                p->csum_bad = 1;
            }
        }
        return DECODE_OK;
    }
    case 1:
    case 58:
        if (wire < 8 || cap < 8) return drop(d, DEC_ICMP_TRUNCATED);
        d->st.icmp++;
        p->sport = rd8(l4, cap, 0);
        p->dport = rd8(l4, cap, 1);
        p->payload = l4 + 8;
        p->payload_len = (whole ? wire : cap) - 8;
        return DECODE_OK;
    case 4:
    case 41:
        if (depth + 1 < DECODE_MAX_IP_DEPTH)
            return decode_ip(d, p, l4, whole ? wire : cap, wire, p->proto == 4 ? 4 : 6, depth + 1,
                             0);
        d->st.ev[DEC_TUNNEL_UNSUPPORTED]++;
        break;
    case 47: /* GRE */
        d->st.ev[DEC_TUNNEL_UNSUPPORTED]++;
        break;
    default:
        break;
    }
    d->st.other_l4++;
    p->payload = l4;
    p->payload_len = whole ? wire : cap;
    return DECODE_OK;
}

/* ---- network --------------------------------------------------------------- */

static void key_init(struct defrag_key *k, const struct packet *p, uint32_t id)
{
    memset(k, 0, sizeof(*k));
    memcpy(k->src, p->src.a, 16);
    memcpy(k->dst, p->dst.a, 16);
    k->id = id;
    for (unsigned i = 0; i < PKT_MAX_VLAN && i < p->vlan_n; i++)
        k->vlan[i] = p->vlan[i];
    k->vlan_n = p->vlan_n;
    k->ver = p->ip_ver;
    k->proto = p->proto;
}

/* Decodes the datagram defrag just completed (it owns the bytes). */
static enum decode_result decode_reassembled(struct decoder *d, struct packet *p, const uint8_t *b,
                                             uint32_t len, int ver, unsigned depth)
{
    p->reassembled = 1;
    return decode_ip(d, p, b, len, len, ver, depth, 1);
}

static enum decode_result decode_ipv4(struct decoder *d, struct packet *p, const uint8_t *b,
                                      uint32_t cap, uint32_t wire, unsigned depth, int reasm)
{
    uint8_t vh = rd8(b, cap, 0);
    if (cap >= 1 && vh >> 4 != 4) return drop(d, DEC_IPV4_BAD_VERSION);
    if (cap < 20) return drop(d, DEC_IPV4_TRUNCATED);
    uint32_t hlen = (uint32_t)(vh & 0x0f) * 4;
    if (hlen < 20) return drop(d, DEC_IPV4_BAD_HLEN);
    if (cap < hlen) return drop(d, DEC_IPV4_TRUNCATED);
    uint32_t totlen = rd16(b, cap, 2);
    if (totlen < hlen || totlen > wire) return drop(d, DEC_IPV4_BAD_TOTLEN);
    if (!reasm) d->st.ipv4++;

    p->ip_ver = 4;
    p->ttl = rd8(b, cap, 8);
    p->proto = rd8(b, cap, 9);
    memset(p->src.a, 0, 10);
    p->src.a[10] = p->src.a[11] = 0xff;
    memcpy(p->dst.a, p->src.a, 12);
    rdcopy(p->src.a + 12, b, cap, 12, 4);
    rdcopy(p->dst.a + 12, b, cap, 16, 4);
    uint32_t avail = cap < totlen ? cap : totlen;
    p->l3 = b;
    p->l3_len = avail;
    p->payload = b + hlen;
    p->payload_len = avail - hlen;

    if (d->cfg.verify_checksums && !reasm && fold(sum_bytes(0, b, hlen)) != 0xffff) {
        d->st.ev[DEC_IPV4_BAD_CSUM]++;
        p->csum_bad = 1;
    }

    uint16_t frag = rd16(b, cap, 6);
    if (frag & 0x3fff) {
        if (reasm) return drop(d, DEC_FRAG_BAD);
        if (cap < totlen) return drop(d, DEC_IPV4_TRUNCATED);
        struct defrag_key k;
        key_init(&k, p, rd16(b, cap, 4));
        struct defrag_frag f = {b,
                                hlen,
                                0,
                                (uint32_t)(frag & 0x1fff) * 8,
                                b + hlen,
                                totlen - hlen,
                                (frag & 0x2000) != 0};
        const uint8_t *out;
        uint32_t out_len;
        switch (defrag_add(d->df, &k, &f, p->ts_us, &out, &out_len)) {
        case DEFRAG_HELD:
            return DECODE_HELD;
        case DEFRAG_DONE:
            return decode_reassembled(d, p, out, out_len, 4, depth);
        default:
            return DECODE_DROP;
        }
    }
    struct pseudo ph = {b + 12, b + 16, 4};
    return decode_l4(d, p, b + hlen, avail - hlen, totlen - hlen, &ph, depth);
}

static enum decode_result decode_ipv6(struct decoder *d, struct packet *p, const uint8_t *b,
                                      uint32_t cap, uint32_t wire, unsigned depth, int reasm)
{
    if (cap >= 1 && rd8(b, cap, 0) >> 4 != 6) return drop(d, DEC_IPV6_BAD_VERSION);
    if (cap < 40) return drop(d, DEC_IPV6_TRUNCATED);
    uint32_t totlen = 40 + (uint32_t)rd16(b, cap, 4);
    if (totlen > wire) return drop(d, DEC_IPV6_TRUNCATED);
    if (!reasm) d->st.ipv6++;

    p->ip_ver = 6;
    p->ttl = rd8(b, cap, 7);
    rdcopy(p->src.a, b, cap, 8, 16);
    rdcopy(p->dst.a, b, cap, 24, 16);
    uint32_t avail = cap < totlen ? cap : totlen;
    p->l3 = b;
    p->l3_len = avail;
    p->payload = b + 40;
    p->payload_len = avail - 40;

    uint8_t nh = rd8(b, cap, 6);
    uint32_t off = 40, nh_off = 6;
    const uint8_t *final_dst = b + 24;
    unsigned n = 0;
    for (;;) {
        uint32_t elen;
        switch (nh) {
        case 0:   /* hop-by-hop options */
        case 43:  /* routing */
        case 44:  /* fragment */
        case 51:  /* AH */
        case 60:  /* destination options */
        case 135: /* mobility */
        case 139: /* HIP */
        case 140: /* shim6 */
            break;
        default: /* ESP (50), no next header (59) and every L4 end the chain */
            goto l4;
        }
        if (nh == 0 && off != 40) return drop(d, DEC_IPV6_BAD_EXTHDR);
        if (++n > DECODE_MAX_EXTHDR || totlen - off < 8) return drop(d, DEC_IPV6_BAD_EXTHDR);
        if (avail - off < 8) return drop(d, DEC_IPV6_TRUNCATED);
        if (nh == 44)
            elen = 8;
        else if (nh == 51)
            elen = ((uint32_t)rd8(b, cap, off + 1) + 2) * 4;
        else
            elen = ((uint32_t)rd8(b, cap, off + 1) + 1) * 8;
        if (totlen - off < elen) return drop(d, DEC_IPV6_BAD_EXTHDR);
        if (avail - off < elen) return drop(d, DEC_IPV6_TRUNCATED);

        if (nh == 43 && rd8(b, cap, off + 3) > 0) {
            /* The L4 checksum uses the final destination, not the next hop. */
            uint8_t type = rd8(b, cap, off + 2);
            uint32_t naddr = (elen - 8) / 16;
            if ((type == 0 || type == 2) && naddr > 0)
                final_dst = b + off + 8 + (naddr - 1) * 16;
            else if (type == 4 && naddr > 0) /* SRH: segment list[0] is the last hop */
                final_dst = b + off + 8;
        } else if (nh == 44) {
            uint16_t fo = rd16(b, cap, off + 2);
            uint8_t fnh = rd8(b, cap, off);
            if ((fo & 0xfff9) != 0) {
                /* a real fragment (an atomic one, RFC 6946, is just skipped) */
                if (reasm) return drop(d, DEC_FRAG_BAD);
                if (cap < totlen) return drop(d, DEC_IPV6_TRUNCATED);
                p->proto = fnh;
                struct defrag_key k;
                key_init(&k, p, rd32(b, cap, off + 4));
                struct defrag_frag f = {
                    b, off, nh_off, fo & 0xfff8u, b + off + 8, totlen - off - 8, fo & 1};
                const uint8_t *out;
                uint32_t out_len;
                switch (defrag_add(d->df, &k, &f, p->ts_us, &out, &out_len)) {
                case DEFRAG_HELD:
                    return DECODE_HELD;
                case DEFRAG_DONE:
                    return decode_reassembled(d, p, out, out_len, 6, depth);
                default:
                    return DECODE_DROP;
                }
            }
        }
        nh_off = off;
        nh = rd8(b, cap, off);
        off += elen;
    }
l4:
    p->proto = nh;
    p->payload = b + off;
    p->payload_len = avail - off;
    struct pseudo ph = {b + 8, final_dst, 6};
    return decode_l4(d, p, b + off, avail - off, totlen - off, &ph, depth);
}

/* ver: 4 or 6 when the link said so, 0 to tell by the version nibble. */
static enum decode_result decode_ip(struct decoder *d, struct packet *p, const uint8_t *b,
                                    uint32_t cap, uint32_t wire, int ver, unsigned depth, int reasm)
{
    if (wire < cap) wire = cap;
    if (ver == 0) {
        if (cap == 0) return drop(d, DEC_IPV4_TRUNCATED);
        uint8_t nib = rd8(b, cap, 0) >> 4;
        if (nib == 4)
            ver = 4;
        else if (nib == 6)
            ver = 6;
        else
            return drop(d, DEC_IPV4_BAD_VERSION);
    }
    return ver == 4 ? decode_ipv4(d, p, b, cap, wire, depth, reasm)
                    : decode_ipv6(d, p, b, cap, wire, depth, reasm);
}

/* ---- link ------------------------------------------------------------------ */

/* Bytes on the wire from off on, as far as the capture tells. */
static uint32_t wire_from(const struct packet *p, uint32_t off)
{
    uint32_t w = p->wirelen > p->caplen ? p->wirelen : p->caplen;
    return w - off;
}

static enum decode_result decode_l3_at(struct decoder *d, struct packet *p, uint32_t off, int ver)
{
    return decode_ip(d, p, p->data + off, p->caplen - off, wire_from(p, off), ver, 0, 0);
}

static enum decode_result decode_ppp_proto(struct decoder *d, struct packet *p, uint32_t off,
                                           uint16_t proto)
{
    if (proto == PPP_IPV4) return decode_l3_at(d, p, off, 4);
    if (proto == PPP_IPV6) return decode_l3_at(d, p, off, 6);
    /* control protocols (LCP, IPCP, CHAP, ... >= 0x8000) are PPP's own
     * business; a network protocol other than IP is unexpected here */
    return non_ip(d, proto < 0x8000);
}

/* Dispatches on an ethertype at off, through VLAN tags, MPLS and PPPoE. */
static enum decode_result decode_ethertype(struct decoder *d, struct packet *p, uint32_t off,
                                           uint16_t type)
{
    const uint8_t *b = p->data;
    uint32_t len = p->caplen;
    int tagged = 0, too_many = 0;
    for (;;) {
        switch (type) {
        case ETH_VLAN:
        case ETH_QINQ:
        case ETH_QINQ_OLD:
        case ETH_QINQ_OLD2:
            if (len - off < 4) return drop(d, DEC_VLAN_TRUNCATED);
            if (!tagged) {
                tagged = 1;
                d->st.vlan++;
            }
            if (p->vlan_n < PKT_MAX_VLAN) {
                p->vlan[p->vlan_n++] = rd16(b, len, off) & 0x0fff;
            } else if (!too_many) {
                too_many = 1;
                d->st.ev[DEC_VLAN_TOO_MANY]++;
            }
            type = rd16(b, len, off + 2);
            off += 4;
            continue;
        case ETH_MPLS:
        case ETH_MPLS_MC: {
            d->st.mpls++;
            for (;;) {
                if (len - off < 4) return drop(d, DEC_MPLS_TRUNCATED);
                uint32_t lse = rd32(b, len, off);
                off += 4;
                if (lse & 0x100) /* bottom of stack */
                    break;
            }
            if (len - off < 1) return drop(d, DEC_MPLS_TRUNCATED);
            uint8_t nib = rd8(b, len, off) >> 4;
            if (nib == 4 || nib == 6) return decode_l3_at(d, p, off, nib);
            /* pseudowire control word, Ethernet over MPLS, ... */
            return non_ip(d, 1);
        }
        case ETH_PPPOE_SESS:
            if (len - off < 8) return drop(d, DEC_PPP_TRUNCATED);
            return decode_ppp_proto(d, p, off + 8, rd16(b, len, off + 6));
        case ETH_IPV4:
            return decode_l3_at(d, p, off, 4);
        case ETH_IPV6:
            return decode_l3_at(d, p, off, 6);
        default:
            return non_ip(d, !ethertype_known(type));
        }
    }
}

static enum decode_result decode_null(struct decoder *d, struct packet *p)
{
    if (p->caplen < 4) return drop(d, DEC_NULL_TRUNCATED);
    /* host byte order of the capturing machine (NULL) or network (LOOP);
     * families are small, so a value with high bits set is the other order */
    uint32_t fam = rd32(p->data, p->caplen, 0);
    if (fam & 0xffff0000u) fam = __builtin_bswap32(fam);
    switch (fam) {
    case 2:
        return decode_l3_at(d, p, 4, 4);
    case 10: /* Linux */
    case 24: /* NetBSD, OpenBSD */
    case 28: /* FreeBSD */
    case 30: /* Darwin */
        return decode_l3_at(d, p, 4, 6);
    default:
        return non_ip(d, 1);
    }
}

static enum decode_result decode_ppp(struct decoder *d, struct packet *p)
{
    const uint8_t *b = p->data;
    uint32_t len = p->caplen, off = 0;
    if (len < 1) return drop(d, DEC_PPP_TRUNCATED);
    uint8_t a = rd8(b, len, 0);
    if (p->linktype != LINK_PPP && (a == 0x0f || a == 0x8f)) {
        /* Cisco HDLC framing inside PPP_SERIAL: address, control, ethertype */
        if (len < 4) return drop(d, DEC_PPP_TRUNCATED);
        return decode_ethertype(d, p, 4, rd16(b, len, 2));
    }
    if (a == 0xff) { /* address and control fields present */
        if (len < 2) return drop(d, DEC_PPP_TRUNCATED);
        off = 2;
    }
    if (len - off < 1) return drop(d, DEC_PPP_TRUNCATED);
    uint16_t proto;
    if (rd8(b, len, off) & 1) { /* protocol field compressed to one byte */
        proto = rd8(b, len, off);
        off += 1;
    } else {
        if (len - off < 2) return drop(d, DEC_PPP_TRUNCATED);
        proto = rd16(b, len, off);
        off += 2;
    }
    return decode_ppp_proto(d, p, off, proto);
}

enum decode_result decode_packet(struct decoder *d, struct packet *p)
{
    memset((uint8_t *)p + offsetof(struct packet, vlan), 0,
           sizeof(*p) - offsetof(struct packet, vlan));
    d->st.pkts++;
    d->st.bytes += p->wirelen > p->caplen ? p->wirelen : p->caplen;
    defrag_expire(d->df, p->ts_us);
    if (!p->data) p->caplen = 0;

    const uint8_t *b = p->data;
    uint32_t len = p->caplen;
    switch (p->linktype) {
    case LINK_EN10MB:
        if (len < 14) return drop(d, DEC_ETH_TRUNCATED);
        return decode_ethertype(d, p, 14, rd16(b, len, 12));
    case LINK_NULL:
    case LINK_LOOP:
        return decode_null(d, p);
    case LINK_RAW:
    case LINK_RAW_OPENBSD:
    case LINK_RAW_LINKTYPE:
        return decode_l3_at(d, p, 0, 0);
    case LINK_IPV4:
        return decode_l3_at(d, p, 0, 4);
    case LINK_IPV6:
        return decode_l3_at(d, p, 0, 6);
    case LINK_LINUX_SLL:
    case LINK_LINUX_SLL2: {
        int v2 = p->linktype == LINK_LINUX_SLL2;
        if (len < (v2 ? 20u : 16u)) return drop(d, DEC_SLL_TRUNCATED);
        uint16_t hatype = rd16(b, len, v2 ? 8 : 2);
        uint16_t proto = rd16(b, len, v2 ? 0 : 14);
        if (hatype == 824) /* netlink: protocol is a netlink family */
            return non_ip(d, 0);
        return decode_ethertype(d, p, v2 ? 20 : 16, proto);
    }
    case LINK_C_HDLC:
        if (len < 4) return drop(d, DEC_PPP_TRUNCATED);
        return decode_ethertype(d, p, 4, rd16(b, len, 2));
    case LINK_PPP:
    case LINK_PPP_SERIAL:
        return decode_ppp(d, p);
    default:
        return drop(d, DEC_LINK_UNSUPPORTED);
    }
}
