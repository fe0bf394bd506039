/* rng.h - the generator's only source of randomness: xoshiro256** seeded by
 * splitmix64. No global state and no wall clock: every actor owns an rng_t
 * seeded from (--seed, stream id), so the same seed gives the same bytes and
 * adding one scenario does not reshuffle the other accounts' traffic. */
#ifndef LH_GEN_RNG_H
#define LH_GEN_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rng_t;

static inline uint64_t rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A stateless 64-bit mix of two values: used to derive record contents from
 * keys (the same waybill number always shows the same record). */
static inline uint64_t rng_hash(uint64_t a, uint64_t b)
{
    uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ULL);
    return rng_splitmix(&x);
}

static inline void rng_seed(rng_t *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = rng_hash(seed, stream);
    for (int i = 0; i < 4; i++)
        r->s[i] = rng_splitmix(&x);
}

static inline uint64_t rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t res = rng_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng_rotl(s[3], 45);
    return res;
}

/* Uniform in [0, n); n == 0 gives 0. */
static inline uint32_t rng_below(rng_t *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline uint32_t rng_range(rng_t *r, uint32_t lo, uint32_t hi)
{
    return lo + rng_below(r, hi - lo + 1);
}

static inline double rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static inline int rng_chance(rng_t *r, double p)
{
    return p > 0 && rng_unit(r) < p;
}

static inline double rng_exp(rng_t *r, double mean)
{
    return -mean * log(1.0 - rng_unit(r));
}

#endif
