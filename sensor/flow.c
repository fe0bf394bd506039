/* flow.c - the bidirectional flow table: keyed hash, timeouts, memory cap.
 *
 * In: decoded packets by flow_lookup(), packet time by flow_table_expire().
 * Out: flows through the end callback, which sees each flow exactly once
 * (end_reason set), after which the table frees it. The callback must not
 * call back into the table.
 *
 * Key: both (address, port) endpoints, protocol, outermost VLAN id and IP
 * version. The hash is SipHash-2-4 with the 128-bit seed from the config
 * (getrandom() when the seed is 0,0) over the key with its endpoints in
 * canonical order, so both directions hash alike and crafted ports cannot
 * pile flows into one chain (the last key and its hash are kept, so a run of
 * packets of one flow hashes once). Buckets: a power-of-two array of chains,
 * hash_size to start with, doubled (up to 2^24) whenever there are more than
 * two flows per bucket and the memory cap has room.
 *
 * Ports: TCP, UDP and SCTP use their ports. ICMP/ICMPv6 follow the Community
 * ID spec: the key's ports are (type, counterpart type) when the type has a
 * counterpart (echo request/reply, timestamp, information, router and
 * neighbor solicitation/advertisement, MLD query/report, address mask, ...),
 * so a request and its reply land in one flow; a one-way type (unreachable,
 * time exceeded, ...) keys on (type, code) and matches its own direction
 * only. struct flow keeps what the header promises for ICMP: port[0] is the
 * initiator's type (for request/reply pairs: the request type), port[1] the
 * code of the first packet. Every other protocol has ports 0.
 *
 * Orientation: the initiator (addr[0]) sends the first packet seen, except
 * when that packet is a TCP SYN+ACK or an ICMP reply (echo, timestamp,
 * information, address mask, ICMPv6 echo / node information / home agent
 * reply), or a TCP segment without SYN or a UDP datagram sent from a port
 * under 1024 to one at or above it (a conversation picked up midstream, the
 * server speaking first): then its receiver initiated.
 *
 * TCP state: SYN -> SYN_SENT, SYN+ACK -> SYN_RECV, ACK -> ESTABLISHED; a
 * flow picked up mid-stream is ESTABLISHED once both sides have sent an ACK
 * without SYN. FIN from one side -> FIN_WAIT, from both -> CLOSED, any RST
 * -> CLOSED. tcp_seen_syn is set only when a SYN without ACK from the client
 * was seen. A SYN without ACK on a CLOSED flow is port reuse: the old flow
 * ends (reason closed) and a new one starts.
 *
 * Timeouts: five classes (TCP new, TCP established/FIN_WAIT, TCP closed,
 * UDP, other) each with one timeout and its own LRU list, least recently
 * touched first. Within a list every flow has the same timeout, so the walk
 * from the head stops at the first flow still alive and expiry costs
 * O(expired) plus O(classes) per call. A flow is idle past its timeout when
 * now - last_ts > timeout (idle exactly the timeout is still alive). A packet
 * that finds its flow already idle past the timeout (expire not yet called)
 * ends it and starts a new one, so results do not depend on how often
 * expire runs. Packet time that steps back keeps last_ts at its maximum and
 * can delay expiry of the flows touched after it by at most the step.
 * Expiry, eviction and flush end flows in last_ts order across classes,
 * never in bucket order, so output does not depend on the hash seed.
 *
 * Memory: memuse is the bucket array (at creation shrunk to at most a
 * quarter of the cap; grown as above) plus, per flow, the table's node (struct
 * flow and a few bytes of private state) plus cfg->user_size, plus what the
 * owner charges for state it grows later (flow_table_charge). Creating a
 * flow that would pass the cap first evicts the least recently active flow,
 * repeatedly; when nothing is left to evict the packet is refused (NULL,
 * memcap_refused). A memcap of 0 means the default 256 MiB. One allocation
 * per new flow, none per packet.
 *
 * flow_id: the pcap_cnt of the flow's first packet through a fixed
 * bijection of the 53-bit integers. A packet creates at most one flow, so
 * the id is unique in the run, non-zero, the same on every replay of the
 * same input, the same whichever worker thread owns the flow (--threads:
 * no per-table counter takes part), and exact in JSON consumers that read
 * numbers as doubles. The hash seed plays no part in it. A packet without a
 * pcap_cnt (built by hand, not captured) takes 2^52 + a per-table counter
 * instead, which no capture of fewer than 2^52 packets reaches. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "sensor/flow.h"

#include "output/fingerprint.h"

enum {
    PROTO_ICMP = 1,
    PROTO_TCP = 6,
    PROTO_UDP = 17,
    PROTO_ICMPV6 = 58,
    PROTO_SCTP = 132,
};

enum flow_class {
    CLS_TCP_NEW = 0,
    CLS_TCP_EST,
    CLS_TCP_CLOSED,
    CLS_UDP,
    CLS_OTHER,
    CLS_N,
};

#define FLOW_ID_BITS 53
#define FLOW_ID_MASK ((UINT64_C(1) << FLOW_ID_BITS) - 1)
#define HASH_SIZE_MAX (UINT32_C(1) << 24)

/* The table's allocation: the public flow first, then what only the table
 * reads. */
struct flow_node {
    struct flow f;
    uint16_t kport[2]; /* key ports, oriented like f (ICMP: type, counterpart) */
    uint8_t cls;       /* enum flow_class: the LRU list the flow is on */
    uint8_t one_way;   /* ICMP one-way type: matches its own direction only */
    uint8_t fins;      /* bit per direction that sent FIN */
    uint8_t acks;      /* bit per direction that sent ACK without SYN */
    uint8_t pre_rst;   /* tcp_state before the last RST, for flow_rst_rejected */
};

struct flow_lru {
    struct flow *head, *tail;
};

struct flow_table {
    flow_end_fn on_end;
    void *ud;
    struct flow **bucket;
    uint64_t mask;
    struct flow_lru lru[CLS_N];
    uint64_t timeout[CLS_N];
    uint64_t k0, k1;
    /* the last key hashed and its hash: packets come in runs of one flow,
     * and SipHash is a pure function of the key */
    uint8_t last_key[40];
    uint64_t last_hash;
    uint8_t last_valid;
    uint64_t memcap;
    uint64_t flow_cost;
    uint64_t seq; /* flows created without a pcap_cnt: their flow_id source */
    uint16_t community_seed;
    uint8_t ignore_vlan;
    struct flow_stats st;
};

/* The endpoints of a packet as the key sees them. */
struct pkey {
    const struct lh_addr *a[2]; /* src, dst */
    uint16_t port[2];           /* what struct flow stores */
    uint16_t kport[2];          /* what the key compares */
    uint8_t one_way;
    uint8_t icmp_reply;
};

void flow_config_default(struct flow_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->memcap = UINT64_C(256) << 20;
    cfg->hash_size = 65536;
    cfg->timeout_tcp_us = 600u * 1000000u;
    cfg->timeout_tcp_new_us = 30u * 1000000u;
    cfg->timeout_tcp_closed_us = 10u * 1000000u;
    cfg->timeout_udp_us = 60u * 1000000u;
    cfg->timeout_other_us = 30u * 1000000u;
}

const char *flow_end_reason_name(enum flow_end_reason r)
{
    switch (r) {
    case FLOW_END_TIMEOUT:
        return "timeout";
    case FLOW_END_EVICTED:
        return "evicted";
    case FLOW_END_SHUTDOWN:
        return "shutdown";
    case FLOW_END_CLOSED:
        return "closed";
    }
    return "unknown";
}

/* ---- hashing ---------------------------------------------------------------- */

static uint64_t key_hash(struct flow_table *t, const struct lh_addr *a0, uint16_t p0,
                         const struct lh_addr *a1, uint16_t p1, uint8_t proto, uint8_t ver,
                         uint16_t vlan)
{
    int c = memcmp(a0->a, a1->a, 16);
    if (c > 0 || (c == 0 && p0 > p1)) {
        const struct lh_addr *ta = a0;
        uint16_t tp = p0;
        a0 = a1;
        a1 = ta;
        p0 = p1;
        p1 = tp;
    }
    uint8_t b[40];
    memcpy(b, a0->a, 16);
    memcpy(b + 16, a1->a, 16);
    b[32] = (uint8_t)(p0 >> 8);
    b[33] = (uint8_t)p0;
    b[34] = (uint8_t)(p1 >> 8);
    b[35] = (uint8_t)p1;
    b[36] = proto;
    b[37] = ver;
    b[38] = (uint8_t)(vlan >> 8);
    b[39] = (uint8_t)vlan;
    if (t->last_valid && memcmp(b, t->last_key, sizeof(b)) == 0) return t->last_hash;
    memcpy(t->last_key, b, sizeof(b));
    t->last_hash = fingerprint_siphash(t->k0, t->k1, b, sizeof(b));
    t->last_valid = 1;
    return t->last_hash;
}

/* A bijection of [0, 2^53): xor-shifts and odd multipliers, each invertible
 * modulo 2^53; 0 maps to 0, so a counter from 1 never gives 0. */
static uint64_t flow_id_mix(uint64_t x)
{
    x &= FLOW_ID_MASK;
    x ^= x >> 27;
    x = (x * UINT64_C(0x3c79ac492ba7b653)) & FLOW_ID_MASK;
    x ^= x >> 29;
    x = (x * UINT64_C(0x1c69b3f74ac4ae35)) & FLOW_ID_MASK;
    x ^= x >> 26;
    return x;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* A random hash key. getrandom() only fails before the kernel's pool is
 * ready or on kernels without it; then the clock, pid and an address still
 * give a key no remote sender can predict in advance. */
static void random_seed(uint64_t *k0, uint64_t *k1, const void *salt)
{
    uint64_t k[2] = {0, 0};
    size_t got = 0;
    while (got < sizeof(k)) {
        ssize_t n = getrandom((uint8_t *)k + got, sizeof(k) - got, GRND_NONBLOCK);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (got < sizeof(k)) {
        struct timespec ts[2];
        clock_gettime(CLOCK_REALTIME, &ts[0]);
        clock_gettime(CLOCK_MONOTONIC, &ts[1]);
        uint64_t s = (uint64_t)ts[0].tv_sec * 1000000000u + (uint64_t)ts[0].tv_nsec;
        s ^= ((uint64_t)ts[1].tv_nsec << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)salt;
        k[0] ^= splitmix64(&s);
        k[1] ^= splitmix64(&s);
    }
    *k0 = k[0];
    *k1 = k[1];
}

/* ---- packet key ------------------------------------------------------------ */

static int icmp_is_reply(uint8_t proto, uint8_t type)
{
    if (proto == PROTO_ICMP) return type == 0 || type == 14 || type == 16 || type == 18;
    return type == 129 || type == 140 || type == 145;
}

static void packet_key(const struct packet *p, struct pkey *k)
{
    k->a[0] = &p->src;
    k->a[1] = &p->dst;
    k->one_way = 0;
    k->icmp_reply = 0;
    switch (p->proto) {
    case PROTO_TCP:
    case PROTO_UDP:
    case PROTO_SCTP:
        k->port[0] = k->kport[0] = p->sport;
        k->port[1] = k->kport[1] = p->dport;
        break;
    case PROTO_ICMP:
    case PROTO_ICMPV6: {
        uint8_t type = (uint8_t)p->sport, code = (uint8_t)p->dport;
        int peer = flow_icmp_peer_type(p->proto, type);
        k->port[0] = k->kport[0] = type;
        k->port[1] = code;
        if (peer >= 0) {
            k->kport[1] = (uint16_t)peer;
            k->icmp_reply = (uint8_t)icmp_is_reply(p->proto, type);
        } else {
            k->kport[1] = code;
            k->one_way = 1;
        }
        break;
    }
    default:
        k->port[0] = k->port[1] = k->kport[0] = k->kport[1] = 0;
        break;
    }
}

static inline int addr_eq(const struct lh_addr *x, const struct lh_addr *y)
{
    return memcmp(x->a, y->a, 16) == 0;
}

/* ---- lists ------------------------------------------------------------------- */

static void lru_unlink(struct flow_table *t, struct flow_node *n)
{
    struct flow_lru *l = &t->lru[n->cls];
    struct flow *f = &n->f;
    if (f->lru_prev)
        f->lru_prev->lru_next = f->lru_next;
    else
        l->head = f->lru_next;
    if (f->lru_next)
        f->lru_next->lru_prev = f->lru_prev;
    else
        l->tail = f->lru_prev;
    f->lru_prev = f->lru_next = NULL;
}

static void lru_append(struct flow_table *t, struct flow_node *n)
{
    struct flow_lru *l = &t->lru[n->cls];
    struct flow *f = &n->f;
    f->lru_next = NULL;
    f->lru_prev = l->tail;
    if (l->tail)
        l->tail->lru_next = f;
    else
        l->head = f;
    l->tail = f;
}

/* Doubles the bucket array when chains average more than two flows, while
 * the cap leaves room: the memory comes out of the flows' share, and a
 * table at its cap keeps the buckets it has. A doubling rehashes every flow
 * once from the stored hash, so inserts stay O(1) amortised. Allocation
 * failure is not an error: the old array keeps working. */
static void hash_grow(struct flow_table *t)
{
    uint64_t nb = t->mask + 1;
    if (nb >= HASH_SIZE_MAX || t->st.active <= 2 * nb) return;
    uint64_t add = nb * sizeof(struct flow *);
    if (t->st.memuse + add > t->memcap) return;
    struct flow **nbk = calloc(2 * nb, sizeof(struct flow *));
    if (!nbk) return;
    uint64_t nmask = 2 * nb - 1;
    for (uint64_t i = 0; i < nb; i++) {
        struct flow *f = t->bucket[i];
        while (f) {
            struct flow *next = f->hnext;
            struct flow **b = &nbk[f->hash & nmask];
            f->hnext = *b;
            *b = f;
            f = next;
        }
    }
    free(t->bucket);
    t->bucket = nbk;
    t->mask = nmask;
    t->st.memuse += add;
    if (t->st.memuse > t->st.memuse_peak) t->st.memuse_peak = t->st.memuse;
}

static void hash_unlink(struct flow_table *t, struct flow *f)
{
    struct flow **pp = &t->bucket[f->hash & t->mask];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp) *pp = f->hnext;
    f->hnext = NULL;
}

static enum flow_class class_of(const struct flow *f)
{
    switch (f->proto) {
    case PROTO_TCP:
        switch (f->tcp_state) {
        case FLOW_TCP_ESTABLISHED:
        case FLOW_TCP_FIN_WAIT:
            return CLS_TCP_EST;
        case FLOW_TCP_CLOSED:
            return CLS_TCP_CLOSED;
        default:
            return CLS_TCP_NEW;
        }
    case PROTO_UDP:
        return CLS_UDP;
    default:
        return CLS_OTHER;
    }
}

static int idle_past(const struct flow_table *t, const struct flow_node *n, uint64_t now)
{
    return now > n->f.last_ts && now - n->f.last_ts > t->timeout[n->cls];
}

/* Of the list heads (the least recently touched of each class), the one
 * with the oldest last_ts; only_idle limits it to heads idle past their
 * timeout at now. Ties go to the lower class, so the choice is deterministic. */
static struct flow_node *oldest_head(const struct flow_table *t, int only_idle, uint64_t now)
{
    struct flow_node *best = NULL;
    for (int c = 0; c < CLS_N; c++) {
        struct flow_node *n = (struct flow_node *)t->lru[c].head;
        if (!n || (only_idle && !idle_past(t, n, now))) continue;
        if (!best || n->f.last_ts < best->f.last_ts) best = n;
    }
    return best;
}

static void flow_end(struct flow_table *t, struct flow_node *n, enum flow_end_reason reason)
{
    struct flow *f = &n->f;
    hash_unlink(t, f);
    lru_unlink(t, n);
    f->end_reason = (uint8_t)reason;
    switch (reason) {
    case FLOW_END_TIMEOUT:
        t->st.timeout++;
        break;
    case FLOW_END_CLOSED:
        t->st.closed++;
        break;
    case FLOW_END_EVICTED:
        t->st.evicted++;
        break;
    case FLOW_END_SHUTDOWN:
        break;
    }
    if (t->on_end) t->on_end(f, t->ud);
    t->st.active--;
    t->st.memuse -= t->flow_cost;
    free(n);
}

/* The reason an idle flow ends with: a closed TCP flow ends "closed". */
static enum flow_end_reason idle_reason(const struct flow_node *n)
{
    return n->cls == CLS_TCP_CLOSED ? FLOW_END_CLOSED : FLOW_END_TIMEOUT;
}

/* ---- table ------------------------------------------------------------------- */

struct flow_table *flow_table_new(const struct flow_config *cfg, flow_end_fn on_end, void *ud)
{
    struct flow_config def;
    if (!cfg) {
        flow_config_default(&def);
        cfg = &def;
    }
    struct flow_table *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->on_end = on_end;
    t->ud = ud;
    t->memcap = cfg->memcap ? cfg->memcap : (UINT64_C(256) << 20);
    t->flow_cost = sizeof(struct flow_node) + (uint64_t)cfg->user_size;
    t->community_seed = cfg->community_seed;
    t->ignore_vlan = cfg->ignore_vlan;
    t->timeout[CLS_TCP_NEW] = cfg->timeout_tcp_new_us;
    t->timeout[CLS_TCP_EST] = cfg->timeout_tcp_us;
    t->timeout[CLS_TCP_CLOSED] = cfg->timeout_tcp_closed_us;
    t->timeout[CLS_UDP] = cfg->timeout_udp_us;
    t->timeout[CLS_OTHER] = cfg->timeout_other_us;

    uint64_t want = cfg->hash_size ? cfg->hash_size : 65536;
    if (want > HASH_SIZE_MAX) want = HASH_SIZE_MAX;
    uint64_t nb = 1;
    while (nb < want)
        nb <<= 1;
    /* the buckets are memory too: leave at least three quarters to flows */
    while (nb > 16 && nb * sizeof(struct flow *) > t->memcap / 4)
        nb >>= 1;
    t->bucket = calloc(nb, sizeof(struct flow *));
    if (!t->bucket) {
        free(t);
        return NULL;
    }
    t->mask = nb - 1;
    t->st.memuse = t->st.memuse_peak = nb * sizeof(struct flow *);

    if (cfg->seed[0] == 0 && cfg->seed[1] == 0)
        random_seed(&t->k0, &t->k1, t);
    else {
        t->k0 = cfg->seed[0];
        t->k1 = cfg->seed[1];
    }
    return t;
}

void flow_table_flush(struct flow_table *t)
{
    if (!t) return;
    struct flow_node *n;
    while ((n = oldest_head(t, 0, 0)) != NULL)
        flow_end(t, n, FLOW_END_SHUTDOWN);
}

void flow_table_free(struct flow_table *t)
{
    if (!t) return;
    flow_table_flush(t);
    free(t->bucket);
    free(t);
}

void flow_table_expire(struct flow_table *t, uint64_t now_us)
{
    if (!t) return;
    struct flow_node *n;
    while ((n = oldest_head(t, 1, now_us)) != NULL)
        flow_end(t, n, idle_reason(n));
}

void flow_table_foreach(struct flow_table *t, void (*fn)(struct flow *f, void *ud), void *ud)
{
    if (!t) return;
    for (int c = 0; c < CLS_N; c++)
        for (struct flow *f = t->lru[c].head, *next; f; f = next) {
            next = f->lru_next;
            fn(f, ud);
        }
}

const struct flow_stats *flow_table_stats(const struct flow_table *t)
{
    return &t->st;
}

/* ---- per packet -------------------------------------------------------------- */

static void tcp_update(struct flow_node *n, enum flow_dir dir, uint8_t flags, int created)
{
    struct flow *f = &n->f;
    uint8_t synack = flags & (TCP_SYN | TCP_ACK);

    if (f->tcp_state == FLOW_TCP_CLOSED) return;
    if (flags & TCP_RST) {
        n->pre_rst = f->tcp_state;
        f->tcp_state = FLOW_TCP_CLOSED;
        return;
    }
    if (synack == TCP_ACK) n->acks |= (uint8_t)(1u << dir);
    if (flags & TCP_FIN) n->fins |= (uint8_t)(1u << dir);

    if (created) {
        if (synack == TCP_SYN) {
            f->tcp_state = FLOW_TCP_SYN_SENT;
            f->tcp_seen_syn = 1;
        } else if (synack == (TCP_SYN | TCP_ACK)) {
            f->tcp_state = FLOW_TCP_SYN_RECV;
        } else {
            f->tcp_state = FLOW_TCP_NONE;
        }
    } else {
        switch (f->tcp_state) {
        case FLOW_TCP_NONE:
            if (synack == TCP_SYN && dir == FLOW_TOSERVER) {
                f->tcp_state = FLOW_TCP_SYN_SENT;
                f->tcp_seen_syn = 1;
            }
            break;
        case FLOW_TCP_SYN_SENT:
            if (synack == (TCP_SYN | TCP_ACK) && dir == FLOW_TOCLIENT)
                f->tcp_state = FLOW_TCP_SYN_RECV;
            break;
        case FLOW_TCP_SYN_RECV:
            if (synack == TCP_ACK && dir == FLOW_TOSERVER) f->tcp_state = FLOW_TCP_ESTABLISHED;
            break;
        default:
            break;
        }
    }
    /* a handshake we saw only part of: both sides talking is enough */
    if (f->tcp_state < FLOW_TCP_ESTABLISHED && n->acks == 3) f->tcp_state = FLOW_TCP_ESTABLISHED;
    if (n->fins == 3)
        f->tcp_state = FLOW_TCP_CLOSED;
    else if (n->fins)
        f->tcp_state = FLOW_TCP_FIN_WAIT;
}

static void flow_update(struct flow_table *t, struct flow_node *n, const struct packet *p,
                        enum flow_dir dir, int created)
{
    struct flow *f = &n->f;
    f->pkts[dir]++;
    f->bytes[dir] += p->wirelen;
    if (p->ts_us > f->last_ts) f->last_ts = p->ts_us;
    if (f->proto == PROTO_TCP) tcp_update(n, dir, p->tcp_flags, created);
    uint8_t cls = (uint8_t)class_of(f);
    if (created) {
        n->cls = cls;
        lru_append(t, n);
    } else if (cls != n->cls || t->lru[cls].tail != f) {
        lru_unlink(t, n);
        n->cls = cls;
        lru_append(t, n);
    }
}

void flow_rst_rejected(struct flow_table *t, struct flow *f)
{
    struct flow_node *n = (struct flow_node *)f; /* f is the node's first member */
    if (f->proto != PROTO_TCP || f->tcp_state != FLOW_TCP_CLOSED || n->fins == 3)
        return;
    f->tcp_state = n->pre_rst;
    lru_unlink(t, n);
    n->cls = (uint8_t)class_of(f);
    lru_append(t, n);
}

void flow_table_charge(struct flow_table *t, int64_t bytes)
{
    t->st.memuse += (uint64_t)bytes;
    if (t->st.memuse > t->st.memuse_peak) t->st.memuse_peak = t->st.memuse;
}

static struct flow_node *flow_create(struct flow_table *t, const struct packet *p,
                                     const struct pkey *k, uint64_t h, uint16_t vlan,
                                     enum flow_dir *dir)
{
    while (t->st.memuse + t->flow_cost > t->memcap) {
        struct flow_node *v = oldest_head(t, 0, 0);
        if (!v) {
            t->st.memcap_refused++;
            return NULL;
        }
        flow_end(t, v, FLOW_END_EVICTED);
    }
    struct flow_node *n = calloc(1, sizeof(*n));
    if (!n) {
        t->st.memcap_refused++;
        return NULL;
    }
    struct flow *f = &n->f;
    int swap =
        (p->proto == PROTO_TCP && (p->tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) ||
        k->icmp_reply;
    /* picked up mid-conversation (no SYN): a packet from a well-known port to
     * an ephemeral one is the server speaking */
    if (!swap && (p->proto == PROTO_TCP || p->proto == PROTO_UDP) &&
        !(p->proto == PROTO_TCP && (p->tcp_flags & TCP_SYN)) && p->sport < 1024 &&
        p->dport >= 1024)
        swap = 1;
    int c = swap ? 1 : 0;
    f->addr[0] = *k->a[c];
    f->addr[1] = *k->a[!c];
    n->kport[0] = k->kport[c];
    n->kport[1] = k->kport[!c];
    if (p->proto == PROTO_ICMP || p->proto == PROTO_ICMPV6) {
        /* the initiator's type, and the code of the packet in hand */
        f->port[0] = n->kport[0];
        f->port[1] = k->port[1];
    } else {
        f->port[0] = k->port[c];
        f->port[1] = k->port[!c];
    }
    n->one_way = k->one_way;
    f->vlan = vlan;
    f->proto = p->proto;
    f->ip_ver = p->ip_ver;
    f->flow_id = flow_id_mix(p->pcap_cnt ? p->pcap_cnt : (UINT64_C(1) << 52) + ++t->seq);
    f->first_ts = f->last_ts = p->ts_us;
    f->first_pcap_cnt = p->pcap_cnt;
    f->first_file_idx = p->file_idx;
    f->hash = h;
    flow_community_id(t->community_seed, f->ip_ver, f->proto, &f->addr[0], f->port[0], &f->addr[1],
                      f->port[1], f->community_id);

    struct flow **b = &t->bucket[h & t->mask];
    f->hnext = *b;
    *b = f;

    t->st.active++;
    t->st.total++;
    t->st.memuse += t->flow_cost;
    if (t->st.memuse > t->st.memuse_peak) t->st.memuse_peak = t->st.memuse;
    switch (f->proto) {
    case PROTO_TCP:
        t->st.tcp++;
        break;
    case PROTO_UDP:
        t->st.udp++;
        break;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
        t->st.icmp++;
        break;
    default:
        t->st.other++;
        break;
    }
    *dir = swap ? FLOW_TOCLIENT : FLOW_TOSERVER;
    hash_grow(t);
    return n;
}

struct flow *flow_lookup(struct flow_table *t, const struct packet *p, enum flow_dir *dir)
{
    if (!t || !p || (p->ip_ver != 4 && p->ip_ver != 6)) return NULL;
    struct pkey k;
    packet_key(p, &k);
    uint16_t vlan = p->vlan_n && !t->ignore_vlan ? (uint16_t)(p->vlan[0] & 0x0fff) : 0;
    uint64_t h = key_hash(t, k.a[0], k.kport[0], k.a[1], k.kport[1], p->proto, p->ip_ver, vlan);

    enum flow_dir d = FLOW_TOSERVER;
    struct flow_node *n = NULL;
    for (struct flow *f = t->bucket[h & t->mask]; f; f = f->hnext) {
        if (f->hash != h || f->proto != p->proto || f->ip_ver != p->ip_ver || f->vlan != vlan)
            continue;
        struct flow_node *c = (struct flow_node *)f;
        if (c->kport[0] == k.kport[0] && c->kport[1] == k.kport[1] &&
            addr_eq(&f->addr[0], k.a[0]) && addr_eq(&f->addr[1], k.a[1])) {
            d = FLOW_TOSERVER;
        } else if (!c->one_way && c->kport[0] == k.kport[1] && c->kport[1] == k.kport[0] &&
                   addr_eq(&f->addr[0], k.a[1]) && addr_eq(&f->addr[1], k.a[0])) {
            d = FLOW_TOCLIENT;
        } else {
            continue;
        }
        n = c;
        break;
    }

    if (n) {
        if (idle_past(t, n, p->ts_us)) {
            flow_end(t, n, idle_reason(n));
            n = NULL;
        } else if (n->f.tcp_state == FLOW_TCP_CLOSED && p->proto == PROTO_TCP &&
                   (p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN) {
            flow_end(t, n, FLOW_END_CLOSED); /* port reuse */
            n = NULL;
        }
    }
    int created = 0;
    if (!n) {
        n = flow_create(t, p, &k, h, vlan, &d);
        if (!n) return NULL;
        created = 1;
    }
    flow_update(t, n, p, d, created);
    if (dir) *dir = d;
    return &n->f;
}
