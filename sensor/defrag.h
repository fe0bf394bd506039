/* defrag.h - IPv4 and IPv6 fragment reassembly, private to the decoder.
 *
 * The decoder parses the IP header and hands each fragment here with its
 * datagram key. Fragment data is copied into memory the defragmenter owns
 * (within struct defrag_config's caps); when a datagram is complete it is
 * rebuilt as one unfragmented IP datagram in a buffer the defragmenter owns
 * and the caller decodes it from there. The output buffer is valid until the
 * next defrag_add() call. Every refusal is counted into the caller's event
 * array (DEC_FRAG_*); nothing is logged. */
#ifndef LH_DEFRAG_H
#define LH_DEFRAG_H

#include <stdint.h>

#include "sensor/decode.h"

/* Identity of a datagram. Callers memset it to zero before filling so it can
 * be hashed and compared as bytes (no implicit padding). */
struct defrag_key {
    uint8_t src[16], dst[16]; /* v4-mapped for IPv4 */
    uint32_t id;              /* IPv4: 16-bit id; IPv6: 32-bit id */
    uint16_t vlan[PKT_MAX_VLAN];
    uint8_t vlan_n;
    uint8_t ver;   /* 4 or 6 */
    uint8_t proto; /* IPv4 protocol; IPv6 next header after the fragment header */
    uint8_t pad;
};

/* One fragment as seen on the wire. */
struct defrag_frag {
    /* IPv4: the IP header with options. IPv6: the fixed header and every
     * extension header before the fragment header (the unfragmentable part).
     * Only the header of the fragment at offset 0 is kept. */
    const uint8_t *hdr;
    uint32_t hdr_len;
    uint32_t nh_off; /* IPv6: offset in hdr of the next-header byte naming the fragment header */
    uint32_t off;    /* byte offset of data in the fragmentable part */
    const uint8_t *data;
    uint32_t len;
    int more; /* more fragments follow (MF / M flag) */
};

enum defrag_result {
    DEFRAG_HELD = 0, /* kept; counted DEC_FRAG_HELD */
    DEFRAG_DONE = 1, /* out and out_len hold the whole datagram; counted DEC_FRAG_REASSEMBLED */
    DEFRAG_DROP = -1 /* refused; counted by reason (bad, too_big, memcap) */
};

struct defrag;

/* ev is the caller's event array (DECODE_EVENT_MAX counters); it must outlive
 * the defragmenter. Returns NULL on allocation failure. */
struct defrag *defrag_new(const struct defrag_config *cfg, uint64_t *ev);
void defrag_free(struct defrag *df); /* accepts NULL */

/* Adds one fragment at packet time now_us (datagrams older than the timeout
 * are expired first). On DEFRAG_DONE *out points into the defragmenter's
 * buffer, valid until the next defrag_add(). */
enum defrag_result defrag_add(struct defrag *df, const struct defrag_key *k,
                              const struct defrag_frag *f, uint64_t now_us, const uint8_t **out,
                              uint32_t *out_len);

/* Frees every datagram whose first fragment is older than the timeout at
 * now_us, counting DEC_FRAG_TIMEOUT for each. Can't fail. */
void defrag_expire(struct defrag *df, uint64_t now_us);

/* Bytes held now: datagram records, kept headers and fragment data. */
uint64_t defrag_memuse(const struct defrag *df);

#endif
