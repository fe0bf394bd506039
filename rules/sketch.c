/* sketch.c - exact set switching to HyperLogLog (p = 14), mergeable.
 *
 * Values in: 64-bit fingerprints, mixed with splitmix64's finaliser so any
 * input spreads over the table and the registers. Counts out: exact while
 * the set holds at most SKETCH_EXACT_MAX values, then Ertl's improved raw
 * estimator (O. Ertl, "New cardinality estimation algorithms for
 * HyperLogLog sketches", 2017), which needs no empirical bias tables and is
 * unbiased from a handful of values to far beyond what an account can pull.
 * The estimate is cached and recomputed only after a register changed. */
#include "rules/sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define Q (64 - SKETCH_P) /* bits left for the rank */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

void sketch_init(struct sketch *s)
{
    memset(s, 0, sizeof(*s));
}

void sketch_reset(struct sketch *s)
{
    free(s->mem);
    sketch_init(s);
}

size_t sketch_mem(const struct sketch *s)
{
    if (s->hll)
        return SKETCH_HLL_BYTES;
    return (size_t)s->cap * sizeof(uint64_t);
}

static void hll_put(uint8_t *regs, uint64_t h)
{
    uint32_t idx = (uint32_t)(h >> Q);
    uint64_t w = h << SKETCH_P;
    uint8_t rank = w ? (uint8_t)(__builtin_clzll(w) + 1) : (uint8_t)(Q + 1);
    if (regs[idx] < rank)
        regs[idx] = rank;
}

/* Turns an exact set into registers. -1 when out of memory (unchanged). */
static int to_hll(struct sketch *s)
{
    uint8_t *regs = calloc(1, SKETCH_HLL_BYTES);
    if (!regs)
        return -1;
    uint64_t *slots = s->mem;
    for (uint32_t i = 0; i < s->cap; i++)
        if (slots[i])
            hll_put(regs, slots[i]);
    if (s->has_zero)
        hll_put(regs, 0);
    free(s->mem);
    s->mem = regs;
    s->cap = 0;
    s->hll = 1;
    s->dirty = 1;
    s->has_zero = 0;
    return 0;
}

static int exact_grow(struct sketch *s)
{
    uint32_t ncap = s->cap ? s->cap * 2 : 16;
    uint64_t *ns = calloc(ncap, sizeof(uint64_t));
    if (!ns)
        return -1;
    uint64_t *old = s->mem;
    for (uint32_t i = 0; i < s->cap; i++) {
        if (!old[i])
            continue;
        uint32_t j = (uint32_t)old[i] & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = old[i];
    }
    free(old);
    s->mem = ns;
    s->cap = ncap;
    return 0;
}

int sketch_prepare(struct sketch *s, uint64_t expect)
{
    uint32_t cap = 16;
    while (cap < SKETCH_EXACT_SLOTS && expect * 4 > (uint64_t)cap * 3)
        cap *= 2;
    if (!s->hll && s->cap == cap) {
        memset(s->mem, 0, (size_t)cap * sizeof(uint64_t));
    } else {
        sketch_reset(s);
        s->mem = calloc(cap, sizeof(uint64_t));
        if (!s->mem)
            return -1;
        s->cap = cap;
    }
    s->n = 0;
    s->hll = s->dirty = s->has_zero = 0;
    return 0;
}

/* Adds an already mixed value. */
static int add_mixed(struct sketch *s, uint64_t h, int *switched)
{
    if (s->hll) {
        uint8_t *regs = s->mem;
        uint32_t idx = (uint32_t)(h >> Q);
        uint8_t before = regs[idx];
        hll_put(regs, h);
        if (regs[idx] != before)
            s->dirty = 1;
        return 2;
    }
    if (h == 0) {
        if (s->has_zero)
            return 0;
        if (s->n >= SKETCH_EXACT_MAX)
            goto full;
        s->has_zero = 1;
        s->n++;
        return 1;
    }
    uint32_t j = 0;
    if (s->cap) {
        uint64_t *slots = s->mem;
        j = (uint32_t)h & (s->cap - 1);
        while (slots[j]) {
            if (slots[j] == h)
                return 0;
            j = (j + 1) & (s->cap - 1);
        }
    }
    if (s->n >= SKETCH_EXACT_MAX)
        goto full;
    if ((uint64_t)(s->n + 1) * 4 > (uint64_t)s->cap * 3) {
        if (exact_grow(s) < 0)
            return -1;
        uint64_t *slots = s->mem; /* a new table: probe again */
        j = (uint32_t)h & (s->cap - 1);
        while (slots[j])
            j = (j + 1) & (s->cap - 1);
    }
    ((uint64_t *)s->mem)[j] = h; /* the first free slot of h's probe sequence */
    s->n++;
    return 1;
full:
    if (to_hll(s) < 0)
        return -1;
    if (switched)
        *switched = 1;
    return add_mixed(s, h, switched);
}

void sketch_prefetch(const struct sketch *s, uint64_t v)
{
    uint64_t h = mix64(v);
    if (s->hll)
        __builtin_prefetch((const uint8_t *)s->mem + (h >> Q), 1);
    else if (s->cap)
        __builtin_prefetch((const uint64_t *)s->mem + ((uint32_t)h & (s->cap - 1)), 1);
}

int sketch_add(struct sketch *s, uint64_t v, int *switched)
{
    return add_mixed(s, mix64(v), switched);
}

/* Ertl's sigma and tau series (see the paper's Algorithm 6). */
static double ertl_sigma(double x)
{
    if (x == 1.0)
        return INFINITY;
    double y = 1.0, z = x, zp;
    do {
        x *= x;
        zp = z;
        z += x * y;
        y += y;
    } while (z != zp);
    return z;
}

static double ertl_tau(double x)
{
    if (x == 0.0 || x == 1.0)
        return 0.0;
    double y = 1.0, z = 1.0 - x, zp;
    do {
        x = sqrt(x);
        zp = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != zp);
    return z / 3.0;
}

static uint64_t hll_estimate(const uint8_t *regs)
{
    uint32_t c[Q + 2];
    memset(c, 0, sizeof(c));
    for (uint32_t i = 0; i < SKETCH_REGS; i++)
        c[regs[i]]++;
    const double m = SKETCH_REGS;
    if (c[0] == SKETCH_REGS)
        return 0;
    double z = m * ertl_tau(1.0 - c[Q + 1] / m);
    for (int k = Q; k >= 1; k--)
        z = 0.5 * (z + c[k]);
    z += m * ertl_sigma(c[0] / m);
    double e = (m * m / (2.0 * log(2.0))) / z;
    return (uint64_t)llround(e);
}

uint64_t sketch_count(struct sketch *s)
{
    if (!s->hll)
        return s->n;
    if (s->dirty) {
        uint64_t e = hll_estimate(s->mem);
        s->n = e > UINT32_MAX ? UINT32_MAX : (uint32_t)e;
        s->dirty = 0;
    }
    return s->n;
}

/* Adds src's exact values to dst while dst stays an exact set with room
 * (no growing, no switch), probing inline; returns the index of the first
 * slot of src not added (src->cap when all were). add_mixed() takes over
 * from there, so the result is the same as adding them all one by one. */
static uint32_t merge_exact_fast(struct sketch *dst, const struct sketch *src)
{
    if (dst->hll || !dst->cap)
        return 0;
    const uint64_t *from = src->mem;
    uint64_t *slots = dst->mem;
    uint32_t mask = dst->cap - 1, n = dst->n;
    /* room: adding keeps (n + 1) * 4 <= cap * 3 and n < SKETCH_EXACT_MAX */
    uint32_t room = (uint32_t)((uint64_t)dst->cap * 3 / 4);
    if (room > SKETCH_EXACT_MAX)
        room = SKETCH_EXACT_MAX;
    uint32_t i = 0;
    for (; i < src->cap && n < room; i++) {
        uint64_t h = from[i];
        if (!h)
            continue;
        uint32_t j = (uint32_t)h & mask;
        while (slots[j] && slots[j] != h)
            j = (j + 1) & mask;
        if (!slots[j]) {
            slots[j] = h;
            n++;
        }
    }
    dst->n = n;
    return i;
}

int sketch_merge(struct sketch *dst, const struct sketch *src, int *switched)
{
    if (!src->hll) {
        const uint64_t *slots = src->mem;
        for (uint32_t i = merge_exact_fast(dst, src); i < src->cap; i++)
            if (slots[i] && add_mixed(dst, slots[i], switched) < 0)
                return -1;
        if (src->has_zero && add_mixed(dst, 0, switched) < 0)
            return -1;
        return 0;
    }
    if (!dst->hll) {
        if (to_hll(dst) < 0)
            return -1;
        if (switched)
            *switched = 1;
    }
    uint8_t *d = dst->mem;
    const uint8_t *r = src->mem;
    uint8_t raised = 0;
    for (uint32_t i = 0; i < SKETCH_REGS; i++) { /* branch-free: vectorised */
        uint8_t up = r[i] > d[i];
        raised |= up;
        d[i] = up ? r[i] : d[i];
    }
    if (raised)
        dst->dirty = 1;
    return 0;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

size_t sketch_write(const struct sketch *s, uint8_t *out, size_t outlen)
{
    size_t need;
    if (s->hll)
        need = 1 + SKETCH_HLL_BYTES;
    else
        need = 1 + 4 + 1 + (size_t)(s->n - s->has_zero) * 8;
    if (!out || outlen < need)
        return need;
    if (s->hll) {
        out[0] = 2;
        memcpy(out + 1, s->mem, SKETCH_HLL_BYTES);
        return need;
    }
    out[0] = 1;
    uint32_t k = s->n - s->has_zero;
    for (int i = 0; i < 4; i++)
        out[1 + i] = (uint8_t)(k >> (8 * i));
    out[5] = s->has_zero;
    size_t pos = 6;
    const uint64_t *slots = s->mem;
    /* slot order is a function of the values alone, so output is stable */
    for (uint32_t i = 0; i < s->cap; i++)
        if (slots[i]) {
            put64(out + pos, slots[i]);
            pos += 8;
        }
    return need;
}

size_t sketch_read(struct sketch *s, const uint8_t *in, size_t inlen)
{
    sketch_reset(s);
    if (inlen < 1)
        return 0;
    if (in[0] == 2) {
        if (inlen < 1 + SKETCH_HLL_BYTES)
            return 0;
        uint8_t *regs = malloc(SKETCH_HLL_BYTES);
        if (!regs)
            return 0;
        memcpy(regs, in + 1, SKETCH_HLL_BYTES);
        for (uint32_t i = 0; i < SKETCH_REGS; i++)
            if (regs[i] > Q + 1) {
                free(regs);
                return 0;
            }
        s->mem = regs;
        s->hll = 1;
        s->dirty = 1;
        return 1 + SKETCH_HLL_BYTES;
    }
    if (in[0] != 1 || inlen < 6)
        return 0;
    uint32_t k = (uint32_t)in[1] | (uint32_t)in[2] << 8 | (uint32_t)in[3] << 16 |
                 (uint32_t)in[4] << 24;
    if (k > SKETCH_EXACT_MAX || in[5] > 1 || (inlen - 6) / 8 < k || k + in[5] > SKETCH_EXACT_MAX)
        return 0;
    for (uint32_t i = 0; i < k; i++) {
        uint64_t h = get64(in + 6 + (size_t)i * 8);
        if (h == 0 || add_mixed(s, h, NULL) != 1) { /* zero or duplicate: not ours */
            sketch_reset(s);
            return 0;
        }
    }
    if (in[5] && add_mixed(s, 0, NULL) != 1) {
        sketch_reset(s);
        return 0;
    }
    return 6 + (size_t)k * 8;
}
