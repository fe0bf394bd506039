/* sink_unix.c - NDJSON over a Unix stream socket to a local collector.
 *
 * The sensor connects (it does not listen): a collector such as a log
 * shipper owns the socket path. Each event is its JSON line and a newline.
 * While the collector is away (no socket, refused, closed) events wait in
 * the bounded queue and connection attempts repeat every reconnect_ms; the
 * connection, reconnect and queue are sink.c's sink_net. */
#include "output/sink_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unix_sink {
    struct sink base;
    struct sink_net net;
    char *buf;
    size_t cap;
};

static void unix_write(struct sink *s, const char *type, const char *line, size_t len,
                       uint64_t now)
{
    (void)type;
    struct unix_sink *u = (struct unix_sink *)s;
    if (len + 1 > u->cap) {
        char *nb = realloc(u->buf, len + 1);
        if (!nb) {
            s->st.dropped++;
            return;
        }
        u->buf = nb;
        u->cap = len + 1;
    }
    memcpy(u->buf, line, len);
    u->buf[len] = '\n';
    sink_net_send(&u->net, u->buf, len + 1, now);
}

static void unix_tick(struct sink *s, uint64_t now)
{
    sink_net_service(&((struct unix_sink *)s)->net, now);
}

static void unix_flush(struct sink *s)
{
    unix_tick(s, sink_now_ms());
}

static void unix_close(struct sink *s)
{
    struct unix_sink *u = (struct unix_sink *)s;
    sink_net_finish(&u->net, s->cfg.drain_ms);
    free(u->buf);
    free(u);
}

static const char *unix_state(const struct sink *s)
{
    return sink_net_state_name(&((const struct unix_sink *)s)->net);
}

static const struct sink_ops unix_ops = {unix_write, unix_tick, unix_flush,
                                         NULL, unix_close, unix_state};

struct sink *sink_unix_open(const struct sink_config *cfg, uint64_t now, char *err, size_t errlen)
{
    struct unix_sink *u = calloc(1, sizeof(*u));
    if (!u) {
        snprintf(err, errlen, "output %s: out of memory", cfg->name);
        return NULL;
    }
    u->base.ops = &unix_ops;
    u->base.cfg = *cfg;
    if (!cfg->path[0]) {
        snprintf(err, errlen, "output %s: a unix sink needs a socket path (path: FILE)",
                 cfg->name);
        free(u);
        return NULL;
    }
    if (sink_net_init(&u->net, &u->base, 1, SOCK_STREAM, cfg->path, NULL, now, err, errlen) !=
        0) {
        free(u);
        return NULL;
    }
    return &u->base;
}
