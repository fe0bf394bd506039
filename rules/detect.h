/* detect.h - per-account detection: windows, baselines, episodes, alerts.
 *
 * Workers hand the engine one compact struct detect_obs per HTTP transaction
 * (who asked, from where, which endpoint, which distinct records came back,
 * as keyed 64-bit fingerprints with their categories). The engine owns all
 * account state: source hosts, time-bucketed query counts per endpoint and
 * distinct-record counts per category, baselines (own history and peers),
 * open alert episodes. It writes alert events through output/ and keeps its
 * state in a state file (atomic replace) across restarts.
 *
 * Everything is packet time. Detections are declared in rule files under
 * `detections:` (see docs/rules.md and docs/detection.md); the engine never
 * sees a raw record, only fingerprints, masked samples and region codes. */
#ifndef LH_DETECT_H
#define LH_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "sensor/packet.h"

struct eve;
struct detect_rules; /* parsed detections: section, see detect_rules_parse() */

#define DETECT_MAX_TX_RECORDS 4096 /* records of one transaction handed over */

/* One record of a transaction, as the engine sees it. */
struct detect_rec {
    uint64_t fp;       /* keyed 64-bit fingerprint (output/fingerprint.h) */
    uint8_t category;  /* enum rule_category */
    uint16_t region;   /* province code (GB/T 2260 first two digits, e.g. 11 Beijing), 0 unknown */
};

/* One HTTP transaction, attributed to an account. All strings are masked
 * already and only borrowed for the call. */
struct detect_obs {
    uint64_t ts_us;
    const char *account;  /* never NULL: the client IP when no identity */
    const char *via;      /* "header:X-Emp-Id", ..., "src_ip" */
    struct lh_addr src;   /* client address */
    uint8_t ip_ver;
    int endpoint;         /* index into the rules' endpoints, -1 none */
    const char *endpoint_id;
    uint64_t waybill_query; /* numeric part of the waybill number queried (enumeration), 0 none */
    const struct detect_rec *recs; /* distinct records the transaction returned */
    size_t n_recs;
    /* for the alert, about this transaction */
    uint64_t flow_id;
    const char *src_ip, *dest_ip;
    uint16_t src_port, dest_port;
    const char *community_id;
    const char *hostname, *url, *http_method;
    int status;
    const char *pcap_filename;
    uint64_t pcap_cnt;
    const char *const *samples;      /* masked samples of records, a few */
    size_t n_samples;
    const char *const *fingerprints; /* "hmac:..." strings of the same records */
    size_t n_fingerprints;
};

struct detect_stats {
    uint64_t observations, accounts, accounts_evicted, accounts_memuse;
    uint64_t alerts, escalations, episodes_open;
    uint64_t sketch_switches; /* exact sets that turned into HyperLogLog */
    uint64_t state_saves, state_save_errors, state_load_errors;
    uint64_t names_cut;     /* account names longer than ACCOUNT_NAME_MAX - 1, cut */
    uint64_t obs_nomem;     /* observations not counted: out of memory */
};

/* Evidence hook: called for every alert (first and escalations) before the
 * alert is written, on the engine's thread. The worker starts keeping the
 * account's packets and returns the evidence file name to put in the
 * alert (borrowed until the next call), or NULL to leave it out. */
typedef const char *(*detect_evidence_fn)(void *ud, const char *account, uint64_t flow_id,
                                          uint64_t ts_us, const char *rule);

struct detect_config {
    const struct detect_rules *rules; /* from the rule files; NULL: no detections */
    uint64_t memcap;      /* all account state, default 512 MiB */
    const char *state_file; /* NULL: no persistence */
    uint32_t save_interval_s; /* packet time between saves, default 300 */
    detect_evidence_fn evidence; /* NULL: no evidence hook */
    void *evidence_ud;
};

struct detect_engine;

/* NULL with err on failure. A missing or corrupt state file is reported on
 * stderr and the engine starts fresh (counted). */
struct detect_engine *detect_new(const struct detect_config *cfg, struct eve *eve, char *err,
                                 size_t errlen);
/* A rule reload: the engine runs the detections of rules from now on
 * (NULL: none). Every account is kept with its source hosts, windows and
 * region mix; per-detection state (baseline, open episode) follows its
 * detection id, so an unchanged detection goes on as if nothing happened,
 * a new one starts learning, a removed one is forgotten. rules must
 * outlive the engine (or the next reload). Returns 0, or -1 with err when
 * memory is short (the engine then goes on with the old rules). Accepts a
 * NULL engine (nothing to do). */
int detect_reload(struct detect_engine *d, const struct detect_rules *rules, char *err,
                  size_t errlen);

/* Saves state (if configured) and frees. Accepts NULL. */
void detect_free(struct detect_engine *d);

void detect_observe(struct detect_engine *d, const struct detect_obs *obs);
/* Packet time advanced to now_us: close buckets, end quiet episodes, save
 * state when due. Cheap when called per packet. */
void detect_tick(struct detect_engine *d, uint64_t now_us);
const struct detect_stats *detect_get_stats(const struct detect_engine *d);

/* Is the account currently in an alert episode (for evidence capture)? */
int detect_account_alerted(const struct detect_engine *d, const char *account);

/* The account's learned baseline for a detection (anomaly: usual count per
 * active hour; out_of_scope: usual out-of-region share) and the hours
 * learned. Returns 0, or -1 when the account or detection is unknown. For
 * tests and debugging. */
int detect_account_baseline(const struct detect_engine *d, const char *account,
                            const char *detection, double *level, uint32_t *hours);

/* Writes the state file now (if configured). Returns 0 or -1 (reported on
 * stderr once per failure episode, counted). detect_tick() calls it when due. */
int detect_save(struct detect_engine *d);

#endif
