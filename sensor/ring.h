/* ring.h - a bounded lock-free single-producer single-consumer byte ring of
 * variable-size records, and the wake-up event its ends sleep on.
 *
 * One thread writes (ring_reserve, then ring_commit), one thread reads
 * (ring_peek, then ring_release); records come out whole and in order. A
 * record is a 8-byte header and its bytes rounded up to 8; a record that
 * does not fit before the end of the buffer is preceded by padding. Nothing
 * is allocated after ring_new. Neither end blocks: reserve returns NULL when
 * full and peek NULL when empty, and the caller decides how to wait (a
 * ring_event, which both ends and other queues can share).
 *
 * Memory order: a commit publishes the record's bytes before the consumer
 * can see them; a release gives the space back the same way. The shared
 * counters are stored and reread sequentially consistent (on x86: an xchg
 * to store, a plain load), which makes the event protocol below sound with
 * no fence: a sleeper stores `waiting` then rereads the counter, a waker
 * stores the counter then reads `waiting`; one of them sees the other. */
#ifndef LH_RING_H
#define LH_RING_H

#include <stddef.h>
#include <stdint.h>

struct ring;

/* bytes: capacity, rounded up to a power of two (at least 64 KiB). NULL on
 * allocation failure. */
struct ring *ring_new(size_t bytes);
void ring_free(struct ring *r); /* accepts NULL */
/* Largest record (payload bytes) a ring of this size takes. */
size_t ring_max_record(const struct ring *r);

/* Producer. Space for a record of len bytes (len <= ring_max_record), or NULL
 * when the ring is too full now. The space is the caller's until
 * ring_commit(r), which publishes it; reserve again only after a commit. */
void *ring_reserve(struct ring *r, uint32_t len);
void ring_commit(struct ring *r);
/* Batching: ring_commit_quiet commits without publishing, and
 * ring_publish(r) publishes every commit so far (ring_commit does too), so
 * the consumer's cache line of the counter moves once per batch. A record
 * committed quietly stays invisible until then: publish before waiting. */
void ring_commit_quiet(struct ring *r);
void ring_publish(struct ring *r);

/* Consumer. The oldest record and its length, or NULL when the ring is
 * empty. Valid until ring_release(r), which gives the space back. */
const void *ring_peek(struct ring *r, uint32_t *len);
void ring_release(struct ring *r);
/* Nothing committed and unread (the consumer's view). */
int ring_empty(struct ring *r);
/* Bytes committed and not yet released (the consumer's view). */
size_t ring_used(struct ring *r);
/* Producer: bytes committed (published or not) that the consumer has not
 * released yet, and the padding a reservation that found no room left
 * before the ring's end (at most one record's worth). */
size_t ring_backlog(struct ring *r);
size_t ring_capacity(const struct ring *r);

/* A wake-up for one sleeping thread (a futex): the sleeper says it waits,
 * checks its condition again, then sleeps until signalled or the timeout;
 * a signal costs one load when nobody waits. A missed wake-up costs at most
 * the timeout, never a hang. */
struct ring_event {
    _Alignas(64) uint32_t seq;
    uint32_t waiting;
};

void ring_event_init(struct ring_event *e);
/* Announce, then call ring_event_sleep (after checking the condition again)
 * or ring_event_cancel (the condition holds). */
void ring_event_prepare(struct ring_event *e);
void ring_event_sleep(struct ring_event *e, uint32_t timeout_us);
void ring_event_cancel(struct ring_event *e);
void ring_event_signal(struct ring_event *e);

#endif
