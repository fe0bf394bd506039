/* account.h - the per-account state table: memory cap, LRU eviction.
 *
 * One struct account per account name (an employee id, or the client IP
 * when no identity was found). The table is owned by the detection engine
 * (rules/detect.c) and used from one thread. It holds:
 *   - up to ACCOUNT_SRC_MAX source hosts with first/last seen;
 *   - a ring of ACCOUNT_MINUTES minute buckets (allocated only for minutes
 *     with activity) and, when a detection's window is longer than an hour,
 *     a ring of hour buckets; a bucket has the request count, query counts
 *     per counted endpoint, a distinct-record sketch per tracked category
 *     and region counts;
 *   - per detection: the alert episode, the baseline, small caches;
 *   - lazily, the rings enumeration and cadence need.
 * Every allocation is charged to the account (a->mem) and to the table;
 * account_evict() frees the least recently active accounts until the table
 * is under its memcap, counting each. Bytes per account: docs/detection.md. */
#ifndef LH_ACCOUNT_H
#define LH_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "rules/baseline.h"
#include "rules/sketch.h"
#include "sensor/packet.h"

#define ACCOUNT_NAME_MAX 128 /* longer names are cut (and counted by the engine) */
#define ACCOUNT_SRC_MAX 16
#define ACCOUNT_MINUTES 60
#define ACCOUNT_MAX_HOURS 24
#define ACCOUNT_REGIONS 8
#define ACCOUNT_MAX_CAT 9
#define ACCOUNT_MAX_EP 16

/* What every account's buckets hold; fixed once the table exists. */
struct account_layout {
    uint8_t n_cat;    /* tracked record categories (dense) */
    uint8_t n_ep;     /* counted endpoints (dense) */
    uint16_t n_det;   /* detections */
    uint16_t hours;   /* hour buckets kept for windows > 1 h (0: none) */
    uint16_t enum_cap;  /* waybill queries remembered for enumeration (0: none) */
    uint16_t cad_cap;   /* request times remembered for cadence (0: none) */
};

struct account_src {
    struct lh_addr addr;
    uint32_t first_s, last_s; /* packet time, seconds */
};

/* One minute (or hour) of an account. cat[] has n_cat sketches, followed
 * by n_ep uint32 query counts (account_bucket_epq()). */
struct account_bucket {
    uint32_t idx;      /* minute or hour number since the epoch */
    uint32_t requests; /* transactions */
    uint32_t region_known, region_out; /* records with a region; outside the home regions */
    struct sketch cat[];
};

struct account_region {
    uint16_t region;
    uint32_t pending; /* records in the hour not yet folded */
    double w;         /* learned weight */
};

struct account_episode {
    uint64_t start_us, last_hit_us;
    uint64_t last_count; /* count at the last alert of the episode */
    uint32_t alerts;
    uint8_t open, severity;
};

struct account_det {
    struct account_episode ep;
    struct baseline bl;    /* anomaly: count baseline; out_of_scope: usual share */
    struct baseline_tod tod; /* anomaly: time-of-day shape of bl */
    uint64_t cache_us;     /* when cache_val was computed */
    uint64_t cache_val;
    uint32_t run;          /* cadence: consecutive regular evaluations */
};

struct account_enum_ent {
    uint64_t num;
    uint64_t ts_us;
};

struct account {
    struct account *hnext;        /* hash chain */
    struct account *lprev, *lnext; /* LRU list, most recent first */
    char *name;
    uint64_t first_us, last_us;
    uint64_t mem;                  /* bytes charged to this account */
    uint32_t cur_hour;             /* hour of the data not yet folded into baselines */
    uint8_t hour_alerted;          /* an alert fired in cur_hour */
    uint8_t n_src;
    uint32_t min_last;             /* newest minute written */
    struct account_src src[ACCOUNT_SRC_MAX];
    struct lh_addr new_src;        /* last host first seen after learning */
    uint64_t new_src_us;           /* when (0: never) */
    struct account_region reg[ACCOUNT_REGIONS];
    uint32_t reg_other_pending;
    double reg_other_w;            /* learned weight of regions that found no slot */
    struct account_bucket *min[ACCOUNT_MINUTES];
    struct account_bucket **hr;    /* layout.hours, or NULL */
    struct account_det *det;       /* layout.n_det */
    struct account_enum_ent *en;   /* enum ring (lazily) */
    uint32_t en_head, en_n;
    uint64_t *cad;                 /* cadence ring (lazily) */
    uint32_t cad_head, cad_n;
};

struct account_table;

/* NULL when out of memory. */
struct account_table *account_table_new(const struct account_layout *lay, uint64_t memcap);
void account_table_free(struct account_table *t); /* accepts NULL */
const struct account_layout *account_table_layout(const struct account_table *t);

struct account *account_find(struct account_table *t, const char *name);
/* Finds or creates the account (names longer than ACCOUNT_NAME_MAX - 1 are
 * cut; *cut set), marks it most recently active. NULL when out of memory. */
struct account *account_get(struct account_table *t, const char *name, uint64_t now_us, int *cut);
/* Frees least recently active accounts, never keep, until memuse <= memcap.
 * Returns how many were evicted. */
size_t account_evict(struct account_table *t, const struct account *keep);
void account_remove(struct account_table *t, struct account *a);

/* Charges delta bytes to a and the table. */
void account_charge(struct account_table *t, struct account *a, int64_t delta);

/* The bucket of minute m: the ring slot, emptied if it held another minute.
 * Allocates on first use (NULL when out of memory; then nothing is counted). */
struct account_bucket *account_minute(struct account_table *t, struct account *a, uint32_t m);
/* The existing bucket of minute m, or NULL. Inline: the engine looks up a
 * window's minutes for every detection of every transaction. */
static inline struct account_bucket *account_minute_peek(const struct account *a, uint32_t m)
{
    struct account_bucket *b = a->min[m % ACCOUNT_MINUTES];
    return b && b->idx == m ? b : NULL;
}
/* Same for hour buckets (layout.hours > 0). */
struct account_bucket *account_hour(struct account_table *t, struct account *a, uint32_t h);
struct account_bucket *account_hour_peek(const struct account_table *t, const struct account *a,
                                         uint32_t h);
uint32_t *account_bucket_epq(const struct account_table *t, struct account_bucket *b);
/* Adds v to the bucket's sketch of dense category c, charging memory.
 * Returns sketch_add()'s result; *switched as there. */
int account_sketch_add(struct account_table *t, struct account *a, struct account_bucket *b,
                       unsigned c, uint64_t v, int *switched);
/* Merges src into dst (a sketch the account owns), charging memory. */
int account_sketch_merge(struct account_table *t, struct account *a, struct sketch *dst,
                         const struct sketch *src, int *switched);
/* Frees buckets that have left every window (minutes older than the ring,
 * hours older than the hour ring) and, when drop_rings, the enumeration and
 * cadence rings, so an idle account shrinks to its fixed part. */
void account_trim(struct account_table *t, struct account *a, uint32_t now_min, int drop_rings);
/* Lazily allocated rings (NULL when out of memory or not configured). */
struct account_enum_ent *account_enum_ring(struct account_table *t, struct account *a);
uint64_t *account_cad_ring(struct account_table *t, struct account *a);

/* Calls fn for each account, least recently active first (deterministic). */
void account_foreach(struct account_table *t, void (*fn)(struct account *a, void *ud), void *ud);

uint64_t account_table_count(const struct account_table *t);
uint64_t account_table_memuse(const struct account_table *t);
uint64_t account_table_evicted(const struct account_table *t);
/* Bytes of one bucket with this layout (without sketch contents). */
size_t account_bucket_size(const struct account_layout *lay);

#endif
