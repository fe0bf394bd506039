/* ruleset.h - rule files loaded into memory.
 *
 * ruleset_load() reads one or more YAML rule files (libyaml) into a struct
 * ruleset: the patterns that find records (this file), and later the
 * identity sources, endpoints and detections. Every error names file:line.
 * The ruleset is read-only once loaded and owned by whoever loaded it;
 * ruleset_free() frees everything it holds.
 *
 * The file format is documented in docs/rules.md. */
#ifndef LH_RULESET_H
#define LH_RULESET_H

#include <stddef.h>
#include <stdint.h>

#include "rules/api_rules.h"

/* What kind of personal record a pattern finds. */
#define RULE_CATEGORIES(X)                                                                         \
    X(PHONE, "phone")                                                                              \
    X(LANDLINE, "landline")                                                                        \
    X(ID, "id")                                                                                    \
    X(ADDRESS, "address")                                                                          \
    X(WAYBILL, "waybill")                                                                          \
    X(NAME, "name")                                                                                \
    X(EMAIL, "email")                                                                              \
    X(BANK_CARD, "bank_card")                                                                      \
    X(OTHER, "other")

enum rule_category {
#define RULE_CAT_ENUM(n, s) RULE_CAT_##n,
    RULE_CATEGORIES(RULE_CAT_ENUM)
#undef RULE_CAT_ENUM
        RULE_CAT_MAX
};

const char *rule_category_name(enum rule_category c);
/* Returns the category named s, or -1. */
int rule_category_parse(const char *s);

/* How a record's sample is masked before anyone sees it (output/mask.h). */
enum mask_style {
    MASK_KEEP = 0, /* keep keep_first and keep_last characters, '*' between */
    MASK_ADDRESS,  /* keep the administrative part, hide street number, unit, room */
    MASK_NAME,     /* keep the first character, hide the rest */
    MASK_FULL,     /* hide everything */
};

/* Boundary the matcher checks on both sides of a value (Hyperscan has no
 * look-around): the byte before and after must not be of this class. */
enum rule_boundary {
    BOUNDARY_NONE = 0,
    BOUNDARY_DIGIT, /* no [0-9] on either side */
    BOUNDARY_ALNUM, /* no [0-9A-Za-z] on either side */
};

struct detect_rules;

struct rule_pattern {
    char *id;            /* unique, [a-z0-9_]+ */
    char *regex;         /* Hyperscan syntax */
    unsigned hs_flags;   /* HS_FLAG_* from the flags: list (caseless, dotall, utf8, ...) */
    enum rule_category category;
    char *validator;     /* name of a validator (rules/validate.h), or NULL */
    int validator_idx;   /* resolved index, -1 when none */
    enum rule_boundary boundary;
    enum mask_style mask;
    uint8_t keep_first, keep_last; /* for MASK_KEEP */
    uint16_t max_len;    /* longest match in bytes, for look-back; 0 = from Hyperscan */
    uint8_t value_tail;  /* 1: the record is the last [0-9A-Za-z] run of the match
                            (context patterns like "waybillNo":"...") */
    uint8_t record;      /* 1: a validated match is a personal record (default) */
    /* context: what must stand right before the value (docs/rules.md), e.g. a
     * field name and its ':'. NULL: nothing is required. */
    char *context;       /* Hyperscan syntax, matched ending where the value starts */
    unsigned context_flags;   /* HS_FLAG_* of the context's own flags: list */
    uint16_t context_max_len; /* its longest match in bytes (from Hyperscan or given) */
    char *file;          /* where it was declared */
    int line;
};

struct ruleset {
    struct rule_pattern *patterns;
    size_t n_patterns;
    char **files;        /* files loaded, in order */
    size_t n_files;
    uint8_t hash[32];    /* SHA-256 over the files' bytes, for caching */
    struct api_rules api; /* identity: and endpoints: sections */
    struct detect_rules *detect; /* detections: sections (rules/detect.h), or NULL */
};

/* Loads the YAML files named in paths (a directory loads its *.yaml in name
 * order). On error returns -1 and writes every error, one per line, as
 * "file:line: message" into err (truncated to errlen). On success returns 0
 * and *out holds a ruleset to free with ruleset_free. */
int ruleset_load(const char *const *paths, size_t n_paths, struct ruleset **out, char *err,
                 size_t errlen);
void ruleset_free(struct ruleset *rs); /* accepts NULL */

/* Index of the pattern with this id, or -1. */
int ruleset_pattern_index(const struct ruleset *rs, const char *id);

#endif
