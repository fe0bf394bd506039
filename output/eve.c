/* eve.c - EVE-style events: builds each event once and hands it to the sinks
 * (the only file besides the form modules that includes jansson).
 *
 * Plain structs come in from the worker (or finished lines through
 * eve_write_line()); one JSON object per event goes out to every sink that
 * takes its event type, in the form each sink asks for: EVE as built, or
 * the ECS document ecs.c makes of it (made once per event, and only when a
 * sink wants it). Keys are emitted in a fixed order (JSON_PRESERVE_ORDER)
 * so the same capture gives byte-identical lines. Flow and http events, the
 * hot ones, are written as text with output/jsonw.c into a per-thread
 * buffer (no tree, no malloc); the jansson tree is their fallback for an
 * event that does not fit, and the way stats events are built. The sinks own the I/O and
 * its failures (output/sink.h); nothing here can stop the sensor. */
#include "output/eve.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "output/ecs.h"
#include "output/jsonw.h"
#include "output/sink.h"

#define EVE_MAX_SINKS 16
#define EVE_KV_PER_SINK 5

struct eve_slot {
    struct sink *s;
    unsigned types;
    enum sink_form form;
    uint64_t unformatted; /* events lost before reaching the sink (out of memory) */
    char keys[EVE_KV_PER_SINK][64];
};

struct eve {
    struct eve_slot slot[EVE_MAX_SINKS];
    size_t n;
    unsigned ecs_types;   /* event types some ECS sink takes */
    char hostname[256];   /* observer.hostname in ECS */
    uint64_t events;      /* events built and handed out */
    uint64_t last_tick;
    struct eve_sink_stats st; /* totals, refreshed after every call */
    pthread_mutex_t lock;     /* several workers may share one writer */
};

struct eve *eve_new(char *err, size_t errlen)
{
    struct eve *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (gethostname(e->hostname, sizeof(e->hostname) - 1) != 0)
        e->hostname[0] = 0;
    pthread_mutex_init(&e->lock, NULL);
    return e;
}

int eve_add_sink(struct eve *e, const struct sink_config *cfg, char *err, size_t errlen)
{
    if (e->n == EVE_MAX_SINKS) {
        snprintf(err, errlen, "output %s: too many outputs (at most %d)", cfg->name,
                 EVE_MAX_SINKS);
        return -1;
    }
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(sink_get_config(e->slot[i].s)->name, cfg->name) == 0) {
            snprintf(err, errlen, "output %s: two outputs have this name; give each a "
                     "different name", cfg->name);
            return -1;
        }
    struct sink *s = sink_open(cfg, sink_now_ms(), err, errlen);
    if (!s)
        return -1;
    struct eve_slot *sl = &e->slot[e->n++];
    sl->s = s;
    sl->types = cfg->types ? cfg->types : SINK_T_ALL;
    sl->form = cfg->form;
    static const char *const k[EVE_KV_PER_SINK] = {"written", "queued", "dropped", "errors",
                                                   "reconnects"};
    for (int i = 0; i < EVE_KV_PER_SINK; i++)
        snprintf(sl->keys[i], sizeof(sl->keys[i]), "output.%s.%s", cfg->name, k[i]);
    if (sl->form == SINK_FORM_ECS)
        e->ecs_types |= sl->types;
    return 0;
}

struct eve *eve_open(const char *path, char *err, size_t errlen)
{
    struct eve *e = eve_new(err, errlen);
    if (!e)
        return NULL;
    struct sink_config c;
    sink_config_default(&c);
    if (strcmp(path, "-") == 0) {
        c.kind = SINK_STDOUT;
        snprintf(c.name, sizeof(c.name), "stdout");
    } else {
        snprintf(c.path, sizeof(c.path), "%s", path);
    }
    if (eve_add_sink(e, &c, err, errlen) != 0) {
        eve_close(e);
        return NULL;
    }
    return e;
}

static void refresh(struct eve *e)
{
    struct eve_sink_stats t = {e->events, 0, 0};
    for (size_t i = 0; i < e->n; i++) {
        struct sink_stats st;
        sink_get_stats(e->slot[i].s, &st);
        t.errors += st.errors;
        t.dropped += st.dropped + e->slot[i].unformatted;
    }
    e->st = t;
}

static void flush_locked(struct eve *e)
{
    for (size_t i = 0; i < e->n; i++)
        sink_flush(e->slot[i].s);
    refresh(e);
}

void eve_flush(struct eve *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    flush_locked(e);
    pthread_mutex_unlock(&e->lock);
}

void eve_tick(struct eve *e)
{
    if (!e)
        return;
    uint64_t now = sink_now_ms();
    if (now == e->last_tick || pthread_mutex_trylock(&e->lock) != 0)
        return; /* another thread is writing, which services the sinks too */
    e->last_tick = now;
    for (size_t i = 0; i < e->n; i++)
        sink_tick(e->slot[i].s, now);
    pthread_mutex_unlock(&e->lock);
}

void eve_reopen(struct eve *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->n; i++)
        sink_reopen(e->slot[i].s);
    refresh(e);
    pthread_mutex_unlock(&e->lock);
}

void eve_close(struct eve *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++)
        sink_close(e->slot[i].s);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

void eve_get_stats(struct eve *e, struct eve_sink_stats *out)
{
    /* workers update the totals under the lock while others read them */
    pthread_mutex_lock(&e->lock);
    *out = e->st;
    pthread_mutex_unlock(&e->lock);
}

size_t eve_sink_stats_kv(struct eve *e, struct eve_kv *kv, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&e->lock);
    /* a stats event tells what reached the outputs, not what waits in a batch */
    flush_locked(e);
    for (size_t i = 0; i < e->n && n + EVE_KV_PER_SINK <= max; i++) {
        struct sink_stats st;
        sink_get_stats(e->slot[i].s, &st);
        uint64_t v[EVE_KV_PER_SINK] = {st.written, st.queued, st.dropped + e->slot[i].unformatted,
                                       st.errors, st.reconnects};
        for (int k = 0; k < EVE_KV_PER_SINK; k++)
            kv[n++] = (struct eve_kv){e->slot[i].keys[k], v[k]};
    }
    pthread_mutex_unlock(&e->lock);
    return n;
}

void eve_print_sinks(struct eve *e, void *file)
{
    FILE *fp = file;
    if (!e || !e->n)
        return;
    pthread_mutex_lock(&e->lock);
    fprintf(fp, "leakhound: outputs");
    for (size_t i = 0; i < e->n; i++) {
        struct sink_stats st;
        sink_get_stats(e->slot[i].s, &st);
        fprintf(fp, "%s %s %s: %llu written, %llu queued, %llu dropped, %llu errors",
                i ? ";" : "", sink_get_config(e->slot[i].s)->name, sink_state(e->slot[i].s),
                (unsigned long long)st.written, (unsigned long long)st.queued,
                (unsigned long long)(st.dropped + e->slot[i].unformatted),
                (unsigned long long)st.errors);
        if (st.reconnects)
            fprintf(fp, ", %llu reconnects", (unsigned long long)st.reconnects);
    }
    fputc('\n', fp);
    pthread_mutex_unlock(&e->lock);
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

static char *dump(json_t *o)
{
    return json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT |
                             JSON_REAL_PRECISION(12));
}

/* Hands one event to the sinks that take its type. line/len is its EVE
 * line when already built; obj its object when already parsed (either may
 * be missing; each is made only if some sink needs it). */
static void dispatch(struct eve *e, const char *type, size_t type_len, const char *line,
                     size_t len, json_t *obj)
{
    char tname[32];
    snprintf(tname, sizeof(tname), "%.*s", (int)(type_len < 31 ? type_len : 31), type);
    unsigned bit = sink_type_bit(tname, (size_t)-1);
    char *own_line = NULL, *ecs_line = NULL;
    int ecs_tried = 0, obj_owned = 0;
    uint64_t now = sink_now_ms();
    pthread_mutex_lock(&e->lock);
    e->events++;
    for (size_t i = 0; i < e->n; i++) {
        struct eve_slot *sl = &e->slot[i];
        if (!(sl->types & bit))
            continue;
        if (sl->form == SINK_FORM_EVE) {
            if (!line && obj) {
                own_line = dump(obj);
                if (own_line) {
                    line = own_line;
                    len = strlen(own_line);
                }
            }
            if (!line) {
                sl->unformatted++;
                continue;
            }
            sink_write(sl->s, tname, line, len, now);
        } else {
            if (!ecs_tried) {
                ecs_tried = 1;
                if (!obj && line) {
                    obj = json_loadb(line, len, 0, NULL);
                    obj_owned = 1;
                }
                struct ecs_observer ob = {e->hostname};
                json_t *doc = obj ? ecs_from_eve(obj, &ob) : NULL;
                if (doc) {
                    ecs_line = dump(doc);
                    json_decref(doc);
                }
            }
            if (!ecs_line) {
                sl->unformatted++;
                continue;
            }
            sink_write(sl->s, tname, ecs_line, strlen(ecs_line), now);
        }
    }
    refresh(e);
    pthread_mutex_unlock(&e->lock);
    if (obj_owned)
        json_decref(obj);
    free(own_line);
    free(ecs_line);
}

static void emit(struct eve *e, json_t *o)
{
    const char *type = json_string_value(json_object_get(o, "event_type"));
    if (!type)
        type = "";
    dispatch(e, type, strlen(type), NULL, 0, o);
    json_decref(o);
}

void eve_write_line(struct eve *e, const char *line, size_t len)
{
    /* the type is a top-level key; inside string values quotes are escaped,
     * so this pattern only matches a key */
    static const char pat[] = "\"event_type\":\"";
    const char *t = memmem(line, len, pat, sizeof(pat) - 1);
    const char *type = "", *end;
    size_t tlen = 0;
    if (t) {
        type = t + sizeof(pat) - 1;
        end = memchr(type, '"', len - (size_t)(type - line));
        tlen = end ? (size_t)(end - type) : 0;
    }
    dispatch(e, type, tlen, line, len, NULL);
}

/* A JSON string of v. Text from the wire may not be UTF-8, which jansson
 * refuses: every byte that does not start a well-formed sequence becomes
 * U+FFFD, so the field is written rather than silently lost. */
static json_t *jstr(const char *v)
{
    json_t *j = json_string(v);
    if (j)
        return j;
    size_t len = strlen(v);
    char *buf = malloc(len * 3 + 1);
    if (!buf)
        return json_string("");
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        const unsigned char *u = (const unsigned char *)v + i;
        size_t n = u[0] < 0x80 ? 1
                   : u[0] >= 0xc2 && u[0] <= 0xdf ? 2
                   : u[0] >= 0xe0 && u[0] <= 0xef ? 3
                   : u[0] >= 0xf0 && u[0] <= 0xf4 ? 4 : 0;
        int ok = n > 0 && n <= len - i;
        for (size_t k = 1; ok && k < n; k++)
            ok = (u[k] & 0xc0) == 0x80;
        if (ok && n == 3)
            ok = !(u[0] == 0xe0 && u[1] < 0xa0) && !(u[0] == 0xed && u[1] >= 0xa0);
        if (ok && n == 4)
            ok = !(u[0] == 0xf0 && u[1] < 0x90) && !(u[0] == 0xf4 && u[1] >= 0x90);
        if (ok) {
            memcpy(buf + o, u, n);
            o += n;
            i += n;
        } else {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    buf[o] = 0;
    j = json_string(buf);
    free(buf);
    return j ? j : json_string("");
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && v[0])
        json_object_set_new(o, k, jstr(v));
}

static json_t *event_base(uint64_t ts_us, const char *type)
{
    char ts[40];
    eve_format_ts(ts_us, ts, sizeof(ts));
    json_t *o = json_object();
    json_object_set_new(o, "timestamp", jstr(ts));
    json_object_set_new(o, "event_type", jstr(type));
    return o;
}

static json_t *common(const struct eve_common *c, const char *type)
{
    json_t *o = json_object();
    char ts[40];
    eve_format_ts(c->ts_us, ts, sizeof(ts));
    json_object_set_new(o, "timestamp", jstr(ts));
    json_object_set_new(o, "flow_id", json_integer((json_int_t)(c->flow_id & INT64_MAX)));
    if (c->pcap_filename && c->pcap_filename[0])
        json_object_set_new(o, "pcap_filename", jstr(c->pcap_filename));
    if (c->pcap_cnt)
        json_object_set_new(o, "pcap_cnt", json_integer((json_int_t)c->pcap_cnt));
    json_object_set_new(o, "event_type", jstr(type));
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
            json_array_append_new(a, jstr(r->samples[i]));
        json_object_set_new(o, "samples", a);
    }
    if (r->n_fingerprints) {
        /* {"phone": ["hmac:..", ..], "waybill": [..]}, categories in first-seen order */
        json_t *fo = json_object();
        for (size_t i = 0; i < r->n_fingerprints; i++) {
            json_t *a = json_object_get(fo, r->fp_categories[i]);
            if (!a) {
                a = json_array();
                if (json_object_set_new(fo, r->fp_categories[i], a) != 0)
                    continue; /* a key jansson refuses (not UTF-8); a was freed */
            }
            json_array_append_new(a, jstr(r->fingerprints[i]));
        }
        json_object_set_new(o, "fingerprints", fo);
    }
    return o;
}

static void tree_flow(struct eve *e, const struct eve_flow *f)
{
    json_t *o = common(&f->c, "flow");
    json_t *fl = json_object();
    char ts[40];
    json_object_set_new(fl, "pkts_toserver", json_integer((json_int_t)f->pkts_toserver));
    json_object_set_new(fl, "pkts_toclient", json_integer((json_int_t)f->pkts_toclient));
    json_object_set_new(fl, "bytes_toserver", json_integer((json_int_t)f->bytes_toserver));
    json_object_set_new(fl, "bytes_toclient", json_integer((json_int_t)f->bytes_toclient));
    eve_format_ts(f->start_us, ts, sizeof(ts));
    json_object_set_new(fl, "start", jstr(ts));
    eve_format_ts(f->end_us, ts, sizeof(ts));
    json_object_set_new(fl, "end", jstr(ts));
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

static void tree_http(struct eve *e, const struct eve_http *h)
{
    json_t *o = common(&h->c, "http");
    if (h->account.id && h->account.id[0]) {
        json_t *a = json_object();
        json_object_set_new(a, "id", jstr(h->account.id));
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
            json_array_append_new(a, jstr(h->flags[i]));
        json_object_set_new(x, "flags", a);
    }
    json_object_set_new(o, "http", x);
    if (h->records)
        json_object_set_new(o, "records", records_json(h->records));
    emit(e, o);
}

/* The fast path: flow and http events are written with jsonw straight
 * into a per-thread buffer, in exactly the bytes json_dumps() gives for the
 * tree above (test_jsonw.c checks the writer against jansson; the golden
 * tests check the events). An event that does not fit, or carries something
 * the writer cannot render as jansson would (a duplicate or non-UTF-8 count
 * key), goes through the tree instead, so nothing is lost. */
#define EVE_LINE_CAP (64 * 1024)
static __thread char eve_line[EVE_LINE_CAP];

/* eve_format_ts() with the date and time of day kept per thread: events
 * come in packet-time order, so most share the second of the one before. */
static void w_ts(struct jsonw *w, uint64_t ts_us)
{
    static __thread uint64_t last_s = UINT64_MAX;
    static __thread char last[20];
    char b[40];
    uint64_t s = ts_us / 1000000u;
    if (s >= 253402300800u) { /* year 10000 on: whatever the slow path does */
        eve_format_ts(ts_us, b, sizeof(b));
        jsonw_str(w, b);
        return;
    }
    if (s != last_s) {
        time_t t = (time_t)s;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%S", &tm);
        last_s = s;
    }
    unsigned us = (unsigned)(ts_us % 1000000u);
    memcpy(b, last, 19);
    b[19] = '.';
    for (int i = 25; i >= 20; i--, us /= 10)
        b[i] = (char)('0' + us % 10);
    memcpy(b + 26, "+0000", 6);
    jsonw_strn(w, b, 31);
}

static void w_str(struct jsonw *w, const char *k, const char *v)
{
    if (v && v[0]) {
        jsonw_key(w, k);
        jsonw_str(w, v);
    }
}

static void w_common(struct jsonw *w, const struct eve_common *c, const char *type)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "timestamp");
    w_ts(w, c->ts_us);
    jsonw_key(w, "flow_id");
    jsonw_i64(w, (int64_t)(c->flow_id & INT64_MAX));
    w_str(w, "pcap_filename", c->pcap_filename);
    if (c->pcap_cnt) {
        jsonw_key(w, "pcap_cnt");
        jsonw_i64(w, (int64_t)c->pcap_cnt);
    }
    jsonw_key(w, "event_type");
    jsonw_str(w, type);
    if (c->vlan) {
        jsonw_key(w, "vlan");
        jsonw_arr_begin(w);
        jsonw_i64(w, c->vlan);
        jsonw_arr_end(w);
    }
    w_str(w, "src_ip", c->src_ip);
    jsonw_key(w, "src_port");
    jsonw_i64(w, c->src_port);
    w_str(w, "dest_ip", c->dest_ip);
    jsonw_key(w, "dest_port");
    jsonw_i64(w, c->dest_port);
    w_str(w, "proto", c->proto);
    w_str(w, "app_proto", c->app_proto);
    w_str(w, "community_id", c->community_id);
}

static void w_records(struct jsonw *w, const struct eve_records *r)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "counts");
    jsonw_obj_begin(w);
    for (size_t i = 0; i < r->n_counts; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->counts[j].key, r->counts[i].key) == 0)
                w->invalid = 1; /* jansson keeps one of them: the tree decides */
        jsonw_key(w, r->counts[i].key);
        jsonw_i64(w, (int64_t)r->counts[i].val);
    }
    jsonw_obj_end(w);
    if (r->n_samples) {
        jsonw_key(w, "samples");
        jsonw_arr_begin(w);
        for (size_t i = 0; i < r->n_samples; i++)
            jsonw_str(w, r->samples[i]);
        jsonw_arr_end(w);
    }
    if (r->n_fingerprints) {
        /* grouped by category, categories in first-seen order */
        const char *const *cat = r->fp_categories;
        jsonw_key(w, "fingerprints");
        jsonw_obj_begin(w);
        for (size_t i = 0; i < r->n_fingerprints; i++) {
            size_t j = 0;
            while (j < i && cat[j] != cat[i] && strcmp(cat[j], cat[i]) != 0)
                j++;
            if (j < i)
                continue; /* written with the first of its category */
            jsonw_key(w, cat[i]);
            jsonw_arr_begin(w);
            for (size_t k = i; k < r->n_fingerprints; k++)
                if (cat[k] == cat[i] || strcmp(cat[k], cat[i]) == 0)
                    jsonw_str(w, r->fingerprints[k]);
            jsonw_arr_end(w);
        }
        jsonw_obj_end(w);
    }
    jsonw_obj_end(w);
}

void eve_write_flow(struct eve *e, const struct eve_flow *f)
{
    struct jsonw w;
    jsonw_init(&w, eve_line, sizeof(eve_line));
    w_common(&w, &f->c, "flow");
    jsonw_key(&w, "flow");
    jsonw_obj_begin(&w);
    jsonw_key(&w, "pkts_toserver");
    jsonw_i64(&w, (int64_t)f->pkts_toserver);
    jsonw_key(&w, "pkts_toclient");
    jsonw_i64(&w, (int64_t)f->pkts_toclient);
    jsonw_key(&w, "bytes_toserver");
    jsonw_i64(&w, (int64_t)f->bytes_toserver);
    jsonw_key(&w, "bytes_toclient");
    jsonw_i64(&w, (int64_t)f->bytes_toclient);
    jsonw_key(&w, "start");
    w_ts(&w, f->start_us);
    jsonw_key(&w, "end");
    w_ts(&w, f->end_us);
    jsonw_key(&w, "age");
    jsonw_i64(&w, (int64_t)((f->end_us - f->start_us) / 1000000u));
    w_str(&w, "state", f->state);
    w_str(&w, "reason", f->reason);
    jsonw_obj_end(&w);
    if ((f->ndpi_proto && f->ndpi_proto[0]) || (f->host && f->host[0])) {
        jsonw_key(&w, "ndpi");
        jsonw_obj_begin(&w);
        w_str(&w, "proto", f->ndpi_proto);
        w_str(&w, "category", f->ndpi_category);
        w_str(&w, "host", f->host);
        jsonw_obj_end(&w);
    }
    if (f->records[0] || f->records[1]) {
        jsonw_key(&w, "records");
        jsonw_obj_begin(&w);
        if (f->records[0]) {
            jsonw_key(&w, "toserver");
            w_records(&w, f->records[0]);
        }
        if (f->records[1]) {
            jsonw_key(&w, "toclient");
            w_records(&w, f->records[1]);
        }
        jsonw_obj_end(&w);
    }
    jsonw_obj_end(&w);
    if (jsonw_ok(&w))
        dispatch(e, "flow", 4, w.buf, w.len, NULL);
    else
        tree_flow(e, f);
}

void eve_write_http(struct eve *e, const struct eve_http *h)
{
    struct jsonw w;
    jsonw_init(&w, eve_line, sizeof(eve_line));
    w_common(&w, &h->c, "http");
    if (h->account.id && h->account.id[0]) {
        jsonw_key(&w, "account");
        jsonw_obj_begin(&w);
        jsonw_key(&w, "id");
        jsonw_str(&w, h->account.id);
        w_str(&w, "via", h->account.via);
        jsonw_obj_end(&w);
    }
    jsonw_key(&w, "http");
    jsonw_obj_begin(&w);
    w_str(&w, "hostname", h->hostname);
    w_str(&w, "url", h->url);
    w_str(&w, "http_user_agent", h->http_user_agent);
    w_str(&w, "http_content_type", h->http_content_type);
    w_str(&w, "http_refer", h->http_refer);
    w_str(&w, "http_method", h->http_method);
    w_str(&w, "protocol", h->protocol);
    if (h->status) {
        jsonw_key(&w, "status");
        jsonw_i64(&w, h->status);
    }
    jsonw_key(&w, "length");
    jsonw_i64(&w, (int64_t)h->length);
    jsonw_key(&w, "request_length");
    jsonw_i64(&w, (int64_t)h->request_length);
    w_str(&w, "endpoint", h->endpoint);
    if (h->n_flags) {
        jsonw_key(&w, "flags");
        jsonw_arr_begin(&w);
        for (size_t i = 0; i < h->n_flags; i++)
            jsonw_str(&w, h->flags[i]);
        jsonw_arr_end(&w);
    }
    jsonw_obj_end(&w);
    if (h->records) {
        jsonw_key(&w, "records");
        w_records(&w, h->records);
    }
    jsonw_obj_end(&w);
    if (jsonw_ok(&w))
        dispatch(e, "http", 4, w.buf, w.len, NULL);
    else
        tree_http(e, h);
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
