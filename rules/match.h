/* match.h - the matcher: normalised input, a digit-run pre-pass and one
 * Hyperscan database, streams, validated records.
 *
 * match_db_build() compiles the ruleset: patterns whose regex is a digit
 * shape are served by a SIMD pre-pass, the others by one Hyperscan database
 * (stream mode); the records are the same either way. Input is normalised
 * first (JSON \uXXXX, %XX, full-width ASCII; docs/matching.md). The database
 * is read-only afterwards and shared by threads;
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
 * so no record is made of bytes on both sides of a hole. Records come out in
 * order of end_off within a stream.
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
struct rule_pattern;

struct record {
    const struct rule_pattern *rule; /* the pattern, in the ruleset of the stream's database */
    uint16_t pattern;  /* index into ruleset->patterns */
    uint8_t category;  /* enum rule_category */
    uint8_t len;
    uint64_t end_off;  /* stream offset (of the bytes given) just past the value's text */
    uint8_t value[RECORD_MAX_LEN];
    /* Bytes of the stream the value was written in: the text is the src_len
     * bytes ending at end_off. Equal to len unless the value was normalised:
     * decoded escapes (\u0031, %31, full-width digits) or a validator's own
     * form (138-1234-5678 and +86 13812345678 are the record 13812345678).
     * To redact a text, replace [end_off - src_len, end_off), not len bytes. */
    uint16_t src_len;
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
    uint64_t prepass_events; /* digit-run ends the pre-pass looked at */
    uint64_t decoded;        /* escapes and full-width characters normalised */
};

/* What a scratch runs (match_scratch_set_flags), for benchmarks and
 * comparisons; 0, the default, is the full matcher. */
#define MATCH_NO_NORMALIZE 1u /* scan the bytes as given: no decoding of escapes */
#define MATCH_NO_PREPASS 2u   /* skip the digit-run pre-pass (its patterns find nothing) */
#define MATCH_NO_HS 4u        /* skip Hyperscan (its patterns find nothing) */
#define MATCH_RAW_ONLY 8u     /* count Hyperscan matches and pre-pass events, no values */
#define MATCH_NO_AVX2 16u     /* build the 64-byte masks with the baseline (SSE2) code even
                                 on a CPU with AVX2; the results are the same */

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
/* Makes s serve db too (a rule reload): streams opened on the databases it
 * served before keep working with it, and match_scan_block() now takes db.
 * Returns 0, or -1 when memory is short (s is unchanged and still serves
 * the old databases). */
int match_scratch_add_db(struct match_scratch *s, const struct match_db *db);
/* Lets go of the closed streams s keeps for reuse that were opened on db:
 * call it before db is freed (a stream is reused only on the database it was
 * opened on, found by address). Accepts NULL. */
void match_scratch_forget_db(struct match_scratch *s, const struct match_db *db);
const struct match_stats *match_scratch_stats(const struct match_scratch *s);
/* MATCH_* flags above; returns the previous flags. Can't fail. */
unsigned match_scratch_set_flags(struct match_scratch *s, unsigned flags);
/* 1 when s builds its 64-byte masks with AVX2 (the CPU has it and
 * MATCH_NO_AVX2 is clear), else 0. This function can't fail. */
int match_scratch_avx2(const struct match_scratch *s);
/* How many patterns the digit-run pre-pass serves (the rest run in Hyperscan). */
size_t match_db_prepass_patterns(const struct match_db *db);
/* Whether pattern idx is served by the pre-pass. */
int match_db_pattern_prepass(const struct match_db *db, size_t idx);

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
/* Ends the stream (values ending at its end are delivered) and frees it, or
 * keeps it in s for the next match_stream_open on its database. Accepts
 * NULL. */
void match_stream_close(struct match_stream *st, struct match_scratch *s, match_record_fn fn,
                        void *ud);

/* Block-mode scan of one buffer, same semantics as a stream opened, fed once
 * and closed (for tests and small buffers). */
int match_scan_block(const struct match_db *db, struct match_scratch *s, const uint8_t *data,
                     size_t len, match_record_fn fn, void *ud);

#endif
