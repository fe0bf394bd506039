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
 * buffer (no tree, no malloc; a larger heap buffer for the rare event that
 * does not fit); stats events are built as jansson trees. The sinks own the
 * I/O and its failures (output/sink.h); nothing here can stop the sensor. */
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
    refresh(e); /* here, not per line: a write reads no sink's counters */
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
    size_t tl = type_len < sizeof(tname) - 1 ? type_len : sizeof(tname) - 1;
    memcpy(tname, type, tl);
    tname[tl] = 0;
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

static json_t *event_base(uint64_t ts_us, const char *type)
{
    char ts[40];
    eve_format_ts(ts_us, ts, sizeof(ts));
    json_t *o = json_object();
    json_object_set_new(o, "timestamp", json_string(ts));
    json_object_set_new(o, "event_type", json_string(type));
    return o;
}

/* Flow and http events are written with jsonw straight into a per-thread
 * buffer, in exactly the bytes json_dumps() would give for the same tree
 * (test_jsonw.c checks the writer against jansson; the golden tests check
 * the events). The rare event that does not fit (a long URL full of bytes
 * that need escaping, many fingerprints) is written again into a heap
 * buffer four times as large, as often as needed. */
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

/* Writes one event with fn into the thread's buffer (or a larger heap one)
 * and hands the line to the sinks. An event that cannot be written (no
 * memory for it) reaches them as lost, counted per sink. */
static void write_event(struct eve *e, const char *type,
                        void (*fn)(struct jsonw *w, const void *ev), const void *ev)
{
    char *heap = NULL, *buf = eve_line;
    size_t cap = sizeof(eve_line);
    struct jsonw w;
    for (;;) {
        jsonw_init(&w, buf, cap);
        fn(&w, ev);
        if (!w.overflow || cap > SIZE_MAX / 4)
            break;
        cap *= 4;
        free(heap);
        if (!(buf = heap = malloc(cap)))
            break;
    }
    if (buf && jsonw_ok(&w))
        dispatch(e, type, strlen(type), w.buf, w.len, NULL);
    else
        dispatch(e, type, strlen(type), NULL, 0, NULL);
    free(heap);
}

static void flow_json(struct jsonw *w, const void *ev)
{
    const struct eve_flow *f = ev;
    w_common(w, &f->c, "flow");
    jsonw_key(w, "flow");
    jsonw_obj_begin(w);
    jsonw_key(w, "pkts_toserver");
    jsonw_i64(w, (int64_t)f->pkts_toserver);
    jsonw_key(w, "pkts_toclient");
    jsonw_i64(w, (int64_t)f->pkts_toclient);
    jsonw_key(w, "bytes_toserver");
    jsonw_i64(w, (int64_t)f->bytes_toserver);
    jsonw_key(w, "bytes_toclient");
    jsonw_i64(w, (int64_t)f->bytes_toclient);
    jsonw_key(w, "start");
    w_ts(w, f->start_us);
    jsonw_key(w, "end");
    w_ts(w, f->end_us);
    jsonw_key(w, "age");
    jsonw_i64(w, (int64_t)((f->end_us - f->start_us) / 1000000u));
    w_str(w, "state", f->state);
    w_str(w, "reason", f->reason);
    jsonw_obj_end(w);
    if ((f->ndpi_proto && f->ndpi_proto[0]) || (f->host && f->host[0])) {
        jsonw_key(w, "ndpi");
        jsonw_obj_begin(w);
        w_str(w, "proto", f->ndpi_proto);
        w_str(w, "category", f->ndpi_category);
        w_str(w, "host", f->host);
        jsonw_obj_end(w);
    }
    if (f->records[0] || f->records[1]) {
        jsonw_key(w, "records");
        jsonw_obj_begin(w);
        if (f->records[0]) {
            jsonw_key(w, "toserver");
            w_records(w, f->records[0]);
        }
        if (f->records[1]) {
            jsonw_key(w, "toclient");
            w_records(w, f->records[1]);
        }
        jsonw_obj_end(w);
    }
    jsonw_obj_end(w);
}

void eve_write_flow(struct eve *e, const struct eve_flow *f)
{
    write_event(e, "flow", flow_json, f);
}

static void http_json(struct jsonw *w, const void *ev)
{
    const struct eve_http *h = ev;
    w_common(w, &h->c, "http");
    if (h->account.id && h->account.id[0]) {
        jsonw_key(w, "account");
        jsonw_obj_begin(w);
        jsonw_key(w, "id");
        jsonw_str(w, h->account.id);
        w_str(w, "via", h->account.via);
        jsonw_obj_end(w);
    }
    jsonw_key(w, "http");
    jsonw_obj_begin(w);
    w_str(w, "hostname", h->hostname);
    w_str(w, "url", h->url);
    w_str(w, "http_user_agent", h->http_user_agent);
    w_str(w, "http_content_type", h->http_content_type);
    w_str(w, "http_refer", h->http_refer);
    w_str(w, "http_method", h->http_method);
    w_str(w, "protocol", h->protocol);
    if (h->status) {
        jsonw_key(w, "status");
        jsonw_i64(w, h->status);
    }
    jsonw_key(w, "length");
    jsonw_i64(w, (int64_t)h->length);
    jsonw_key(w, "request_length");
    jsonw_i64(w, (int64_t)h->request_length);
    w_str(w, "endpoint", h->endpoint);
    if (h->n_flags) {
        jsonw_key(w, "flags");
        jsonw_arr_begin(w);
        for (size_t i = 0; i < h->n_flags; i++)
            jsonw_str(w, h->flags[i]);
        jsonw_arr_end(w);
    }
    jsonw_obj_end(w);
    if (h->records) {
        jsonw_key(w, "records");
        w_records(w, h->records);
    }
    jsonw_obj_end(w);
}

void eve_write_http(struct eve *e, const struct eve_http *h)
{
    write_event(e, "http", http_json, h);
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
