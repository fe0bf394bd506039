/* worker.h - drives one packet through the pipeline.
 *
 * A worker owns, for its thread: the decoder, the flow table, the TCP
 * reassembly context, the nDPI module, the Hyperscan scratch, and the
 * per-flow sessions hung on flow->user. Packets enter by worker_packet() in
 * capture order; events leave through the EVE writer given at creation.
 * Everything runs on packet time: worker_packet() also expires flows and
 * writes periodic stats when packet time passes their deadline. */
#ifndef LH_WORKER_H
#define LH_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "sensor/capture.h"
#include "sensor/decode.h"
#include "sensor/flow.h"
#include "sensor/packet.h"
#include "sensor/reassembly.h"

struct eve;
struct match_db;
struct endpoint_db;
struct fingerprint_key;
struct detect_engine;

/* Process-wide, read-only objects a worker uses (all must outlive it). */
struct worker_shared {
    const struct match_db *db;          /* NULL: no matching */
    const struct endpoint_db *endpoints; /* NULL: no endpoints */
    const struct fingerprint_key *fpkey;
    struct eve *eve;                    /* NULL: no events */
    struct capture *capture;            /* file names and counters, or NULL */
    struct detect_engine *detect;       /* NULL: no detections */
};

struct worker_config {
    struct decode_config decode;
    struct flow_config flow;
    struct reasm_config reasm;
    uint32_t stats_interval_s;  /* packet-time seconds between stats events; 0 = final only */
    uint32_t max_samples;       /* masked samples per flow direction in events (default 3) */
    uint32_t max_fingerprints;  /* fingerprints of records per event (default 8) */
    uint32_t dedup_cap;         /* distinct records remembered per flow direction */
    int match_raw_streams;      /* scan non-HTTP TCP streams (default 1) */
    uint32_t session_cap;       /* login sessions remembered for identity (default 100000) */
    uint32_t identity_body_max; /* request body bytes kept for form/JSON identity (16 KiB) */
};

void worker_config_default(struct worker_config *cfg);

struct worker;

/* Returns NULL with err. */
struct worker *worker_new(const struct worker_config *cfg, const struct worker_shared *sh,
                          char *err, size_t errlen);
/* Ends every flow (flow events written), writes final stats if asked, frees. */
void worker_free(struct worker *w);

void worker_packet(struct worker *w, struct packet *p);
/* Shutdown: end all flows (reason shutdown), then a final stats event. */
void worker_finish(struct worker *w);
/* A stats event at the latest packet time seen. */
void worker_write_stats(struct worker *w);
/* A short human summary on the given stream (SIGUSR1, end of run). */
void worker_print_summary(struct worker *w, void *file);

#endif
