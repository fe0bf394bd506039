/* packet.h - the decoded view of one captured packet.
 *
 * A struct packet is filled by capture (time, bytes, link type, position in
 * the input) and then by decode (layers 2-4). It is a view: data, l3 and
 * payload point into libpcap's buffer or, for a reassembled IP datagram,
 * into the decoder's own buffer, and are valid only until the next packet
 * is read or decoded. Copy what you keep. */
#ifndef LH_PACKET_H
#define LH_PACKET_H

#include <stdint.h>

#define PKT_MAX_VLAN 2

/* An IP address in 16 bytes; IPv4 is stored v4-mapped (::ffff:a.b.c.d). */
struct lh_addr {
    uint8_t a[16];
};

/* TCP flag bits as on the wire. */
enum {
    TCP_FIN = 0x01,
    TCP_SYN = 0x02,
    TCP_RST = 0x04,
    TCP_PSH = 0x08,
    TCP_ACK = 0x10,
    TCP_URG = 0x20,
    TCP_ECE = 0x40,
    TCP_CWR = 0x80,
};

struct packet {
    /* set by capture */
    uint64_t ts_us;      /* packet time, microseconds since the epoch */
    uint64_t pcap_cnt;   /* 1-based number of the packet in the whole run */
    uint64_t file_pkt;   /* 1-based number of the packet in its file */
    uint32_t file_idx;   /* index of the input file (capture_file_name()) */
    uint32_t caplen;     /* bytes captured, never read past */
    uint32_t wirelen;    /* bytes on the wire */
    int linktype;        /* DLT_* of the source */
    const uint8_t *data; /* link-layer header */

    /* set by decode */
    uint16_t vlan[PKT_MAX_VLAN]; /* outermost first; 12-bit ids */
    uint8_t vlan_n;
    uint8_t ip_ver;   /* 4, 6, or 0 when not IP */
    uint8_t proto;    /* L4 protocol number (IPPROTO_*) */
    uint8_t ttl;      /* IPv4 TTL or IPv6 hop limit */
    struct lh_addr src, dst;
    uint16_t sport, dport; /* host order; ICMP: type, code */
    uint8_t tcp_flags;
    uint8_t reassembled; /* 1 when l3 points to a defragmented datagram */
    uint16_t tcp_win;
    uint32_t seq, ack; /* host order */
    uint16_t urg_ptr;
    uint8_t csum_bad;  /* 1 when an L3/L4 checksum was present and wrong */
    const uint8_t *l3; /* IP header start */
    uint32_t l3_len;   /* IP datagram bytes available from l3 */
    const uint8_t *payload; /* L4 payload */
    uint32_t payload_len;

    /* set by the pipeline's reader: the address pair's dispatch bucket */
    uint32_t pair_bucket;
};

#endif
