/* decode.h - link, network and transport layer decoding.
 *
 * decode_packet() reads p->data/caplen/linktype and fills the layer fields of
 * struct packet. It never reads past caplen. IPv4 and IPv6 fragments are
 * handed to the defragmenter (defrag.h) owned by the decoder; when a datagram
 * completes, the packet's l3/payload point into the decoder's buffer (valid
 * until the next call). Malformed input is not an error: it is counted by
 * reason in struct decode_stats and the packet is reported as dropped. */
#ifndef LH_DECODE_H
#define LH_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "sensor/packet.h"

/* Every reason a packet is counted. X(name, "stats key") */
#define DECODE_EVENTS(X)                                                                           \
    X(LINK_UNSUPPORTED, "link_unsupported")                                                        \
    X(ETH_TRUNCATED, "eth_truncated")                                                              \
    X(VLAN_TRUNCATED, "vlan_truncated")                                                            \
    X(VLAN_TOO_MANY, "vlan_too_many")                                                              \
    X(MPLS_TRUNCATED, "mpls_truncated")                                                            \
    X(SLL_TRUNCATED, "sll_truncated")                                                              \
    X(NULL_TRUNCATED, "null_truncated")                                                            \
    X(PPP_TRUNCATED, "ppp_truncated")                                                              \
    X(ETHERTYPE_UNKNOWN, "ethertype_unknown")                                                      \
    X(IPV4_TRUNCATED, "ipv4_truncated")                                                            \
    X(IPV4_BAD_VERSION, "ipv4_bad_version")                                                        \
    X(IPV4_BAD_HLEN, "ipv4_bad_hlen")                                                              \
    X(IPV4_BAD_TOTLEN, "ipv4_bad_totlen")                                                          \
    X(IPV4_BAD_CSUM, "ipv4_bad_csum")                                                              \
    X(IPV6_TRUNCATED, "ipv6_truncated")                                                            \
    X(IPV6_BAD_VERSION, "ipv6_bad_version")                                                        \
    X(IPV6_BAD_EXTHDR, "ipv6_bad_exthdr")                                                          \
    X(FRAG_HELD, "frag_held")                                                                      \
    X(FRAG_REASSEMBLED, "frag_reassembled")                                                        \
    X(FRAG_OVERLAP, "frag_overlap")                                                                \
    X(FRAG_BAD, "frag_bad")                                                                        \
    X(FRAG_TOO_BIG, "frag_too_big")                                                                \
    X(FRAG_MEMCAP, "frag_memcap")                                                                  \
    X(FRAG_TIMEOUT, "frag_timeout")                                                                \
    X(TCP_TRUNCATED, "tcp_truncated")                                                              \
    X(TCP_BAD_HLEN, "tcp_bad_hlen")                                                                \
    X(TCP_BAD_CSUM, "tcp_bad_csum")                                                                \
    X(UDP_TRUNCATED, "udp_truncated")                                                              \
    X(UDP_BAD_LEN, "udp_bad_len")                                                                  \
    X(UDP_BAD_CSUM, "udp_bad_csum")                                                                \
    X(ICMP_TRUNCATED, "icmp_truncated")                                                            \
    X(TUNNEL_UNSUPPORTED, "tunnel_unsupported")

enum decode_event {
#define DECODE_ENUM(n, s) DEC_##n,
    DECODE_EVENTS(DECODE_ENUM)
#undef DECODE_ENUM
        DECODE_EVENT_MAX
};

/* Name of an event as used in stats ("ipv4_truncated"). Can't fail. */
const char *decode_event_name(enum decode_event ev);

struct decode_stats {
    uint64_t pkts, bytes;
    uint64_t ipv4, ipv6, tcp, udp, icmp, other_l4, non_ip;
    uint64_t vlan, mpls;
    uint64_t ev[DECODE_EVENT_MAX];
};

struct defrag_config {
    uint64_t memcap;          /* bytes held in incomplete datagrams, all of them */
    uint32_t max_datagrams;   /* incomplete datagrams tracked at once */
    uint32_t max_frags;       /* fragments per datagram */
    uint32_t timeout_us;      /* packet-time lifetime of an incomplete datagram */
};

struct decode_config {
    struct defrag_config defrag;
    int verify_checksums; /* count bad L3/L4 checksums (p->csum_bad) */
};

/* Defaults: memcap 32 MiB, 4096 datagrams, 256 frags each, 30 s. */
void decode_config_default(struct decode_config *cfg);

struct decoder;

/* Returns a decoder or NULL on allocation failure. Free with decoder_free. */
struct decoder *decoder_new(const struct decode_config *cfg);
void decoder_free(struct decoder *d); /* accepts NULL */

enum decode_result {
    DECODE_OK = 0,    /* layers filled; p->proto tells which L4 */
    DECODE_HELD = 1,  /* an IP fragment was kept, nothing to deliver yet */
    DECODE_DROP = -1, /* malformed or unsupported; counted */
};

/* Decodes p in place. Counts into the decoder's stats. Packet time p->ts_us
 * also expires old fragments. */
enum decode_result decode_packet(struct decoder *d, struct packet *p);

/* Expire incomplete datagrams older than the timeout at packet time now_us. */
void decoder_expire(struct decoder *d, uint64_t now_us);

const struct decode_stats *decoder_stats(const struct decoder *d);
/* Bytes held by the defragmenter now. */
uint64_t decoder_memuse(const struct decoder *d);

#endif
