/* eve_alert.h - the alert event (event_type "alert"), built with jansson.
 *
 * rules/detect.c fills a struct eve_alert from its account state and the
 * triggering transaction; this module turns it into one JSON line in a
 * fixed key order (same input, same bytes) and writes it through
 * eve_write_line(). Every string handed in must already be masked: the
 * engine only ever holds masked samples and "hmac:" fingerprints. Strings
 * are copied; nothing is kept after the call. Fields: docs/alerts.md. */
#ifndef LH_EVE_ALERT_H
#define LH_EVE_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "output/eve.h"

/* A number in a detail object; is_int prints it without a fraction. */
struct eve_alert_num {
    const char *key;
    double val;
    int is_int;
};

struct eve_alert {
    struct eve_common c;
    /* account */
    const char *account_id, *account_via;
    const char *const *src_ips; /* known hosts, most recent first */
    size_t n_src_ips;
    int new_src_ip;
    /* alert */
    const char *rule, *signature, *category;
    uint32_t signature_id;
    int severity;
    /* leak */
    uint32_t window_s;          /* 0: omitted */
    int has_queries;
    uint64_t queries;
    const struct eve_kv *records; /* distinct records per category in the window */
    size_t n_records;
    int has_baseline;
    double baseline_value, baseline_ratio;
    const char *baseline_kind;  /* "own", "own_sustained" or "peers" */
    int has_spread;             /* own: z and cusum below are set */
    double baseline_z;          /* spreads of log count above the usual */
    double baseline_cusum;      /* the CUSUM of hourly residuals, in spreads */
    const char *detail_name;    /* leak.<detail_name> {...}, or NULL */
    const struct eve_alert_num *detail;
    size_t n_detail;
    const char *const *samples; /* masked */
    size_t n_samples;
    const char *const *fingerprints;
    size_t n_fingerprints;
    /* http: the triggering transaction (url already masked) */
    const char *hostname, *url, *http_method;
    int status;
    /* evidence */
    const char *evidence_pcap;  /* NULL: omitted */
    /* episode */
    uint64_t episode_start_us;
    uint32_t episode_alert;     /* 1 first alert, 2.. escalations */
};

/* The event as one JSON line without newline (malloc'd; caller frees), or
 * NULL when out of memory. */
char *eve_alert_format(const struct eve_alert *a);
/* Formats and writes; on allocation failure nothing is written. */
void eve_alert_write(struct eve *e, const struct eve_alert *a);

#endif
