/* test_jsonw.c - the JSON writer against jansson: fixed cases (escapes,
 * invalid UTF-8, reals, commas), then random documents (all byte values,
 * long strings, extreme integers, reals from random bit patterns, nesting)
 * written both ways and compared byte for byte; then the cap (never a
 * byte past it, overflow set exactly when the text does not fit) and the
 * values jansson refuses. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "output/eve.h"
#include "output/jsonw.h"

#define DUMP_FLAGS (JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_REAL_PRECISION(12))

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

/* The route output/eve.c takes to a jansson string: json_stringn() when it
 * is valid UTF-8, else every byte that does not start a well-formed
 * sequence replaced by U+FFFD. Written from the UTF-8 definition (RFC 3629
 * table), not from jsonw.c. */
static json_t *sanitised(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j) return j;
    char *b = malloc(len * 3 + 1);
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        uint32_t cp = 0, min = 0;
        if (u[i] < 0x80)
            n = 1, cp = u[i];
        else if ((u[i] & 0xe0) == 0xc0)
            n = 2, cp = u[i] & 0x1f, min = 0x80;
        else if ((u[i] & 0xf0) == 0xe0)
            n = 3, cp = u[i] & 0x0f, min = 0x800;
        else if ((u[i] & 0xf8) == 0xf0)
            n = 4, cp = u[i] & 0x07, min = 0x10000;
        int ok = n > 0 && n <= len - i;
        for (size_t k = 1; ok && k < n; k++) {
            ok = (u[i + k] & 0xc0) == 0x80;
            cp = cp << 6 | (u[i + k] & 0x3f);
        }
        ok = ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
        if (ok) {
            memcpy(b + o, u + i, n);
            o += n;
            i += n;
        } else {
            memcpy(b + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    j = json_stringn(b, o);
    free(b);
    return j;
}

/* jsonw's text for one string value. */
static const char *w_string(const char *s, size_t n)
{
    static char buf[4096];
    struct jsonw w;
    jsonw_init(&w, buf, sizeof(buf) - 1);
    jsonw_strn(&w, s, n);
    buf[w.len] = 0;
    return jsonw_ok(&w) ? buf : "(failed)";
}

/* jansson's text for one string value. */
static const char *j_string(const char *s, size_t n)
{
    static char buf[4096];
    json_t *j = sanitised(s, n);
    char *d = json_dumps(j, DUMP_FLAGS | JSON_ENCODE_ANY);
    snprintf(buf, sizeof(buf), "%s", d ? d : "(null)");
    free(d);
    json_decref(j);
    return buf;
}

static const char *w_real(double v)
{
    static char buf[128];
    struct jsonw w;
    jsonw_init(&w, buf, sizeof(buf) - 1);
    jsonw_real(&w, v);
    buf[w.len] = 0;
    return jsonw_ok(&w) ? buf : "(failed)";
}

static const char *j_real(double v)
{
    static char buf[128];
    json_t *j = json_real(v);
    char *d = json_dumps(j, DUMP_FLAGS | JSON_ENCODE_ANY);
    snprintf(buf, sizeof(buf), "%s", d ? d : "(null)");
    free(d);
    json_decref(j);
    return buf;
}

#define S(lit) lit, sizeof(lit) - 1

static void test_fixed_strings(void)
{
    CHECK_STR(w_string(S("")), "\"\"");
    CHECK_STR(w_string(S("a/b")), "\"a/b\"");
    CHECK_STR(w_string(S("q\"b\\")), "\"q\\\"b\\\\\"");
    CHECK_STR(w_string(S("\b\f\n\r\t")), "\"\\b\\f\\n\\r\\t\"");
    CHECK_STR(w_string(S("\x01\x1f\x7f")), "\"\\u0001\\u001F\x7f\"");
    CHECK_STR(w_string(S("a\0b")), "\"a\\u0000b\"");
    CHECK_STR(w_string(S("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80")),
              "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"");
    /* one U+FFFD per byte that does not start a well-formed sequence */
    CHECK_STR(w_string(S("\xff")), "\"\xef\xbf\xbd\"");
    CHECK_STR(w_string(S("\xc0\x80")), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    CHECK_STR(w_string(S("\xed\xa0\x80x")), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx\"");
    CHECK_STR(w_string(S("\xf4\x90\x80\x80")),
              "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    CHECK_STR(w_string(S("\xe2\x82")), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    CHECK_STR(w_string(S("\xe2\x82\xac")), "\"\xe2\x82\xac\"");
    /* the same against jansson */
    static const char *const cases[] = {
        "",         "a/b",          "q\"b\\",          "\b\f\n\r\t\x01\x1f\x7f",
        "\xff",     "\xc0\x80",     "\xed\xa0\x80x",   "\xf4\x90\x80\x80",
        "\xe2\x82", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_STR(w_string(cases[i], strlen(cases[i])), j_string(cases[i], strlen(cases[i])));
}

static void test_fixed_reals(void)
{
    CHECK_STR(w_real(1.0), "1.0");
    CHECK_STR(w_real(-0.0), "-0.0");
    CHECK_STR(w_real(0.1), "0.1");
    CHECK_STR(w_real(1e20), "1e20");
    CHECK_STR(w_real(1e-5), "1e-5");
    CHECK_STR(w_real(1.5e-300), "1.5e-300");
    CHECK_STR(w_real(123456789012.0), "123456789012.0");
    CHECK_STR(w_real(1234567890123.0), "1.23456789012e12");
    CHECK_STR(w_real(2.0 / 3.0), "0.666666666667");
    static const double v[] = {0.0,
                               -0.0,
                               1.0,
                               100.0,
                               0.1,
                               0.25,
                               1e20,
                               1e21,
                               1e-5,
                               1e-4,
                               -3.5e-7,
                               1e300,
                               5e-324,
                               1.7976931348623157e308,
                               2.0 / 3.0,
                               123456789012.0,
                               1234567890123.0,
                               99.99,
                               12.34,
                               -1e100};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        CHECK_STR(w_real(v[i]), j_real(v[i]));
    for (int i = 0; i < 20000; i++) {
        double d;
        uint64_t bits = rnd();
        memcpy(&d, &bits, sizeof(d));
        if (!isfinite(d)) continue;
        CHECK_STR(w_real(d), j_real(d));
        d = (double)(int64_t)(rnd() % 2000001) / 100.0 - 10000.0; /* alert-like */
        CHECK_STR(w_real(d), j_real(d));
    }
}

/* A random string: mostly plain text, some with every byte value, some
 * long, some valid multi-byte UTF-8. */
static size_t rand_string(char *b, size_t cap)
{
    size_t n = (size_t)(rnd() % 24);
    if (rnd() % 16 == 0) n = (size_t)(rnd() % (cap - 1));
    int kind = (int)(rnd() % 4);
    size_t i = 0;
    while (i < n) {
        switch (kind) {
        case 0:
            b[i++] = (char)(0x20 + rnd() % 0x5f);
            break; /* printable */
        case 1:
            b[i++] = (char)(rnd() % 256);
            break; /* anything */
        case 2:
            b[i++] = (char)(rnd() % 0x22);
            break; /* controls, space, ! " */
        default:
            if (i + 4 <= n) {
                static const char *const seq[] = {
                    "\xc3\xa9",     "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\\", "/", "\xed\x9f\xbf",
                    "\xef\xbf\xbd", "\xc2",         "\xf4\x8f\xbf\xbf"};
                const char *s = seq[rnd() % (sizeof(seq) / sizeof(seq[0]))];
                memcpy(b + i, s, strlen(s));
                i += strlen(s);
            } else {
                b[i++] = (char)(rnd() % 256);
            }
        }
    }
    return i;
}

/* Builds the same random value both ways: a jansson tree and jsonw text. */
static json_t *rand_value(struct jsonw *w, int depth);

static json_t *rand_object(struct jsonw *w, int depth)
{
    json_t *o = json_object();
    jsonw_obj_begin(w);
    int n = (int)(rnd() % 6);
    for (int i = 0; i < n; i++) {
        char k[64];
        size_t kn = rand_string(k, 40);
        /* keys must be valid UTF-8 and unique, as eve.c's are */
        json_t *ks = sanitised(k, kn);
        char key[256];
        snprintf(key, sizeof(key), "%s#%d", json_string_value(ks), i);
        json_decref(ks);
        jsonw_key(w, key);
        json_object_set_new(o, key, rand_value(w, depth + 1));
    }
    jsonw_obj_end(w);
    return o;
}

static json_t *rand_value(struct jsonw *w, int depth)
{
    int kind = (int)(rnd() % (depth < 4 ? 9 : 6));
    switch (kind) {
    case 0: {
        static char s[2048];
        size_t n = rand_string(s, sizeof(s));
        jsonw_strn(w, s, n);
        return sanitised(s, n);
    }
    case 1: {
        int64_t v = (int64_t)rnd();
        if (rnd() % 4 == 0) v = (int64_t)(rnd() % 100000);
        if (rnd() % 8 == 0) v = rnd() % 2 ? INT64_MIN : INT64_MAX;
        jsonw_i64(w, v);
        return json_integer(v);
    }
    case 2: {
        uint64_t v = rnd() >> (1 + rnd() % 63); /* up to INT64_MAX: jansson has no unsigned */
        jsonw_u64(w, v);
        return json_integer((json_int_t)v);
    }
    case 3: {
        double d = (double)(int64_t)rnd() / (double)(1 + rnd() % 1000000);
        jsonw_real(w, d);
        return json_real(d);
    }
    case 4: {
        int b = (int)(rnd() & 1);
        jsonw_bool(w, b);
        return json_boolean(b);
    }
    case 5:
        jsonw_null(w);
        return json_null();
    case 6:
    case 7:
        return rand_object(w, depth);
    default: {
        json_t *a = json_array();
        jsonw_arr_begin(w);
        int n = (int)(rnd() % 5);
        for (int i = 0; i < n; i++)
            json_array_append_new(a, rand_value(w, depth + 1));
        jsonw_arr_end(w);
        return a;
    }
    }
}

static char big[1 << 20];

static void test_random_documents(void)
{
    int compared = 0;
    for (int round = 0; round < 3000; round++) {
        struct jsonw w;
        jsonw_init(&w, big, sizeof(big) - 1);
        uint64_t seed = rng_state;
        json_t *o = rand_object(&w, 0);
        char *d = json_dumps(o, DUMP_FLAGS);
        json_decref(o);
        CHECK(jsonw_ok(&w));
        big[w.len] = 0;
        CHECK(d != NULL);
        if (d) {
            int same = strcmp(big, d) == 0;
            CHECK(same);
            if (!same)
                fprintf(stderr, "seed %llu:\n jsonw:   %.300s\n jansson: %.300s\n",
                        (unsigned long long)seed, big, d);
            compared++;
        }
        free(d);
    }
    CHECK(compared > 1000);
}

/* One document with every kind of value, escapes and nesting. */
static void write_doc(struct jsonw *w)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "a\n");
    jsonw_str(w, "x\x01\xff\xc3\xa9");
    jsonw_key(w, "n");
    jsonw_arr_begin(w);
    jsonw_i64(w, -12);
    jsonw_u64(w, UINT64_MAX);
    jsonw_real(w, 0.5);
    jsonw_bool(w, 0);
    jsonw_null(w);
    jsonw_obj_begin(w);
    jsonw_obj_end(w);
    jsonw_arr_end(w);
    jsonw_obj_end(w);
}

/* Every cap from 0 to the full length: never a byte past the cap, overflow
 * exactly when the text does not fit, and a full fit is the full text. */
static void test_cap(void)
{
    static char ref[512], buf[600];
    struct jsonw w;
    jsonw_init(&w, ref, sizeof(ref));
    write_doc(&w);
    CHECK(jsonw_ok(&w));
    size_t full = w.len;
    ref[full] = 0;
    CHECK_STR(ref, "{\"a\\n\":\"x\\u0001\xef\xbf\xbd\xc3\xa9\",\"n\":[-12,18446744073709551615,"
                   "0.5,false,null,{}]}");
    for (size_t cap = 0; cap <= full; cap++) {
        memset(buf, '#', sizeof(buf));
        jsonw_init(&w, buf, cap);
        write_doc(&w);
        CHECK(w.len <= cap);
        CHECK_EQ(w.overflow, cap < full);
        CHECK(buf[cap] == '#');
        if (cap == full) CHECK(memcmp(buf, ref, full) == 0);
    }
}

/* What jansson refuses marks the text invalid, so the caller falls back. */
static void test_refused(void)
{
    char buf[64];
    struct jsonw w;
    jsonw_init(&w, buf, sizeof(buf));
    jsonw_obj_begin(&w);
    jsonw_key(&w, "ok");
    jsonw_i64(&w, 1);
    CHECK(jsonw_ok(&w));
    jsonw_key(&w, "bad\xff");
    CHECK(w.invalid);
    json_t *o = json_object();
    CHECK(json_object_set_new(o, "bad\xff", json_integer(1)) != 0);
    json_decref(o);

    jsonw_init(&w, buf, sizeof(buf));
    jsonw_real(&w, NAN);
    CHECK(w.invalid);
    CHECK(json_real(NAN) == NULL);
    jsonw_init(&w, buf, sizeof(buf));
    jsonw_real(&w, -INFINITY);
    CHECK(w.invalid);

    /* a non-UTF-8 string value is not refused: it is repaired */
    jsonw_init(&w, buf, sizeof(buf));
    jsonw_str(&w, "\xff");
    CHECK(jsonw_ok(&w));
}

/* An http event far larger than the writer's per-thread buffer (64 KiB):
 * a URL of 40,000 control bytes, each written as \u00XX, comes out whole,
 * on one line, and reads back as the same string. */
static void test_eve_oversize(void)
{
    char path[] = "/tmp/lh_jsonw_eve_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    char err[256];
    struct eve *e = eve_open(path, err, sizeof(err));
    CHECK(e != NULL);
    if (!e)
        return;
    static char url[40001];
    for (size_t i = 0; i < sizeof(url) - 1; i++)
        url[i] = (char)(1 + i % 31);
    struct eve_http h;
    memset(&h, 0, sizeof(h));
    h.c.ts_us = 1767225600000000ull;
    h.c.flow_id = 7;
    h.c.src_ip = "10.0.0.1";
    h.c.dest_ip = "10.0.0.2";
    h.c.proto = "TCP";
    h.url = url;
    h.http_method = "GET";
    eve_write_http(e, &h);
    eve_close(e);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    static char line[400000];
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    unlink(path);
    line[n] = 0;
    CHECK(n > 64 * 1024 * 3); /* the 40,000 bytes took six each */
    CHECK(n > 0 && line[n - 1] == '\n' && memchr(line, '\n', n) == line + n - 1);
    json_t *o = json_loadb(line, n, 0, NULL);
    CHECK(o != NULL);
    const char *got = json_string_value(json_object_get(json_object_get(o, "http"), "url"));
    CHECK(got && strcmp(got, url) == 0);
    CHECK_STR(json_string_value(json_object_get(o, "event_type")), "http");
    json_decref(o);
}

int main(void)
{
    test_fixed_strings();
    test_fixed_reals();
    test_random_documents();
    test_cap();
    test_refused();
    test_eve_oversize();
    return check_done();
}
