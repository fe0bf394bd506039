/* defrag.c - IPv4 and IPv6 fragment reassembly for the decoder.
 *
 * In: fragments the decoder has parsed (key, header, offset, data, MF).
 * Out: HELD, DROP (counted), or DONE with the whole datagram rebuilt in the
 * defragmenter's own buffer: the header of the offset-0 fragment, for IPv4
 * with MF and the offset cleared, the total length set and the header
 * checksum recomputed, for IPv6 with the fragment header removed (the
 * preceding next-header byte takes its value) and the payload length set.
 *
 * Datagrams are keyed by (version, src, dst, id, proto, vlan ids) in a hash
 * table whose hash is keyed by a random seed drawn at start, so a sender
 * cannot aim fragments at one bucket. Each datagram keeps its fragments as a
 * list of non-overlapping pieces sorted by offset.
 *
 * Overlap policy: first data wins, as in the TCP reassembly. A byte that is
 * already held is never replaced; a new fragment contributes only the bytes
 * in its holes. A fragment whose overlapping bytes differ from what is held
 * is counted once as frag_overlap (an identical duplicate is not). Only the
 * header of the first offset-0 fragment is kept.
 *
 * Caps (struct defrag_config): memcap on every byte held (datagram records,
 * kept headers, fragment pieces and their records), max incomplete
 * datagrams, max pieces per datagram. A fragment that would pass a cap is
 * refused whole and counted frag_memcap; its datagram, if any, stays until it
 * completes or times out. A fragment reaching past 65535 bytes of datagram is
 * refused as frag_too_big; an inconsistent one (empty, MF set on a length not
 * a multiple of 8, past or moving the known end) as frag_bad.
 *
 * Timeout: a datagram lives timeout_us of packet time from its first
 * fragment. Datagrams sit on a list in creation order, so expiry looks only
 * at the oldest; when packet time goes backwards an expired datagram behind
 * a younger one waits until it reaches the head or is looked up. */
#include "sensor/defrag.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define DEFRAG_OUT_MAX (40u + 65535u) /* IPv6 fixed header + largest payload */

struct piece {
    struct piece *next;
    uint32_t off, len;
    uint8_t data[];
};

struct dgram {
    struct dgram *hnext, **hprev; /* hash chain */
    struct dgram *older, *newer;  /* creation-order list */
    struct defrag_key key;
    uint64_t first_us;
    struct piece *pieces;
    uint8_t *hdr;
    uint32_t hdr_len, nh_off;
    uint32_t npieces, held, end, maxend;
    uint8_t have_last;
    uint64_t mem;
};

struct defrag {
    struct defrag_config cfg;
    uint64_t *ev;
    uint64_t seed[2];
    struct dgram **buckets;
    uint32_t mask;
    struct dgram *oldest, *newest;
    uint32_t n;
    uint64_t mem;
    uint8_t *out;
};

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint32_t key_hash(const struct defrag *df, const struct defrag_key *k)
{
    const uint8_t *b = (const uint8_t *)k;
    size_t n = sizeof(*k), i;
    uint64_t h = df->seed[0];
    for (i = 0; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = mix64(h ^ w ^ df->seed[1]);
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, b + i, n - i);
        h = mix64(h ^ w ^ df->seed[1]);
    }
    return (uint32_t)(h ^ (h >> 32));
}

static void seed_init(uint64_t seed[2])
{
    if (getrandom(seed, 2 * sizeof(uint64_t), GRND_NONBLOCK) == (ssize_t)(2 * sizeof(uint64_t)))
        return;
    /* No entropy yet (early boot): still better than a fixed seed. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    seed[0] = mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)seed);
    seed[1] = mix64(seed[0] ^ 0x9e3779b97f4a7c15ULL);
}

struct defrag *defrag_new(const struct defrag_config *cfg, uint64_t *ev)
{
    struct defrag *df = calloc(1, sizeof(*df));
    if (!df) return NULL;
    df->cfg = *cfg;
    df->ev = ev;
    uint32_t nb = 16;
    while (nb < cfg->max_datagrams && nb < (1u << 20))
        nb <<= 1;
    df->mask = nb - 1;
    df->buckets = calloc(nb, sizeof(*df->buckets));
    df->out = malloc(DEFRAG_OUT_MAX);
    if (!df->buckets || !df->out) goto error;
    seed_init(df->seed);
    return df;
error:
    defrag_free(df);
    return NULL;
}

static void dgram_free(struct defrag *df, struct dgram *g)
{
    *g->hprev = g->hnext;
    if (g->hnext) g->hnext->hprev = g->hprev;
    if (g->older)
        g->older->newer = g->newer;
    else
        df->oldest = g->newer;
    if (g->newer)
        g->newer->older = g->older;
    else
        df->newest = g->older;
    for (struct piece *pc = g->pieces, *nx; pc; pc = nx) {
        nx = pc->next;
        free(pc);
    }
    free(g->hdr);
    df->mem -= g->mem;
    df->n--;
    free(g);
}

void defrag_free(struct defrag *df)
{
    if (!df) return;
    while (df->oldest)
        dgram_free(df, df->oldest);
    free(df->buckets);
    free(df->out);
    free(df);
}

static int expired(const struct defrag *df, const struct dgram *g, uint64_t now_us)
{
    return now_us > g->first_us && now_us - g->first_us > df->cfg.timeout_us;
}

void defrag_expire(struct defrag *df, uint64_t now_us)
{
    while (df->oldest && expired(df, df->oldest, now_us)) {
        df->ev[DEC_FRAG_TIMEOUT]++;
        dgram_free(df, df->oldest);
    }
}

uint64_t defrag_memuse(const struct defrag *df)
{
    return df ? df->mem : 0;
}

static enum defrag_result refuse(struct defrag *df, enum decode_event ev)
{
    df->ev[ev]++;
    return DEFRAG_DROP;
}

/* Walks the holes [f->off, f->off+f->len) leaves in g. With insert == 0 it
 * only measures (pieces, new bytes, whether overlapped bytes differ); with
 * insert == 1 it links a piece into each hole. Returns -1 if an allocation
 * failed while inserting (pieces linked so far stay, consistently). */
static int walk_holes(struct defrag *df, struct dgram *g, const struct defrag_frag *f, int insert,
                      uint32_t *pieces, uint32_t *bytes, int *differ)
{
    uint32_t pos = f->off, end = f->off + f->len;
    struct piece **link = g ? &g->pieces : NULL;
    struct piece *n = g ? g->pieces : NULL;
    *pieces = 0;
    *bytes = 0;
    *differ = 0;
    while (pos < end) {
        while (n && n->off + n->len <= pos) {
            link = &n->next;
            n = n->next;
        }
        uint32_t hole_end = n && n->off < end ? n->off : end;
        if (hole_end > pos) {
            uint32_t l = hole_end - pos;
            (*pieces)++;
            *bytes += l;
            if (insert) {
                struct piece *pc = malloc(sizeof(*pc) + l);
                if (!pc) return -1;
                pc->off = pos;
                pc->len = l;
                memcpy(pc->data, f->data + (pos - f->off), l);
                pc->next = n;
                *link = pc;
                link = &pc->next;
                g->npieces++;
                g->held += l;
                g->mem += sizeof(*pc) + l;
                df->mem += sizeof(*pc) + l;
                if (pos + l > g->maxend) g->maxend = pos + l;
            }
            pos = hole_end;
        }
        if (pos >= end || !n) continue;
        /* n covers [n->off, ...) starting at pos: compare the shared bytes */
        uint32_t ov_end = n->off + n->len < end ? n->off + n->len : end;
        if (memcmp(n->data + (pos - n->off), f->data + (pos - f->off), ov_end - pos) != 0)
            *differ = 1;
        pos = ov_end;
    }
    return 0;
}

static void put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static uint16_t ip_csum(const uint8_t *b, uint32_t len)
{
    uint32_t s = 0;
    for (uint32_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)b[i] << 8 | b[i + 1];
    if (len & 1) s += (uint32_t)b[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* Rebuilds the complete datagram g into df->out and frees g. */
static enum defrag_result build(struct defrag *df, struct dgram *g, const uint8_t **out,
                                uint32_t *out_len)
{
    uint32_t extra = g->key.ver == 4 ? g->hdr_len : g->hdr_len - 40;
    if ((uint64_t)extra + g->end > 65535) {
        dgram_free(df, g);
        return refuse(df, DEC_FRAG_TOO_BIG);
    }
    uint32_t total = g->hdr_len + g->end;
    uint8_t *o = df->out;
    memcpy(o, g->hdr, g->hdr_len);
    for (struct piece *pc = g->pieces; pc; pc = pc->next)
        memcpy(o + g->hdr_len + pc->off, pc->data, pc->len);
    if (g->key.ver == 4) {
        put16(o + 2, (uint16_t)total);
        put16(o + 6, (uint16_t)(((uint32_t)o[6] << 8 | o[7]) & ~0x3fffu)); /* keep DF */
        o[10] = o[11] = 0;
        put16(o + 10, ip_csum(o, g->hdr_len));
    } else {
        put16(o + 4, (uint16_t)(total - 40));
        o[g->nh_off] = g->key.proto;
    }
    dgram_free(df, g);
    df->ev[DEC_FRAG_REASSEMBLED]++;
    *out = o;
    *out_len = total;
    return DEFRAG_DONE;
}

enum defrag_result defrag_add(struct defrag *df, const struct defrag_key *k,
                              const struct defrag_frag *f, uint64_t now_us, const uint8_t **out,
                              uint32_t *out_len)
{
    defrag_expire(df, now_us);

    if (f->len == 0 || (f->more && (f->len & 7)) || (f->off & 7) ||
        (k->ver == 6 && (f->hdr_len < 40 || f->nh_off >= f->hdr_len)) ||
        (k->ver == 4 && f->hdr_len < 20))
        return refuse(df, DEC_FRAG_BAD);
    uint32_t extra = k->ver == 4 ? f->hdr_len : f->hdr_len - 40;
    if ((uint64_t)f->off + f->len + extra > 65535) return refuse(df, DEC_FRAG_TOO_BIG);
    uint32_t fend = f->off + f->len;

    uint32_t b = key_hash(df, k) & df->mask;
    struct dgram *g = df->buckets[b];
    while (g && memcmp(&g->key, k, sizeof(*k)) != 0)
        g = g->hnext;
    if (g && expired(df, g, now_us)) {
        df->ev[DEC_FRAG_TIMEOUT]++;
        dgram_free(df, g);
        g = NULL;
    }

    uint64_t need = 0;
    if (g) {
        if (g->have_last && fend > g->end) return refuse(df, DEC_FRAG_BAD);
        if (!f->more && ((g->have_last && fend != g->end) || g->maxend > fend))
            return refuse(df, DEC_FRAG_BAD);
    } else {
        if (df->n >= df->cfg.max_datagrams) return refuse(df, DEC_FRAG_MEMCAP);
        need += sizeof(struct dgram);
    }
    int save_hdr = f->off == 0 && (!g || !g->hdr);
    if (save_hdr) need += f->hdr_len;
    uint32_t npc, nbytes;
    int differ;
    walk_holes(df, g, f, 0, &npc, &nbytes, &differ);
    need += (uint64_t)npc * sizeof(struct piece) + nbytes;
    if ((uint64_t)(g ? g->npieces : 0) + npc > df->cfg.max_frags)
        return refuse(df, DEC_FRAG_MEMCAP);
    if (df->mem + need > df->cfg.memcap) return refuse(df, DEC_FRAG_MEMCAP);
    if (differ) df->ev[DEC_FRAG_OVERLAP]++;

    if (!g) {
        g = calloc(1, sizeof(*g));
        if (!g) return refuse(df, DEC_FRAG_MEMCAP);
        g->key = *k;
        g->first_us = now_us;
        g->hnext = df->buckets[b];
        if (g->hnext) g->hnext->hprev = &g->hnext;
        g->hprev = &df->buckets[b];
        df->buckets[b] = g;
        g->older = df->newest;
        if (df->newest)
            df->newest->newer = g;
        else
            df->oldest = g;
        df->newest = g;
        df->n++;
        g->mem = sizeof(*g);
        df->mem += sizeof(*g);
    }
    if (save_hdr) {
        g->hdr = malloc(f->hdr_len);
        if (!g->hdr) return refuse(df, DEC_FRAG_MEMCAP);
        memcpy(g->hdr, f->hdr, f->hdr_len);
        g->hdr_len = f->hdr_len;
        g->nh_off = f->nh_off;
        g->mem += f->hdr_len;
        df->mem += f->hdr_len;
    }
    if (walk_holes(df, g, f, 1, &npc, &nbytes, &differ) < 0) return refuse(df, DEC_FRAG_MEMCAP);
    if (!f->more) {
        g->have_last = 1;
        g->end = fend;
    }
    if (g->have_last && g->hdr && g->held == g->end) return build(df, g, out, out_len);
    df->ev[DEC_FRAG_HELD]++;
    return DEFRAG_HELD;
}
