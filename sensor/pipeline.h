/* pipeline.h - the run: one reader, N workers, one detection order.
 *
 * The reader (the calling thread) reads the capture, decodes each packet
 * once (IP defragmentation included) and keeps the run's packet-time clock;
 * it hands each decoded packet to the worker picked by a keyed symmetric
 * hash of the two IP addresses, and a tick to every worker before the first
 * packet of each new second of packet time (flow expiry). With threads > 1
 * each worker is a thread fed through a bounded lock-free ring, except that
 * with a reader share worker 0 runs on the reader's thread; with 1, the
 * reader calls the one worker directly. Finished HTTP transactions come
 * back as observations, which the reader hands to the detection engine in
 * one order that does not depend on the number of workers, so events
 * (sorted by time and flow), alerts and detection counts are the same for
 * every N. See docs/architecture.md, "Threads".
 *
 * Lifetimes: the pipeline owns the reader's decoder, the workers, the rings,
 * and the shared login-session table; the caller owns everything in struct worker_shared, which must outlive it. */
#ifndef LH_PIPELINE_H
#define LH_PIPELINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "sensor/worker.h"

struct rulegen;

#define PIPELINE_MAX_THREADS 256

struct pipeline;

/* threads: workers, 1 .. PIPELINE_MAX_THREADS. reader_share (threads > 1):
 * the fraction of address pairs whose packets the reader thread processes
 * itself as worker 0 at the start (idle pairs then follow the load), so
 * that N workers keep N CPUs busy instead of N + 1 threads contending for
 * them; 0 gives every worker a thread of its own; < 0 is "auto"
 * (pipeline_auto_share). The flow and reassembly memory caps
 * of cfg are for the whole run: each worker gets an equal share. NULL with
 * err (one line) on failure. Starts no thread yet. */
struct pipeline *pipeline_new(const struct worker_config *cfg, const struct worker_shared *sh,
                              uint32_t threads, double reader_share, char *err, size_t errlen);

/* The share "auto" gives for threads workers on cpus usable CPUs: 0 when
 * there is a CPU for the reader besides one per worker; else what evens
 * the reader's load with a worker's, given the reader's own work per packet
 * (reading, decoding, dispatch, detection) at PIPELINE_READER_COST of a
 * worker's: (1 - (threads - 1) * cost) / threads, 0 below 0.05. */
#define PIPELINE_READER_COST 0.3
double pipeline_auto_share(uint32_t threads, uint32_t cpus);

/* Reads the capture to its end (or until *stop), as capture_run. service(ud)
 * is called after every packet (with threads, every 32 packets) and when
 * idle, on the reader's thread (so it
 * may call eve_tick, eve_reopen, pipeline_print_summary, pipeline_reload and
 * pipeline_reload_rejected; not other pipeline calls). Returns 0, or -1 with err when the capture or a thread fails. */
int pipeline_run(struct pipeline *p, struct capture *cap, void (*service)(void *ud), void *ud,
                 volatile sig_atomic_t *stop, char *err, size_t errlen);

/* End of input: every flow ends (reason shutdown), the workers stop, the
 * last observations reach the engine, a final stats event (exact totals)
 * is written and the events flushed. Call once, after pipeline_run. */
void pipeline_finish(struct pipeline *p);

/* One summary line on a FILE *: exact after pipeline_finish; during the run
 * with threads, the totals as of the last tick the aggregator passed. */
void pipeline_print_summary(struct pipeline *p, void *file);

/* A rule reload (from the service hook, on the reader's thread): takes over
 * one reference to g. At the next packet or idle call the reader sends it
 * to every worker (new transactions and streams use it; open ones finish
 * on the rules they began with, see worker_set_rules) and queues it for
 * the detection engine, which takes it in observation order keeping every
 * account's state (detect_reload). Counted as rules.reloads; stats carry
 * rules.generation. */
void pipeline_reload(struct pipeline *p, struct rulegen *g);
/* The rules the detection engine now runs, as a new reference (the engine
 * must be freed before the last reference goes). */
struct rulegen *pipeline_rules(struct pipeline *p);
/* Counts a reload refused because the new rule files had errors. */
void pipeline_reload_rejected(struct pipeline *p);

/* Stops and joins the workers if still running, frees. Accepts NULL. */
void pipeline_free(struct pipeline *p);

#endif
