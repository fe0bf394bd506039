/* charset.h - bodies in the Chinese national encodings (GBK, GB2312,
 * GB18030) turned into UTF-8 as they stream, so that patterns written for
 * UTF-8 (addresses, names) find them.
 *
 * A body whose Content-Type names such a charset (charset_of()) is fed to
 * charset_feed() in pieces of any size, with a struct charset_carry of its
 * own that holds a character cut by the piece's end (at most 3 bytes); the
 * UTF-8 leaves through the sink. One struct charset (an iconv(3)
 * descriptor from GB18030, a superset of GBK and GB2312, and a 16 KiB
 * output buffer) serves every body of a thread: GB18030 has no shift
 * states, so nothing else of a body is kept between pieces. Bytes that are
 * not GB18030 are handed on as they are (ASCII digits among them stay
 * digits), counted. */
#ifndef LH_CHARSET_H
#define LH_CHARSET_H

#include <stddef.h>
#include <stdint.h>

enum charset_kind {
    CHARSET_OTHER = 0,   /* UTF-8 or another charset, declared or implied */
    CHARSET_GB18030 = 1, /* GBK, GB2312 or GB18030 */
    CHARSET_NONE = 2,    /* not said: an HTML page may say it in its head */
    CHARSET_GUESS = 3,   /* not said, and a file that may well be GBK (CSV, text) */
};

/* What the charset parameter of a Content-Type value (len bytes, no
 * terminator needed) names: CHARSET_GB18030 for gbk, gb2312, gb18030,
 * x-gbk, cp936, windows-936, euc-cn (any case, quoted or not); with no
 * charset parameter CHARSET_GUESS for text/csv, text/plain,
 * application/csv, application/vnd.ms-excel and application/octet-stream
 * (files an Excel user saves, often in GBK), CHARSET_OTHER for JSON (UTF-8
 * by RFC 8259) and CHARSET_NONE for the rest; otherwise CHARSET_OTHER. */
enum charset_kind charset_of(const char *content_type, size_t len);

/* An HTML page's own say, for a body whose Content-Type has no charset:
 * the first "charset=" in its first 1024 bytes (where HTML puts `<meta
 * charset=gbk>` or the http-equiv form), if the body opens with '<' after
 * blanks. CHARSET_OTHER for anything else. */
enum charset_kind charset_sniff_html(const uint8_t *d, size_t len);

/* A body that did not say (CHARSET_GUESS): GB18030 when its first 4 KiB
 * hold at least 8 bytes past ASCII, are not UTF-8, and are well-formed
 * GB18030 (a character cut at the end allowed). CHARSET_OTHER otherwise. */
enum charset_kind charset_guess(const uint8_t *d, size_t len);

struct charset_carry {
    uint8_t n;
    uint8_t b[3];
};

typedef void (*charset_sink)(void *ud, const uint8_t *data, size_t len);

struct charset;

/* NULL when iconv has no GB18030 (or no memory). */
struct charset *charset_new(void);
void charset_free(struct charset *c); /* accepts NULL */

/* Converts len bytes of a body (after what cr carries) to UTF-8 into sink;
 * a character cut at the end waits in cr. Returns the bytes that were not
 * GB18030 and went on as they were. */
uint64_t charset_feed(struct charset *c, struct charset_carry *cr, const uint8_t *in, size_t len,
                      charset_sink sink, void *ud);
/* The body ended: what cr still carries goes on as it is. */
void charset_end(struct charset_carry *cr, charset_sink sink, void *ud);

#endif
