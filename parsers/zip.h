/* zip.h - the members of a ZIP archive (an .xlsx or .docx export, a .zip)
 * read from a byte stream as it arrives, their contents handed on
 * decompressed (APPNOTE.TXT 4.3: local file headers, stored or deflated
 * data, data descriptors).
 *
 * Archive bytes enter by zip_feed() in order, split anywhere; each member's
 * content leaves through the sink given to zip_new(), a newline between
 * members so that no value is read across two of them. The central
 * directory at the end is not needed and not read: a member is taken from
 * its local header, and a deflated member ends where its deflate stream
 * does, so archives written by streaming tools (sizes in a data
 * descriptor after the data) are read like any other. The central
 * directory ends the archive (ZIP_DONE); it and whatever follows it (the
 * rest of a multipart body, say) are handed on as they are. A member that
 * is encrypted or compressed by another method is skipped when its size is
 * in its header; otherwise the archive stops there (ZIP_UNREADABLE).
 *
 * Caps: total output (max_out, 0 none), output per input byte (max_ratio,
 * 0 none) and members (max_members, 0 none); past one, nothing more is
 * handed on (ZIP_CAP). Input that is not a ZIP where a header should be
 * ends the archive (ZIP_FAILED) and is handed on as it is, like the rest of
 * the input after it, so nothing is lost to a stream that only looked like
 * an archive. Memory: sizeof(struct zip) + zlib's inflate state (~40 KiB),
 * freed by zip_free(). One decoder per body; not thread-safe. */
#ifndef LH_ZIP_H
#define LH_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum zip_status {
    ZIP_OK = 0,
    ZIP_DONE,       /* the central directory came: what follows is handed on raw */
    ZIP_FAILED,     /* not a ZIP where a header should be, or corrupt deflate: raw from there */
    ZIP_UNREADABLE, /* a member of unknown size that cannot be decoded: nothing more */
    ZIP_CAP,        /* max_out, max_ratio or max_members reached: nothing more */
};

struct zip_config {
    uint64_t max_out;     /* decompressed bytes in all, 0 none */
    uint32_t max_ratio;   /* output per wire byte, 0 none */
    uint32_t max_members; /* 0 none */
};

struct zip_stats {
    uint64_t members;   /* members whose content was handed on */
    uint64_t skipped;   /* members skipped: encrypted or another method */
};

typedef void (*zip_sink)(void *ud, const uint8_t *data, size_t len);

struct zip;

/* Does d start like a ZIP archive (a local file header's signature)? */
bool zip_magic(const uint8_t *d, size_t len);

/* NULL on ENOMEM. */
struct zip *zip_new(const struct zip_config *cfg, zip_sink sink, void *ud);
/* Reads len bytes; returns the status after them. Once not ZIP_OK it stays
 * so; after ZIP_FAILED or ZIP_DONE later input is handed on raw,
 * otherwise dropped. */
enum zip_status zip_feed(struct zip *z, const uint8_t *in, size_t len);
/* The input had a hole: nothing more can be decoded (ZIP_FAILED, raw). */
void zip_abandon(struct zip *z);
enum zip_status zip_status(const struct zip *z);
const struct zip_stats *zip_stats(const struct zip *z);
/* Accepts NULL. */
void zip_free(struct zip *z);

#endif
