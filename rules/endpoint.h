/* endpoint.h - which endpoint of an API a request is (rules' endpoints:).
 *
 * Every endpoint's path regex is compiled into one Hyperscan block-mode
 * database; a request's path (its target up to '?') is scanned once and the
 * first declared endpoint whose path, method list and host all agree wins.
 * Read-only after build; one struct endpoint_scratch per thread. */
#ifndef LH_ENDPOINT_H
#define LH_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "rules/api_rules.h"

struct endpoint_db;
struct endpoint_scratch;

/* rules must outlive the database. With no endpoints, *out is NULL and 0 is
 * returned. On a regex error: -1 and "file:line: endpoint ID: message". */
int endpoint_db_build(const struct api_rules *rules, struct endpoint_db **out, char *err,
                      size_t errlen);
void endpoint_db_free(struct endpoint_db *db); /* accepts NULL */
struct endpoint_scratch *endpoint_scratch_new(const struct endpoint_db *db);
void endpoint_scratch_free(struct endpoint_scratch *s); /* accepts NULL */

/* Index of the request's endpoint, or -1. db may be NULL (-1). */
int endpoint_match(const struct endpoint_db *db, struct endpoint_scratch *s, const char *method,
                   const char *host, const char *uri);

/* The waybill number a request to endpoint idx queries, as a number (the
 * digits of the first of the endpoint's waybill places that has one: a query
 * parameter, or "path" for the last path segment), for enumeration; 0 none. */
uint64_t endpoint_waybill(const struct api_rules *rules, int idx, const char *uri);

/* Where in uri the waybill number of a request to endpoint idx is written
 * (the first of the endpoint's waybill places present), so a logged URL can
 * mask it. Returns 1 and the byte span, or 0. */
int endpoint_waybill_span(const struct api_rules *rules, int idx, const char *uri, size_t *start,
                          size_t *len);

#endif
