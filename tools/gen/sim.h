/* sim.h - the simulation: a time-ordered heap of actors (accounts,
 * scenarios, background) and the clients they drive against the waybill
 * system.
 *
 * Interleaving is per exchange: an actor writes one whole exchange (a
 * request and its response, or a pipelined batch) at its wake time, then
 * says when it wakes next. The capture clock never goes back (pkt_at), so
 * packets stay in time order while hundreds of connections interleave.
 *
 * Ownership: sim_new() takes the world, writer and truth by reference (the
 * caller frees them after sim_free()). */
#ifndef LH_GEN_SIM_H
#define LH_GEN_SIM_H

#include <stdint.h>

#include "buf.h"
#include "data.h"
#include "http.h"
#include "pkt.h"
#include "truth.h"
#include "world.h"

enum { ID_HEADER, ID_JWT, ID_BASIC, ID_COOKIE, ID_N };
extern const char *const sim_identity_name[ID_N];

typedef struct {
    int identity;
    char id_header[64];
    double gzip, deflate, chunked; /* shares of API responses */
    double pipeline;               /* share of lookups sent pipelined */
    double rst;                    /* share of connections ending in RST */
    double background;             /* share of file bytes */
    double scope_leak;             /* outlet accounts' share of other regions' records */
    int keepalive_s;
    uint32_t wpool; /* waybills per city */
    data_opts dopt;
} sim_cfg;

/* One API request. */
typedef struct {
    int ep;      /* EP_* */
    char wb[24]; /* waybill number for lookups */
    int city;    /* records' city (search, lookup, export) */
    int page, size;
    uint64_t qid; /* search identity: same qid and page, same records */
    double found; /* lookups: chance the number exists */
    double mix;   /* share of records from other cities */
} sim_q;

typedef struct {
    int acct, scen;
    pkt_addr ip;
    uint8_t ttl;
    const char *ua;
    uint16_t port;
    pkt_tcp conn;
    int flow;
    int64_t login_day;
    char session[40];
    char token[512];
    uint64_t next, close_at;
    rng_t rng;
    sim_q pend;     /* a search whose further pages are still to come */
    int pend_pages; /* each page is its own wake: actors never sleep inside a step */
} sim_client;

typedef struct sim sim;

struct sim {
    sim_cfg cfg;
    uint64_t seed, start, end, bytes_target;
    world *w;
    pkt_writer *pw;
    truth *tr;
    http_ctx *http;
    pkt_addr srv4, srv6;
    uint16_t srv_port;
    const char *host;
    buf_t req, resp, body, tmp;
    sim_client *cl; /* one per account (its own workstation) */
    struct scen_set *scen;
    struct bg *bg;
    /* actor heap */
    struct sim_ev {
        uint64_t t;
        uint32_t id;
    } * heap;
    int nheap, capheap;
};

sim *sim_new(const sim_cfg *cfg, uint64_t seed, uint64_t start, uint64_t end, uint64_t bytes_target,
             world *w, pkt_writer *pw, truth *tr);
void sim_free(sim *s);
/* Runs to the end time (or byte target), then closes every connection. */
void sim_run(sim *s);

/* Client helpers for actors. */
void sim_client_init(sim *s, sim_client *c, int acct, int scen, const pkt_addr *ip, uint8_t ttl,
                     const char *ua, uint64_t stream);
/* Performs n requests (pipelined when n > 1) and their responses now. */
void sim_api(sim *s, sim_client *c, sim_q *q, int n);
/* After an exchange: plan the next wake at next (closing the idle
 * connection in between when next is beyond keep-alive); returns the wake
 * time. */
uint64_t sim_plan(sim *s, sim_client *c, uint64_t next);
/* At a wake: if the planned idle close is due, writes it and returns 1
 * (the actor then sleeps until c->next). */
int sim_due_close(sim *s, sim_client *c, uint64_t t);
void sim_client_close(sim *s, sim_client *c);
/* A waybill number of city (serial in the city's pool). */
void sim_waybill(const sim *s, int city, uint64_t serial, char *out);

#endif
