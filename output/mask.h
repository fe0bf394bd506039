/* mask.h - masked samples of records, never the record itself.
 *
 * At least as strict as GB/T 41833-2022 asks of a printed waybill: a mobile
 * keeps at most 5 of its 11 digits (138******78), a name loses at least one
 * character, an address loses its street number, unit and room. Output is
 * NUL-terminated UTF-8. */
#ifndef LH_MASK_H
#define LH_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "rules/ruleset.h"

/* Writes the masked form of v into out (outlen >= 1); returns its length.
 * keep_first/keep_last count characters (UTF-8 code points), and are reduced
 * so that at least half of the characters (and at least 6 of 11 digits) are
 * hidden whatever the rule says. Can't fail; truncates to outlen. */
size_t mask_value(enum mask_style style, unsigned keep_first, unsigned keep_last, const uint8_t *v,
                  size_t len, char *out, size_t outlen);

#endif
