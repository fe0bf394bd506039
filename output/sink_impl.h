/* sink_impl.h - what the sink kinds share (for output/sink*.c only).
 *
 * struct sink is the common head of every sink kind; sink.c dispatches
 * through its ops. struct sink_net is one connection to a collector (TCP,
 * UDP or Unix stream) with the bounded queue of messages waiting for it;
 * syslog and unix sinks frame their messages and give them to it. */
#ifndef LH_SINK_IMPL_H
#define LH_SINK_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "output/sink.h"

struct sink_ops {
    void (*write)(struct sink *s, const char *type, const char *line, size_t len, uint64_t now);
    void (*tick)(struct sink *s, uint64_t now);
    void (*flush)(struct sink *s);
    void (*reopen)(struct sink *s);
    void (*close)(struct sink *s); /* drain, final accounting, free */
    const char *(*state)(const struct sink *s);
};

struct sink {
    const struct sink_ops *ops;
    struct sink_config cfg;
    struct sink_stats st;
};

/* Reports a problem on stderr as "leakhound: output NAME: ...". */
void sink_report(const struct sink *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Constructors of the kinds (the file name is the prefix). */
struct sink *sink_file_open(const struct sink_config *cfg, uint64_t now, char *err, size_t errlen);
struct sink *sink_syslog_open(const struct sink_config *cfg, uint64_t now, char *err,
                              size_t errlen);
struct sink *sink_unix_open(const struct sink_config *cfg, uint64_t now, char *err, size_t errlen);

/* One queued message (framed, ready to send). */
struct sink_msg {
    char *data;
    uint32_t len;
};

enum sink_net_state { NET_DOWN = 0, NET_CONNECTING, NET_UP };

struct sink_net {
    struct sink *owner;          /* its stats are counted into */
    int fd;
    int socktype;                /* SOCK_STREAM or SOCK_DGRAM */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char peer[300];              /* for messages: "127.0.0.1:514", "/run/x.sock" */
    enum sink_net_state state;
    int ever_up;
    int away_reported;           /* an episode is ongoing: do not report again */
    int udp_refused_reported;    /* said once per run */
    uint64_t next_try;           /* monotonic ms of the next connection attempt */
    uint64_t lost_in_episode;    /* dropped since the collector went away */
    /* ring of queued messages, oldest first */
    struct sink_msg *q;
    uint32_t q_cap, q_head, q_n;
    uint64_t q_bytes;
    uint32_t head_sent;          /* bytes of the oldest message already sent */
};

/* Resolves the peer (host/port for TCP/UDP, path for Unix) and makes the
 * first connection attempt. -1 with err only for a peer that cannot be
 * named (unknown host, path too long). */
int sink_net_init(struct sink_net *n, struct sink *owner, int family_unix, int socktype,
                  const char *host_or_path, const char *port, uint64_t now, char *err,
                  size_t errlen);
/* Sends msg, or queues it (a copy), or drops it when the queue is full. */
void sink_net_send(struct sink_net *n, const char *msg, size_t len, uint64_t now);
/* Reconnects when due and drains the queue as far as the socket takes it. */
void sink_net_service(struct sink_net *n, uint64_t now);
/* Tries to drain for at most ms, then drops (and counts) what is left,
 * closes the socket and frees the queue. */
void sink_net_finish(struct sink_net *n, uint32_t ms);
const char *sink_net_state_name(const struct sink_net *n);

#endif
