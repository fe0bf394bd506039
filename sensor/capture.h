/* capture.h - packets in: capture files (pcap, pcapng, any link type libpcap
 * reads) replayed in order, or a live interface.
 *
 * The only file that includes <pcap.h>. capture_run() calls back once per
 * packet with a struct packet whose data points into libpcap's buffer
 * (valid during the call). Inputs are read in the order given; a directory
 * stands for its regular files in name order. A file that cannot be opened,
 * or that ends in a read error part-way (a truncated capture), is reported on
 * stderr once and counted; the run goes on with the next file. */
#ifndef LH_CAPTURE_H
#define LH_CAPTURE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "sensor/packet.h"

struct capture_config {
    const char *const *inputs; /* files or directories, in order */
    size_t n_inputs;
    const char *iface;         /* live capture instead of inputs */
    const char *bpf;           /* filter expression, or NULL */
    int snaplen;               /* live: default 262144 */
    int promisc;               /* live: default 1 */
    int buffer_mb;             /* live: kernel buffer, default 64 */
    double replay_speed;       /* 0: as fast as possible; 1: real time; 2: twice ... */
    int progress;              /* 1 (default): a progress line on stderr for replays that
                                  last over a second, only if stderr is a terminal */
};

void capture_config_default(struct capture_config *cfg);

struct capture_stats {
    uint64_t packets, bytes;       /* handed to the callback */
    uint64_t files_ok, files_failed, read_errors;
    uint64_t if_recv, if_drop, if_ifdrop; /* live: pcap_stats */
};

struct capture;

/* Expands directories, opens the live interface (and applies the filter).
 * Files are opened one by one during the run. On error returns -1 with one
 * line in err naming the thing and what to do. */
int capture_open(const struct capture_config *cfg, struct capture **out, char *err, size_t errlen);
void capture_close(struct capture *c); /* accepts NULL */

/* Return 0 to go on, non-zero to stop the run. */
typedef int (*capture_fn)(void *ud, struct packet *p);

/* Reads until the inputs end, the callback says stop, or *stop becomes
 * non-zero (signal). Also calls idle(ud, 0) about every 100 ms of wall time on
 * a quiet live interface (so timeouts can run). Returns 0, or -1 with err
 * when a live capture fails. */
int capture_run(struct capture *c, capture_fn fn, void (*idle)(void *ud), void *ud,
                volatile sig_atomic_t *stop, char *err, size_t errlen);

/* Path of input file idx (struct packet.file_idx), or "" for live. */
const char *capture_file_name(const struct capture *c, uint32_t idx);
/* Fills s (refreshing pcap_stats for live). */
void capture_get_stats(struct capture *c, struct capture_stats *s);
int capture_is_live(const struct capture *c);

#endif
