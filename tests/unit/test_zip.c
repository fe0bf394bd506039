/* test_zip.c - parsers/zip on archives built here with zlib: members
 * stored and deflated, sizes in the header or in a data descriptor (with
 * and without its signature, ZIP64), members skipped, caps, input that
 * stops being a ZIP. Every archive is also fed split in two at every byte
 * and as 1-byte pieces, and must give the same output and status. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "parsers/zip.h"

#define CAP (1u << 20)

static uint8_t A[CAP];
static size_t alen;

static void put16(uint16_t v)
{
    A[alen++] = (uint8_t)v;
    A[alen++] = (uint8_t)(v >> 8);
}

static void put32(uint32_t v)
{
    put16((uint16_t)v);
    put16((uint16_t)(v >> 16));
}

static void put(const void *d, size_t n)
{
    memcpy(A + alen, d, n);
    alen += n;
}

static size_t deflate_raw(const char *in, uint8_t *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)strlen(in);
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    deflate(&zs, Z_FINISH);
    size_t n = zs.total_out;
    deflateEnd(&zs);
    return n;
}

enum { DESC_NONE, DESC_SIG, DESC_NOSIG, DESC_ZIP64 };

/* One member: method 0 or 8 (or another, stored bytes), its sizes in the
 * header or in a descriptor after the data; flags adds bits (1: encrypted). */
static void member(const char *name, const char *content, int method, int desc, uint16_t flags)
{
    static uint8_t data[65536];
    size_t n = method == 8 ? deflate_raw(content, data, sizeof(data)) : strlen(content);
    if (method != 8) memcpy(data, content, n);
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)content, (uInt)strlen(content));
    put32(0x04034b50);
    put16(20);
    put16((uint16_t)(flags | (desc ? 8 : 0)));
    put16((uint16_t)method);
    put32(0);
    put32(desc ? 0 : crc);
    put32(desc ? 0 : (uint32_t)n);
    put32(desc ? 0 : (uint32_t)strlen(content));
    put16((uint16_t)strlen(name));
    put16(4);
    put(name, strlen(name));
    put("\x99\x99\x00\x00", 4); /* an empty extra field of no known kind */
    put(data, n);
    if (desc == DESC_SIG || desc == DESC_ZIP64) put32(0x08074b50);
    if (desc) put32(crc);
    if (desc == DESC_ZIP64) {
        put32((uint32_t)n), put32(0);
        put32((uint32_t)strlen(content)), put32(0);
    } else if (desc) {
        put32((uint32_t)n);
        put32((uint32_t)strlen(content));
    }
}

#define CENTRAL "central directory entries, multipart's end"

static void central(void)
{
    put32(0x02014b50);
    put(CENTRAL, strlen(CENTRAL));
}

struct out {
    uint8_t b[CAP];
    size_t n;
};

static struct out O;

static void sink(void *ud, const uint8_t *d, size_t n)
{
    struct out *o = ud;
    if (o->n + n <= CAP) memcpy(o->b + o->n, d, n);
    o->n += n;
}

static enum zip_status run(const struct zip_config *cfg, size_t cut, int bytewise,
                           struct zip_stats *st)
{
    O.n = 0;
    struct zip *z = zip_new(cfg, sink, &O);
    if (!z) return ZIP_FAILED;
    if (bytewise) {
        for (size_t i = 0; i < alen; i++)
            zip_feed(z, A + i, 1);
    } else {
        zip_feed(z, A, cut);
        zip_feed(z, A + cut, alen - cut);
    }
    enum zip_status s = zip_status(z);
    if (st) *st = *zip_stats(z);
    zip_free(z);
    return s;
}

/* the whole archive, then every split and 1-byte pieces: all the same */
static enum zip_status run_all(const char *name, const struct zip_config *cfg, struct out *ref,
                               struct zip_stats *st)
{
    enum zip_status s = run(cfg, alen, 0, st);
    memcpy(ref->b, O.b, O.n < CAP ? O.n : CAP);
    ref->n = O.n;
    int bad = 0;
    for (size_t cut = 0; cut <= alen; cut++) {
        enum zip_status s2 = run(cfg, cut, 0, NULL);
        if (s2 != s || O.n != ref->n || memcmp(O.b, ref->b, O.n) != 0) bad++;
    }
    enum zip_status s3 = run(cfg, 0, 1, NULL);
    if (s3 != s || O.n != ref->n || memcmp(O.b, ref->b, O.n) != 0) bad++;
    if (bad) fprintf(stderr, "%s: %d splits differ\n", name, bad);
    CHECK_EQ(bad, 0);
    return s;
}

static struct out R;

static int out_is(const char *want)
{
    return R.n == strlen(want) && memcmp(R.b, want, R.n) == 0;
}

#define SHEET "<sheetData><row><c t=\"s\"><v>0</v></c><c><v>13812345678</v></c></row></sheetData>"
#define STRINGS "<sst><si><t>广东省深圳市南山区科技园路1号</t></si></sst>"

int main(void)
{
    struct zip_stats st;
    struct zip_config none = {0};

    /* an .xlsx-like archive: deflated members, sizes in their headers */
    alen = 0;
    member("xl/sharedStrings.xml", STRINGS, 8, DESC_NONE, 0);
    member("xl/worksheets/sheet1.xml", SHEET, 8, DESC_NONE, 0);
    central();
    CHECK_EQ(run_all("sized", &none, &R, &st), ZIP_DONE);
    /* the central directory and what follows go on as they are */
    CHECK(out_is(STRINGS "\n" SHEET "\n" CENTRAL));
    CHECK_EQ(st.members, 2);
    CHECK(zip_magic(A, alen) && !zip_magic((const uint8_t *)"PK\3", 3));

    /* written by a streaming tool: sizes after the data, in each of the
     * descriptor's forms; a stored member; no central directory (cut) */
    alen = 0;
    member("a.xml", STRINGS, 8, DESC_SIG, 0);
    member("b.xml", SHEET, 8, DESC_NOSIG, 0);
    member("c.txt", "stored 13912345678", 0, DESC_NONE, 0);
    member("d.xml", SHEET, 8, DESC_ZIP64, 0);
    CHECK_EQ(run_all("descriptors", &none, &R, &st), ZIP_OK);
    CHECK(out_is(STRINGS "\n" SHEET "\nstored 13912345678\n" SHEET "\n"));
    CHECK_EQ(st.members, 4);

    /* members that cannot be read but have a size are passed over */
    alen = 0;
    member("secret.xml", "encrypted bytes 13812345678", 0, DESC_NONE, 1);
    member("x.bz2", "another method 13812345678", 12, DESC_NONE, 0);
    member("ok.xml", SHEET, 8, DESC_NONE, 0);
    central();
    CHECK_EQ(run_all("skipped", &none, &R, &st), ZIP_DONE);
    CHECK(out_is(SHEET "\n" CENTRAL));
    CHECK_EQ(st.skipped, 2);
    CHECK_EQ(st.members, 1);

    /* one of unknown size that cannot be decoded: nothing after it */
    alen = 0;
    member("ok.xml", SHEET, 8, DESC_NONE, 0);
    member("x.bz2", "another method", 12, DESC_SIG, 0);
    member("lost.xml", STRINGS, 8, DESC_NONE, 0);
    CHECK_EQ(run_all("unreadable", &none, &R, &st), ZIP_UNREADABLE);
    CHECK(out_is(SHEET "\n"));

    /* not a ZIP where the next header should be: the rest goes on raw */
    alen = 0;
    member("ok.xml", SHEET, 8, DESC_NONE, 0);
    put("this is no header at all, 13812345678 and more text after it", 61);
    CHECK_EQ(run_all("garbage", &none, &R, &st), ZIP_FAILED);
    CHECK(R.n > strlen(SHEET) + 1 && memcmp(R.b, SHEET "\n", strlen(SHEET) + 1) == 0);
    CHECK(memmem(R.b, R.n, "13812345678 and more text after it", 34) != NULL);

    /* corrupt deflate data: what decoded, then the rest raw */
    alen = 0;
    member("ok.xml", SHEET, 8, DESC_NONE, 0);
    size_t at = alen;
    member("bad.xml", STRINGS, 8, DESC_NONE, 0);
    memset(A + at + 30 + 7 + 4, 0xff, 8); /* the deflate stream's first bytes */
    CHECK_EQ(run(&none, alen, 0, NULL), ZIP_FAILED);
    CHECK(O.n > strlen(SHEET) + 1 && memcmp(O.b, SHEET "\n", strlen(SHEET) + 1) == 0);

    /* caps: output, members, ratio */
    alen = 0;
    member("a.xml", SHEET, 8, DESC_NONE, 0);
    member("b.xml", SHEET, 8, DESC_NONE, 0);
    member("c.xml", SHEET, 8, DESC_NONE, 0);
    central();
    struct zip_config out_cap = {.max_out = 100};
    CHECK_EQ(run_all("out cap", &out_cap, &R, &st), ZIP_CAP);
    CHECK_EQ(R.n, 100);
    struct zip_config mem_cap = {.max_members = 2};
    CHECK_EQ(run_all("member cap", &mem_cap, &R, &st), ZIP_CAP);
    CHECK(out_is(SHEET "\n" SHEET "\n"));
    static char zeros[200001];
    memset(zeros, '0', sizeof(zeros) - 1);
    alen = 0;
    member("bomb.xml", zeros, 8, DESC_NONE, 0);
    struct zip_config ratio = {.max_ratio = 20};
    CHECK_EQ(run(&ratio, alen, 0, NULL), ZIP_CAP);
    CHECK(O.n <= 20 * alen && O.n < 200000);

    /* a hole: raw from there */
    alen = 0;
    member("a.xml", SHEET, 8, DESC_NONE, 0);
    O.n = 0;
    struct zip *z = zip_new(NULL, sink, &O);
    zip_feed(z, A, 40);
    zip_abandon(z);
    zip_feed(z, A + 40, alen - 40);
    CHECK_EQ(zip_status(z), ZIP_FAILED);
    CHECK_EQ(O.n, alen - 40);
    zip_free(z);
    zip_free(NULL);
    return check_done();
}
