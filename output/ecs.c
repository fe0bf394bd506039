/* ecs.c - EVE event object in, ECS document out (jansson to jansson).
 *
 * Works on a deep copy: each mapped field is taken out of the copy and put
 * at its ECS place; what is left of the copy becomes the "leakhound"
 * object. So a field the mapping does not know (a new alert detail, a new
 * stats counter) still reaches Elastic, under leakhound.<its EVE name>.
 * Timestamps: EVE's "+0000" becomes "Z". Event type to event.kind /
 * category / type follows ECS's allowed values. */
#include "output/ecs.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lh_config.h"

/* Removes key from o and returns it (a new reference), or NULL. */
static json_t *take(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return NULL;
    json_incref(v);
    json_object_del(o, key);
    return v;
}

/* Sets root.a.b.c = v (steals v; NULL v is ignored). */
static void put(json_t *root, const char *dotted, json_t *v)
{
    if (!v)
        return;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", dotted);
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
    json_object_set_new(cur, p, v);
}

static void move(json_t *from, const char *key, json_t *to, const char *dotted)
{
    put(to, dotted, take(from, key));
}

static json_t *lower_str(const char *s, int stop_at_dot)
{
    char buf[64];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof(buf); i++) {
        if (stop_at_dot && s[i] == '.')
            break;
        buf[i] = (char)tolower((unsigned char)s[i]);
    }
    buf[i] = 0;
    return json_string(buf);
}

/* "2026-03-02T10:15:03.123456+0000" -> "2026-03-02T10:15:03.123456Z". */
static json_t *ecs_time(json_t *v)
{
    const char *s = json_string_value(v);
    if (!s)
        return v;
    size_t n = strlen(s);
    if (n > 5 && strcmp(s + n - 5, "+0000") == 0) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.*sZ", (int)(n - 5), s);
        json_t *r = json_string(buf);
        json_decref(v);
        return r;
    }
    return v;
}

/* EVE timestamp to microseconds since the epoch; 0 when it does not parse. */
static long long eve_us(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    unsigned usec = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6u", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &usec) != 7)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000000LL + usec;
}

static json_t *strs(const char *a, const char *b)
{
    json_t *r = json_array();
    if (a)
        json_array_append_new(r, json_string(a));
    if (b)
        json_array_append_new(r, json_string(b));
    return r;
}

static void map_event(json_t *out, const char *type, json_t *rest)
{
    char ds[64];
    snprintf(ds, sizeof(ds), "leakhound.%s", type);
    put(out, "event.module", json_string("leakhound"));
    put(out, "event.dataset", json_string(ds));
    if (strcmp(type, "alert") == 0) {
        put(out, "event.kind", json_string("alert"));
        put(out, "event.category", strs("intrusion_detection", "network"));
        put(out, "event.type", strs("info", NULL));
    } else if (strcmp(type, "http") == 0) {
        put(out, "event.kind", json_string("event"));
        put(out, "event.category", strs("network", "web"));
        put(out, "event.type", strs("access", "protocol"));
    } else if (strcmp(type, "flow") == 0) {
        put(out, "event.kind", json_string("event"));
        put(out, "event.category", strs("network", NULL));
        put(out, "event.type", strs("connection", "end"));
    } else if (strcmp(type, "stats") == 0) {
        put(out, "event.kind", json_string("metric"));
        put(out, "event.type", strs("info", NULL));
    } else {
        put(out, "event.kind", json_string("event"));
        put(out, "event.type", strs("info", NULL));
    }
    (void)rest;
}

static void map_endpoints(json_t *out, json_t *rest)
{
    const char *src = json_string_value(json_object_get(rest, "src_ip"));
    if (src)
        put(out, "network.type", json_string(strchr(src, ':') ? "ipv6" : "ipv4"));
    move(rest, "src_ip", out, "source.ip");
    move(rest, "src_port", out, "source.port");
    move(rest, "dest_ip", out, "destination.ip");
    move(rest, "dest_port", out, "destination.port");
    json_t *proto = take(rest, "proto");
    if (json_is_string(proto))
        put(out, "network.transport", lower_str(json_string_value(proto), 0));
    json_decref(proto);
    json_t *app = take(rest, "app_proto");
    if (json_is_string(app) && json_string_length(app)) {
        put(out, "network.protocol", lower_str(json_string_value(app), 0));
    } else {
        const char *np = json_string_value(json_object_get(json_object_get(rest, "ndpi"), "proto"));
        if (np && np[0])
            put(out, "network.protocol", lower_str(np, 1));
    }
    json_decref(app);
    move(rest, "community_id", out, "network.community_id");
    json_t *vlan = json_object_get(rest, "vlan");
    if (json_is_array(vlan) && json_array_size(vlan) > 0 &&
        json_is_integer(json_array_get(vlan, 0))) {
        char b[16];
        snprintf(b, sizeof(b), "%lld", (long long)json_integer_value(json_array_get(vlan, 0)));
        put(out, "network.vlan.id", json_string(b));
        json_object_del(rest, "vlan");
    }
}

static void map_account(json_t *out, json_t *rest)
{
    json_t *a = json_object_get(rest, "account");
    if (json_is_object(a))
        move(a, "id", out, "user.name");
}

static void map_alert(json_t *out, json_t *rest)
{
    json_t *a = json_object_get(rest, "alert");
    if (!json_is_object(a))
        return;
    const char *sig = json_string_value(json_object_get(a, "signature"));
    if (sig)
        put(out, "message", json_string(sig));
    move(a, "rule", out, "rule.id");
    move(a, "signature", out, "rule.name");
    move(a, "category", out, "rule.category");
    move(a, "severity", out, "event.severity");
}

static void map_http(json_t *out, json_t *rest)
{
    json_t *h = json_object_get(rest, "http");
    if (!json_is_object(h))
        return;
    const char *url = json_string_value(json_object_get(h, "url"));
    if (url) {
        const char *q = strchr(url, '?');
        if (url[0] == '/') {
            put(out, "url.path", q ? json_stringn(url, (size_t)(q - url)) : json_string(url));
            if (q && q[1])
                put(out, "url.query", json_string(q + 1));
        }
    }
    move(h, "url", out, "url.original");
    move(h, "hostname", out, "url.domain");
    move(h, "http_method", out, "http.request.method");
    move(h, "status", out, "http.response.status_code");
    move(h, "http_user_agent", out, "user_agent.original");
    move(h, "http_content_type", out, "http.response.mime_type");
    move(h, "http_refer", out, "http.request.referrer");
    move(h, "length", out, "http.response.body.bytes");
    move(h, "request_length", out, "http.request.body.bytes");
    json_t *p = take(h, "protocol");
    const char *ps = json_string_value(p);
    if (ps)
        put(out, "http.version", json_string(strncmp(ps, "HTTP/", 5) == 0 ? ps + 5 : ps));
    json_decref(p);
}

static void map_flow(json_t *out, json_t *rest)
{
    json_t *f = json_object_get(rest, "flow");
    if (!json_is_object(f))
        return;
    json_int_t ps = json_integer_value(json_object_get(f, "pkts_toserver"));
    json_int_t pc = json_integer_value(json_object_get(f, "pkts_toclient"));
    json_int_t bs = json_integer_value(json_object_get(f, "bytes_toserver"));
    json_int_t bc = json_integer_value(json_object_get(f, "bytes_toclient"));
    move(f, "pkts_toserver", out, "source.packets");
    move(f, "bytes_toserver", out, "source.bytes");
    move(f, "pkts_toclient", out, "destination.packets");
    move(f, "bytes_toclient", out, "destination.bytes");
    put(out, "network.packets", json_integer(ps + pc));
    put(out, "network.bytes", json_integer(bs + bc));
    long long s = eve_us(json_string_value(json_object_get(f, "start")));
    long long e = eve_us(json_string_value(json_object_get(f, "end")));
    if (s && e && e >= s)
        put(out, "event.duration", json_integer((json_int_t)((e - s) * 1000)));
    put(out, "event.start", ecs_time(take(f, "start")));
    put(out, "event.end", ecs_time(take(f, "end")));
}

/* Drops objects emptied by the mapping, so "leakhound" holds only what is
 * left. */
static void prune(json_t *o)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(o, tmp, k, v)
    {
        if (json_is_object(v)) {
            prune(v);
            if (json_object_size(v) == 0)
                json_object_del(o, k);
        }
    }
}

json_t *ecs_from_eve(const json_t *eve, const struct ecs_observer *obs)
{
    if (!json_is_object(eve))
        return NULL;
    json_t *rest = json_deep_copy(eve);
    json_t *out = json_object();
    if (!rest || !out) {
        json_decref(rest);
        json_decref(out);
        return NULL;
    }
    put(out, "@timestamp", ecs_time(take(rest, "timestamp")));
    json_t *t = take(rest, "event_type");
    const char *type = json_string_value(t) ? json_string_value(t) : "unknown";
    map_event(out, type, rest);
    json_decref(t);
    map_endpoints(out, rest);
    map_account(out, rest);
    map_alert(out, rest);
    map_http(out, rest);
    map_flow(out, rest);
    put(out, "observer.type", json_string("sensor"));
    put(out, "observer.vendor", json_string("leakhound"));
    put(out, "observer.product", json_string("leakhound"));
    put(out, "observer.version", json_string(LH_VERSION));
    if (obs && obs->hostname && obs->hostname[0])
        put(out, "observer.hostname", json_string(obs->hostname));
    put(out, "ecs.version", json_string(ECS_VERSION));
    prune(rest);
    if (json_object_size(rest))
        json_object_set_new(out, "leakhound", rest);
    else
        json_decref(rest);
    return out;
}
