/* pkt.c - frames, checksums and TCP for the capture writer (see pkt.h).
 *
 * Data enters as whole application messages (pkt_tcp_send) or datagrams
 * (pkt_udp) and leaves as pcap records through libpcap's dumper. TCP keeps
 * the invariant the sensor relies on: seq/ack are always consistent, and
 * every impairment is a capture-side effect (a lost segment was received
 * by the peer, which ACKs it; a retransmitted or overlapping copy comes
 * after the first copy, and only the first copy carries the true bytes). */
#include "pkt.h"

#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

pkt_writer *pkt_open(const char *path, uint64_t seed, char *err)
{
    pkt_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, 256, "out of memory");
        return NULL;
    }
    w->fp = fopen(path, "wb");
    if (!w->fp) {
        snprintf(err, 256, "%s: cannot create", path);
        goto error;
    }
    if ((w->fbuf = malloc(1 << 20)))
        setvbuf(w->fp, w->fbuf, _IOFBF, 1 << 20);
    w->pd = pcap_open_dead(DLT_EN10MB, 65535);
    if (!w->pd) {
        snprintf(err, 256, "pcap_open_dead failed");
        goto error;
    }
    w->dump = pcap_dump_fopen(w->pd, w->fp);
    if (!w->dump) {
        snprintf(err, 256, "%s: %s", path, pcap_geterr(w->pd));
        goto error;
    }
    w->bytes = 24;
    w->mss = 1460;
    rng_seed(&w->rng, seed, 0x706b74);
    return w;
error:
    if (w->pd) pcap_close(w->pd);
    if (w->fp) fclose(w->fp);
    free(w->fbuf);
    free(w);
    return NULL;
}

int pkt_close(pkt_writer *w)
{
    if (!w) return 0;
    int rc = 0;
    if (pcap_dump_flush(w->dump) != 0) rc = -1;
    if (ferror(w->fp)) rc = -1;
    pcap_dump_close(w->dump); /* closes fp */
    pcap_close(w->pd);
    free(w->fbuf);
    free(w);
    return rc;
}

uint64_t pkt_at(pkt_writer *w, uint64_t t)
{
    if (t > w->now) w->now = t;
    return w->now;
}

void pkt_wait(pkt_writer *w, uint64_t us)
{
    w->now += us;
}

void pkt_addr4(pkt_addr *a, unsigned b0, unsigned b1, unsigned b2, unsigned b3)
{
    memset(a, 0, sizeof *a);
    a->a[0] = (uint8_t)b0;
    a->a[1] = (uint8_t)b1;
    a->a[2] = (uint8_t)b2;
    a->a[3] = (uint8_t)b3;
}

void pkt_addr6(pkt_addr *a, unsigned hi, unsigned lo)
{
    memset(a, 0, sizeof *a);
    a->v6 = 1;
    a->a[0] = 0xfd;
    a->a[6] = (uint8_t)(hi >> 8);
    a->a[7] = (uint8_t)hi;
    a->a[12] = (uint8_t)(lo >> 24);
    a->a[13] = (uint8_t)(lo >> 16);
    a->a[14] = (uint8_t)(lo >> 8);
    a->a[15] = (uint8_t)lo;
}

void pkt_addr_str(const pkt_addr *a, char *out)
{
    if (!a->v6) {
        snprintf(out, 46, "%u.%u.%u.%u", a->a[0], a->a[1], a->a[2], a->a[3]);
        return;
    }
    /* RFC 5952: lower case, longest run of zero groups as "::" */
    unsigned g[8];
    for (int i = 0; i < 8; i++)
        g[i] = (unsigned)(a->a[2 * i] << 8 | a->a[2 * i + 1]);
    int best = -1, bestlen = 1;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j > i ? j : i + 1;
    }
    char *p = out;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *p++ = ':';
            if (i == 0) *p++ = ':';
            i += bestlen - 1;
            continue;
        }
        p += sprintf(p, "%x%s", g[i], i < 7 ? ":" : "");
    }
    *p = 0;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    uint64_t s = sum;
    while (n >= 4) {
        s += (uint32_t)(p[0] << 8 | p[1]) + (uint32_t)(p[2] << 8 | p[3]);
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        s += (uint32_t)(p[0] << 8 | p[1]);
        p += 2;
        n -= 2;
    }
    if (n) s += (uint32_t)(p[0] << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}

static uint16_t csum_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void mac_of(uint8_t *m, const pkt_addr *a)
{
    const uint8_t *x = a->v6 ? a->a + 12 : a->a;
    m[0] = 0x02;
    m[1] = 0x42;
    memcpy(m + 2, x, 4);
}

/* Writes one frame: Ethernet + IP header for (src, dst, proto) around the
 * L4 bytes already at w->frame + off_l4 (l4len long, checksum field at
 * csum_off within it, zeroed). */
static void emit(pkt_writer *w, const pkt_addr *src, const pkt_addr *dst, uint8_t proto,
                 size_t l4len, size_t csum_off, uint16_t ipid, uint8_t ttl)
{
    uint8_t *f = w->frame;
    size_t iphl = src->v6 ? 40 : 20;
    uint8_t *ip = f + 14, *l4 = ip + iphl;
    mac_of(f, dst);
    mac_of(f + 6, src);
    uint32_t ps;
    if (!src->v6) {
        put16(f + 12, 0x0800);
        ip[0] = 0x45;
        ip[1] = 0;
        put16(ip + 2, (unsigned)(20 + l4len));
        put16(ip + 4, ipid);
        put16(ip + 6, 0x4000);
        ip[8] = ttl;
        ip[9] = proto;
        put16(ip + 10, 0);
        memcpy(ip + 12, src->a, 4);
        memcpy(ip + 16, dst->a, 4);
        put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
        ps = csum_add(0, ip + 12, 8);
        ps += proto + (uint32_t)l4len;
    } else {
        put16(f + 12, 0x86dd);
        put32(ip, 0x60000000u);
        put16(ip + 4, (unsigned)l4len);
        ip[6] = proto;
        ip[7] = ttl;
        memcpy(ip + 8, src->a, 16);
        memcpy(ip + 24, dst->a, 16);
        ps = csum_add(0, ip + 8, 32);
        ps += proto + (uint32_t)l4len;
    }
    uint16_t c = csum_fold(csum_add(ps, l4, l4len));
    if (proto == 17 && c == 0) c = 0xffff;
    put16(l4 + csum_off, c);

    size_t flen = 14 + iphl + l4len;
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(w->now / 1000000);
    h.ts.tv_usec = (suseconds_t)(w->now % 1000000);
    h.caplen = h.len = (bpf_u_int32)flen;
    pcap_dump((u_char *)w->dump, &h, f);
    w->packets++;
    w->bytes += 16 + flen;
    w->cls_bytes[w->cls] += 16 + flen;
    /* serialisation at 1 Gb/s plus a little jitter */
    w->now += 1 + flen / 125 + rng_below(&w->rng, 4);
}

static size_t l4_off(const pkt_tcp *c)
{
    return 14 + (c->ip[0].v6 ? 40u : 20u);
}

enum { F_FIN = 1, F_SYN = 2, F_RST = 4, F_PSH = 8, F_ACK = 16 };

/* One TCP segment from side dir with sequence number seq. */
static void tcp_seg(pkt_writer *w, pkt_tcp *c, int dir, uint32_t seq, unsigned flags,
                    const uint8_t *data, size_t len)
{
    uint8_t *t = w->frame + l4_off(c);
    size_t hl = 20;
    if (flags & F_SYN) {
        static const uint8_t opt[8] = {2, 4, 0, 0, 1, 1, 4, 2}; /* MSS, NOP NOP, SACK_PERM */
        memcpy(t + 20, opt, 8);
        put16(t + 22, c->mss);
        hl = 28;
    }
    put16(t, c->port[dir]);
    put16(t + 2, c->port[!dir]);
    put32(t + 4, seq);
    put32(t + 8, (flags & F_ACK) ? c->nxt[!dir] : 0);
    t[12] = (uint8_t)((hl / 4) << 4);
    t[13] = (uint8_t)flags;
    put16(t + 14, dir ? 65160 : 64240);
    put16(t + 16, 0);
    put16(t + 18, 0);
    if (len) memcpy(t + hl, data, len);
    emit(w, &c->ip[dir], &c->ip[!dir], 6, hl + len, 16, c->ipid[dir]++, c->ttl[dir]);
}

void pkt_tcp_open(pkt_writer *w, pkt_tcp *c, const pkt_addr *cli, uint16_t cport,
                  const pkt_addr *srv, uint16_t sport, uint8_t cli_ttl)
{
    memset(c, 0, sizeof *c);
    c->ip[0] = *cli;
    c->ip[1] = *srv;
    c->port[0] = cport;
    c->port[1] = sport;
    c->ttl[0] = cli_ttl;
    c->ttl[1] = 64;
    c->mss = w->mss;
    uint64_t r = rng_next(&w->rng);
    c->nxt[0] = (uint32_t)r;
    c->nxt[1] = (uint32_t)(r >> 32);
    c->ipid[0] = (uint16_t)(r >> 16);
    c->ipid[1] = (uint16_t)(r >> 40);
    c->open = 1;
    if (rng_chance(&w->rng, w->imp.midstream)) {
        c->flags |= PKT_F_MIDSTREAM | PKT_F_IMPAIRED;
        c->nxt[0]++;
        c->nxt[1]++;
        return;
    }
    tcp_seg(w, c, 0, c->nxt[0]++, F_SYN, NULL, 0);
    w->now += 150 + rng_below(&w->rng, 200);
    tcp_seg(w, c, 1, c->nxt[1]++, F_SYN | F_ACK, NULL, 0);
    w->now += 150 + rng_below(&w->rng, 200);
    tcp_seg(w, c, 0, c->nxt[0], F_ACK, NULL, 0);
}

/* A later copy of [seq, seq+len) whose bytes differ from the first copy:
 * digits shift, letters change case, anything else flips a bit. */
static void tcp_overlap(pkt_writer *w, pkt_tcp *c, int dir, uint32_t seq, const uint8_t *data,
                        size_t len)
{
    uint8_t tmp[65536];
    for (size_t i = 0; i < len; i++) {
        uint8_t b = data[i];
        if (b >= '0' && b <= '9')
            b = (uint8_t)('0' + (b - '0' + 3) % 10);
        else if ((b | 0x20) >= 'a' && (b | 0x20) <= 'z')
            b ^= 0x20;
        else if (i == 0)
            b ^= 0x01;
        tmp[i] = b;
    }
    tcp_seg(w, c, dir, seq, F_ACK | F_PSH, tmp, len);
}

static void tcp_ack(pkt_writer *w, pkt_tcp *c, int from)
{
    w->now += 20 + rng_below(&w->rng, 60);
    tcp_seg(w, c, from, c->nxt[from], F_ACK, NULL, 0);
}

void pkt_tcp_send(pkt_writer *w, pkt_tcp *c, int dir, const uint8_t *data, size_t len, int ack_end)
{
    const pkt_impair *im = &w->imp;
    uint32_t base = c->nxt[dir];
    size_t off = 0, unacked = 0;
    /* a held segment is written after the next one: out of order */
    size_t held_off = 0, held_len = 0;
    int holding = 0;
    while (off < len) {
        size_t n = len - off < c->mss ? len - off : c->mss;
        if (n > 1 && rng_chance(&w->rng, im->onebyte)) {
            n = 1;
            c->flags |= PKT_F_IMPAIRED;
        }
        unsigned fl = F_ACK | (off + n == len ? F_PSH : 0);
        uint32_t seq = base + (uint32_t)off;
        c->nxt[dir] = seq + (uint32_t)n;
        if (!holding && off + n < len && rng_chance(&w->rng, im->ooo)) {
            holding = 1;
            held_off = off;
            held_len = n;
            c->flags |= PKT_F_IMPAIRED;
            off += n;
            continue;
        }
        if (rng_chance(&w->rng, im->loss)) {
            c->flags |= PKT_F_LOSSY | PKT_F_IMPAIRED;
        } else {
            tcp_seg(w, c, dir, seq, fl, data + off, n);
        }
        if (holding) {
            tcp_seg(w, c, dir, base + (uint32_t)held_off, F_ACK, data + held_off, held_len);
            holding = 0;
        } else if (rng_chance(&w->rng, im->retrans)) {
            w->now += 200 + rng_below(&w->rng, 3000);
            tcp_seg(w, c, dir, seq, fl, data + off, n);
            c->flags |= PKT_F_IMPAIRED;
        } else if (rng_chance(&w->rng, im->overlap)) {
            /* only bytes already written: the first copy stays the truth */
            size_t sent = off + n, l = 1 + rng_below(&w->rng, (uint32_t)(n + n / 2));
            if (l > sent) l = sent;
            if (l > c->mss) l = c->mss;
            w->now += 200 + rng_below(&w->rng, 3000);
            tcp_overlap(w, c, dir, base + (uint32_t)(sent - l), data + sent - l, l);
            c->flags |= PKT_F_IMPAIRED;
        }
        off += n;
        if (++unacked >= 2 && off < len) {
            tcp_ack(w, c, !dir);
            unacked = 0;
        }
    }
    if (holding) /* the held segment was the last one */
        tcp_seg(w, c, dir, base + (uint32_t)held_off, F_ACK | F_PSH, data + held_off, held_len);
    c->nxt[dir] = base + (uint32_t)len;
    if (ack_end) tcp_ack(w, c, !dir);
}

void pkt_tcp_close(pkt_writer *w, pkt_tcp *c, int dir, int rst)
{
    if (!c->open) return;
    c->open = 0;
    if (rst) {
        tcp_seg(w, c, dir, c->nxt[dir], F_RST | F_ACK, NULL, 0);
        return;
    }
    tcp_seg(w, c, dir, c->nxt[dir]++, F_FIN | F_ACK, NULL, 0);
    w->now += 100 + rng_below(&w->rng, 300);
    tcp_seg(w, c, !dir, c->nxt[!dir]++, F_FIN | F_ACK, NULL, 0);
    w->now += 100 + rng_below(&w->rng, 300);
    tcp_seg(w, c, dir, c->nxt[dir], F_ACK, NULL, 0);
}

void pkt_udp(pkt_writer *w, const pkt_addr *src, uint16_t sport, const pkt_addr *dst,
             uint16_t dport, const uint8_t *data, size_t len, uint8_t ttl)
{
    uint8_t *u = w->frame + 14 + (src->v6 ? 40 : 20);
    put16(u, sport);
    put16(u + 2, dport);
    put16(u + 4, (unsigned)(8 + len));
    put16(u + 6, 0);
    memcpy(u + 8, data, len);
    emit(w, src, dst, 17, 8 + len, 6, (uint16_t)rng_next(&w->rng), ttl);
}
