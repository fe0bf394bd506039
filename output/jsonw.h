/* jsonw.h - an allocation-free JSON text writer into a caller's buffer.
 *
 * Writes the same bytes jansson's json_dumps() writes with JSON_COMPACT |
 * JSON_REAL_PRECISION(12) (and JSON_PRESERVE_ORDER: members come out in
 * the order they are written), so a fixed-shape event can skip building a
 * jansson tree. Strings are escaped as jansson escapes them (\" \\ \b \f \n
 * \r \t, other control characters as \u00XX, '/' and UTF-8 kept), after
 * the sensor's sanitising rule: every byte that does not start a
 * well-formed UTF-8 sequence becomes U+FFFD.
 *
 * The caller owns the buffer; nothing is allocated. The writer never writes
 * past cap: when something does not fit, overflow is set, the rest of the
 * event is ignored, and the caller tries a larger buffer or counts the loss.
 * Values jansson would refuse (a key that is not UTF-8, a real that is not
 * finite) set invalid instead of being written; the caller counts the loss.
 * Commas and colons are placed by the writer; keys and values must
 * alternate inside objects (that is the caller's bug otherwise). The
 * writer does not detect duplicate keys: jansson would keep one (the last
 * value, at the first position), so a caller with untrusted keys checks. */
#ifndef LH_JSONW_H
#define LH_JSONW_H

#include <stddef.h>
#include <stdint.h>

struct jsonw {
    char *buf;
    size_t len, cap;
    int overflow; /* something did not fit: buf[0..len) is incomplete */
    int invalid;  /* something jansson would refuse was given */
    int comma;    /* the next member or element needs a ',' before it */
};

/* Starts an empty document in buf[0..cap). No NUL is written. */
void jsonw_init(struct jsonw *w, char *buf, size_t cap);
/* 1 when the text in buf[0..len) is complete and as jansson would write it. */
static inline int jsonw_ok(const struct jsonw *w)
{
    return !w->overflow && !w->invalid;
}

void jsonw_obj_begin(struct jsonw *w);
void jsonw_obj_end(struct jsonw *w);
void jsonw_arr_begin(struct jsonw *w);
void jsonw_arr_end(struct jsonw *w);
/* A member's name (NUL-terminated); the value comes next. */
void jsonw_key(struct jsonw *w, const char *k);
/* String values: s NUL-terminated, or s[0..n) (a NUL inside is \u0000). */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_strn(struct jsonw *w, const char *s, size_t n);
void jsonw_i64(struct jsonw *w, int64_t v);
/* Unsigned: jansson has no such integer; use jsonw_i64((int64_t)v) where
 * jansson's output (negative above INT64_MAX) must be matched. */
void jsonw_u64(struct jsonw *w, uint64_t v);
void jsonw_bool(struct jsonw *w, int v);
void jsonw_null(struct jsonw *w);
/* As jansson prints a real with precision 12: "%.12g", ".0" appended when
 * there is neither '.' nor 'e', '+' and leading zeros dropped from the
 * exponent. Not finite: sets invalid. */
void jsonw_real(struct jsonw *w, double v);

#endif
