/* mask.c - masked samples of records: what an analyst may see of a value.
 *
 * In: a raw value (any bytes: UTF-8 expected, not trusted) and the rule's
 * mask style. Out: a NUL-terminated, valid UTF-8 string in the caller's
 * buffer, never longer than it. Characters are UTF-8 code points; a byte
 * that does not start a valid sequence counts as one character and, if it
 * is kept, is written as U+FFFD. Kept control characters become '?'.
 *
 * The limits follow GB/T 41833-2022 (REFERENCE.md): at least half of a
 * value's characters are hidden whatever the rule says; an 11-digit number
 * shows at most its first 3 and last 2 digits (138******78); a name shows
 * only its first character; an address shows only its administrative part.
 * docs/matching.md ("Masking") has the address rule. */
#include "output/mask.h"

#include <stdbool.h>
#include <string.h>

/* Length of the character at v[i] (1-4), and whether it is valid UTF-8
 * (shortest form, no surrogates, at most U+10FFFF). */
static size_t char_len(const uint8_t *v, size_t len, size_t i, bool *valid, unsigned long *cp)
{
    uint8_t c = v[i];
    *valid = false;
    *cp = c;
    if (c < 0x80) {
        *valid = true;
        return 1;
    }
    size_t n;
    unsigned long x, min;
    if ((c & 0xe0) == 0xc0)
        n = 2, x = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        n = 3, x = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        n = 4, x = c & 0x07, min = 0x10000;
    else
        return 1;
    if (len - i < n) return 1;
    for (size_t k = 1; k < n; k++) {
        if ((v[i + k] & 0xc0) != 0x80) return 1;
        x = x << 6 | (v[i + k] & 0x3f);
    }
    if (x < min || x > 0x10ffff || (x >= 0xd800 && x <= 0xdfff)) return 1;
    *valid = true;
    *cp = x;
    return n;
}

static size_t count_chars(const uint8_t *v, size_t len)
{
    size_t n = 0;
    bool ok;
    unsigned long cp;
    for (size_t i = 0; i < len; n++)
        i += char_len(v, len, i, &ok, &cp);
    return n;
}

/* Output that never overruns and never ends inside a character: a piece
 * that does not fit whole ends the output. */
struct out {
    char *p;
    size_t cap, len; /* cap excludes the NUL */
    bool full;
};

static void put(struct out *o, const void *b, size_t n)
{
    if (o->full || n > o->cap - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, b, n);
    o->len += n;
}

static void put_stars(struct out *o, size_t n)
{
    for (size_t i = 0; i < n && !o->full; i++)
        put(o, "*", 1);
}

/* Writes characters [from, to) of v as they are (sanitised). */
static void put_chars(struct out *o, const uint8_t *v, size_t len, size_t from, size_t to)
{
    size_t i = 0, n = 0;
    bool ok;
    unsigned long cp;
    while (i < len && n < to) {
        size_t cl = char_len(v, len, i, &ok, &cp);
        if (n >= from) {
            if (!ok)
                put(o, "\xef\xbf\xbd", 3);
            else if (cp < 0x20 || cp == 0x7f)
                put(o, "?", 1);
            else
                put(o, v + i, cl);
        }
        i += cl;
        n++;
    }
}

static bool eleven_digits(const uint8_t *v, size_t len)
{
    if (len != 11) return false;
    for (size_t i = 0; i < len; i++)
        if (v[i] < '0' || v[i] > '9') return false;
    return true;
}

static void mask_keep(struct out *o, unsigned kf, unsigned kl, const uint8_t *v, size_t len)
{
    size_t n = count_chars(v, len);
    size_t f = kf, l = kl;
    if (eleven_digits(v, len)) {
        if (f > 3) f = 3;
        if (l > 2) l = 2;
    }
    while (f + l > n / 2) {
        if (f > l)
            f--;
        else
            l--;
    }
    put_chars(o, v, len, 0, f);
    put_stars(o, n - f - l);
    put_chars(o, v, len, n - l, n);
}

static bool district_marker(unsigned long cp)
{
    /* 区 县 市 旗 */
    return cp == 0x533A || cp == 0x53BF || cp == 0x5E02 || cp == 0x65D7;
}

/* Where a house number, building, unit or room can begin: nothing from here
 * on may be kept. */
static bool detail_start(unsigned long cp)
{
    return (cp >= '0' && cp <= '9') || (cp >= 0xFF10 && cp <= 0xFF19) || cp == 0x53F7 /* 号 */;
}

/* The administrative part: up to and including the last 区/县/市/旗 before
 * any digit or 号; without one, the first 6 characters (at most half, and
 * none from a digit on). At least one character is always hidden. */
static void mask_address(struct out *o, const uint8_t *v, size_t len)
{
    size_t n = 0, cut = 0, stop = 0;
    bool stopped = false, ok;
    unsigned long cp;
    for (size_t i = 0; i < len; n++) {
        i += char_len(v, len, i, &ok, &cp);
        if (stopped) continue;
        if (ok && detail_start(cp)) {
            stopped = true;
            stop = n;
        } else if (ok && district_marker(cp)) {
            cut = n + 1;
        }
    }
    if (!stopped) stop = n;
    if (cut == 0) {
        cut = 6;
        if (cut > n / 2) cut = n / 2;
        if (cut > stop) cut = stop;
    }
    if (cut >= n) cut = n ? n - 1 : 0;
    put_chars(o, v, len, 0, cut);
    put(o, "***", 3);
}

size_t mask_value(enum mask_style style, unsigned keep_first, unsigned keep_last, const uint8_t *v,
                  size_t len, char *out, size_t outlen)
{
    if (!out || outlen == 0) return 0;
    struct out o = {out, outlen - 1, 0, false};
    if (!v) len = 0;
    if (len) {
        switch (style) {
        case MASK_KEEP:
            mask_keep(&o, keep_first, keep_last, v, len);
            break;
        case MASK_NAME: {
            size_t n = count_chars(v, len);
            size_t keep = n > 1 ? 1 : 0;
            put_chars(&o, v, len, 0, keep);
            put_stars(&o, n - keep);
            break;
        }
        case MASK_ADDRESS:
            mask_address(&o, v, len);
            break;
        case MASK_FULL:
        default: {
            size_t n = count_chars(v, len);
            put_stars(&o, n < 8 ? n : 8);
            break;
        }
        }
    }
    out[o.len] = 0;
    return o.len;
}
