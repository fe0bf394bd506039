/* fuzz_decode.c - packet decoding from raw link-layer bytes, with IP defragmentation.
 *
 * Input: byte 0 picks the link type (low 4 bits, modulo the table below),
 * whether the capture was cut by a snap length (0x10) and whether checksums
 * are verified (0x20 clear). The rest is decoded twice:
 *   1. as one packet;
 *   2. as a run of packets, each a record [len:2 big-endian][bytes], so
 *      fragments of one datagram can arrive in several packets and
 *      reassemble. A record length with bit 15 set also moves packet time on
 *      by 2 s, past the defragmenter's timeout, so expiry runs too.
 * The decoder has small defragmentation caps so that they are hit.
 * Checks: a delivered packet's layer pointers stay inside its bytes (or the
 * decoder's buffer for a reassembled datagram, whose every byte is read so
 * ASan sees it), and the defragmenter never holds more than its memcap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int links[] = {
    1,   /* EN10MB */
    0,   /* NULL */
    12,  /* RAW */
    113, /* LINUX_SLL */
    276, /* LINUX_SLL2 */
    9,   /* PPP */
    228, /* IPV4 */
    229, /* IPV6 */
    101, /* LINKTYPE_RAW */
    104, /* C_HDLC */
    108, /* LOOP */
    50,  /* PPP_SERIAL */
    14,  /* RAW (OpenBSD) */
    147, /* a user DLT nobody decodes */
};
#define N_LINKS (sizeof(links) / sizeof(links[0]))
#define MEMCAP 16384

static volatile uint8_t sink;

static void check_inside(const uint8_t *base, size_t len, const uint8_t *p, size_t plen)
{
    if (!p) {
        if (plen)
            abort();
        return;
    }
    if (p < base || p > base + len || plen > (size_t)(base + len - p))
        abort();
}

static void decode_one(struct decoder *d, int link, int snapped, uint64_t ts, const uint8_t *b,
                       size_t len)
{
    /* own copy of exactly len bytes: a read past caplen is an ASan report */
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    if (len)
        memcpy(copy, b, len);
    struct packet p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts;
    p.linktype = link;
    p.data = copy;
    p.caplen = (uint32_t)len;
    p.wirelen = (uint32_t)len + (snapped ? 1000u : 0u);
    enum decode_result r = decode_packet(d, &p);
    if (r == DECODE_OK) {
        if (p.ip_ver != 4 && p.ip_ver != 6)
            abort();
        if (!p.reassembled) {
            check_inside(copy, len, p.l3, p.l3_len);
            check_inside(copy, len, p.payload, p.payload_len);
        } else {
            /* the datagram is in the decoder's buffer: touch every byte */
            uint8_t x = 0;
            for (uint32_t i = 0; i < p.l3_len; i++)
                x ^= p.l3[i];
            for (uint32_t i = 0; i < p.payload_len; i++)
                x ^= p.payload[i];
            sink = x;
            if (p.payload && p.l3 && (p.payload < p.l3 || p.payload + p.payload_len > p.l3 + p.l3_len))
                abort();
        }
    }
    if (decoder_memuse(d) > MEMCAP + 65536)
        abort(); /* a few records of bookkeeping over the data cap at most */
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct decode_config cfg;
    decode_config_default(&cfg);
    cfg.defrag.memcap = MEMCAP;
    cfg.defrag.max_datagrams = 4;
    cfg.defrag.max_frags = 8;
    cfg.defrag.timeout_us = 1000000;
    cfg.verify_checksums = !(data[0] & 0x20);
    int link = links[(data[0] & 0x0f) % N_LINKS];
    int snapped = (data[0] & 0x10) != 0;
    struct decoder *d = decoder_new(&cfg);
    if (!d)
        return 0;
    data++;
    size--;

    uint64_t ts = 1700000000000000ull;
    decode_one(d, link, snapped, ts, data, size);

    size_t off = 0;
    while (off + 2 <= size) {
        unsigned v = (unsigned)data[off] << 8 | data[off + 1];
        off += 2;
        size_t len = v & 0x7fff;
        if (len > size - off)
            len = size - off;
        ts += (v & 0x8000) ? 2000000 : 1000;
        decode_one(d, link, snapped, ts, data + off, len);
        off += len;
    }
    decoder_expire(d, ts + 10000000);
    if (decoder_memuse(d) != 0)
        abort(); /* everything expired: nothing may still be held */

    const struct decode_stats *st = decoder_stats(d);
    if (st->pkts == 0)
        abort();
    decoder_free(d);
    return 0;
}
