/* baseline.c - EWMA baselines on log counts and robust peer summaries.
 *
 * Counts in (one value per active hour, from rules/detect.c when an hour
 * closes), levels out. Log counts make a jump from 10 to 100 weigh like a
 * jump from 100 to 1000, which is what "x times its usual" means; the MAD
 * keeps one exfiltrating account from moving the population's fence. */
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

void baseline_learn_share(struct baseline *b, double share)
{
    if (b->n == 0)
        b->mu = share;
    else
        b->mu += BASELINE_LAMBDA * (share - b->mu);
    if (b->n < UINT32_MAX)
        b->n++;
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

double baseline_pop_fence(const struct baseline_pop *p)
{
    return expm1(p->median + 3 * 1.4826 * p->mad);
}

int baseline_pop_ready(const struct baseline_pop *p)
{
    return p->n >= BASELINE_PEER_MIN;
}
