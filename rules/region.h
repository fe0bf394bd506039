/* region.h - the province a record points to (GB/T 2260 codes).
 *
 * For the out-of-scope detection: which region a customer record belongs to.
 * A resident ID carries its region in its first two digits; an address names
 * its province (or municipality, autonomous region, SAR) first. 0 = unknown. */
#ifndef LH_REGION_H
#define LH_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "rules/ruleset.h"

/* Province code (11 Beijing ... 82 Macau) of a record's raw value, or 0. Can't fail. */
uint16_t region_of_record(enum rule_category cat, const uint8_t *v, size_t len);

#endif
