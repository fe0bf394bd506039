/* baseline.h - what is normal: per-account EWMA on log counts, peers.
 *
 * An account's baseline for one metric (queries of an endpoint, distinct
 * records of some categories) is an exponentially weighted mean and
 * variance of x = log1p(count per active hour), lambda = BASELINE_LAMBDA.
 * Only hours in which the account did something are learned (an account
 * that works 8 hours a day is compared with its working hours, not with a
 * day full of zeros), and the caller never feeds an hour in which the
 * account alerted, so an attacker cannot train the baseline up.
 * The population (peers) is summarised by the median and the MAD of the
 * accounts' mu; the peer fence is expm1(median + 3 * 1.4826 * MAD), a
 * robust high percentile of the usual hourly count. Nothing here
 * allocates; can't fail. */
#ifndef LH_BASELINE_H
#define LH_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#define BASELINE_LAMBDA 0.1
#define BASELINE_MIN_BUCKETS 24 /* active hours learned before the own baseline scores */
#define BASELINE_PEER_MIN 10    /* learned accounts before the population scores */

struct baseline {
    double mu, var; /* of log1p(count per active hour) */
    uint32_t n;     /* hours learned */
};

/* Learns one active hour's count. */
void baseline_learn(struct baseline *b, double count);
/* Usual count per active hour: expm1(mu); 0 before anything was learned. */
double baseline_level(const struct baseline *b);
/* Enough history: at least BASELINE_MIN_BUCKETS hours and age_s >= learn_s. */
int baseline_ready(const struct baseline *b, uint64_t age_s, uint32_t learn_s);

/* Share baselines (out-of-scope): a plain EWMA of a share in [0, 1]. */
void baseline_learn_share(struct baseline *b, double share);

struct baseline_pop {
    double median, mad; /* of the accounts' mu (or shares) */
    uint32_t n;         /* accounts that took part */
};

/* Summarises vals[0..n) (sorted in place). n may be 0 (then n = 0 out). */
void baseline_pop_compute(struct baseline_pop *p, double *vals, size_t n);
/* expm1(median + 3 * 1.4826 * MAD): a robust high percentile in counts. */
double baseline_pop_fence(const struct baseline_pop *p);
/* The population has enough accounts to compare against. */
int baseline_pop_ready(const struct baseline_pop *p);

#endif
