/* detect_rules.h - the `detections:` and `allowlist:` sections of rule files.
 *
 * rules/ruleset.c hands each file's parsed YAML document (libyaml document
 * API) to detect_rules_parse() for its `detections:` list and to
 * detect_rules_parse_allowlist() for its top-level `allowlist:` mapping;
 * both append to one struct detect_rules shared by all files. Once every
 * file is read, detect_rules_resolve() turns endpoint ids into the rule
 * set's endpoint indexes. The result is read-only afterwards and owned by
 * whoever loaded the rules (detect_rules_free()). The format is documented
 * in docs/detection.md. */
#ifndef LH_DETECT_RULES_H
#define LH_DETECT_RULES_H

#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "sensor/packet.h"

#define DETECT_MAX_DETECTIONS 64
#define DETECT_MAX_ALLOW 4096 /* accounts or networks per allowlist */

enum detect_type {
    DETECT_BULK_RESPONSE,
    DETECT_VOLUME,
    DETECT_ANOMALY,
    DETECT_NEW_SOURCE,
    DETECT_ENUMERATION,
    DETECT_OUT_OF_SCOPE,
    DETECT_CADENCE,
    DETECT_TYPE_MAX
};

/* "bulk_response", ...; "unknown" out of range. */
const char *detect_type_name(enum detect_type t);
/* Alert category of a type: "bulk-exfiltration", "anomaly", ... */
const char *detect_type_category(enum detect_type t);

struct detect_net {
    struct lh_addr addr; /* IPv4 v4-mapped */
    uint8_t bits;        /* prefix length over the 128-bit form */
};

struct detect_allow {
    char **accounts;
    size_t n_accounts;
    struct detect_net *nets;
    size_t n_nets;
};

struct detection {
    char *id;
    enum detect_type type;
    uint8_t severity;      /* 1 high .. 4 low */
    char *signature;       /* optional title put before the generated sentence */
    uint32_t signature_id; /* FNV-1a 32 of the id, top bit clear */
    /* what is counted (bulk_response, volume, anomaly) */
    uint32_t categories;   /* bit per enum rule_category; 0 with no endpoint: all */
    char *endpoint_id;     /* count: {endpoint: ...}; NULL: records are counted */
    int endpoint;          /* resolved index, -1 until detect_rules_resolve() */
    uint32_t window_s;
    uint64_t at_least;
    /* anomaly */
    double ratio;          /* 0: no own-baseline comparison */
    uint64_t min;
    uint32_t learn_s;      /* anomaly, new_source, out_of_scope */
    double peer_ratio;     /* 0: no population comparison */
    /* enumeration */
    uint32_t min_queries;
    uint64_t max_step;
    double seq_share;      /* share of near steps, default 0.8 */
    /* out_of_scope */
    uint32_t min_records;
    double share;
    /* cadence */
    uint32_t min_requests;
    double max_cv;
    /* episodes */
    double escalate;       /* count growth that raises a new alert, default 2 */
    uint32_t quiet_s;      /* episode ends after this long without a hit, default 1800 */
    struct detect_allow allow;
    char *file;
    int line;
};

struct detect_rules {
    struct detection *d;
    size_t n;
    struct detect_allow allow; /* top-level allowlist: every detection */
};

typedef void (*detect_rules_error_fn)(void *ud, int line, const char *msg);

/* Parses a `detections:` list node of doc (from file) and appends each
 * detection to *rules (allocated when NULL). Every problem is reported
 * through error(ud, line, msg) with the offending node's line
 * (start_mark.line + 1); parsing goes on after an error. Returns the number
 * of errors reported (0 = all good). */
int detect_rules_parse(yaml_document_t *doc, yaml_node_t *seq, const char *file,
                       struct detect_rules **rules, detect_rules_error_fn error, void *ud);

/* Parses a top-level `allowlist:` mapping (accounts:, networks:) and adds
 * it to (*rules)->allow. Returns the number of errors reported. */
int detect_rules_parse_allowlist(yaml_document_t *doc, yaml_node_t *map, const char *file,
                                 struct detect_rules **rules, detect_rules_error_fn error,
                                 void *ud);

/* Resolves every detection's endpoint id with endpoint_index(ud, id) (an
 * index >= 0, or -1 when unknown) and checks what spans files (duplicate
 * ids, signature_id collisions). Errors go to error(ud2, file, line, msg).
 * Returns the number of errors. Accepts NULL rules (nothing to do). */
int detect_rules_resolve(struct detect_rules *r, int (*endpoint_index)(void *ud, const char *id),
                         void *ud, void (*error)(void *ud2, const char *file, int line,
                                                 const char *msg),
                         void *ud2);

void detect_rules_free(struct detect_rules *r); /* accepts NULL */

/* Is the account or the address on the detection's or the global list? */
int detect_rules_allowed(const struct detect_rules *r, const struct detection *d,
                         const char *account, const struct lh_addr *src);

/* "10m", "1h", "7d", "30s", "90" (seconds). Returns seconds or -1. */
long detect_rules_duration(const char *s);

#endif
