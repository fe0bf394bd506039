/* rulegen.h - one generation of the rules: loaded, compiled, shared.
 *
 * A struct rulegen bundles what the rule files become: the ruleset (with
 * its identity, endpoint and detection sections), the matcher's database
 * and the endpoint database. The sensor starts with generation 1; every
 * rule reload (SIGUSR2) builds a new generation aside, on a thread of its
 * own, and the pipeline hands it to the workers and the detection engine
 * while the old one keeps serving the streams that began under it.
 *
 * Lifetimes: reference counted (atomically: workers drop their references
 * on their own threads). rulegen_build() returns one reference; the last
 * rulegen_unref() frees everything. The contents are read-only. */
#ifndef LH_RULEGEN_H
#define LH_RULEGEN_H

#include <stddef.h>
#include <stdint.h>

struct ruleset;
struct match_db;
struct endpoint_db;

struct rulegen {
    struct ruleset *rs;
    struct match_db *db;
    struct endpoint_db *epdb;
    uint32_t id;        /* 1 for the rules the sensor started with, then 2, 3 ... */
    uint64_t build_us;  /* wall time the load and compile took */
    int refs;           /* atomic */
};

enum rulegen_stage { RULEGEN_OK, RULEGEN_LOAD, RULEGEN_COMPILE };

/* Loads the rule files (paths as ruleset_load) and compiles them. NULL on
 * failure, with every error ("file:line: message", one per line) in err and
 * the stage that failed in *stage (may be NULL). */
struct rulegen *rulegen_build(const char *const *paths, size_t n_paths, uint32_t id,
                              enum rulegen_stage *stage, char *err, size_t errlen);
struct rulegen *rulegen_ref(struct rulegen *g); /* returns g; accepts NULL */
void rulegen_unref(struct rulegen *g);          /* accepts NULL */

#endif
