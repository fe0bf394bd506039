/* match.h - the Hyperscan matcher: one database, streams, validated records.
 *
 * match_db_build() compiles every pattern of a ruleset into one Hyperscan
 * database (stream mode). It is read-only afterwards and shared by threads;
 * each thread has its own struct match_scratch. A struct match_stream follows
 * one byte stream (a flow direction, or an HTTP body): bytes enter by
 * match_stream_scan() in order, possibly split anywhere, and every validated
 * value comes out once through the callback as a struct record.
 *
 * Hyperscan reports where a match ends. The stream keeps a small look-back
 * of its last bytes (the longest pattern plus one) so the value can be
 * recovered, its left boundary checked and the validator run; a value ending
 * exactly at the end of a block waits for the next byte for its right
 * boundary. A gap (match_stream_gap) clears the look-back and pending values,
 * so no record is made of bytes on both sides of a hole.
 *
 * Only this file includes <hs.h>. */
#ifndef LH_MATCH_H
#define LH_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "rules/ruleset.h"

#define RECORD_MAX_LEN 128

/* A validated value. value holds the raw bytes: never write them out; mask
 * (output/mask.h) or fingerprint (output/fingerprint.h) them. */
struct record {
    uint16_t pattern;  /* index into ruleset->patterns */
    uint8_t category;  /* enum rule_category */
    uint8_t len;
    uint64_t end_off;  /* stream offset just past the value */
    uint8_t value[RECORD_MAX_LEN];
};

typedef void (*match_record_fn)(void *ud, const struct record *r);

struct match_db;
struct match_scratch;
struct match_stream;

struct match_stats {
    uint64_t bytes_scanned;
    uint64_t raw_matches;   /* Hyperscan callbacks */
    uint64_t rejected;      /* failed boundary, mask or validator */
    uint64_t records;       /* validated records delivered */
    uint64_t streams_open;
    uint64_t scan_errors;
};

/* Compiles the ruleset. The ruleset must outlive the database. On error returns
 * -1 with "file:line: pattern ID: message" in err; on success 0. */
int match_db_build(const struct ruleset *rs, struct match_db **out, char *err, size_t errlen);
void match_db_free(struct match_db *db); /* accepts NULL */
const struct ruleset *match_db_ruleset(const struct match_db *db);
/* Bytes of Hyperscan stream state per stream (for memory accounting). */
size_t match_db_stream_size(const struct match_db *db);

/* Per thread. NULL on allocation failure. */
struct match_scratch *match_scratch_new(const struct match_db *db);
void match_scratch_free(struct match_scratch *s); /* accepts NULL */
const struct match_stats *match_scratch_stats(const struct match_scratch *s);

/* Opens a stream; NULL on allocation failure (counted by the caller). */
struct match_stream *match_stream_open(const struct match_db *db, struct match_scratch *s);
/* Scans the next len bytes. Calls fn for each new record. Returns 0, or -1 on
 * a Hyperscan error (the stream is then unusable; counted). */
int match_stream_scan(struct match_stream *st, struct match_scratch *s, const uint8_t *data,
                      size_t len, match_record_fn fn, void *ud);
/* A hole in the stream: drop look-back and pending values. */
void match_stream_gap(struct match_stream *st);
/* The same, for a hole of len bytes: end_off of later records stays the true
 * stream offset (match_stream_gap counts the hole as 0 bytes). */
void match_stream_gap_len(struct match_stream *st, uint64_t len);
/* Ends the stream (values ending at its end are delivered) and frees it.
 * Accepts NULL. */
void match_stream_close(struct match_stream *st, struct match_scratch *s, match_record_fn fn,
                        void *ud);

/* Block-mode scan of one buffer, same semantics as a stream opened, fed once
 * and closed (for tests and small buffers). */
int match_scan_block(const struct match_db *db, struct match_scratch *s, const uint8_t *data,
                     size_t len, match_record_fn fn, void *ud);

#endif
