/* baseline.h - what is normal: per-account EWMA on log counts, peers.
 *
 * An account's baseline for one metric (queries of an endpoint, distinct
 * records of some categories) is an exponentially weighted mean and
 * variance of x = log1p(count per active hour), lambda = BASELINE_LAMBDA.
 * Only hours in which the account did something are learned (an account
 * that works 8 hours a day is compared with its working hours, not with a
 * day full of zeros), and the caller never feeds an hour in which the
 * account alerted, so an attacker cannot train the baseline up.
 *
 * Scoring accounts for the account's spread: a window is unusual when its
 * log count is K spreads above the mean (Shewhart) or when a one-sided
 * CUSUM of the hourly standardised residuals (slack CUSUM_K, alarm at
 * CUSUM_H) says the level has shifted for several hours: a steady pull
 * that no single hour gives away. The spread is the account's own, shrunk
 * towards the peers' typical spread (a prior worth BASELINE_PRIOR_HOURS
 * hours), so an account with a day of history scores without a noisy
 * spread of its own deciding alone.
 *
 * The population (peers) is summarised by the median and the MAD of the
 * accounts' mu; the peer fence is expm1(median + 3 * 1.4826 * MAD), a
 * robust high percentile of the usual hourly count, and by the median of
 * the accounts' spreads (the prior above). Nothing here allocates; can't
 * fail. */
#ifndef LH_BASELINE_H
#define LH_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#define BASELINE_LAMBDA 0.1
#define BASELINE_MIN_BUCKETS 24  /* active hours of a mature baseline (peers' fence, own alone) */
#define BASELINE_EARLY_BUCKETS 4 /* active hours before the own mean scores with the peers' prior */
#define BASELINE_PRIOR_HOURS 4.0 /* weight of the peers' spread in an account's, in hours */
#define BASELINE_PEER_MIN 10     /* learned accounts before the population scores */
#define BASELINE_K 4.0           /* Shewhart: spreads above the mean (many accounts x hours) */
#define BASELINE_CUSUM_K 0.5     /* CUSUM slack, in spreads */
#define BASELINE_CUSUM_H 5.0     /* CUSUM alarm level, in spreads */
#define BASELINE_SD_MIN 0.1      /* floor of a spread in log counts */

struct baseline {
    double mu, var; /* of log1p(count per active hour) */
    uint32_t n;     /* hours learned */
    double cusum;   /* one-sided CUSUM of standardised hourly residuals, 0..2 H */
};

/* Learns one active hour's count. */
void baseline_learn(struct baseline *b, double count);
/* Usual count per active hour: expm1(mu); 0 before anything was learned. */
double baseline_level(const struct baseline *b);
/* Enough history: at least BASELINE_MIN_BUCKETS hours and age_s >= learn_s. */
int baseline_ready(const struct baseline *b, uint64_t age_s, uint32_t learn_s);

/* The spread (standard deviation of x) to score with: the account's own,
 * shrunk towards prior_sd (the peers', <= 0 when unknown) with
 * BASELINE_PRIOR_HOURS of weight; the own spread counts as many hours as
 * the EWMA remembers (2 / lambda - 1) at most; widened by sqrt(1 + 1/n)
 * for the uncertainty of a mean learned from n hours (a prediction
 * interval, not a confidence interval). Returns a negative value when
 * the account cannot score yet: fewer than BASELINE_EARLY_BUCKETS hours, or
 * fewer than BASELINE_MIN_BUCKETS without a prior. */
double baseline_sd(const struct baseline *b, double prior_sd);
/* The CUSUM after an hour with this count, scored with spread sd (> 0). */
double baseline_cusum_next(const struct baseline *b, double count, double sd);
/* Folds an active hour into the CUSUM (capped at 2 H so that an old shift
 * is forgotten within hours once it ends). */
void baseline_cusum_fold(struct baseline *b, double count, double sd);
/* The smallest count in an hour that brings the CUSUM to the alarm level. */
double baseline_cusum_alarm_count(const struct baseline *b, double sd);

/* Share baselines (out-of-scope): EWMA mean and variance of a share in [0, 1]. */
void baseline_learn_share(struct baseline *b, double share);
/* Spread of a share baseline shrunk towards prior_sd with prior_n hours. */
double baseline_share_sd(const struct baseline *b, double prior_sd, double prior_n);

struct baseline_pop {
    double median, mad; /* of the accounts' mu (or shares) */
    uint32_t n;         /* accounts that took part */
    double sd;          /* median of the spreads of accounts with BASELINE_EARLY_BUCKETS hours */
    uint32_t n_sd;      /* accounts behind sd */
};

/* Summarises vals[0..n) (sorted in place). n may be 0 (then n = 0 out). */
void baseline_pop_compute(struct baseline_pop *p, double *vals, size_t n);
/* Sets p->sd to the median of sds[0..n) (sorted in place), p->n_sd = n. */
void baseline_pop_spread(struct baseline_pop *p, double *sds, size_t n);
/* expm1(median + 3 * 1.4826 * MAD): a robust high percentile in counts. */
double baseline_pop_fence(const struct baseline_pop *p);
/* The population has enough accounts to compare against. */
int baseline_pop_ready(const struct baseline_pop *p);
/* The peers' spread as a prior, or -1 with fewer than BASELINE_PEER_MIN accounts. */
double baseline_pop_prior_sd(const struct baseline_pop *p);

/* Time-of-day shape: per hour of the (local) day, an EWMA (same lambda)
 * of log1p(count) of the active hours that fell in that hour of the day,
 * learned from the same hours as the baseline. Once a slot has
 * BASELINE_TOD_MIN observations, the account's level at that hour of the
 * day is max(mu, slot): the shape only raises the usual at the account's
 * busy hours, never lowers it below the all-hours level, so it can remove
 * alerts at habitual peaks but never create one at a quiet hour. Levels
 * are kept in fixed point (1/1024 of a log unit: 0.1 % of a count) to keep
 * the shape at 72 bytes. */
#define BASELINE_TOD_SLOTS 24
#define BASELINE_TOD_MIN 5 /* observations of a slot before it counts */
/* Hours are the couriers' local time: a fixed UTC+8 (China Standard Time,
 * no daylight saving). A constant until the offset becomes configurable. */
#define BASELINE_TOD_OFFSET_S (8 * 3600)

#define BASELINE_TOD_ONE 1024.0 /* fixed-point unit of mu[] */

struct baseline_tod {
    uint16_t mu[BASELINE_TOD_SLOTS]; /* log1p(count) in that local hour x BASELINE_TOD_ONE */
    uint8_t n[BASELINE_TOD_SLOTS]; /* observations, saturating at 255 */
};

/* The local hour of the day (0..23) of an hour number since the epoch (UTC). */
unsigned baseline_tod_slot(uint32_t hour_since_epoch);
/* Learns one active hour's count into its slot. */
void baseline_tod_learn(struct baseline_tod *t, unsigned slot, double count);
/* b with its mu raised to the slot's level when the slot is ready (a copy
 * to score with; b itself is untouched). */
struct baseline baseline_tod_apply(const struct baseline *b, const struct baseline_tod *t,
                                   unsigned slot);

#endif
