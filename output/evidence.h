/* evidence.h - evidence captures for alerted accounts.
 *
 * When an alert fires, the detection engine asks for an evidence file for
 * the account (evidence_start); from then on, the worker hands every packet
 * of that account's flows to evidence_packet(). Files are classic pcap with
 * link type RAW (the IP datagram as the sensor saw it, after
 * defragmentation), one per account episode, written under the evidence
 * directory (created 0700: evidence holds raw traffic by nature).
 *
 * Caps: bytes per file, files in the directory (the oldest are deleted past
 * it), bytes of all files together (writing stops and is counted past it),
 * files open at once (least recently written closed, reopened to append).
 * Every cap hit is counted in struct evidence_stats. */
#ifndef LH_EVIDENCE_H
#define LH_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

struct evidence_config {
    const char *dir;          /* NULL: no evidence */
    uint64_t max_bytes;       /* all files, default 1 GiB */
    uint64_t max_file_bytes;  /* one file, default 64 MiB */
    uint32_t max_files;       /* files kept, default 1000 */
    uint32_t max_open;        /* open at once, default 32 */
};

struct evidence_stats {
    uint64_t files, packets, bytes;
    uint64_t file_cap_hit, total_cap_hit, files_deleted, errors;
};

struct evidence;

/* Creates the directory (0700); cfg is copied. NULL with err. */
struct evidence *evidence_new(const struct evidence_config *cfg, char *err, size_t errlen);
void evidence_free(struct evidence *e); /* closes every file; accepts NULL */
const struct evidence_stats *evidence_get_stats(const struct evidence *e);

/* Starts (or continues) the evidence file of account for an alert of rule at
 * packet time ts_us. Returns the file's path relative to the output
 * directory's parent as given in cfg->dir (borrowed until the next call), or
 * NULL when evidence cannot be kept (counted). */
const char *evidence_start(struct evidence *e, const char *account, const char *rule,
                           uint64_t ts_us);

/* Is evidence being kept for account? Thread-safe, like every call here. */
int evidence_active(struct evidence *e, const char *account);

/* A number that changes whenever an account starts being kept: a worker
 * caches evidence_active() per flow and asks again only when it changed.
 * 0 for NULL. */
uint64_t evidence_generation(const struct evidence *e);

/* Writes one IP datagram of account's traffic. Can't fail: caps and errors
 * are counted. */
void evidence_packet(struct evidence *e, const char *account, uint64_t ts_us, const uint8_t *l3,
                     uint32_t len, uint32_t wirelen);

#endif
