/* state.c - framing, checksums and atomic replace for the state file.
 *
 * In: a payload buffer built by the engine. Out: a file that is either the
 * old one or the new one, never a mix (temp file + fsync + rename + fsync of
 * the directory). Loading checks magic, version, size and CRC-32 before the
 * payload is handed back, so the engine's parser only meets files this
 * version wrote; it still reads through bounds-checked getters. */
#include "rules/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char magic[8] = {'L', 'H', 'S', 'T', 'A', 'T', 'E', '\n'};
#define HDR_LEN (8 + 4 + 4 + 8 + 4)

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) { /* idempotent: racing initialisers write the same values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

void state_buf_init(struct state_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void state_buf_free(struct state_buf *b)
{
    free(b->p);
    state_buf_init(b);
}

uint8_t *state_put_space(struct state_buf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->len + n)
            ncap *= 2;
        uint8_t *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return NULL;
        }
        b->p = np;
        b->cap = ncap;
    }
    uint8_t *out = b->p + b->len;
    b->len += n;
    return out;
}

static void put_le(struct state_buf *b, uint64_t v, int n)
{
    uint8_t *p = state_put_space(b, (size_t)n);
    if (p)
        for (int i = 0; i < n; i++)
            p[i] = (uint8_t)(v >> (8 * i));
}

void state_put_u8(struct state_buf *b, uint8_t v) { put_le(b, v, 1); }
void state_put_u16(struct state_buf *b, uint16_t v) { put_le(b, v, 2); }
void state_put_u32(struct state_buf *b, uint32_t v) { put_le(b, v, 4); }
void state_put_u64(struct state_buf *b, uint64_t v) { put_le(b, v, 8); }

void state_put_f64(struct state_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_le(b, u, 8);
}

void state_put_bytes(struct state_buf *b, const void *p, size_t n)
{
    uint8_t *d = state_put_space(b, n);
    if (d && n)
        memcpy(d, p, n);
}

void state_put_str(struct state_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > UINT16_MAX)
        n = UINT16_MAX;
    state_put_u16(b, (uint16_t)n);
    state_put_bytes(b, s, n);
}

const uint8_t *state_get_bytes(struct state_rd *r, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint64_t get_le(struct state_rd *r, int n)
{
    const uint8_t *p = state_get_bytes(r, (size_t)n);
    uint64_t v = 0;
    if (p)
        for (int i = 0; i < n; i++)
            v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint8_t state_get_u8(struct state_rd *r) { return (uint8_t)get_le(r, 1); }
uint16_t state_get_u16(struct state_rd *r) { return (uint16_t)get_le(r, 2); }
uint32_t state_get_u32(struct state_rd *r) { return (uint32_t)get_le(r, 4); }
uint64_t state_get_u64(struct state_rd *r) { return get_le(r, 8); }

double state_get_f64(struct state_rd *r)
{
    uint64_t u = get_le(r, 8);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

void state_get_str(struct state_rd *r, char *out, size_t outlen)
{
    uint16_t n = state_get_u16(r);
    const uint8_t *p = state_get_bytes(r, n);
    if (!p || n >= outlen || memchr(p, 0, n)) {
        r->bad = 1;
        if (outlen)
            out[0] = 0;
        return;
    }
    memcpy(out, p, n);
    out[n] = 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int state_save(const char *path, const struct state_buf *b, char *err, size_t errlen)
{
    if (b->oom) {
        snprintf(err, errlen, "%s: out of memory building the state", path);
        return -1;
    }
    char tmp[4096], dir[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");

    uint8_t hdr[HDR_LEN];
    memcpy(hdr, magic, 8);
    uint32_t ver = STATE_VERSION, crc = crc32_ieee(b->p, b->len);
    uint64_t len = b->len;
    for (int i = 0; i < 4; i++) {
        hdr[8 + i] = (uint8_t)(ver >> (8 * i));
        hdr[12 + i] = 0;
        hdr[24 + i] = (uint8_t)(crc >> (8 * i));
    }
    for (int i = 0; i < 8; i++)
        hdr[16 + i] = (uint8_t)(len >> (8 * i));

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        return -1;
    }
    const char *what = "write";
    if (write_all(fd, hdr, sizeof hdr) < 0 || write_all(fd, b->p, b->len) < 0)
        goto fail;
    what = "fsync";
    if (fsync(fd) < 0)
        goto fail;
    what = "close";
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    what = "rename";
    if (rename(tmp, path) < 0)
        goto fail;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        /* the rename is done; a failed directory fsync only weakens durability */
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
fail:;
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    snprintf(err, errlen, "%s: %s failed: %s (previous state kept)", path, what, strerror(e));
    return -1;
}

int state_load(const char *path, uint8_t **payload, size_t *plen, char *err, size_t errlen)
{
    *payload = NULL;
    *plen = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    uint8_t hdr[HDR_LEN];
    ssize_t got = read(fd, hdr, sizeof hdr);
    if (got != (ssize_t)sizeof hdr || memcmp(hdr, magic, 8) != 0) {
        close(fd);
        snprintf(err, errlen, "%s: not a leakhound state file", path);
        return -EINVAL;
    }
    uint32_t ver = 0, crc = 0;
    uint64_t len = 0;
    for (int i = 0; i < 4; i++) {
        ver |= (uint32_t)hdr[8 + i] << (8 * i);
        crc |= (uint32_t)hdr[24 + i] << (8 * i);
    }
    for (int i = 0; i < 8; i++)
        len |= (uint64_t)hdr[16 + i] << (8 * i);
    if (ver != STATE_VERSION) {
        close(fd);
        snprintf(err, errlen, "%s: state version %u, this sensor reads version %u", path, ver,
                 STATE_VERSION);
        return -EINVAL;
    }
    if (len > STATE_MAX_FILE || (uint64_t)st.st_size != HDR_LEN + len) {
        close(fd);
        snprintf(err, errlen, "%s: truncated or oversized (%lld bytes, header says %llu)", path,
                 (long long)st.st_size, (unsigned long long)(HDR_LEN + len));
        return -EINVAL;
    }
    uint8_t *p = malloc(len ? len : 1);
    if (!p) {
        close(fd);
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t r = read(fd, p + off, len - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EINVAL;
            free(p);
            close(fd);
            snprintf(err, errlen, "%s: read failed: %s", path, r < 0 ? strerror(e) : "short");
            return r < 0 ? -e : -EINVAL;
        }
        off += (size_t)r;
    }
    close(fd);
    if (crc32_ieee(p, len) != crc) {
        free(p);
        snprintf(err, errlen, "%s: checksum mismatch (corrupt)", path);
        return -EINVAL;
    }
    *payload = p;
    *plen = len;
    return 0;
}
