/* pkt.h - the capture writer: Ethernet/IPv4/IPv6 frames with TCP or UDP,
 * correct checksums, TCP connections with real sequence and ack numbers,
 * MSS segmentation and the optional impairments.
 *
 * Time: the writer owns the capture clock (microseconds since the epoch).
 * It only moves forward: callers ask for a start time with pkt_at(), which
 * never goes back, so the file's timestamps never decrease.
 *
 * Ownership: pkt_open() returns a writer the caller frees with pkt_close()
 * (which flushes the file). Connections (pkt_tcp) are plain structs the
 * caller owns; they hold no memory. */
#ifndef LH_GEN_PKT_H
#define LH_GEN_PKT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rng.h"

typedef struct {
    uint8_t v6;
    uint8_t a[16]; /* IPv4 in a[0..3] */
} pkt_addr;

/* Impairment rates, each a probability per segment (midstream:
 * per connection). The first copy of any byte range always carries the
 * true bytes; a later overlapping copy may differ (see docs/generator.md). */
typedef struct {
    double retrans, ooo, overlap, onebyte, loss, midstream;
} pkt_impair;

/* What a connection went through, for the ground truth. */
enum { PKT_F_MIDSTREAM = 1, PKT_F_LOSSY = 2, PKT_F_IMPAIRED = 4 };

typedef struct {
    pkt_addr ip[2]; /* 0 = client, 1 = server */
    uint16_t port[2];
    uint32_t nxt[2]; /* next sequence number each side sends */
    uint16_t ipid[2];
    uint8_t ttl[2];
    uint16_t mss;
    uint8_t open, flags;
} pkt_tcp;

typedef struct pkt_writer {
    FILE *fp;
    char *fbuf;      /* fp's 1 MiB stdio buffer (glibc ignores a size given without one) */
    void *pd, *dump; /* pcap_t, pcap_dumper_t: only pkt.c includes pcap.h */
    uint64_t now;    /* capture clock, us */
    uint64_t bytes, packets;
    uint64_t cls_bytes[4]; /* file bytes per traffic class, see pkt_class */
    int cls;
    uint16_t mss;
    pkt_impair imp;
    rng_t rng; /* impairment and jitter decisions */
    uint8_t frame[65600];
} pkt_writer;

/* Traffic classes whose byte shares the bench mix controls. */
enum { PKT_CLS_API, PKT_CLS_BG, PKT_CLS_OTHER };

/* Opens path for writing (DLT_EN10MB, us timestamps). On failure returns
 * NULL and writes the reason into err (256 bytes). */
pkt_writer *pkt_open(const char *path, uint64_t seed, char *err);
/* Flushes and closes; returns 0, or -1 if the file could not be written
 * completely. Accepts NULL. */
int pkt_close(pkt_writer *w);

/* Moves the clock to t if t is later; returns the clock. */
uint64_t pkt_at(pkt_writer *w, uint64_t t);
/* Moves the clock forward by us microseconds. */
void pkt_wait(pkt_writer *w, uint64_t us);

void pkt_addr4(pkt_addr *a, unsigned b0, unsigned b1, unsigned b2, unsigned b3);
/* fd00::/8 address: prefix fd00:0:0:HI::LO. */
void pkt_addr6(pkt_addr *a, unsigned hi, unsigned lo);
/* Text form into out (46 bytes). */
void pkt_addr_str(const pkt_addr *a, char *out);

/* Sets up c and writes the 3-way handshake (skipped when the connection is
 * drawn "midstream": the capture then starts with its first data). */
void pkt_tcp_open(pkt_writer *w, pkt_tcp *c, const pkt_addr *cli, uint16_t cport,
                  const pkt_addr *srv, uint16_t sport, uint8_t cli_ttl);
/* Writes len bytes from side dir (0 client, 1 server) in MSS segments, with
 * the writer's impairments. ack_end: the peer sends a pure ACK at the end
 * (else the peer's next data or FIN carries it). */
void pkt_tcp_send(pkt_writer *w, pkt_tcp *c, int dir, const uint8_t *data, size_t len, int ack_end);
/* Closes: FIN exchange started by side dir, or a RST from side dir. */
void pkt_tcp_close(pkt_writer *w, pkt_tcp *c, int dir, int rst);

/* One UDP datagram. */
void pkt_udp(pkt_writer *w, const pkt_addr *src, uint16_t sport, const pkt_addr *dst,
             uint16_t dport, const uint8_t *data, size_t len, uint8_t ttl);

#endif
