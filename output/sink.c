/* sink.c - sink dispatch, and the collector connection shared by the
 * syslog and unix sinks (non-blocking socket, reconnect, bounded queue).
 *
 * Lines come in from eve.c through sink_write(); the kind's ops frame them.
 * A network message is sent at once when the connection is up and nothing
 * waits before it; otherwise it is copied into the queue (so order holds)
 * and the queue is drained on later writes and on sink_tick(). Queueing
 * allocates, but only while a collector is away or slow; the normal path
 * does not. Before each send on a stream the socket is checked for the
 * collector's close, so nothing is written into a connection already gone. */
#include "output/sink_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

void sink_config_default(struct sink_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "eve");
    c->kind = SINK_FILE;
    c->form = SINK_FORM_EVE;
    c->types = SINK_T_ALL;
    snprintf(c->path, sizeof(c->path), "eve.json");
    c->flush_ms = 1000;
    snprintf(c->port, sizeof(c->port), "514");
    c->facility = 16;
    snprintf(c->app_name, sizeof(c->app_name), "leakhound");
    c->queue_events = 10000;
    c->queue_bytes = 16u << 20;
    c->reconnect_ms = 1000;
    c->drain_ms = 2000;
}

unsigned sink_type_bit(const char *type, size_t len)
{
    static const struct {
        const char *name;
        unsigned bit;
    } t[] = {{"alert", SINK_T_ALERT}, {"http", SINK_T_HTTP}, {"flow", SINK_T_FLOW},
             {"stats", SINK_T_STATS}};
    if (len == (size_t)-1)
        len = strlen(type);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strlen(t[i].name) == len && memcmp(t[i].name, type, len) == 0)
            return t[i].bit;
    return SINK_T_OTHER;
}

uint64_t sink_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sink_report(const struct sink *s, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "leakhound: output %s: %s\n", s->cfg.name, msg);
}

struct sink *sink_open(const struct sink_config *cfg, uint64_t now_ms, char *err, size_t errlen)
{
    switch (cfg->kind) {
    case SINK_FILE:
    case SINK_STDOUT: return sink_file_open(cfg, now_ms, err, errlen);
    case SINK_SYSLOG: return sink_syslog_open(cfg, now_ms, err, errlen);
    case SINK_UNIX: return sink_unix_open(cfg, now_ms, err, errlen);
    }
    snprintf(err, errlen, "output %s: unknown kind", cfg->name);
    return NULL;
}

void sink_close(struct sink *s)
{
    if (s)
        s->ops->close(s);
}

void sink_write(struct sink *s, const char *type, const char *line, size_t len, uint64_t now_ms)
{
    s->ops->write(s, type, line, len, now_ms);
}

void sink_tick(struct sink *s, uint64_t now_ms)
{
    s->ops->tick(s, now_ms);
}

void sink_flush(struct sink *s)
{
    s->ops->flush(s);
}

void sink_reopen(struct sink *s)
{
    if (s->ops->reopen)
        s->ops->reopen(s);
}

const struct sink_config *sink_get_config(const struct sink *s)
{
    return &s->cfg;
}

void sink_get_stats(const struct sink *s, struct sink_stats *st)
{
    *st = s->st;
}

const char *sink_state(const struct sink *s)
{
    return s->ops->state(s);
}

/* ---- the collector connection ---------------------------------------------- */

int sink_net_init(struct sink_net *n, struct sink *owner, int family_unix, int socktype,
                  const char *host_or_path, const char *port, uint64_t now, char *err,
                  size_t errlen)
{
    memset(n, 0, sizeof(*n));
    n->owner = owner;
    n->fd = -1;
    n->socktype = socktype;
    if (family_unix) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&n->addr;
        if (strlen(host_or_path) >= sizeof(sun->sun_path)) {
            snprintf(err, errlen, "output %s: socket path %s is too long (at most %zu bytes)",
                     owner->cfg.name, host_or_path, sizeof(sun->sun_path) - 1);
            return -1;
        }
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, host_or_path, strlen(host_or_path) + 1);
        n->addrlen = sizeof(*sun);
        snprintf(n->peer, sizeof(n->peer), "%s", host_or_path);
    } else {
        struct addrinfo hints, *ai = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = socktype;
        int rc = getaddrinfo(host_or_path, port, &hints, &ai);
        if (rc != 0 || !ai) {
            snprintf(err, errlen, "output %s: cannot resolve %s port %s: %s; give an address "
                     "or a name this host resolves", owner->cfg.name, host_or_path, port,
                     gai_strerror(rc));
            return -1;
        }
        memcpy(&n->addr, ai->ai_addr, ai->ai_addrlen);
        n->addrlen = ai->ai_addrlen;
        freeaddrinfo(ai);
        snprintf(n->peer, sizeof(n->peer), "%s%s%s:%s", strchr(host_or_path, ':') ? "[" : "",
                 host_or_path, strchr(host_or_path, ':') ? "]" : "", port);
    }
    uint32_t cap = owner->cfg.queue_events ? owner->cfg.queue_events : 1;
    n->q = calloc(cap, sizeof(*n->q));
    if (!n->q) {
        snprintf(err, errlen, "output %s: out of memory for the queue of %u events",
                 owner->cfg.name, cap);
        return -1;
    }
    n->q_cap = cap;
    n->next_try = now;
    sink_net_service(n, now);
    return 0;
}

const char *sink_net_state_name(const struct sink_net *n)
{
    switch (n->state) {
    case NET_UP: return "connected";
    case NET_CONNECTING: return "connecting";
    default: return "away";
    }
}

static void net_down(struct sink_net *n, int err, uint64_t now)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
    n->state = NET_DOWN;
    n->head_sent = 0; /* a message cut short is sent whole on the next connection */
    n->next_try = now + n->owner->cfg.reconnect_ms;
    n->owner->st.errors++;
    if (!n->away_reported) {
        n->away_reported = 1;
        n->lost_in_episode = 0;
        sink_report(n->owner, "collector %s is away: %s (queueing up to %u events, retrying "
                    "every %u ms, counting drops)", n->peer, err ? strerror(err) : "closed",
                    n->owner->cfg.queue_events, n->owner->cfg.reconnect_ms);
    }
}

static void net_up(struct sink_net *n)
{
    n->state = NET_UP;
    if (n->ever_up)
        n->owner->st.reconnects++;
    n->ever_up = 1;
    if (n->away_reported) {
        n->away_reported = 0;
        sink_report(n->owner, "collector %s is back (%u events queued, %llu dropped meanwhile)",
                    n->peer, n->q_n, (unsigned long long)n->lost_in_episode);
    }
}

static void net_connect(struct sink_net *n, uint64_t now)
{
    int fd = socket(n->addr.ss_family, n->socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        net_down(n, errno, now);
        return;
    }
    n->fd = fd;
    if (connect(fd, (struct sockaddr *)&n->addr, n->addrlen) == 0) {
        net_up(n);
    } else if (errno == EINPROGRESS) {
        n->state = NET_CONNECTING;
        n->next_try = now + n->owner->cfg.reconnect_ms; /* give it this long */
    } else {
        net_down(n, errno, now);
    }
}

/* A stream collector that closed its end (or reset it) is gone: find out
 * before writing into the connection, not after. */
static int net_peer_gone(struct sink_net *n, int *err)
{
    if (n->socktype != SOCK_STREAM)
        return 0;
    struct pollfd p = {n->fd, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLERR | POLLHUP | POLLRDHUP)) {
        int e = 0;
        socklen_t el = sizeof(e);
        getsockopt(n->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        *err = e;
        return 1;
    }
    if (p.revents & POLLIN) {
        /* collectors do not talk back; read and ignore, 0 means closed */
        char buf[512];
        ssize_t r = recv(n->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            *err = r < 0 ? errno : 0;
            return 1;
        }
    }
    return 0;
}

/* Sends from buf; returns bytes sent (may be short), or -1 with errno.
 * UDP: an ICMP port-unreachable for an earlier datagram surfaces as
 * ECONNREFUSED on this send, which did not go out; it is counted, said once
 * per run (UDP cannot confirm delivery), and the send is tried again, so a
 * UDP collector that is away does not make the sink flap. */
static ssize_t net_send_some(struct sink_net *n, const char *buf, size_t len)
{
    ssize_t w;
    int refused = 0;
    for (;;) {
        w = send(n->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == ECONNREFUSED && n->socktype == SOCK_DGRAM && !refused++) {
            n->owner->st.errors++;
            if (!n->udp_refused_reported) {
                n->udp_refused_reported = 1;
                sink_report(n->owner, "collector %s refused a datagram (nothing listens on "
                            "the port?); UDP cannot confirm delivery, use protocol: tcp to "
                            "count losses", n->peer);
            }
            continue;
        }
        return w;
    }
}

static void q_pop(struct sink_net *n)
{
    struct sink_msg *m = &n->q[n->q_head];
    n->q_bytes -= m->len;
    free(m->data);
    m->data = NULL;
    n->q_head = (n->q_head + 1) % n->q_cap;
    n->q_n--;
    n->owner->st.queued = n->q_n;
    n->head_sent = 0;
}

static void q_push(struct sink_net *n, const char *msg, size_t len)
{
    const struct sink_config *c = &n->owner->cfg;
    char *copy = NULL;
    if (n->q_n == n->q_cap || n->q_bytes + len > c->queue_bytes || len > UINT32_MAX ||
        !(copy = malloc(len ? len : 1))) {
        n->owner->st.dropped++;
        n->lost_in_episode++;
        return;
    }
    memcpy(copy, msg, len);
    struct sink_msg *m = &n->q[(n->q_head + n->q_n) % n->q_cap];
    m->data = copy;
    m->len = (uint32_t)len;
    n->q_n++;
    n->owner->st.queued = n->q_n;
    n->q_bytes += len;
}

/* Drains the queue while the socket takes it. */
static void net_drain(struct sink_net *n, uint64_t now)
{
    while (n->state == NET_UP && n->q_n) {
        int err = 0;
        if (net_peer_gone(n, &err)) {
            net_down(n, err, now);
            return;
        }
        struct sink_msg *m = &n->q[n->q_head];
        ssize_t w = net_send_some(n, m->data + n->head_sent, m->len - n->head_sent);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                return;
            net_down(n, errno, now);
            return;
        }
        n->head_sent += (uint32_t)w;
        if (n->head_sent < m->len)
            return; /* the socket is full; go on later */
        q_pop(n);
        n->owner->st.written++;
    }
}

void sink_net_service(struct sink_net *n, uint64_t now)
{
    if (n->state == NET_CONNECTING) {
        struct pollfd p = {n->fd, POLLOUT, 0};
        if (poll(&p, 1, 0) > 0) {
            int e = 0;
            socklen_t el = sizeof(e);
            getsockopt(n->fd, SOL_SOCKET, SO_ERROR, &e, &el);
            if (e)
                net_down(n, e, now);
            else
                net_up(n);
        } else if (now >= n->next_try) {
            net_down(n, ETIMEDOUT, now);
        }
    }
    if (n->state == NET_DOWN && now >= n->next_try)
        net_connect(n, now);
    net_drain(n, now);
}

void sink_net_send(struct sink_net *n, const char *msg, size_t len, uint64_t now)
{
    if (n->q_n || n->state != NET_UP) {
        q_push(n, msg, len);
        sink_net_service(n, now);
        return;
    }
    int err = 0;
    if (net_peer_gone(n, &err)) {
        net_down(n, err, now);
        q_push(n, msg, len);
        return;
    }
    ssize_t w = net_send_some(n, msg, len);
    if (w == (ssize_t)len) {
        n->owner->st.written++;
        return;
    }
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
            net_down(n, errno, now);
        q_push(n, msg, len);
        return;
    }
    /* a stream took part of it: the rest waits at the head of the queue
     * (which was empty) */
    q_push(n, msg, len);
    if (n->q_n == 1)
        n->head_sent = (uint32_t)w;
    else
        net_down(n, EPIPE, now); /* dropped after its first bytes: start afresh */
}

void sink_net_finish(struct sink_net *n, uint32_t ms)
{
    uint64_t start = sink_now_ms();
    for (;;) {
        uint64_t now = sink_now_ms();
        sink_net_service(n, now);
        if (!n->q_n || now - start >= ms)
            break;
        if (n->fd >= 0) {
            struct pollfd p = {n->fd, POLLOUT, 0};
            poll(&p, 1, 10);
        } else {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (n->q_n) {
        sink_report(n->owner, "collector %s: %u queued events could not be sent before exit "
                    "and are lost", n->peer, n->q_n);
        n->owner->st.dropped += n->q_n;
    }
    while (n->q_n)
        q_pop(n);
    free(n->q);
    n->q = NULL;
    if (n->fd >= 0) {
        if (n->socktype == SOCK_STREAM)
            shutdown(n->fd, SHUT_WR);
        close(n->fd);
    }
    n->fd = -1;
}
