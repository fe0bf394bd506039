/* test_ring.c - the SPSC ring: records whole and in order across wraps,
 * full and empty where they should be, quiet commits invisible until
 * published, the largest record, and a two-thread run with random record
 * sizes. */
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "sensor/ring.h"

#define KIB 1024u
#define REC_MAX 3007u /* the longest rec_len() */

/* record i: its length and byte pattern, both from i */
static uint32_t rec_len(uint64_t i)
{
    return (uint32_t)(8 + (i * 2654435761u) % 3000);
}

static void fill_rec(uint8_t *p, uint32_t len, uint64_t i)
{
    memcpy(p, &i, sizeof(i));
    for (uint32_t k = sizeof(i); k < len; k++)
        p[k] = (uint8_t)(i * 31 + k);
}

static int rec_ok(const uint8_t *p, uint32_t len, uint64_t i)
{
    uint64_t got;
    memcpy(&got, p, sizeof(got));
    if (got != i || len != rec_len(i))
        return 0;
    for (uint32_t k = sizeof(i); k < len; k++)
        if (p[k] != (uint8_t)(i * 31 + k))
            return 0;
    return 1;
}

/* rounded as the ring stores them: an 8-byte header and the bytes to 8 */
static size_t stored(uint32_t len)
{
    return 8 + ((len + 7u) & ~7u);
}

/* One thread, many laps: every record comes out whole and in order, and
 * ring_used and ring_backlog count the bytes waiting (records with their
 * headers, and the padding before a wrap). */
static void test_order_and_used(void)
{
    struct ring *r = ring_new(64 * KIB);
    CHECK(r != NULL);
    CHECK_EQ(ring_max_record(r), 16 * KIB);
    uint64_t in = 0, out = 0;
    size_t waiting = 0;
    int ok = 1, used_ok = 1;
    for (int round = 0; round < 2000; round++) {
        /* a few in (until full), a few out */
        for (int k = 0; k < 1 + round % 7; k++) {
            uint32_t len = rec_len(in);
            uint8_t *p = ring_reserve(r, len);
            if (!p)
                break;
            fill_rec(p, len, in++);
            ring_commit(r);
            waiting += stored(len);
        }
        /* padding counts until the consumer passes it: at most one record's
         * worth; the producer's view (ring_backlog) also counts the padding
         * a reservation that found no room left before the end */
        if (ring_used(r) < waiting || ring_used(r) > waiting + stored(REC_MAX) ||
            ring_backlog(r) < ring_used(r) || ring_backlog(r) > ring_used(r) + stored(REC_MAX))
            used_ok = 0;
        for (int k = 0; k < 1 + (round * 5) % 6; k++) {
            uint32_t len;
            const uint8_t *p = ring_peek(r, &len);
            if (!p)
                break;
            if (!rec_ok(p, len, out))
                ok = 0;
            waiting -= stored(len);
            out++;
            ring_release(r);
        }
    }
    CHECK(ok);
    CHECK(used_ok);
    CHECK(in > 5000); /* several laps of 64 KiB */
    CHECK(out > 0 && out <= in);
    ring_free(r);
}

/* Full means full: a ring takes records until its capacity, no more, and
 * gives all of them back; a quiet commit shows only once published; the
 * largest record fits after any wrap. */
static void test_full_and_publish(void)
{
    struct ring *r = ring_new(64 * KIB);
    CHECK(r != NULL);
    CHECK_EQ(ring_capacity(r), 64 * KIB);
    uint64_t i = 0;
    size_t waiting = 0;
    for (;; i++) {
        uint8_t *p = ring_reserve(r, rec_len(i));
        if (!p)
            break;
        fill_rec(p, rec_len(i), i);
        ring_commit(r);
        waiting += stored(rec_len(i));
    }
    CHECK(waiting <= 64 * KIB);
    CHECK(waiting > 64 * KIB - stored(REC_MAX));
    CHECK_EQ(ring_used(r), waiting);
    int ok = 1;
    for (uint64_t k = 0; k < i; k++) {
        uint32_t len;
        const uint8_t *q = ring_peek(r, &len);
        if (!q || !rec_ok(q, len, k))
            ok = 0;
        if (q)
            ring_release(r);
    }
    CHECK(ok);
    CHECK(ring_empty(r));
    uint32_t len;
    CHECK(ring_peek(r, &len) == NULL);

    /* quietly committed: not there until published, but in the producer's
     * backlog at once */
    size_t pad = ring_backlog(r); /* the last, refused reservation's padding */
    CHECK(pad <= stored(REC_MAX));
    uint8_t *p = ring_reserve(r, 100);
    CHECK(p != NULL);
    fill_rec(p, 100, 7);
    ring_commit_quiet(r);
    CHECK(ring_peek(r, &len) == NULL);
    CHECK_EQ(ring_backlog(r), pad + stored(100));
    ring_publish(r);
    const uint8_t *q = ring_peek(r, &len);
    CHECK(q != NULL && len == 100);
    ring_release(r);

    /* the largest record, wherever the last one ended */
    size_t max = ring_max_record(r);
    CHECK_EQ(max, 16 * KIB);
    for (int k = 0; k < 20; k++) {
        uint8_t *big = ring_reserve(r, (uint32_t)max);
        CHECK(big != NULL);
        if (!big)
            break;
        memset(big, k, max);
        ring_commit(r);
        p = ring_reserve(r, (uint32_t)(8 + k * 500));
        CHECK(p != NULL);
        ring_commit(r);
        q = ring_peek(r, &len);
        CHECK(q != NULL && len == max && q[0] == k && q[max - 1] == k);
        ring_release(r);
        q = ring_peek(r, &len);
        CHECK(q != NULL && len == 8u + (uint32_t)k * 500);
        ring_release(r);
    }
    CHECK(ring_empty(r));
    ring_free(r);
}

/* Two threads, random sizes, commits published now and then: nothing
 * lost, reordered or torn. */
struct pc {
    struct ring *r;
    uint64_t n;
    int bad;
};

static void *consumer(void *arg)
{
    struct pc *c = arg;
    for (uint64_t i = 0; i < c->n;) {
        uint32_t len;
        const uint8_t *p = ring_peek(c->r, &len);
        if (!p)
            continue;
        if (!rec_ok(p, len, i))
            c->bad++;
        ring_release(c->r);
        i++;
    }
    return NULL;
}

static void test_threads(void)
{
    struct pc c = {ring_new(128 * KIB), 400000, 0};
    CHECK(c.r != NULL);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, consumer, &c), 0);
    for (uint64_t i = 0; i < c.n; i++) {
        uint32_t len = rec_len(i);
        uint8_t *p;
        while (!(p = ring_reserve(c.r, len)))
            ring_publish(c.r); /* as the reader does before it waits */
        fill_rec(p, len, i);
        if (i % 3)
            ring_commit_quiet(c.r); /* published with a later commit */
        else
            ring_commit(c.r);
    }
    ring_publish(c.r);
    pthread_join(th, NULL);
    CHECK_EQ(c.bad, 0);
    CHECK(ring_empty(c.r));
    ring_free(c.r);
}

int main(void)
{
    test_order_and_used();
    test_full_and_publish();
    test_threads();
    return check_done();
}
