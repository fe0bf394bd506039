/* flow.h - the bidirectional flow table.
 *
 * Packets enter by flow_lookup(), which finds or creates the flow for the
 * packet's 5-tuple plus VLAN (both directions hit one flow) and says which
 * direction the packet goes. Flows leave by the end callback: on idle
 * timeout (flow_table_expire, packet time), on eviction when the memory cap
 * is reached (oldest idle first), or on flow_table_flush at shutdown. The
 * callback sees the flow one last time, then the table frees it.
 *
 * The table's hash is keyed (SipHash-style, seed from the caller) so crafted
 * traffic cannot force collisions. Everything here is packet time. */
#ifndef LH_FLOW_H
#define LH_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "sensor/packet.h"

enum flow_dir {
    FLOW_TOSERVER = 0, /* from the initiator (first packet's sender, or SYN sender) */
    FLOW_TOCLIENT = 1,
};

enum flow_tcp_state {
    FLOW_TCP_NONE = 0,
    FLOW_TCP_SYN_SENT,
    FLOW_TCP_SYN_RECV,
    FLOW_TCP_ESTABLISHED,
    FLOW_TCP_FIN_WAIT, /* one side sent FIN */
    FLOW_TCP_CLOSED,   /* both FINs, or RST */
};

enum flow_end_reason {
    FLOW_END_TIMEOUT = 0,
    FLOW_END_EVICTED, /* memory cap or table full */
    FLOW_END_SHUTDOWN,
    FLOW_END_CLOSED, /* TCP closed and its close timeout passed */
};

/* "timeout", "evicted", "shutdown", "closed". Can't fail. */
const char *flow_end_reason_name(enum flow_end_reason r);

struct flow {
    /* identity, oriented: [FLOW_TOSERVER] is the initiator's side */
    struct lh_addr addr[2]; /* [0] client, [1] server */
    uint16_t port[2];       /* [0] client, [1] server (ICMP: type, code) */
    uint16_t vlan;          /* outermost VLAN id, 0 when none */
    uint8_t proto;
    uint8_t ip_ver;

    uint8_t tcp_state;  /* enum flow_tcp_state */
    uint8_t end_reason; /* enum flow_end_reason, set before the end callback */
    uint8_t tcp_seen_syn;   /* the table saw the handshake start */
    uint8_t reserved;

    uint64_t flow_id; /* unique in the run, non-zero, stable across replays */
    char community_id[32]; /* "1:" + 28 base64 chars + NUL */

    uint64_t first_ts, last_ts;           /* packet time, us */
    uint64_t pkts[2], bytes[2];           /* by direction, wire bytes */
    uint64_t first_pcap_cnt;              /* first packet of the flow in the run */
    uint32_t first_file_idx;

    void *user; /* the worker's per-flow state; the end callback frees it */

    /* table internals */
    struct flow *hnext;             /* hash chain */
    struct flow *lru_prev, *lru_next; /* least recently active first */
    uint64_t hash;
};

struct flow_config {
    uint64_t memcap;            /* bytes for flows incl. user_size each */
    uint32_t hash_size;         /* buckets, rounded up to a power of two */
    uint32_t timeout_tcp_us;    /* idle timeout, established TCP */
    uint32_t timeout_tcp_new_us;    /* idle timeout, TCP not yet established */
    uint32_t timeout_tcp_closed_us; /* after FIN/FIN or RST */
    uint32_t timeout_udp_us;
    uint32_t timeout_other_us;  /* ICMP and the rest */
    uint32_t user_size;         /* bytes the caller accounts per flow for user */
    uint64_t seed[2];           /* hash key; 0,0 = take from getrandom() */
    uint16_t community_seed;    /* Community ID seed, 0 by default */
    uint8_t ignore_vlan;        /* 1: VLAN ids do not separate flows (asymmetric tagging) */
};

/* Defaults: 256 MiB, 65536 buckets, TCP 600 s / new 30 s / closed 10 s,
 * UDP 60 s, other 30 s. */
void flow_config_default(struct flow_config *cfg);

struct flow_stats {
    uint64_t active;     /* flows in the table now */
    uint64_t total;      /* flows created */
    uint64_t timeout;    /* ended by idle timeout */
    uint64_t closed;     /* ended after a TCP close */
    uint64_t evicted;    /* ended because the memory cap was reached */
    uint64_t memcap_refused; /* packets not tracked: cap reached, nothing to evict */
    uint64_t memuse;     /* bytes in use now */
    uint64_t memuse_peak;
    uint64_t tcp, udp, icmp, other;
};

struct flow_table;
typedef void (*flow_end_fn)(struct flow *f, void *ud);

/* Returns a table or NULL on allocation failure. */
struct flow_table *flow_table_new(const struct flow_config *cfg, flow_end_fn on_end, void *ud);
/* Ends every flow (reason shutdown, end callback called) and frees. Accepts NULL. */
void flow_table_free(struct flow_table *t);

/* Finds or creates the flow of p (decoded, with ip_ver != 0). Sets *dir. Updates
 * counters, timestamps and TCP state. Returns NULL when the flow could not be
 * created (cap reached and nothing could be evicted); counted in stats. Before
 * creating, may end other flows through the end callback (eviction). */
struct flow *flow_lookup(struct flow_table *t, const struct packet *p, enum flow_dir *dir);

/* The RST the last packet of f carried was not believed (its sequence number
 * was implausible, see reassembly.h): f goes back to its state before it,
 * with that state's timeout. Does nothing unless that RST closed f. A forged
 * RST must not end a flow early any more than it may end its stream. */
void flow_rst_rejected(struct flow_table *t, struct flow *f);

/* Ends flows idle past their timeout at packet time now_us. Cheap when
 * called often: it walks the LRU list from the oldest end only. */
void flow_table_expire(struct flow_table *t, uint64_t now_us);

/* Ends every flow with reason shutdown. */
void flow_table_flush(struct flow_table *t);

/* Calls fn for every live flow (oldest first per class); fn must not end or
 * create flows. */
void flow_table_foreach(struct flow_table *t, void (*fn)(struct flow *f, void *ud), void *ud);
const struct flow_stats *flow_table_stats(const struct flow_table *t);

/* Charges bytes (negative: gives back) that a flow's owner allocated after
 * the flow was made (per-flow state that only some flows grow) to the
 * table's memuse, so the memcap bounds them too. Never refuses: the next
 * flow created evicts until the total is back under the cap. Whoever
 * charges gives the same bytes back by the end callback. Can't fail. */
void flow_table_charge(struct flow_table *t, int64_t bytes);

/* Community ID v1 of a 5-tuple; out must hold 32 bytes. Can't fail. */
void flow_community_id(uint16_t seed, uint8_t ip_ver, uint8_t proto, const struct lh_addr *a,
                       uint16_t pa, const struct lh_addr *b, uint16_t pb, char out[32]);

/* The ICMP (proto 1) or ICMPv6 (proto 58) type paired with type by the
 * Community ID spec (echo request <-> reply, router solicitation <->
 * advertisement, ...), or -1 when type is one-way or proto is not ICMP.
 * Can't fail. */
int flow_icmp_peer_type(uint8_t proto, uint8_t type);

/* Formats an address as text: IPv4 (and v4-mapped) as a dotted quad, IPv6
 * written out in full ("fe80:0000:...:ab42"), as Suricata's EVE does. out >= 46. */
void flow_addr_str(const struct lh_addr *a, uint8_t ip_ver, char *out, size_t outlen);

#endif
