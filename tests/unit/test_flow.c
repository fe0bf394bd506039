/* test_flow.c - the flow table: symmetry, orientation, TCP state, timeouts in
 * packet time, memory cap, scale, flush, flow ids and hash spread. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sensor/flow.h"

#define SEC UINT64_C(1000000)
#define T0 (UINT64_C(1700000000) * SEC)

/* ---- helpers ---------------------------------------------------------------- */

static struct lh_addr v4(const char *s)
{
    struct lh_addr a;
    memset(&a, 0, sizeof(a));
    a.a[10] = a.a[11] = 0xff;
    CHECK(inet_pton(AF_INET, s, a.a + 12) == 1);
    return a;
}

static struct lh_addr v6(const char *s)
{
    struct lh_addr a;
    memset(&a, 0, sizeof(a));
    CHECK(inet_pton(AF_INET6, s, a.a) == 1);
    return a;
}

static struct packet pkt(uint8_t ver, struct lh_addr src, uint16_t sp, struct lh_addr dst,
                         uint16_t dp, uint8_t proto, uint8_t flags, uint64_t ts)
{
    static uint64_t cnt;
    struct packet p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts;
    p.pcap_cnt = ++cnt;
    p.file_idx = 3;
    p.wirelen = 60;
    p.caplen = 60;
    p.ip_ver = ver;
    p.proto = proto;
    p.src = src;
    p.dst = dst;
    p.sport = sp;
    p.dport = dp;
    p.tcp_flags = flags;
    return p;
}

/* What the end callback saw, in order. */
#define LOG_MAX 64
struct endlog {
    uint64_t n;
    uint64_t by_reason[4];
    uint64_t id[LOG_MAX];
    uint8_t reason[LOG_MAX];
    uint16_t port0[LOG_MAX];
    uint8_t proto[LOG_MAX];
    uint8_t state[LOG_MAX];
    uint64_t user_freed;
};

static void on_end(struct flow *f, void *ud)
{
    struct endlog *l = ud;
    if (l->n < LOG_MAX) {
        l->id[l->n] = f->flow_id;
        l->reason[l->n] = f->end_reason;
        l->port0[l->n] = f->port[0];
        l->proto[l->n] = f->proto;
        l->state[l->n] = f->tcp_state;
    }
    l->n++;
    if (f->end_reason < 4) l->by_reason[f->end_reason]++;
    if (f->user) {
        free(f->user);
        f->user = NULL;
        l->user_freed++;
    }
}

static void test_cfg(struct flow_config *c)
{
    flow_config_default(c);
    c->seed[0] = 0x0123456789abcdefULL;
    c->seed[1] = 0xfedcba9876543210ULL;
    c->timeout_tcp_us = 600 * SEC;
    c->timeout_tcp_new_us = 30 * SEC;
    c->timeout_tcp_closed_us = 10 * SEC;
    c->timeout_udp_us = 60 * SEC;
    c->timeout_other_us = 45 * SEC;
}

static struct flow *look(struct flow_table *t, const struct packet *p, enum flow_dir *d)
{
    *d = (enum flow_dir)99;
    return flow_lookup(t, p, d);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_defaults_and_names(void)
{
    struct flow_config c;
    flow_config_default(&c);
    CHECK_EQ(c.memcap, 256u << 20);
    CHECK_EQ(c.hash_size, 65536);
    CHECK_EQ(c.timeout_tcp_us, 600 * SEC);
    CHECK_EQ(c.timeout_tcp_new_us, 30 * SEC);
    CHECK_EQ(c.timeout_tcp_closed_us, 10 * SEC);
    CHECK_EQ(c.timeout_udp_us, 60 * SEC);
    CHECK_EQ(c.timeout_other_us, 30 * SEC);
    CHECK_STR(flow_end_reason_name(FLOW_END_TIMEOUT), "timeout");
    CHECK_STR(flow_end_reason_name(FLOW_END_EVICTED), "evicted");
    CHECK_STR(flow_end_reason_name(FLOW_END_SHUTDOWN), "shutdown");
    CHECK_STR(flow_end_reason_name(FLOW_END_CLOSED), "closed");
    flow_table_free(NULL);
    flow_table_flush(NULL);
}

static void test_symmetry(void)
{
    struct flow_config c;
    test_cfg(&c);
    struct endlog log = {0};
    struct flow_table *t = flow_table_new(&c, on_end, &log);
    CHECK(t != NULL);
    enum flow_dir d;

    /* IPv4 TCP */
    struct lh_addr a = v4("10.20.3.7"), b = v4("10.0.0.5");
    struct packet p1 = pkt(4, a, 51234, b, 8080, 6, TCP_SYN, T0);
    struct packet p2 = pkt(4, b, 8080, a, 51234, 6, TCP_SYN | TCP_ACK, T0 + 100);
    p2.wirelen = 74;
    struct flow *f = look(t, &p1, &d);
    CHECK(f != NULL);
    CHECK_EQ(d, FLOW_TOSERVER);
    struct flow *g = look(t, &p2, &d);
    CHECK(g == f);
    CHECK_EQ(d, FLOW_TOCLIENT);
    CHECK(memcmp(&f->addr[0], &a, 16) == 0);
    CHECK(memcmp(&f->addr[1], &b, 16) == 0);
    CHECK_EQ(f->port[0], 51234);
    CHECK_EQ(f->port[1], 8080);
    CHECK_EQ(f->pkts[0], 1);
    CHECK_EQ(f->pkts[1], 1);
    CHECK_EQ(f->bytes[0], 60);
    CHECK_EQ(f->bytes[1], 74);
    CHECK_EQ(f->first_ts, T0);
    CHECK_EQ(f->last_ts, T0 + 100);
    CHECK_EQ(f->first_pcap_cnt, p1.pcap_cnt);
    CHECK_EQ(f->first_file_idx, 3);
    CHECK_EQ(f->ip_ver, 4);
    CHECK_EQ(f->proto, 6);
    CHECK(f->flow_id != 0);
    char cid[32];
    flow_community_id(0, 4, 6, &b, 8080, &a, 51234, cid);
    CHECK_STR(f->community_id, cid);

    /* IPv6 UDP, both directions */
    struct lh_addr x = v6("2001:db8::1"), y = v6("2001:db8::53");
    struct packet u1 = pkt(6, x, 40000, y, 53, 17, 0, T0 + 200);
    struct packet u2 = pkt(6, y, 53, x, 40000, 17, 0, T0 + 300);
    struct flow *h = look(t, &u1, &d);
    CHECK(h != NULL && h != f);
    CHECK_EQ(d, FLOW_TOSERVER);
    CHECK(look(t, &u2, &d) == h);
    CHECK_EQ(d, FLOW_TOCLIENT);
    CHECK(look(t, &u1, &d) == h);
    CHECK_EQ(d, FLOW_TOSERVER);
    CHECK_EQ(h->pkts[0], 2);
    CHECK_EQ(h->pkts[1], 1);
    CHECK_EQ(h->ip_ver, 6);

    /* same ports, other server: another flow; swapped ports: another flow */
    struct packet u3 = pkt(6, x, 40000, v6("2001:db8::54"), 53, 17, 0, T0 + 300);
    CHECK(look(t, &u3, &d) != h);
    struct packet u4 = pkt(6, x, 53, y, 40000, 17, 0, T0 + 300);
    CHECK(look(t, &u4, &d) != h);

    /* VLAN: the outermost id separates flows; an inner tag does not */
    struct packet v10 = pkt(4, a, 1000, b, 80, 17, 0, T0 + 400);
    v10.vlan_n = 1;
    v10.vlan[0] = 10;
    struct packet v20 = v10;
    v20.vlan[0] = 20;
    struct packet vnone = v10;
    vnone.vlan_n = 0;
    struct packet v10in = pkt(4, b, 80, a, 1000, 17, 0, T0 + 500);
    v10in.vlan_n = 2;
    v10in.vlan[0] = 10;
    v10in.vlan[1] = 99;
    struct flow *fv10 = look(t, &v10, &d);
    struct flow *fv20 = look(t, &v20, &d);
    struct flow *fvn = look(t, &vnone, &d);
    CHECK(fv10 && fv20 && fvn);
    CHECK(fv10 != fv20 && fv10 != fvn && fv20 != fvn);
    CHECK_EQ(fv10->vlan, 10);
    CHECK_EQ(fv20->vlan, 20);
    CHECK_EQ(fvn->vlan, 0);
    CHECK(look(t, &v10in, &d) == fv10);
    CHECK_EQ(d, FLOW_TOCLIENT);

    /* the same v4-mapped bytes as IPv6 are another flow */
    struct packet m6 = pkt(6, a, 1000, b, 80, 17, 0, T0 + 500);
    struct flow *fm6 = look(t, &m6, &d);
    CHECK(fm6 != NULL && fm6 != fvn);

    /* not IP: not tracked */
    struct packet np = pkt(0, a, 1, b, 2, 6, 0, T0);
    CHECK(flow_lookup(t, &np, &d) == NULL);

    const struct flow_stats *st = flow_table_stats(t);
    CHECK_EQ(st->active, 8);
    CHECK_EQ(st->total, 8);
    CHECK_EQ(st->tcp, 1);
    CHECK_EQ(st->udp, 7);
    CHECK_EQ(st->icmp, 0);
    CHECK_EQ(st->memcap_refused, 0);
    flow_table_free(t);
    CHECK_EQ(log.n, 8);
    CHECK_EQ(log.by_reason[FLOW_END_SHUTDOWN], 8);
}

static void test_orientation(void)
{
    struct flow_config c;
    test_cfg(&c);
    struct endlog log = {0};
    struct flow_table *t = flow_table_new(&c, on_end, &log);
    enum flow_dir d;
    struct lh_addr cl = v4("192.0.2.10"), sv = v4("198.51.100.1");

    /* SYN+ACK first: its receiver is the client */
    struct packet sa = pkt(4, sv, 443, cl, 50000, 6, TCP_SYN | TCP_ACK, T0);
    struct flow *f = look(t, &sa, &d);
    CHECK(f != NULL);
    CHECK_EQ(d, FLOW_TOCLIENT);
    CHECK(memcmp(&f->addr[0], &cl, 16) == 0);
    CHECK_EQ(f->port[0], 50000);
    CHECK_EQ(f->port[1], 443);
    CHECK_EQ(f->pkts[1], 1);
    CHECK_EQ(f->pkts[0], 0);
    CHECK_EQ(f->tcp_state, FLOW_TCP_SYN_RECV);
    CHECK_EQ(f->tcp_seen_syn, 0);
    struct packet ack = pkt(4, cl, 50000, sv, 443, 6, TCP_ACK, T0 + 1);
    CHECK(look(t, &ack, &d) == f);
    CHECK_EQ(d, FLOW_TOSERVER);
    CHECK_EQ(f->tcp_state, FLOW_TCP_ESTABLISHED);

    /* picked up midstream: from a well-known port to an ephemeral one, the
     * sender is the server (a response seen before its request) */
    struct packet mid = pkt(4, sv, 80, cl, 50001, 6, TCP_ACK | TCP_PSH, T0 + 2);
    struct flow *g = look(t, &mid, &d);
    CHECK_EQ(d, FLOW_TOCLIENT);
    CHECK(memcmp(&g->addr[0], &cl, 16) == 0);
    CHECK_EQ(g->port[0], 50001);
    CHECK_EQ(g->port[1], 80);
    struct packet dns = pkt(4, sv, 53, cl, 33333, 17, 0, T0 + 3);
    struct flow *h = look(t, &dns, &d);
    CHECK_EQ(d, FLOW_TOCLIENT);
    CHECK(memcmp(&h->addr[0], &cl, 16) == 0);
    /* any other first packet: its sender is the client */
    struct packet eph = pkt(4, sv, 40000, cl, 50002, 6, TCP_ACK | TCP_PSH, T0 + 4);
    struct flow *k = look(t, &eph, &d);
    CHECK_EQ(d, FLOW_TOSERVER);
    CHECK(memcmp(&k->addr[0], &sv, 16) == 0);
    struct packet low = pkt(4, sv, 80, cl, 443, 6, TCP_ACK, T0 + 5);
    CHECK(look(t, &low, &d) != NULL);
    CHECK_EQ(d, FLOW_TOSERVER);
    flow_table_free(t);
}

static void test_icmp_flows(void)
{
    struct flow_config c;
    test_cfg(&c);
    struct endlog log = {0};
    struct flow_table *t = flow_table_new(&c, on_end, &log);
    enum flow_dir d;
    struct lh_addr h = v4("192.168.1.10"), r = v4("10.0.0.1");

    /* echo request and reply: one flow, the requester is the client */
    struct packet rq = pkt(4, h, 8, r, 0, 1, 0, T0);
    struct packet rp = pkt(4, r, 0, h, 0, 1, 0, T0 + 1);
    struct flow *f = look(t, &rq, &d);
    CHECK_EQ(d, FLOW_TOSERVER);
    CHECK(look(t, &rp, &d) == f);
    CHECK_EQ(d, FLOW_TOCLIENT);
    CHECK_EQ(f->port[0], 8);
    CHECK_EQ(f->port[1], 0);
    /* the value tshark gives these packets (see test_community_id.c) */
    CHECK_STR(f->community_id, "1:fVCaTWibfVUKIrzUQo4zLZoswbQ=");

    /* reply seen first: its receiver asked; same flow shape and ID */
    struct lh_addr h2 = v4("192.168.1.11");
    struct packet rp2 = pkt(4, r, 0, h2, 0, 1, 0, T0 + 2);
    struct flow *g = look(t, &rp2, &d);
    CHECK_EQ(d, FLOW_TOCLIENT);
    CHECK(memcmp(&g->addr[0], &h2, 16) == 0);
    CHECK_EQ(g->port[0], 8);
    struct packet rq2 = pkt(4, h2, 8, r, 0, 1, 0, T0 + 3);
    CHECK(look(t, &rq2, &d) == g);
    CHECK_EQ(d, FLOW_TOSERVER);
    char cid[32];
    flow_community_id(0, 4, 1, &h2, 8, &r, 0, cid);
    CHECK_STR(g->community_id, cid);

    /* a timestamp request is another flow than the echo between them */
    struct packet ts = pkt(4, h, 13, r, 0, 1, 0, T0 + 4);
    struct flow *tsf = look(t, &ts, &d);
    CHECK(tsf != f);
    struct packet tsr = pkt(4, r, 14, h, 0, 1, 0, T0 + 5);
    CHECK(look(t, &tsr, &d) == tsf);
    CHECK_EQ(d, FLOW_TOCLIENT);

    /* one-way types: each direction is its own flow, code is port[1] */
    struct packet un1 = pkt(4, r, 3, h, 3, 1, 0, T0 + 6);
    struct packet un2 = pkt(4, h, 3, r, 3, 1, 0, T0 + 7);
    struct flow *u1 = look(t, &un1, &d);
    CHECK_EQ(d, FLOW_TOSERVER);
    CHECK_EQ(u1->port[0], 3);
    CHECK_EQ(u1->port[1], 3);
    struct flow *u2 = look(t, &un2, &d);
    CHECK(u2 != u1);
    CHECK_EQ(d, FLOW_TOSERVER);
    CHECK(look(t, &un1, &d) == u1);
    CHECK_EQ(u1->pkts[0], 2);
    CHECK_STR(u1->community_id, "1:dtiEyMB75c9b3dUOSUy2ubw3xKQ=");

    /* ICMPv6 echo */
    struct lh_addr a6 = v6("2001:db8::1"), b6 = v6("2001:db8::2");
    struct packet e6 = pkt(6, a6, 128, b6, 0, 58, 0, T0 + 8);
    struct packet e6r = pkt(6, b6, 129, a6, 0, 58, 0, T0 + 9);
    struct flow *f6 = look(t, &e6, &d);
    CHECK(look(t, &e6r, &d) == f6);
    CHECK_EQ(d, FLOW_TOCLIENT);
    CHECK_STR(f6->community_id, "1:u2vMS3HiWth2lIMKHB1fjELshpQ=");

    /* a protocol without ports: ports 0, one flow both ways */
    struct packet gre1 = pkt(4, h, 111, r, 222, 47, 0, T0 + 10);
    struct packet gre2 = pkt(4, r, 333, h, 444, 47, 0, T0 + 11);
    struct flow *gf = look(t, &gre1, &d);
    CHECK(look(t, &gre2, &d) == gf);
    CHECK_EQ(d, FLOW_TOCLIENT);
    CHECK_EQ(gf->port[0], 0);
    CHECK_EQ(gf->port[1], 0);

    const struct flow_stats *st = flow_table_stats(t);
    CHECK_EQ(st->icmp, 6);
    CHECK_EQ(st->other, 1);
    CHECK_EQ(st->active, 7);
    flow_table_free(t);
    CHECK_EQ(log.n, 7);
}

static void test_tcp_states(void)
{
    struct flow_config c;
    test_cfg(&c);
    struct endlog log = {0};
    struct flow_table *t = flow_table_new(&c, on_end, &log);
    enum flow_dir d;
    struct lh_addr a = v4("10.1.1.1"), b = v4("10.2.2.2");
#define TO_S(port, fl, ts) pkt(4, a, port, b, 80, 6, fl, ts)
#define TO_C(port, fl, ts) pkt(4, b, 80, a, port, 6, fl, ts)
    struct packet p;

    p = TO_S(1000, TCP_SYN, T0);
    struct flow *f = look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_SYN_SENT);
    CHECK_EQ(f->tcp_seen_syn, 1);
    p = TO_S(1000, TCP_SYN, T0 + 1); /* retransmitted SYN */
    CHECK(look(t, &p, &d) == f);
    CHECK_EQ(f->tcp_state, FLOW_TCP_SYN_SENT);
    p = TO_C(1000, TCP_SYN | TCP_ACK, T0 + 2);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_SYN_RECV);
    p = TO_S(1000, TCP_ACK, T0 + 3);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_ESTABLISHED);
    p = TO_S(1000, TCP_ACK | TCP_PSH, T0 + 4);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_ESTABLISHED);
    p = TO_S(1000, TCP_FIN | TCP_ACK, T0 + 5);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_FIN_WAIT);
    p = TO_S(1000, TCP_FIN | TCP_ACK, T0 + 6); /* same side again */
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_FIN_WAIT);
    p = TO_C(1000, TCP_FIN | TCP_ACK, T0 + 7);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_CLOSED);
    p = TO_S(1000, TCP_ACK, T0 + 8); /* last ACK keeps it closed */
    CHECK(look(t, &p, &d) == f);
    CHECK_EQ(f->tcp_state, FLOW_TCP_CLOSED);
    uint64_t old_id = f->flow_id;

    /* a new SYN on a closed flow is port reuse: the old flow ends closed */
    p = TO_S(1000, TCP_SYN, T0 + 9);
    struct flow *n = look(t, &p, &d);
    CHECK(n != NULL);
    CHECK(n->flow_id != old_id);
    CHECK_EQ(n->tcp_state, FLOW_TCP_SYN_SENT);
    CHECK_EQ(n->pkts[0], 1);
    CHECK_EQ(log.n, 1);
    CHECK_EQ(log.id[0], old_id);
    CHECK_EQ(log.reason[0], FLOW_END_CLOSED);
    CHECK_EQ(flow_table_stats(t)->closed, 1);

    /* RST closes from any state */
    p = TO_S(2000, TCP_SYN, T0);
    f = look(t, &p, &d);
    p = TO_C(2000, TCP_SYN | TCP_ACK, T0);
    look(t, &p, &d);
    p = TO_S(2000, TCP_ACK, T0);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_ESTABLISHED);
    p = TO_C(2000, TCP_RST, T0 + 1);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_CLOSED);
    p = TO_S(3000, TCP_SYN, T0);
    f = look(t, &p, &d);
    p = TO_C(3000, TCP_RST | TCP_ACK, T0);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_CLOSED);

    /* picked up mid-stream: established once both sides ACK, no SYN seen */
    p = TO_S(4000, TCP_ACK | TCP_PSH, T0);
    f = look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_NONE);
    CHECK_EQ(f->tcp_seen_syn, 0);
    p = TO_S(4000, TCP_ACK, T0 + 1);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_NONE);
    p = TO_C(4000, TCP_ACK, T0 + 2);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_ESTABLISHED);
    p = TO_C(4000, TCP_FIN | TCP_ACK, T0 + 3); /* the server's FIN first */
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_FIN_WAIT);
    p = TO_S(4000, TCP_FIN | TCP_ACK, T0 + 4);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_CLOSED);

    /* SYN+ACK first, then the client's ACK */
    p = TO_C(5000, TCP_SYN | TCP_ACK, T0);
    f = look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_SYN_RECV);
    p = TO_S(5000, TCP_ACK, T0 + 1);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_ESTABLISHED);
    CHECK_EQ(f->tcp_seen_syn, 0);
#undef TO_S
#undef TO_C
    flow_table_free(t);
    CHECK_EQ(log.n, 6);
}

/* Every timeout class, in packet time, with the long-timeout flows created
 * (and so at the old end of the LRU order) before the short ones. */
static void test_timeouts(void)
{
    struct flow_config c;
    test_cfg(&c);
    struct endlog log = {0};
    struct flow_table *t = flow_table_new(&c, on_end, &log);
    const struct flow_stats *st = flow_table_stats(t);
    enum flow_dir d;
    struct lh_addr a = v4("10.1.1.1"), b = v4("10.2.2.2");
    struct packet p;

    /* port[0] tells the flows apart in the log */
    p = pkt(4, a, 600, b, 80, 6, TCP_SYN, T0); /* established: 600 s */
    struct flow *est = look(t, &p, &d);
    est->user = malloc(16);
    p = pkt(4, b, 80, a, 600, 6, TCP_SYN | TCP_ACK, T0);
    look(t, &p, &d);
    p = pkt(4, a, 600, b, 80, 6, TCP_ACK, T0);
    look(t, &p, &d);
    CHECK_EQ(est->tcp_state, FLOW_TCP_ESTABLISHED);
    p = pkt(4, a, 601, b, 80, 6, TCP_ACK, T0); /* FIN_WAIT: 600 s too */
    struct flow *fw = look(t, &p, &d);
    p = pkt(4, b, 80, a, 601, 6, TCP_ACK | TCP_FIN, T0);
    look(t, &p, &d);
    CHECK_EQ(fw->tcp_state, FLOW_TCP_FIN_WAIT);
    p = pkt(4, a, 60, b, 53, 17, 0, T0); /* UDP: 60 s */
    look(t, &p, &d);
    p = pkt(4, a, 8, b, 0, 1, 0, T0); /* ICMP: other, 45 s */
    look(t, &p, &d);
    p = pkt(4, a, 0, b, 0, 47, 0, T0); /* GRE: other, 45 s */
    look(t, &p, &d);
    p = pkt(4, a, 30, b, 80, 6, TCP_SYN, T0); /* new TCP: 30 s */
    look(t, &p, &d);
    p = pkt(4, a, 10, b, 80, 6, TCP_SYN, T0); /* closed: 10 s */
    look(t, &p, &d);
    p = pkt(4, b, 80, a, 10, 6, TCP_RST | TCP_ACK, T0);
    look(t, &p, &d);
    p = pkt(4, a, 31, b, 80, 6, TCP_SYN, T0); /* new TCP, refreshed later */
    struct flow *refreshed = look(t, &p, &d);
    CHECK_EQ(st->active, 8);

    flow_table_expire(t, T0 + 10 * SEC); /* idle exactly the timeout: alive */
    CHECK_EQ(log.n, 0);
    flow_table_expire(t, T0 + 10 * SEC + 1);
    CHECK_EQ(log.n, 1);
    CHECK_EQ(log.port0[0], 10);
    CHECK_EQ(log.reason[0], FLOW_END_CLOSED);
    CHECK_EQ(st->closed, 1);

    p = pkt(4, a, 31, b, 80, 6, TCP_SYN, T0 + 20 * SEC);
    CHECK(look(t, &p, &d) == refreshed);

    flow_table_expire(t, T0 + 30 * SEC);
    CHECK_EQ(log.n, 1);
    flow_table_expire(t, T0 + 30 * SEC + 1);
    CHECK_EQ(log.n, 2);
    CHECK_EQ(log.port0[1], 30);
    CHECK_EQ(log.reason[1], FLOW_END_TIMEOUT);
    CHECK_EQ(log.state[1], FLOW_TCP_SYN_SENT);

    flow_table_expire(t, T0 + 45 * SEC);
    CHECK_EQ(log.n, 2);
    flow_table_expire(t, T0 + 45 * SEC + 1);
    CHECK_EQ(log.n, 4); /* ICMP and GRE, in the order they were last active */
    CHECK_EQ(log.proto[2], 1);
    CHECK_EQ(log.proto[3], 47);

    flow_table_expire(t, T0 + 50 * SEC); /* the refreshed one: 20 + 30 */
    CHECK_EQ(log.n, 4);
    flow_table_expire(t, T0 + 50 * SEC + 1);
    CHECK_EQ(log.n, 5);
    CHECK_EQ(log.port0[4], 31);

    flow_table_expire(t, T0 + 60 * SEC);
    CHECK_EQ(log.n, 5);
    flow_table_expire(t, T0 + 60 * SEC + 1);
    CHECK_EQ(log.n, 6);
    CHECK_EQ(log.port0[5], 60);
    CHECK_EQ(log.proto[5], 17);

    flow_table_expire(t, T0 + 600 * SEC);
    CHECK_EQ(log.n, 6);
    CHECK_EQ(st->active, 2);
    flow_table_expire(t, T0 + 600 * SEC + 1);
    CHECK_EQ(log.n, 8);
    CHECK_EQ(log.port0[6], 600);
    CHECK_EQ(log.port0[7], 601);
    CHECK_EQ(log.reason[6], FLOW_END_TIMEOUT);
    CHECK_EQ(log.reason[7], FLOW_END_TIMEOUT);
    CHECK_EQ(log.user_freed, 1);
    CHECK_EQ(st->active, 0);
    CHECK_EQ(st->timeout, 7);
    CHECK_EQ(st->closed, 1);
    CHECK_EQ(log.by_reason[FLOW_END_TIMEOUT], 7);
    CHECK_EQ(log.by_reason[FLOW_END_CLOSED], 1);

    /* a packet that finds its flow idle past the timeout starts a new one,
     * whether or not expire ran in between */
    p = pkt(4, a, 7000, b, 53, 17, 0, T0 + 1000 * SEC);
    struct flow *u = look(t, &p, &d);
    uint64_t uid = u->flow_id;
    p.ts_us = T0 + 1060 * SEC; /* exactly the timeout: same flow */
    CHECK(look(t, &p, &d) == u);
    p.ts_us = T0 + 1120 * SEC + 1;
    p.pcap_cnt += 2; /* a later packet: the id comes from the new flow's first one */
    struct flow *u2 = look(t, &p, &d);
    CHECK(u2->flow_id != uid);
    CHECK_EQ(u2->pkts[0], 1);
    CHECK_EQ(log.n, 9);
    CHECK_EQ(log.id[8], uid);
    CHECK_EQ(log.reason[8], FLOW_END_TIMEOUT);

    /* packet time stepping back does not move last_ts back */
    p.ts_us = T0 + 1120 * SEC - 5;
    look(t, &p, &d);
    CHECK_EQ(u2->last_ts, T0 + 1120 * SEC + 1);
    CHECK_EQ(u2->pkts[0], 2);
    flow_table_free(t);
}

/* Short-timeout flows end on time while many long-timeout ones stay. */
static void test_expire_mixed(void)
{
    struct flow_config c;
    test_cfg(&c);
    struct endlog log = {0};
    struct flow_table *t = flow_table_new(&c, on_end, &log);
    enum flow_dir d;
    struct lh_addr a = v4("10.1.1.1"), b = v4("10.2.2.2");
    for (unsigned i = 0; i < 2000; i++) {
        struct packet p = pkt(4, a, (uint16_t)(10000 + i), b, 80, 6, TCP_ACK, T0);
        look(t, &p, &d);
        struct packet q = pkt(4, b, 80, a, (uint16_t)(10000 + i), 6, TCP_ACK, T0);
        look(t, &q, &d);
    }
    for (unsigned i = 0; i < 2000; i++) {
        struct packet p = pkt(4, a, (uint16_t)(20000 + i), b, 53, 17, 0, T0 + i);
        look(t, &p, &d);
    }
    /* every 1 ms of packet time: exactly the UDP flows whose time came */
    uint64_t ended = 0;
    for (unsigned i = 0; i < 2000; i += 500) {
        flow_table_expire(t, T0 + 60 * SEC + i + 1);
        ended = log.n;
        CHECK_EQ(ended, i + 1);
    }
    flow_table_expire(t, T0 + 60 * SEC + 2000);
    CHECK_EQ(log.n, 2000);
    CHECK_EQ(flow_table_stats(t)->active, 2000);
    flow_table_free(t);
}

static void test_memcap(void)
{
    struct flow_config c;
    test_cfg(&c);
    c.hash_size = 16;
    c.user_size = 1000;
    enum flow_dir d;
    struct lh_addr a = v4("10.1.1.1"), b = v4("10.2.2.2");

    /* learn the per-flow cost and the bucket array from a roomy table */
    struct flow_table *t = flow_table_new(&c, NULL, NULL);
    uint64_t base = flow_table_stats(t)->memuse;
    CHECK_EQ(base, 16 * sizeof(void *));
    struct packet p = pkt(4, a, 1, b, 80, 6, TCP_SYN, T0);
    look(t, &p, &d);
    uint64_t cost = flow_table_stats(t)->memuse - base;
    CHECK(cost >= sizeof(struct flow) + 1000);
    CHECK(cost <= sizeof(struct flow) + 1000 + 64);
    flow_table_free(t);

    struct endlog log = {0};
    c.memcap = base + 3 * cost;
    t = flow_table_new(&c, on_end, &log);
    const struct flow_stats *st = flow_table_stats(t);
    CHECK_EQ(st->memuse, base);
    struct packet f1 = pkt(4, a, 1, b, 80, 6, TCP_SYN, T0 + 1);
    struct packet f2 = pkt(4, a, 2, b, 53, 17, 0, T0 + 2); /* another LRU list */
    struct packet f3 = pkt(4, a, 3, b, 80, 6, TCP_SYN, T0 + 3);
    look(t, &f1, &d);
    look(t, &f2, &d);
    look(t, &f3, &d);
    CHECK_EQ(st->active, 3);
    CHECK_EQ(st->memuse, base + 3 * cost);
    f1.ts_us = T0 + 4; /* f1 active again: f2 is now the oldest */
    look(t, &f1, &d);
    CHECK_EQ(log.n, 0);

    struct packet f4 = pkt(4, a, 4, b, 80, 6, TCP_SYN, T0 + 5);
    CHECK(look(t, &f4, &d) != NULL);
    CHECK_EQ(log.n, 1);
    CHECK_EQ(log.port0[0], 2);
    CHECK_EQ(log.reason[0], FLOW_END_EVICTED);
    CHECK_EQ(st->evicted, 1);
    struct packet f5 = pkt(4, a, 5, b, 80, 6, TCP_SYN, T0 + 6);
    look(t, &f5, &d);
    CHECK_EQ(log.port0[1], 3);
    struct packet f6 = pkt(4, a, 6, b, 80, 6, TCP_SYN, T0 + 7);
    look(t, &f6, &d);
    CHECK_EQ(log.port0[2], 1);
    CHECK_EQ(log.n, 3);
    CHECK_EQ(log.by_reason[FLOW_END_EVICTED], 3);
    CHECK_EQ(st->evicted, 3);
    CHECK_EQ(st->active, 3);
    CHECK_EQ(st->total, 6);
    CHECK_EQ(st->memuse, base + 3 * cost);
    CHECK_EQ(st->memuse_peak, base + 3 * cost);
    CHECK_EQ(st->memcap_refused, 0);
    /* a live flow is found without eviction */
    f5.ts_us = T0 + 8;
    CHECK(look(t, &f5, &d) != NULL);
    CHECK_EQ(st->evicted, 3);
    flow_table_flush(t);
    CHECK_EQ(st->active, 0);
    CHECK_EQ(st->memuse, base);
    CHECK_EQ(log.n, 6);
    CHECK_EQ(log.by_reason[FLOW_END_SHUTDOWN], 3);
    flow_table_free(t);
    CHECK_EQ(log.n, 6);

    /* a cap below one flow: nothing to evict, every packet refused */
    struct endlog log2 = {0};
    c.memcap = base + cost / 2;
    t = flow_table_new(&c, on_end, &log2);
    st = flow_table_stats(t);
    CHECK(flow_lookup(t, &f1, &d) == NULL);
    CHECK(flow_lookup(t, &f2, &d) == NULL);
    CHECK_EQ(st->memcap_refused, 2);
    CHECK_EQ(st->active, 0);
    CHECK_EQ(st->total, 0);
    CHECK_EQ(st->evicted, 0);
    CHECK_EQ(log2.n, 0);
    flow_table_free(t);

    /* the bucket array never takes more than a quarter of a small cap */
    c.hash_size = 1u << 20;
    c.memcap = 64 * 1024;
    t = flow_table_new(&c, NULL, NULL);
    CHECK(flow_table_stats(t)->memuse <= 16 * 1024);
    CHECK(flow_table_stats(t)->memuse >= 8 * 1024);
    flow_table_free(t);
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static struct packet many_pkt(unsigned i, int reverse, uint64_t ts)
{
    struct lh_addr a, b; /* built by hand: v4() would add a check per packet */
    memset(&a, 0, sizeof(a));
    a.a[10] = a.a[11] = 0xff;
    b = a;
    b.a[12] = 10;
    b.a[13] = 255;
    b.a[15] = 1;
    a.a[12] = 10;
    a.a[13] = (uint8_t)(i >> 16);
    a.a[14] = (uint8_t)(i >> 8);
    a.a[15] = (uint8_t)i;
    uint16_t sp = (uint16_t)(1024 + i % 50000);
    return reverse ? pkt(4, b, 443, a, sp, 6, TCP_ACK, ts) : pkt(4, a, sp, b, 443, 6, TCP_SYN, ts);
}

static void test_many(void)
{
    enum { N = 100000 };
    struct flow_config c;
    test_cfg(&c);
    struct endlog log = {0};
    struct flow_table *t = flow_table_new(&c, on_end, &log);
    const struct flow_stats *st = flow_table_stats(t);
    uint64_t base = st->memuse;
    struct flow **fl = malloc(N * sizeof(*fl));
    uint64_t *ids = malloc(N * sizeof(*ids));
    enum flow_dir d;
    unsigned bad = 0;
    for (unsigned i = 0; i < N; i++) {
        struct packet p = many_pkt(i, 0, T0 + i);
        fl[i] = flow_lookup(t, &p, &d);
        if (!fl[i] || d != FLOW_TOSERVER || fl[i]->flow_id == 0 || fl[i]->pkts[0] != 1) bad++;
        ids[i] = fl[i] ? fl[i]->flow_id : 0;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(st->active, N);
    CHECK_EQ(st->total, N);
    uint64_t cost = (st->memuse - base) / N;
    CHECK_EQ(st->memuse, base + (uint64_t)N * cost);

    /* all found again from the other side */
    for (unsigned i = 0; i < N; i++) {
        struct packet p = many_pkt(i, 1, T0 + N + i);
        struct flow *f = flow_lookup(t, &p, &d);
        if (f != fl[i] || d != FLOW_TOCLIENT || f->pkts[1] != 1) bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(st->total, N);

    /* chains stay short: 100k flows in 65536 buckets */
    uint32_t *load = calloc(65536, sizeof(*load));
    uint32_t maxload = 0;
    for (unsigned i = 0; i < N; i++) {
        uint32_t *l = &load[fl[i]->hash & 65535];
        if (++*l > maxload) maxload = *l;
    }
    CHECK(maxload <= 12);
    free(load);

    /* flow ids unique (and non-zero, checked above) */
    qsort(ids, N, sizeof(*ids), cmp_u64);
    unsigned dup = 0;
    for (unsigned i = 1; i < N; i++)
        dup += ids[i] == ids[i - 1];
    CHECK_EQ(dup, 0);
    CHECK(ids[N - 1] < (UINT64_C(1) << 53));

    flow_table_flush(t);
    CHECK_EQ(log.n, N);
    CHECK_EQ(log.by_reason[FLOW_END_SHUTDOWN], N);
    CHECK_EQ(st->active, 0);
    CHECK_EQ(st->memuse, base);
    CHECK_EQ(st->memuse_peak, base + (uint64_t)N * cost);
    /* flush ends the least recently active first */
    CHECK_EQ(log.port0[0], 1024);
    CHECK_EQ(log.port0[1], 1025);
    flow_table_free(t);
    free(fl);
    free(ids);
}

/* A table started with few buckets doubles them as flows arrive, pays for
 * them in memuse, and still finds every flow. */
static void test_grow(void)
{
    enum { N = 5000 };
    struct flow_config c;
    test_cfg(&c);
    c.hash_size = 16;
    struct flow_table *t = flow_table_new(&c, NULL, NULL);
    const struct flow_stats *st = flow_table_stats(t);
    CHECK_EQ(st->memuse, 16 * sizeof(void *));
    struct flow **fl = malloc(N * sizeof(*fl));
    enum flow_dir d;
    struct packet p0 = many_pkt(0, 0, T0);
    fl[0] = flow_lookup(t, &p0, &d);
    uint64_t cost = st->memuse - 16 * sizeof(void *);
    for (unsigned i = 1; i < N; i++) {
        struct packet p = many_pkt(i, 0, T0 + i);
        fl[i] = flow_lookup(t, &p, &d);
    }
    uint64_t nb = (st->memuse - (uint64_t)N * cost) / sizeof(void *);
    CHECK_EQ(nb, 4096); /* the first power of two with N <= 2 * buckets */
    CHECK_EQ(st->memuse_peak, st->memuse);
    unsigned bad = 0;
    for (unsigned i = 0; i < N; i++) {
        struct packet p = many_pkt(i, 1, T0 + N + i);
        if (flow_lookup(t, &p, &d) != fl[i] || d != FLOW_TOCLIENT) bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(st->total, N);
    uint32_t *load = calloc(nb, sizeof(*load));
    uint32_t maxload = 0;
    for (unsigned i = 0; i < N; i++) {
        uint32_t *l = &load[fl[i]->hash & (nb - 1)];
        if (++*l > maxload) maxload = *l;
    }
    CHECK(maxload <= 10);
    free(load);
    free(fl);
    flow_table_free(t);

    /* growing stays under the cap; once at the cap the buckets stay as they
     * are and new flows evict old ones */
    c.memcap = 16 * sizeof(void *) + 100 * cost;
    t = flow_table_new(&c, NULL, NULL);
    st = flow_table_stats(t);
    uint64_t bucket_bytes = 0;
    for (unsigned i = 0; i < 300; i++) {
        struct packet p = many_pkt(i, 0, T0 + i);
        CHECK(flow_lookup(t, &p, &d) != NULL);
        CHECK(st->memuse <= c.memcap);
        if (i == 200) bucket_bytes = st->memuse - st->active * cost;
    }
    nb = (st->memuse - st->active * cost) / sizeof(void *);
    CHECK_EQ(nb * sizeof(void *), bucket_bytes);
    CHECK_EQ(nb & (nb - 1), 0);
    CHECK(nb > 16);
    CHECK(st->active >= 90);
    CHECK_EQ(st->active + st->evicted, 300);
    CHECK_EQ(st->memcap_refused, 0);
    flow_table_free(t);
}

/* Replays give the same ids and end order whatever the hash seed. */
static void test_determinism(void)
{
    struct flow_config c1, c2;
    test_cfg(&c1);
    test_cfg(&c2);
    c2.seed[0] = c2.seed[1] = 0; /* random */
    c1.hash_size = c2.hash_size = 64;
    c1.memcap = c2.memcap = 64 * 1024; /* forces evictions */
    struct endlog l1 = {0}, l2 = {0};
    struct flow_table *t1 = flow_table_new(&c1, on_end, &l1);
    struct flow_table *t2 = flow_table_new(&c2, on_end, &l2);
    enum flow_dir d1, d2;
    unsigned diff = 0;
    for (unsigned i = 0; i < 3000; i++) {
        unsigned k = (i * 7919u) % 1000;
        struct packet p = many_pkt(k, (int)(i & 1), T0 + i * SEC / 10);
        struct flow *f1 = flow_lookup(t1, &p, &d1);
        struct flow *f2 = flow_lookup(t2, &p, &d2);
        if (!f1 || !f2 || f1->flow_id != f2->flow_id || d1 != d2 ||
            strcmp(f1->community_id, f2->community_id) != 0)
            diff++;
        if (i % 100 == 99) {
            flow_table_expire(t1, p.ts_us);
            flow_table_expire(t2, p.ts_us);
        }
    }
    CHECK_EQ(diff, 0);
    CHECK(flow_table_stats(t1)->evicted > 0);
    CHECK_EQ(flow_table_stats(t1)->evicted, flow_table_stats(t2)->evicted);
    flow_table_flush(t1);
    flow_table_flush(t2);
    CHECK_EQ(l1.n, l2.n);
    CHECK(memcmp(l1.id, l2.id, sizeof(l1.id)) == 0);
    CHECK(memcmp(l1.reason, l2.reason, sizeof(l1.reason)) == 0);
    flow_table_free(t1);
    flow_table_free(t2);
}

/* flow_id comes from the first packet's pcap_cnt, not from the table: two
 * tables (two worker threads) that see different subsets of a capture, in
 * different orders, give a flow the same id. */
static void test_flow_id_source(void)
{
    struct flow_config c1, c2;
    test_cfg(&c1);
    test_cfg(&c2);
    c2.seed[0] = c2.seed[1] = 0; /* random: the seed plays no part */
    struct endlog l1 = {0}, l2 = {0};
    struct flow_table *t1 = flow_table_new(&c1, on_end, &l1);
    struct flow_table *t2 = flow_table_new(&c2, on_end, &l2);
    enum flow_dir d;
    struct packet a = many_pkt(1, 0, T0), b = many_pkt(2, 0, T0 + 1), x = many_pkt(3, 0, T0 + 2);
    a.pcap_cnt = 10;
    b.pcap_cnt = 20;
    x.pcap_cnt = 5;
    /* t1 sees a then b; t2 sees x, b, a */
    struct flow *a1 = look(t1, &a, &d), *b1 = look(t1, &b, &d);
    struct flow *x2 = look(t2, &x, &d), *b2 = look(t2, &b, &d), *a2 = look(t2, &a, &d);
    CHECK(a1 && b1 && x2 && b2 && a2);
    CHECK_EQ(a1->flow_id, a2->flow_id);
    CHECK_EQ(b1->flow_id, b2->flow_id);
    CHECK(a1->flow_id != b1->flow_id && a1->flow_id != x2->flow_id && b1->flow_id != x2->flow_id);
    CHECK(a1->flow_id != 0 && b1->flow_id != 0 && x2->flow_id != 0);
    CHECK(a1->flow_id < (UINT64_C(1) << 53) && b1->flow_id < (UINT64_C(1) << 53));
    /* later packets of the flow keep its id */
    struct packet a_back = many_pkt(1, 1, T0 + 3);
    a_back.pcap_cnt = 11;
    CHECK(look(t1, &a_back, &d) == a1);
    CHECK_EQ(d, FLOW_TOCLIENT);
    CHECK_EQ(a1->flow_id, a2->flow_id);
    /* consecutive counts do not give neighbouring ids (the mix spreads them) */
    struct packet y = many_pkt(4, 0, T0 + 4);
    y.pcap_cnt = 11;
    struct flow *y2 = look(t2, &y, &d);
    CHECK(y2 && y2->flow_id != a1->flow_id && y2->flow_id != a1->flow_id + 1);
    /* packets without a pcap_cnt (built by hand): still unique and non-zero */
    struct packet h1 = many_pkt(5, 0, T0 + 5), h2 = many_pkt(6, 0, T0 + 6);
    h1.pcap_cnt = h2.pcap_cnt = 0;
    struct flow *f1 = look(t1, &h1, &d), *f2 = look(t1, &h2, &d);
    CHECK(f1 && f2 && f1->flow_id != 0 && f2->flow_id != 0 && f1->flow_id != f2->flow_id);
    CHECK(f1->flow_id != a1->flow_id && f1->flow_id != b1->flow_id);
    CHECK(f1->flow_id < (UINT64_C(1) << 53));
    flow_table_free(t1);
    flow_table_free(t2);
}

/* Keys that differ only in a port spread over the buckets, the hash is
 * keyed (another seed, other values), and a fixed seed repeats itself. */
static void test_collisions(void)
{
    enum { N = 4096 };
    struct flow_config c;
    test_cfg(&c);
    c.hash_size = N;
    struct flow_table *t = flow_table_new(&c, NULL, NULL);
    struct flow_table *same = flow_table_new(&c, NULL, NULL);
    c.seed[0] ^= 1;
    struct flow_table *other = flow_table_new(&c, NULL, NULL);
    struct lh_addr a = v4("10.9.9.9"), b = v4("10.8.8.8");
    uint32_t *load = calloc(N, sizeof(*load));
    uint64_t *h = malloc(N * sizeof(*h));
    uint32_t maxload = 0;
    unsigned same_diff = 0, other_same = 0;
    enum flow_dir d;
    for (unsigned i = 0; i < N; i++) {
        struct packet p = pkt(4, a, (uint16_t)i, b, 80, 6, TCP_SYN, T0);
        struct flow *f = flow_lookup(t, &p, &d);
        struct flow *fs = flow_lookup(same, &p, &d);
        struct flow *fo = flow_lookup(other, &p, &d);
        h[i] = f->hash;
        same_diff += fs->hash != f->hash;
        other_same += fo->hash == f->hash;
        uint32_t *l = &load[f->hash & (N - 1)];
        if (++*l > maxload) maxload = *l;
    }
    CHECK(maxload <= 10);
    CHECK_EQ(same_diff, 0);
    CHECK_EQ(other_same, 0);
    unsigned used = 0;
    for (unsigned i = 0; i < N; i++)
        used += load[i] != 0;
    CHECK(used > N / 2); /* about 1 - 1/e of the buckets for a uniform hash */
    qsort(h, N, sizeof(*h), cmp_u64);
    unsigned dup = 0;
    for (unsigned i = 1; i < N; i++)
        dup += h[i] == h[i - 1];
    CHECK_EQ(dup, 0);
    /* both directions hash alike */
    struct packet fw = pkt(4, a, 7, b, 80, 6, TCP_SYN, T0);
    struct packet bw = pkt(4, b, 80, a, 7, 6, TCP_ACK, T0);
    CHECK(flow_lookup(t, &fw, &d) == flow_lookup(t, &bw, &d));
    CHECK_EQ(flow_table_stats(t)->active, N);
    free(load);
    free(h);
    flow_table_free(t);
    flow_table_free(same);
    flow_table_free(other);
}

/* A RST the stream did not believe: the flow goes back to its state and its
 * timeout, so a forged RST and a pause do not end the flow at the closed
 * timeout. */
static void test_rst_rejected(void)
{
    struct flow_config c;
    test_cfg(&c);
    struct endlog log = {0};
    struct flow_table *t = flow_table_new(&c, on_end, &log);
    enum flow_dir d;
    struct lh_addr a = v4("10.1.1.1"), b = v4("10.2.2.2");
    struct packet p = pkt(4, a, 2000, b, 80, 6, TCP_SYN, T0);
    struct flow *f = look(t, &p, &d);
    p = pkt(4, b, 80, a, 2000, 6, TCP_SYN | TCP_ACK, T0 + 1);
    look(t, &p, &d);
    p = pkt(4, a, 2000, b, 80, 6, TCP_ACK, T0 + 2);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_ESTABLISHED);
    p = pkt(4, b, 80, a, 2000, 6, TCP_RST, T0 + 3);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_CLOSED);
    flow_rst_rejected(t, f);
    CHECK_EQ(f->tcp_state, FLOW_TCP_ESTABLISHED);
    /* past the closed timeout (10 s) but within the established one: alive */
    flow_table_expire(t, T0 + 3 + 15 * SEC);
    CHECK_EQ(log.n, 0);
    CHECK_EQ(flow_table_stats(t)->active, 1);
    /* a believed RST closes it for good, and then it ends at the closed timeout */
    p = pkt(4, b, 80, a, 2000, 6, TCP_RST, T0 + 16 * SEC);
    look(t, &p, &d);
    CHECK_EQ(f->tcp_state, FLOW_TCP_CLOSED);
    flow_table_expire(t, T0 + 16 * SEC + 11 * SEC);
    CHECK_EQ(log.n, 1);
    flow_table_free(t);
}

/* What an owner charges after a flow is made (flow_table_charge) counts
 * against the cap: the next new flow evicts until it fits again, and the
 * bytes given back by the end callback leave memuse where it began. */
struct chargelog {
    struct flow_table *t;
    uint64_t ended, given_back;
};

static void on_end_charged(struct flow *f, void *ud)
{
    struct chargelog *cl = ud;
    cl->ended++;
    if (f->user) { /* the bytes this flow was charged, stored in user */
        uint64_t n = (uint64_t)(uintptr_t)f->user;
        flow_table_charge(cl->t, -(int64_t)n);
        cl->given_back += n;
        f->user = NULL;
    }
}

static void test_charge(void)
{
    struct flow_config c;
    test_cfg(&c);
    c.hash_size = 16;
    c.user_size = 1000;
    enum flow_dir d;
    struct lh_addr a = v4("10.1.1.1"), b = v4("10.2.2.2");
    struct flow_table *t = flow_table_new(&c, NULL, NULL);
    uint64_t base = flow_table_stats(t)->memuse;
    struct packet p = pkt(4, a, 1, b, 80, 6, TCP_SYN, T0);
    look(t, &p, &d);
    uint64_t cost = flow_table_stats(t)->memuse - base;
    flow_table_free(t);

    struct chargelog cl = {0};
    c.memcap = base + 3 * cost;
    t = cl.t = flow_table_new(&c, on_end_charged, &cl);
    const struct flow_stats *st = flow_table_stats(t);
    struct packet f1 = pkt(4, a, 1, b, 80, 6, TCP_SYN, T0 + 1);
    struct packet f2 = pkt(4, a, 2, b, 80, 6, TCP_SYN, T0 + 2);
    struct packet f3 = pkt(4, a, 3, b, 80, 6, TCP_SYN, T0 + 3);
    look(t, &f1, &d);
    look(t, &f2, &d);
    struct flow *g = look(t, &f3, &d);
    CHECK(g != NULL);
    /* f3 grows by one flow's cost: the table is over its cap, never refused */
    flow_table_charge(t, (int64_t)cost);
    g->user = (void *)(uintptr_t)cost;
    CHECK_EQ(st->memuse, base + 4 * cost);
    CHECK_EQ(st->memuse_peak, base + 4 * cost);
    CHECK_EQ(st->active, 3);
    CHECK_EQ(cl.ended, 0);
    /* the next flow evicts the two oldest to fit under the cap again */
    struct packet f4 = pkt(4, a, 4, b, 80, 6, TCP_SYN, T0 + 4);
    CHECK(look(t, &f4, &d) != NULL);
    CHECK_EQ(st->evicted, 2);
    CHECK_EQ(st->active, 2);
    CHECK_EQ(st->memuse, base + 3 * cost);
    CHECK(st->memuse <= c.memcap);
    CHECK_EQ(st->memcap_refused, 0);
    /* giving back part of it while alive */
    flow_table_charge(t, -(int64_t)(cost / 2));
    g->user = (void *)(uintptr_t)(cost - cost / 2);
    CHECK_EQ(st->memuse, base + 3 * cost - cost / 2);
    flow_table_flush(t);
    CHECK_EQ(cl.ended, 4);
    CHECK_EQ(cl.given_back, cost - cost / 2);
    CHECK_EQ(st->memuse, base);
    CHECK_EQ(st->memuse_peak, base + 4 * cost);
    flow_table_free(t);
}

int main(void)
{
    test_rst_rejected();
    test_defaults_and_names();
    test_symmetry();
    test_orientation();
    test_icmp_flows();
    test_tcp_states();
    test_timeouts();
    test_expire_mixed();
    test_memcap();
    test_charge();
    test_many();
    test_grow();
    test_determinism();
    test_flow_id_source();
    test_collisions();
    return check_done();
}
