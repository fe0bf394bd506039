/* account.c - account table: hash by name, LRU list, memory accounting.
 *
 * Accounts come in by name from the engine, which then reads and writes
 * their buckets directly. Every byte the table allocates for an account is
 * charged to it, so eviction frees exactly what was charged and memuse
 * never drifts. The LRU list orders by last activity in packet time (the
 * engine calls account_get() per observation), which also makes eviction
 * deterministic on replay. */
#include "rules/account.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "output/fingerprint.h"

struct account_table {
    struct account_layout lay;
    struct account **buckets;
    size_t nbuckets;
    struct account *lru_head, *lru_tail; /* head: most recent */
    uint64_t n, memuse, memcap, evicted;
    size_t bucket_bytes;
    uint64_t k0, k1; /* hash key, random per table */
};

size_t account_bucket_size(const struct account_layout *lay)
{
    return sizeof(struct account_bucket) + lay->n_cat * sizeof(struct sketch) +
           lay->n_ep * sizeof(uint32_t);
}

struct account_table *account_table_new(const struct account_layout *lay, uint64_t memcap)
{
    struct account_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->lay = *lay;
    if (t->lay.hours > ACCOUNT_MAX_HOURS)
        t->lay.hours = ACCOUNT_MAX_HOURS;
    t->nbuckets = 1024;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    t->memcap = memcap;
    t->bucket_bytes = account_bucket_size(&t->lay);
    uint64_t k[2] = {0x6c68616363743031ull, 0x6b65796b65793031ull};
    if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k)) {
        /* no randomness: a fixed key still spreads names, it is just guessable */
    }
    t->k0 = k[0];
    t->k1 = k[1];
    return t;
}

const struct account_layout *account_table_layout(const struct account_table *t)
{
    return &t->lay;
}

/* Keyed (SipHash, a random key per table): account names come from the
 * traffic, and an unkeyed hash lets a sender put them all in one bucket. */
static uint64_t name_hash(const struct account_table *t, const char *s)
{
    return fingerprint_siphash(t->k0, t->k1, s, strlen(s));
}

void account_charge(struct account_table *t, struct account *a, int64_t delta)
{
    a->mem += (uint64_t)delta;
    t->memuse += (uint64_t)delta;
}

static void bucket_free(struct account_table *t, struct account *a, struct account_bucket *b)
{
    if (!b)
        return;
    for (unsigned c = 0; c < t->lay.n_cat; c++) {
        account_charge(t, a, -(int64_t)sketch_mem(&b->cat[c]));
        sketch_reset(&b->cat[c]);
    }
    account_charge(t, a, -(int64_t)t->bucket_bytes);
    free(b);
}

static void lru_unlink(struct account_table *t, struct account *a)
{
    if (a->lprev)
        a->lprev->lnext = a->lnext;
    else
        t->lru_head = a->lnext;
    if (a->lnext)
        a->lnext->lprev = a->lprev;
    else
        t->lru_tail = a->lprev;
    a->lprev = a->lnext = NULL;
}

static void lru_front(struct account_table *t, struct account *a)
{
    a->lnext = t->lru_head;
    a->lprev = NULL;
    if (t->lru_head)
        t->lru_head->lprev = a;
    t->lru_head = a;
    if (!t->lru_tail)
        t->lru_tail = a;
}

static void account_destroy(struct account_table *t, struct account *a)
{
    for (int i = 0; i < ACCOUNT_MINUTES; i++)
        bucket_free(t, a, a->min[i]);
    if (a->hr) {
        for (unsigned i = 0; i < t->lay.hours; i++)
            bucket_free(t, a, a->hr[i]);
        free(a->hr);
    }
    free(a->det);
    free(a->en);
    free(a->cad);
    free(a->name);
    t->memuse -= a->mem; /* what is still charged: the fixed part and the rings */
    free(a);
}

void account_remove(struct account_table *t, struct account *a)
{
    uint64_t h = name_hash(t, a->name) & (t->nbuckets - 1);
    for (struct account **pp = &t->buckets[h]; *pp; pp = &(*pp)->hnext)
        if (*pp == a) {
            *pp = a->hnext;
            break;
        }
    lru_unlink(t, a);
    t->n--;
    account_destroy(t, a);
}

void account_table_free(struct account_table *t)
{
    if (!t)
        return;
    while (t->lru_head)
        account_remove(t, t->lru_head);
    free(t->buckets);
    free(t);
}

struct account *account_find(struct account_table *t, const char *name)
{
    uint64_t h = name_hash(t, name) & (t->nbuckets - 1);
    for (struct account *a = t->buckets[h]; a; a = a->hnext)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

static void rehash(struct account_table *t)
{
    size_t nb = t->nbuckets * 2;
    struct account **b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct account *a = t->buckets[i], *next;
        for (; a; a = next) {
            next = a->hnext;
            uint64_t h = name_hash(t, a->name) & (nb - 1);
            a->hnext = b[h];
            b[h] = a;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

struct account *account_get(struct account_table *t, const char *name, uint64_t now_us, int *cut)
{
    char nm[ACCOUNT_NAME_MAX];
    size_t len = strlen(name);
    *cut = 0;
    if (len >= ACCOUNT_NAME_MAX) {
        memcpy(nm, name, ACCOUNT_NAME_MAX - 1);
        nm[ACCOUNT_NAME_MAX - 1] = 0;
        name = nm;
        len = ACCOUNT_NAME_MAX - 1;
        *cut = 1;
    }
    struct account *a = account_find(t, name);
    if (a) {
        if (t->lru_head != a) {
            lru_unlink(t, a);
            lru_front(t, a);
        }
        if (now_us > a->last_us)
            a->last_us = now_us;
        return a;
    }
    a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->name = malloc(len + 1);
    a->det = t->lay.n_det ? calloc(t->lay.n_det, sizeof(*a->det)) : NULL;
    if (t->lay.hours)
        a->hr = calloc(t->lay.hours, sizeof(*a->hr));
    if (!a->name || (t->lay.n_det && !a->det) || (t->lay.hours && !a->hr)) {
        free(a->name);
        free(a->det);
        free(a->hr);
        free(a);
        return NULL;
    }
    memcpy(a->name, name, len + 1);
    a->first_us = a->last_us = now_us;
    a->cur_hour = (uint32_t)(now_us / 3600000000ull);
    account_charge(t, a,
                   (int64_t)(sizeof(*a) + len + 1 + t->lay.n_det * sizeof(*a->det) +
                             t->lay.hours * sizeof(*a->hr)));
    uint64_t h = name_hash(t, a->name) & (t->nbuckets - 1);
    a->hnext = t->buckets[h];
    t->buckets[h] = a;
    lru_front(t, a);
    t->n++;
    if (t->n > t->nbuckets)
        rehash(t);
    return a;
}

size_t account_evict(struct account_table *t, const struct account *keep)
{
    size_t n = 0;
    while (t->memuse > t->memcap && t->lru_tail && t->lru_tail != keep) {
        account_remove(t, t->lru_tail);
        n++;
    }
    t->evicted += n;
    return n;
}

static struct account_bucket *bucket_new(struct account_table *t, struct account *a, uint32_t idx)
{
    struct account_bucket *b = calloc(1, t->bucket_bytes);
    if (!b)
        return NULL;
    b->idx = idx;
    account_charge(t, a, (int64_t)t->bucket_bytes);
    return b;
}

static void bucket_clear(struct account_table *t, struct account *a, struct account_bucket *b,
                         uint32_t idx)
{
    for (unsigned c = 0; c < t->lay.n_cat; c++) {
        account_charge(t, a, -(int64_t)sketch_mem(&b->cat[c]));
        sketch_reset(&b->cat[c]);
    }
    memset(account_bucket_epq(t, b), 0, t->lay.n_ep * sizeof(uint32_t));
    b->idx = idx;
    b->requests = b->region_known = b->region_out = 0;
}

uint32_t *account_bucket_epq(const struct account_table *t, struct account_bucket *b)
{
    return (uint32_t *)(void *)&b->cat[t->lay.n_cat];
}

struct account_bucket *account_minute(struct account_table *t, struct account *a, uint32_t m)
{
    struct account_bucket **slot = &a->min[m % ACCOUNT_MINUTES];
    if (!*slot)
        *slot = bucket_new(t, a, m);
    else if ((*slot)->idx != m)
        bucket_clear(t, a, *slot, m);
    if (*slot && m > a->min_last)
        a->min_last = m;
    return *slot;
}

struct account_bucket *account_hour(struct account_table *t, struct account *a, uint32_t h)
{
    if (!t->lay.hours || !a->hr)
        return NULL;
    struct account_bucket **slot = &a->hr[h % t->lay.hours];
    if (!*slot)
        *slot = bucket_new(t, a, h);
    else if ((*slot)->idx != h)
        bucket_clear(t, a, *slot, h);
    return *slot;
}

struct account_bucket *account_hour_peek(const struct account_table *t, const struct account *a,
                                         uint32_t h)
{
    if (!t->lay.hours || !a->hr)
        return NULL;
    struct account_bucket *b = a->hr[h % t->lay.hours];
    return b && b->idx == h ? b : NULL;
}

int account_sketch_add(struct account_table *t, struct account *a, struct account_bucket *b,
                       unsigned c, uint64_t v, int *switched)
{
    size_t before = sketch_mem(&b->cat[c]);
    int r = sketch_add(&b->cat[c], v, switched);
    account_charge(t, a, (int64_t)sketch_mem(&b->cat[c]) - (int64_t)before);
    return r;
}

int account_sketch_merge(struct account_table *t, struct account *a, struct sketch *dst,
                         const struct sketch *src, int *switched)
{
    size_t before = sketch_mem(dst);
    int r = sketch_merge(dst, src, switched);
    account_charge(t, a, (int64_t)sketch_mem(dst) - (int64_t)before);
    return r;
}

void account_trim(struct account_table *t, struct account *a, uint32_t now_min, int drop_rings)
{
    for (int i = 0; i < ACCOUNT_MINUTES; i++)
        if (a->min[i] && a->min[i]->idx + ACCOUNT_MINUTES <= now_min) {
            bucket_free(t, a, a->min[i]);
            a->min[i] = NULL;
        }
    for (unsigned i = 0; a->hr && i < t->lay.hours; i++)
        if (a->hr[i] && a->hr[i]->idx + t->lay.hours <= now_min / 60) {
            bucket_free(t, a, a->hr[i]);
            a->hr[i] = NULL;
        }
    if (drop_rings) {
        if (a->en) {
            account_charge(t, a, -(int64_t)(t->lay.enum_cap * sizeof(*a->en)));
            free(a->en);
            a->en = NULL;
            a->en_head = a->en_n = 0;
        }
        if (a->cad) {
            account_charge(t, a, -(int64_t)(t->lay.cad_cap * sizeof(*a->cad)));
            free(a->cad);
            a->cad = NULL;
            a->cad_head = a->cad_n = 0;
        }
    }
}

struct account_enum_ent *account_enum_ring(struct account_table *t, struct account *a)
{
    if (!a->en && t->lay.enum_cap) {
        a->en = calloc(t->lay.enum_cap, sizeof(*a->en));
        if (a->en)
            account_charge(t, a, (int64_t)(t->lay.enum_cap * sizeof(*a->en)));
    }
    return a->en;
}

uint64_t *account_cad_ring(struct account_table *t, struct account *a)
{
    if (!a->cad && t->lay.cad_cap) {
        a->cad = calloc(t->lay.cad_cap, sizeof(*a->cad));
        if (a->cad)
            account_charge(t, a, (int64_t)(t->lay.cad_cap * sizeof(*a->cad)));
    }
    return a->cad;
}

void account_foreach(struct account_table *t, void (*fn)(struct account *a, void *ud), void *ud)
{
    struct account *a = t->lru_tail, *prev;
    for (; a; a = prev) {
        prev = a->lprev; /* fn may remove a */
        fn(a, ud);
    }
}

uint64_t account_table_count(const struct account_table *t)
{
    return t->n;
}

uint64_t account_table_memuse(const struct account_table *t)
{
    return t->memuse;
}

uint64_t account_table_evicted(const struct account_table *t)
{
    return t->evicted;
}
