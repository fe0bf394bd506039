/* eve.h - EVE-style NDJSON events (Suricata's field names where one exists).
 *
 * The worker hands plain structs in; this module builds the JSON (jansson)
 * and hands one line per event to each of its sinks (output/sink.h) that
 * takes the event type, as EVE or as ECS (output/ecs.h).
 * Strings given in are copied; nothing is kept after a call returns. Values
 * that could carry a record (URLs, headers) must be masked by the caller.
 * Write errors (disk full, closed pipe) are counted and reported once per
 * episode on stderr; events are never the reason the sensor stops. Several
 * threads may share one writer: writes, ticks and stats take its lock. */
#ifndef LH_EVE_H
#define LH_EVE_H

#include <stddef.h>
#include <stdint.h>

/* Fields every event about a flow carries. */
struct eve_common {
    uint64_t ts_us;        /* packet time of the event */
    uint64_t flow_id;
    const char *src_ip, *dest_ip;
    uint16_t src_port, dest_port;
    const char *proto;     /* "TCP", "UDP", "ICMP", "IPv6-ICMP", or a number */
    const char *app_proto; /* "" or NULL: omitted */
    const char *community_id;
    uint16_t vlan;         /* 0: omitted */
    const char *pcap_filename; /* NULL or "": omitted (live) */
    uint64_t pcap_cnt;     /* 0: omitted */
};

struct eve_kv {
    const char *key; /* dots make nested objects: "decoder.ipv4" */
    uint64_t val;
};

/* A per-direction summary of the records found (never raw values). */
struct eve_records {
    const struct eve_kv *counts; /* per category, "phone" -> 12; keys unique */
    size_t n_counts;
    const char *const *samples;  /* masked */
    size_t n_samples;
    const char *const *fingerprints; /* "hmac:..." */
    const char *const *fp_categories; /* category of each fingerprint: output groups by it */
    size_t n_fingerprints;
};

struct eve_flow {
    struct eve_common c;
    uint64_t start_us, end_us;
    uint64_t pkts_toserver, pkts_toclient, bytes_toserver, bytes_toclient;
    const char *state;  /* TCP state name or NULL */
    const char *reason; /* "timeout", "shutdown", ... */
    const char *ndpi_proto, *ndpi_category, *host;
    const struct eve_records *records[2]; /* toserver, toclient; NULL: omitted */
};

struct eve_account {
    const char *id;  /* account name, or the client IP when no identity was found */
    const char *via; /* "header:X-Emp-Id", "jwt:emp_id", ..., "src_ip" */
};

/* One HTTP transaction. Every string must already be masked by the caller. */
struct eve_http {
    struct eve_common c;
    const char *hostname, *url, *http_method, *protocol;
    int status;                   /* 0: omitted (no response) */
    const char *http_user_agent, *http_content_type, *http_refer;
    uint64_t length;              /* response body bytes on the wire */
    uint64_t request_length;
    const char *const *flags;     /* "gzip", "chunked", "truncated", ... */
    size_t n_flags;
    struct eve_account account;
    const char *endpoint;         /* endpoint id from the rules, or NULL */
    const struct eve_records *records; /* found in this transaction, or NULL */
};

struct eve_sink_stats {
    uint64_t written, errors, dropped;
};

struct eve;
struct sink_config;

/* An EVE writer with one sink: path "-" is stdout (sink "stdout");
 * otherwise the file is created 0640 (or appended to), sink "eve", every
 * event type, EVE form, batched (flushed every second and at close).
 * NULL with err on failure. */
struct eve *eve_open(const char *path, char *err, size_t errlen);
/* An EVE writer with no sinks yet (events go nowhere until one is added). */
struct eve *eve_new(char *err, size_t errlen);
/* Opens a sink (output/sink.h) and adds it. -1 with err (one line naming the
 * output and what to do) when it cannot be opened or its name is taken. */
int eve_add_sink(struct eve *e, const struct sink_config *cfg, char *err, size_t errlen);
/* Flushes, drains the network queues (bounded wait), reports what is lost,
 * closes. Accepts NULL. */
void eve_close(struct eve *e);
void eve_flush(struct eve *e);
/* Wall-clock service for the sinks (batch flush, reconnect, queue drain).
 * Cheap: call it per packet and when idle. Accepts NULL. */
void eve_tick(struct eve *e);
/* SIGHUP: file sinks open their paths again (logrotate). Accepts NULL. */
void eve_reopen(struct eve *e);
/* Totals: written = events built and handed to the sinks (each once);
 * errors and dropped summed over the sinks. */
void eve_get_stats(struct eve *e, struct eve_sink_stats *out); /* a copy, taken under the lock */
/* Per-sink counters as stats pairs: "output.<name>.written", ".queued",
 * ".dropped", ".errors", ".reconnects" (5 per sink; keys live as long as e).
 * Returns how many were put in kv (at most max, whole sinks only). */
size_t eve_sink_stats_kv(struct eve *e, struct eve_kv *kv, size_t max);
/* One line "leakhound: outputs NAME STATE: N written, ..." on a FILE *. */
void eve_print_sinks(struct eve *e, void *file);

void eve_write_flow(struct eve *e, const struct eve_flow *f);
void eve_write_http(struct eve *e, const struct eve_http *h);
/* stats event: kv keys with dots become nested objects. */
void eve_write_stats(struct eve *e, uint64_t ts_us, const struct eve_kv *kv, size_t n);

/* Writes one already-built JSON object (no newline; one is added) as an
 * event line, with the same error counting as the other writers. Used by
 * output/eve_alert.c. */
void eve_write_line(struct eve *e, const char *line, size_t len);

/* "2026-03-02T10:15:03.123456+0000" for packet time ts_us. out >= 32. */
void eve_format_ts(uint64_t ts_us, char *out, size_t outlen);

#endif
