/* charset.c - GBK/GB2312/GB18030 bodies to UTF-8, streamed (charset.h).
 *
 * Owns an iconv(3) descriptor (glibc's GB18030 converter) and a 16 KiB
 * output buffer per struct charset, made once per thread. Input enters by
 * charset_feed() with the body's carry (a character cut by the end of the
 * last piece); UTF-8 leaves through the caller's sink, in pieces of at most
 * 16 KiB. charset_of(), charset_sniff_html() and charset_guess() decide,
 * from the Content-Type, a page's head or the first bytes, which bodies
 * are GBK. */
#include "parsers/charset.h"

#include <errno.h>
#include <stdbool.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OUT_CHUNK 16384

struct charset {
    iconv_t cd;
    uint8_t out[OUT_CHUNK];
};

/* Is v[0..n) one of the names of GB18030 and its subsets? */
static enum charset_kind gb_name(const char *v, size_t n)
{
    static const struct {
        const char *name;
        size_t len;
    } gb[] = {{"gbk", 3},   {"gb2312", 6},      {"gb18030", 7}, {"x-gbk", 5},
              {"cp936", 5}, {"windows-936", 11}, {"euc-cn", 6}};
    char c0 = (char)(n ? v[0] | 0x20 : 0); /* utf-8, the usual one, turned away at once */
    if (c0 != 'g' && c0 != 'x' && c0 != 'c' && c0 != 'w' && c0 != 'e')
        return CHARSET_OTHER;
    for (size_t k = 0; k < sizeof(gb) / sizeof(gb[0]); k++)
        if (n == gb[k].len && strncasecmp(v, gb[k].name, n) == 0)
            return CHARSET_GB18030;
    return CHARSET_OTHER;
}

/* The value after "charset" at p (blanks, '=', blanks, an optional quote),
 * up to a quote, ';', '>', '/' or a blank: what it names. */
static enum charset_kind charset_value(const char *p, const char *end)
{
    const char *v = p + 7;
    while (v < end && *v == ' ')
        v++;
    if (v == end || *v++ != '=')
        return CHARSET_OTHER;
    while (v < end && (*v == ' ' || *v == '"' || *v == '\''))
        v++;
    size_t n = 0;
    while (v + n < end && v[n] != '"' && v[n] != '\'' && v[n] != ';' && v[n] != ' ' &&
           v[n] != '\t' && v[n] != '>' && v[n] != '/')
        n++;
    return gb_name(v, n);
}

enum charset_kind charset_of(const char *ct, size_t len)
{
    static const struct {
        const char *type;
        size_t len;
    } files[] = {{"text/csv", 8},     {"text/plain", 10},
                 {"application/csv", 15}, {"application/vnd.ms-excel", 24},
                 {"application/octet-stream", 24}};
    if (!ct)
        return CHARSET_NONE;
    const char *end = ct + len;
    for (const char *p = ct; (p = memchr(p, ';', (size_t)(end - p))) != NULL;) {
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 8 || (*p | 0x20) != 'c' || strncasecmp(p, "charset", 7) != 0)
            continue;
        return charset_value(p, end);
    }
    while (ct < end && *ct == ' ')
        ct++;
    size_t tl = 0; /* the media type, up to its parameters */
    while (ct + tl < end && ct[tl] != ';' && ct[tl] != ' ')
        tl++;
    if (tl >= 4 && strncasecmp(ct + tl - 4, "json", 4) == 0)
        return CHARSET_OTHER;
    for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++)
        if (tl == files[k].len && strncasecmp(ct, files[k].type, tl) == 0)
            return CHARSET_GUESS;
    return CHARSET_NONE;
}

/* Length of the well-formed UTF-8 sequence at d (n bytes there), 0 if it
 * is not one, or SIZE_MAX if it is cut by the end. */
static size_t utf8_len(const uint8_t *d, size_t n)
{
    uint8_t c = d[0];
    size_t need = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!need)
        return 0;
    for (size_t k = 1; k < need; k++) {
        if (k >= n)
            return SIZE_MAX;
        if ((d[k] & 0xc0) != 0x80)
            return 0;
    }
    return need;
}

/* The same for a GB18030 character. */
static size_t gb_len(const uint8_t *d, size_t n)
{
    uint8_t c = d[0];
    if (c < 0x80)
        return 1;
    if (c == 0x80 || c == 0xff)
        return 0;
    if (n < 2)
        return SIZE_MAX;
    if ((d[1] >= 0x40 && d[1] <= 0x7e) || (d[1] >= 0x80 && d[1] <= 0xfe))
        return 2;
    if (d[1] < 0x30 || d[1] > 0x39)
        return 0;
    if (n < 4)
        return SIZE_MAX;
    return d[2] >= 0x81 && d[2] <= 0xfe && d[3] >= 0x30 && d[3] <= 0x39 ? 4 : 0;
}

enum charset_kind charset_guess(const uint8_t *d, size_t len)
{
    size_t n = len < 4096 ? len : 4096, high = 0;
    bool utf8 = true;
    for (size_t i = 0; i < n;) {
        if (d[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_len(d + i, n - i);
        if (l == SIZE_MAX)
            break; /* cut by the end: UTF-8 so far */
        if (!l) {
            utf8 = false;
            break;
        }
        i += l;
    }
    if (utf8)
        return CHARSET_OTHER;
    high = 0;
    for (size_t i = 0; i < n;) {
        size_t l = gb_len(d + i, n - i);
        if (l == SIZE_MAX)
            break;
        if (!l)
            return CHARSET_OTHER;
        high += l > 1;
        i += l;
    }
    return high >= 4 ? CHARSET_GB18030 : CHARSET_OTHER; /* 4 characters: 8 bytes or more */
}

enum charset_kind charset_sniff_html(const uint8_t *d, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(d, "\xef\xbb\xbf", 3) == 0)
        return CHARSET_OTHER; /* a UTF-8 byte order mark says it all */
    while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
        i++;
    if (i == len || d[i] != '<')
        return CHARSET_OTHER; /* JSON, CSV, text: not a page */
    const char *s = (const char *)d, *end = s + (len < 1024 ? len : 1024);
    for (const char *p = s + i; p + 8 <= end; p++) {
        if ((*p | 0x20) != 'c' || strncasecmp(p, "charset", 7) != 0)
            continue;
        enum charset_kind k = charset_value(p, end); /* the first decides */
        return k == CHARSET_GB18030 ? k : CHARSET_OTHER;
    }
    return CHARSET_OTHER;
}

struct charset *charset_new(void)
{
    struct charset *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    c->cd = iconv_open("UTF-8", "GB18030");
    if (c->cd == (iconv_t)-1) {
        free(c);
        return NULL;
    }
    return c;
}

void charset_free(struct charset *c)
{
    if (!c)
        return;
    iconv_close(c->cd);
    free(c);
}

/* Converts what it can of in; returns the bytes used. It stops short only
 * at a character cut by the end (at most 3 bytes left). A byte that is not
 * GB18030 goes on as it is and counts in *bad. */
static size_t run(struct charset *c, const uint8_t *in, size_t len, uint64_t *bad,
                  charset_sink sink, void *ud)
{
    char *ip = (char *)(uintptr_t)in;
    size_t il = len;
    while (il) {
        char *op = (char *)c->out;
        size_t ol = OUT_CHUNK;
        size_t r = iconv(c->cd, &ip, &il, &op, &ol);
        int err = errno;
        if (ol < OUT_CHUNK)
            sink(ud, c->out, OUT_CHUNK - ol);
        if (r != (size_t)-1)
            break;
        if (err == E2BIG)
            continue;
        if (err == EINVAL)
            break; /* cut at the end: the caller carries it */
        sink(ud, (const uint8_t *)ip, 1); /* EILSEQ: as it is */
        ip++;
        il--;
        (*bad)++;
        iconv(c->cd, NULL, NULL, NULL, NULL);
    }
    return len - il;
}

uint64_t charset_feed(struct charset *c, struct charset_carry *cr, const uint8_t *in, size_t len,
                      charset_sink sink, void *ud)
{
    uint64_t bad = 0;
    size_t i = 0;
    if (cr->n) {
        /* the carried bytes and enough of in to end their character */
        uint8_t tmp[sizeof(cr->b) + 4];
        size_t n = cr->n, take = len < 4 ? len : 4;
        memcpy(tmp, cr->b, n);
        memcpy(tmp + n, in, take);
        size_t used = run(c, tmp, n + take, &bad, sink, ud);
        if (used < n) { /* still cut: in was too short to end it */
            cr->n = (uint8_t)(n + take);
            memcpy(cr->b, tmp, cr->n);
            return bad;
        }
        i = used - n;
        cr->n = 0;
    }
    i += run(c, in + i, len - i, &bad, sink, ud);
    if (i < len) { /* a character cut by the end: at most 3 bytes */
        cr->n = (uint8_t)(len - i);
        memcpy(cr->b, in + i, cr->n);
    }
    return bad;
}

void charset_end(struct charset_carry *cr, charset_sink sink, void *ud)
{
    if (cr->n)
        sink(ud, cr->b, cr->n);
    cr->n = 0;
}
