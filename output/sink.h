/* sink.h - where event lines go: files, stdout, syslog, Unix stream sockets.
 *
 * The EVE writer (eve.c) builds each event once per form (EVE or ECS) and
 * hands the finished line (no newline) to every sink that takes its event
 * type. A sink adds its own framing (newline, RFC 5424 header, RFC 6587
 * octet count) and owns its I/O.
 *
 * Nothing here blocks the packet path for long: sockets are non-blocking,
 * and what cannot be sent now waits in a bounded per-sink queue, drained by
 * sink_tick() (called with the wall clock) and by later writes. An event
 * that does not fit the queue is dropped and counted. Files are written
 * with write(2); a failing write (disk full) keeps the batch buffered and is
 * retried, reported on stderr once per episode, counted, never fatal.
 *
 * Counters (struct sink_stats) are in events, so written + queued + dropped
 * is every event given to the sink (exactly, for file, Unix and syslog over
 * TCP; a UDP datagram the network loses after send() cannot be counted).
 * A stream collector that closes its end with bytes it had not read yet
 * loses them inside its own kernel: we check for its close before every
 * write so that does not happen while it is gone, and say so in
 * docs/output.md. */
#ifndef LH_SINK_H
#define LH_SINK_H

#include <stddef.h>
#include <stdint.h>

enum sink_kind {
    SINK_FILE = 0,
    SINK_STDOUT,
    SINK_SYSLOG,
    SINK_UNIX,
};

enum sink_form {
    SINK_FORM_EVE = 0,
    SINK_FORM_ECS,
};

/* Event types a sink takes (bit mask). OTHER is every type not named. */
enum {
    SINK_T_ALERT = 1u << 0,
    SINK_T_HTTP = 1u << 1,
    SINK_T_FLOW = 1u << 2,
    SINK_T_STATS = 1u << 3,
    SINK_T_OTHER = 1u << 4,
    SINK_T_ALL = (1u << 5) - 1,
};

/* The bit for an event_type string ("alert" -> SINK_T_ALERT, unknown ->
 * SINK_T_OTHER). len may be (size_t)-1 for a NUL-terminated string. */
unsigned sink_type_bit(const char *type, size_t len);

struct sink_config {
    char name[32];            /* stats: output.<name>.written ...; unique */
    enum sink_kind kind;
    enum sink_form form;
    unsigned types;           /* SINK_T_* mask; 0 means all */
    /* file */
    char path[1024];          /* file path, or Unix socket path */
    int line_buffered;        /* 1: write(2) per event; 0: batch (default) */
    uint32_t flush_ms;        /* batch: flush at least this often (default 1000) */
    int fsync;                /* fdatasync after each flush */
    /* syslog */
    int udp;                  /* 1: UDP; 0: TCP with octet-counting framing */
    char host[256];
    char port[16];            /* default "514" */
    int facility;             /* 0..23, default 16 (local0) */
    char hostname[256];       /* RFC 5424 HOSTNAME; "" = gethostname() */
    char app_name[49];        /* default "leakhound" */
    /* network sinks (syslog, unix) */
    uint32_t queue_events;    /* events held while the collector is away (default 10000) */
    uint64_t queue_bytes;     /* and at most these bytes (default 16 MiB) */
    uint32_t reconnect_ms;    /* between connection attempts (default 1000) */
    uint32_t drain_ms;        /* at close: how long to try to send what is queued (2000) */
};

/* Defaults for every field (kind file, path "eve.json", all types, EVE). */
void sink_config_default(struct sink_config *c);

struct sink_stats {
    uint64_t written;    /* events handed whole to the kernel */
    uint64_t queued;     /* events waiting now (a gauge) */
    uint64_t dropped;    /* events lost: queue full, too large, given up at close */
    uint64_t errors;     /* failed writes, sends and connection attempts */
    uint64_t reconnects; /* connections made after the first (files: reopens) */
};

struct sink;

/* Opens the sink. A file that cannot be opened is an error (NULL, err names
 * the path and what to do); a collector that is not there yet is not: the
 * sink starts queueing and keeps trying. now_ms is the monotonic clock. */
struct sink *sink_open(const struct sink_config *cfg, uint64_t now_ms, char *err, size_t errlen);
/* Tries to deliver what is queued (for at most cfg.drain_ms), counts what
 * is left as dropped, reports a loss on stderr, frees. Accepts NULL. */
void sink_close(struct sink *s);

/* One event line (no newline). type is the event_type (MSGID for syslog).
 * Never blocks for long; can't fail (losses are counted). */
void sink_write(struct sink *s, const char *type, const char *line, size_t len, uint64_t now_ms);
/* Wall-clock service: batch flush, reconnect, queue drain. Cheap when idle. */
void sink_tick(struct sink *s, uint64_t now_ms);
/* Writes out what is buffered (files) or tries to (sockets). */
void sink_flush(struct sink *s);
/* SIGHUP: files are closed and opened again by name (logrotate). */
void sink_reopen(struct sink *s);

const struct sink_config *sink_get_config(const struct sink *s);
void sink_get_stats(const struct sink *s, struct sink_stats *st);
/* "connected", "connecting", "away", "error", "ok": for the SIGUSR1 line. */
const char *sink_state(const struct sink *s);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t sink_now_ms(void);

#endif
