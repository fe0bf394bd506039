/* decompress.h - streaming decoder for HTTP content codings (gzip, x-gzip,
 * deflate on zlib; br on libbrotli; zstd on libzstd), one struct decomp per
 * message body.
 *
 * Wire bytes enter by decomp_feed() in order, split anywhere; decoded bytes
 * leave through the sink given to decomp_new(), at most DECOMP_OUT_CHUNK bytes
 * per call. Stacked codings are layers: the output of layer 0 feeds layer 1,
 * and so on. "deflate" is detected per layer as zlib-wrapped or raw from its
 * first two bytes; gzip accepts concatenated members and ignores trailing
 * bytes that do not start a new member.
 *
 * Caps: total output (max_out) and output/input ratio (max_ratio, input being
 * the wire bytes layer 0 has consumed). When a cap would be passed, the sink
 * gets output exactly up to it and decoding stops for good (DECOMP_CAP or
 * DECOMP_RATIO); later input is dropped. On a decode error (DECOMP_FAILED) the
 * undecodable input is passed to the sink raw: the whole body so far if
 * nothing had been decoded yet and it was short (DECOMP_RETAIN bytes),
 * otherwise the current input from where layer 0 stopped. Every later
 * decomp_feed() passes its input through raw.
 *
 * Memory: one allocation of about sizeof(struct decomp) + n * 16 KiB, plus
 * each layer's decoder: zlib's state (about 7 KiB + a 32 KiB window), or
 * Brotli's (a window of up to 16 MiB, sized to the stream when it is
 * shorter), or zstd's (a window of up to 8 MiB: DECOMP_ZSTD_WLOG). Brotli's
 * and zstd's are charged to the budget given by decomp_set_budget(), if
 * any. Not thread-safe; one decoder belongs to one flow. */
#ifndef LH_DECOMPRESS_H
#define LH_DECOMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DECOMP_MAX_LAYERS 4
#define DECOMP_OUT_CHUNK 16384
#define DECOMP_RETAIN 512
#define DECOMP_HOLD_PIECES 4096          /* whole-body mode: at most this many feeds held */
#define DECOMP_WHOLE_MAX (8u << 20)      /* whole-body mode: at most this much output at once */

#define DECOMP_ZSTD_WLOG 23               /* zstd windows up to 8 MiB (RFC 8878 for HTTP) */
enum decomp_coding { DECOMP_GZIP = 1, DECOMP_DEFLATE = 2, DECOMP_BR = 3, DECOMP_ZSTD = 4 };

enum decomp_status {
    DECOMP_OK = 0,
    DECOMP_FAILED = 1, /* corrupt input (or abandoned): raw pass-through */
    DECOMP_CAP = 2,    /* max_out reached: decoding stopped */
    DECOMP_RATIO = 3,  /* max_ratio reached: decoding stopped */
};

typedef void (*decomp_sink)(void *ud, const uint8_t *data, size_t len);

struct decomp;

/* codings[0] is undone first (it is the coding applied last by the sender).
 * n is 1..DECOMP_MAX_LAYERS. max_out 0 or max_ratio 0 means no such cap.
 * Returns NULL on ENOMEM or bad arguments. */
struct decomp *decomp_new(const uint8_t *codings, size_t n, uint64_t max_out, uint32_t max_ratio,
                          decomp_sink sink, void *ud);

/* Decodes len wire bytes, calling the sink for output. Returns the status
 * after the call; once not DECOMP_OK it stays so. */
enum decomp_status decomp_feed(struct decomp *d, const uint8_t *in, size_t len);

/* Whole-body mode, for one gzip layer only (-1 otherwise, or once input
 * came): wire bytes are held, up to max bytes, and decoded at once by
 * decomp_finish() with libdeflate, which inflates about 2.4 times as fast as
 * zlib. That is done only for one gzip member ending at the end, with a
 * right CRC, whose trailer's size is within max_out, DECOMP_WHOLE_MAX and
 * max_ratio times the held bytes; then the sink sees what streaming would
 * give, except that the ratio cap is applied to the whole body rather than
 * as it arrives (a body whose first part alone passes max_ratio is
 * inflated in full). Anything else, and a body that grows past max (or
 * DECOMP_HOLD_PIECES feeds) or gets a hole, is fed to the streaming decoder
 * piece by piece as it came. Until then decomp_feed() returns the status
 * (DECOMP_OK) and the sink is not called. expect, when not 0, is the body's
 * wire length if known (Content-Length): the buffer is made that size at
 * once. */
int decomp_hold(struct decomp *d, size_t max, size_t expect);

/* Charges the memory of this body's Brotli and zstd decoders to *used,
 * which other decoders may share (zlib's fixed ~40 KiB are not charged).
 * Past cap (0: none) a Brotli decoder is refused its allocation and a zstd
 * context that has grown is let go: the body fails (DECOMP_FAILED, raw
 * pass-through) and *refused (if not NULL) counts it. Call before the first
 * decomp_feed(); returns -1 after. *used must outlive the decoder: freeing
 * gives back what it holds. */
int decomp_set_budget(struct decomp *d, uint64_t *used, uint64_t cap, uint64_t *refused);
/* Whole-body mode is on and has not handed over to streaming yet. */
bool decomp_holding(const struct decomp *d);

/* The body ended (complete or cut short): decodes what whole-body mode
 * holds. Returns the status. Streaming decoders are unaffected. */
enum decomp_status decomp_finish(struct decomp *d);

/* decomp_finish() inflated the body at once. */
bool decomp_was_whole(const struct decomp *d);

/* The input has a hole (a lost segment): decoding cannot go on. From now on
 * input passes through raw, as after an error. No effect unless DECOMP_OK. */
void decomp_abandon(struct decomp *d);

enum decomp_status decomp_get_status(const struct decomp *d);

/* Frees zlib state and the decoder. Accepts NULL. */
void decomp_free(struct decomp *d);

#endif
