/* bg.h - background traffic: DNS over UDP, TLS to external hosts, other
 * internal HTTP, PostgreSQL. It keeps its share of the file's bytes near
 * the configured fraction by spending a budget earned by the API traffic,
 * plus a thin trickle in quiet hours (so a multi-day run does not write
 * every quiet hour in full).
 *
 * bg_new() returns state freed by bg_free(). */
#ifndef LH_GEN_BG_H
#define LH_GEN_BG_H

#include <stdint.h>

struct sim;
struct bg;

struct bg *bg_new(struct sim *s);
void bg_free(struct bg *b);
/* Writes the background due at t (maybe nothing); returns the next wake. */
uint64_t bg_step(struct bg *b, struct sim *s, uint64_t t);

#endif
