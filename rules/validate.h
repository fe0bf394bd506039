/* validate.h - validators: C checks a regex cannot express.
 *
 * A validator looks at a candidate value (the bytes Hyperscan matched, after
 * the matcher recovered its start) and says whether it is a real record:
 * GB 11643 check character, a real birth date, an allocated mobile prefix,
 * an S10 check digit, an address with a number. Rule files name validators by
 * string; validate_find() resolves the name. Values that carry a mask
 * character ('*') are never records. All validators are pure functions. */
#ifndef LH_VALIDATE_H
#define LH_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef bool (*validate_fn)(const uint8_t *v, size_t len);

struct validator {
    const char *name;
    validate_fn fn;
    const char *doc; /* one line for docs/rules.md and --list-validators */
};

/* Index of the named validator, or -1. */
int validate_find(const char *name);
/* The validator at idx (0 <= idx < validate_count()). */
const struct validator *validate_get(int idx);
int validate_count(void);

bool validate_cn_mobile(const uint8_t *v, size_t len);   /* 11 digits, allocated prefix */
bool validate_gb11643(const uint8_t *v, size_t len);     /* 18-char resident ID */
bool validate_cn_landline(const uint8_t *v, size_t len); /* 0 + area code + 7-8 digits */
bool validate_s10(const uint8_t *v, size_t len);         /* UPU S10 check digit */
bool validate_cn_address(const uint8_t *v, size_t len);  /* UTF-8 address with a number */

#endif
