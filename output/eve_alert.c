/* eve_alert.c - alert events: struct eve_alert in, one JSON line out.
 *
 * Key order is fixed (JSON_PRESERVE_ORDER) and reals are rounded to two
 * decimals and printed with a fixed precision, so replaying a capture
 * gives byte-identical alerts. Field names follow Suricata's EVE alert
 * where one exists (alert.signature_id, alert.signature, ...). */
#include "output/eve_alert.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && v[0])
        json_object_set_new(o, k, json_string(v));
}

static json_t *num(double v, int is_int)
{
    if (is_int || (v == floor(v) && fabs(v) < 9e15))
        return json_integer((json_int_t)llround(v));
    return json_real(round(v * 100.0) / 100.0);
}

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (v[i])
            json_array_append_new(a, json_string(v[i]));
    return a;
}

char *eve_alert_format(const struct eve_alert *a)
{
    char ts[40];
    json_t *o = json_object();
    if (!o)
        return NULL;
    eve_format_ts(a->c.ts_us, ts, sizeof ts);
    json_object_set_new(o, "timestamp", json_string(ts));
    json_object_set_new(o, "flow_id", json_integer((json_int_t)(a->c.flow_id & INT64_MAX)));
    set_str(o, "pcap_filename", a->c.pcap_filename);
    if (a->c.pcap_cnt)
        json_object_set_new(o, "pcap_cnt", json_integer((json_int_t)a->c.pcap_cnt));
    json_object_set_new(o, "event_type", json_string("alert"));
    set_str(o, "src_ip", a->c.src_ip);
    json_object_set_new(o, "src_port", json_integer(a->c.src_port));
    set_str(o, "dest_ip", a->c.dest_ip);
    json_object_set_new(o, "dest_port", json_integer(a->c.dest_port));
    set_str(o, "proto", a->c.proto ? a->c.proto : "TCP");
    set_str(o, "app_proto", a->c.app_proto ? a->c.app_proto : "http");
    set_str(o, "community_id", a->c.community_id);

    json_t *acct = json_object();
    set_str(acct, "id", a->account_id);
    set_str(acct, "via", a->account_via);
    json_object_set_new(acct, "src_ips", str_array(a->src_ips, a->n_src_ips));
    json_object_set_new(acct, "new_src_ip", json_boolean(a->new_src_ip));
    json_object_set_new(o, "account", acct);

    json_t *al = json_object();
    json_object_set_new(al, "action", json_string("allowed"));
    set_str(al, "rule", a->rule);
    json_object_set_new(al, "signature_id", json_integer(a->signature_id));
    set_str(al, "signature", a->signature);
    set_str(al, "category", a->category);
    json_object_set_new(al, "severity", json_integer(a->severity));
    json_object_set_new(o, "alert", al);

    json_t *lk = json_object();
    if (a->window_s)
        json_object_set_new(lk, "window_s", json_integer(a->window_s));
    if (a->has_queries)
        json_object_set_new(lk, "queries", json_integer((json_int_t)a->queries));
    json_t *rec = json_object();
    for (size_t i = 0; i < a->n_records; i++)
        json_object_set_new(rec, a->records[i].key, json_integer((json_int_t)a->records[i].val));
    json_object_set_new(lk, "records", rec);
    if (a->has_baseline) {
        json_t *b = json_object();
        set_str(b, "kind", a->baseline_kind);
        json_object_set_new(b, "value", num(a->baseline_value, 0));
        json_object_set_new(b, "ratio", num(a->baseline_ratio, 0));
        if (a->has_spread) {
            json_object_set_new(b, "z", num(a->baseline_z, 0));
            json_object_set_new(b, "cusum", num(a->baseline_cusum, 0));
        }
        json_object_set_new(lk, "baseline", b);
    }
    if (a->detail_name && a->n_detail) {
        json_t *d = json_object();
        for (size_t i = 0; i < a->n_detail; i++)
            json_object_set_new(d, a->detail[i].key, num(a->detail[i].val, a->detail[i].is_int));
        json_object_set_new(lk, a->detail_name, d);
    }
    json_object_set_new(lk, "samples", str_array(a->samples, a->n_samples));
    json_object_set_new(lk, "fingerprints", str_array(a->fingerprints, a->n_fingerprints));
    json_object_set_new(o, "leak", lk);

    json_t *h = json_object();
    set_str(h, "hostname", a->hostname);
    set_str(h, "url", a->url);
    set_str(h, "http_method", a->http_method);
    if (a->status)
        json_object_set_new(h, "status", json_integer(a->status));
    json_object_set_new(o, "http", h);

    if (a->evidence_pcap && a->evidence_pcap[0]) {
        json_t *ev = json_object();
        json_object_set_new(ev, "pcap", json_string(a->evidence_pcap));
        json_object_set_new(o, "evidence", ev);
    }
    if (a->episode_alert) {
        json_t *ep = json_object();
        eve_format_ts(a->episode_start_us, ts, sizeof ts);
        json_object_set_new(ep, "start", json_string(ts));
        json_object_set_new(ep, "alert", json_integer(a->episode_alert));
        json_object_set_new(o, "episode", ep);
    }
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT |
                                JSON_REAL_PRECISION(12));
    json_decref(o);
    return s;
}

void eve_alert_write(struct eve *e, const struct eve_alert *a)
{
    char *s = eve_alert_format(a);
    if (!s)
        return; /* out of memory: the engine counts alerts, the sink never saw it */
    eve_write_line(e, s, strlen(s));
    free(s);
}
