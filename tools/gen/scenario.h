/* scenario.h - the switchable exfiltration and look-alike scenarios:
 * hijack, lowslow, enum, bulk, busy, outscope, scripted. Each is given as
 * NAME[:key=value,...] (see docs/generator.md for the keys), becomes one
 * actor in the simulation and one entry in the ground truth.
 *
 * scen_new() returns an empty set freed by scen_free(). */
#ifndef LH_GEN_SCENARIO_H
#define LH_GEN_SCENARIO_H

#include <stdint.h>

struct sim;
typedef struct scen_set scen_set;

scen_set *scen_new(void);
void scen_free(scen_set *ss);
/* Parses one --scenario spec. Returns 0, or -1 with the reason in err
 * (256 bytes). */
int scen_add(scen_set *ss, const char *spec, char *err);
int scen_count(const scen_set *ss);
/* Resolves accounts and times against the simulation and registers the
 * truth entries. Returns 0 or -1 (err). */
int scen_setup(scen_set *ss, struct sim *s, char *err);
/* First wake of scenario i (UINT64_MAX: never). */
uint64_t scen_first(scen_set *ss, int i);
/* Runs scenario i's exchange due at t; returns its next wake. */
uint64_t scen_step(scen_set *ss, struct sim *s, int i, uint64_t t);
/* Closes the scenarios' connections at the end of the run. */
void scen_finish(scen_set *ss, struct sim *s);

#endif
