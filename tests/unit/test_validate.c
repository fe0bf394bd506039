/* test_validate.c - the validators on real valid and invalid values.
 *
 * A failing case is named by a label, never by its value: the values are
 * phone and ID numbers and must not reach the test output. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "rules/region.h"
#include "rules/validate.h"

static void expect(const char *label, validate_fn fn, const char *v, bool want)
{
    bool got = fn((const uint8_t *)v, strlen(v));
    CHECK(got == want);
    if (got != want) fprintf(stderr, "  case: %s (want %s)\n", label, want ? "valid" : "invalid");
}

/* The GB 11643 check character, computed from the standard's definition
 * (weights 2^(17-i) mod 11, "10X98765432"), so that a date or region case
 * fails for its date or region and not for its checksum. */
static void with_check(char id[19], const char *first17)
{
    static const char chk[] = "10X98765432";
    unsigned s = 0, w = 1;
    memcpy(id, first17, 17);
    for (int i = 16; i >= 0; i--) {
        w = (i == 16) ? 2 : (w * 2) % 11;
        s += (unsigned)(first17[i] - '0') * w;
    }
    id[17] = chk[s % 11];
    id[18] = '\0';
}

static void test_mobile(void)
{
    /* allocated three-digit blocks, from libphonenumber's CN mobile pattern
     * as REFERENCE.md lists it; 161 and 174 are allocated only in part */
    static const int blocks[] = {130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 145, 147, 150,
                                 151, 152, 153, 155, 156, 157, 158, 159, 162, 165, 166, 167, 170,
                                 171, 172, 173, 175, 176, 177, 178, 180, 181, 182, 183, 184, 185,
                                 186, 187, 188, 189, 190, 191, 192, 193, 195, 196, 197, 198, 199};
    int n_valid = 0;
    for (int p = 100; p <= 199; p++) {
        bool want = false;
        for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
            want |= blocks[i] == p;
        char v[16], label[32];
        snprintf(v, sizeof v, "%d12345678", p);
        snprintf(label, sizeof label, "mobile block %d", p);
        expect(label, validate_cn_mobile, v, want);
        n_valid += validate_cn_mobile((const uint8_t *)v, 11);
    }
    CHECK_EQ(n_valid, sizeof blocks / sizeof blocks[0]);

    /* 1610x and 17400-17405 only */
    for (int d = 0; d <= 9; d++) {
        char v[16], label[32];
        snprintf(v, sizeof v, "1610%d123456", d);
        snprintf(label, sizeof label, "mobile 1610%d", d);
        expect(label, validate_cn_mobile, v, true);
        snprintf(v, sizeof v, "161%d0123456", d);
        snprintf(label, sizeof label, "mobile 161%d0", d);
        expect(label, validate_cn_mobile, v, d == 0);
        snprintf(v, sizeof v, "1740%d123456", d);
        snprintf(label, sizeof label, "mobile 1740%d", d);
        expect(label, validate_cn_mobile, v, d <= 5);
        snprintf(v, sizeof v, "174%d0123456", d);
        snprintf(label, sizeof label, "mobile 174%d0", d);
        expect(label, validate_cn_mobile, v, d == 0);
    }

    expect("mobile 154", validate_cn_mobile, "15412345678", false);
    expect("mobile 194", validate_cn_mobile, "19412345678", false);
    expect("mobile 17406", validate_cn_mobile, "17406123456", false);
    expect("mobile 1741", validate_cn_mobile, "17412345678", false);
    expect("mobile 10 digits", validate_cn_mobile, "1381234567", false);
    expect("mobile 12 digits", validate_cn_mobile, "138123456789", false);
    expect("mobile with dash", validate_cn_mobile, "138-12345678", false);
    expect("mobile +86", validate_cn_mobile, "+8613812345", false);
    expect("mobile masked 138******78", validate_cn_mobile, "138******78", false);
    expect("mobile masked 138****5678", validate_cn_mobile, "138****5678", false);
    expect("mobile letter", validate_cn_mobile, "1381234567a", false);
    CHECK(!validate_cn_mobile(NULL, 0));

    /* written forms: 3-4-4 with one kind of separator, +86 / 0086 / "86 " */
    static const struct {
        const char *v;
        bool ok;
    } forms[] = {
        {"138-1234-5678", true},       {"138 1234 5678", true},      {"+8613812345678", true},
        {"+86 13812345678", true},     {"+86-138-1234-5678", true},  {"008613812345678", true},
        {"0086 138 1234 5678", true},  {"86 13812345678", true},     {"86-138-1234-5678", true},
        {"8613812345678", false},      {"138-1234 5678", false},     {"1381-234-5678", false},
        {"138--1234-5678", false},     {"+86 154-1234-5678", false}, {"+87 13812345678", false},
        {"+86 138-****-5678", false},  {"0086-138-1234-567", false}, {"+86  13812345678", false},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char label[48];
        snprintf(label, sizeof label, "mobile form %zu", i);
        expect(label, validate_cn_mobile, forms[i].v, forms[i].ok);
        if (!forms[i].ok) continue;
        /* the record is the 11 digits, whatever the form */
        uint8_t out[32];
        size_t n = validate_cn_mobile_norm((const uint8_t *)forms[i].v, strlen(forms[i].v), out);
        CHECK(n == 11 && memcmp(out, "13812345678", 11) == 0);
        CHECK(validate_cn_mobile(out, n));
    }
    /* in place, and a plain value is kept */
    uint8_t inplace[] = "139 1234 5678";
    CHECK_EQ(validate_cn_mobile_norm(inplace, 13, inplace), 11);
    CHECK(memcmp(inplace, "13912345678", 11) == 0);
    CHECK(validate_get(validate_find("cn_mobile"))->norm == validate_cn_mobile_norm);
}

static void test_gb11643(void)
{
    expect("id reference 1 (X)", validate_gb11643, "11010519491231002X", true);
    expect("id reference 2", validate_gb11643, "360426199101010071", true);
    expect("id lowercase x", validate_gb11643, "11010519491231002x", true);
    expect("id wrong check char", validate_gb11643, "110105194912310021", false);
    expect("id wrong check digit", validate_gb11643, "360426199101010072", false);
    expect("id one digit changed", validate_gb11643, "360426199101010171", false);
    expect("id masked", validate_gb11643, "110105********002X", false);
    expect("id masked tail", validate_gb11643, "11010519491231****", false);
    expect("id 17 chars", validate_gb11643, "11010519491231002", false);
    expect("id 19 chars", validate_gb11643, "11010519491231002X1", false);
    expect("id X inside", validate_gb11643, "1101051949123X002X", false);

    struct {
        const char *first17, *label;
        bool want;
    } dates[] = {
        {"11010519490230001", "Feb 30", false},
        {"11010519010229001", "Feb 29 1901 (not leap)", false},
        {"11010519000229001", "Feb 29 1900 (century, not leap)", false},
        {"11010520010229001", "Feb 29 2001", false},
        {"11010520000229001", "Feb 29 2000 (leap)", true},
        {"11010519960229001", "Feb 29 1996 (leap)", true},
        {"11010519910431001", "Apr 31", false},
        {"11010519911231001", "Dec 31", true},
        {"11010519911301001", "month 13", false},
        {"11010519910001001", "month 0", false},
        {"11010519910100001", "day 0", false},
        {"11010518991231001", "year 1899", false},
        {"11010519000101001", "1900-01-01 (first day)", true},
        {"11010520301231001", "2030-12-31 (last day)", true},
        {"11010520310101001", "year 2031", false},
        {"99010519491231001", "province 99", false},
        {"10010519491231001", "province 10", false},
        {"16010519491231001", "province 16", false},
        {"47010519491231001", "province 47", false},
        {"71010019491231001", "province 71 (Taiwan)", true},
        {"82010019491231001", "province 82 (Macau)", true},
        {"65010219491231001", "province 65", true},
        {"83010219491231001", "province 83", false},
    };
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        char id[19];
        with_check(id, dates[i].first17);
        expect(dates[i].label, validate_gb11643, id, dates[i].want);
    }
    /* the helper itself agrees with the published examples */
    char id[19];
    with_check(id, "11010519491231002");
    CHECK_EQ(id[17], 'X');
    with_check(id, "36042619910101007");
    CHECK_EQ(id[17], '1');
}

static void test_landline(void)
{
    expect("Beijing with dash", validate_cn_landline, "010-62345678", true);
    expect("Beijing no separator", validate_cn_landline, "01062345678", true);
    expect("Shanghai with space", validate_cn_landline, "021 52345678", true);
    expect("2-digit area, 7 digits", validate_cn_landline, "020-8765432", true);
    expect("Shenzhen 8 digits", validate_cn_landline, "0755-23456789", true);
    expect("Shenzhen no separator", validate_cn_landline, "075523456789", true);
    expect("3-digit area, 7 digits, space", validate_cn_landline, "0571 8765432", true);
    expect("toll-free 400", validate_cn_landline, "4001234567", false);
    expect("toll-free 400 dashed", validate_cn_landline, "400-123-4567", false);
    expect("toll-free 800", validate_cn_landline, "8001234567", false);
    expect("0400 toll-free", validate_cn_landline, "0400-1234567", false);
    expect("0800 toll-free", validate_cn_landline, "0800 1234567", false);
    expect("local starts with 1", validate_cn_landline, "010-12345678", false);
    expect("local starts with 0", validate_cn_landline, "0755-0345678", false);
    expect("local 6 digits", validate_cn_landline, "0755-234567", false);
    expect("local 9 digits", validate_cn_landline, "0755-234567890", false);
    expect("two separators", validate_cn_landline, "010--62345678", false);
    expect("area 01x other than 010", validate_cn_landline, "0112345678", false);
    expect("00 prefix", validate_cn_landline, "00862345678", false);
    expect("mobile is not a landline", validate_cn_landline, "13812345678", false);
    expect("masked", validate_cn_landline, "010-6234****", false);
    expect("masked area", validate_cn_landline, "0**-62345678", false);
}

static void test_s10(void)
{
    expect("RB123456785GB", validate_s10, "RB123456785GB", true);
    expect("S10 wrong check", validate_s10, "RB123456784GB", false);
    expect("S10 other letters", validate_s10, "EE123456785CN", true);
    expect("S10 r=0 gives 5", validate_s10, "RR000000005CN", true);
    expect("S10 r=1 gives 0", validate_s10, "RR000000080CN", true);
    expect("S10 r=1 not 1", validate_s10, "RR000000081CN", false);
    expect("S10 r=10 gives 1", validate_s10, "RR000000031CN", true);
    expect("S10 lowercase", validate_s10, "rb123456785gb", false);
    expect("S10 too short", validate_s10, "RB12345678GB", false);
    expect("S10 digit for letter", validate_s10, "R1123456785GB", false);
    expect("S10 masked", validate_s10, "RB1234*6785GB", false);
}

static void test_address(void)
{
    expect("addr Beijing street", validate_cn_address, "北京市海淀区中关村大街27号", true);
    expect("addr Shanghai avenue", validate_cn_address, "上海市浦东新区世纪大道100号", true);
    expect("addr Chinese numeral", validate_cn_address, "广州市天河区天河路三号", true);
    expect("addr province, village", validate_cn_address, "浙江省杭州市余杭区仓前镇良睦村12号",
           true);
    expect("addr county, lane", validate_cn_address, "宁海县跃龙街道学勉巷7号", true);
    expect("addr autonomous region", validate_cn_address, "广西壮族自治区南宁市青秀区民族大道8号",
           true);
    expect("addr no street marker", validate_cn_address, "北京市海淀区27号", false);
    expect("addr no admin marker", validate_cn_address, "中关村大街27号", false);
    expect("addr no number", validate_cn_address, "北京市海淀区中关村大街号", false);
    expect("addr number not before 号", validate_cn_address, "北京市海淀区中关村大街27", false);
    expect("addr street before admin", validate_cn_address, "大街27号北京市", false);
    expect("addr masked number", validate_cn_address, "北京市海淀区中关村大街**号", false);
    expect("addr masked part", validate_cn_address, "北京市海淀区中关村大街2*号", false);
    /* a UTF-8 sequence cut short, and an overlong encoding of '/' */
    expect("addr truncated UTF-8", validate_cn_address, "北京市海淀区中关村大街27号\xe5\x8f",
           false);
    expect("addr overlong UTF-8", validate_cn_address, "北京市\xc0\xaf海淀区大街27号", false);
    expect("addr empty", validate_cn_address, "", false);
}

/* The address finder: the leftmost start of the shipped address regex
 * ending at the 号 at the end of the window. */
/* The address check as it was first written (a full UTF-8 decoder and a
 * switch over the markers): the table-driven one must agree with it on
 * any bytes. */
static long ref_utf8_next(const uint8_t *v, size_t len, size_t *i)
{
    uint8_t c = v[*i];
    if (c < 0x80) return v[(*i)++];
    size_t n;
    long cp, min;
    if ((c & 0xe0) == 0xc0)
        n = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        n = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        n = 4, cp = c & 0x07, min = 0x10000;
    else
        return -1;
    if (len - *i < n) return -1;
    for (size_t k = 1; k < n; k++) {
        if ((v[*i + k] & 0xc0) != 0x80) return -1;
        cp = (cp << 6) | (v[*i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    *i += n;
    return cp;
}

static int ref_kind(long cp)
{
    static const long admin[] = {0x7701, 0x5E02, 0x533A, 0x53BF};
    static const long street[] = {0x8DEF, 0x8857, 0x9053, 0x5DF7, 0x5F04, 0x6751, 0x9547, 0x4E61};
    static const long numeral[] = {0x3007, 0x96F6, 0x4E00, 0x4E8C, 0x4E09, 0x56DB, 0x4E94, 0x516D,
                                   0x4E03, 0x516B, 0x4E5D, 0x5341, 0x767E, 0x5343, 0x4E24};
    if (cp >= '0' && cp <= '9') return 4;
    for (size_t i = 0; i < sizeof(admin) / sizeof(admin[0]); i++)
        if (cp == admin[i]) return 1;
    for (size_t i = 0; i < sizeof(street) / sizeof(street[0]); i++)
        if (cp == street[i]) return 2;
    for (size_t i = 0; i < sizeof(numeral) / sizeof(numeral[0]); i++)
        if (cp == numeral[i]) return 4;
    return 0;
}

static bool ref_address(const uint8_t *v, size_t len)
{
    if (len == 0 || memchr(v, '*', len)) return false;
    int stage = 0;
    bool prev_number = false;
    size_t i = 0;
    while (i < len) {
        long cp = ref_utf8_next(v, len, &i);
        if (cp < 0) return false;
        int k = ref_kind(cp);
        if (stage == 0 && (k & 1))
            stage = 1;
        else if (stage == 1 && (k & 2))
            stage = 2;
        else if (stage == 2 && cp == 0x53F7 && prev_number)
            stage = 3;
        prev_number = (k & 4) != 0;
    }
    return stage == 3;
}

static void test_address_vs_reference(void)
{
    /* markers, numerals, 号, look-alikes sharing a marker's low byte
     * (U+4F01 U+0102 U+10001), other widths and broken sequences */
    static const char *const pieces[] = {
        "省", "市", "区", "县", "路", "街", "道", "巷", "弄", "村", "镇", "乡", "〇", "零", "一",
        "二", "三", "四", "五", "六", "七", "八", "九", "十", "百", "千", "两", "号", "号", "北京",
        "中关村", "7", "27", "a", "-", "*", "\xe4\xbc\x81", "\xc4\x82", "\xf0\x90\x80\x81",
        "\xc3\xa9", "\xe5\x8f", "\xed\xa0\x80", "\xe0\x80\xaf", "\x80", "\xff", " "};
    enum { NP = sizeof(pieces) / sizeof(pieces[0]) };
    uint32_t x = 12345;
    size_t bad = 0, yes = 0;
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t v[128];
        size_t len = 0;
        x = x * 1103515245u + 12345u;
        size_t parts = (x >> 16) % 12;
        for (size_t k = 0; k < parts; k++) {
            x = x * 1103515245u + 12345u;
            const char *p = pieces[(x >> 16) % NP];
            size_t n = strlen(p);
            if (len + n > sizeof(v)) break;
            memcpy(v + len, p, n);
            len += n;
        }
        bool want = ref_address(v, len);
        yes += want;
        bad += validate_cn_address(v, len) != want;
    }
    CHECK_EQ(bad, 0);
    CHECK(yes > 100); /* the random strings do hold addresses */
}

static void test_address_find(void)
{
    static const struct {
        const char *w, *value; /* value: the expected suffix, NULL: none */
    } cases[] = {
        {"收货地址：北京市海淀区中关村大街27号", "北京市海淀区中关村大街27号"},
        {"addr=广东省深圳市南山区科苑路15号", "广东省深圳市南山区科苑路15号"},
        /* at most 6 characters before the marker */
        {"地址是这里广东省深圳市南山区科苑路15号", "址是这里广东省深圳市南山区科苑路15号"},
        {"x北京市1号", NULL},           /* 1 body unit: needs 2 */
        {"北市ab号", NULL},             /* 1 character before the marker: needs 2 */
        {"北京市号号", NULL},           /* the body holds no 号 */
        {"北京市海淀区中关村大街27", NULL}, /* no 号 at the end */
        {"北京市A-1号", "北京市A-1号"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *w = cases[i].w;
        size_t n = strlen(w);
        bool checked;
        long s = validate_cn_address_find((const uint8_t *)w, n, &checked);
        char label[48];
        snprintf(label, sizeof label, "address find %zu", i);
        bool ok = cases[i].value ? s >= 0 && strcmp(w + s, cases[i].value) == 0 : s < 0;
        CHECK(ok);
        if (!ok) fprintf(stderr, "  case: %s\n", label);
    }
    bool checked = true;
    CHECK(validate_cn_address_find(NULL, 0, &checked) < 0 && !checked);
    checked = true;
    CHECK(validate_cn_address_find((const uint8_t *)"\xb7", 1, &checked) < 0 && !checked);
    /* the finder vouches for a value only when the validator agrees */
    const char *full = "收货地址：北京市海淀区中关村大街27号";
    long s = validate_cn_address_find((const uint8_t *)full, strlen(full), &checked);
    CHECK(s >= 0 && checked && validate_cn_address((const uint8_t *)full + s, strlen(full) - (size_t)s));
    const char *nostreet = "北京市海淀区中关27号"; /* no street marker: invalid */
    s = validate_cn_address_find((const uint8_t *)nostreet, strlen(nostreet), &checked);
    CHECK(s >= 0 && !checked &&
          !validate_cn_address((const uint8_t *)nostreet + s, strlen(nostreet) - (size_t)s));
    CHECK(validate_get(validate_find("cn_address"))->find == validate_cn_address_find);
}

/* The address finder as first written (range compares, byte by byte): the
 * table-driven one must give the same start on any input. */
static bool ref_cjk(const uint8_t *w, size_t end)
{
    return end >= 3 && w[end - 3] >= 0xe4 && w[end - 3] <= 0xe9 && (w[end - 2] & 0xc0) == 0x80 &&
           (w[end - 1] & 0xc0) == 0x80;
}

static bool ref_hao(const uint8_t *w, size_t end)
{
    return end >= 3 && w[end - 3] == 0xe5 && w[end - 2] == 0x8f && w[end - 1] == 0xb7;
}

static bool ref_admin(const uint8_t *w, size_t end)
{
    const uint8_t *u = w + end - 3;
    return (u[0] == 0xe7 && u[1] == 0x9c && u[2] == 0x81) ||
           (u[0] == 0xe5 && ((u[1] == 0xb8 && u[2] == 0x82) || (u[1] == 0x8c && u[2] == 0xba) ||
                             (u[1] == 0x8e && u[2] == 0xbf)));
}

static long ref_find(const uint8_t *w, size_t n)
{
    if (!ref_hao(w, n)) return -1;
    size_t q = n - 3;
    long best = -1;
    for (int k = 0; k <= 24; k++) {
        if (k >= 2 && ref_cjk(w, q) && ref_admin(w, q)) {
            size_t p = q - 3;
            int c = 0;
            while (c < 6 && ref_cjk(w, p))
                p -= 3, c++;
            if (c >= 2) best = (long)p;
        }
        if (k == 24) break;
        uint8_t b = q >= 1 ? w[q - 1] : 0;
        if (q >= 1 && ((b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
                       b == '-'))
            q -= 1;
        else if (ref_cjk(w, q) && !ref_hao(w, q))
            q -= 3;
        else
            break;
    }
    return best;
}

static void test_address_find_vs_reference(void)
{
    /* characters and stray bytes the walk tells apart: markers, 号, other
     * CJK (lead bytes E4 and E9 at the class edges), ASCII body bytes and
     * their neighbours, two-byte and four-byte UTF-8, lone lead and
     * continuation bytes */
    static const char *pieces[] = {
        "省", "市", "区", "县", "号", "路", "中", "\xe4\xb8\x80", "\xe9\xbe\xa5",
        "\xe3\x80\x80", "\xea\xb0\x80", "7", "a", "Z", "-", "_", "/", " ", "é", "街", "十", "零",
        "*",
        "\xf0\x9f\x98\x80", "\xe5", "\x8f", "\xbf\xbf", "\xc0", "@", "[", "`", "{",
    };
    enum { NP = sizeof pieces / sizeof pieces[0] };
    uint32_t x = 2026;
    long bad = 0, found = 0, vouched = 0, wrong_vouch = 0, valid = 0;
    for (int t = 0; t < 200000; t++) {
        uint8_t v[120];
        size_t len = 0;
        x = x * 1103515245u + 12345u;
        int parts = 1 + (int)((x >> 16) % 40);
        for (int j = 0; j < parts; j++) {
            x = x * 1103515245u + 12345u;
            /* markers and 号 often, so matches are common */
            unsigned r = (x >> 16) % (NP + 8);
            const char *p = r < NP ? pieces[r] : pieces[r % 5];
            size_t n = strlen(p);
            if (len + n > sizeof(v) - 3) break;
            memcpy(v + len, p, n);
            len += n;
        }
        if (t & 1) { /* end on 号 half of the time */
            memcpy(v + len, "号", 3);
            len += 3;
        }
        long want = ref_find(v, len);
        found += want >= 0;
        bool checked;
        bad += validate_cn_address_find(v, len, &checked) != want;
        /* when the finder says the value passes, the validator must agree */
        bool ok = want >= 0 && validate_cn_address(v + want, len - (size_t)want);
        valid += ok;
        vouched += checked;
        wrong_vouch += checked && !ok;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(wrong_vouch, 0);
    CHECK(found > 1000); /* the random strings do hold addresses */
    CHECK(vouched > 50 && vouched <= valid); /* 87 of 125 valid with this seed */
    if (vouched <= 50) fprintf(stderr, "  vouched %ld valid %ld found %ld\n", vouched, valid, found);
}

static void test_waybill(void)
{
    int idx = validate_find("waybill");
    CHECK(idx >= 0);
    if (idx < 0) return;
    validate_fn fn = validate_get(idx)->fn;
    expect("YTO", fn, "YT1234567890123", true);
    expect("SF", fn, "SF1234567890123", true);
    expect("JD", fn, "JDVA12345678901", true);
    expect("Deppon", fn, "DPK123456789012", true);
    expect("ZTO bare", fn, "73123456789012", true);
    expect("EMS bare", fn, "9812345678901", true);
    expect("all zeros", fn, "0000000000000", false);
    expect("prefix + one repeated digit", fn, "YT0000000000000", false);
    expect("masked", fn, "YT12345*****890", false);
    expect("too short", fn, "YT1234567", false);
    expect("too few digits", fn, "YTABCDEFGH12", false);
    expect("punctuation", fn, "YT12345-67890123", false);
}

/* Every validator turns away a value holding '*', whatever else it holds. */
static void test_masked_never_count(void)
{
    static const char *const masked[] = {
        "138******78",   "11010519491231002*",         "110105********002X", "010-6234****",
        "RB1234*6785GB", "北京市海淀区中关村大街2*号", "YT12345*****890",    "*",
    };
    for (int i = 0; i < validate_count(); i++) {
        const struct validator *v = validate_get(i);
        for (size_t k = 0; k < sizeof masked / sizeof masked[0]; k++) {
            char label[64];
            snprintf(label, sizeof label, "%s on masked value %zu", v->name, k);
            expect(label, v->fn, masked[k], false);
        }
    }
}

static void test_table(void)
{
    static const char *const names[] = {"cn_mobile", "gb11643",    "cn_landline",
                                        "s10",       "cn_address", "waybill"};
    CHECK_EQ(validate_count(), sizeof names / sizeof names[0]);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int idx = validate_find(names[i]);
        CHECK(idx >= 0);
        if (idx < 0) continue;
        const struct validator *v = validate_get(idx);
        CHECK_STR(v->name, names[i]);
        CHECK(v->fn != NULL);
        CHECK(v->doc != NULL && strlen(v->doc) > 10);
    }
    CHECK_EQ(validate_find("cn_mobil"), -1);
    CHECK_EQ(validate_find(NULL), -1);
    CHECK(validate_get(-1) == NULL);
    CHECK(validate_get(validate_count()) == NULL);
    /* the public functions are the ones in the table */
    CHECK(validate_get(validate_find("cn_mobile"))->fn == validate_cn_mobile);
    CHECK(validate_get(validate_find("gb11643"))->fn == validate_gb11643);
    CHECK(validate_get(validate_find("cn_landline"))->fn == validate_cn_landline);
    CHECK(validate_get(validate_find("s10"))->fn == validate_s10);
    CHECK(validate_get(validate_find("cn_address"))->fn == validate_cn_address);
}

/* region_of_record against the straightforward reading: the first province
 * whose whole short name begins the address. */
static uint16_t ref_region(const uint8_t *v, size_t len)
{
    static const struct {
        const char *name;
        uint16_t code;
    } p[] = {
        {"北京", 11}, {"天津", 12}, {"河北", 13}, {"山西", 14}, {"内蒙古", 15}, {"辽宁", 21},
        {"吉林", 22}, {"黑龙江", 23}, {"上海", 31}, {"江苏", 32}, {"浙江", 33}, {"安徽", 34},
        {"福建", 35}, {"江西", 36}, {"山东", 37}, {"河南", 41}, {"湖北", 42}, {"湖南", 43},
        {"广东", 44}, {"广西", 45}, {"海南", 46}, {"重庆", 50}, {"四川", 51}, {"贵州", 52},
        {"云南", 53}, {"西藏", 54}, {"陕西", 61}, {"甘肃", 62}, {"青海", 63}, {"宁夏", 64},
        {"新疆", 65}, {"台湾", 71}, {"香港", 81}, {"澳门", 82},
    };
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        size_t n = strlen(p[i].name);
        if (len >= n && memcmp(v, p[i].name, n) == 0) return p[i].code;
    }
    return 0;
}

static void test_region(void)
{
    CHECK_EQ(region_of_record(RULE_CAT_ADDRESS, (const uint8_t *)"广东省深圳市南山区科苑路15号",
                              strlen("广东省深圳市南山区科苑路15号")),
             44);
    CHECK_EQ(region_of_record(RULE_CAT_ADDRESS, (const uint8_t *)"广西南宁", 12), 45);
    CHECK_EQ(region_of_record(RULE_CAT_ADDRESS, (const uint8_t *)"内蒙古呼和浩特", 21), 15);
    CHECK_EQ(region_of_record(RULE_CAT_ADDRESS, (const uint8_t *)"内蒙", 6), 0);
    static const char *all = "北京天津河北山西内蒙古辽宁吉林黑龙江上海江苏浙江安徽福建江西山东河南湖北湖南"
                             "广东广西海南重庆四川贵州云南西藏陕西甘肃青海宁夏新疆台湾香港澳门";
    int named = 0; /* every name is found where it stands */
    for (size_t o = 0; o < strlen(all); o += 3) {
        uint16_t want = ref_region((const uint8_t *)all + o, strlen(all) - o);
        named += want != 0;
        CHECK_EQ(region_of_record(RULE_CAT_ADDRESS, (const uint8_t *)all + o, strlen(all) - o), want);
    }
    CHECK(named >= 34);
    CHECK_EQ(region_of_record(RULE_CAT_ID, (const uint8_t *)"440305199001011234", 18), 44);
    CHECK_EQ(region_of_record(RULE_CAT_ID, (const uint8_t *)"990305199001011234", 18), 0);
    /* random strings of province characters and others: the same answer */
    static const char *pieces[] = {"北", "京", "河", "南", "江", "西", "内", "蒙", "古", "黑", "龙",
                                   "广", "东", "山", "湖", "澳", "门", "中", "a", "1"};
    enum { NP = sizeof pieces / sizeof pieces[0] };
    uint32_t x = 7;
    long bad = 0, hits = 0;
    for (int t = 0; t < 100000; t++) {
        uint8_t v[32];
        size_t len = 0;
        for (int j = 0; j < 4; j++) {
            x = x * 1103515245u + 12345u;
            const char *pc = pieces[(x >> 16) % NP];
            memcpy(v + len, pc, strlen(pc));
            len += strlen(pc);
        }
        uint16_t want = ref_region(v, len);
        hits += want != 0;
        bad += region_of_record(RULE_CAT_ADDRESS, v, len) != want;
    }
    CHECK_EQ(bad, 0);
    CHECK(hits > 1000);
}

int main(void)
{
    test_mobile();
    test_gb11643();
    test_landline();
    test_s10();
    test_address();
    test_address_vs_reference();
    test_address_find();
    test_address_find_vs_reference();
    test_waybill();
    test_masked_never_count();
    test_table();
    test_region();
    return check_done();
}
