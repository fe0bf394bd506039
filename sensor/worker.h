/* worker.h - drives one packet through the pipeline.
 *
 * A worker owns, for its thread: the decoder, the flow table, the TCP
 * reassembly context, the nDPI module, the Hyperscan scratch, and the
 * per-flow sessions hung on flow->user. Events leave through the EVE writer
 * given at creation.
 *
 * Two ways in:
 * - worker_packet(): raw packets in capture order, on one thread; the worker
 *   decodes, ticks on packet time (flow expiry, periodic stats) and hands
 *   transactions straight to the detection engine.
 * - the pipeline (pipeline.h): the reader decodes and keeps the clock, and
 *   calls worker_decoded(), worker_tick() and worker_flush() on the worker's
 *   thread with a sequence number; transactions go to shared->obs_fn with a
 *   key that orders them the same whatever the number of workers. */
#ifndef LH_WORKER_H
#define LH_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "sensor/capture.h"
#include "sensor/decode.h"
#include "sensor/flow.h"
#include "sensor/packet.h"
#include "sensor/reassembly.h"
#include "sensor/dpi.h"
#include "rules/match.h"
#include "parsers/http.h"
#include "parsers/identity.h"

struct eve;
struct eve_kv;
struct identity_sessions;
struct detect_obs;
struct rulegen;
struct fingerprint_key;
struct detect_engine;
struct evidence;

/* Orders a transaction for the detection engine: seq is the pipeline's
 * sequence number of the record (packet, tick, UINT64_MAX for the final
 * flush) whose processing finished it; then the flow; then the
 * transaction's index in the flow. Unique, and the same whatever the number
 * of workers. */
struct worker_obs_key {
    uint64_t seq, flow_id, tx;
};
/* Receives a finished transaction; o and its strings are borrowed for the
 * call (copy what you keep). Called on the worker's thread. */
typedef void (*worker_obs_fn)(void *ud, const struct worker_obs_key *k,
                              const struct detect_obs *o);

/* Process-wide, read-only objects a worker uses (all must outlive it). */
struct worker_shared {
    struct rulegen *rules;              /* NULL: no matching (the worker takes its own reference) */
    const struct fingerprint_key *fpkey;
    struct eve *eve;                    /* NULL: no events */
    struct capture *capture;            /* file names and counters, or NULL */
    struct detect_engine *detect;       /* NULL: no detections */
    /* pipeline only (zero for a lone worker): */
    worker_obs_fn obs_fn;               /* NULL: transactions go to detect directly */
    void *obs_ud;
    void *eve_lock;                     /* pthread_mutex_t taken around event writes, or NULL */
    struct identity_sessions *sessions; /* shared login sessions, or NULL: the worker's own */
    struct evidence *evidence;          /* keep alerted accounts' packets, or NULL */
    /* live sessions per dispatch bucket (packet.pair_bucket), kept by the
     * worker for the pipeline's reader, which moves an idle bucket to
     * another worker only when this is 0; NULL: not counted */
    uint32_t *pair_live;
};

/* Counters of the worker itself (all uint64_t: snapshots are summed). */
struct worker_counters {
    uint64_t sessions_failed;   /* session allocation failed */
    uint64_t streams_skipped;   /* encrypted streams not scanned */
    uint64_t dedup_overflow;
    uint64_t match_stream_failed;
    uint64_t records;           /* distinct per flow direction, all categories */
    uint64_t stats_events;
    uint64_t http_flows;
    uint64_t url_records;   /* records found (and masked) in request targets */
    uint64_t tx_alloc_failed;
    uint64_t zip_bodies;    /* HTTP bodies that were ZIP archives (xlsx, docx, zip), read member by member */
    uint64_t zip_members;   /* members whose content was scanned */
    uint64_t zip_skipped;   /* members passed over: encrypted or another method */
    uint64_t zip_failed;    /* archives that stopped being readable (the rest scanned raw, or not at all) */
    uint64_t zip_cap_hit;   /* archives stopped by the output, ratio or member cap */
    uint64_t gb18030_bodies;  /* bodies in GBK/GB2312/GB18030 (their Content-Type), read as UTF-8 */
    uint64_t gb18030_invalid; /* bytes of those that were not GB18030, scanned as they were */
    uint64_t session_memuse;     /* gauge: bytes of record sets and kept bodies now */
    uint64_t session_memcap_hit; /* growth refused: the session budget was reached */
    /* rule reloads (rules/rulegen.h) */
    uint64_t rules_old_serving;  /* gauge: older generations still serving open streams (per worker, summed) */
    uint64_t rules_streams_cut;  /* raw streams moved to the new rules mid-flow (slots full) */
    uint64_t rules_deferred;     /* reloads held back until an old generation drained */
    uint64_t rules_failed;       /* reloads this worker could not take (memory) */
};

/* A worker's counters at one moment. Every member is made of uint64_t only,
 * so snapshots of several workers add up member by member. */
struct worker_snap {
    struct flow_stats flow;
    struct reasm_stats tcp;
    struct dpi_stats dpi;
    struct match_stats match;
    struct http_stats http;
    struct identity_stats ident; /* sessions_*: the session table's, not per worker */
    struct worker_counters st;
};

/* Where each part of a stats event comes from. */
struct worker_stats_src {
    const struct capture_stats *cap; /* NULL: no capture.* keys */
    int live;                      /* live capture: kernel counters too */
    const struct decode_stats *dec; /* decoder.* */
    uint64_t defrag_memuse;
    const struct worker_snap *snap; /* one worker's, or the sum over workers */
    int have_match;                /* match.* keys present */
    struct detect_engine *detect;  /* NULL: no detect.* keys */
    struct eve *eve;               /* NULL: no output.* keys */
};

#define WORKER_STATS_KV_MAX 320

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
    uint64_t session_memcap;    /* what sessions grow after creation (record sets, kept
                                   bodies), and again for waiting HTTP heads; 0: a quarter
                                   of the flow memcap */
};

void worker_config_default(struct worker_config *cfg);

struct worker;

/* Returns NULL with err. */
struct worker *worker_new(const struct worker_config *cfg, const struct worker_shared *sh,
                          char *err, size_t errlen);
/* Ends every flow (flow events written), writes final stats if asked, frees. */
void worker_free(struct worker *w);

/* A raw captured packet: decode, tick, process (the one-thread path). */
void worker_packet(struct worker *w, struct packet *p);
/* A rule reload: transactions and streams that start from now on use g;
 * those already open finish on the generation they began with (its
 * Hyperscan scratch is grown to serve both). Takes over one reference to
 * g. Call on the worker's thread. At most WORKER_GENERATIONS generations
 * are alive per worker: past that, raw streams on the older ones are cut
 * over to the current rules (counted), and the new generation waits for
 * the next tick if transactions still hold every slot (counted). */
#define WORKER_GENERATIONS 8
void worker_set_rules(struct worker *w, struct rulegen *g);

/* Shutdown: end all flows (reason shutdown), then a final stats event. */
void worker_finish(struct worker *w);
/* A stats event at the latest packet time seen. */
void worker_write_stats(struct worker *w);
/* A short human summary on the given stream (SIGUSR1, end of run). */
void worker_print_summary(struct worker *w, void *file);

/* Pipeline entry points. seq orders what each record's processing emits;
 * now_us is the reader's packet time (the latest seen in the run), the same
 * on every worker. */
/* A packet the reader decoded (ip_ver != 0). p's pointers are borrowed. */
void worker_decoded(struct worker *w, struct packet *p, uint64_t seq, uint64_t now_us);
/* The reader's tick before packet seq/2: ends idle flows. pcap_cnt and
 * file_idx name the packet read before the tick. */
void worker_tick(struct worker *w, uint64_t seq, uint64_t now_us, uint64_t pcap_cnt,
                 uint32_t file_idx);
/* End of input: ends every flow (reason shutdown) with seq UINT64_MAX. */
void worker_flush(struct worker *w, uint64_t now_us, uint64_t pcap_cnt, uint32_t file_idx);

/* The worker's counters now. Call on the worker's thread (or after it ended). */
void worker_snapshot(struct worker *w, struct worker_snap *out);
void worker_snap_add(struct worker_snap *sum, const struct worker_snap *s);
/* The stats event's key/value pairs (keys live as long as the process). */
size_t worker_stats_kv(const struct worker_stats_src *src, struct eve_kv *kv, size_t max);
/* A one-line human summary of src on a FILE *. */
void worker_summary(const struct worker_stats_src *src, void *file);

#endif
