/* pipeline.c - one reader, N workers, one detection order (--threads N).
 *
 * In: packets from capture_run() on the calling thread (the reader). Out:
 * flow and http events from the workers, alerts and stats from the reader.
 *
 * The reader decodes every packet once with its own decoder (so IP
 * fragments are reassembled before any worker sees them, and decoder stats
 * are exact) and keeps the run's clock: now = the latest packet time seen,
 * and a tick before the first packet of each new second of now. Every
 * record the reader makes gets a sequence number: 2*pcap_cnt for the tick
 * before packet pcap_cnt, 2*pcap_cnt+1 for the packet, UINT64_MAX for the
 * end. A decoded IP packet goes to the worker that owns its address pair's
 * bucket (a keyed symmetric hash of the two addresses, not ports:
 * fragments, and a client's login and its later connections to the same
 * server, land on one worker); a tick goes to every worker. A bucket
 * changes worker only while it is idle: its worker has finished every
 * packet sent to it for the bucket and holds no session of it (the
 * worker's pair_live count), so no state is left behind and the output is
 * the same whichever worker has it. Idle buckets go to the worker the
 * reader picks at each poll (choose_pref: the emptiest ring; with a reader
 * share, the reader once the worker threads have enough waiting), so the
 * load follows the traffic, not the hash alone. Workers end idle flows
 * only on ticks, so expiry does not depend on which worker saw which
 * packet, and flow ids come from the first packet's pcap_cnt (flow.c), not
 * from a per-worker counter.
 *
 * Threads > 1: each worker has an input ring (the packet's bytes from l3,
 * its struct packet, the sequence number and now) and an output ring
 * (observations: finished HTTP transactions, and counter snapshots taken at
 * ticks). Both are bounded SPSC rings (ring.h); a full input ring makes the
 * reader wait (file replay loses nothing; on a live interface the kernel
 * counts what it drops), a full output ring makes the worker wait until the
 * reader drains it. Packets are published to a worker in batches, at the
 * reader's polls (every POLL_EVERY packets, when idle, before it waits),
 * and a sleeping worker is woken then: one cache-line transfer of the ring
 * counter and at most one wake-up per batch. A reader waiting for room is
 * woken only by the worker it waits for (waiting_on), once that ring is
 * half empty. Threads = 1: no ring and no thread, the reader calls the
 * worker directly; everything else below is the same code. A reader share
 * (pipeline_new) makes worker 0 such an inline worker beside N - 1 threads:
 * it starts with that share of the buckets, the threads with the rest in
 * equal parts (idle buckets then move as above), and everything else
 * (ticks, order, reloads) treats it as the one-thread case treats its
 * worker.
 *
 * The aggregator runs on the reader thread (it knows what it sent to each
 * worker without any extra synchronisation, and the engine's work, one call
 * per HTTP transaction, is small beside matching). It keeps a min-heap of
 * items keyed (seq, flow_id, tx index): its own tick (detect_tick) at
 * (seq, 0, 0), the workers' observations, their snapshots at (seq, MAX,
 * worker) and the tick's end at (seq, MAX, MAX), where the snapshots are
 * summed and, when due, the stats event written. A worker's progress is the
 * seq of the last record it finished (published after everything that
 * record emitted); a worker with nothing outstanding has progressed to the
 * reader's position. Items whose seq is at most every worker's progress are
 * released in key order to the engine: that order is the same for any N,
 * so alerts and detection counters are too. With one worker, an
 * observation made while a packet is in hand and nothing is pending goes
 * to the engine at once (obs_to_heap): nothing with a smaller key can
 * follow it, so that is the order release() would give. Only when more than ORDER_CAP
 * items are pending is the smallest released early (counted as
 * pipeline.order_forced): memory stays bounded, order is then best effort.
 *
 * Events are written straight to the EVE writer, which is thread-safe (it
 * formats into a per-thread buffer and locks only to hand the line to the
 * sinks): workers write flow and http events, the reader alerts and stats.
 * No lock of the pipeline's own is around them, so a worker never waits
 * for another worker's formatting, nor the reader for either. */
#include "sensor/pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "output/eve.h"
#include "output/fingerprint.h"
#include "rules/detect.h"
#include "rules/rulegen.h"
#include "rules/ruleset.h"
#include "sensor/capture.h"
#include "sensor/decode.h"
#include "sensor/ring.h"

#define RING_BYTES (16u << 20)    /* input ring per worker */
#define OBS_RING_BYTES (4u << 20) /* output ring per worker */
#define ORDER_CAP 1000000u        /* pending aggregator items before forced release */
#define POLL_EVERY 32             /* packets between aggregator polls (threads) */
#define WAIT_US 2000              /* longest sleep before rechecking (missed wake-up) */
#define SPINS 200                 /* polls of an empty ring before sleeping */
#define NO_WORKER UINT32_MAX
#define PICK_BITS 8               /* dispatch cache: 256 address pairs */
#define PAIR_BUCKETS 16384u       /* dispatch buckets of address pairs (threads > 1) */
#define FEED_LOW (2u << 20)       /* with a reader share: a worker thread with less
                                   * than this waiting gets the buckets that move */
#define OBS_MAX_STRS 16           /* samples, fingerprints kept per observation */
#define CSUM_WARN_MIN 100         /* TCP and UDP packets read before csum_warn() judges */

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

/* ---- records ----------------------------------------------------------------- */

enum { REC_PACKET = 1, REC_TICK, REC_FINISH, REC_RELOAD };
enum { PAY_NONE = 0, PAY_INSIDE, PAY_APPENDED };

/* reader -> worker; a packet's l3 bytes (and, rarely, its payload) follow */
struct wrec {
    uint32_t type;
    uint32_t file_idx; /* tick, finish: of the packet read before */
    uint64_t seq, now_us;
    uint64_t pcap_cnt; /* tick, finish: of the packet read before */
    uint32_t pay_mode, pay_off;
    struct rulegen *gen; /* reload: the new rules, one reference for the worker */
    struct packet p;
};

enum { OREC_OBS = 1, OREC_SNAP };

/* worker -> reader; an observation blob or a struct worker_snap follows */
struct orec {
    uint32_t type, worker;
    struct worker_obs_key k;
};

/* ---- observations, flattened ---------------------------------------------- */

/* Strings are copied (the endpoint id too: a rule reload may free the
 * rules it came from before the engine sees it); pcap_filename points into
 * the capture's file list, which lives as long as the run. */
struct obs_fixed {
    uint64_t ts_us, waybill_query, flow_id, pcap_cnt;
    const char *pcap_filename;
    struct lh_addr src;
    int32_t endpoint, status;
    uint32_t n_recs, n_samples, n_fps;
    uint16_t src_port, dest_port;
    uint8_t ip_ver;
};

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

static size_t str_size(const char *s)
{
    return 1 + (s ? strlen(s) + 1 : 0);
}

/* Samples or fingerprints an observation passes on, of n. */
static size_t strs_kept(size_t n)
{
    return n < OBS_MAX_STRS ? n : OBS_MAX_STRS;
}

static size_t obs_size(const struct detect_obs *o)
{
    size_t ns = strs_kept(o->n_samples);
    size_t nf = strs_kept(o->n_fingerprints);
    size_t n = ALIGN8(sizeof(struct obs_fixed)) + o->n_recs * sizeof(struct detect_rec);
    n += str_size(o->endpoint_id) + str_size(o->account) + str_size(o->via) + str_size(o->src_ip) + str_size(o->dest_ip) +
         str_size(o->community_id) + str_size(o->hostname) + str_size(o->url) +
         str_size(o->http_method);
    for (size_t i = 0; i < ns; i++)
        n += str_size(o->samples[i]);
    for (size_t i = 0; i < nf; i++)
        n += str_size(o->fingerprints[i]);
    return n;
}

static uint8_t *put_str(uint8_t *d, const char *s)
{
    *d++ = s != NULL;
    if (s) {
        size_t n = strlen(s) + 1;
        memcpy(d, s, n);
        d += n;
    }
    return d;
}

static const uint8_t *get_str(const uint8_t *d, const char **s)
{
    if (!*d++) {
        *s = NULL;
        return d;
    }
    *s = (const char *)d;
    return d + strlen(*s) + 1;
}

/* dst holds obs_size(o) bytes, 8-aligned. */
static void obs_pack(const struct detect_obs *o, uint8_t *dst)
{
    struct obs_fixed f = {0};
    f.ts_us = o->ts_us;
    f.waybill_query = o->waybill_query;
    f.flow_id = o->flow_id;
    f.pcap_cnt = o->pcap_cnt;
    f.pcap_filename = o->pcap_filename;
    f.src = o->src;
    f.endpoint = o->endpoint;
    f.status = o->status;
    f.n_recs = (uint32_t)o->n_recs;
    f.n_samples = (uint32_t)strs_kept(o->n_samples);
    f.n_fps = (uint32_t)strs_kept(o->n_fingerprints);
    f.src_port = o->src_port;
    f.dest_port = o->dest_port;
    f.ip_ver = o->ip_ver;
    memcpy(dst, &f, sizeof(f));
    uint8_t *d = dst + ALIGN8(sizeof(f));
    if (o->n_recs)
        memcpy(d, o->recs, o->n_recs * sizeof(*o->recs));
    d += o->n_recs * sizeof(*o->recs);
    d = put_str(d, o->endpoint_id);
    d = put_str(d, o->account);
    d = put_str(d, o->via);
    d = put_str(d, o->src_ip);
    d = put_str(d, o->dest_ip);
    d = put_str(d, o->community_id);
    d = put_str(d, o->hostname);
    d = put_str(d, o->url);
    d = put_str(d, o->http_method);
    for (uint32_t i = 0; i < f.n_samples; i++)
        d = put_str(d, o->samples[i]);
    for (uint32_t i = 0; i < f.n_fps; i++)
        d = put_str(d, o->fingerprints[i]);
}

/* The observation in src (obs_pack's), borrowing src's bytes. */
static void obs_unpack(const uint8_t *src, struct detect_obs *o, const char **samples,
                       const char **fps)
{
    struct obs_fixed f;
    memcpy(&f, src, sizeof(f));
    memset(o, 0, sizeof(*o));
    o->ts_us = f.ts_us;
    o->waybill_query = f.waybill_query;
    o->flow_id = f.flow_id;
    o->pcap_cnt = f.pcap_cnt;
    o->pcap_filename = f.pcap_filename;
    o->src = f.src;
    o->endpoint = f.endpoint;
    o->status = f.status;
    o->src_port = f.src_port;
    o->dest_port = f.dest_port;
    o->ip_ver = f.ip_ver;
    const uint8_t *d = src + ALIGN8(sizeof(f));
    o->recs = (const struct detect_rec *)d; /* 8-aligned: items and records are */
    o->n_recs = f.n_recs;
    d += f.n_recs * sizeof(struct detect_rec);
    d = get_str(d, &o->endpoint_id);
    d = get_str(d, &o->account);
    d = get_str(d, &o->via);
    d = get_str(d, &o->src_ip);
    d = get_str(d, &o->dest_ip);
    d = get_str(d, &o->community_id);
    d = get_str(d, &o->hostname);
    d = get_str(d, &o->url);
    d = get_str(d, &o->http_method);
    for (uint32_t i = 0; i < f.n_samples; i++)
        d = get_str(d, &samples[i]);
    for (uint32_t i = 0; i < f.n_fps; i++)
        d = get_str(d, &fps[i]);
    o->samples = samples;
    o->n_samples = f.n_samples;
    o->fingerprints = fps;
    o->n_fingerprints = f.n_fps;
    if (!o->account)
        o->account = "";
}

/* ---- aggregator items ------------------------------------------------------ */

enum { IT_TICK = 1, IT_OBS, IT_SNAP, IT_TICKEND, IT_RELOAD };

/* What the reader knew at a tick, for the stats event written at its end. */
struct tickend {
    int stats_due;
    int have_cap;
    struct capture_stats cap;
    struct decode_stats dec;
    uint64_t defrag_memuse;
};

struct item {
    struct worker_obs_key k;
    uint32_t type, worker;
    uint64_t now_us;
    _Alignas(8) uint8_t data[]; /* obs blob, struct worker_snap or struct tickend */
};

/* ---- the pipeline ----------------------------------------------------------- */

struct pick_ent {
    uint8_t m[32]; /* the two addresses, smaller first */
    uint32_t bucket, valid;
};

struct wslot {
    struct pipeline *pl;
    uint32_t idx;
    struct worker *w;
    struct ring *in, *out;
    struct ring_event ev;         /* the worker sleeps here: input empty, output full */
    _Alignas(64) uint64_t done;   /* seq of the last record finished (atomic) */
    _Alignas(64) uint64_t sent;   /* reader's own: seq of the last record sent */
    int unsignalled;              /* reader's own: packets committed since the last
                                   * publish and wake-up (agg_poll) */
    uint64_t pkts, bytes;         /* reader's own: packets (and their IP bytes) sent */
    uint64_t cpu_ns_end;          /* the thread's CPU time when it ended (set by it) */
    pthread_t th;
    int started;
    char key[3][40];              /* its stats keys: pipeline.worker_N.{packets,bytes,cpu_ms} */
};

struct pipeline_counters {
    uint64_t ring_waits;      /* times the reader found an input ring full */
    uint64_t order_forced;    /* items released before their turn (ORDER_CAP) */
    uint64_t pending_peak;    /* most items waiting in the aggregator */
    uint64_t item_nomem;      /* observations lost: no memory for the item */
    uint64_t oversize;        /* packets too big for a ring record, not processed */
    uint64_t rules_generation; /* the generation the detection engine runs (1 at start) */
    uint64_t rules_reloads;    /* reloads handed to the workers and the engine */
    uint64_t rules_rejected;   /* reloads refused: the new rules had errors */
    uint64_t rules_detect_failed; /* reloads the engine could not take (memory) */
};

struct pipeline {
    uint32_t n;
    uint32_t share_pm; /* address pairs per mille processed on the reader (worker 0) */
    struct wslot *ws;
    struct decoder *dec;
    struct identity_sessions *sessions;
    struct eve *eve;
    struct capture *cap;
    struct detect_engine *detect;
    struct rulegen *detect_gen;  /* the rules the engine's detections come from */
    struct rulegen *pending_gen; /* pipeline_reload(): applied at the next packet or idle */
    int have_match;
    uint32_t stats_interval_s;
    uint64_t direct_seq; /* one worker: the packet it has in hand (obs_to_heap), else 0 */
    int verify_csum, csum_warned; /* checksums verified; csum_warn() has spoken */
    uint64_t k0, k1; /* dispatch hash key */
    struct pick_ent pick[1u << PICK_BITS]; /* recent address pairs -> bucket */
    /* threads > 1: each bucket's worker, and the seq of the last packet sent
     * to it; a bucket moves to pref when its worker has finished that packet
     * and holds no session of it (pair_live, n arrays of PAIR_BUCKETS) */
    uint16_t *owner;
    uint64_t *bucket_seq;
    uint32_t *pair_live;
    uint32_t pref;
    uint64_t moves;

    /* reader: clock and position */
    uint64_t now_us, tick_sec;
    int ticked;
    uint64_t last_cnt;
    uint32_t last_file;
    uint64_t pos; /* seq of the last record the reader has finished sending */
    uint64_t next_stats_us;
    uint32_t since_poll;
    void (*service)(void *ud);
    void *service_ud;
    int running, finished;
    struct ring_event ev; /* the reader sleeps here: input ring full, end */
    uint32_t waiting_on;  /* (atomic) the worker whose input ring the reader waits
                           * for, or NO_WORKER; on ev's cache line */

    /* aggregator */
    struct hent *heap; /* keys inline: sifting never touches the items */
    size_t heap_n, heap_cap;
    struct worker_snap *snaps; /* latest per worker */
    struct worker_snap sum;    /* over workers, at the last tick end (or the end) */
    struct pipeline_counters st;
    struct eve_kv *kv;         /* a stats event's keys: WORKER_STATS_KV_MAX + PIPE_KV + 3 per worker */
};

/* Worker i runs on the reader's thread: the only worker, or worker 0 with
 * a reader share. It has no thread and no rings. */
static int inline_ws(const struct pipeline *pl, uint32_t i)
{
    return pl->n == 1 || (i == 0 && pl->share_pm);
}

/* A CPU-time clock's reading in ns (0 if it cannot be read). */
static uint64_t cpu_ns(clockid_t c)
{
    struct timespec ts;
    if (clock_gettime(c, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- heap ------------------------------------------------------------------- */

struct hent {
    struct worker_obs_key k;
    struct item *it;
};

static int key_lt(const struct worker_obs_key *a, const struct worker_obs_key *b)
{
    if (a->seq != b->seq)
        return a->seq < b->seq;
    if (a->flow_id != b->flow_id)
        return a->flow_id < b->flow_id;
    return a->tx < b->tx;
}

static void heap_push(struct pipeline *pl, struct item *it)
{
    if (pl->heap_n == pl->heap_cap) {
        size_t ncap = pl->heap_cap ? pl->heap_cap * 2 : 1024;
        struct hent *n = realloc(pl->heap, ncap * sizeof(*n));
        if (!n) {
            pl->st.item_nomem++;
            free(it);
            return;
        }
        pl->heap = n;
        pl->heap_cap = ncap;
    }
    size_t i = pl->heap_n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!key_lt(&it->k, &pl->heap[up].k))
            break;
        pl->heap[i] = pl->heap[up];
        i = up;
    }
    pl->heap[i] = (struct hent){it->k, it};
    if (pl->heap_n > pl->st.pending_peak)
        pl->st.pending_peak = pl->heap_n;
}

static struct item *heap_pop(struct pipeline *pl)
{
    struct item *top = pl->heap[0].it;
    struct hent last = pl->heap[--pl->heap_n];
    size_t i = 0, n = pl->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && key_lt(&pl->heap[c + 1].k, &pl->heap[c].k))
            c++;
        if (!key_lt(&pl->heap[c].k, &last.k))
            break;
        pl->heap[i] = pl->heap[c];
        i = c;
    }
    if (n)
        pl->heap[i] = last;
    return top;
}

static struct item *item_new(struct pipeline *pl, uint32_t type, const struct worker_obs_key *k,
                             uint32_t worker, uint64_t now_us, size_t len)
{
    struct item *it = malloc(sizeof(*it) + len);
    if (!it) {
        pl->st.item_nomem++;
        return NULL;
    }
    it->k = *k;
    it->type = type;
    it->worker = worker;
    it->now_us = now_us;
    return it;
}

/* ---- stats ------------------------------------------------------------------ */

static void sum_snaps(struct pipeline *pl)
{
    memset(&pl->sum, 0, sizeof(pl->sum));
    for (uint32_t i = 0; i < pl->n; i++)
        worker_snap_add(&pl->sum, &pl->snaps[i]);
    /* the session table is shared: its counters once, not once per worker */
    identity_sessions_stats(pl->sessions, &pl->sum.ident);
}

#define PIPE_KV 13

/* A worker thread's CPU time so far: its clock while it runs, what it
 * recorded at its end once joined. Reader thread. */
static uint64_t worker_cpu_ns(const struct wslot *ws)
{
    clockid_t c;
    uint64_t v = 0;
    if (ws->started && pthread_getcpuclockid(ws->th, &c) == 0)
        v = cpu_ns(c); /* 0 once the thread has ended, before it is joined */
    return v ? v : __atomic_load_n(&ws->cpu_ns_end, __ATOMIC_ACQUIRE);
}

/* Reader thread. */
static void write_stats(struct pipeline *pl, uint64_t ts_us, const struct tickend *te)
{
    if (!pl->eve)
        return;
    struct worker_stats_src src = {te->have_cap ? &te->cap : NULL,
                                   pl->cap && capture_is_live(pl->cap),
                                   &te->dec,
                                   te->defrag_memuse,
                                   &pl->sum,
                                   pl->have_match,
                                   pl->detect,
                                   pl->eve};
    struct eve_kv *kv = pl->kv;
    size_t n = worker_stats_kv(&src, kv, WORKER_STATS_KV_MAX);
    kv[n++] = (struct eve_kv){"pipeline.threads", pl->n};
    kv[n++] = (struct eve_kv){"pipeline.reader_share_pm", pl->share_pm};
    kv[n++] = (struct eve_kv){"pipeline.pair_moves", pl->moves};
    /* where the CPU goes: the reader (with one thread, everything; with a
     * reader share, worker 0's too) and each worker thread, with the
     * packets the reader gave it */
    kv[n++] = (struct eve_kv){"pipeline.reader.cpu_ms", cpu_ns(CLOCK_THREAD_CPUTIME_ID) / 1000000u};
    for (uint32_t i = 0; pl->n > 1 && i < pl->n; i++) {
        const struct wslot *ws = &pl->ws[i];
        kv[n++] = (struct eve_kv){ws->key[0], ws->pkts};
        kv[n++] = (struct eve_kv){ws->key[1], ws->bytes};
        kv[n++] = (struct eve_kv){ws->key[2], worker_cpu_ns(ws) / 1000000u};
    }
    kv[n++] = (struct eve_kv){"pipeline.ring_waits", pl->st.ring_waits};
    kv[n++] = (struct eve_kv){"pipeline.order_forced", pl->st.order_forced};
    kv[n++] = (struct eve_kv){"pipeline.pending_peak", pl->st.pending_peak};
    kv[n++] = (struct eve_kv){"pipeline.item_nomem", pl->st.item_nomem};
    kv[n++] = (struct eve_kv){"pipeline.oversize", pl->st.oversize};
    if (pl->have_match) {
        kv[n++] = (struct eve_kv){"rules.generation", pl->st.rules_generation};
        kv[n++] = (struct eve_kv){"rules.reloads", pl->st.rules_reloads};
        kv[n++] = (struct eve_kv){"rules.rejected", pl->st.rules_rejected};
        kv[n++] = (struct eve_kv){"rules.detect_failed", pl->st.rules_detect_failed};
    }
    eve_write_stats(pl->eve, ts_us, kv, n);
}

static void reader_view(struct pipeline *pl, struct tickend *te)
{
    memset(te, 0, sizeof(*te));
    if (pl->cap) {
        capture_get_stats(pl->cap, &te->cap);
        te->have_cap = 1;
    }
    te->dec = *decoder_stats(pl->dec);
    te->defrag_memuse = decoder_memuse(pl->dec);
}

/* ---- aggregator: release in key order ---------------------------------------- */

static void apply(struct pipeline *pl, struct item *it)
{
    switch (it->type) {
    case IT_TICK:
        detect_tick(pl->detect, it->now_us);
        break;
    case IT_OBS: {
        struct detect_obs o;
        const char *samples[OBS_MAX_STRS], *fps[OBS_MAX_STRS];
        obs_unpack(it->data, &o, samples, fps);
        if (pl->detect)
            detect_observe(pl->detect, &o);
        break;
    }
    case IT_SNAP:
        memcpy(&pl->snaps[it->worker], it->data, sizeof(struct worker_snap));
        break;
    case IT_RELOAD: {
        struct rulegen *g;
        memcpy(&g, it->data, sizeof(g));
        char err[256];
        if (detect_reload(pl->detect, g->rs->detect, err, sizeof(err)) != 0) {
            pl->st.rules_detect_failed++;
            fprintf(stderr, "leakhound: rule reload: detections: %s; the previous ones stay\n",
                    err);
            rulegen_unref(g);
        } else {
            rulegen_unref(pl->detect_gen);
            pl->detect_gen = g;
            pl->st.rules_generation = g->id;
        }
        break;
    }
    case IT_TICKEND: {
        struct tickend te;
        memcpy(&te, it->data, sizeof(te));
        sum_snaps(pl);
        if (te.stats_due)
            write_stats(pl, it->now_us, &te);
        break;
    }
    default:
        break;
    }
}

/* Releases every item with seq <= bound, in key order. */
static void release(struct pipeline *pl, uint64_t bound)
{
    if (!pl->heap_n || (pl->heap[0].k.seq > bound && pl->heap_n <= ORDER_CAP))
        return;
    while (pl->heap_n) {
        if (pl->heap[0].k.seq > bound) {
            if (pl->heap_n <= ORDER_CAP)
                break;
            pl->st.order_forced++;
        }
        struct item *it = heap_pop(pl);
        apply(pl, it);
        free(it);
    }
}

/* Moves what worker ws emitted into the heap. */
static void drain(struct pipeline *pl, struct wslot *ws)
{
    uint32_t len;
    const uint8_t *r;
    int any = 0;
    while ((r = ring_peek(ws->out, &len))) {
        struct orec h;
        memcpy(&h, r, sizeof(h));
        size_t blen = len - sizeof(h);
        struct item *it = item_new(pl, h.type == OREC_OBS ? IT_OBS : IT_SNAP, &h.k, h.worker, 0,
                                   blen);
        if (it) {
            memcpy(it->data, r + sizeof(h), blen);
            heap_push(pl, it);
        }
        ring_release(ws->out);
        any = 1;
    }
    if (any)
        ring_event_signal(&ws->ev);
}

static void choose_pref(struct pipeline *pl);

/* Drains the workers' output and releases what every worker has passed. */
static void agg_poll(struct pipeline *pl)
{
    uint64_t bound = pl->pos;
    if (pl->n > 1) {
        choose_pref(pl);
        for (uint32_t i = 0; i < pl->n; i++) {
            struct wslot *ws = &pl->ws[i];
            if (inline_ws(pl, i))
                continue; /* everything it did is in the heap already */
            if (ws->unsignalled) {
                ws->unsignalled = 0;
                ring_publish(ws->in);
                ring_event_signal(&ws->ev);
            }
            /* progress first, then drain: what it emitted up to done is in the ring */
            uint64_t done = __atomic_load_n(&ws->done, __ATOMIC_ACQUIRE);
            drain(pl, ws);
            uint64_t eff = done == ws->sent ? pl->pos : done;
            if (eff < bound)
                bound = eff;
        }
    }
    release(pl, bound);
}

/* ---- workers ----------------------------------------------------------------- */

/* Worker thread: a finished transaction into the output ring. */
static void *out_reserve(struct wslot *ws, uint32_t len)
{
    for (;;) {
        void *d = ring_reserve(ws->out, len);
        if (d)
            return d;
        ring_event_signal(&ws->pl->ev); /* the reader drains when it wakes */
        ring_event_prepare(&ws->ev);
        d = ring_reserve(ws->out, len);
        if (d) {
            ring_event_cancel(&ws->ev);
            return d;
        }
        ring_event_sleep(&ws->ev, WAIT_US);
    }
}

static void obs_to_ring(void *ud, const struct worker_obs_key *k, const struct detect_obs *o)
{
    struct wslot *ws = ud;
    size_t blen = obs_size(o);
    size_t len = sizeof(struct orec) + blen;
    if (len > ring_max_record(ws->out))
        return; /* cannot happen: DETECT_MAX_TX_RECORDS bounds it far below */
    uint8_t *d = out_reserve(ws, (uint32_t)len);
    struct orec h = {OREC_OBS, ws->idx, *k};
    memcpy(d, &h, sizeof(h));
    obs_pack(o, d + sizeof(h));
    ring_commit(ws->out);
}

static void snap_to_ring(struct wslot *ws, uint64_t seq)
{
    size_t len = sizeof(struct orec) + sizeof(struct worker_snap);
    uint8_t *d = out_reserve(ws, (uint32_t)len);
    struct orec h = {OREC_SNAP, ws->idx, {seq, UINT64_MAX, ws->idx}};
    memcpy(d, &h, sizeof(h));
    worker_snapshot(ws->w, (struct worker_snap *)(void *)(d + sizeof(h)));
    ring_commit(ws->out);
}

/* Reader thread, one worker: straight into the heap. */
static void obs_to_heap(void *ud, const struct worker_obs_key *k, const struct detect_obs *o)
{
    struct wslot *ws = ud;
    struct pipeline *pl = ws->pl;
    if (k->seq == pl->direct_seq && !pl->heap_n) {
        /* the only worker, in a packet, nothing waiting: whatever comes
         * later has a larger key (the rest of this packet's transactions:
         * of its flow, or of the flow it made, after an evicted one's, whose
         * id is smaller; then the next record's), so the engine sees what
         * release() would give it, clamped as obs_pack() clamps, without
         * the copy into an item */
        struct detect_obs c = *o;
        c.n_samples = strs_kept(c.n_samples);
        c.n_fingerprints = strs_kept(c.n_fingerprints);
        if (!c.account)
            c.account = "";
        if (pl->detect)
            detect_observe(pl->detect, &c);
        return;
    }
    size_t blen = obs_size(o);
    struct item *it = item_new(ws->pl, IT_OBS, k, ws->idx, 0, blen);
    if (!it)
        return;
    obs_pack(o, it->data);
    heap_push(ws->pl, it);
}

static void snap_to_heap(struct wslot *ws, uint64_t seq)
{
    struct worker_obs_key k = {seq, UINT64_MAX, ws->idx};
    struct item *it = item_new(ws->pl, IT_SNAP, &k, ws->idx, 0, sizeof(struct worker_snap));
    if (!it)
        return;
    worker_snapshot(ws->w, (struct worker_snap *)(void *)it->data);
    heap_push(ws->pl, it);
}

static const struct wrec *wait_input(struct wslot *ws, uint32_t *len)
{
    for (;;) {
        for (int i = 0; i < SPINS; i++) {
            const struct wrec *r = ring_peek(ws->in, len);
            if (r)
                return r;
            cpu_relax();
        }
        ring_event_prepare(&ws->ev);
        const struct wrec *r = ring_peek(ws->in, len);
        if (r) {
            ring_event_cancel(&ws->ev);
            return r;
        }
        ring_event_sleep(&ws->ev, WAIT_US);
    }
}

static void *worker_main(void *arg)
{
    struct wslot *ws = arg;
    char name[16];
    snprintf(name, sizeof name, "lh-worker%u", ws->idx);
    pthread_setname_np(pthread_self(), name); /* top -H, perf: which worker is busy */
    for (;;) {
        uint32_t len;
        const struct wrec *r = ring_peek(ws->in, &len);
        if (!r)
            r = wait_input(ws, &len);
        uint32_t type = r->type;
        uint64_t seq = r->seq;
        if (type == REC_PACKET) {
            struct packet pk = r->p;
            const uint8_t *b = (const uint8_t *)(r + 1);
            pk.data = NULL; /* the link layer stays with the reader */
            pk.caplen = 0;
            pk.l3 = b;
            pk.payload = r->pay_mode == PAY_INSIDE     ? b + r->pay_off
                         : r->pay_mode == PAY_APPENDED ? b + pk.l3_len
                                                       : NULL;
            worker_decoded(ws->w, &pk, seq, r->now_us);
        } else if (type == REC_TICK) {
            worker_tick(ws->w, seq, r->now_us, r->pcap_cnt, r->file_idx);
            snap_to_ring(ws, seq);
        } else if (type == REC_FINISH) {
            worker_flush(ws->w, r->now_us, r->pcap_cnt, r->file_idx);
        } else if (type == REC_RELOAD) {
            worker_set_rules(ws->w, r->gen);
        }
        ring_release(ws->in);
        __atomic_store_n(&ws->done, seq, __ATOMIC_SEQ_CST);
        /* the reader waits for room in this ring (or for the end): wake it
         * once there is plenty, not for every record, so the two do not
         * ping-pong */
        if (type == REC_FINISH ||
            (ring_used(ws->in) <= ring_capacity(ws->in) / 2 &&
             __atomic_load_n(&ws->pl->waiting_on, __ATOMIC_SEQ_CST) == ws->idx))
            ring_event_signal(&ws->pl->ev);
        if (type == REC_FINISH)
            break;
    }
    /* for the reader's stats once this thread is gone */
    __atomic_store_n(&ws->cpu_ns_end, cpu_ns(CLOCK_THREAD_CPUTIME_ID), __ATOMIC_RELEASE);
    return NULL;
}

/* ---- reader ------------------------------------------------------------------ */

/* Bucket b's worker o has finished every packet sent to it for b and holds
 * no session of it: b may go elsewhere without any state behind. */
static int bucket_idle(struct pipeline *pl, uint32_t b, uint32_t o)
{
    if (!inline_ws(pl, o) &&
        __atomic_load_n(&pl->ws[o].done, __ATOMIC_ACQUIRE) < pl->bucket_seq[b])
        return 0;
    return __atomic_load_n(&pl->pair_live[(size_t)o * PAIR_BUCKETS + b], __ATOMIC_ACQUIRE) == 0;
}

/* The worker an idle bucket goes to, chosen at each poll: the worker thread
 * with the least waiting in its ring; with a reader share, the reader
 * itself (worker 0) once every worker thread has FEED_LOW waiting, so the
 * threads are kept fed and the reader takes what they cannot. */
static void choose_pref(struct pipeline *pl)
{
    uint32_t best = NO_WORKER;
    size_t least = SIZE_MAX;
    for (uint32_t i = 0; i < pl->n; i++) {
        if (inline_ws(pl, i))
            continue;
        size_t b = ring_backlog(pl->ws[i].in);
        if (b < least) {
            least = b;
            best = i;
        }
    }
    if (pl->share_pm && least >= FEED_LOW)
        best = 0;
    pl->pref = best;
}

/* SipHash-2-4 of the two addresses, smaller first: the same both ways, and
 * keyed so crafted addresses cannot pile every flow onto one worker. The
 * hash picks one of PAIR_BUCKETS buckets, which starts on the worker the
 * hash (and the reader's share) says and moves, while idle, to the worker
 * choose_pref() picked. The buckets of recent pairs are kept in a small
 * direct-mapped cache (a hit compares the whole pair, so a collision only
 * costs the hash). */
static uint32_t pick_worker(struct pipeline *pl, struct packet *pk)
{
    const struct lh_addr *a = &pk->src, *b = &pk->dst;
    if (memcmp(a, b, sizeof(*a)) > 0) {
        const struct lh_addr *t = a;
        a = b;
        b = t;
    }
    uint8_t m[32];
    memcpy(m, a->a, 16);
    memcpy(m + 16, b->a, 16);
    uint64_t w[4];
    memcpy(w, m, sizeof(w));
    uint64_t x = (w[0] ^ w[1] ^ w[2] ^ w[3]) * UINT64_C(0x9e3779b97f4a7c15);
    struct pick_ent *e = &pl->pick[x >> (64 - PICK_BITS)];
    if (!e->valid || memcmp(e->m, m, sizeof(m)) != 0) {
        memcpy(e->m, m, sizeof(m));
        e->bucket = (uint32_t)(fingerprint_siphash(pl->k0, pl->k1, m, sizeof(m)) % PAIR_BUCKETS);
        e->valid = 1;
    }
    uint32_t bk = e->bucket, o = pl->owner[bk];
    if (o != pl->pref && bucket_idle(pl, bk, o)) {
        pl->owner[bk] = (uint16_t)(o = pl->pref);
        pl->moves++;
    }
    pk->pair_bucket = bk;
    return o;
}

/* Space for a record in a worker's input ring; waits (draining the
 * workers' output meanwhile, so a worker blocked on it can go on). */
static void *in_reserve(struct pipeline *pl, struct wslot *ws, uint32_t len)
{
    void *d = ring_reserve(ws->in, len);
    if (d)
        return d;
    pl->st.ring_waits++;
    /* only this worker wakes the reader (once its ring is half empty): the
     * others, with room in theirs, would wake it for nothing */
    __atomic_store_n(&pl->waiting_on, ws->idx, __ATOMIC_SEQ_CST);
    for (;;) {
        agg_poll(pl);
        ring_event_signal(&ws->ev); /* it must not sleep on a full ring */
        ring_event_prepare(&pl->ev);
        d = ring_reserve(ws->in, len);
        if (d) {
            ring_event_cancel(&pl->ev);
            break;
        }
        ring_event_sleep(&pl->ev, WAIT_US);
        d = ring_reserve(ws->in, len);
        if (d)
            break;
    }
    __atomic_store_n(&pl->waiting_on, NO_WORKER, __ATOMIC_RELAXED);
    return d;
}

/* A tick, the end, or a reload (gen: one reference for the worker). */
static void send_ctl(struct pipeline *pl, struct wslot *ws, uint32_t type, uint64_t seq,
                     struct rulegen *gen)
{
    struct wrec *r = in_reserve(pl, ws, sizeof(*r));
    memset(r, 0, sizeof(*r));
    r->type = type;
    r->seq = seq;
    r->now_us = pl->now_us;
    r->pcap_cnt = pl->last_cnt;
    r->file_idx = pl->last_file;
    r->gen = gen;
    ring_commit(ws->in);
    ring_event_signal(&ws->ev);
    ws->sent = seq;
}

/* A rule reload reaches each worker between two of its records, and the
 * engine once every observation the reader's position came before has:
 * transactions that began earlier finish on the old rules either way. */
static void reader_reload(struct pipeline *pl)
{
    struct rulegen *g = pl->pending_gen;
    pl->pending_gen = NULL;
    uint64_t seq = pl->pos;
    for (uint32_t i = 0; i < pl->n; i++) {
        struct wslot *ws = &pl->ws[i];
        if (inline_ws(pl, i))
            worker_set_rules(ws->w, rulegen_ref(g));
        else
            send_ctl(pl, ws, REC_RELOAD, seq, rulegen_ref(g));
    }
    pl->st.rules_reloads++;
    struct worker_obs_key k = {seq, UINT64_MAX, UINT64_MAX};
    struct item *it = pl->detect ? item_new(pl, IT_RELOAD, &k, 0, pl->now_us, sizeof(g)) : NULL;
    if (it) {
        memcpy(it->data, &g, sizeof(g)); /* the reader's reference goes to the engine */
        heap_push(pl, it);
    } else {
        if (!pl->detect)
            pl->st.rules_generation = g->id;
        rulegen_unref(g);
    }
}

void pipeline_reload(struct pipeline *pl, struct rulegen *g)
{
    if (pl->pending_gen) /* two reloads before the reader got to the first: the newer wins */
        rulegen_unref(pl->pending_gen);
    pl->pending_gen = g;
}

struct rulegen *pipeline_rules(struct pipeline *pl)
{
    return rulegen_ref(pl->detect_gen);
}

void pipeline_reload_rejected(struct pipeline *pl)
{
    pl->st.rules_rejected++;
}

static void send_packet(struct pipeline *pl, struct packet *pk, uint64_t seq)
{
    struct wslot *ws = &pl->ws[pick_worker(pl, pk)];
    pl->bucket_seq[pk->pair_bucket] = seq;
    if (inline_ws(pl, ws->idx)) {
        worker_decoded(ws->w, pk, seq, pl->now_us);
        ws->pkts++;
        ws->bytes += pk->l3_len;
        return;
    }
    uintptr_t l3 = (uintptr_t)pk->l3, pay = (uintptr_t)pk->payload;
    uint32_t mode = PAY_NONE, extra = 0;
    if (pk->payload && pay >= l3 && pay + pk->payload_len <= l3 + pk->l3_len)
        mode = PAY_INSIDE;
    else if (pk->payload && pk->payload_len) {
        mode = PAY_APPENDED;
        extra = pk->payload_len;
    }
    size_t len = sizeof(struct wrec) + (size_t)pk->l3_len + extra;
    if (len > ring_max_record(ws->in)) {
        pl->st.oversize++;
        return;
    }
    struct wrec *r = in_reserve(pl, ws, (uint32_t)len);
    r->type = REC_PACKET;
    r->file_idx = pk->file_idx;
    r->seq = seq;
    r->now_us = pl->now_us;
    r->pcap_cnt = pk->pcap_cnt;
    r->pay_mode = mode;
    r->pay_off = mode == PAY_INSIDE ? (uint32_t)(pay - l3) : 0;
    r->p = *pk;
    uint8_t *b = (uint8_t *)(r + 1);
    if (pk->l3_len)
        memcpy(b, pk->l3, pk->l3_len);
    if (mode == PAY_APPENDED)
        memcpy(b + pk->l3_len, pk->payload, extra);
    /* published and the worker woken at the next poll: it gets a batch,
     * and the ring's counter changes cache line once per batch */
    ring_commit_quiet(ws->in);
    ws->unsignalled = 1;
    ws->sent = seq;
    ws->pkts++;
    ws->bytes += pk->l3_len;
}

/* Reader thread: one line on stderr once half or more of the TCP and UDP
 * packets read so far (CSUM_WARN_MIN at least) had a bad checksum. That is
 * what a capture on a host that offloads checksums looks like (the packets
 * it sends carry none yet): each of them is dropped, and the counter alone
 * (decoder.event.*_bad_csum) would leave the operator wondering why the
 * sensor sees nothing. Verification stays on: it is what keeps a segment
 * with a bad checksum from taking the place of the good copy. */
static void csum_warn(struct pipeline *pl)
{
    if (!pl->verify_csum || pl->csum_warned)
        return;
    const struct decode_stats *s = decoder_stats(pl->dec);
    uint64_t n = s->tcp + s->udp, bad = s->ev[DEC_TCP_BAD_CSUM] + s->ev[DEC_UDP_BAD_CSUM];
    if (n < CSUM_WARN_MIN || bad * 2 < n)
        return;
    pl->csum_warned = 1;
    fprintf(stderr,
            "leakhound: %llu of the first %llu TCP and UDP packets had a bad checksum and were "
            "dropped: captured on a host that offloads checksums? --no-checksum (checksums: false) "
            "keeps them\n",
            (unsigned long long)bad, (unsigned long long)n);
}

/* The tick before packet seq/2: the same place whatever the number of workers. */
static void reader_tick(struct pipeline *pl, uint64_t seq)
{
    csum_warn(pl);
    uint64_t now = pl->now_us;
    decoder_expire(pl->dec, now);
    int due = 0;
    if (pl->stats_interval_s) {
        uint64_t iv = (uint64_t)pl->stats_interval_s * 1000000u;
        if (!pl->next_stats_us)
            pl->next_stats_us = now + iv;
        else if (now >= pl->next_stats_us) {
            due = 1;
            pl->next_stats_us = now + iv;
        }
    }
    struct worker_obs_key k0 = {seq, 0, 0}, kend = {seq, UINT64_MAX, UINT64_MAX};
    struct item *it = item_new(pl, IT_TICK, &k0, 0, now, 0);
    if (it)
        heap_push(pl, it);
    it = item_new(pl, IT_TICKEND, &kend, 0, now, sizeof(struct tickend));
    if (it) {
        struct tickend te;
        reader_view(pl, &te);
        te.stats_due = due;
        memcpy(it->data, &te, sizeof(te));
        heap_push(pl, it);
    }
    for (uint32_t i = 0; i < pl->n; i++) {
        struct wslot *ws = &pl->ws[i];
        if (inline_ws(pl, i)) {
            worker_tick(ws->w, seq, now, pl->last_cnt, pl->last_file);
            snap_to_heap(ws, seq);
        } else {
            send_ctl(pl, ws, REC_TICK, seq, NULL);
        }
    }
}

static void call_service(struct pipeline *pl)
{
    if (pl->service)
        pl->service(pl->service_ud);
}

static int reader_packet(void *ud, struct packet *pk)
{
    struct pipeline *pl = ud;
    if (pk->ts_us > pl->now_us)
        pl->now_us = pk->ts_us;
    uint64_t sec = pl->now_us / 1000000u;
    uint64_t seq = 2 * pk->pcap_cnt;
    if (!pl->ticked || sec != pl->tick_sec) {
        pl->ticked = 1;
        pl->tick_sec = sec;
        reader_tick(pl, seq);
        pl->pos = seq;
    }
    pl->last_cnt = pk->pcap_cnt;
    pl->last_file = pk->file_idx;
    if (decode_packet(pl->dec, pk) == DECODE_OK && pk->ip_ver) {
        if (pl->n == 1) {
            pl->direct_seq = seq + 1;
            worker_decoded(pl->ws[0].w, pk, seq + 1, pl->now_us);
            pl->direct_seq = 0;
        }
        else
            send_packet(pl, pk, seq + 1);
    }
    pl->pos = seq + 1;
    if (pl->n == 1) {
        agg_poll(pl);
        call_service(pl); /* every packet, as before threads */
    } else if (++pl->since_poll >= POLL_EVERY) {
        /* with threads, at each poll: the service reads the clock and takes
         * the EVE writer's lock, which the workers keep busy */
        pl->since_poll = 0;
        agg_poll(pl);
        call_service(pl);
    }
    if (pl->pending_gen)
        reader_reload(pl);
    return 0;
}

static void reader_idle(void *ud)
{
    struct pipeline *pl = ud;
    agg_poll(pl);
    call_service(pl);
    if (pl->pending_gen)
        reader_reload(pl);
}

/* ---- life cycle ------------------------------------------------------------- */

static void *zalloc_aligned(size_t size)
{
    size = (size + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, size);
    if (p)
        memset(p, 0, size);
    return p;
}

double pipeline_auto_share(uint32_t threads, uint32_t cpus)
{
    if (threads < 2 || cpus > threads)
        return 0;
    double s = (1.0 - (threads - 1) * PIPELINE_READER_COST) / threads;
    return s < 0.05 ? 0 : s;
}

/* CPUs this process may run on (at least 1). */
static uint32_t usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (uint32_t)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1;
}

struct pipeline *pipeline_new(const struct worker_config *cfg, const struct worker_shared *sh,
                              uint32_t threads, double reader_share, char *err, size_t errlen)
{
    if (threads < 1 || threads > PIPELINE_MAX_THREADS) {
        snprintf(err, errlen, "--threads %u: give a number from 1 to %d", threads,
                 PIPELINE_MAX_THREADS);
        return NULL;
    }
    /* aligned: the pipeline and the worker slots hold cache-line aligned members */
    struct pipeline *pl = zalloc_aligned(sizeof(*pl));
    if (!pl) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pl->n = threads;
    if (reader_share < 0)
        reader_share = pipeline_auto_share(threads, usable_cpus());
    if (threads > 1 && reader_share > 0)
        pl->share_pm = (uint32_t)(reader_share * 1000 + 0.5);
    pl->eve = sh->eve;
    pl->cap = sh->capture;
    pl->detect = sh->detect;
    pl->detect_gen = rulegen_ref(sh->rules);
    pl->st.rules_generation = sh->rules ? sh->rules->id : 0;
    pl->have_match = sh->rules != NULL;
    pl->stats_interval_s = cfg->stats_interval_s;
    ring_event_init(&pl->ev);
    pl->waiting_on = NO_WORKER;
    if (getrandom(&pl->k0, sizeof(pl->k0), 0) != sizeof(pl->k0) ||
        getrandom(&pl->k1, sizeof(pl->k1), 0) != sizeof(pl->k1)) {
        /* the key only spreads load; the clock will do */
        pl->k0 = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        pl->k1 = (uint64_t)(uintptr_t)pl;
    }
    uint64_t idkey = 0;
    if (sh->fpkey)
        idkey = fingerprint_record64(sh->fpkey, 0xff, (const uint8_t *)"identity", 8);
    pl->dec = decoder_new(&cfg->decode);
    pl->verify_csum = cfg->decode.verify_checksums;
    pl->sessions = identity_sessions_new(cfg->session_cap, idkey);
    pl->ws = zalloc_aligned((size_t)threads * sizeof(*pl->ws));
    if (threads > 1) {
        pl->owner = malloc(PAIR_BUCKETS * sizeof(*pl->owner));
        pl->bucket_seq = calloc(PAIR_BUCKETS, sizeof(*pl->bucket_seq));
        pl->pair_live = calloc((size_t)threads * PAIR_BUCKETS, sizeof(*pl->pair_live));
        if (!pl->owner || !pl->bucket_seq || !pl->pair_live) {
            snprintf(err, errlen, "out of memory creating the pipeline");
            goto error;
        }
        /* where buckets start: the reader's share to worker 0, the rest
         * evenly; from then on they follow the load (pick_worker) */
        for (uint32_t b = 0; b < PAIR_BUCKETS; b++)
            pl->owner[b] = (uint16_t)(!pl->share_pm ? b % threads
                                      : (uint64_t)b * 1000 / PAIR_BUCKETS < pl->share_pm
                                          ? 0
                                          : 1 + b % (threads - 1));
    }
    pl->snaps = calloc(threads, sizeof(*pl->snaps));
    pl->kv = malloc((WORKER_STATS_KV_MAX + PIPE_KV + 3 * (size_t)threads) * sizeof(*pl->kv));
    if (!pl->dec || !pl->sessions || !pl->ws || !pl->snaps || !pl->kv) {
        snprintf(err, errlen, "out of memory creating the pipeline");
        goto error;
    }
    struct worker_config wc = *cfg;
    uint64_t fmem = cfg->flow.memcap ? cfg->flow.memcap : 256ull << 20;
    wc.flow.memcap = fmem / threads;
    wc.reasm.memcap = cfg->reasm.memcap / threads;
    wc.stats_interval_s = 0; /* the reader writes stats */
    for (uint32_t i = 0; i < threads; i++) {
        struct wslot *ws = &pl->ws[i];
        ws->pl = pl;
        ws->idx = i;
        snprintf(ws->key[0], sizeof ws->key[0], "pipeline.worker_%u.packets", i);
        snprintf(ws->key[1], sizeof ws->key[1], "pipeline.worker_%u.bytes", i);
        snprintf(ws->key[2], sizeof ws->key[2], "pipeline.worker_%u.cpu_ms", i);
        ring_event_init(&ws->ev);
        struct worker_shared wsh = *sh;
        wsh.obs_fn = inline_ws(pl, i) ? obs_to_heap : obs_to_ring;
        wsh.obs_ud = ws;
        wsh.eve_lock = NULL; /* the EVE writer locks for itself */
        wsh.sessions = pl->sessions;
        wsh.pair_live = pl->pair_live ? pl->pair_live + (size_t)i * PAIR_BUCKETS : NULL;
        ws->w = worker_new(&wc, &wsh, err, errlen);
        if (!ws->w)
            goto error;
        if (!inline_ws(pl, i)) {
            ws->in = ring_new(RING_BYTES);
            ws->out = ring_new(OBS_RING_BYTES);
            if (!ws->in || !ws->out) {
                snprintf(err, errlen, "out of memory allocating the worker rings");
                goto error;
            }
        }
    }
    return pl;
error:
    pipeline_free(pl);
    return NULL;
}

static int start_workers(struct pipeline *pl, char *err, size_t errlen)
{
    if (pl->n == 1)
        return 0;
    /* signals are the reader's: workers block them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = 0;
    for (uint32_t i = 0; i < pl->n; i++) {
        if (inline_ws(pl, i))
            continue;
        int e = pthread_create(&pl->ws[i].th, NULL, worker_main, &pl->ws[i]);
        if (e) {
            snprintf(err, errlen, "cannot start worker thread %u: %s", i, strerror(e));
            rc = -1;
            break;
        }
        pl->ws[i].started = 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* Sends the end to every worker, waits for them (draining their output),
 * joins them. */
static void stop_workers(struct pipeline *pl)
{
    if (inline_ws(pl, 0))
        worker_flush(pl->ws[0].w, pl->now_us, pl->last_cnt, pl->last_file);
    if (pl->n == 1)
        return;
    for (uint32_t i = 0; i < pl->n; i++)
        if (pl->ws[i].started)
            send_ctl(pl, &pl->ws[i], REC_FINISH, UINT64_MAX, NULL);
    for (;;) {
        agg_poll(pl); /* a worker may be waiting for its output to drain */
        ring_event_prepare(&pl->ev);
        int all = 1;
        for (uint32_t i = 0; i < pl->n; i++)
            if (pl->ws[i].started &&
                __atomic_load_n(&pl->ws[i].done, __ATOMIC_SEQ_CST) != UINT64_MAX)
                all = 0;
        if (all) {
            ring_event_cancel(&pl->ev);
            break;
        }
        ring_event_sleep(&pl->ev, WAIT_US);
    }
    for (uint32_t i = 0; i < pl->n; i++)
        if (pl->ws[i].started) {
            pthread_join(pl->ws[i].th, NULL);
            pl->ws[i].started = 0;
        }
    for (uint32_t i = 0; i < pl->n; i++)
        if (!inline_ws(pl, i))
            drain(pl, &pl->ws[i]);
}

int pipeline_run(struct pipeline *pl, struct capture *cap, void (*service)(void *ud), void *ud,
                 volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    pl->service = service;
    pl->service_ud = ud;
    if (start_workers(pl, err, errlen) != 0) {
        stop_workers(pl);
        return -1;
    }
    pl->running = 1;
    int rc = capture_run(cap, reader_packet, reader_idle, pl, stop, err, errlen);
    call_service(pl);
    return rc;
}

void pipeline_finish(struct pipeline *pl)
{
    if (pl->finished)
        return;
    pl->finished = 1;
    stop_workers(pl);
    pl->running = 0;
    pl->pos = UINT64_MAX;
    release(pl, UINT64_MAX);
    csum_warn(pl);
    /* exact totals: the workers are done */
    for (uint32_t i = 0; i < pl->n; i++)
        worker_snapshot(pl->ws[i].w, &pl->snaps[i]);
    sum_snaps(pl);
    struct tickend te;
    reader_view(pl, &te);
    write_stats(pl, pl->now_us, &te);
    if (pl->eve)
        eve_flush(pl->eve);
}

void pipeline_print_summary(struct pipeline *pl, void *file)
{
    struct tickend te;
    reader_view(pl, &te);
    struct worker_snap one;
    const struct worker_snap *s = &pl->sum;
    if (pl->n == 1 && !pl->finished) {
        worker_snapshot(pl->ws[0].w, &one); /* the reader's own thread: exact */
        s = &one;
    }
    struct worker_stats_src src = {te.have_cap ? &te.cap : NULL,
                                   pl->cap && capture_is_live(pl->cap),
                                   &te.dec,
                                   te.defrag_memuse,
                                   s,
                                   pl->have_match,
                                   pl->detect,
                                   pl->eve};
    worker_summary(&src, file);
    if (pl->n > 1) {
        /* one busy worker among idle ones: the dispatch key or one heavy
         * host pair; a busy reader: decoding and detection */
        FILE *fp = file;
        fprintf(fp, "leakhound: CPU s: reader %.2f; workers", cpu_ns(CLOCK_THREAD_CPUTIME_ID) / 1e9);
        for (uint32_t i = 0; i < pl->n; i++) {
            if (inline_ws(pl, i))
                fprintf(fp, " on the reader");
            else
                fprintf(fp, " %.2f", worker_cpu_ns(&pl->ws[i]) / 1e9);
            fprintf(fp, " (%llu packets)", (unsigned long long)pl->ws[i].pkts);
        }
        fputc('\n', fp);
    }
}

void pipeline_free(struct pipeline *pl)
{
    if (!pl)
        return;
    if (pl->ws && pl->running)
        pipeline_finish(pl);
    for (uint32_t i = 0; pl->ws && i < pl->n; i++) {
        worker_free(pl->ws[i].w); /* ends flows left (none after finish) */
        ring_free(pl->ws[i].in);
        ring_free(pl->ws[i].out);
    }
    /* observations of flows ended by worker_free, if finish never ran */
    release(pl, UINT64_MAX);
    for (size_t i = 0; i < pl->heap_n; i++)
        free(pl->heap[i].it);
    free(pl->heap);
    free(pl->ws);
    free(pl->owner);
    free(pl->bucket_seq);
    free(pl->pair_live);
    free(pl->snaps);
    free(pl->kv);
    identity_sessions_free(pl->sessions);
    decoder_free(pl->dec);
    rulegen_unref(pl->pending_gen);
    rulegen_unref(pl->detect_gen);
    free(pl);
}
