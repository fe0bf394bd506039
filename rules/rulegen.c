/* rulegen.c - builds and reference-counts a generation of the rules.
 *
 * In: rule file paths. Out: a struct rulegen holding the ruleset and both
 * compiled databases, freed when the last holder lets go. Building is
 * independent of any running state, so a reload can run it on a thread of
 * its own while packets keep flowing; a broken set never leaves here. */
#include "rules/rulegen.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rules/endpoint.h"
#include "rules/match.h"
#include "rules/ruleset.h"

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void set_stage(enum rulegen_stage *stage, enum rulegen_stage v)
{
    if (stage)
        *stage = v;
}

struct rulegen *rulegen_build(const char *const *paths, size_t n_paths, uint32_t id,
                              enum rulegen_stage *stage, char *err, size_t errlen)
{
    uint64_t t0 = mono_us();
    struct rulegen *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "out of memory");
        set_stage(stage, RULEGEN_LOAD);
        return NULL;
    }
    g->id = id;
    g->refs = 1;
    if (ruleset_load(paths, n_paths, &g->rs, err, errlen) != 0) {
        set_stage(stage, RULEGEN_LOAD);
        goto fail;
    }
    if (match_db_build(g->rs, &g->db, err, errlen) != 0 ||
        endpoint_db_build(&g->rs->api, &g->epdb, err, errlen) != 0) {
        set_stage(stage, RULEGEN_COMPILE);
        goto fail;
    }
    g->build_us = mono_us() - t0;
    set_stage(stage, RULEGEN_OK);
    return g;
fail:
    g->refs = 1;
    rulegen_unref(g);
    return NULL;
}

struct rulegen *rulegen_ref(struct rulegen *g)
{
    if (g)
        __atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
    return g;
}

void rulegen_unref(struct rulegen *g)
{
    if (!g || __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    endpoint_db_free(g->epdb);
    match_db_free(g->db);
    ruleset_free(g->rs);
    free(g);
}
