/* world.c - outlets, accounts, workstations and rhythms (see world.h).
 *
 * Rates are piecewise constant per local hour, so the next activity is
 * drawn hour by hour (an exponential gap within the hour; memorylessness
 * makes restarting at the hour boundary exact). */
#include "world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

const char *const world_role_name[ROLE_N] = {"clerk", "dispatcher", "agent", "service"};

static const char *const uas[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36 Edg/121.0.2277.128",
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0",
    "WaybillClient/3.8.2 (Windows 10; x64)"};

world *world_new(uint64_t seed, int n, double ipv6, double rate_mult, int flat)
{
    if (n < 4 || n > 20000) return NULL;
    world *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->seed = seed;
    w->nemployees = n;
    w->n = n + 1;
    w->rate_mult = rate_mult;
    w->flat = flat;
    w->a = calloc((size_t)w->n, sizeof *w->a);
    if (!w->a) {
        free(w);
        return NULL;
    }
    rng_t r;
    rng_seed(&r, seed, 0x776f726c64);
    int noutlets = n / 6 + 1, agents = 0;
    for (int i = 0; i < n; i++) {
        world_acct *a = &w->a[i];
        snprintf(a->id, sizeof a->id, "E%05d", 10000 + i * 7 + (int)rng_below(&r, 7));
        unsigned x = rng_below(&r, 100);
        /* every tenth account sits in the call centre, so small worlds have some */
        a->role = i % 10 == 3 ? ROLE_AGENT : x < 80 ? ROLE_CLERK : ROLE_DISPATCH;
        snprintf(a->password, sizeof a->password, "Pw%08x", (unsigned)rng_next(&r));
        a->ua = uas[rng_below(&r, 4)];
        a->ttl = 128;
        int host = 10 + (i % 240);
        if (a->role == ROLE_AGENT) {
            /* the call centre in Hangzhou serves the whole country */
            a->city = 4;
            a->outlet = -1;
            snprintf(a->outlet_name, sizeof a->outlet_name, "CC-HZ-01");
            a->per_day = 250 + rng_below(&r, 150);
            a->off[0] = (uint8_t)(agents % 7);
            a->off[1] = (uint8_t)((agents + 3) % 7);
            a->shift = agents % 2 ? 12 : 8;
            agents++;
            pkt_addr4(&a->ws, 10, 30, (unsigned)(1 + i / 240), (unsigned)host);
        } else {
            a->outlet = (int)rng_below(&r, (uint32_t)noutlets);
            a->city = a->outlet % data_ncities;
            snprintf(a->outlet_name, sizeof a->outlet_name, "OUT-%s-%02d",
                     data_cities[a->city].code[a->outlet % data_cities[a->city].ndist],
                     a->outlet / data_ncities + 1);
            a->per_day = a->role == ROLE_CLERK ? 8 + rng_below(&r, 10) : 30 + rng_below(&r, 30);
            a->off[0] = 6;
            a->off[1] = rng_chance(&r, 0.5) ? (uint8_t)5 : (uint8_t)7;
            a->shift = 8;
            pkt_addr4(&a->ws, 10, (unsigned)(20 + a->city), (unsigned)(1 + a->outlet % 250),
                      (unsigned)(10 + (i * 37) % 240));
        }
        if (rng_chance(&r, ipv6)) {
            pkt_addr6(&a->ws, a->role == ROLE_AGENT ? 30u : (unsigned)(20 + a->city),
                      0x1000u + (unsigned)i);
            a->ttl = 128;
        }
    }
    world_acct *s = &w->a[n];
    snprintf(s->id, sizeof s->id, "SVC-EXPORT");
    s->role = ROLE_SVC;
    s->city = 0;
    s->outlet = -1;
    snprintf(s->outlet_name, sizeof s->outlet_name, "DC-BATCH");
    snprintf(s->password, sizeof s->password, "Svc%08x", (unsigned)rng_next(&r));
    s->ua = "export-batch/1.4 (Java/17.0.9)";
    s->ttl = 64;
    s->off[0] = s->off[1] = 7;
    pkt_addr4(&s->ws, 10, 0, 1, 20);
    return w;
}

void world_free(world *w)
{
    if (!w) return;
    free(w->a);
    free(w);
}

int world_find(const world *w, const char *id)
{
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->a[i].id, id)) return i;
    return -1;
}

int world_pick(const world *w, int role, uint64_t k)
{
    int cnt = 0;
    for (int i = 0; i < w->nemployees; i++)
        cnt += w->a[i].role == role;
    if (!cnt) return -1;
    k %= (uint64_t)cnt;
    for (int i = 0; i < w->nemployees; i++)
        if (w->a[i].role == role && k-- == 0) return i;
    return -1;
}

int world_local_hour(uint64_t t)
{
    return (int)((t / 1000000 + 8 * 3600) / 3600 % 24);
}

/* Working-day shape over the shift's hours: ramp-up, lunch dip, tail. */
static const double shape[10] = {0.8, 1.3, 1.3, 1.1, 0.15, 1.1, 1.3, 1.2, 1.0, 0.7};

double world_rate(const world *w, int i, uint64_t t)
{
    const world_acct *a = &w->a[i];
    if (a->role == ROLE_SVC) return 0;
    double base = a->per_day / 10.0 / 3600.0 * w->rate_mult;
    if (w->flat) return base;
    uint64_t ls = t / 1000000 + 8 * 3600, day = ls / 86400;
    int wd = (int)((day + 3) % 7), h = (int)(ls / 3600 % 24) - a->shift;
    if (wd == a->off[0] || wd == a->off[1] || h < 0 || h >= 10) return 0;
    uint64_t d = rng_hash(w->seed ^ (uint64_t)i << 20, day);
    if (d % 100 < 3) /* sick or on leave */
        return 0;
    double f = 0.7 + (double)((d >> 8) % 600) / 1000.0;
    return base * shape[h] * f;
}

uint64_t world_next(const world *w, int a, uint64_t t, uint64_t end, rng_t *r)
{
    while (t < end) {
        uint64_t hend = (t / 3600000000ULL + 1) * 3600000000ULL;
        double lam = world_rate(w, a, t);
        if (lam > 0) {
            double gap = rng_exp(r, 1.0 / lam) * 1e6;
            if ((double)t + gap < (double)hend) return t + (uint64_t)gap + 1;
        }
        t = hend;
    }
    return UINT64_MAX;
}
