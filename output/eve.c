/* eve.c - EVE-style NDJSON writer (the only file that includes jansson).
 *
 * Plain structs come in from the worker; one JSON object per line goes out
 * to a file or stdout. Keys are emitted in a fixed order (JSON_PRESERVE_ORDER)
 * so the same capture gives byte-identical lines. Write errors are counted
 * and reported once until a write succeeds again. */
#include "output/eve.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct eve {
    FILE *fp;
    int is_stdout;
    int in_error; /* an error episode is ongoing: do not report again */
    char path[512];
    struct eve_sink_stats st;
};

struct eve *eve_open(const char *path, char *err, size_t errlen)
{
    struct eve *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(e->path, sizeof(e->path), "%s", path);
    if (strcmp(path, "-") == 0) {
        e->fp = stdout;
        e->is_stdout = 1;
        return e;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0 || !(e->fp = fdopen(fd, "a"))) {
        snprintf(err, errlen, "%s: cannot write events: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(e);
        return NULL;
    }
    setvbuf(e->fp, NULL, _IOFBF, 1 << 16);
    return e;
}

void eve_flush(struct eve *e)
{
    if (e && fflush(e->fp) != 0) {
        e->st.errors++;
        clearerr(e->fp);
    }
}

void eve_close(struct eve *e)
{
    if (!e)
        return;
    eve_flush(e);
    if (!e->is_stdout)
        fclose(e->fp);
    free(e);
}

const struct eve_sink_stats *eve_stats(const struct eve *e)
{
    return &e->st;
}

void eve_format_ts(uint64_t ts_us, char *out, size_t outlen)
{
    time_t s = (time_t)(ts_us / 1000000u);
    struct tm tm;
    gmtime_r(&s, &tm);
    char b[24];
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%06u+0000", b, (unsigned)(ts_us % 1000000u));
}

static void emit(struct eve *e, json_t *o)
{
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!s) {
        e->st.dropped++;
        return;
    }
    size_t n = strlen(s);
    s[n] = '\n';
    if (fwrite(s, 1, n + 1, e->fp) != n + 1) {
        e->st.errors++;
        e->st.dropped++;
        if (!e->in_error)
            fprintf(stderr, "leakhound: %s: cannot write events: %s (counting losses)\n", e->path,
                    strerror(errno));
        e->in_error = 1;
        clearerr(e->fp);
    } else {
        e->st.written++;
        e->in_error = 0;
    }
    free(s);
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && v[0])
        json_object_set_new(o, k, json_string(v));
}

static json_t *event_base(uint64_t ts_us, const char *type)
{
    char ts[40];
    eve_format_ts(ts_us, ts, sizeof(ts));
    json_t *o = json_object();
    json_object_set_new(o, "timestamp", json_string(ts));
    json_object_set_new(o, "event_type", json_string(type));
    return o;
}

static json_t *common(const struct eve_common *c, const char *type)
{
    json_t *o = json_object();
    char ts[40];
    eve_format_ts(c->ts_us, ts, sizeof(ts));
    json_object_set_new(o, "timestamp", json_string(ts));
    json_object_set_new(o, "flow_id", json_integer((json_int_t)(c->flow_id & INT64_MAX)));
    if (c->pcap_filename && c->pcap_filename[0])
        json_object_set_new(o, "pcap_filename", json_string(c->pcap_filename));
    if (c->pcap_cnt)
        json_object_set_new(o, "pcap_cnt", json_integer((json_int_t)c->pcap_cnt));
    json_object_set_new(o, "event_type", json_string(type));
    if (c->vlan) {
        json_t *v = json_array();
        json_array_append_new(v, json_integer(c->vlan));
        json_object_set_new(o, "vlan", v);
    }
    set_str(o, "src_ip", c->src_ip);
    json_object_set_new(o, "src_port", json_integer(c->src_port));
    set_str(o, "dest_ip", c->dest_ip);
    json_object_set_new(o, "dest_port", json_integer(c->dest_port));
    set_str(o, "proto", c->proto);
    set_str(o, "app_proto", c->app_proto);
    set_str(o, "community_id", c->community_id);
    return o;
}

static json_t *records_json(const struct eve_records *r)
{
    json_t *o = json_object();
    json_t *counts = json_object();
    for (size_t i = 0; i < r->n_counts; i++)
        json_object_set_new(counts, r->counts[i].key, json_integer((json_int_t)r->counts[i].val));
    json_object_set_new(o, "counts", counts);
    if (r->n_samples) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_samples; i++)
            json_array_append_new(a, json_string(r->samples[i]));
        json_object_set_new(o, "samples", a);
    }
    if (r->n_fingerprints) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_fingerprints; i++)
            json_array_append_new(a, json_string(r->fingerprints[i]));
        json_object_set_new(o, "fingerprints", a);
    }
    return o;
}

void eve_write_flow(struct eve *e, const struct eve_flow *f)
{
    json_t *o = common(&f->c, "flow");
    json_t *fl = json_object();
    char ts[40];
    json_object_set_new(fl, "pkts_toserver", json_integer((json_int_t)f->pkts_toserver));
    json_object_set_new(fl, "pkts_toclient", json_integer((json_int_t)f->pkts_toclient));
    json_object_set_new(fl, "bytes_toserver", json_integer((json_int_t)f->bytes_toserver));
    json_object_set_new(fl, "bytes_toclient", json_integer((json_int_t)f->bytes_toclient));
    eve_format_ts(f->start_us, ts, sizeof(ts));
    json_object_set_new(fl, "start", json_string(ts));
    eve_format_ts(f->end_us, ts, sizeof(ts));
    json_object_set_new(fl, "end", json_string(ts));
    json_object_set_new(fl, "age", json_integer((json_int_t)((f->end_us - f->start_us) / 1000000u)));
    set_str(fl, "state", f->state);
    set_str(fl, "reason", f->reason);
    json_object_set_new(o, "flow", fl);
    if ((f->ndpi_proto && f->ndpi_proto[0]) || (f->host && f->host[0])) {
        json_t *n = json_object();
        set_str(n, "proto", f->ndpi_proto);
        set_str(n, "category", f->ndpi_category);
        set_str(n, "host", f->host);
        json_object_set_new(o, "ndpi", n);
    }
    if (f->records[0] || f->records[1]) {
        json_t *r = json_object();
        if (f->records[0])
            json_object_set_new(r, "toserver", records_json(f->records[0]));
        if (f->records[1])
            json_object_set_new(r, "toclient", records_json(f->records[1]));
        json_object_set_new(o, "records", r);
    }
    emit(e, o);
}

void eve_write_http(struct eve *e, const struct eve_http *h)
{
    json_t *o = common(&h->c, "http");
    if (h->account.id && h->account.id[0]) {
        json_t *a = json_object();
        json_object_set_new(a, "id", json_string(h->account.id));
        set_str(a, "via", h->account.via);
        json_object_set_new(o, "account", a);
    }
    json_t *x = json_object();
    set_str(x, "hostname", h->hostname);
    set_str(x, "url", h->url);
    set_str(x, "http_user_agent", h->http_user_agent);
    set_str(x, "http_content_type", h->http_content_type);
    set_str(x, "http_refer", h->http_refer);
    set_str(x, "http_method", h->http_method);
    set_str(x, "protocol", h->protocol);
    if (h->status)
        json_object_set_new(x, "status", json_integer(h->status));
    json_object_set_new(x, "length", json_integer((json_int_t)h->length));
    json_object_set_new(x, "request_length", json_integer((json_int_t)h->request_length));
    set_str(x, "endpoint", h->endpoint);
    if (h->n_flags) {
        json_t *a = json_array();
        for (size_t i = 0; i < h->n_flags; i++)
            json_array_append_new(a, json_string(h->flags[i]));
        json_object_set_new(x, "flags", a);
    }
    json_object_set_new(o, "http", x);
    if (h->records)
        json_object_set_new(o, "records", records_json(h->records));
    emit(e, o);
}

/* Finds or creates the object at the dotted path's parent; returns it and
 * sets *leaf to the last component. */
static json_t *path_parent(json_t *root, const char *path, char *buf, size_t buflen,
                           const char **leaf)
{
    snprintf(buf, buflen, "%s", path);
    json_t *cur = root;
    char *p = buf, *dot;
    while ((dot = strchr(p, '.')) != NULL) {
        *dot = 0;
        json_t *next = json_object_get(cur, p);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(cur, p, next);
        }
        cur = next;
        p = dot + 1;
    }
    *leaf = p;
    return cur;
}

void eve_write_stats(struct eve *e, uint64_t ts_us, const struct eve_kv *kv, size_t n)
{
    json_t *o = event_base(ts_us, "stats");
    json_t *st = json_object();
    char buf[128];
    for (size_t i = 0; i < n; i++) {
        const char *leaf;
        json_t *parent = path_parent(st, kv[i].key, buf, sizeof(buf), &leaf);
        json_object_set_new(parent, leaf, json_integer((json_int_t)kv[i].val));
    }
    json_object_set_new(o, "stats", st);
    emit(e, o);
}
