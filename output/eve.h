/* eve.h - EVE-style NDJSON events (Suricata's field names where one exists).
 *
 * The worker hands plain structs in; this module builds the JSON (jansson;
 * the only file that includes it) and writes one line per event to its sink.
 * Strings given in are copied; nothing is kept after a call returns. Values
 * that could carry a record (URLs, headers) must be masked by the caller.
 * Write errors (disk full, closed pipe) are counted and reported once per
 * episode on stderr; events are never the reason the sensor stops. */
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
    const struct eve_kv *counts; /* per category, "phone" -> 12 */
    size_t n_counts;
    const char *const *samples;  /* masked */
    size_t n_samples;
    const char *const *fingerprints;
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

/* path "-" is stdout; otherwise the file is created 0640 (or appended to).
 * NULL with err on failure. */
struct eve *eve_open(const char *path, char *err, size_t errlen);
/* Flushes and closes. Accepts NULL. */
void eve_close(struct eve *e);
void eve_flush(struct eve *e);
const struct eve_sink_stats *eve_stats(const struct eve *e);

void eve_write_flow(struct eve *e, const struct eve_flow *f);
void eve_write_http(struct eve *e, const struct eve_http *h);
/* stats event: kv keys with dots become nested objects. */
void eve_write_stats(struct eve *e, uint64_t ts_us, const struct eve_kv *kv, size_t n);

/* "2026-03-02T10:15:03.123456+0000" for packet time ts_us. out >= 32. */
void eve_format_ts(uint64_t ts_us, char *out, size_t outlen);

#endif
