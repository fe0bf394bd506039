/* baseline.c - EWMA baselines on log counts, CUSUM, robust peer summaries.
 *
 * Counts in (one value per active hour, from rules/detect.c when an hour
 * closes), levels and thresholds out. Log counts make a jump from 10 to 100
 * weigh like a jump from 100 to 1000, which is what "x times its usual"
 * means; the spread makes "unusual" mean unusual for this account (a
 * dispatcher whose hours run from 5 to 1,500 records is not alarmed by
 * 900); the MAD keeps one exfiltrating account from moving the population's
 * fence. */
#include "rules/baseline.h"

#include <math.h>
#include <stdlib.h>

void baseline_learn(struct baseline *b, double count)
{
    double x = log1p(count < 0 ? 0 : count);
    if (b->n == 0) {
        b->mu = x;
        b->var = 0;
    } else {
        double d = x - b->mu;
        b->mu += BASELINE_LAMBDA * d;
        b->var = (1 - BASELINE_LAMBDA) * (b->var + BASELINE_LAMBDA * d * d);
    }
    if (b->n < UINT32_MAX)
        b->n++;
}

double baseline_level(const struct baseline *b)
{
    return b->n ? expm1(b->mu) : 0;
}

int baseline_ready(const struct baseline *b, uint64_t age_s, uint32_t learn_s)
{
    return b->n >= BASELINE_MIN_BUCKETS && age_s >= learn_s;
}

/* How many hours the EWMA variance stands for. */
static double own_hours(const struct baseline *b)
{
    double mem = 2 / BASELINE_LAMBDA - 1;
    return b->n < mem ? (double)b->n : mem;
}

double baseline_sd(const struct baseline *b, double prior_sd)
{
    if (b->n < BASELINE_EARLY_BUCKETS)
        return -1;
    double v = b->var > 0 ? b->var : 0;
    if (prior_sd > 0) {
        double w = own_hours(b);
        v = (w * v + BASELINE_PRIOR_HOURS * prior_sd * prior_sd) / (w + BASELINE_PRIOR_HOURS);
    } else if (b->n < BASELINE_MIN_BUCKETS) {
        return -1;
    }
    double sd = sqrt(v * (1 + 1 / own_hours(b)));
    return sd > BASELINE_SD_MIN ? sd : BASELINE_SD_MIN;
}

double baseline_cusum_next(const struct baseline *b, double count, double sd)
{
    double z = (log1p(count < 0 ? 0 : count) - b->mu) / sd;
    double s = b->cusum + z - BASELINE_CUSUM_K;
    return s > 0 ? s : 0;
}

void baseline_cusum_fold(struct baseline *b, double count, double sd)
{
    double s = baseline_cusum_next(b, count, sd);
    b->cusum = s < 2 * BASELINE_CUSUM_H ? s : 2 * BASELINE_CUSUM_H;
}

double baseline_cusum_alarm_count(const struct baseline *b, double sd)
{
    /* cusum + (log1p(c) - mu) / sd - k >= h */
    return expm1(b->mu + sd * (BASELINE_CUSUM_H - b->cusum + BASELINE_CUSUM_K));
}

void baseline_learn_share(struct baseline *b, double share)
{
    if (b->n == 0) {
        b->mu = share;
        b->var = 0;
    } else {
        double d = share - b->mu;
        b->mu += BASELINE_LAMBDA * d;
        b->var = (1 - BASELINE_LAMBDA) * (b->var + BASELINE_LAMBDA * d * d);
    }
    if (b->n < UINT32_MAX)
        b->n++;
}

double baseline_share_sd(const struct baseline *b, double prior_sd, double prior_n)
{
    double w = own_hours(b), v = b->var > 0 ? b->var : 0;
    return sqrt((w * v + prior_n * prior_sd * prior_sd) / (w + prior_n));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_sorted(const double *v, size_t n)
{
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void baseline_pop_compute(struct baseline_pop *p, double *vals, size_t n)
{
    p->n = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
    if (n == 0) {
        p->median = p->mad = 0;
        return;
    }
    qsort(vals, n, sizeof(double), cmp_double);
    double med = median_sorted(vals, n);
    for (size_t i = 0; i < n; i++)
        vals[i] = fabs(vals[i] - med);
    qsort(vals, n, sizeof(double), cmp_double);
    p->median = med;
    p->mad = median_sorted(vals, n);
}

void baseline_pop_spread(struct baseline_pop *p, double *sds, size_t n)
{
    p->n_sd = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
    if (n == 0) {
        p->sd = 0;
        return;
    }
    qsort(sds, n, sizeof(double), cmp_double);
    p->sd = median_sorted(sds, n);
}

double baseline_pop_fence(const struct baseline_pop *p)
{
    return expm1(p->median + 3 * 1.4826 * p->mad);
}

int baseline_pop_ready(const struct baseline_pop *p)
{
    return p->n >= BASELINE_PEER_MIN;
}

double baseline_pop_prior_sd(const struct baseline_pop *p)
{
    return p->n_sd >= BASELINE_PEER_MIN && p->sd > 0 ? p->sd : -1;
}

unsigned baseline_tod_slot(uint32_t hour_since_epoch)
{
    return (unsigned)(((uint64_t)hour_since_epoch + BASELINE_TOD_OFFSET_S / 3600) %
                      BASELINE_TOD_SLOTS);
}

void baseline_tod_learn(struct baseline_tod *t, unsigned slot, double count)
{
    if (slot >= BASELINE_TOD_SLOTS)
        return;
    double x = log1p(count < 0 ? 0 : count);
    double m = t->n[slot] ? t->mu[slot] / BASELINE_TOD_ONE : x;
    if (t->n[slot])
        m += BASELINE_LAMBDA * (x - m);
    m = m * BASELINE_TOD_ONE + 0.5; /* log1p of a 64-bit count < 45: fits */
    t->mu[slot] = (uint16_t)(m < UINT16_MAX ? m : UINT16_MAX);
    if (t->n[slot] < UINT8_MAX)
        t->n[slot]++;
}

struct baseline baseline_tod_apply(const struct baseline *b, const struct baseline_tod *t,
                                   unsigned slot)
{
    struct baseline e = *b;
    /* only upward: a quiet hour is scored against the all-hours level, as
     * without a shape, so the shape cannot add false positives */
    if (slot < BASELINE_TOD_SLOTS && t->n[slot] >= BASELINE_TOD_MIN && b->n > 0 &&
        t->mu[slot] / BASELINE_TOD_ONE > e.mu)
        e.mu = t->mu[slot] / BASELINE_TOD_ONE;
    return e;
}
