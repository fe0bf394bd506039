/* zip.c - the members of a ZIP archive read from a byte stream (zip.h).
 *
 * Owns one zlib raw-inflate stream and a 16 KiB output buffer. Bytes enter
 * by zip_feed() in pieces of any size; a byte-driven state machine reads
 * each local file header (kept in a 30-byte buffer, plus the first bytes
 * of its extra field for ZIP64 sizes), inflates or copies the member's
 * data into the sink given to zip_new(), and then looks, within the few
 * bytes a data descriptor takes, for the next header. Nothing else is
 * buffered. */
#define ZLIB_CONST
#include "parsers/zip.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define HDR_LEN 30
#define EXTRA_KEEP 64  /* bytes of a header's extra field read (ZIP64 sizes) */
#define SEEK_MAX 28    /* a data descriptor: signature, CRC, two 8-byte sizes */
#define OUT_CHUNK 16384

enum state { S_HDR, S_NAME, S_DEFLATE, S_STORED, S_SKIP, S_SEEK };

struct zip {
    struct zip_config cfg;
    zip_sink sink;
    void *ud;
    enum zip_status status;
    enum state st;
    uint8_t hdr[HDR_LEN];
    uint32_t hlen;
    uint16_t flags, method;
    uint64_t csize;        /* compressed size from the header (or its ZIP64 extra) */
    uint32_t name_left;    /* S_NAME: name bytes still to pass */
    uint32_t extra_len, extra_have;
    uint8_t extra[EXTRA_KEEP];
    uint64_t left;         /* S_STORED, S_SKIP: data bytes still to come */
    uint32_t seek;         /* S_SEEK: bytes looked at */
    uint8_t seen[SEEK_MAX]; /* S_SEEK: those bytes, handed on raw if no header comes */
    uint32_t window;       /* S_SEEK: the last four bytes, little-endian */
    bool zinit;
    z_stream zs;
    uint64_t in_total, out_total;
    struct zip_stats stats;
    uint8_t out[OUT_CHUNK];
};

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

bool zip_magic(const uint8_t *d, size_t len)
{
    return len >= 4 && le32(d) == SIG_LOCAL;
}

struct zip *zip_new(const struct zip_config *cfg, zip_sink sink, void *ud)
{
    if (!sink) return NULL;
    struct zip *z = malloc(sizeof(*z));
    if (!z) return NULL;
    memset(z, 0, offsetof(struct zip, out)); /* the output buffer is written before read */
    if (cfg) z->cfg = *cfg;
    z->sink = sink;
    z->ud = ud;
    return z;
}

/* Hands on n decoded bytes within the caps; false once a cap is reached. */
static bool emit(struct zip *z, const uint8_t *d, size_t n)
{
    size_t give = n;
    if (z->cfg.max_out && z->out_total + give > z->cfg.max_out)
        give = (size_t)(z->cfg.max_out - z->out_total);
    if (z->cfg.max_ratio && z->in_total <= UINT64_MAX / z->cfg.max_ratio) {
        uint64_t lim = z->in_total * z->cfg.max_ratio;
        uint64_t room = lim > z->out_total ? lim - z->out_total : 0;
        if (give > room) give = (size_t)room;
    }
    if (give) {
        z->sink(z->ud, d, give);
        z->out_total += give;
    }
    if (give < n) {
        z->status = ZIP_CAP;
        return false;
    }
    return true;
}

/* A member's data is over: look for the next header. */
static void seek_next(struct zip *z)
{
    z->st = S_SEEK;
    z->seek = 0;
    z->window = 0;
}

/* A member ended: a newline keeps values of two members apart. */
static void member_end(struct zip *z)
{
    (void)emit(z, (const uint8_t *)"\n", 1);
    seek_next(z);
}

/* The header and its extra field are read: decide how the data is read. */
static void member_start(struct zip *z)
{
    bool sized = !(z->flags & 8);
    if (z->csize == 0xffffffffu) {
        sized = false; /* ZIP64: the real size is in the extra field, if it was kept */
        for (uint32_t i = 0; i + 4 <= z->extra_have;) {
            uint16_t id = le16(z->extra + i), len = le16(z->extra + i + 2);
            if (id == 0x0001 && len >= 16 && i + 4 + 16 <= z->extra_have) {
                z->csize = le64(z->extra + i + 4 + 8);
                sized = true;
                break;
            }
            i += 4u + len;
        }
    }
    bool encrypted = z->flags & 1;
    if (!encrypted && (z->method == 8 || z->method == 0)) {
        if (z->cfg.max_members && z->stats.members >= z->cfg.max_members) {
            z->status = ZIP_CAP;
            return;
        }
        z->stats.members++;
        if (z->method == 8) {
            if (!z->zinit) {
                if (inflateInit2(&z->zs, -MAX_WBITS) != Z_OK) {
                    z->status = ZIP_UNREADABLE;
                    return;
                }
                z->zinit = true;
            } else if (inflateReset(&z->zs) != Z_OK) {
                z->status = ZIP_UNREADABLE;
                return;
            }
            z->st = S_DEFLATE;
            return;
        }
        if (!sized) { /* stored, its size only after it: nothing says where it ends */
            z->status = ZIP_UNREADABLE;
            return;
        }
        z->left = z->csize;
        z->st = S_STORED;
        if (!z->left) member_end(z);
        return;
    }
    z->stats.skipped++;
    if (!sized) {
        z->status = ZIP_UNREADABLE;
        return;
    }
    z->left = z->csize;
    z->st = S_SKIP;
    if (!z->left) seek_next(z);
}

/* Reads what it can of in; returns the bytes used (each counted in
 * in_total as it is taken, before the output it makes, for the ratio cap).
 * Stops early when the status is no longer ZIP_OK. */
static size_t step(struct zip *z, const uint8_t *in, size_t len)
{
    size_t i = 0;
    while (i < len && z->status == ZIP_OK) {
        switch (z->st) {
        case S_HDR: {
            size_t n = HDR_LEN - z->hlen < len - i ? HDR_LEN - z->hlen : len - i;
            memcpy(z->hdr + z->hlen, in + i, n);
            z->hlen += (uint32_t)n;
            i += n;
            z->in_total += n;
            if (z->hlen < HDR_LEN) break;
            if (le32(z->hdr) != SIG_LOCAL) { /* the first header, if it was not one */
                z->status = ZIP_FAILED;
                z->sink(z->ud, z->hdr, HDR_LEN);
                return i;
            }
            z->flags = le16(z->hdr + 6);
            z->method = le16(z->hdr + 8);
            z->csize = le32(z->hdr + 18);
            z->name_left = le16(z->hdr + 26);
            z->extra_len = le16(z->hdr + 28);
            z->extra_have = 0;
            z->st = S_NAME;
            if (!z->name_left && !z->extra_len) member_start(z);
            break;
        }
        case S_NAME: {
            if (z->name_left) {
                size_t n = z->name_left < len - i ? z->name_left : len - i;
                z->name_left -= (uint32_t)n;
                i += n;
                z->in_total += n;
                if (z->name_left) break;
            }
            size_t n = z->extra_len < len - i ? z->extra_len : len - i;
            for (size_t k = 0; k < n; k++)
                if (z->extra_have < EXTRA_KEEP) z->extra[z->extra_have++] = in[i + k];
            z->extra_len -= (uint32_t)n;
            i += n;
            z->in_total += n;
            if (!z->extra_len) member_start(z);
            break;
        }
        case S_DEFLATE: {
            size_t avail = len - i > UINT_MAX ? UINT_MAX : len - i;
            z->zs.next_in = in + i;
            z->zs.avail_in = (uInt)avail;
            int r;
            do { /* a full output buffer may hide more: drain it */
                uInt before = z->zs.avail_in;
                z->zs.next_out = z->out;
                z->zs.avail_out = OUT_CHUNK;
                r = inflate(&z->zs, Z_NO_FLUSH);
                size_t used = before - z->zs.avail_in;
                i += used;
                z->in_total += used;
                size_t got = OUT_CHUNK - z->zs.avail_out;
                if (got && !emit(z, z->out, got)) return i;
                if (r == Z_STREAM_END) {
                    member_end(z);
                    break;
                }
                if (r != Z_OK && r != Z_BUF_ERROR) {
                    z->status = ZIP_FAILED;
                    return i;
                }
            } while (z->zs.avail_out == 0);
            if (r != Z_STREAM_END && z->zs.avail_in) return i; /* cannot happen: all taken */
            break;
        }
        case S_STORED: {
            size_t n = z->left < len - i ? (size_t)z->left : len - i;
            z->in_total += n; /* before emit: the ratio counts what came in */
            i += n;
            z->left -= n;
            if (!emit(z, in + i - n, n)) return i;
            if (!z->left) member_end(z);
            break;
        }
        case S_SKIP: {
            size_t n = z->left < len - i ? (size_t)z->left : len - i;
            i += n;
            z->in_total += n;
            z->left -= n;
            if (!z->left) seek_next(z);
            break;
        }
        case S_SEEK: {
            /* the next signature, within what a data descriptor takes */
            z->window = z->window >> 8 | (uint32_t)in[i] << 24;
            z->seen[z->seek] = in[i];
            i++;
            z->in_total++;
            z->seek++;
            if (z->seek >= 4 && z->window == SIG_LOCAL) {
                z->hdr[0] = 'P';
                z->hdr[1] = 'K';
                z->hdr[2] = 3;
                z->hdr[3] = 4;
                z->hlen = 4;
                z->st = S_HDR;
            } else if (z->seek >= 4 && (z->window == SIG_CENTRAL || z->window == SIG_END ||
                                        z->window == SIG_END64)) {
                z->status = ZIP_DONE; /* zip_feed hands on what follows */
                return i;
            } else if (z->seek >= SEEK_MAX) {
                /* no ZIP any more: nothing is lost, what was looked at goes on raw */
                z->status = ZIP_FAILED;
                z->sink(z->ud, z->seen, z->seek);
                return i;
            }
            break;
        }
        }
    }
    return i;
}

enum zip_status zip_feed(struct zip *z, const uint8_t *in, size_t len)
{
    if (!z) return ZIP_FAILED;
    if (z->status == ZIP_FAILED || z->status == ZIP_DONE) {
        if (len) z->sink(z->ud, in, len);
        return z->status;
    }
    if (z->status != ZIP_OK || !len) return z->status;
    size_t used = step(z, in, len);
    if ((z->status == ZIP_FAILED || z->status == ZIP_DONE) && used < len)
        z->sink(z->ud, in + used, len - used);
    return z->status;
}

void zip_abandon(struct zip *z)
{
    if (z && z->status == ZIP_OK) z->status = ZIP_FAILED;
}

enum zip_status zip_status(const struct zip *z)
{
    return z ? z->status : ZIP_FAILED;
}

const struct zip_stats *zip_stats(const struct zip *z)
{
    return &z->stats;
}

void zip_free(struct zip *z)
{
    if (!z) return;
    if (z->zinit) inflateEnd(&z->zs);
    free(z);
}
