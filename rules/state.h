/* state.h - the detection engine's state file: framing and atomic replace.
 *
 * The engine serialises its state into a struct state_buf (little-endian
 * integers, doubles as IEEE bits, length-prefixed strings) and
 * state_save() writes it as one file:
 *
 *   "LHSTATE\n" | u32 version | u32 reserved | u64 payload bytes | u32 CRC-32
 *   of the payload | payload
 *
 * atomically: a temporary file in the same directory, write, fsync,
 * rename over the old file, fsync the directory. A crash or a failed write
 * leaves the previous file as it was and no temporary behind.
 * state_load() checks the magic, version, length and CRC before handing the
 * payload back; the reader (struct state_rd) never reads past the end and
 * remembers that it tried to. Nothing here knows what the payload means.
 * The file holds account names, source addresses, counts, baselines and
 * keyed record fingerprints - never a record. */
#ifndef LH_STATE_H
#define LH_STATE_H

#include <stddef.h>
#include <stdint.h>

#define STATE_VERSION 2 /* 2: anomaly time-of-day shape */
#define STATE_MAX_FILE (1ull << 34) /* 16 GiB: refuse anything larger */

struct state_buf {
    uint8_t *p;
    size_t len, cap;
    int oom; /* an append failed: the buffer must not be saved */
};

void state_buf_init(struct state_buf *b);
void state_buf_free(struct state_buf *b);
void state_put_u8(struct state_buf *b, uint8_t v);
void state_put_u16(struct state_buf *b, uint16_t v);
void state_put_u32(struct state_buf *b, uint32_t v);
void state_put_u64(struct state_buf *b, uint64_t v);
void state_put_f64(struct state_buf *b, double v);
void state_put_bytes(struct state_buf *b, const void *p, size_t n);
void state_put_str(struct state_buf *b, const char *s); /* u16 length + bytes */
/* Reserves n bytes and returns them to fill (NULL on failure, oom set). */
uint8_t *state_put_space(struct state_buf *b, size_t n);

struct state_rd {
    const uint8_t *p;
    size_t len, pos;
    int bad; /* a read ran past the end or met an impossible value */
};

uint8_t state_get_u8(struct state_rd *r);
uint16_t state_get_u16(struct state_rd *r);
uint32_t state_get_u32(struct state_rd *r);
uint64_t state_get_u64(struct state_rd *r);
double state_get_f64(struct state_rd *r);
/* Copies a string into out (NUL-terminated); bad when it does not fit. */
void state_get_str(struct state_rd *r, char *out, size_t outlen);
/* Borrows n bytes; NULL (and bad) when fewer remain. */
const uint8_t *state_get_bytes(struct state_rd *r, size_t n);

/* Writes the buffer as path, atomically. Returns 0, or -1 with err (the old
 * file, if any, is untouched and no temporary file is left). */
int state_save(const char *path, const struct state_buf *b, char *err, size_t errlen);

/* Reads path. Returns 0 with *payload (malloc'd, caller frees) and *len;
 * -ENOENT when there is no file; -EINVAL when it is not a valid state file
 * of this version (err says why); another negative errno when it cannot be
 * read. */
int state_load(const char *path, uint8_t **payload, size_t *len, char *err, size_t errlen);

#endif
