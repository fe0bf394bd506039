/* test_decode.c - the decoder on hand-built packets.
 *
 * Every packet is composed layer by layer in a byte array; each layer
 * records the length below which a capture cut there must be dropped and
 * by which reason. Every good packet is then decoded whole (every field
 * checked) and cut at every length from 0 to full (never a crash under
 * ASan, the right reason counted, or a delivered packet with the captured
 * part of its payload). Checksums are computed here, independently. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sensor/decode.h"

enum { ETHT_IPV4 = 0x0800, ETHT_IPV6 = 0x86dd, ETHT_ARP = 0x0806 };

static const uint8_t SRC4[4] = {10, 1, 2, 3}, DST4[4] = {192, 168, 7, 9};
static const uint8_t SRC6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t DST6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t FIN6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};

#define T_SPORT 51234
#define T_DPORT 8080
#define T_SEQ 0x11223344u
#define T_ACK 0x55667788u
#define T_FLAGS (0x08 | 0x10 | 0x20) /* PSH ACK URG */
#define T_WIN 29200
#define T_URG 7
#define U_SPORT 5353
#define U_DPORT 53

/* ---- checksums, computed independently of the decoder --------------------- */

static uint32_t sum16(uint32_t s, const uint8_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        s += (i & 1) ? b[i] : (uint32_t)b[i] << 8;
    return s;
}

static uint16_t finish(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void wr16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static void fix_ip4_csum(uint8_t *ip)
{
    uint32_t hlen = (uint32_t)(ip[0] & 15) * 4;
    ip[10] = ip[11] = 0;
    wr16(ip + 10, finish(sum16(0, ip, hlen)));
}

/* ---- L4 segments ---------------------------------------------------------- */

struct seg {
    uint8_t b[1600];
    uint32_t n, hlen;
    uint8_t proto;
};

static void seg_tcp(struct seg *s, uint32_t optlen, const char *payload)
{
    uint32_t doff = 20 + optlen, pl = (uint32_t)strlen(payload);
    memset(s, 0, sizeof(*s));
    uint8_t *b = s->b;
    wr16(b, T_SPORT);
    wr16(b + 2, T_DPORT);
    b[4] = 0x11, b[5] = 0x22, b[6] = 0x33, b[7] = 0x44;
    b[8] = 0x55, b[9] = 0x66, b[10] = 0x77, b[11] = 0x88;
    b[12] = (uint8_t)((doff / 4) << 4);
    b[13] = T_FLAGS;
    wr16(b + 14, T_WIN);
    wr16(b + 18, T_URG);
    for (uint32_t i = 0; i < optlen; i++) /* NOPs, then a timestamp when room */
        b[20 + i] = 1;
    if (optlen >= 12) {
        b[22] = 8, b[23] = 10;
        b[24] = 0xde, b[25] = 0xad;
    }
    memcpy(b + doff, payload, pl);
    s->n = doff + pl;
    s->hlen = doff;
    s->proto = 6;
}

static void seg_udp(struct seg *s, const char *payload)
{
    uint32_t pl = (uint32_t)strlen(payload);
    memset(s, 0, sizeof(*s));
    wr16(s->b, U_SPORT);
    wr16(s->b + 2, U_DPORT);
    wr16(s->b + 4, (uint16_t)(8 + pl));
    memcpy(s->b + 8, payload, pl);
    s->n = 8 + pl;
    s->hlen = 8;
    s->proto = 17;
}

static void seg_icmp(struct seg *s, uint8_t proto, uint8_t type, uint8_t code, const char *payload)
{
    uint32_t pl = (uint32_t)strlen(payload);
    memset(s, 0, sizeof(*s));
    s->b[0] = type;
    s->b[1] = code;
    wr16(s->b + 4, 0x1234);
    wr16(s->b + 6, 1);
    memcpy(s->b + 8, payload, pl);
    s->n = 8 + pl;
    s->hlen = 8;
    s->proto = proto;
}

static void seg_other(struct seg *s, uint8_t proto, const char *payload)
{
    memset(s, 0, sizeof(*s));
    s->n = (uint32_t)strlen(payload);
    memcpy(s->b, payload, s->n);
    s->proto = proto;
}

/* Fills the checksum field of s for the pseudo header (ver, src, dst). */
static void seg_csum(struct seg *s, int ver, const uint8_t *src, const uint8_t *dst)
{
    uint32_t at;
    int pseudo = 1;
    switch (s->proto) {
    case 6:
        at = 16;
        break;
    case 17:
        at = 6;
        break;
    case 1:
        at = 2, pseudo = 0;
        break;
    case 58:
        at = 2;
        break;
    default:
        return;
    }
    s->b[at] = s->b[at + 1] = 0;
    uint32_t sum = 0, alen = ver == 4 ? 4 : 16;
    if (pseudo) {
        sum = sum16(sum, src, alen);
        sum = sum16(sum, dst, alen);
        sum += s->proto + s->n;
    }
    sum = sum16(sum, s->b, s->n);
    uint16_t c = finish(sum);
    if (s->proto == 17 && c == 0) c = 0xffff;
    wr16(s->b + at, c);
}

/* ---- test cases: a packet and where each layer ends ----------------------- */

struct bound {
    uint32_t end;
    enum decode_event ev;
};

struct tc {
    const char *name;
    int dlt;
    uint8_t b[2048];
    uint32_t n;
    struct bound bd[24];
    int nb;
    uint32_t l3off, l4off, payoff, l3len;
    uint8_t ver, proto;
    uint8_t src[16], dst[16];
    uint16_t vlan[PKT_MAX_VLAN];
    uint8_t vlan_n, vlan_too_many, mpls;
};

static void tc_init(struct tc *t, const char *name, int dlt)
{
    memset(t, 0, sizeof(*t));
    t->name = name;
    t->dlt = dlt;
}

static void app(struct tc *t, const void *p, uint32_t n)
{
    if (n) memcpy(t->b + t->n, p, n);
    t->n += n;
}

static void app8(struct tc *t, uint8_t v)
{
    t->b[t->n++] = v;
}

static void app16(struct tc *t, uint16_t v)
{
    app8(t, (uint8_t)(v >> 8));
    app8(t, (uint8_t)v);
}

static void app32(struct tc *t, uint32_t v)
{
    app16(t, (uint16_t)(v >> 16));
    app16(t, (uint16_t)v);
}

static void bound(struct tc *t, uint32_t end, enum decode_event ev)
{
    t->bd[t->nb].end = end;
    t->bd[t->nb].ev = ev;
    t->nb++;
}

static void l_eth(struct tc *t, uint16_t type)
{
    static const uint8_t macs[12] = {0, 0x11, 0x22, 0x33, 0x44, 0x55,
                                     0, 0x66, 0x77, 0x88, 0x99, 0xaa};
    app(t, macs, 12);
    app16(t, type);
    bound(t, t->n, DEC_ETH_TRUNCATED);
}

static void l_vlan(struct tc *t, uint16_t vid, uint16_t next)
{
    app16(t, (uint16_t)(0x6000 | vid)); /* PCP 3: only the 12-bit id is kept */
    app16(t, next);
    bound(t, t->n, DEC_VLAN_TRUNCATED);
    if (t->vlan_n < PKT_MAX_VLAN)
        t->vlan[t->vlan_n++] = vid;
    else
        t->vlan_too_many = 1;
}

static void l_mpls(struct tc *t, uint32_t label, int bottom)
{
    app32(t, label << 12 | (bottom ? 0x100u : 0) | 64);
    bound(t, t->n, DEC_MPLS_TRUNCATED);
    if (bottom) bound(t, t->n + 1, DEC_MPLS_TRUNCATED);
    t->mpls = 1;
}

static void l_pppoe(struct tc *t, uint16_t pppproto)
{
    app8(t, 0x11);
    app8(t, 0);
    app16(t, 0x0042);
    app16(t, 0); /* length: the decoder trusts the IP header instead */
    app16(t, pppproto);
    bound(t, t->n, DEC_PPP_TRUNCATED);
}

static void l_sll(struct tc *t, uint16_t proto)
{
    app16(t, 0); /* to us */
    app16(t, 1); /* ARPHRD_ETHER */
    app16(t, 6);
    static const uint8_t addr[8] = {0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0};
    app(t, addr, 8);
    app16(t, proto);
    bound(t, t->n, DEC_SLL_TRUNCATED);
}

static void l_sll2(struct tc *t, uint16_t proto)
{
    app16(t, proto);
    app16(t, 0);
    app32(t, 3); /* ifindex */
    app16(t, 1); /* ARPHRD_ETHER */
    app8(t, 4);  /* outgoing */
    app8(t, 6);
    static const uint8_t addr[8] = {0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0};
    app(t, addr, 8);
    bound(t, t->n, DEC_SLL_TRUNCATED);
}

static void l_null(struct tc *t, uint32_t fam, int big)
{
    if (big) {
        app32(t, fam);
    } else {
        app8(t, (uint8_t)fam);
        app8(t, (uint8_t)(fam >> 8));
        app8(t, (uint8_t)(fam >> 16));
        app8(t, (uint8_t)(fam >> 24));
    }
    bound(t, t->n, DEC_NULL_TRUNCATED);
}

/* Raw links guess the version; an empty capture is ipv4_truncated. */
static void l_raw(struct tc *t)
{
    bound(t, 1, DEC_IPV4_TRUNCATED);
}

static void l4_bounds(struct tc *t, const struct seg *s)
{
    t->l4off = t->n;
    t->payoff = t->n + s->hlen;
    switch (s->proto) {
    case 6:
        bound(t, t->n + 20, DEC_TCP_TRUNCATED);
        bound(t, t->n + s->hlen, DEC_TCP_TRUNCATED);
        break;
    case 17:
        bound(t, t->n + 8, DEC_UDP_TRUNCATED);
        break;
    case 1:
    case 58:
        bound(t, t->n + 8, DEC_ICMP_TRUNCATED);
        break;
    default:
        break;
    }
}

static void set_addrs4(struct tc *t, const uint8_t *src, const uint8_t *dst)
{
    memset(t->src, 0, 16);
    memset(t->dst, 0, 16);
    t->src[10] = t->src[11] = t->dst[10] = t->dst[11] = 0xff;
    memcpy(t->src + 12, src, 4);
    memcpy(t->dst + 12, dst, 4);
}

/* IPv4 header with optlen bytes of options (NOPs, then EOL) around s. */
static void ip4(struct tc *t, struct seg *s, uint32_t optlen)
{
    uint32_t hlen = 20 + optlen;
    seg_csum(s, 4, SRC4, DST4);
    uint8_t *ip = t->b + t->n;
    t->l3off = t->n;
    app8(t, (uint8_t)(0x40 | hlen / 4));
    app8(t, 0);
    app16(t, (uint16_t)(hlen + s->n));
    app16(t, 0x1234);
    app16(t, 0x4000); /* DF */
    app8(t, 64);
    app8(t, s->proto);
    app16(t, 0);
    app(t, SRC4, 4);
    app(t, DST4, 4);
    for (uint32_t i = 0; i < optlen; i++)
        app8(t, i + 1 < optlen ? 1 : 0);
    fix_ip4_csum(ip);
    bound(t, t->l3off + 20, DEC_IPV4_TRUNCATED);
    bound(t, t->l3off + hlen, DEC_IPV4_TRUNCATED);
    l4_bounds(t, s);
    app(t, s->b, s->n);
    t->l3len = t->n - t->l3off;
    t->ver = 4;
    t->proto = s->proto;
    set_addrs4(t, SRC4, DST4);
}

/* IPv6 header, then ext (a chain whose first header is first_nh and whose
 * last next-header byte already names s->proto), then s. csum_dst is the
 * final destination the routing header names, or DST6. */
static void ip6(struct tc *t, struct seg *s, uint8_t first_nh, const uint8_t *ext, uint32_t extlen,
                const uint8_t *csum_dst)
{
    seg_csum(s, 6, SRC6, csum_dst);
    t->l3off = t->n;
    app32(t, 0x60012345);
    app16(t, (uint16_t)(extlen + s->n));
    app8(t, extlen ? first_nh : s->proto);
    app8(t, 57);
    app(t, SRC6, 16);
    app(t, DST6, 16);
    bound(t, t->n, DEC_IPV6_TRUNCATED);
    /* every cut inside the chain is ipv6_truncated */
    app(t, ext, extlen);
    bound(t, t->n, DEC_IPV6_TRUNCATED);
    l4_bounds(t, s);
    app(t, s->b, s->n);
    t->l3len = t->n - t->l3off;
    t->ver = 6;
    t->proto = s->proto;
    memcpy(t->src, SRC6, 16);
    memcpy(t->dst, DST6, 16);
}

/* ---- running a case -------------------------------------------------------- */

static struct decoder *dec_new(int verify)
{
    struct decode_config cfg;
    decode_config_default(&cfg);
    cfg.verify_checksums = verify;
    struct decoder *d = decoder_new(&cfg);
    CHECK(d != NULL);
    if (!d) abort();
    return d;
}

static enum decode_result run(struct decoder *d, struct packet *p, int dlt, const uint8_t *b,
                              uint32_t caplen, uint32_t wirelen)
{
    memset(p, 0, sizeof(*p));
    p->ts_us = 1700000000000000ull;
    p->linktype = dlt;
    p->data = b;
    p->caplen = caplen;
    p->wirelen = wirelen;
    return decode_packet(d, p);
}

static uint64_t ev_total(const struct decode_stats *st)
{
    uint64_t n = 0;
    for (int i = 0; i < DECODE_EVENT_MAX; i++)
        n += st->ev[i];
    return n;
}

static void check_fields(const struct tc *t, const struct packet *p, uint32_t caplen)
{
    CHECK_EQ(p->ip_ver, t->ver);
    CHECK_EQ(p->proto, t->proto);
    CHECK(memcmp(p->src.a, t->src, 16) == 0);
    CHECK(memcmp(p->dst.a, t->dst, 16) == 0);
    CHECK_EQ(p->ttl, t->ver == 4 ? 64 : 57);
    CHECK_EQ(p->vlan_n, t->vlan_n);
    for (int i = 0; i < t->vlan_n; i++)
        CHECK_EQ(p->vlan[i], t->vlan[i]);
    CHECK(p->l3 == t->b + t->l3off);
    CHECK_EQ(p->l3_len, (caplen < t->l3off + t->l3len ? caplen : t->l3off + t->l3len) - t->l3off);
    CHECK(p->payload == t->b + t->payoff);
    CHECK_EQ(p->payload_len, caplen - t->payoff);
    CHECK_EQ(p->reassembled, 0);
    CHECK_EQ(p->csum_bad, 0);
    const uint8_t *l4 = t->b + t->l4off;
    switch (t->proto) {
    case 6:
        CHECK_EQ(p->sport, T_SPORT);
        CHECK_EQ(p->dport, T_DPORT);
        CHECK_EQ(p->seq, T_SEQ);
        CHECK_EQ(p->ack, T_ACK);
        CHECK_EQ(p->tcp_flags, T_FLAGS);
        CHECK_EQ(p->tcp_win, T_WIN);
        CHECK_EQ(p->urg_ptr, T_URG);
        break;
    case 17:
        CHECK_EQ(p->sport, U_SPORT);
        CHECK_EQ(p->dport, U_DPORT);
        break;
    case 1:
    case 58:
        CHECK_EQ(p->sport, l4[0]);
        CHECK_EQ(p->dport, l4[1]);
        break;
    default:
        break;
    }
}

/* Whole, then cut at every length with wirelen = the whole length. */
static void run_case(const struct tc *t)
{
    struct decoder *d = dec_new(1);
    struct packet p;
    enum decode_result r = run(d, &p, t->dlt, t->b, t->n, t->n);
    if (r != DECODE_OK) fprintf(stderr, "case %s: result %d\n", t->name, r);
    CHECK_EQ(r, DECODE_OK);
    check_fields(t, &p, t->n);
    const struct decode_stats *st = decoder_stats(d);
    CHECK_EQ(ev_total(st), t->vlan_too_many);
    CHECK_EQ(st->ev[DEC_VLAN_TOO_MANY], t->vlan_too_many);
    CHECK_EQ(st->pkts, 1);
    CHECK_EQ(st->bytes, t->n);
    CHECK_EQ(st->vlan, t->vlan_n ? 1 : 0);
    CHECK_EQ(st->mpls, t->mpls);
    CHECK_EQ(st->ipv4 + st->ipv6, 1);
    CHECK_EQ(t->ver == 4 ? st->ipv4 : st->ipv6, 1);
    CHECK_EQ(st->tcp, t->proto == 6);
    CHECK_EQ(st->udp, t->proto == 17);
    CHECK_EQ(st->icmp, t->proto == 1 || t->proto == 58);
    CHECK_EQ(st->other_l4, t->proto != 6 && t->proto != 17 && t->proto != 1 && t->proto != 58);

    /* a copy exactly as long as the cut, so ASan sees any read past it */
    for (uint32_t len = 0; len <= t->n; len++) {
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, t->b, len);
        uint64_t before[DECODE_EVENT_MAX];
        memcpy(before, st->ev, sizeof(before));
        r = run(d, &p, t->dlt, cut, len, t->n);
        int want = -1;
        for (int i = 0; i < t->nb; i++)
            if (len < t->bd[i].end) {
                want = t->bd[i].ev;
                break;
            }
        for (int e = 0; e < DECODE_EVENT_MAX; e++) {
            uint64_t got = st->ev[e] - before[e];
            uint64_t exp =
                (e == want) + (e == DEC_VLAN_TOO_MANY && t->vlan_too_many && len >= t->l3off);
            if (got != exp) {
                fprintf(stderr, "case %s len %u: %s counted %llu, expected %llu\n", t->name, len,
                        decode_event_name((enum decode_event)e), (unsigned long long)got,
                        (unsigned long long)exp);
                CHECK(got == exp);
            }
        }
        if (want >= 0) {
            CHECK_EQ(r, DECODE_DROP);
        } else {
            CHECK_EQ(r, DECODE_OK);
            if (r == DECODE_OK) {
                CHECK_EQ(p.payload_len, len - t->payoff);
                CHECK(p.payload == cut + t->payoff);
                CHECK(p.l3 == cut + t->l3off);
                CHECK_EQ(p.proto, t->proto);
                CHECK_EQ(p.vlan_n, t->vlan_n);
                CHECK_EQ(p.csum_bad, 0);
                if (t->proto == 6) CHECK_EQ(p.seq, T_SEQ);
            }
        }
        free(cut);
    }
    decoder_free(d);
}

/* ---- the good packets ------------------------------------------------------ */

static const char HTTP_REQ[] = "GET /api/v1/waybill?id=1 HTTP/1.1\r\nHost: x\r\n\r\n";

/* IPv6 extension chain: hop-by-hop (8), routing type 0 with one address and
 * segments left 1 (24), destination options (16), then last_nh. */
static uint32_t ext_chain(uint8_t *e, uint8_t last_nh)
{
    uint32_t n = 0;
    /* hop-by-hop: next = routing, len 0, PadN of 4 + Pad1 x2 */
    e[n++] = 43, e[n++] = 0, e[n++] = 1, e[n++] = 2, e[n++] = 0, e[n++] = 0, e[n++] = 0, e[n++] = 0;
    /* routing: next = destopts, len 2 (24 bytes), type 0, segleft 1, reserved, address */
    e[n++] = 60, e[n++] = 2, e[n++] = 0, e[n++] = 1, e[n++] = 0, e[n++] = 0, e[n++] = 0, e[n++] = 0;
    memcpy(e + n, FIN6, 16);
    n += 16;
    /* destination options: len 1 (16 bytes), PadN 12 */
    e[n++] = last_nh, e[n++] = 1, e[n++] = 1, e[n++] = 12;
    memset(e + n, 0, 12);
    n += 12;
    return n;
}

static void build_cases(struct tc *cs, int *ncs)
{
    struct seg s;
    uint8_t ext[128];
    uint32_t extlen;
    int n = 0;
    struct tc *t;

    t = &cs[n++];
    tc_init(t, "eth-ipv4opt-tcpopt", 1);
    l_eth(t, ETHT_IPV4);
    seg_tcp(&s, 12, HTTP_REQ);
    ip4(t, &s, 8);

    t = &cs[n++];
    tc_init(t, "eth-ipv4-udp", 1);
    l_eth(t, ETHT_IPV4);
    seg_udp(&s, "dns query bytes");
    ip4(t, &s, 0);

    t = &cs[n++];
    tc_init(t, "eth-ipv4-icmp", 1);
    l_eth(t, ETHT_IPV4);
    seg_icmp(&s, 1, 8, 0, "ping payload");
    ip4(t, &s, 0);

    t = &cs[n++];
    tc_init(t, "eth-ipv4-sctp-other", 1);
    l_eth(t, ETHT_IPV4);
    seg_other(&s, 132, "sctp-ish bytes");
    ip4(t, &s, 0);

    t = &cs[n++];
    tc_init(t, "eth-ipv6-tcp", 1);
    l_eth(t, ETHT_IPV6);
    seg_tcp(&s, 0, HTTP_REQ);
    ip6(t, &s, 0, NULL, 0, DST6);

    t = &cs[n++];
    tc_init(t, "eth-vlan-ipv6ext-tcp", 1);
    l_eth(t, 0x8100);
    l_vlan(t, 100, ETHT_IPV6);
    seg_tcp(&s, 20, HTTP_REQ);
    extlen = ext_chain(ext, 6);
    ip6(t, &s, 0, ext, extlen, FIN6);

    t = &cs[n++];
    tc_init(t, "eth-ipv6ext-udp", 1);
    l_eth(t, ETHT_IPV6);
    seg_udp(&s, "udp over v6 with ext headers");
    extlen = ext_chain(ext, 17);
    ip6(t, &s, 0, ext, extlen, FIN6);

    t = &cs[n++];
    tc_init(t, "eth-ipv6-icmpv6", 1);
    l_eth(t, ETHT_IPV6);
    seg_icmp(&s, 58, 128, 0, "echo six");
    ip6(t, &s, 0, NULL, 0, DST6);

    t = &cs[n++];
    tc_init(t, "eth-qinq-ipv4-udp", 1);
    l_eth(t, 0x88a8);
    l_vlan(t, 10, 0x8100);
    l_vlan(t, 4094, ETHT_IPV4);
    seg_udp(&s, "inside two tags");
    ip4(t, &s, 4);

    t = &cs[n++];
    tc_init(t, "eth-3tags-ipv4-tcp", 1);
    l_eth(t, 0x9100);
    l_vlan(t, 1, 0x88a8);
    l_vlan(t, 2, 0x8100);
    l_vlan(t, 3, ETHT_IPV4);
    seg_tcp(&s, 4, HTTP_REQ);
    ip4(t, &s, 0);

    t = &cs[n++];
    tc_init(t, "eth-mpls2-ipv4-tcp", 1);
    l_eth(t, 0x8847);
    l_mpls(t, 1000, 0);
    l_mpls(t, 2000, 1);
    seg_tcp(&s, 0, HTTP_REQ);
    ip4(t, &s, 0);

    t = &cs[n++];
    tc_init(t, "eth-vlan-mpls-ipv6-udp", 1);
    l_eth(t, 0x8100);
    l_vlan(t, 7, 0x8847);
    l_mpls(t, 16, 1);
    seg_udp(&s, "labelled six");
    ip6(t, &s, 0, NULL, 0, DST6);

    t = &cs[n++];
    tc_init(t, "eth-pppoe-ipv4-tcp", 1);
    l_eth(t, 0x8864);
    l_pppoe(t, 0x0021);
    seg_tcp(&s, 0, HTTP_REQ);
    ip4(t, &s, 0);

    t = &cs[n++];
    tc_init(t, "eth-pppoe-ipv6-udp", 1);
    l_eth(t, 0x8864);
    l_pppoe(t, 0x0057);
    seg_udp(&s, "pppoe six");
    ip6(t, &s, 0, NULL, 0, DST6);

    t = &cs[n++];
    tc_init(t, "sll-ipv4-udp", 113);
    l_sll(t, ETHT_IPV4);
    seg_udp(&s, "cooked");
    ip4(t, &s, 0);

    t = &cs[n++];
    tc_init(t, "sll-vlan-ipv4-tcp", 113);
    l_sll(t, 0x8100);
    l_vlan(t, 42, ETHT_IPV4);
    seg_tcp(&s, 0, HTTP_REQ);
    ip4(t, &s, 0);

    t = &cs[n++];
    tc_init(t, "sll2-ipv6-tcp", 276);
    l_sll2(t, ETHT_IPV6);
    seg_tcp(&s, 8, HTTP_REQ);
    ip6(t, &s, 0, NULL, 0, DST6);

    t = &cs[n++];
    tc_init(t, "sll2-ipv4-udp", 276);
    l_sll2(t, ETHT_IPV4);
    seg_udp(&s, "cooked two");
    ip4(t, &s, 0);

    static const uint32_t fam6[] = {10, 24, 28, 30};
    static const char *names6[2][4] = {
        {"null-le-af10", "null-le-af24", "null-le-af28", "null-le-af30"},
        {"loop-be-af10", "loop-be-af24", "loop-be-af28", "loop-be-af30"}};
    for (int big = 0; big < 2; big++) {
        t = &cs[n++];
        tc_init(t, big ? "loop-be-ipv4-tcp" : "null-le-ipv4-tcp", big ? 108 : 0);
        l_null(t, 2, big);
        seg_tcp(&s, 0, HTTP_REQ);
        ip4(t, &s, 0);
        /* the other byte order on the other link type too */
        t = &cs[n++];
        tc_init(t, big ? "null-be-ipv4-udp" : "loop-le-ipv4-udp", big ? 0 : 108);
        l_null(t, 2, big);
        seg_udp(&s, "loopback");
        ip4(t, &s, 0);
        for (int f = 0; f < 4; f++) {
            t = &cs[n++];
            tc_init(t, names6[big][f], big ? 108 : 0);
            l_null(t, fam6[f], big);
            seg_tcp(&s, 0, HTTP_REQ);
            ip6(t, &s, 0, NULL, 0, DST6);
        }
    }

    static const int raw_dlts[] = {12, 14, 101};
    static const char *raw4[] = {"raw12-ipv4-tcp", "raw14-ipv4-tcp", "raw101-ipv4-tcp"};
    static const char *raw6[] = {"raw12-ipv6-udp", "raw14-ipv6-udp", "raw101-ipv6-udp"};
    for (int i = 0; i < 3; i++) {
        t = &cs[n++];
        tc_init(t, raw4[i], raw_dlts[i]);
        l_raw(t);
        seg_tcp(&s, 0, HTTP_REQ);
        ip4(t, &s, 0);
        t = &cs[n++];
        tc_init(t, raw6[i], raw_dlts[i]);
        l_raw(t);
        seg_udp(&s, "raw six");
        ip6(t, &s, 0, NULL, 0, DST6);
    }

    t = &cs[n++];
    tc_init(t, "ipv4link-tcp", 228);
    seg_tcp(&s, 0, HTTP_REQ);
    ip4(t, &s, 0);

    t = &cs[n++];
    tc_init(t, "ipv6link-udp", 229);
    seg_udp(&s, "v6 link");
    ip6(t, &s, 0, NULL, 0, DST6);

    t = &cs[n++];
    tc_init(t, "ppp-ff03-ipv4-tcp", 9);
    app8(t, 0xff);
    app8(t, 0x03);
    app16(t, 0x0021);
    bound(t, 4, DEC_PPP_TRUNCATED);
    seg_tcp(&s, 0, HTTP_REQ);
    ip4(t, &s, 0);

    t = &cs[n++];
    tc_init(t, "ppp-bare-ipv6-udp", 9);
    app16(t, 0x0057);
    bound(t, 2, DEC_PPP_TRUNCATED);
    seg_udp(&s, "ppp six");
    ip6(t, &s, 0, NULL, 0, DST6);

    t = &cs[n++];
    tc_init(t, "ppp-serial-ipv4-udp", 50);
    app8(t, 0xff);
    app8(t, 0x03);
    app16(t, 0x0021);
    bound(t, 4, DEC_PPP_TRUNCATED);
    seg_udp(&s, "serial");
    ip4(t, &s, 0);

    t = &cs[n++];
    tc_init(t, "chdlc-ipv4-tcp", 104);
    app8(t, 0x0f);
    app8(t, 0x00);
    app16(t, ETHT_IPV4);
    bound(t, 4, DEC_PPP_TRUNCATED);
    seg_tcp(&s, 0, HTTP_REQ);
    ip4(t, &s, 0);

    t = &cs[n++];
    tc_init(t, "chdlc-ipv6-tcp", 104);
    app8(t, 0x8f);
    app8(t, 0x00);
    app16(t, ETHT_IPV6);
    bound(t, 4, DEC_PPP_TRUNCATED);
    seg_tcp(&s, 0, HTTP_REQ);
    ip6(t, &s, 0, NULL, 0, DST6);

    *ncs = n;
}

/* ---- targeted tests --------------------------------------------------------- */

static void test_padding_and_snaplen(void)
{
    struct tc t;
    struct seg s;
    tc_init(&t, "padded", 1);
    l_eth(&t, ETHT_IPV4);
    seg_udp(&s, "hi");
    ip4(&t, &s, 0);
    uint32_t real = t.n;
    while (t.n < 60) /* Ethernet minimum frame, padded with junk */
        app8(&t, 0xa5);
    struct decoder *d = dec_new(1);
    struct packet p;
    CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
    CHECK_EQ(p.l3_len, real - 14);
    CHECK_EQ(p.payload_len, 2);
    CHECK(memcmp(p.payload, "hi", 2) == 0);
    CHECK_EQ(p.csum_bad, 0);
    CHECK_EQ(ev_total(decoder_stats(d)), 0);

    /* snap length: caplen < wirelen, TCP header whole, payload cut */
    tc_init(&t, "snap", 1);
    l_eth(&t, ETHT_IPV4);
    seg_tcp(&s, 0, HTTP_REQ);
    ip4(&t, &s, 0);
    /* a bad checksum cannot be seen on a cut segment */
    t.b[14 + 20 + 16] ^= 0xff;
    CHECK_EQ(run(d, &p, 1, t.b, 64, t.n), DECODE_OK);
    CHECK_EQ(p.payload_len, 64 - 54);
    CHECK_EQ(p.l3_len, 64 - 14);
    CHECK_EQ(p.csum_bad, 0);
    CHECK_EQ(decoder_stats(d)->ev[DEC_TCP_BAD_CSUM], 0);
    /* the same packet whole: now the checksum is checked */
    CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
    CHECK_EQ(p.csum_bad, 1);
    CHECK_EQ(decoder_stats(d)->ev[DEC_TCP_BAD_CSUM], 1);
    decoder_free(d);
}

static void test_checksums(void)
{
    struct tc t;
    struct seg s;
    struct packet p;
    for (int verify = 0; verify < 2; verify++) {
        struct decoder *d = dec_new(verify);
        const struct decode_stats *st = decoder_stats(d);

        /* IPv4 header checksum */
        tc_init(&t, "ipcsum", 1);
        l_eth(&t, ETHT_IPV4);
        seg_udp(&s, "payload");
        ip4(&t, &s, 4);
        t.b[14 + 10] ^= 0x01;
        CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
        CHECK_EQ(p.csum_bad, verify);
        CHECK_EQ(st->ev[DEC_IPV4_BAD_CSUM], verify);
        CHECK_EQ(p.proto, 17);
        CHECK_EQ(p.sport, U_SPORT);

        /* TCP over IPv4 and IPv6 */
        tc_init(&t, "tcpcsum4", 1);
        l_eth(&t, ETHT_IPV4);
        seg_tcp(&s, 12, HTTP_REQ);
        ip4(&t, &s, 0);
        t.b[t.n - 1] ^= 0x20; /* payload byte */
        CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
        CHECK_EQ(p.csum_bad, verify);
        CHECK_EQ(st->ev[DEC_TCP_BAD_CSUM], verify);
        CHECK_EQ(st->ev[DEC_IPV4_BAD_CSUM], verify);

        tc_init(&t, "tcpcsum6", 1);
        l_eth(&t, ETHT_IPV6);
        seg_tcp(&s, 0, HTTP_REQ);
        ip6(&t, &s, 0, NULL, 0, FIN6); /* wrong pseudo header: no routing header */
        CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
        CHECK_EQ(p.csum_bad, verify);
        CHECK_EQ(st->ev[DEC_TCP_BAD_CSUM], 2 * verify);

        /* UDP: a bad sum, a zero sum over IPv4 (none), a zero sum over IPv6 (bad) */
        tc_init(&t, "udpcsum4", 1);
        l_eth(&t, ETHT_IPV4);
        seg_udp(&s, "abc");
        ip4(&t, &s, 0);
        t.b[14 + 20 + 6] ^= 0x40;
        CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
        CHECK_EQ(p.csum_bad, verify);
        CHECK_EQ(st->ev[DEC_UDP_BAD_CSUM], verify);
        t.b[14 + 20 + 6] = t.b[14 + 20 + 7] = 0;
        CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
        CHECK_EQ(p.csum_bad, 0);
        CHECK_EQ(st->ev[DEC_UDP_BAD_CSUM], verify);

        tc_init(&t, "udpcsum6", 1);
        l_eth(&t, ETHT_IPV6);
        seg_udp(&s, "abc");
        ip6(&t, &s, 0, NULL, 0, DST6);
        CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
        CHECK_EQ(p.csum_bad, 0);
        t.b[14 + 40 + 6] = t.b[14 + 40 + 7] = 0;
        CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
        CHECK_EQ(p.csum_bad, verify);
        CHECK_EQ(st->ev[DEC_UDP_BAD_CSUM], 2 * verify);

        /* a UDP sum that computes to zero travels as 0xffff */
        int found = 0;
        for (uint32_t v = 0; v < 65536 && !found; v++) {
            char pl[3] = {(char)(v >> 8), (char)v, 0};
            if (!pl[0] || !pl[1]) continue;
            tc_init(&t, "udpffff", 1);
            l_eth(&t, ETHT_IPV4);
            seg_udp(&s, pl);
            ip4(&t, &s, 0);
            if (t.b[14 + 20 + 6] == 0xff && t.b[14 + 20 + 7] == 0xff) {
                found = 1;
                CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
                CHECK_EQ(p.csum_bad, 0);
            }
        }
        CHECK(found);
        CHECK_EQ(st->ev[DEC_UDP_BAD_CSUM], 2 * verify);

        /* every payload length around the summing loop's 8- and 32-byte
         * steps, odd and even, over both IP versions: the sum is right
         * with the segment as sent and wrong with any one byte changed */
        char pl[200];
        uint32_t x = 7;
        unsigned ok_bad = 0, flip_missed = 0;
        for (uint32_t n = 1; n < sizeof(pl); n++) {
            for (uint32_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                pl[i] = (char)(0x20 + (x >> 16) % 0x5f);
            }
            pl[n] = 0;
            for (int v6 = 0; v6 < 2; v6++) {
                tc_init(&t, "csumlen", 1);
                l_eth(&t, v6 ? ETHT_IPV6 : ETHT_IPV4);
                seg_tcp(&s, 0, pl);
                if (v6)
                    ip6(&t, &s, 0, NULL, 0, DST6);
                else
                    ip4(&t, &s, 0);
                run(d, &p, 1, t.b, t.n, t.n);
                ok_bad += p.csum_bad;
                t.b[t.n - 1 - (x >> 8) % n] ^= 0x04;
                run(d, &p, 1, t.b, t.n, t.n);
                flip_missed += verify && !p.csum_bad;
            }
        }
        CHECK_EQ(ok_bad, 0);
        CHECK_EQ(flip_missed, 0);
        decoder_free(d);
    }
}

/* One malformed packet: expect DROP and exactly one count of ev. */
static void expect_drop(const char *name, int dlt, const uint8_t *b, uint32_t caplen,
                        uint32_t wirelen, enum decode_event ev)
{
    struct decoder *d = dec_new(1);
    struct packet p;
    enum decode_result r = run(d, &p, dlt, b, caplen, wirelen);
    const struct decode_stats *st = decoder_stats(d);
    if (r != DECODE_DROP || st->ev[ev] != 1)
        fprintf(stderr, "malformed %s: result %d, %s = %llu\n", name, r, decode_event_name(ev),
                (unsigned long long)st->ev[ev]);
    CHECK_EQ(r, DECODE_DROP);
    CHECK_EQ(st->ev[ev], 1);
    CHECK_EQ(ev_total(st), 1);
    decoder_free(d);
}

static void test_malformed(void)
{
    struct tc t;
    struct seg s;
    uint8_t ext[256];

    /* IPv4 header fields */
    tc_init(&t, "v4", 1);
    l_eth(&t, ETHT_IPV4);
    seg_tcp(&s, 0, HTTP_REQ);
    ip4(&t, &s, 0);
    uint8_t *ip = t.b + 14;
    struct tc good = t;
    ip[0] = 0x65;
    fix_ip4_csum(ip);
    expect_drop("v4 version", 1, t.b, t.n, t.n, DEC_IPV4_BAD_VERSION);
    t = good;
    ip[0] = 0x44;
    expect_drop("v4 ihl 4", 1, t.b, t.n, t.n, DEC_IPV4_BAD_HLEN);
    t = good;
    ip[0] = 0x4f; /* 60-byte header, TCP bytes read as options: fine until totlen */
    wr16(ip + 2, 40);
    fix_ip4_csum(ip);
    expect_drop("v4 totlen < hlen", 1, t.b, t.n, t.n, DEC_IPV4_BAD_TOTLEN);
    t = good;
    wr16(ip + 2, (uint16_t)(t.n - 14 + 1));
    fix_ip4_csum(ip);
    expect_drop("v4 totlen > wire", 1, t.b, t.n, t.n, DEC_IPV4_BAD_TOTLEN);
    t = good;
    wr16(ip + 2, 0); /* TSO capture artefact */
    fix_ip4_csum(ip);
    expect_drop("v4 totlen 0", 1, t.b, t.n, t.n, DEC_IPV4_BAD_TOTLEN);
    t = good;
    ip[0] = 0x46; /* says options, but only 20 + 2 bytes captured */
    expect_drop("v4 options cut", 1, t.b, 14 + 22, t.n, DEC_IPV4_TRUNCATED);

    /* TCP header length */
    t = good;
    t.b[14 + 20 + 12] = 0x40;
    expect_drop("tcp doff 4", 1, t.b, t.n, t.n, DEC_TCP_BAD_HLEN);
    t = good;
    t.b[14 + 20 + 12] = 0xf0; /* 60 > segment of this short packet? make it short */
    wr16(ip + 2, 20 + 40);
    fix_ip4_csum(ip);
    expect_drop("tcp doff > segment", 1, t.b, 14 + 60, 14 + 60, DEC_TCP_BAD_HLEN);
    t = good;
    wr16(ip + 2, 20 + 12);
    fix_ip4_csum(ip);
    expect_drop("tcp segment < 20", 1, t.b, t.n, t.n, DEC_TCP_TRUNCATED);

    /* UDP lengths */
    tc_init(&t, "udp", 1);
    l_eth(&t, ETHT_IPV4);
    seg_udp(&s, "0123456789");
    ip4(&t, &s, 0);
    good = t;
    wr16(t.b + 14 + 20 + 4, 7);
    expect_drop("udp len 7", 1, t.b, t.n, t.n, DEC_UDP_BAD_LEN);
    t = good;
    wr16(t.b + 14 + 20 + 4, 19);
    expect_drop("udp len > ip", 1, t.b, t.n, t.n, DEC_UDP_BAD_LEN);
    t = good;
    wr16(t.b + 14 + 2, 20 + 4);
    fix_ip4_csum(t.b + 14);
    expect_drop("udp in 4 bytes", 1, t.b, t.n, t.n, DEC_UDP_TRUNCATED);

    /* ICMP shorter than its 8-byte header */
    tc_init(&t, "icmp", 1);
    l_eth(&t, ETHT_IPV4);
    seg_icmp(&s, 1, 3, 1, "");
    s.n = 6;
    ip4(&t, &s, 0);
    expect_drop("icmp 6 bytes", 1, t.b, t.n, t.n, DEC_ICMP_TRUNCATED);

    /* IPv6 */
    tc_init(&t, "v6", 1);
    l_eth(&t, ETHT_IPV6);
    seg_tcp(&s, 0, HTTP_REQ);
    ip6(&t, &s, 0, NULL, 0, DST6);
    struct tc good6 = t;
    t.b[14] = 0x40;
    expect_drop("v6 version", 1, t.b, t.n, t.n, DEC_IPV6_BAD_VERSION);
    t = good6;
    wr16(t.b + 14 + 4, (uint16_t)(t.n - 54 + 1));
    expect_drop("v6 plen > wire", 1, t.b, t.n, t.n, DEC_IPV6_TRUNCATED);

    /* hop-by-hop after another extension header */
    tc_init(&t, "hbh second", 1);
    l_eth(&t, ETHT_IPV6);
    seg_udp(&s, "x");
    memset(ext, 0, sizeof(ext));
    ext[0] = 0, ext[1] = 0;  /* destopts -> hop-by-hop */
    ext[8] = 17, ext[9] = 0; /* hop-by-hop -> UDP */
    ip6(&t, &s, 60, ext, 16, DST6);
    expect_drop("hbh second", 1, t.b, t.n, t.n, DEC_IPV6_BAD_EXTHDR);

    /* an extension header longer than the payload length */
    tc_init(&t, "ext long", 1);
    l_eth(&t, ETHT_IPV6);
    seg_udp(&s, "x");
    memset(ext, 0, sizeof(ext));
    ext[0] = 17, ext[1] = 5; /* 48 bytes, but only 8 + 9 follow */
    ip6(&t, &s, 60, ext, 8, DST6);
    expect_drop("ext long", 1, t.b, t.n, t.n + 64, DEC_IPV6_BAD_EXTHDR);

    /* more extension headers than the walk allows */
    tc_init(&t, "ext many", 1);
    l_eth(&t, ETHT_IPV6);
    seg_udp(&s, "x");
    memset(ext, 0, sizeof(ext));
    for (int i = 0; i < 9; i++)
        ext[i * 8] = i < 8 ? 60 : 17;
    ip6(&t, &s, 60, ext, 72, DST6);
    expect_drop("ext many", 1, t.b, t.n, t.n, DEC_IPV6_BAD_EXTHDR);
    /* eight are fine */
    tc_init(&t, "ext eight", 1);
    l_eth(&t, ETHT_IPV6);
    seg_udp(&s, "x");
    memset(ext, 0, sizeof(ext));
    for (int i = 0; i < 8; i++)
        ext[i * 8] = i < 7 ? 60 : 17;
    ip6(&t, &s, 60, ext, 64, DST6);
    {
        struct decoder *d = dec_new(1);
        struct packet p;
        CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
        CHECK_EQ(p.proto, 17);
        CHECK_EQ(p.payload_len, 1);
        CHECK_EQ(ev_total(decoder_stats(d)), 0);
        decoder_free(d);
    }

    /* links */
    expect_drop("link 147", 147, t.b, t.n, t.n, DEC_LINK_UNSUPPORTED);
    uint8_t raw[64] = {0x55};
    expect_drop("raw nibble 5", 101, raw, 40, 40, DEC_IPV4_BAD_VERSION);
    expect_drop("ipv4 link v6", 228, good6.b + 14, good6.n - 14, good6.n - 14,
                DEC_IPV4_BAD_VERSION);
    expect_drop("ipv6 link v4", 229, good.b + 14, good.n - 14, good.n - 14, DEC_IPV6_BAD_VERSION);

    /* MPLS with a pseudowire control word after the stack */
    tc_init(&t, "mpls pw", 1);
    l_eth(&t, 0x8847);
    l_mpls(&t, 77, 1);
    app32(&t, 0);
    app(&t, good.b, 40);
    expect_drop("mpls pw", 1, t.b, t.n, t.n, DEC_ETHERTYPE_UNKNOWN);

    /* PPP carrying something that is not IP */
    tc_init(&t, "ppp lcp", 9);
    app8(&t, 0xff), app8(&t, 3), app16(&t, 0xc021), app32(&t, 0x01010004);
    {
        struct decoder *d = dec_new(1);
        struct packet p;
        CHECK_EQ(run(d, &p, 9, t.b, t.n, t.n), DECODE_DROP);
        CHECK_EQ(decoder_stats(d)->non_ip, 1);
        CHECK_EQ(ev_total(decoder_stats(d)), 0);
        decoder_free(d);
    }
}

static void test_non_ip_and_stats(void)
{
    struct decoder *d = dec_new(1);
    const struct decode_stats *st = decoder_stats(d);
    struct packet p;
    struct tc t;
    struct seg s;

    tc_init(&t, "arp", 1);
    l_eth(&t, ETHT_ARP);
    for (int i = 0; i < 28; i++)
        app8(&t, (uint8_t)i);
    CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_DROP);
    uint64_t bytes = t.n;
    CHECK_EQ(p.ip_ver, 0);
    CHECK_EQ(st->non_ip, 1);
    CHECK_EQ(st->ev[DEC_ETHERTYPE_UNKNOWN], 0);

    tc_init(&t, "weird", 1);
    l_eth(&t, 0x1234);
    app32(&t, 0);
    CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_DROP);
    bytes += t.n;
    CHECK_EQ(st->non_ip, 2);
    CHECK_EQ(st->ev[DEC_ETHERTYPE_UNKNOWN], 1);

    tc_init(&t, "vlan arp", 1);
    l_eth(&t, 0x8100);
    l_vlan(&t, 5, ETHT_ARP);
    app32(&t, 0);
    CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_DROP);
    bytes += t.n;
    CHECK_EQ(p.vlan_n, 1);
    CHECK_EQ(p.vlan[0], 5);
    CHECK_EQ(st->non_ip, 3);
    CHECK_EQ(st->vlan, 1);

    tc_init(&t, "null unknown family", 0);
    l_null(&t, 17, 0);
    app32(&t, 0);
    CHECK_EQ(run(d, &p, 0, t.b, t.n, t.n), DECODE_DROP);
    bytes += t.n;
    CHECK_EQ(st->non_ip, 4);
    CHECK_EQ(st->ev[DEC_ETHERTYPE_UNKNOWN], 2);

    /* netlink on a cooked capture */
    tc_init(&t, "sll netlink", 113);
    app16(&t, 4), app16(&t, 824), app16(&t, 0), app32(&t, 0), app32(&t, 0), app16(&t, 0);
    app32(&t, 0);
    CHECK_EQ(run(d, &p, 113, t.b, t.n, t.n), DECODE_DROP);
    bytes += t.n;
    CHECK_EQ(st->non_ip, 5);

    /* a mix of IP packets, then every counter */
    tc_init(&t, "a", 1);
    l_eth(&t, ETHT_IPV4);
    seg_tcp(&s, 0, HTTP_REQ);
    ip4(&t, &s, 0);
    CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
    bytes += t.n;
    tc_init(&t, "b", 1);
    l_eth(&t, 0x8847);
    l_mpls(&t, 3, 1);
    seg_udp(&s, "u");
    ip6(&t, &s, 0, NULL, 0, DST6);
    CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n + 100), DECODE_OK); /* bytes count wirelen */
    bytes += t.n + 100;
    tc_init(&t, "c", 1);
    l_eth(&t, ETHT_IPV4);
    seg_icmp(&s, 1, 0, 0, "pong");
    ip4(&t, &s, 0);
    CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
    CHECK_EQ(p.sport, 0);
    CHECK_EQ(p.dport, 0);
    bytes += t.n;
    tc_init(&t, "d", 101);
    seg_other(&s, 50, "esp bytes here");
    ip6(&t, &s, 0, NULL, 0, DST6);
    CHECK_EQ(run(d, &p, 101, t.b, t.n, t.n), DECODE_OK);
    CHECK_EQ(p.proto, 50);
    CHECK_EQ(p.payload_len, 14);
    bytes += t.n;

    CHECK_EQ(st->pkts, 9);
    CHECK_EQ(st->bytes, bytes);
    CHECK_EQ(st->ipv4, 2);
    CHECK_EQ(st->ipv6, 2);
    CHECK_EQ(st->tcp, 1);
    CHECK_EQ(st->udp, 1);
    CHECK_EQ(st->icmp, 1);
    CHECK_EQ(st->other_l4, 1);
    CHECK_EQ(st->non_ip, 5);
    CHECK_EQ(st->vlan, 1);
    CHECK_EQ(st->mpls, 1);
    CHECK_EQ(ev_total(st), 2);
    decoder_free(d);
}

/* IPv6 with ESP ends the chain even when more headers seem to follow. */
static void test_esp_and_nonext(void)
{
    struct decoder *d = dec_new(1);
    struct packet p;
    struct tc t;
    struct seg s;
    uint8_t ext[16] = {50, 0};
    tc_init(&t, "ah-esp", 229);
    seg_other(&s, 50, "0123456789abcdef");
    /* AH: next = ESP, length 4 -> (4 + 2) * 4 = 24 bytes */
    uint8_t ah[24] = {50, 4};
    ip6(&t, &s, 51, ah, 24, DST6);
    CHECK_EQ(run(d, &p, 229, t.b, t.n, t.n), DECODE_OK);
    CHECK_EQ(p.proto, 50);
    CHECK(p.payload == t.b + 40 + 24);
    CHECK_EQ(p.payload_len, 16);

    tc_init(&t, "nonext", 229);
    seg_other(&s, 59, "");
    ext[0] = 59;
    ip6(&t, &s, 60, ext, 8, DST6);
    CHECK_EQ(run(d, &p, 229, t.b, t.n, t.n), DECODE_OK);
    CHECK_EQ(p.proto, 59);
    CHECK_EQ(p.payload_len, 0);
    CHECK_EQ(decoder_stats(d)->other_l4, 2);
    CHECK_EQ(ev_total(decoder_stats(d)), 0);
    decoder_free(d);
}

static void test_tunnels(void)
{
    struct decoder *d = dec_new(1);
    const struct decode_stats *st = decoder_stats(d);
    struct packet p;
    struct tc inner, t;
    struct seg s;

    /* IPv4 in IPv4: p describes the inner packet */
    tc_init(&inner, "inner", 228);
    seg_tcp(&s, 0, HTTP_REQ);
    ip4(&inner, &s, 0);
    inner.b[12] = 172, inner.b[13] = 16; /* inner source 172.16.x.x */
    fix_ip4_csum(inner.b);
    seg_csum(&s, 4, inner.b + 12, inner.b + 16);
    memcpy(inner.b + 20, s.b, s.n);
    struct seg outer;
    seg_other(&outer, 4, "");
    memcpy(outer.b, inner.b, inner.n);
    outer.n = inner.n;
    tc_init(&t, "4in4", 1);
    l_eth(&t, ETHT_IPV4);
    ip4(&t, &outer, 0);
    CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
    CHECK_EQ(p.ip_ver, 4);
    CHECK_EQ(p.proto, 6);
    CHECK_EQ(p.src.a[12], 172);
    CHECK_EQ(p.src.a[13], 16);
    CHECK(p.l3 == t.b + 34);
    CHECK_EQ(p.sport, T_SPORT);
    CHECK_EQ(p.csum_bad, 0);
    CHECK_EQ(st->ipv4, 2);
    CHECK_EQ(st->tcp, 1);

    /* IPv6 in IPv4 (6in4) */
    struct tc in6;
    tc_init(&in6, "in6", 229);
    seg_udp(&s, "tunnelled");
    ip6(&in6, &s, 0, NULL, 0, DST6);
    seg_other(&outer, 41, "");
    memcpy(outer.b, in6.b, in6.n);
    outer.n = in6.n;
    tc_init(&t, "6in4", 1);
    l_eth(&t, ETHT_IPV4);
    ip4(&t, &outer, 0);
    CHECK_EQ(run(d, &p, 1, t.b, t.n, t.n), DECODE_OK);
    CHECK_EQ(p.ip_ver, 6);
    CHECK_EQ(p.proto, 17);
    CHECK(memcmp(p.src.a, SRC6, 16) == 0);
    CHECK_EQ(p.payload_len, 9);
    CHECK_EQ(st->ipv6, 1);

    /* a tunnel in a tunnel is left as the middle flow, counted */
    seg_other(&outer, 4, "");
    memcpy(outer.b, t.b + 14, t.n - 14);
    outer.n = t.n - 14;
    struct tc t2;
    tc_init(&t2, "4in4in6", 229);
    ip6(&t2, &outer, 0, NULL, 0, DST6);
    CHECK_EQ(run(d, &p, 229, t2.b, t2.n, t2.n), DECODE_OK);
    CHECK_EQ(p.ip_ver, 4);
    CHECK_EQ(p.proto, 41);
    CHECK_EQ(st->ev[DEC_TUNNEL_UNSUPPORTED], 1);
    CHECK_EQ(st->other_l4, 1);

    /* GRE stays an outer flow */
    seg_other(&outer, 47, "GRE-ish payload");
    tc_init(&t, "gre", 228);
    ip4(&t, &outer, 0);
    CHECK_EQ(run(d, &p, 228, t.b, t.n, t.n), DECODE_OK);
    CHECK_EQ(p.proto, 47);
    CHECK_EQ(st->ev[DEC_TUNNEL_UNSUPPORTED], 2);
    CHECK_EQ(st->other_l4, 2);
    decoder_free(d);
}

static void test_names(void)
{
    CHECK_STR(decode_event_name(DEC_LINK_UNSUPPORTED), "link_unsupported");
    CHECK_STR(decode_event_name(DEC_IPV4_TRUNCATED), "ipv4_truncated");
    CHECK_STR(decode_event_name(DEC_FRAG_MEMCAP), "frag_memcap");
    CHECK_STR(decode_event_name(DEC_TUNNEL_UNSUPPORTED), "tunnel_unsupported");
    CHECK_STR(decode_event_name(DECODE_EVENT_MAX), "unknown");
    struct decode_config cfg;
    decode_config_default(&cfg);
    CHECK_EQ(cfg.defrag.memcap, 32u << 20);
    CHECK_EQ(cfg.defrag.max_datagrams, 4096);
    CHECK_EQ(cfg.defrag.max_frags, 256);
    CHECK_EQ(cfg.defrag.timeout_us, 30000000u);
    decoder_free(NULL);
    CHECK_EQ(decoder_memuse(NULL), 0);
}

int main(void)
{
    static struct tc cases[80];
    int n = 0;
    build_cases(cases, &n);
    CHECK(n > 40);
    for (int i = 0; i < n; i++)
        run_case(&cases[i]);
    test_padding_and_snaplen();
    test_checksums();
    test_malformed();
    test_non_ip_and_stats();
    test_esp_and_nonext();
    test_tunnels();
    test_names();
    return check_done();
}
