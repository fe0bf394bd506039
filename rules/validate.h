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
/* Normalises a value the validator accepted (e.g. a mobile written
 * 138-1234-5678 or +86 13812345678 becomes its 11 digits), so that the same
 * record has the same bytes however it was written. Writes at most len bytes
 * to out and returns how many; out may be v itself. Can't fail. */
typedef size_t (*validate_norm_fn)(const uint8_t *v, size_t len, uint8_t *out);
/* Finds a value by looking back from where its anchor ends. w holds the n
 * bytes before the anchor's end (as many as the look-back holds, at most the
 * pattern's max_len). Returns the index in w where the value starts (the value
 * is w[start..n)), or -1 when no value ends there. Never reads outside w.
 * Sets *checked when it has found on the way that the value passes the
 * validator's fn (and holds no '*'), so the caller need not run it; false
 * says nothing. */
typedef long (*validate_find_fn)(const uint8_t *w, size_t n, bool *checked);

struct validator {
    const char *name;
    validate_fn fn;
    const char *doc; /* one line for docs/rules.md and --list-validators */
    validate_norm_fn norm; /* NULL: the value is kept as matched */
    validate_find_fn find; /* NULL: the matcher recovers the value from the regex */
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
/* A mobile's 11 digits from its written form (separators, 86/0086 prefix). */
size_t validate_cn_mobile_norm(const uint8_t *v, size_t len, uint8_t *out);
/* The start of the address that ends with the 号 ending w[0..n), found the way
 * the regex in docs/rules.md ("cn_address") would find its leftmost start. */
long validate_cn_address_find(const uint8_t *w, size_t n, bool *checked);

#endif
