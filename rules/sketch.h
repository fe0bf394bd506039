/* sketch.h - distinct counting: an exact set that turns into HyperLogLog.
 *
 * A sketch counts distinct 64-bit values (record fingerprints). Up to
 * SKETCH_EXACT_MAX distinct values it is an exact hash set (open addressing,
 * grown by doubling up to SKETCH_EXACT_SLOTS slots, load <= 3/4), so the
 * count is exact; the next new value turns it into a HyperLogLog with
 * p = 14 (16384 one-byte registers, 16 KiB, standard error 1.04/sqrt(16384)
 * = 0.81 %; the documented bound, 3 sigma, is 2.5 %). Values are mixed
 * (splitmix64) before use, so structured inputs still spread.
 *
 * Memory: a zeroed struct sketch holds nothing; an exact set holds
 * 8 bytes per slot (at most 32 KiB), a HyperLogLog 16 KiB.
 * sketch_mem() says how much is held, for the caller's memcap accounting.
 * Sketches merge (union), whatever form each is in. Not thread-safe. */
#ifndef LH_SKETCH_H
#define LH_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#define SKETCH_P 14
#define SKETCH_REGS (1u << SKETCH_P)
#define SKETCH_EXACT_SLOTS 4096u
#define SKETCH_EXACT_MAX 3072u /* 3/4 of SKETCH_EXACT_SLOTS */
#define SKETCH_HLL_BYTES SKETCH_REGS

struct sketch {
    void *mem;     /* uint64_t slots[cap] (exact) or uint8_t regs[16384] (hll) */
    uint32_t n;    /* exact: distinct values held; hll: cached estimate */
    uint32_t cap;  /* exact: slots; 0 when nothing is allocated */
    uint8_t hll;   /* 1 once switched */
    uint8_t dirty; /* hll: cached estimate is stale */
    uint8_t has_zero; /* exact: the mixed value 0 (kept outside the table) */
};

/* An empty sketch; same as zeroing it. Can't fail. */
void sketch_init(struct sketch *s);
/* Frees what the sketch holds and empties it. Accepts a zeroed sketch. */
void sketch_reset(struct sketch *s);

/* Adds a value. Returns 1 when it was new (exact form), 0 when it was
 * already there (exact form), 2 in HyperLogLog form (cannot tell), -1 when
 * memory could not be allocated (the value is then not counted).
 * *switched is set to 1 when this call turned the set into a HyperLogLog. */
int sketch_add(struct sketch *s, uint64_t v, int *switched);

/* Hints the CPU to fetch the slot (or register) v would go to, so that a
 * sketch_add(s, v) a few values later does not wait for memory. Changes
 * nothing; can't fail. */
void sketch_prefetch(const struct sketch *s, uint64_t v);

/* Distinct values: exact below the switch, estimated above it. */
uint64_t sketch_count(struct sketch *s);

/* dst := dst union src. Returns 0, or -1 when memory could not be
 * allocated (dst is then still a valid sketch, possibly an undercount). */
int sketch_merge(struct sketch *dst, const struct sketch *src, int *switched);

/* Empties s into an exact set whose table holds expect values without
 * growing (at most SKETCH_EXACT_SLOTS slots), reusing its memory when the
 * table has that size already: for a scratch sketch that unions are built
 * in again and again. Counts do not depend on the table size. Returns 0,
 * or -1 when memory could not be allocated (s is then empty, as after
 * sketch_reset(), and grows as values come). */
int sketch_prepare(struct sketch *s, uint64_t expect);

/* Bytes held (not counting the struct itself). */
size_t sketch_mem(const struct sketch *s);

/* Serialised form, for the state file: kind byte, then either the exact
 * values (count + mixed values) or the 16384 registers. sketch_write
 * returns the bytes needed (writes nothing when out is NULL or too short).
 * sketch_read returns bytes consumed, or 0 when the input is malformed
 * (the sketch is then empty). */
size_t sketch_write(const struct sketch *s, uint8_t *out, size_t outlen);
size_t sketch_read(struct sketch *s, const uint8_t *in, size_t inlen);

#endif
