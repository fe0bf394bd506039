/* world.h - the courier company: outlets in cities, employee accounts with
 * roles, fixed workstations and daily rhythms (Asia/Shanghai local time,
 * UTC+8: working hours 8-18 with a lunch break, days off, per-role volume).
 *
 * world_new() builds everything from the seed; world_free() frees it. The
 * rhythm functions are pure: the same account, seed and time give the same
 * answer. */
#ifndef LH_GEN_WORLD_H
#define LH_GEN_WORLD_H

#include <stdint.h>

#include "pkt.h"
#include "rng.h"

enum { ROLE_CLERK, ROLE_DISPATCH, ROLE_AGENT, ROLE_SVC, ROLE_N };
extern const char *const world_role_name[ROLE_N];

typedef struct {
    char id[16];
    int role, city, outlet;
    char outlet_name[24];
    pkt_addr ws; /* fixed workstation */
    uint8_t ttl;
    const char *ua;
    double per_day; /* activities on a normal working day */
    uint8_t off[2]; /* weekly days off (0 = Monday), 7 = none */
    int shift;      /* local start hour */
    char password[16];
} world_acct;

typedef struct {
    uint64_t seed;
    int n, nemployees; /* accounts; the last n - nemployees are services */
    world_acct *a;
    double rate_mult;
    int flat; /* bench: no rhythm, every hour is a working hour */
} world;

/* n employee accounts (at least 4) plus the service account SVC-EXPORT.
 * ipv6: share of workstations on fd00::/8. Returns NULL on bad n. */
world *world_new(uint64_t seed, int n, double ipv6, double rate_mult, int flat);
void world_free(world *w);

/* Index of account id, or -1. */
int world_find(const world *w, const char *id);
/* The k-th account of role (wrapping), or -1 when none. */
int world_pick(const world *w, int role, uint64_t k);

/* Activities per second of account a at time t (us). */
double world_rate(const world *w, int a, uint64_t t);
/* Next activity time after t (us) drawn from the rhythm, or UINT64_MAX if
 * none before end. */
uint64_t world_next(const world *w, int a, uint64_t t, uint64_t end, rng_t *r);
/* Local (UTC+8) hour of day of t. */
int world_local_hour(uint64_t t);

#endif
