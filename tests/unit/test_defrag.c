/* test_defrag.c - IPv4 and IPv6 fragment reassembly through decode_packet.
 *
 * A whole datagram is built by hand (with its L4 checksum computed here),
 * cut into fragments, and fed in many orders; the reassembled datagram
 * must equal the original byte for byte. Then the policies: first data
 * wins on overlap (counted), duplicates, timeouts by packet time, every
 * cap counted exactly, oversized datagrams, and inconsistent fragments. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sensor/decode.h"

#define DLT_RAW4 228
#define DLT_RAW6 229
#define DLT_ETH 1
#define T0 1700000000000000ull

/* ---- helpers --------------------------------------------------------------- */

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

static void wr16(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static void wr32(uint8_t *b, uint32_t v)
{
    wr16(b, v >> 16);
    wr16(b + 2, v & 0xffff);
}

static uint32_t rd16(const uint8_t *b)
{
    return (uint32_t)b[0] << 8 | b[1];
}

static void fix_ip4_csum(uint8_t *ip)
{
    ip[10] = ip[11] = 0;
    wr16(ip + 10, finish(sum16(0, ip, (uint32_t)(ip[0] & 15) * 4)));
}

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

static void shuffle(int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rng() % (uint32_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* A whole IPv4 datagram: 20-byte header (+ optlen of options) and UDP
 * (proto 17) or TCP (proto 6) carrying plen bytes of a pattern seeded by
 * seed. Returns its length. */
static uint32_t dgram4(uint8_t *o, uint8_t proto, uint32_t optlen, uint32_t plen, uint16_t id,
                       uint8_t seed)
{
    uint32_t hlen = 20 + optlen, l4h = proto == 6 ? 20 : 8;
    uint32_t l4len = l4h + plen, tot = hlen + l4len;
    memset(o, 0, tot);
    o[0] = (uint8_t)(0x40 | hlen / 4);
    wr16(o + 2, tot);
    wr16(o + 4, id);
    o[8] = 61;
    o[9] = proto;
    o[12] = 10, o[13] = 0, o[14] = 0, o[15] = 1;
    o[16] = 10, o[17] = 0, o[18] = 0, o[19] = 2;
    for (uint32_t i = 0; i < optlen; i++)
        o[20 + i] = 1; /* NOP */
    fix_ip4_csum(o);
    uint8_t *l4 = o + hlen;
    wr16(l4, 40000);
    wr16(l4 + 2, proto == 6 ? 443 : 9999);
    if (proto == 6) {
        wr32(l4 + 4, 1000);
        wr32(l4 + 8, 2000);
        l4[12] = 0x50;
        l4[13] = 0x18;
        wr16(l4 + 14, 512);
    } else {
        wr16(l4 + 4, l4len);
    }
    for (uint32_t i = 0; i < plen; i++)
        l4[l4h + i] = (uint8_t)(seed + i * 7 + (i >> 8));
    uint32_t at = proto == 6 ? 16 : 6;
    uint32_t s = sum16(0, o + 12, 8) + proto + l4len;
    wr16(l4 + at, finish(sum16(s, l4, l4len)));
    if (proto == 17 && rd16(l4 + at) == 0) wr16(l4 + at, 0xffff);
    return tot;
}

/* A whole IPv6 datagram: fixed header, hop-by-hop (8, unfragmentable),
 * destination options (8, fragmentable), TCP with plen bytes. */
static uint32_t dgram6(uint8_t *o, uint32_t plen, uint8_t seed)
{
    uint32_t l4len = 20 + plen, tot = 40 + 16 + l4len;
    memset(o, 0, tot);
    wr32(o, 0x60000000);
    wr16(o + 4, tot - 40);
    o[6] = 0; /* hop-by-hop */
    o[7] = 64;
    o[8] = 0x20, o[9] = 0x01, o[10] = 0x0d, o[11] = 0xb8, o[23] = 1;
    o[24] = 0x20, o[25] = 0x01, o[26] = 0x0d, o[27] = 0xb8, o[39] = 2;
    o[40] = 60; /* hop-by-hop -> destination options, PadN 6 */
    o[42] = 1, o[43] = 4;
    o[48] = 6; /* destination options -> TCP */
    o[50] = 1, o[51] = 4;
    uint8_t *l4 = o + 56;
    wr16(l4, 40001);
    wr16(l4 + 2, 80);
    wr32(l4 + 4, 7);
    wr32(l4 + 8, 9);
    l4[12] = 0x50;
    l4[13] = 0x18;
    wr16(l4 + 14, 1024);
    for (uint32_t i = 0; i < plen; i++)
        l4[20 + i] = (uint8_t)(seed ^ (i * 13) ^ (i >> 8));
    uint32_t s = sum16(0, o + 8, 32) + 6 + l4len;
    wr16(l4 + 16, finish(sum16(s, l4, l4len)));
    return tot;
}

#define MAXF 400
struct frags {
    int n;
    uint32_t len[MAXF];
    uint8_t b[MAXF][1600];
};

/* One IPv4 fragment of orig: data [off, off+len) of the part after the
 * header, MF as given; link 228 (raw) or Ethernet with one VLAN tag. */
static uint32_t frag4(uint8_t *o, const uint8_t *orig, uint32_t off, uint32_t len, int more,
                      int vlan)
{
    uint32_t hlen = (uint32_t)(orig[0] & 15) * 4, l2 = 0;
    if (vlan) {
        memset(o, 0, 12);
        o[5] = 1, o[11] = 2;
        wr16(o + 12, 0x8100);
        wr16(o + 14, (uint32_t)vlan);
        wr16(o + 16, 0x0800);
        l2 = 18;
    }
    uint8_t *ip = o + l2;
    memcpy(ip, orig, hlen);
    wr16(ip + 2, hlen + len);
    wr16(ip + 6, (more ? 0x2000u : 0) | off / 8);
    fix_ip4_csum(ip);
    memcpy(ip + hlen, orig + hlen + off, len);
    return l2 + hlen + len;
}

static void split4(struct frags *fr, const uint8_t *orig, uint32_t tot, uint32_t fsize, int vlan)
{
    uint32_t hlen = (uint32_t)(orig[0] & 15) * 4, dlen = tot - hlen;
    fr->n = 0;
    for (uint32_t off = 0; off < dlen; off += fsize) {
        uint32_t l = dlen - off < fsize ? dlen - off : fsize;
        fr->len[fr->n] = frag4(fr->b[fr->n], orig, off, l, off + l < dlen, vlan);
        fr->n++;
    }
}

/* One IPv6 fragment: the unfragmentable part of orig (48 bytes), a
 * fragment header, then len bytes of data claimed to sit at off. */
static uint32_t frag6_data(uint8_t *o, const uint8_t *orig, uint32_t off, const uint8_t *data,
                           uint32_t len, int more, uint32_t id)
{
    memcpy(o, orig, 48);
    wr16(o + 4, 8 + 8 + len);
    o[40] = 44;
    o[48] = 60; /* the fragmentable part starts with destination options */
    o[49] = 0;
    wr16(o + 50, off | (more ? 1u : 0));
    wr32(o + 52, id);
    memcpy(o + 56, data, len);
    return 56 + len;
}

/* One IPv6 fragment of orig: its fragmentable bytes [off, off+len). */
static uint32_t frag6(uint8_t *o, const uint8_t *orig, uint32_t off, uint32_t len, int more,
                      uint32_t id)
{
    return frag6_data(o, orig, off, orig + 48 + off, len, more, id);
}

static void split6(struct frags *fr, const uint8_t *orig, uint32_t tot, uint32_t fsize, uint32_t id)
{
    uint32_t dlen = tot - 48;
    fr->n = 0;
    for (uint32_t off = 0; off < dlen; off += fsize) {
        uint32_t l = dlen - off < fsize ? dlen - off : fsize;
        fr->len[fr->n] = frag6(fr->b[fr->n], orig, off, l, off + l < dlen, id);
        fr->n++;
    }
}

static struct decoder *dec_new(uint64_t memcap, uint32_t maxdg, uint32_t maxfr, uint32_t tmo)
{
    struct decode_config cfg;
    decode_config_default(&cfg);
    if (memcap) cfg.defrag.memcap = memcap;
    if (maxdg) cfg.defrag.max_datagrams = maxdg;
    if (maxfr) cfg.defrag.max_frags = maxfr;
    if (tmo) cfg.defrag.timeout_us = tmo;
    struct decoder *d = decoder_new(&cfg);
    CHECK(d != NULL);
    if (!d) abort();
    return d;
}

static enum decode_result feed(struct decoder *d, struct packet *p, int dlt, const uint8_t *b,
                               uint32_t n, uint64_t ts)
{
    memset(p, 0, sizeof(*p));
    p->ts_us = ts;
    p->linktype = dlt;
    p->data = b;
    p->caplen = n;
    p->wirelen = n;
    return decode_packet(d, p);
}

static uint64_t ev_total(const struct decode_stats *st)
{
    uint64_t n = 0;
    for (int i = 0; i < DECODE_EVENT_MAX; i++)
        n += st->ev[i];
    return n;
}

/* Feeds fr in order[], expects HELD until the last, then the original. */
static void expect_reasm(const char *name, struct decoder *d, const struct frags *fr,
                         const int *order, int dlt, const uint8_t *orig, uint32_t olen, uint64_t ts)
{
    const struct decode_stats *st = decoder_stats(d);
    uint64_t held0 = st->ev[DEC_FRAG_HELD], done0 = st->ev[DEC_FRAG_REASSEMBLED];
    uint64_t ev0 = ev_total(st);
    struct packet p;
    enum decode_result r = DECODE_DROP;
    int bad = 0;
    for (int i = 0; i < fr->n; i++) {
        r = feed(d, &p, dlt, fr->b[order[i]], fr->len[order[i]], ts + (uint64_t)i);
        if (i < fr->n - 1 && r != DECODE_HELD) bad++;
    }
    if (bad || r != DECODE_OK) fprintf(stderr, "%s: %d early results, last %d\n", name, bad, r);
    CHECK_EQ(bad, 0);
    CHECK_EQ(r, DECODE_OK);
    CHECK_EQ(p.reassembled, 1);
    CHECK_EQ(p.l3_len, olen);
    CHECK(p.l3 != NULL && memcmp(p.l3, orig, olen) == 0);
    CHECK_EQ(p.csum_bad, 0);
    int v6 = (orig[0] >> 4) == 6;
    uint32_t l4off = v6 ? 56 : (uint32_t)(orig[0] & 15) * 4;
    uint8_t proto = v6 ? 6 : orig[9];
    CHECK_EQ(p.ip_ver, v6 ? 6 : 4);
    CHECK_EQ(p.proto, proto);
    CHECK_EQ(p.sport, rd16(orig + l4off));
    CHECK_EQ(p.dport, rd16(orig + l4off + 2));
    uint32_t l4h = proto == 6 ? 20 : 8;
    CHECK(p.payload == p.l3 + l4off + l4h);
    CHECK_EQ(p.payload_len, olen - l4off - l4h);
    if (proto == 6) {
        CHECK_EQ(p.seq, v6 ? 7 : 1000);
        CHECK_EQ(p.tcp_flags, 0x18);
    }
    CHECK_EQ(st->ev[DEC_FRAG_HELD] - held0, (uint64_t)fr->n - 1);
    CHECK_EQ(st->ev[DEC_FRAG_REASSEMBLED] - done0, 1);
    CHECK_EQ(ev_total(st) - ev0, (uint64_t)fr->n); /* nothing else counted */
    CHECK_EQ(decoder_memuse(d), 0);
}

static void order_in(int *o, int n)
{
    for (int i = 0; i < n; i++)
        o[i] = i;
}

static void order_rev(int *o, int n)
{
    for (int i = 0; i < n; i++)
        o[i] = n - 1 - i;
}

static struct frags FR, FR2;
static int ORD[MAXF];

/* ---- tests ----------------------------------------------------------------- */

static void test_orders(void)
{
    static uint8_t orig[2000];
    struct decoder *d = dec_new(0, 0, 0, 0);

    /* IPv4/UDP and IPv4/TCP with options, several fragment sizes */
    const uint32_t sizes[] = {8, 16, 64, 512, 1000};
    for (int proto = 0; proto < 2; proto++) {
        for (unsigned si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
            uint32_t tot = dgram4(orig, proto ? 6 : 17, proto ? 8 : 0, 1201, (uint16_t)(100 + si),
                                  (uint8_t)si);
            split4(&FR, orig, tot, sizes[si], 0);
            CHECK(FR.n >= 2);
            order_in(ORD, FR.n);
            expect_reasm("v4 in order", d, &FR, ORD, DLT_RAW4, orig, tot, T0);
            order_rev(ORD, FR.n);
            expect_reasm("v4 reverse", d, &FR, ORD, DLT_RAW4, orig, tot, T0);
            for (int k = 0; k < 5; k++) {
                order_in(ORD, FR.n);
                shuffle(ORD, FR.n);
                expect_reasm("v4 random", d, &FR, ORD, DLT_RAW4, orig, tot, T0);
            }
        }
    }
    /* IPv6/TCP with an unfragmentable hop-by-hop header and a fragmentable
     * destination options header */
    for (unsigned si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        uint32_t tot = dgram6(orig, 1203, (uint8_t)(si * 3));
        split6(&FR, orig, tot, sizes[si], 0xabcd0000u + si);
        order_in(ORD, FR.n);
        expect_reasm("v6 in order", d, &FR, ORD, DLT_RAW6, orig, tot, T0);
        order_rev(ORD, FR.n);
        expect_reasm("v6 reverse", d, &FR, ORD, DLT_RAW6, orig, tot, T0);
        for (int k = 0; k < 5; k++) {
            order_in(ORD, FR.n);
            shuffle(ORD, FR.n);
            expect_reasm("v6 random", d, &FR, ORD, DLT_RAW6, orig, tot, T0);
        }
    }
    const struct decode_stats *st = decoder_stats(d);
    CHECK_EQ(st->ev[DEC_FRAG_OVERLAP], 0);
    CHECK_EQ(st->ev[DEC_FRAG_REASSEMBLED], 2 * 5 * 7 + 5 * 7);
    /* a reassembled datagram is counted in tcp/udp once */
    CHECK_EQ(st->udp, 5 * 7);
    CHECK_EQ(st->tcp, 5 * 7 + 5 * 7);
    decoder_free(d);
}

/* Fragments of two datagrams with the same addresses and id on different
 * VLANs, interleaved, and hundreds of datagrams in flight at once. */
static void test_keys(void)
{
    static uint8_t a[400], b[400];
    struct decoder *d = dec_new(0, 0, 0, 0);
    struct packet p;
    uint32_t ta = dgram4(a, 17, 0, 100, 7, 1), tb = dgram4(b, 17, 0, 100, 7, 2);
    split4(&FR, a, ta, 32, 10);
    split4(&FR2, b, tb, 32, 20);
    CHECK_EQ(FR.n, FR2.n);
    for (int i = 0; i < FR.n; i++) {
        enum decode_result r = feed(d, &p, DLT_ETH, FR.b[i], FR.len[i], T0 + (uint64_t)i);
        CHECK_EQ(r, i < FR.n - 1 ? DECODE_HELD : DECODE_OK);
        if (r == DECODE_OK) {
            CHECK(memcmp(p.l3, a, ta) == 0);
            CHECK_EQ(p.vlan[0], 10);
        }
        r = feed(d, &p, DLT_ETH, FR2.b[i], FR2.len[i], T0 + (uint64_t)i);
        CHECK_EQ(r, i < FR.n - 1 ? DECODE_HELD : DECODE_OK);
        if (r == DECODE_OK) {
            CHECK(memcmp(p.l3, b, tb) == 0);
            CHECK_EQ(p.vlan[0], 20);
        }
    }
    CHECK_EQ(decoder_memuse(d), 0);

    /* 500 datagrams in flight: all first halves, then all second halves */
    static uint8_t first[500][100], second[500][100];
    static uint32_t flen[500], slen[500];
    static uint8_t og[500][100];
    for (int i = 0; i < 500; i++) {
        uint32_t t = dgram4(og[i], 17, 0, 40, (uint16_t)(i * 31), (uint8_t)i);
        og[i][15] = (uint8_t)(i & 7); /* a few sources too */
        fix_ip4_csum(og[i]);
        /* recompute UDP checksum for the changed source */
        uint8_t *l4 = og[i] + 20;
        l4[6] = l4[7] = 0;
        uint32_t s = sum16(0, og[i] + 12, 8) + 17 + 48;
        wr16(l4 + 6, finish(sum16(s, l4, 48)));
        if (rd16(l4 + 6) == 0) wr16(l4 + 6, 0xffff);
        flen[i] = frag4(first[i], og[i], 0, 24, 1, 0);
        slen[i] = frag4(second[i], og[i], 24, t - 20 - 24, 0, 0);
    }
    int held = 0, ok = 0;
    for (int i = 0; i < 500; i++)
        held += feed(d, &p, DLT_RAW4, first[i], flen[i], T0 + 10) == DECODE_HELD;
    CHECK_EQ(held, 500);
    CHECK(decoder_memuse(d) > 500 * 24);
    for (int i = 499; i >= 0; i--) {
        if (feed(d, &p, DLT_RAW4, second[i], slen[i], T0 + 11) == DECODE_OK &&
            memcmp(p.l3, og[i], 68) == 0 && !p.csum_bad)
            ok++;
    }
    CHECK_EQ(ok, 500);
    CHECK_EQ(decoder_memuse(d), 0);
    decoder_free(d);
}

static void test_overlap(void)
{
    static uint8_t orig[200], bad[200], o[300];
    uint32_t tot = dgram4(orig, 17, 0, 40, 77, 9); /* 48 bytes after the header */
    memcpy(bad, orig, tot);
    for (int i = 16; i < 24; i++)
        bad[20 + i] ^= 0x5a;
    struct packet p;
    struct decoder *d = dec_new(0, 0, 0, 0);
    const struct decode_stats *st = decoder_stats(d);
    uint32_t n;

    /* good data first: the differing copy is counted and loses */
    n = frag4(o, orig, 0, 24, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    n = frag4(o, bad, 16, 24, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    CHECK_EQ(st->ev[DEC_FRAG_OVERLAP], 1);
    n = frag4(o, orig, 40, 8, 0, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_OK);
    CHECK(memcmp(p.l3, orig, tot) == 0);
    CHECK_EQ(p.csum_bad, 0);

    /* differing data first: it stays (first wins), the UDP sum shows it */
    n = frag4(o, bad, 16, 24, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    n = frag4(o, orig, 0, 24, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    CHECK_EQ(st->ev[DEC_FRAG_OVERLAP], 2);
    n = frag4(o, orig, 40, 8, 0, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_OK);
    CHECK(memcmp(p.l3 + 20, orig + 20, 16) == 0);
    CHECK(memcmp(p.l3 + 36, bad + 36, 8) == 0);
    CHECK(memcmp(p.l3 + 36, orig + 36, 8) != 0);
    CHECK(memcmp(p.l3 + 44, orig + 44, tot - 44) == 0);
    CHECK_EQ(p.csum_bad, 1);
    CHECK_EQ(st->ev[DEC_UDP_BAD_CSUM], 1);

    /* one fragment filling several holes with identical bytes: no overlap */
    static const uint32_t offs[] = {0, 16, 32};
    for (int i = 0; i < 3; i++) {
        n = frag4(o, orig, offs[i], 8, 1, 0);
        CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    }
    n = frag4(o, orig, 0, 48, 0, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_OK);
    CHECK(memcmp(p.l3, orig, tot) == 0);
    CHECK_EQ(st->ev[DEC_FRAG_OVERLAP], 2);

    /* a later fragment straddling two held pieces, differing in the second */
    n = frag4(o, orig, 0, 16, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    n = frag4(o, orig, 24, 8, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    memcpy(bad, orig, tot);
    bad[20 + 28] ^= 1;
    n = frag4(o, bad, 8, 32, 1, 0); /* [8,40): overlaps both, differs in [24,32) */
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    CHECK_EQ(st->ev[DEC_FRAG_OVERLAP], 3);
    n = frag4(o, orig, 40, 8, 0, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_OK);
    CHECK(memcmp(p.l3, orig, tot) == 0);
    CHECK_EQ(p.csum_bad, 0);
    CHECK_EQ(decoder_memuse(d), 0);

    /* IPv6: first wins too */
    static uint8_t o6[400], bad6[400];
    uint32_t tot6 = dgram6(o6, 40, 3);
    memcpy(bad6, o6, tot6);
    bad6[48 + 20] ^= 0xff;
    n = frag6(o, bad6, 16, 16, 1, 99);
    CHECK_EQ(feed(d, &p, DLT_RAW6, o, n, T0), DECODE_HELD);
    n = frag6(o, o6, 0, 32, 1, 99);
    CHECK_EQ(feed(d, &p, DLT_RAW6, o, n, T0), DECODE_HELD);
    CHECK_EQ(st->ev[DEC_FRAG_OVERLAP], 4);
    n = frag6(o, o6, 32, tot6 - 48 - 32, 0, 99);
    CHECK_EQ(feed(d, &p, DLT_RAW6, o, n, T0), DECODE_OK);
    CHECK(memcmp(p.l3, bad6, tot6) == 0);
    CHECK_EQ(p.csum_bad, 1);
    CHECK_EQ(st->ev[DEC_TCP_BAD_CSUM], 1);
    CHECK_EQ(decoder_memuse(d), 0);
    decoder_free(d);
}

static void test_duplicates(void)
{
    static uint8_t orig[2000];
    struct decoder *d = dec_new(0, 0, 0, 1000000);
    const struct decode_stats *st = decoder_stats(d);
    struct packet p;
    uint32_t tot = dgram4(orig, 6, 0, 300, 5, 4);
    split4(&FR, orig, tot, 64, 0);
    int held = 0;
    enum decode_result r = DECODE_DROP;
    for (int i = 0; i < FR.n; i++) {
        for (int k = 0; k < (i < FR.n - 1 ? 2 : 1); k++) {
            r = feed(d, &p, DLT_RAW4, FR.b[i], FR.len[i], T0);
            held += r == DECODE_HELD;
        }
    }
    CHECK_EQ(r, DECODE_OK);
    CHECK(memcmp(p.l3, orig, tot) == 0);
    CHECK_EQ(held, 2 * (FR.n - 1));
    CHECK_EQ(st->ev[DEC_FRAG_OVERLAP], 0);
    CHECK_EQ(decoder_memuse(d), 0);
    /* a duplicate after completion starts a new datagram that times out */
    CHECK_EQ(feed(d, &p, DLT_RAW4, FR.b[0], FR.len[0], T0 + 5), DECODE_HELD);
    CHECK(decoder_memuse(d) > 0);
    decoder_expire(d, T0 + 5 + 1000000);
    CHECK_EQ(st->ev[DEC_FRAG_TIMEOUT], 0);
    decoder_expire(d, T0 + 5 + 1000001);
    CHECK_EQ(st->ev[DEC_FRAG_TIMEOUT], 1);
    CHECK_EQ(decoder_memuse(d), 0);
    decoder_free(d);
}

static void test_timeout(void)
{
    static uint8_t orig[400], other[400];
    const uint32_t tmo = 2000000;
    struct decoder *d = dec_new(0, 0, 0, tmo);
    const struct decode_stats *st = decoder_stats(d);
    struct packet p;
    uint32_t tot = dgram4(orig, 17, 0, 100, 1, 1);
    split4(&FR, orig, tot, 40, 0);
    CHECK_EQ(FR.n, 3);
    CHECK_EQ(feed(d, &p, DLT_RAW4, FR.b[0], FR.len[0], T0), DECODE_HELD);
    CHECK_EQ(feed(d, &p, DLT_RAW4, FR.b[1], FR.len[1], T0 + 100), DECODE_HELD);
    uint64_t held = decoder_memuse(d);
    CHECK(held > 80);
    /* an ordinary packet moves packet time; at exactly the timeout nothing goes */
    uint32_t on = dgram4(other, 17, 0, 10, 2, 2);
    CHECK_EQ(feed(d, &p, DLT_RAW4, other, on, T0 + tmo), DECODE_OK);
    CHECK_EQ(decoder_memuse(d), held);
    CHECK_EQ(st->ev[DEC_FRAG_TIMEOUT], 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, other, on, T0 + tmo + 1), DECODE_OK);
    CHECK_EQ(st->ev[DEC_FRAG_TIMEOUT], 1);
    CHECK_EQ(decoder_memuse(d), 0);
    /* the late last fragment alone cannot complete anything */
    CHECK_EQ(feed(d, &p, DLT_RAW4, FR.b[2], FR.len[2], T0 + tmo + 2), DECODE_HELD);
    /* packet time going backwards expires nothing */
    decoder_expire(d, T0);
    CHECK_EQ(st->ev[DEC_FRAG_TIMEOUT], 1);
    decoder_expire(d, T0 + 3 * tmo);
    CHECK_EQ(st->ev[DEC_FRAG_TIMEOUT], 2);
    CHECK_EQ(decoder_memuse(d), 0);

    /* never-completing IPv6 datagrams, several at once, expired by a fragment */
    static uint8_t o6[400], b6[400];
    uint32_t tot6 = dgram6(o6, 64, 5);
    for (uint32_t id = 0; id < 5; id++) {
        uint32_t n = frag6(b6, o6, 0, 32, 1, id);
        CHECK_EQ(feed(d, &p, DLT_RAW6, b6, n, T0 + 10 * tmo + id), DECODE_HELD);
    }
    uint32_t n = frag6(b6, o6, 32, tot6 - 48 - 32, 0, 1000);
    CHECK_EQ(feed(d, &p, DLT_RAW6, b6, n, T0 + 11 * tmo + 5), DECODE_HELD);
    CHECK_EQ(st->ev[DEC_FRAG_TIMEOUT], 7);
    CHECK(decoder_memuse(d) > 0);
    decoder_free(d); /* frees what is still held */
}

static void test_caps(void)
{
    static uint8_t orig[400], orig2[400], o[400];
    struct packet p;
    uint32_t tot = dgram4(orig, 17, 0, 40, 1, 1), tot2 = dgram4(orig2, 17, 0, 40, 2, 2);
    uint32_t n;

    /* measure what one fragment of 24 bytes costs, then what a second adds */
    struct decoder *d = dec_new(0, 0, 0, 0);
    n = frag4(o, orig, 0, 24, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    uint64_t m1 = decoder_memuse(d);
    n = frag4(o, orig, 24, 16, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    uint64_t m2 = decoder_memuse(d);
    CHECK(m1 > 24 + 20);
    CHECK(m2 > m1 + 16);
    decoder_free(d);

    /* memcap = m1: the first fragment fits exactly, nothing else does */
    d = dec_new(m1, 0, 0, 1000);
    const struct decode_stats *st = decoder_stats(d);
    n = frag4(o, orig, 0, 24, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    CHECK_EQ(decoder_memuse(d), m1);
    n = frag4(o, orig, 24, 16, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_FRAG_MEMCAP], 1);
    n = frag4(o, orig2, 0, 24, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_FRAG_MEMCAP], 2);
    CHECK_EQ(decoder_memuse(d), m1);
    /* a duplicate needs nothing more and is fine */
    n = frag4(o, orig, 0, 24, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    CHECK_EQ(st->ev[DEC_FRAG_MEMCAP], 2);
    /* once the stuck datagram times out, the other one gets through */
    decoder_expire(d, T0 + 1001);
    CHECK_EQ(decoder_memuse(d), 0);
    CHECK_EQ(st->ev[DEC_FRAG_TIMEOUT], 1);
    n = frag4(o, orig2, 0, 24, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0 + 1001), DECODE_HELD);
    CHECK_EQ(st->ev[DEC_FRAG_MEMCAP], 2);
    decoder_free(d);

    /* memcap = m2: two fragments fit, the third (the last one) does not */
    d = dec_new(m2, 0, 0, 0);
    st = decoder_stats(d);
    split4(&FR, orig, tot, 16, 0); /* 16, 16, 16 */
    CHECK_EQ(FR.n, 3);
    n = frag4(o, orig, 0, 24, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    n = frag4(o, orig, 24, 16, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    n = frag4(o, orig, 40, 8, 0, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_FRAG_MEMCAP], 1);
    CHECK_EQ(st->ev[DEC_FRAG_REASSEMBLED], 0);
    CHECK_EQ(decoder_memuse(d), m2);
    decoder_free(d);

    /* memcap = m2 - 1: one byte short for the second fragment */
    d = dec_new(m2 - 1, 0, 0, 0);
    st = decoder_stats(d);
    n = frag4(o, orig, 0, 24, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    n = frag4(o, orig, 24, 16, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_FRAG_MEMCAP], 1);
    CHECK_EQ(decoder_memuse(d), m1);
    decoder_free(d);

    /* max datagrams */
    d = dec_new(0, 2, 0, 0);
    st = decoder_stats(d);
    for (int i = 0; i < 3; i++) {
        uint32_t t = dgram4(orig2, 17, 0, 40, (uint16_t)(50 + i), 3);
        (void)t;
        n = frag4(o, orig2, 0, 24, 1, 0);
        CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), i < 2 ? DECODE_HELD : DECODE_DROP);
    }
    CHECK_EQ(st->ev[DEC_FRAG_MEMCAP], 1);
    decoder_free(d);

    /* max fragments per datagram: 8-byte fragments of 48 bytes = 6 */
    d = dec_new(0, 0, 4, 0);
    st = decoder_stats(d);
    split4(&FR, orig, tot, 8, 0);
    CHECK_EQ(FR.n, 6);
    for (int i = 0; i < FR.n; i++)
        CHECK_EQ(feed(d, &p, DLT_RAW4, FR.b[i], FR.len[i], T0), i < 4 ? DECODE_HELD : DECODE_DROP);
    CHECK_EQ(st->ev[DEC_FRAG_MEMCAP], 2);
    CHECK_EQ(st->ev[DEC_FRAG_HELD], 4);
    decoder_free(d);
    (void)tot2;
}

static void test_too_big_and_bad(void)
{
    static uint8_t orig[400], o[400];
    struct packet p;
    struct decoder *d = dec_new(0, 0, 0, 0);
    const struct decode_stats *st = decoder_stats(d);
    dgram4(orig, 17, 0, 100, 3, 3);
    uint32_t n;

    /* the last byte would sit at 65535 + 1 */
    n = frag4(o, orig, 0, 12, 0, 0);
    wr16(o + 6, 65504 / 8); /* offset 65504, 12 bytes, 20 of header: 65536 */
    fix_ip4_csum(o);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_FRAG_TOO_BIG], 1);
    /* 65535 exactly is allowed */
    n = frag4(o, orig, 0, 11, 0, 0);
    wr16(o + 6, 65504 / 8);
    fix_ip4_csum(o);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    CHECK_EQ(st->ev[DEC_FRAG_TOO_BIG], 1);
    /* the largest offset with MF set: ping of death */
    n = frag4(o, orig, 0, 64, 1, 0);
    wr16(o + 6, 0x2000 | 0x1fff);
    fix_ip4_csum(o);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_FRAG_TOO_BIG], 2);

    /* IPv6: unfragmentable part counts toward the 65535 */
    static uint8_t o6[400], b6[400];
    dgram6(o6, 64, 1);
    n = frag6_data(b6, o6, 65528, o6 + 48, 8, 1, 5); /* 8 of hop-by-hop + 65528 + 8 */
    CHECK_EQ(feed(d, &p, DLT_RAW6, b6, n, T0), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_FRAG_TOO_BIG], 3);
    n = frag6_data(b6, o6, 65520, o6 + 48, 7, 0, 6);
    CHECK_EQ(feed(d, &p, DLT_RAW6, b6, n, T0), DECODE_HELD);

    /* MF with a length not a multiple of 8 */
    n = frag4(o, orig, 0, 12, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_FRAG_BAD], 1);
    /* a zero-length fragment */
    n = frag4(o, orig, 8, 0, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_FRAG_BAD], 2);
    /* a last fragment ending before data already held, and one moving the end */
    static uint8_t g[400];
    dgram4(g, 17, 0, 100, 4, 4);
    n = frag4(o, g, 32, 16, 1, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    n = frag4(o, g, 8, 16, 0, 0); /* offset 0 with MF clear would be no fragment */
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_FRAG_BAD], 3);
    n = frag4(o, g, 48, 16, 0, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_HELD);
    n = frag4(o, g, 48, 24, 0, 0);
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_DROP);
    n = frag4(o, g, 64, 8, 1, 0); /* past the known end */
    CHECK_EQ(feed(d, &p, DLT_RAW4, o, n, T0), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_FRAG_BAD], 5);

    /* a fragment not captured whole cannot be held */
    n = frag4(o, g, 0, 24, 1, 0);
    memset(&p, 0, sizeof(p));
    p.ts_us = T0;
    p.linktype = DLT_RAW4;
    p.data = o;
    p.caplen = n - 1;
    p.wirelen = n;
    CHECK_EQ(decode_packet(d, &p), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_IPV4_TRUNCATED], 1);
    n = frag6(b6, o6, 0, 16, 1, 77);
    p.data = b6;
    p.linktype = DLT_RAW6;
    p.caplen = n - 3;
    p.wirelen = n;
    CHECK_EQ(decode_packet(d, &p), DECODE_DROP);
    CHECK_EQ(st->ev[DEC_IPV6_TRUNCATED], 1);

    /* an atomic IPv6 fragment (offset 0, M 0) is just a packet */
    uint32_t tot6 = dgram6(o6, 30, 2);
    n = frag6(b6, o6, 0, tot6 - 48, 0, 8);
    uint64_t held = st->ev[DEC_FRAG_HELD];
    CHECK_EQ(feed(d, &p, DLT_RAW6, b6, n, T0), DECODE_OK);
    CHECK_EQ(p.reassembled, 0);
    CHECK_EQ(p.proto, 6);
    CHECK_EQ(p.sport, 40001);
    CHECK_EQ(p.payload_len, 30);
    CHECK_EQ(p.csum_bad, 0);
    CHECK_EQ(st->ev[DEC_FRAG_HELD], held);
    decoder_free(d);
}

/* Reassembled datagram, then a plain packet: plain packets never touch defrag. */
static void test_plain_no_memuse(void)
{
    static uint8_t orig[400];
    struct decoder *d = dec_new(0, 0, 0, 0);
    struct packet p;
    uint32_t tot = dgram4(orig, 17, 0, 50, 1, 1);
    for (int i = 0; i < 100; i++) {
        CHECK_EQ(feed(d, &p, DLT_RAW4, orig, tot, T0 + (uint64_t)i), DECODE_OK);
        CHECK_EQ(p.reassembled, 0);
    }
    CHECK_EQ(decoder_memuse(d), 0);
    CHECK_EQ(decoder_stats(d)->ev[DEC_FRAG_HELD], 0);
    CHECK_EQ(decoder_stats(d)->udp, 100);
    decoder_free(d);
}

int main(void)
{
    test_orders();
    test_keys();
    test_overlap();
    test_duplicates();
    test_timeout();
    test_caps();
    test_too_big_and_bad();
    test_plain_no_memuse();
    return check_done();
}
