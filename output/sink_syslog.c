/* sink_syslog.c - events as syslog messages (RFC 5424) over UDP or TCP.
 *
 * Each event is one message:
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG
 * PRI is facility * 8 + severity (alert events warning, others info),
 * TIMESTAMP the wall clock when the event is sent (UTC, microseconds; the
 * event's packet time is inside MSG), MSGID the event type, no structured
 * data, MSG the JSON line (ASCII: EVE lines are written with \u escapes).
 * Over TCP every message is framed by octet counting (RFC 6587 3.4.1:
 * "LEN SP MESSAGE"), so a JSON line never needs escaping for framing. Over
 * UDP one message is one datagram; larger than 65000 bytes is dropped and
 * counted. The connection, reconnect and queue are sink.c's sink_net. */
#include "output/sink_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define UDP_MAX 65000u

struct syslog_sink {
    struct sink base;
    struct sink_net net;
    char hostname[256];
    char *buf; /* the message being framed, grown as needed */
    size_t cap;
};

static int wall_ts(char *out, size_t outlen)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char b[24];
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
    return snprintf(out, outlen, "%.19s.%06uZ", b, (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

static void syslog_write(struct sink *s, const char *type, const char *line, size_t len,
                         uint64_t now)
{
    struct syslog_sink *y = (struct syslog_sink *)s;
    char head[512], ts[48];
    wall_ts(ts, sizeof(ts));
    int sev = type && strcmp(type, "alert") == 0 ? 4 : 6;
    /* MSGID is 1*32PRINTUSASCII: event types are short lower-case words */
    char msgid[33];
    snprintf(msgid, sizeof(msgid), "%s", type && type[0] ? type : "-");
    for (char *p = msgid; *p; p++)
        if (*p < 33 || *p > 126)
            *p = '_';
    int hl = snprintf(head, sizeof(head), "<%d>1 %s %s %s %ld %s - ",
                      y->base.cfg.facility * 8 + sev, ts, y->hostname, y->base.cfg.app_name,
                      (long)getpid(), msgid);
    if (hl < 0 || (size_t)hl >= sizeof(head))
        hl = (int)sizeof(head) - 1;
    size_t msglen = (size_t)hl + len;
    if (y->net.socktype == SOCK_DGRAM && msglen > UDP_MAX) {
        s->st.dropped++;
        return;
    }
    size_t need = msglen + 24;
    if (need > y->cap) {
        char *nb = realloc(y->buf, need);
        if (!nb) {
            s->st.dropped++;
            return;
        }
        y->buf = nb;
        y->cap = need;
    }
    size_t o = 0;
    if (y->net.socktype == SOCK_STREAM)
        o = (size_t)snprintf(y->buf, y->cap, "%zu ", msglen);
    memcpy(y->buf + o, head, (size_t)hl);
    memcpy(y->buf + o + (size_t)hl, line, len);
    sink_net_send(&y->net, y->buf, o + msglen, now);
}

static void syslog_tick(struct sink *s, uint64_t now)
{
    struct syslog_sink *y = (struct syslog_sink *)s;
    sink_net_service(&y->net, now);
}

static void syslog_flush(struct sink *s)
{
    syslog_tick(s, sink_now_ms());
}

static void syslog_close(struct sink *s)
{
    struct syslog_sink *y = (struct syslog_sink *)s;
    sink_net_finish(&y->net, s->cfg.drain_ms);
    free(y->buf);
    free(y);
}

static const char *syslog_state(const struct sink *s)
{
    return sink_net_state_name(&((const struct syslog_sink *)s)->net);
}

static const struct sink_ops syslog_ops = {syslog_write, syslog_tick, syslog_flush,
                                           NULL, syslog_close, syslog_state};

struct sink *sink_syslog_open(const struct sink_config *cfg, uint64_t now, char *err,
                              size_t errlen)
{
    struct syslog_sink *y = calloc(1, sizeof(*y));
    if (!y) {
        snprintf(err, errlen, "output %s: out of memory", cfg->name);
        return NULL;
    }
    y->base.ops = &syslog_ops;
    y->base.cfg = *cfg;
    if (cfg->hostname[0])
        snprintf(y->hostname, sizeof(y->hostname), "%s", cfg->hostname);
    else if (gethostname(y->hostname, sizeof(y->hostname) - 1) != 0 || !y->hostname[0])
        snprintf(y->hostname, sizeof(y->hostname), "-");
    /* HOSTNAME is 1*255PRINTUSASCII */
    for (char *p = y->hostname; *p; p++)
        if (*p < 33 || *p > 126)
            *p = '_';
    if (!cfg->host[0]) {
        snprintf(err, errlen, "output %s: syslog needs a host (host: ADDRESS)", cfg->name);
        free(y);
        return NULL;
    }
    if (sink_net_init(&y->net, &y->base, 0, cfg->udp ? SOCK_DGRAM : SOCK_STREAM, cfg->host,
                      cfg->port, now, err, errlen) != 0) {
        free(y);
        return NULL;
    }
    return &y->base;
}
