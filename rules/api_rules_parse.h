/* api_rules_parse.h - the rule loader's entry points into api_rules.c.
 *
 * Section parsers take a libyaml document and the section's node, append to
 * a struct api_rules and report each problem as (line, message) through the
 * loader's callback. After every file is loaded, api_rules_resolve() ties
 * names across sections (a session's login endpoint). */
#ifndef LH_API_RULES_PARSE_H
#define LH_API_RULES_PARSE_H

#include <yaml.h>

#include "rules/api_rules.h"

typedef void (*api_error_fn)(void *ud, int line, const char *msg);

void api_rules_parse_identity(yaml_document_t *doc, yaml_node_t *seq, const char *file,
                              struct api_rules *r, api_error_fn error, void *ud);
void api_rules_parse_endpoints(yaml_document_t *doc, yaml_node_t *seq, const char *file,
                               struct api_rules *r, api_error_fn error, void *ud);
void api_rules_resolve(struct api_rules *r,
                       void (*error)(void *ud, const char *file, int line, const char *msg),
                       void *ud);
/* Index of the endpoint with this id, or -1. */
int api_rules_endpoint_index(const struct api_rules *r, const char *id);
/* Frees what r holds and zeroes it. */
void api_rules_free(struct api_rules *r);

#endif
