/* config.c - the YAML configuration file and command-line output specs.
 *
 * The file is loaded whole with libyaml's document API (it is small) and
 * walked against tables of keys: each table row names a key, its type and
 * where it goes in struct config, so adding a setting is one row. Every
 * error names the file and line of the node at fault and what to do. An
 * unknown key is an error, so a typo never silently leaves a default in
 * place. Output entries (the "outputs" list) use the same key setter as
 * the command line's --output specs. */
#include "sensor/config.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

void config_init(struct config *c)
{
    memset(c, 0, sizeof(*c));
    c->promisc = -1;
    c->checksums = -1;
    c->match = 1;
    c->stats_interval = -1;
    c->threads = 1;
    c->reader_share = -1;
}

int config_parse_share(const char *v, double *out)
{
    if (strcmp(v, "auto") == 0) {
        *out = -1;
        return 0;
    }
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !(d >= 0 && d < 1))
        return -1;
    *out = d;
    return 0;
}

void config_set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? strdup(v) : NULL;
}

int config_add_path(char **list, size_t *n, const char *v)
{
    if (*n == CONFIG_MAX_PATHS)
        return -1;
    list[(*n)++] = strdup(v);
    return 0;
}

void config_clear_paths(char **list, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free(list[i]);
    *n = 0;
}

void config_free(struct config *c)
{
    free(c->interface);
    free(c->filter);
    free(c->user);
    free(c->site_key);
    free(c->output_dir);
    free(c->state_file);
    free(c->evidence_dir);
    config_clear_paths(c->rules, &c->n_rules);
    config_clear_paths(c->allowlists, &c->n_allowlists);
    c->interface = c->filter = c->user = c->site_key = c->output_dir = NULL;
    c->state_file = c->evidence_dir = NULL;
}

int config_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (*end == 'i')
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || (shift && v > (~0ull >> shift)))
        return -1;
    *out = v << shift;
    return 0;
}

int config_parse_ms(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return -1;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    if (strcmp(end, "ms") == 0 || *end == 0)
        ;
    else if (strcmp(end, "s") == 0)
        v *= 1000;
    else if (strcmp(end, "m") == 0)
        v *= 60000;
    else
        return -1;
    if (v > 4e9)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* ---- outputs ---------------------------------------------------------------- */

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") ||
        !strcmp(v, "1"))
        *out = 1;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
             !strcmp(v, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || end == v || *end || *v == '-' || x < lo || x > hi)
        return -1;
    *out = (uint32_t)x;
    return 0;
}

static const char *const facilities[] = {"kern",   "user",   "mail",   "daemon", "auth",
                                         "syslog", "lpr",    "news",   "uucp",   "cron",
                                         "authpriv", "ftp",  "ntp",    "audit",  "alert",
                                         "clock",  "local0", "local1", "local2", "local3",
                                         "local4", "local5", "local6", "local7"};

/* Event type list "alert,flow" or "alert+flow" or "all" -> mask. */
static int parse_types(const char *v, unsigned *out, char *err, size_t errlen)
{
    unsigned m = 0;
    const char *p = v;
    while (*p) {
        size_t n = strcspn(p, ",+ ");
        if (n) {
            if (n == 3 && !strncmp(p, "all", 3)) {
                m |= SINK_T_ALL;
            } else {
                unsigned b = sink_type_bit(p, n);
                if (b == SINK_T_OTHER && !(n == 5 && !strncmp(p, "other", 5))) {
                    snprintf(err, errlen, "unknown event type \"%.*s\"; give alert, http, flow, "
                             "stats, other or all", (int)n, p);
                    return -1;
                }
                m |= b;
            }
        }
        p += n;
        while (*p == ',' || *p == '+' || *p == ' ')
            p++;
    }
    if (!m) {
        snprintf(err, errlen, "no event types given; give alert, http, flow, stats or all");
        return -1;
    }
    *out = m;
    return 0;
}

static int set_kind(struct sink_config *s, const char *v, char *err, size_t errlen)
{
    if (!strcmp(v, "file"))
        s->kind = SINK_FILE;
    else if (!strcmp(v, "stdout"))
        s->kind = SINK_STDOUT;
    else if (!strcmp(v, "syslog"))
        s->kind = SINK_SYSLOG;
    else if (!strcmp(v, "unix"))
        s->kind = SINK_UNIX;
    else {
        snprintf(err, errlen, "unknown output type \"%s\"; give file, stdout, syslog or unix", v);
        return -1;
    }
    return 0;
}

/* host:port, [v6]:port or host (port stays). */
static int set_hostport(struct sink_config *s, const char *v, char *err, size_t errlen)
{
    const char *host = v, *port = NULL;
    size_t hl;
    if (v[0] == '[') {
        const char *rb = strchr(v, ']');
        if (!rb) {
            snprintf(err, errlen, "address \"%s\": missing ']'", v);
            return -1;
        }
        host = v + 1;
        hl = (size_t)(rb - host);
        if (rb[1] == ':')
            port = rb + 2;
    } else {
        const char *c = strrchr(v, ':');
        if (c && strchr(v, ':') == c) {
            hl = (size_t)(c - v);
            port = c + 1;
        } else {
            hl = strlen(v);
        }
    }
    if (hl == 0 || hl >= sizeof(s->host) || (port && (!*port || strlen(port) >= sizeof(s->port)))) {
        snprintf(err, errlen, "address \"%s\": give HOST:PORT", v);
        return -1;
    }
    memcpy(s->host, host, hl);
    s->host[hl] = 0;
    if (port)
        snprintf(s->port, sizeof(s->port), "%s", port);
    return 0;
}

/* One key of an output. err gets the message without file:line. */
static int sink_set(struct sink_config *s, const char *k, const char *v, char *err, size_t errlen)
{
    uint32_t u;
    uint64_t z;
    if (!strcmp(k, "name")) {
        if (!*v || strlen(v) >= sizeof(s->name) || strspn(v, "abcdefghijklmnopqrstuvwxyz"
                                                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                              "0123456789_-") != strlen(v)) {
            snprintf(err, errlen, "name \"%s\": give letters, digits, '_' or '-' (at most %zu)",
                     v, sizeof(s->name) - 1);
            return -1;
        }
        snprintf(s->name, sizeof(s->name), "%s", v);
    } else if (!strcmp(k, "type")) {
        return set_kind(s, v, err, errlen);
    } else if (!strcmp(k, "format")) {
        if (!strcmp(v, "eve"))
            s->form = SINK_FORM_EVE;
        else if (!strcmp(v, "ecs"))
            s->form = SINK_FORM_ECS;
        else {
            snprintf(err, errlen, "format \"%s\": give eve or ecs", v);
            return -1;
        }
    } else if (!strcmp(k, "events")) {
        return parse_types(v, &s->types, err, errlen);
    } else if (!strcmp(k, "path")) {
        if (!*v || strlen(v) >= sizeof(s->path)) {
            snprintf(err, errlen, "path: give a file name (at most %zu bytes)",
                     sizeof(s->path) - 1);
            return -1;
        }
        snprintf(s->path, sizeof(s->path), "%s", v);
    } else if (!strcmp(k, "buffer")) {
        if (!strcmp(v, "line"))
            s->line_buffered = 1;
        else if (!strcmp(v, "batch"))
            s->line_buffered = 0;
        else {
            snprintf(err, errlen, "buffer \"%s\": give line or batch", v);
            return -1;
        }
    } else if (!strcmp(k, "flush-interval")) {
        if (config_parse_ms(v, &s->flush_ms) != 0) {
            snprintf(err, errlen, "flush-interval \"%s\": give a duration (500ms, 1s)", v);
            return -1;
        }
    } else if (!strcmp(k, "fsync")) {
        if (parse_bool(v, &s->fsync) != 0) {
            snprintf(err, errlen, "fsync \"%s\": give true or false", v);
            return -1;
        }
    } else if (!strcmp(k, "protocol")) {
        if (!strcmp(v, "udp"))
            s->udp = 1;
        else if (!strcmp(v, "tcp"))
            s->udp = 0;
        else {
            snprintf(err, errlen, "protocol \"%s\": give udp or tcp", v);
            return -1;
        }
    } else if (!strcmp(k, "host")) {
        return set_hostport(s, v, err, errlen);
    } else if (!strcmp(k, "port")) {
        if (parse_u32(v, 1, 65535, &u) != 0) {
            snprintf(err, errlen, "port \"%s\": give 1 to 65535", v);
            return -1;
        }
        snprintf(s->port, sizeof(s->port), "%u", u);
    } else if (!strcmp(k, "facility")) {
        for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
            if (!strcmp(v, facilities[i])) {
                s->facility = (int)i;
                return 0;
            }
        if (parse_u32(v, 0, 23, &u) != 0) {
            snprintf(err, errlen, "facility \"%s\": give local0..local7, daemon, ... or 0-23", v);
            return -1;
        }
        s->facility = (int)u;
    } else if (!strcmp(k, "hostname")) {
        snprintf(s->hostname, sizeof(s->hostname), "%s", v);
    } else if (!strcmp(k, "app-name")) {
        if (!*v || strlen(v) >= sizeof(s->app_name) || strpbrk(v, " ")) {
            snprintf(err, errlen, "app-name \"%s\": give 1 to 48 characters, no spaces", v);
            return -1;
        }
        snprintf(s->app_name, sizeof(s->app_name), "%s", v);
    } else if (!strcmp(k, "queue-events")) {
        if (parse_u32(v, 1, 10000000, &s->queue_events) != 0) {
            snprintf(err, errlen, "queue-events \"%s\": give 1 to 10000000", v);
            return -1;
        }
    } else if (!strcmp(k, "queue-bytes")) {
        if (config_parse_size(v, &z) != 0 || z < 1024) {
            snprintf(err, errlen, "queue-bytes \"%s\": give a size of at least 1K (K/M/G)", v);
            return -1;
        }
        s->queue_bytes = z;
    } else if (!strcmp(k, "reconnect-interval")) {
        if (config_parse_ms(v, &s->reconnect_ms) != 0 || !s->reconnect_ms) {
            snprintf(err, errlen, "reconnect-interval \"%s\": give a duration (500ms, 1s)", v);
            return -1;
        }
    } else if (!strcmp(k, "drain-timeout")) {
        if (config_parse_ms(v, &s->drain_ms) != 0) {
            snprintf(err, errlen, "drain-timeout \"%s\": give a duration (2s)", v);
            return -1;
        }
    } else {
        snprintf(err, errlen, "unknown output key \"%s\"; see etc/leakhound.yaml for the keys",
                 k);
        return -1;
    }
    return 0;
}

/* A default name from the kind, unique among the outputs so far. */
static void sink_default_name(struct config *c, struct sink_config *s)
{
    char base[32];
    switch (s->kind) {
    case SINK_FILE: {
        const char *b = strrchr(s->path, '/');
        b = b ? b + 1 : s->path;
        size_t n = strcspn(b, ".");
        snprintf(base, sizeof(base), "%.*s", (int)(n ? (n < 24 ? n : 24) : 4), n ? b : "file");
        for (char *p = base; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", *p))
                *p = '_';
        break;
    }
    case SINK_STDOUT: snprintf(base, sizeof(base), "stdout"); break;
    case SINK_SYSLOG: snprintf(base, sizeof(base), "syslog"); break;
    case SINK_UNIX: snprintf(base, sizeof(base), "unix"); break;
    }
    snprintf(s->name, sizeof(s->name), "%s", base);
    for (unsigned k = 2; k < 100; k++) {
        int taken = 0;
        for (size_t i = 0; i < c->n_sinks; i++)
            if (&c->sinks[i] != s && !strcmp(c->sinks[i].name, s->name))
                taken = 1;
        if (!taken)
            return;
        snprintf(s->name, sizeof(s->name), "%.24s%u", base, k % 100u);
    }
}

/* Checks what a kind needs; err without file:line. */
static int sink_check(const struct sink_config *s, char *err, size_t errlen)
{
    if (s->kind == SINK_SYSLOG && !s->host[0]) {
        snprintf(err, errlen, "output %s: syslog needs host: ADDRESS[:PORT]", s->name);
        return -1;
    }
    if (s->kind == SINK_UNIX && !s->path[0]) {
        snprintf(err, errlen, "output %s: unix needs path: SOCKET", s->name);
        return -1;
    }
    return 0;
}

int config_add_sink_spec(struct config *c, const char *spec, char *err, size_t errlen)
{
    if (c->n_sinks == CONFIG_MAX_SINKS) {
        snprintf(err, errlen, "--sink %s: too many outputs (at most %d)", spec,
                 CONFIG_MAX_SINKS);
        return -1;
    }
    struct sink_config *s = &c->sinks[c->n_sinks];
    sink_config_default(s);
    s->name[0] = 0;
    char buf[2048], e2[512];
    snprintf(buf, sizeof(buf), "%s", spec);
    char *save = NULL, *first = strtok_r(buf, ",", &save);
    if (!first) {
        snprintf(err, errlen, "--sink: empty; give e.g. file:eve.json or syslog:tcp://HOST:PORT");
        return -1;
    }
    char *target = strchr(first, ':');
    if (target)
        *target++ = 0;
    if (set_kind(s, first, e2, sizeof(e2)) != 0)
        goto bad;
    if (target && *target) {
        if (s->kind == SINK_SYSLOG) {
            if (!strncmp(target, "udp://", 6)) {
                s->udp = 1;
                target += 6;
            } else if (!strncmp(target, "tcp://", 6)) {
                target += 6;
            }
            if (set_hostport(s, target, e2, sizeof(e2)) != 0)
                goto bad;
        } else if (s->kind == SINK_STDOUT) {
            snprintf(e2, sizeof(e2), "stdout takes no target");
            goto bad;
        } else if (sink_set(s, "path", target, e2, sizeof(e2)) != 0) {
            goto bad;
        }
    }
    for (char *kv = strtok_r(NULL, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(e2, sizeof(e2), "\"%s\": give key=value", kv);
            goto bad;
        }
        *eq = 0;
        if (sink_set(s, kv, eq + 1, e2, sizeof(e2)) != 0)
            goto bad;
    }
    if (!s->name[0])
        sink_default_name(c, s);
    for (size_t i = 0; i < c->n_sinks; i++)
        if (!strcmp(c->sinks[i].name, s->name)) {
            snprintf(e2, sizeof(e2), "an output is already named %s; add name=OTHER", s->name);
            goto bad;
        }
    if (sink_check(s, e2, sizeof(e2)) != 0)
        goto bad;
    c->n_sinks++;
    return 0;
bad:
    snprintf(err, errlen, "--sink %s: %s", spec, e2);
    return -1;
}

/* ---- the file ------------------------------------------------------------------ */

struct ld {
    const char *path;
    char dir[1024];      /* the file's directory, for relative paths */
    yaml_document_t *doc;
    struct config *c;
    char *err;
    size_t errlen;
};

static int fail(struct ld *l, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ld *l, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(l->err, l->errlen, "%s:%zu: %s", l->path, n ? n->start_mark.line + 1 : 1, msg);
    return -1;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A path from the file, made relative to the file's directory. */
static char *rel_path(struct ld *l, const char *v)
{
    if (v[0] == '/' || !l->dir[0])
        return strdup(v);
    size_t n = strlen(l->dir) + strlen(v) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", l->dir, v);
    return p;
}

enum key_type {
    K_STR,      /* char * */
    K_PATH,     /* char *, relative to the file */
    K_PATHS,    /* list of paths (rules, allowlists) */
    K_BOOL,     /* int */
    K_INT,      /* int, in [lo, hi] */
    K_U32,      /* uint32_t, in [lo, hi] */
    K_I64,      /* int64_t seconds, in [lo, hi] */
    K_SIZE,     /* uint64_t bytes with K/M/G */
    K_DOUBLE,   /* double > 0 */
    K_SHARE,    /* double: "auto" (-1) or in [0, 1) */
    K_SECTION,  /* nested table */
    K_OUTPUTS,  /* list of outputs */
};

struct key {
    const char *name;
    enum key_type type;
    size_t off;
    long long lo, hi;
    const struct key *sub;
    const char *hint; /* what to give */
};

#define OFF(f) offsetof(struct config, f)

static const struct key capture_keys[] = {
    {"interface", K_STR, OFF(interface), 0, 0, NULL, "an interface name"},
    {"filter", K_STR, OFF(filter), 0, 0, NULL, "a BPF expression"},
    {"snaplen", K_INT, OFF(snaplen), 64, 262144, NULL, "bytes from 64 to 262144"},
    {"promisc", K_BOOL, OFF(promisc), 0, 0, NULL, "true or false"},
    {"buffer-size", K_INT, OFF(buffer_mb), 1, 4096, NULL, "megabytes from 1 to 4096"},
    {"replay-speed", K_DOUBLE, OFF(replay_speed), 0, 0, NULL, "a positive factor"},
    {"checksums", K_BOOL, OFF(checksums), 0, 0, NULL, "true or false"},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct key limits_keys[] = {
    {"flow-memcap", K_SIZE, OFF(flow_memcap), 1 << 20, 0, NULL, "a size of at least 1M"},
    {"reasm-memcap", K_SIZE, OFF(reasm_memcap), 0, 0, NULL, "a size (K/M/G)"},
    {"defrag-memcap", K_SIZE, OFF(defrag_memcap), 0, 0, NULL, "a size (K/M/G)"},
    {"detect-memcap", K_SIZE, OFF(detect_memcap), 1 << 20, 0, NULL, "a size of at least 1M"},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct key evidence_keys[] = {
    {"dir", K_PATH, OFF(evidence_dir), 0, 0, NULL, "a directory"},
    {"max-bytes", K_SIZE, OFF(evidence_max_bytes), 0, 0, NULL, "a size (K/M/G)"},
    {"max-file-bytes", K_SIZE, OFF(evidence_max_file_bytes), 0, 0, NULL, "a size (K/M/G)"},
    {"max-files", K_U32, OFF(evidence_max_files), 0, 100000000, NULL, "a number of files"},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct key top_keys[] = {
    {"site-key", K_STR, OFF(site_key), 0, 0, NULL, "a key of 16+ bytes or 32+ hex digits"},
    {"rules", K_PATHS, OFF(rules), 0, 0, NULL, "a list of rule files or directories"},
    {"allowlists", K_PATHS, OFF(allowlists), 0, 0, NULL, "a list of rule files"},
    {"match", K_BOOL, OFF(match), 0, 0, NULL, "true or false"},
    {"output-dir", K_PATH, OFF(output_dir), 0, 0, NULL, "a directory"},
    {"outputs", K_OUTPUTS, 0, 0, 0, NULL, "a list of outputs"},
    {"stats-interval", K_I64, OFF(stats_interval), 0, 86400, NULL, "seconds (0: final only)"},
    {"threads", K_U32, OFF(threads), 1, 256, NULL, "a number from 1 to 256"},
    {"reader-share", K_SHARE, OFF(reader_share), 0, 0, NULL, "auto or a fraction from 0 to below 1"},
    {"user", K_STR, OFF(user), 0, 0, NULL, "a user name"},
    {"state-file", K_PATH, OFF(state_file), 0, 0, NULL, "a file path"},
    {"capture", K_SECTION, 0, 0, 0, capture_keys, "a mapping"},
    {"limits", K_SECTION, 0, 0, 0, limits_keys, "a mapping"},
    {"evidence", K_SECTION, 0, 0, 0, evidence_keys, "a mapping"},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static int load_table(struct ld *l, const yaml_node_t *map, const struct key *keys,
                      const char *where);

static int load_outputs(struct ld *l, const yaml_node_t *seq)
{
    struct config *c = l->c;
    if (seq->type != YAML_SEQUENCE_NODE)
        return fail(l, seq, "outputs: give a list of outputs (- type: file ...)");
    c->n_sinks = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start;
         it < seq->data.sequence.items.top; it++) {
        yaml_node_t *m = yaml_document_get_node(l->doc, *it);
        if (!m || m->type != YAML_MAPPING_NODE)
            return fail(l, m, "outputs: each output is a mapping (type: ..., path: ...)");
        if (c->n_sinks == CONFIG_MAX_SINKS)
            return fail(l, m, "outputs: at most %d outputs", CONFIG_MAX_SINKS);
        struct sink_config *s = &c->sinks[c->n_sinks];
        sink_config_default(s);
        s->name[0] = 0;
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
             p++) {
            yaml_node_t *kn = yaml_document_get_node(l->doc, p->key);
            yaml_node_t *vn = yaml_document_get_node(l->doc, p->value);
            const char *k = scalar(kn);
            char e2[512];
            if (!k)
                return fail(l, kn, "outputs: keys are plain words");
            if (vn->type == YAML_SEQUENCE_NODE && !strcmp(k, "events")) {
                char joined[256] = "";
                for (yaml_node_item_t *e = vn->data.sequence.items.start;
                     e < vn->data.sequence.items.top; e++) {
                    const char *t = scalar(yaml_document_get_node(l->doc, *e));
                    if (!t)
                        return fail(l, vn, "events: give a list of event types");
                    size_t jl = strlen(joined);
                    snprintf(joined + jl, sizeof(joined) - jl, "%s%s", jl ? "," : "", t);
                }
                if (sink_set(s, k, joined, e2, sizeof(e2)) != 0)
                    return fail(l, vn, "%s", e2);
                continue;
            }
            const char *v = scalar(vn);
            if (!v)
                return fail(l, vn, "output key %s: give a single value", k);
            if (sink_set(s, k, v, e2, sizeof(e2)) != 0)
                return fail(l, vn, "%s", e2);
            if (!strcmp(k, "path") && s->kind == SINK_UNIX && v[0] != '/') {
                char *r = rel_path(l, v);
                if (r)
                    snprintf(s->path, sizeof(s->path), "%s", r);
                free(r);
            }
        }
        if (!s->name[0])
            sink_default_name(c, s);
        for (size_t i = 0; i < c->n_sinks; i++)
            if (!strcmp(c->sinks[i].name, s->name))
                return fail(l, m, "two outputs are named %s; give each its own name:", s->name);
        char e2[512];
        if (sink_check(s, e2, sizeof(e2)) != 0)
            return fail(l, m, "%s", e2);
        c->n_sinks++;
    }
    return 0;
}

static int load_key(struct ld *l, const struct key *k, const yaml_node_t *vn)
{
    char *base = (char *)l->c;
    const char *v = scalar(vn);
    if (k->type != K_PATHS && k->type != K_SECTION && k->type != K_OUTPUTS && !v)
        return fail(l, vn, "%s: give %s", k->name, k->hint);
    switch (k->type) {
    case K_STR:
        config_set_str((char **)(base + k->off), v);
        break;
    case K_PATH: {
        char **dst = (char **)(base + k->off);
        free(*dst);
        *dst = rel_path(l, v);
        break;
    }
    case K_PATHS: {
        char **list = (char **)(base + k->off);
        size_t *n = k->off == OFF(rules) ? &l->c->n_rules : &l->c->n_allowlists;
        config_clear_paths(list, n);
        if (v) { /* a single path */
            char *r = rel_path(l, v);
            list[(*n)++] = r;
            break;
        }
        if (vn->type != YAML_SEQUENCE_NODE)
            return fail(l, vn, "%s: give %s", k->name, k->hint);
        for (yaml_node_item_t *it = vn->data.sequence.items.start;
             it < vn->data.sequence.items.top; it++) {
            yaml_node_t *e = yaml_document_get_node(l->doc, *it);
            const char *p = scalar(e);
            if (!p || !*p)
                return fail(l, e, "%s: each entry is a path", k->name);
            if (*n == CONFIG_MAX_PATHS)
                return fail(l, e, "%s: at most %d paths (give a directory)", k->name,
                            CONFIG_MAX_PATHS);
            list[(*n)++] = rel_path(l, p);
        }
        break;
    }
    case K_BOOL:
        if (parse_bool(v, (int *)(base + k->off)) != 0)
            return fail(l, vn, "%s: \"%s\" is not a boolean; give true or false", k->name, v);
        break;
    case K_INT:
    case K_U32:
    case K_I64: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end || x < k->lo || x > k->hi)
            return fail(l, vn, "%s: \"%s\": give %s", k->name, v, k->hint);
        if (k->type == K_INT)
            *(int *)(base + k->off) = (int)x;
        else if (k->type == K_U32)
            *(uint32_t *)(base + k->off) = (uint32_t)x;
        else
            *(int64_t *)(base + k->off) = x;
        break;
    }
    case K_SIZE: {
        uint64_t z;
        if (config_parse_size(v, &z) != 0 || z < (uint64_t)k->lo)
            return fail(l, vn, "%s: \"%s\": give %s", k->name, v, k->hint);
        *(uint64_t *)(base + k->off) = z;
        break;
    }
    case K_DOUBLE: {
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end || !(d > 0))
            return fail(l, vn, "%s: \"%s\": give %s", k->name, v, k->hint);
        *(double *)(base + k->off) = d;
        break;
    }
    case K_SHARE:
        if (config_parse_share(v, (double *)(base + k->off)) != 0)
            return fail(l, vn, "%s: \"%s\": give %s", k->name, v, k->hint);
        break;
    case K_SECTION:
        return load_table(l, vn, k->sub, k->name);
    case K_OUTPUTS:
        return load_outputs(l, vn);
    }
    return 0;
}

static int load_table(struct ld *l, const yaml_node_t *map, const struct key *keys,
                      const char *where)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail(l, map, "%s: expected a mapping of keys", where ? where : "the file");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(l->doc, p->value);
        const char *k = scalar(kn);
        if (!k)
            return fail(l, kn, "keys are plain words");
        const struct key *hit = NULL;
        for (const struct key *t = keys; t->name; t++)
            if (!strcmp(t->name, k))
                hit = t;
        if (!hit)
            return fail(l, kn, "unknown key \"%s%s%s\"; the keys are listed in "
                        "etc/leakhound.yaml", where ? where : "", where ? "." : "", k);
        if (load_key(l, hit, vn) != 0)
            return -1;
    }
    return 0;
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: cannot read the configuration: %s", path, strerror(errno));
        return -1;
    }
    struct ld l = {.path = path, .c = c, .err = err, .errlen = errlen};
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    snprintf(l.dir, sizeof(l.dir), "%s", strchr(path, '/') ? dirname(tmp) : "");
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, fp);
    int rc = -1;
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%zu: not valid YAML: %s%s%s", path,
                 (parser.problem_mark.line ? parser.problem_mark.line : parser.context_mark.line) +
                     1,
                 parser.problem ? parser.problem : "syntax error",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        fclose(fp);
        return -1;
    }
    l.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        rc = 0; /* an empty file: all defaults */
    else
        rc = load_table(&l, root, top_keys, NULL);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(fp);
    return rc;
}
