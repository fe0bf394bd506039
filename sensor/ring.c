/* ring.c - bounded SPSC ring of variable-size records, and a futex wake-up.
 *
 * head and tail count bytes ever written and read (they never wrap in
 * practice: 2^64 bytes); the position in the buffer is count & mask. Each
 * end keeps a private copy of the other end's counter and rereads the shared
 * one only when its copy says full (producer) or empty (consumer), so the
 * cache line of the other end is touched once per batch, not per record.
 * The two counters live on separate cache lines from each other and from
 * the read-mostly fields. */
#include "sensor/ring.h"

#include <assert.h>
#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HDR 8u
#define PAD_FLAG 1u
#define HUGE_PAGE (2u << 20)

struct rec_hdr {
    uint32_t len;   /* payload bytes (for padding: bytes skipped after the header) */
    uint32_t flags;
};

struct ring {
    /* read-mostly */
    uint8_t *buf;
    uint64_t cap, mask;
    /* shared counters */
    _Alignas(64) uint64_t head; /* written by the producer */
    _Alignas(64) uint64_t tail; /* written by the consumer */
    /* producer's own */
    _Alignas(64) uint64_t p_head;  /* where the reservation starts */
    uint64_t p_tail;               /* last tail seen */
    uint64_t p_pub;                /* head as last published */
    uint32_t p_len;                /* reserved payload bytes */
    /* consumer's own */
    _Alignas(64) uint64_t c_tail;  /* where the peeked record starts */
    uint64_t c_head;               /* last head seen */
    uint32_t c_len;
};

static uint64_t rec_size(uint32_t len)
{
    return HDR + (((uint64_t)len + 7u) & ~UINT64_C(7));
}

struct ring *ring_new(size_t bytes)
{
    uint64_t cap = 65536;
    while (cap < bytes)
        cap <<= 1;
    struct ring *r = aligned_alloc(64, sizeof(*r));
    if (!r)
        return NULL;
    memset(r, 0, sizeof(*r));
    /* a ring is streamed through end to end: in 2 MiB pages where the
     * kernel has them (transparent huge pages, "madvise" mode), it costs
     * a few page faults and TLB entries instead of one per 4 KiB */
    void *b;
    if (posix_memalign(&b, cap >= HUGE_PAGE ? HUGE_PAGE : 64, cap) != 0) {
        free(r);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    if (cap >= HUGE_PAGE)
        (void)madvise(b, cap, MADV_HUGEPAGE); /* a hint: without it, small pages */
#endif
    r->buf = b;
    r->cap = cap;
    r->mask = cap - 1;
    return r;
}

void ring_free(struct ring *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}

size_t ring_max_record(const struct ring *r)
{
    /* at most a quarter: a wrap never has to wait for more than the whole */
    return (size_t)(r->cap / 4);
}

/* Space the producer may fill now, rereading tail only when needed. */
static int has_space(struct ring *r, uint64_t need)
{
    if (r->cap - (r->p_head - r->p_tail) >= need)
        return 1;
    r->p_tail = __atomic_load_n(&r->tail, __ATOMIC_SEQ_CST);
    return r->cap - (r->p_head - r->p_tail) >= need;
}

void *ring_reserve(struct ring *r, uint32_t len)
{
    assert(len <= ring_max_record(r));
    uint64_t need = rec_size(len);
    uint64_t off = r->p_head & r->mask;
    if (off + need > r->cap) {
        /* pad to the end and publish the pad on its own, so the record then
         * needs only its own size at offset 0 */
        uint64_t pad = r->cap - off;
        if (!has_space(r, pad))
            return NULL;
        struct rec_hdr h = {(uint32_t)(pad - HDR), PAD_FLAG};
        memcpy(r->buf + off, &h, sizeof(h));
        r->p_head += pad; /* published with the record */
        off = 0;
    }
    if (!has_space(r, need))
        return NULL;
    r->p_len = len;
    return r->buf + off + HDR;
}

void ring_commit_quiet(struct ring *r)
{
    struct rec_hdr h = {r->p_len, 0};
    memcpy(r->buf + (r->p_head & r->mask), &h, sizeof(h));
    r->p_head += rec_size(r->p_len);
}

void ring_publish(struct ring *r)
{
    if (r->p_pub == r->p_head)
        return;
    r->p_pub = r->p_head;
    /* seq_cst: pairs with the event protocol (a sleeper rechecks after
     * announcing itself) */
    __atomic_store_n(&r->head, r->p_head, __ATOMIC_SEQ_CST);
}

void ring_commit(struct ring *r)
{
    ring_commit_quiet(r);
    ring_publish(r);
}

const void *ring_peek(struct ring *r, uint32_t *len)
{
    for (;;) {
        if (r->c_tail == r->c_head) {
            r->c_head = __atomic_load_n(&r->head, __ATOMIC_SEQ_CST);
            if (r->c_tail == r->c_head)
                return NULL;
        }
        struct rec_hdr h;
        uint64_t off = r->c_tail & r->mask;
        memcpy(&h, r->buf + off, sizeof(h));
        if (h.flags & PAD_FLAG) {
            r->c_tail += HDR + h.len;
            __atomic_store_n(&r->tail, r->c_tail, __ATOMIC_SEQ_CST);
            continue;
        }
        r->c_len = h.len;
        *len = h.len;
        return r->buf + off + HDR;
    }
}

void ring_release(struct ring *r)
{
    r->c_tail += rec_size(r->c_len);
    __atomic_store_n(&r->tail, r->c_tail, __ATOMIC_SEQ_CST);
}

int ring_empty(struct ring *r)
{
    return r->c_tail == __atomic_load_n(&r->head, __ATOMIC_SEQ_CST);
}

size_t ring_used(struct ring *r)
{
    return (size_t)(__atomic_load_n(&r->head, __ATOMIC_SEQ_CST) - r->c_tail);
}

size_t ring_backlog(struct ring *r)
{
    return (size_t)(r->p_head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE));
}

size_t ring_capacity(const struct ring *r)
{
    return (size_t)r->cap;
}

/* ---- wake-up event --------------------------------------------------------- */

void ring_event_init(struct ring_event *e)
{
    e->seq = 0;
    e->waiting = 0;
}

static uint32_t armed_seq(struct ring_event *e)
{
    return __atomic_load_n(&e->seq, __ATOMIC_SEQ_CST);
}

/* The sleeper's snapshot of seq, taken in prepare: one sleeper per event. */
static _Thread_local uint32_t t_armed;

void ring_event_prepare(struct ring_event *e)
{
    __atomic_store_n(&e->waiting, 1, __ATOMIC_SEQ_CST);
    t_armed = armed_seq(e);
}

void ring_event_sleep(struct ring_event *e, uint32_t timeout_us)
{
    struct timespec ts = {timeout_us / 1000000u, (long)(timeout_us % 1000000u) * 1000};
    /* returns at once if a signal bumped seq since prepare */
    syscall(SYS_futex, &e->seq, FUTEX_WAIT_PRIVATE, t_armed, &ts, NULL, 0);
    __atomic_store_n(&e->waiting, 0, __ATOMIC_RELAXED);
}

void ring_event_cancel(struct ring_event *e)
{
    __atomic_store_n(&e->waiting, 0, __ATOMIC_RELAXED);
}

void ring_event_signal(struct ring_event *e)
{
    /* the first signaller takes the flag: one wake-up per sleep, however
     * many records are published before the sleeper runs */
    if (__atomic_load_n(&e->waiting, __ATOMIC_SEQ_CST) &&
        __atomic_exchange_n(&e->waiting, 0, __ATOMIC_SEQ_CST)) {
        __atomic_add_fetch(&e->seq, 1, __ATOMIC_SEQ_CST);
        syscall(SYS_futex, &e->seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}
