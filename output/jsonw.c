/* jsonw.c - JSON text straight into a capped buffer, byte for byte as
 * jansson's compact dump would write it (output/jsonw.h).
 *
 * Values come in one call each; text goes out into the caller's buffer and
 * nowhere else. Invariant: len <= cap always; after the first overflow
 * nothing more is written. Plain runs of a string are found eight bytes a
 * step and copied with one memcpy; only escapes and non-ASCII bytes are
 * looked at one by one. */
#include "output/jsonw.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void jsonw_init(struct jsonw *w, char *buf, size_t cap)
{
    *w = (struct jsonw){buf, 0, cap, 0, 0, 0};
}

static void put(struct jsonw *w, const void *p, size_t n)
{
    if (w->overflow) return;
    if (n > w->cap - w->len) {
        w->overflow = 1;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put_c(struct jsonw *w, char c)
{
    if (w->overflow) return;
    if (w->len == w->cap) {
        w->overflow = 1;
        return;
    }
    w->buf[w->len++] = c;
}

/* Before a value or a member: the separator from the previous one. */
static void sep(struct jsonw *w)
{
    if (w->comma) put_c(w, ',');
    w->comma = 1;
}

void jsonw_obj_begin(struct jsonw *w)
{
    sep(w);
    put_c(w, '{');
    w->comma = 0;
}

void jsonw_obj_end(struct jsonw *w)
{
    put_c(w, '}');
    w->comma = 1;
}

void jsonw_arr_begin(struct jsonw *w)
{
    sep(w);
    put_c(w, '[');
    w->comma = 0;
}

void jsonw_arr_end(struct jsonw *w)
{
    put_c(w, ']');
    w->comma = 1;
}

/* Length of the well-formed UTF-8 sequence at u[0..avail), 0 if there is
 * none (the same rule as jansson's decoder and eve.c's sanitiser: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *u, size_t avail)
{
    size_t n = u[0] < 0x80                    ? 1
               : u[0] >= 0xc2 && u[0] <= 0xdf ? 2
               : u[0] >= 0xe0 && u[0] <= 0xef ? 3
               : u[0] >= 0xf0 && u[0] <= 0xf4 ? 4
                                              : 0;
    if (n == 0 || n > avail) return 0;
    for (size_t k = 1; k < n; k++)
        if ((u[k] & 0xc0) != 0x80) return 0;
    if (n == 3 && ((u[0] == 0xe0 && u[1] < 0xa0) || (u[0] == 0xed && u[1] >= 0xa0))) return 0;
    if (n == 4 && ((u[0] == 0xf0 && u[1] < 0x90) || (u[0] == 0xf4 && u[1] >= 0x90))) return 0;
    return n;
}

/* 1 for bytes that are copied as they are */
static const unsigned char plain[256] = {
    [0x20] = 1,
    [0x21] = 1,
    [0x23 ... 0x5b] = 1,
    [0x5d ... 0x7f] = 1,
};

/* 1 when none of the 8 bytes at u needs a look: no control byte, '"', '\\'
 * nor byte >= 0x80 (SWAR tests; a false alarm only costs the byte loop). */
static int plain8(const unsigned char *u)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t x;
    memcpy(&x, u, 8);
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    uint64_t bad = x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b);
    return (bad & high) == 0;
}

/* The quoted, escaped string s[0..n). Returns 0 if some byte was not
 * UTF-8 (and was written as U+FFFD). */
static int quoted(struct jsonw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *u = (const unsigned char *)s;
    int clean = 1;
    put_c(w, '"');
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (n - run >= 8 && plain8(u + run))
            run += 8;
        while (run < n && plain[u[run]])
            run++;
        put(w, u + i, run - i);
        if (run == n || w->overflow) break;
        i = run;
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t k = utf8_seq(u + i, n - i);
            if (k) {
                put(w, u + i, k);
                i += k;
            } else {
                put(w, "\xef\xbf\xbd", 3);
                clean = 0;
                i++;
            }
            continue;
        }
        char e[6] = {'\\', 0, '0', '0', 0, 0};
        size_t el = 2;
        switch (c) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            e[1] = 'u';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            el = 6;
        }
        put(w, e, el);
        i++;
    }
    put_c(w, '"');
    return clean;
}

void jsonw_key(struct jsonw *w, const char *k)
{
    sep(w);
    /* keys are nearly always short plain names: one pass, one copy */
    size_t n = 0;
    while (plain[(unsigned char)k[n]]) /* plain[0] is 0: stops at the end */
        n++;
    if (k[n] == 0 && !w->overflow && n + 3 <= w->cap - w->len) {
        char *o = w->buf + w->len;
        o[0] = '"';
        memcpy(o + 1, k, n);
        o[n + 1] = '"';
        o[n + 2] = ':';
        w->len += n + 3;
        w->comma = 0;
        return;
    }
    if (!quoted(w, k, strlen(k))) w->invalid = 1; /* json_object_set_new() refuses such a key */
    put_c(w, ':');
    w->comma = 0;
}

void jsonw_strn(struct jsonw *w, const char *s, size_t n)
{
    sep(w);
    quoted(w, s, n);
}

void jsonw_str(struct jsonw *w, const char *s)
{
    jsonw_strn(w, s, strlen(s));
}

void jsonw_u64(struct jsonw *w, uint64_t v)
{
    char b[24];
    size_t i = sizeof(b);
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sep(w);
    put(w, b + i, sizeof(b) - i);
}

void jsonw_i64(struct jsonw *w, int64_t v)
{
    if (v >= 0) {
        jsonw_u64(w, (uint64_t)v);
        return;
    }
    uint64_t m = 0 - (uint64_t)v; /* INT64_MIN too */
    char b[24];
    size_t i = sizeof(b);
    do {
        b[--i] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    b[--i] = '-';
    sep(w);
    put(w, b + i, sizeof(b) - i);
}

void jsonw_bool(struct jsonw *w, int v)
{
    sep(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

void jsonw_null(struct jsonw *w)
{
    sep(w);
    put(w, "null", 4);
}

void jsonw_real(struct jsonw *w, double v)
{
    sep(w);
    if (!isfinite(v)) {
        w->invalid = 1; /* json_real() refuses it */
        return;
    }
    char b[48];
    int r = snprintf(b, sizeof(b) - 3, "%.12g", v);
    if (r < 0 || (size_t)r >= sizeof(b) - 3) {
        w->invalid = 1;
        return;
    }
    size_t len = (size_t)r;
    const char *point = localeconv()->decimal_point;
    if (point[0] != '.' && point[0]) {
        char *p = strchr(b, point[0]);
        if (p) *p = '.';
    }
    if (!strchr(b, '.') && !strchr(b, 'e')) {
        memcpy(b + len, ".0", 3);
        len += 2;
    }
    char *start = strchr(b, 'e');
    if (start) {
        /* "1e+20" -> "1e20", "1e-05" -> "1e-5" */
        start++;
        char *end = start + 1;
        if (*start == '-') start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - b) + 1);
            len -= (size_t)(end - start);
        }
    }
    put(w, b, len);
}
