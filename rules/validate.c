/* validate.c - validators: checks on a candidate value a regex cannot make.
 *
 * In: the bytes of one candidate value (recovered by the matcher, or given
 * by a test). Out: true when the value is a real record. Each validator is
 * a pure function over (v, len): no state, no allocation, never reads past
 * len. A value carrying the mask character '*' is never a record, so
 * samples that are already masked (138******78) are not counted again.
 *
 * The facts each check follows (prefix allocation, GB 11643 weights, S10
 * weights) are in /work/shared/REFERENCE.md and docs/rules.md. */
#include "rules/validate.h"

#include <string.h>

static bool has_mask_char(const uint8_t *v, size_t len)
{
    return memchr(v, '*', len) != NULL;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool is_upper(uint8_t c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_alnum(uint8_t c)
{
    return is_digit(c) || is_upper(c) || (c >= 'a' && c <= 'z');
}

static bool all_digits(const uint8_t *v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_digit(v[i])) return false;
    return true;
}

/* --- mainland mobile ---------------------------------------------------- */

/* Follows libphonenumber's CN mobile pattern (REFERENCE.md):
 * 1(?:610\d|740[0-5])\d{6}|1(?:[38]\d|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])\d{8}
 * over exactly 11 digits. */
static bool mobile_digits(const uint8_t *v)
{
    if (!all_digits(v, 11) || v[0] != '1') return false;
    uint8_t b = v[1], c = v[2];
    switch (b) {
    case '3':
    case '8':
        return true;
    case '4':
        return c == '5' || c == '7';
    case '5':
    case '9':
        return c != '4';
    case '6':
        if (c == '1') return v[3] == '0';
        return c == '2' || c == '5' || c == '6' || c == '7';
    case '7':
        if (c == '4') return v[3] == '0' && v[4] <= '5';
        return c <= '3' || (c >= '5' && c <= '8');
    default:
        return false;
    }
}

static bool is_sep(uint8_t c)
{
    return c == '-' || c == ' ';
}

/* Where the 11 digits of a written mobile are: the form is an optional
 * country code (+86 or 0086, optionally followed by one separator, or 86
 * followed by one: a bare 86 glued to the number is as likely the start of
 * a longer number, e.g. a waybill YT86138...), then either 11 digits or 3-4-4
 * digits joined by the same separator ('-' or ' '). Returns the offset of the
 * number part and its length (11 or 13), or false. */
static bool mobile_form(const uint8_t *v, size_t len, size_t *at, size_t *n)
{
    size_t p = 0;
    if (len >= 15 && v[0] == '0' && v[1] == '0' && v[2] == '8' && v[3] == '6')
        p = 4;
    else if (len >= 14 && v[0] == '+' && v[1] == '8' && v[2] == '6')
        p = 3;
    else if (len >= 14 && v[0] == '8' && v[1] == '6' && is_sep(v[2]))
        p = 2;
    if (p && is_sep(v[p])) p++;
    size_t rest = len - p;
    if (rest == 11) {
        *at = p, *n = 11;
        return true;
    }
    if (rest == 13 && is_sep(v[p + 3]) && v[p + 8] == v[p + 3] && all_digits(v + p, 3) &&
        all_digits(v + p + 4, 4) && all_digits(v + p + 9, 4)) {
        *at = p, *n = 13;
        return true;
    }
    return false;
}

static void mobile_compact(const uint8_t *v, size_t n, uint8_t out[11])
{
    if (n == 11) {
        memmove(out, v, 11);
        return;
    }
    uint8_t t[11];
    memcpy(t, v, 3);
    memcpy(t + 3, v + 4, 4);
    memcpy(t + 7, v + 9, 4);
    memcpy(out, t, 11);
}

bool validate_cn_mobile(const uint8_t *v, size_t len)
{
    size_t at, n;
    if (!v || len < 11 || len > 19 || has_mask_char(v, len) || !mobile_form(v, len, &at, &n))
        return false;
    uint8_t d[11];
    mobile_compact(v + at, n, d);
    return mobile_digits(d);
}

size_t validate_cn_mobile_norm(const uint8_t *v, size_t len, uint8_t *out)
{
    size_t at, n;
    if (!v || len < 11 || len > 19 || !mobile_form(v, len, &at, &n)) {
        if (out != v) memmove(out, v, len);
        return len;
    }
    mobile_compact(v + at, n, out);
    return 11;
}

/* --- resident identity number (GB 11643-1999) --------------------------- */

static bool province_code(int p)
{
    static const uint8_t codes[] = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34,
                                    35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
                                    53, 54, 61, 62, 63, 64, 65, 71, 81, 82};
    for (size_t i = 0; i < sizeof codes; i++)
        if (codes[i] == p) return true;
    return false;
}

static int num(const uint8_t *v, size_t n)
{
    int x = 0;
    for (size_t i = 0; i < n; i++)
        x = x * 10 + (v[i] - '0');
    return x;
}

static bool leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A real calendar date inside the range an ID of a living person can carry
 * (1900-01-01 .. 2030-12-31); the upper bound is generous so the check does
 * not age with the code. */
static bool real_date(int y, int m, int d)
{
    static const uint8_t mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2030 || m < 1 || m > 12 || d < 1) return false;
    int max = mdays[m - 1] + (m == 2 && leap_year(y) ? 1 : 0);
    return d <= max;
}

bool validate_gb11643(const uint8_t *v, size_t len)
{
    static const uint8_t w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[] = "10X98765432";
    if (!v || len != 18 || !all_digits(v, 17)) return false;
    if (!province_code(num(v, 2))) return false;
    if (!real_date(num(v + 6, 4), num(v + 10, 2), num(v + 12, 2))) return false;
    unsigned s = 0;
    for (size_t i = 0; i < 17; i++)
        s += (unsigned)(v[i] - '0') * w[i];
    uint8_t want = (uint8_t)check[s % 11];
    uint8_t got = v[17] == 'x' ? 'X' : v[17];
    return got == want;
}

/* --- landline ------------------------------------------------------------ */

/* 0 + area code + optional '-' or ' ' + 7-8 digit local number. The area
 * code's length follows from its first digit: 10 and 2x are the two-digit
 * codes (Beijing, Shanghai, Guangzhou, ...), 3x-9x are three digits. Local
 * numbers never start with 0 or 1. */
bool validate_cn_landline(const uint8_t *v, size_t len)
{
    if (!v || len < 10 || len > 13 || has_mask_char(v, len) || v[0] != '0') return false;
    size_t area;
    if (v[1] == '1') {
        if (v[2] != '0') return false;
        area = 2;
    } else if (v[1] == '2') {
        area = 2;
    } else if (v[1] >= '3' && v[1] <= '9') {
        area = 3;
    } else {
        return false;
    }
    if (!all_digits(v + 1, area)) return false;
    /* 0400 / 0800 are toll-free numbers written with a stray trunk 0 */
    if (area == 3 && v[2] == '0' && v[3] == '0' && (v[1] == '4' || v[1] == '8')) return false;
    size_t i = 1 + area;
    if (i < len && (v[i] == '-' || v[i] == ' ')) i++;
    size_t local = len - i;
    if (local != 7 && local != 8) return false;
    if (!all_digits(v + i, local) || v[i] < '2') return false;
    return true;
}

/* --- UPU S10 ------------------------------------------------------------- */

bool validate_s10(const uint8_t *v, size_t len)
{
    static const uint8_t w[8] = {8, 6, 4, 2, 3, 5, 9, 7};
    if (!v || len != 13) return false;
    if (!is_upper(v[0]) || !is_upper(v[1]) || !is_upper(v[11]) || !is_upper(v[12])) return false;
    if (!all_digits(v + 2, 9)) return false;
    unsigned s = 0;
    for (size_t i = 0; i < 8; i++)
        s += (unsigned)(v[2 + i] - '0') * w[i];
    unsigned r = s % 11;
    unsigned c = r == 0 ? 5 : r == 1 ? 0 : 11 - r;
    return v[10] - '0' == (int)c;
}

/* --- address ------------------------------------------------------------- */

/* Decodes one UTF-8 code point at v[*i]; returns it and advances *i, or
 * returns -1 on a malformed, overlong or truncated sequence. */
static long utf8_next(const uint8_t *v, size_t len, size_t *i)
{
    uint8_t c = v[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    size_t n;
    long cp, min;
    if ((c & 0xe0) == 0xc0) {
        n = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    if (len - *i < n) return -1;
    for (size_t k = 1; k < n; k++) {
        uint8_t cc = v[*i + k];
        if ((cc & 0xc0) != 0x80) return -1;
        cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    *i += n;
    return cp;
}

#define CP_HAO 0x53F7L /* 号 */

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* A postal address: valid UTF-8 in which, in this order, come an
 * administrative marker (省 市 区 县), later a street-level marker (路 街 道
 * 巷 弄 村 镇 乡), and later a house number: an ASCII digit or a Chinese
 * numeral immediately followed by 号. The order matters: "3号线" before any
 * district is a metro line, not an address. */
enum { CP_ADMIN = 1, CP_STREET = 2, CP_NUMERAL = 4 };

/* What a code point is to the address check. The 27 markers and numerals
 * all differ in their low byte, so one table indexed by it, with the code
 * point to compare, answers for any code point without a branch. */
struct cp_entry {
    uint16_t cp;
    uint8_t kind;
};

static const struct cp_entry cp_table[256] = {
    [0x01] = {0x7701, CP_ADMIN}, [0x02] = {0x5E02, CP_ADMIN}, /* 省 市 */
    [0x3A] = {0x533A, CP_ADMIN}, [0xBF] = {0x53BF, CP_ADMIN}, /* 区 县 */
    [0xEF] = {0x8DEF, CP_STREET}, [0x57] = {0x8857, CP_STREET}, /* 路 街 */
    [0x53] = {0x9053, CP_STREET}, [0xF7] = {0x5DF7, CP_STREET}, /* 道 巷 */
    [0x04] = {0x5F04, CP_STREET}, [0x51] = {0x6751, CP_STREET}, /* 弄 村 */
    [0x47] = {0x9547, CP_STREET}, [0x61] = {0x4E61, CP_STREET}, /* 镇 乡 */
    [0x07] = {0x3007, CP_NUMERAL}, [0xF6] = {0x96F6, CP_NUMERAL}, /* 〇 零 */
    [0x00] = {0x4E00, CP_NUMERAL}, [0x8C] = {0x4E8C, CP_NUMERAL}, /* 一 二 */
    [0x09] = {0x4E09, CP_NUMERAL}, [0xDB] = {0x56DB, CP_NUMERAL}, /* 三 四 */
    [0x94] = {0x4E94, CP_NUMERAL}, [0x6D] = {0x516D, CP_NUMERAL}, /* 五 六 */
    [0x03] = {0x4E03, CP_NUMERAL}, [0x6B] = {0x516B, CP_NUMERAL}, /* 七 八 */
    [0x5D] = {0x4E5D, CP_NUMERAL}, [0x41] = {0x5341, CP_NUMERAL}, /* 九 十 */
    [0x7E] = {0x767E, CP_NUMERAL}, [0x43] = {0x5343, CP_NUMERAL}, /* 百 千 */
    [0x24] = {0x4E24, CP_NUMERAL},                               /* 两 */
};

static int cp_kind(long cp)
{
    if (cp >= '0' && cp <= '9') return CP_NUMERAL;
    const struct cp_entry *e = &cp_table[cp & 0xff];
    return e->cp == cp ? e->kind : 0;
}

bool validate_cn_address(const uint8_t *v, size_t len)
{
    if (!v || len == 0 || has_mask_char(v, len)) return false;
    int stage = 0; /* 0: want admin, 1: want street, 2: want number+号, 3: done */
    bool prev_number = false;
    size_t i = 0;
    while (i < len) {
        long cp;
        uint8_t c = v[i];
        if (c < 0x80) {
            /* ASCII: only a digit matters (a numeral before 号) */
            i++;
            prev_number = c >= '0' && c <= '9';
            continue;
        }
        if ((c & 0xf0) == 0xe0 && len - i >= 3 && (v[i + 1] & 0xc0) == 0x80 &&
            (v[i + 2] & 0xc0) == 0x80) {
            /* the usual case, a three-byte character, decoded in place */
            cp = (long)(c & 0x0f) << 12 | (long)(v[i + 1] & 0x3f) << 6 | (v[i + 2] & 0x3f);
            if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return false;
            i += 3;
        } else {
            cp = utf8_next(v, len, &i);
            if (cp < 0) return false;
        }
        int k = cp_kind(cp);
        if (stage == 0 && (k & CP_ADMIN))
            stage = 1;
        else if (stage == 1 && (k & CP_STREET))
            stage = 2;
        else if (stage == 2 && cp == CP_HAO && prev_number)
            stage = 3;
        prev_number = (k & CP_NUMERAL) != 0;
    }
    return stage == 3;
}

/* The shipped address regex (docs/rules.md, cn_address) read backwards:
 *   (?:[\xe4-\xe9][\x80-\xbf]{2}){2,6}(?:省|市|区|县)BODY{2,24}号
 * with BODY = a CJK character other than 号, or [0-9A-Za-z-]. Hyperscan finds
 * only the 号 (a literal, which its prefilter does at memory speed); this
 * recovers the leftmost start of a match ending there, as start-of-match
 * would, in one backward pass over at most 96 bytes. Byte-level like the
 * regex: a "CJK character" is a lead byte E4-E9 and two bytes 80-BF. The
 * walk reads byte classes from a table and whole characters as one 24-bit
 * number, so each step is a few loads and one test, not a chain of range
 * compares the data decides. */
enum { AC_BODY = 1, AC_LEAD = 2, AC_CONT = 4 };

static const uint8_t addr_cls[256] = {
    ['0' ... '9'] = AC_BODY, ['A' ... 'Z'] = AC_BODY, ['a' ... 'z'] = AC_BODY,
    ['-'] = AC_BODY,         [0x80 ... 0xbf] = AC_CONT, [0xe4 ... 0xe9] = AC_LEAD,
};

#define U24_HAO 0xe58fb7u /* 号 */

static inline uint32_t u24(const uint8_t *u)
{
    return (uint32_t)u[0] << 16 | (uint32_t)u[1] << 8 | u[2];
}

/* The three bytes ending at end are a CJK character. */
static inline bool cjk_unit(const uint8_t *w, size_t end)
{
    return end >= 3 &&
           (addr_cls[w[end - 3]] & (addr_cls[w[end - 2]] & addr_cls[w[end - 1]]) >> 1 & AC_LEAD);
}

static inline bool hao_at(const uint8_t *w, size_t end)
{
    return end >= 3 && u24(w + end - 3) == U24_HAO;
}

/* The code point's kind (cp_kind) of the CJK character whose three bytes
 * end at end. */
static inline int cjk_kind(const uint8_t *w, size_t end)
{
    const uint8_t *u = w + end - 3;
    return cp_kind((long)(u[0] & 0x0f) << 12 | (long)(u[1] & 0x3f) << 6 | (u[2] & 0x3f));
}

/* An admin marker waiting for the length of the CJK run before it. */
struct adm_wait {
    size_t start;
    unsigned at; /* CJK units of the run up to and including it */
    bool checked;
};

/* The run of CJK units ended at run units: each waiting admin with 2 or
 * more of them before it (6 taken at most) starts a match; the last one
 * (leftmost) stands. */
static void adm_settle(const struct adm_wait *adm, unsigned n_adm, unsigned run, long *best,
                       bool *checked)
{
    for (unsigned i = 0; i < n_adm; i++) {
        unsigned c = run - adm[i].at;
        if (c >= 2) {
            *best = (long)(adm[i].start - 3 * (c > 6 ? 6 : c));
            *checked = adm[i].checked;
        }
    }
}

long validate_cn_address_find(const uint8_t *w, size_t n, bool *checked)
{
    *checked = false;
    if (!w || !hao_at(w, n)) return -1;
    size_t q = n - 3; /* end of the body */
    long best = -1;
    /* What validate_cn_address would say, learnt on the way: the body's
     * last unit is a numeral (so 号 completes a house number) and a street
     * marker comes somewhere in the body (after the admin marker that
     * starts it). Then admin < street < numeral 号 holds in order, and the
     * value is made of whole CJK characters and ASCII body bytes only, so
     * it is valid UTF-8 without '*': the validator would accept it. */
    bool numeral_last = false, street = false;
    /* An admin marker's prefix is the run of CJK characters before it (2
     * to 6 taken), and the walk goes over those same characters next: so
     * admins wait here with their place in the current run of CJK units,
     * and are settled when the run ends (one pass, no walk back per
     * admin). The last settled with a prefix of 2 or more (the leftmost
     * start) is the answer. */
    struct adm_wait adm[25];
    unsigned n_adm = 0, run = 0;
    bool stopped_in_run = false; /* the walk ended on a CJK unit: the run may go on */
    for (int k = 0;; k++) {
        /* q is the end of the k-th body unit back; the unit before it is an
         * ASCII body byte, a CJK character (a marker?), or the end */
        if (q >= 1 && (addr_cls[w[q - 1]] & AC_BODY)) {
            adm_settle(adm, n_adm, run, &best, checked); /* the run ends here */
            n_adm = 0;
            run = 0;
            if (k == 24) break;
            if (k == 0) numeral_last = w[q - 1] >= '0' && w[q - 1] <= '9';
            q -= 1;
            continue;
        }
        if (!cjk_unit(w, q)) break;
        run++;
        int kind = cjk_kind(w, q);
        if (k >= 2 && (kind & CP_ADMIN))
            adm[n_adm++] = (struct adm_wait){q - 3, run, numeral_last && street};
        if (k == 24 || u24(w + q - 3) == U24_HAO) {
            stopped_in_run = true;
            q -= 3;
            break;
        }
        if (k == 0) numeral_last = (kind & CP_NUMERAL) != 0;
        street |= (kind & CP_STREET) != 0;
        q -= 3;
    }
    if (n_adm) {
        /* the prefix of the waiting admins may go on past where the body
         * ended (past 24 units or a 号): at most 6 more CJK units */
        if (stopped_in_run)
            for (unsigned more = 0; more < 6 && cjk_unit(w, q); more++, q -= 3)
                run++;
        adm_settle(adm, n_adm, run, &best, checked);
    }
    return best;
}

/* --- courier waybills ---------------------------------------------------- */

/* Domestic waybill numbers carry no check digit, so this can only turn away
 * what is clearly not a real number: masked values, placeholders made of one
 * repeated digit (0000000000000), and runs too short or too long. */
static bool validate_waybill(const uint8_t *v, size_t len)
{
    if (!v || len < 10 || len > 30) return false;
    size_t digits = 0;
    uint8_t first = 0;
    bool varied = false;
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum(v[i])) return false;
        if (!is_digit(v[i])) continue;
        if (digits == 0)
            first = v[i];
        else if (v[i] != first)
            varied = true;
        digits++;
    }
    return digits >= 10 && varied;
}

/* --- table ----------------------------------------------------------------- */

static const struct validator validators[] = {
    {"cn_mobile", validate_cn_mobile,
     "mainland mobile: 11 ASCII digits with a prefix allocated in libphonenumber's CN metadata "
     "(13x 145 147 15x-154 162 165-167 1610x 170-173 175-178 17400-17405 18x 19x-194), also "
     "written 3-4-4 with '-' or ' ', after +86/0086 or '86 '; the record is the 11 digits",
     validate_cn_mobile_norm, NULL},
    {"gb11643", validate_gb11643,
     "resident ID (GB 11643-1999): 18 characters, real province code, real birth date "
     "1900-01-01..2030-12-31, ISO 7064 MOD 11-2 check character (X or x)"},
    {"cn_landline", validate_cn_landline,
     "landline: 0 + area code (10, 2x, or 3x-9x with 3 digits; not 400/800) + optional '-' "
     "or ' ' + 7-8 digit local number not starting with 0 or 1"},
    {"s10", validate_s10,
     "UPU S10 international item: 2 capital letters, 8 digits, check digit (weights 8 6 4 2 3 "
     "5 9 7), 2 capital letters"},
    {"cn_address", validate_cn_address,
     "postal address: valid UTF-8 with, in order, 省/市/区/县, then 路/街/道/巷/弄/村/镇/乡, then "
     "a digit or Chinese numeral directly followed by 号; finds its own start looking back from "
     "号 (2-6 CJK, 省/市/区/县, 2-24 CJK-but-号/alnum/-, 号)",
     NULL, validate_cn_address_find},
    {"waybill", validate_waybill,
     "courier waybill: 10-30 ASCII letters/digits with at least 10 digits, not all the same "
     "digit (no check digit exists to verify)"},
};

int validate_find(const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < N_OF(validators); i++)
        if (strcmp(validators[i].name, name) == 0) return (int)i;
    return -1;
}

const struct validator *validate_get(int idx)
{
    if (idx < 0 || (size_t)idx >= N_OF(validators)) return NULL;
    return &validators[idx];
}

int validate_count(void)
{
    return (int)N_OF(validators);
}
