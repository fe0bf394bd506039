/* test_charset.c - parsers/charset: GB18030 (GBK) bodies to UTF-8, split
 * at every byte and in 1-byte pieces, with bytes that are not GB18030 and
 * a character cut by the body's end; and the Content-Type charsets that
 * name it. */
#include <string.h>

#include "check.h"
#include "parsers/charset.h"

static char out[4096];
static size_t on;

static void sink(void *ud, const uint8_t *d, size_t n)
{
    (void)ud;
    if (on + n < sizeof(out)) memcpy(out + on, d, n);
    on += n;
}

/* "广东省深圳市南山区科技园路1号 13812345678 ÿ€" in GB18030: two-byte
 * characters, ASCII, a four-byte one (ÿ) and € */
static const char GB[] = "\xb9\xe3\xb6\xab\xca\xa1\xc9\xee\xdb\xda\xca\xd0\xc4\xcf\xc9\xbd\xc7\xf8"
                         "\xbf\xc6\xbc\xbc\xd4\xb0\xc2\xb7\x31\xba\xc5\x20\x31\x33\x38\x31\x32\x33"
                         "\x34\x35\x36\x37\x38\x20\x81\x30\x8b\x37\xa2\xe3";
static const char UTF8[] = "广东省深圳市南山区科技园路1号 13812345678 ÿ€";

static uint64_t feed_cut(struct charset *c, const char *in, size_t len, size_t cut, int bytewise)
{
    struct charset_carry cr = {0};
    uint64_t bad = 0;
    on = 0;
    if (bytewise) {
        for (size_t i = 0; i < len; i++)
            bad += charset_feed(c, &cr, (const uint8_t *)in + i, 1, sink, NULL);
    } else {
        bad += charset_feed(c, &cr, (const uint8_t *)in, cut, sink, NULL);
        bad += charset_feed(c, &cr, (const uint8_t *)in + cut, len - cut, sink, NULL);
    }
    charset_end(&cr, sink, NULL);
    return bad;
}

int main(void)
{
    struct charset *c = charset_new();
    CHECK(c != NULL);
    if (!c) return check_done();
    size_t n = sizeof(GB) - 1;
    int bad_splits = 0;
    for (size_t cut = 0; cut <= n; cut++)
        if (feed_cut(c, GB, n, cut, 0) != 0 || on != strlen(UTF8) || memcmp(out, UTF8, on) != 0)
            bad_splits++;
    if (feed_cut(c, GB, n, 0, 1) != 0 || on != strlen(UTF8) || memcmp(out, UTF8, on) != 0)
        bad_splits++;
    CHECK_EQ(bad_splits, 0);

    /* bytes that are not GB18030 go on as they are; the digits stay digits */
    static const char mixed[] = "\xb9\xe3\xff\x31\x33\x38\x80\xb6\xab";
    CHECK_EQ(feed_cut(c, mixed, sizeof(mixed) - 1, 3, 0), 2);
    CHECK(on == 3 + 1 + 3 + 1 + 3 && memcmp(out, "广\xff" "138\x80" "东", on) == 0);

    /* a character cut by the body's end goes on as it is */
    CHECK_EQ(feed_cut(c, "\x31\xb9", 2, 1, 0), 0);
    CHECK(on == 2 && memcmp(out, "1\xb9", 2) == 0);

    CHECK_EQ(charset_of("text/html; charset=GBK", sizeof("text/html; charset=GBK") - 1), CHARSET_GB18030);
    CHECK_EQ(charset_of("text/csv;charset=\"gb2312\"", sizeof("text/csv;charset=\"gb2312\"") - 1), CHARSET_GB18030);
    CHECK_EQ(charset_of("application/json; Charset = GB18030; x=1", sizeof("application/json; Charset = GB18030; x=1") - 1), CHARSET_GB18030);
    CHECK_EQ(charset_of("text/plain; format=flowed; charset=cp936", sizeof("text/plain; format=flowed; charset=cp936") - 1), CHARSET_GB18030);
    CHECK_EQ(charset_of("text/html; charset=utf-8", sizeof("text/html; charset=utf-8") - 1), CHARSET_OTHER);
    CHECK_EQ(charset_of("text/html; charset=gbkx", sizeof("text/html; charset=gbkx") - 1), CHARSET_OTHER);
    CHECK_EQ(charset_of("text/html", sizeof("text/html") - 1), CHARSET_NONE);
    CHECK_EQ(charset_of("text/csv", sizeof("text/csv") - 1), CHARSET_GUESS);
    CHECK_EQ(charset_of("application/octet-stream; name=a.csv",
                        sizeof("application/octet-stream; name=a.csv") - 1), CHARSET_GUESS);
    CHECK_EQ(charset_of("application/json", sizeof("application/json") - 1), CHARSET_OTHER);
    CHECK_EQ(charset_of("application/problem+json", sizeof("application/problem+json") - 1),
             CHARSET_OTHER);
    CHECK_EQ(charset_of("text/csv; charset=utf-8", sizeof("text/csv; charset=utf-8") - 1),
             CHARSET_OTHER);

    /* a file that did not say: GBK when it is not UTF-8 and is GB18030 */
    CHECK_EQ(charset_guess((const uint8_t *)GB, sizeof(GB) - 1), CHARSET_GB18030);
    CHECK_EQ(charset_guess((const uint8_t *)UTF8, sizeof(UTF8) - 1), CHARSET_OTHER);
    CHECK_EQ(charset_guess((const uint8_t *)"name,mobile\r\nzhang,13812345678\r\n", 32),
             CHARSET_OTHER); /* ASCII: nothing to convert */
    CHECK_EQ(charset_guess((const uint8_t *)"\xb9\xe3,1", 4), CHARSET_OTHER); /* too little */
    CHECK_EQ(charset_guess((const uint8_t *)"\xb9\xe3\xb6\xab\xca\xa1\xc9\xee\xff\xff", 10),
             CHARSET_OTHER); /* 0xff: neither */
    CHECK_EQ(charset_guess((const uint8_t *)GB, 5), CHARSET_OTHER); /* 2 characters and a cut one */
    CHECK_EQ(charset_of(NULL, 0), CHARSET_NONE);

    /* a page that says it in its head, where the header did not */
#define SNIFF(s) charset_sniff_html((const uint8_t *)(s), sizeof(s) - 1)
    CHECK_EQ(SNIFF("<!DOCTYPE html><html><head><meta charset=\"gbk\"><title>"), CHARSET_GB18030);
    CHECK_EQ(SNIFF("\r\n <html><head><META http-equiv=\"Content-Type\" "
                   "content=\"text/html; charset=GB2312\"/>"), CHARSET_GB18030);
    CHECK_EQ(SNIFF("<html><meta charset='gb18030'>"), CHARSET_GB18030);
    CHECK_EQ(SNIFF("<html><head><meta charset=utf-8>"), CHARSET_OTHER);
    CHECK_EQ(SNIFF("{\"html\": \"<meta charset=gbk>\"}"), CHARSET_OTHER); /* not a page */
    CHECK_EQ(SNIFF("\xef\xbb\xbf<html><meta charset=gbk>"), CHARSET_OTHER); /* a UTF-8 BOM */
    static char late[1100];
    memset(late, ' ', sizeof(late));
    late[0] = '<';
    memcpy(late + 1050, "charset=gbk", 11);
    CHECK_EQ(charset_sniff_html((const uint8_t *)late, sizeof(late)), CHARSET_OTHER); /* past 1024 */
    charset_free(c);
    charset_free(NULL);
    return check_done();
}
