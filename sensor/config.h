/* config.h - the sensor's settings: defaults, the YAML file (-c), and the
 * command line on top (the command line wins).
 *
 * main() fills a struct config with config_init(), loads the file with
 * config_load() (errors are "FILE:LINE: what; what to do"), then applies
 * each command-line option with the config_set_*() helpers. Every key of
 * the file is listed, with its default, in etc/leakhound.yaml and
 * docs/operations.md. The struct owns its strings (config_free()).
 *
 * Paths in the file are relative to the file's directory; file outputs'
 * paths are relative to output-dir. Values 0 (or NULL) in the numeric and
 * string fields mean "not set: the module's default". */
#ifndef LH_SENSOR_CONFIG_H
#define LH_SENSOR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "output/sink.h"

#define CONFIG_MAX_PATHS 64
#define CONFIG_MAX_SINKS 16

struct config {
    /* capture */
    char *interface, *filter, *user;
    int snaplen;            /* 0: default */
    int promisc;            /* -1: default (on) */
    int buffer_mb;          /* 0: default */
    double replay_speed;    /* 0: full speed */
    int checksums;          /* -1: default (verify) */
    /* rules */
    char *rules[CONFIG_MAX_PATHS];
    size_t n_rules;
    char *allowlists[CONFIG_MAX_PATHS]; /* extra rule files (allowlists) */
    size_t n_allowlists;
    int match;              /* 1 (default): scan streams */
    char *site_key;
    /* outputs */
    char *output_dir;       /* default "leakhound-out" */
    struct sink_config sinks[CONFIG_MAX_SINKS]; /* none: one file eve.json */
    size_t n_sinks;
    int64_t stats_interval; /* seconds; -1: default (60) */
    /* limits */
    uint64_t flow_memcap, reasm_memcap, defrag_memcap; /* 0: default */
    uint64_t detect_memcap; /* account state of the detections; 0: default */
    uint32_t threads;       /* default 1 */
    double reader_share;    /* pipeline_new's reader_share; -1: auto (the default) */
    /* detection state and evidence (stored for the detection engine) */
    char *state_file;
    char *evidence_dir;
    uint64_t evidence_max_bytes;      /* all evidence files together */
    uint64_t evidence_max_file_bytes; /* one evidence pcap */
    uint32_t evidence_max_files;
};

/* Defaults (see above). Can't fail. */
void config_init(struct config *c);
void config_free(struct config *c); /* accepts NULL fields; c itself is not freed */

/* Reads the YAML file at path on top of c. On error returns -1 with
 * "PATH:LINE: ..." in err (c may then hold part of the file). */
int config_load(struct config *c, const char *path, char *err, size_t errlen);

/* One output from a command-line spec, e.g.
 *   "file:alerts.json,events=alert,format=ecs"   "stdout"
 *   "syslog:tcp://127.0.0.1:514,format=ecs"     "unix:/run/x.sock"
 * The keys after commas are those of an outputs entry in the file. */
int config_add_sink_spec(struct config *c, const char *spec, char *err, size_t errlen);

/* "64M", "1G", "4096" -> bytes. -1 when it does not parse. */
int config_parse_size(const char *s, uint64_t *out);

/* "auto" (-1) or a fraction from 0 to below 1 (reader-share). 0, or -1
 * when v is neither. */
int config_parse_share(const char *v, double *out);
/* "500ms", "2s", "1m", "250" (ms) -> milliseconds. -1 when it does not parse. */
int config_parse_ms(const char *s, uint32_t *out);

/* Replaces *dst with a copy of v (NULL: unset). */
void config_set_str(char **dst, const char *v);
/* Appends a copy of v; -1 when the list is full. */
int config_add_path(char **list, size_t *n, const char *v);
/* Empties a list. */
void config_clear_paths(char **list, size_t *n);

#endif
