/* dpi.h - nDPI glue: names the application protocol of each flow.
 *
 * A struct dpi (one per worker) wraps nDPI's detection module. Each flow
 * gets a struct dpi_flow on its first packet; dpi_packet() feeds it the IP
 * datagram of each packet until nDPI has decided (or gave up after a packet
 * budget), then frees nDPI's per-flow state, keeping only the result. The
 * result is plain text, so nothing past this file needs nDPI's headers. */
#ifndef LH_DPI_H
#define LH_DPI_H

#include <stddef.h>
#include <stdint.h>

struct dpi_result {
    char app_proto[24]; /* EVE style lowercase: "http", "tls", "dns", ... "" unknown */
    char ndpi_proto[48]; /* nDPI's own name, "TLS.Google" */
    char category[24];   /* nDPI's category name */
    char host[80];       /* HTTP Host or TLS SNI where nDPI found one */
    uint8_t done;        /* classification final */
    uint8_t encrypted;   /* nDPI says the protocol is encrypted */
};

struct dpi_stats {
    uint64_t flows, classified, given_up, alloc_failed;
};

struct dpi;
struct dpi_flow;

/* Returns a module, or NULL with err. */
struct dpi *dpi_new(char *err, size_t errlen);
void dpi_free(struct dpi *d); /* accepts NULL */
const struct dpi_stats *dpi_get_stats(const struct dpi *d);

/* Feeds one packet's IP datagram (l3, len) of a flow at packet time ts_us.
 * *fp is the flow's state: NULL before the first packet, allocated here,
 * freed here once done. Results accumulate in *res. Can't fail: on
 * allocation failure the flow stays unclassified (counted). */
void dpi_packet(struct dpi *d, struct dpi_flow **fp, struct dpi_result *res, const uint8_t *l3,
                uint32_t len, uint64_t ts_us, int to_server);

/* The same for a packet whose transport carries no payload (a TCP
 * handshake, a bare ACK): until a packet with payload comes, nDPI's state
 * is not made; the datagram is held (a few hundred bytes a flow at most,
 * past that nDPI's state is made after all) and fed to nDPI, in order and
 * with its time, by the next dpi_packet or by dpi_flow_end. Can't fail. */
void dpi_packet_empty(struct dpi *d, struct dpi_flow **fp, struct dpi_result *res,
                      const uint8_t *l3, uint32_t len, uint64_t ts_us, int to_server);

/* Bytes the flow's state f takes from malloc now (0 for NULL): ours, the
 * held packets, nDPI's flow struct and its TLS dissector's buffer (2 KiB on
 * TCP flows; nothing else nDPI allocates inside it is counted). It changes
 * as packets are fed: charge the difference. Can't fail. */
size_t dpi_flow_size(const struct dpi_flow *f);

/* Flow end: asks nDPI for its best guess if undecided and frees *fp. */
void dpi_flow_end(struct dpi *d, struct dpi_flow **fp, struct dpi_result *res);

#endif
