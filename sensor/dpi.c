/* dpi.c - nDPI 4.2 glue (the only file that includes nDPI's headers).
 *
 * nDPI reads the IP datagram of each packet of a flow until it names the
 * protocol. We feed at most DPI_MAX_PACKETS packets per flow, then give up
 * (nDPI's guess by port), and free nDPI's flow state as soon as the flow is
 * decided: it is a few KiB and the flow table may hold millions of flows.
 * For the same reason nDPI's state is not made for packets without payload
 * (a TCP handshake, a SYN flood): their datagrams are held, at most
 * DPI_HOLD_MAX bytes a flow, and handed to nDPI in order, each with its own
 * time, just before the first packet with payload (or the one that would
 * pass the hold, or the flow's end). nDPI sees the same packets in the same
 * order as it would have one by one; only other flows' packets may come in
 * between differently, which its per-flow state does not see.
 *
 * nDPI is fed packet time in ms, never the wall clock. Its own Community ID
 * is not used (see flow.h): it hard-codes seed 0 and misorders ports when
 * both addresses are equal. */
#include "sensor/dpi.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#define DPI_MAX_PACKETS 32
#define DPI_HOLD_MAX 256 /* held bytes per flow, heads included */
#define HOLD_HEAD 10     /* per held packet: ts_us (8), datagram length (2) */

struct dpi {
    struct ndpi_detection_module_struct *mod;
    struct dpi_stats st;
};

struct dpi_flow {
    struct ndpi_flow_struct *nf; /* NULL while the flow's packets are only held */
    uint32_t packets;
    uint16_t held_len, held_cap;
    uint8_t held[]; /* packets not yet given to nDPI: HOLD_HEAD, then the datagram */
};

struct dpi *dpi_new(char *err, size_t errlen)
{
    struct dpi *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->mod = ndpi_init_detection_module(ndpi_no_prefs);
    if (!d->mod) {
        snprintf(err, errlen, "nDPI: cannot initialise the detection module");
        free(d);
        return NULL;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(d->mod, &all);
    ndpi_finalize_initialization(d->mod);
    return d;
}

void dpi_free(struct dpi *d)
{
    if (!d)
        return;
    ndpi_exit_detection_module(d->mod);
    free(d);
}

const struct dpi_stats *dpi_get_stats(const struct dpi *d)
{
    return &d->st;
}

size_t dpi_flow_size(const struct dpi_flow *f)
{
    if (!f)
        return 0;
    size_t n = sizeof(*f) + f->held_cap;
    if (f->nf) {
        n += ndpi_detection_get_sizeof_ndpi_flow_struct();
        /* the TLS dissector's record buffer, 2 KiB on any TCP flow it saw */
        if (f->nf->l4_proto == 6 && f->nf->l4.tcp.tls.message.buffer)
            n += f->nf->l4.tcp.tls.message.buffer_len;
    }
    return n;
}

static void lower_copy(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < n; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = 0;
}

/* Host names from the wire go into JSON later: keep printable ASCII only. */
static void host_copy(char *dst, size_t n, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src[i] && j + 1 < n; i++)
        if (src[i] > 0x20 && src[i] < 0x7f)
            dst[j++] = src[i];
    dst[j] = 0;
}

static void set_result(struct dpi *d, struct ndpi_flow_struct *nf, ndpi_protocol p,
                       struct dpi_result *res)
{
    uint16_t main_proto = p.master_protocol ? p.master_protocol : p.app_protocol;
    if (main_proto != NDPI_PROTOCOL_UNKNOWN)
        lower_copy(res->app_proto, sizeof(res->app_proto), ndpi_get_proto_name(d->mod, main_proto));
    else
        res->app_proto[0] = 0;
    ndpi_protocol2name(d->mod, p, res->ndpi_proto, sizeof(res->ndpi_proto));
    snprintf(res->category, sizeof(res->category), "%s", ndpi_category_get_name(d->mod, p.category));
    if (nf->host_server_name[0])
        host_copy(res->host, sizeof(res->host), nf->host_server_name);
    res->encrypted = ndpi_is_encrypted_proto(d->mod, p) ? 1 : 0;
}

static void release(struct dpi_flow **fp)
{
    if (!*fp)
        return;
    if ((*fp)->nf)
        ndpi_free_flow((*fp)->nf);
    free(*fp);
    *fp = NULL;
}

/* One packet to nDPI; *fp has nDPI's state. Frees *fp once decided. */
static void feed(struct dpi *d, struct dpi_flow **fp, struct dpi_result *res, const uint8_t *l3,
                 uint32_t len, uint64_t ts_us)
{
    struct dpi_flow *f = *fp;
    if (len > 0xffff)
        len = 0xffff;
    ndpi_protocol p =
        ndpi_detection_process_packet(d->mod, f->nf, l3, (unsigned short)len, ts_us / 1000);
    f->packets++;
    int detected = p.app_protocol != NDPI_PROTOCOL_UNKNOWN ||
                   p.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    if (detected) {
        set_result(d, f->nf, p, res);
        if (!ndpi_extra_dissection_possible(d->mod, f->nf) || f->packets >= DPI_MAX_PACKETS) {
            res->done = 1;
            d->st.classified++;
            release(fp);
        }
    } else if (f->packets >= DPI_MAX_PACKETS) {
        dpi_flow_end(d, fp, res);
    }
}

/* Makes nDPI's state for the flow (and *fp when NULL) and feeds it the
 * packets held so far. Returns 1 when the next packet can be fed, 0 when
 * the flow is decided or out of memory (then *fp is NULL). */
static int start(struct dpi *d, struct dpi_flow **fp, struct dpi_result *res)
{
    struct dpi_flow *f = *fp;
    uint8_t held[DPI_HOLD_MAX];
    size_t n = 0;
    if (f) {
        n = f->held_len;
        memcpy(held, f->held, n);
        f->held_len = 0;
        struct dpi_flow *g = realloc(f, sizeof(*f)); /* the held bytes are copied out */
        if (g) {
            *fp = f = g;
            f->held_cap = 0;
        }
    } else {
        if (!(f = calloc(1, sizeof(*f)))) {
            d->st.alloc_failed++;
            res->done = 1;
            return 0;
        }
        d->st.flows++;
        *fp = f;
    }
    if (!(f->nf = calloc(1, ndpi_detection_get_sizeof_ndpi_flow_struct()))) {
        d->st.alloc_failed++;
        res->done = 1;
        release(fp);
        return 0;
    }
    for (size_t o = 0; o < n && *fp;) {
        uint64_t ts;
        uint16_t len;
        memcpy(&ts, held + o, 8);
        memcpy(&len, held + o + 8, 2);
        feed(d, fp, res, held + o + HOLD_HEAD, len, ts);
        o += HOLD_HEAD + (size_t)len;
    }
    return *fp != NULL;
}

void dpi_packet(struct dpi *d, struct dpi_flow **fp, struct dpi_result *res, const uint8_t *l3,
                uint32_t len, uint64_t ts_us, int to_server)
{
    (void)to_server;
    if (res->done)
        return;
    if ((!*fp || !(*fp)->nf) && !start(d, fp, res))
        return;
    feed(d, fp, res, l3, len, ts_us);
}

void dpi_packet_empty(struct dpi *d, struct dpi_flow **fp, struct dpi_result *res,
                      const uint8_t *l3, uint32_t len, uint64_t ts_us, int to_server)
{
    struct dpi_flow *f = *fp;
    if (res->done)
        return;
    size_t need = (f ? f->held_len : 0) + HOLD_HEAD + (size_t)len;
    if ((f && f->nf) || need > DPI_HOLD_MAX) {
        dpi_packet(d, fp, res, l3, len, ts_us, to_server);
        return;
    }
    if (!f || f->held_cap < need) {
        size_t cap = (need + 63) & ~(size_t)63;
        if (cap > DPI_HOLD_MAX)
            cap = DPI_HOLD_MAX;
        struct dpi_flow *g = realloc(f, sizeof(*g) + cap);
        if (!g) { /* no room to hold it: nDPI takes it now (or counts the failure) */
            dpi_packet(d, fp, res, l3, len, ts_us, to_server);
            return;
        }
        if (!f) {
            memset(g, 0, sizeof(*g));
            d->st.flows++;
        }
        g->held_cap = (uint16_t)cap;
        *fp = f = g;
    }
    uint16_t l = (uint16_t)len;
    memcpy(f->held + f->held_len, &ts_us, 8);
    memcpy(f->held + f->held_len + 8, &l, 2);
    memcpy(f->held + f->held_len + HOLD_HEAD, l3, len);
    f->held_len = (uint16_t)(f->held_len + HOLD_HEAD + len);
}

void dpi_flow_end(struct dpi *d, struct dpi_flow **fp, struct dpi_result *res)
{
    if (!*fp || (!(*fp)->nf && !start(d, fp, res)))
        return;
    if (!res->done) {
        uint8_t guessed = 0;
        ndpi_protocol p = ndpi_detection_giveup(d->mod, (*fp)->nf, 1, &guessed);
        set_result(d, (*fp)->nf, p, res);
        res->done = 1;
        if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN && p.master_protocol == NDPI_PROTOCOL_UNKNOWN)
            d->st.given_up++;
        else
            d->st.classified++;
    }
    release(fp);
}
