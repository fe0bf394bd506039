/* test_sketch.c - exact below the switch, HyperLogLog within its bound above,
 * merges of every form, serialisation. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "rules/sketch.h"

/* distinct, structured values: fingerprints of consecutive records */
static uint64_t val(uint64_t i, uint64_t seed)
{
    return i * 0x10001ull + (seed << 40);
}

static void test_exact(void)
{
    struct sketch s;
    sketch_init(&s);
    CHECK_EQ(sketch_count(&s), 0);
    CHECK_EQ(sketch_mem(&s), 0);
    int sw = 0;
    CHECK_EQ(sketch_add(&s, 42, &sw), 1);
    CHECK_EQ(sketch_add(&s, 42, &sw), 0); /* same record again: still one */
    CHECK_EQ(sketch_count(&s), 1);
    CHECK_EQ(sketch_add(&s, 0, &sw), 1); /* zero is a value like any other */
    CHECK_EQ(sketch_count(&s), 2);
    sketch_reset(&s);
    /* every count up to the switch is exact, even with each record fetched 5 times */
    int exact_all = 1;
    for (uint64_t i = 0; i < SKETCH_EXACT_MAX; i++) {
        for (int rep = 0; rep < 5; rep++)
            sketch_add(&s, val(i, 1), &sw);
        if (sketch_count(&s) != i + 1)
            exact_all = 0;
    }
    CHECK(exact_all);
    CHECK_EQ(sw, 0);
    CHECK_EQ(s.hll, 0);
    CHECK_EQ(sketch_count(&s), SKETCH_EXACT_MAX);
    CHECK_EQ(sketch_mem(&s), SKETCH_EXACT_SLOTS * 8); /* the documented peak: 32 KiB */
    /* the next new value switches; a repeat does not */
    CHECK_EQ(sketch_add(&s, val(5, 1), &sw), 0);
    CHECK_EQ(sw, 0);
    CHECK_EQ(sketch_add(&s, val(SKETCH_EXACT_MAX, 1), &sw), 2);
    CHECK_EQ(sw, 1);
    CHECK_EQ(s.hll, 1);
    CHECK_EQ(sketch_mem(&s), 16384);
    uint64_t c = sketch_count(&s);
    CHECK(fabs((double)c - (SKETCH_EXACT_MAX + 1)) / (SKETCH_EXACT_MAX + 1) < 0.025);
    sketch_reset(&s);
    CHECK_EQ(sketch_mem(&s), 0);
    CHECK_EQ(sketch_count(&s), 0);
}

static void test_hll_error(void)
{
    static const uint64_t sizes[] = {4000, 10000, 50000, 200000, 1000000};
    double worst = 0, sum = 0;
    int n = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (uint64_t seed = 1; seed <= 4; seed++) {
            struct sketch s;
            sketch_init(&s);
            for (uint64_t i = 0; i < sizes[k]; i++) {
                sketch_add(&s, val(i, seed + 10 * k), NULL);
                if (i % 3 == 0) /* repeats must not count */
                    sketch_add(&s, val(i / 2, seed + 10 * k), NULL);
            }
            double err = fabs((double)sketch_count(&s) - (double)sizes[k]) / (double)sizes[k];
            if (err > worst)
                worst = err;
            sum += err;
            n++;
            CHECK(err < 0.025); /* 3 sigma of 1.04/sqrt(16384) */
            sketch_reset(&s);
        }
    }
    printf("hll: %d runs, mean relative error %.3f%%, worst %.3f%%\n", n, 100 * sum / n,
           100 * worst);
    CHECK(sum / n < 0.012); /* mean absolute error ~0.8 * sigma = 0.65 % */
}

static void test_merge(void)
{
    struct sketch a, b;
    sketch_init(&a);
    sketch_init(&b);
    /* exact + exact, overlapping: exact union */
    for (uint64_t i = 0; i < 1000; i++)
        sketch_add(&a, val(i, 7), NULL);
    for (uint64_t i = 500; i < 1500; i++)
        sketch_add(&b, val(i, 7), NULL);
    CHECK_EQ(sketch_merge(&a, &b, NULL), 0);
    CHECK_EQ(sketch_count(&a), 1500);
    CHECK_EQ(a.hll, 0);
    /* exact + exact past the cap switches */
    struct sketch c;
    sketch_init(&c);
    for (uint64_t i = 1500; i < 4000; i++)
        sketch_add(&c, val(i, 7), NULL);
    int sw = 0;
    CHECK_EQ(sketch_merge(&a, &c, &sw), 0);
    CHECK_EQ(sw, 1);
    CHECK(fabs((double)sketch_count(&a) - 4000) / 4000 < 0.025);
    /* hll + hll */
    sketch_reset(&a);
    sketch_reset(&b);
    for (uint64_t i = 0; i < 60000; i++)
        sketch_add(&a, val(i, 8), NULL);
    for (uint64_t i = 30000; i < 90000; i++)
        sketch_add(&b, val(i, 8), NULL);
    CHECK_EQ(sketch_merge(&a, &b, NULL), 0);
    CHECK(fabs((double)sketch_count(&a) - 90000) / 90000 < 0.025);
    /* exact dst + hll src, and merging is idempotent */
    struct sketch e;
    sketch_init(&e);
    for (uint64_t i = 0; i < 10; i++)
        sketch_add(&e, val(i, 8), NULL); /* already in a */
    CHECK_EQ(sketch_merge(&e, &a, NULL), 0);
    CHECK_EQ(e.hll, 1);
    CHECK_EQ(sketch_count(&e), sketch_count(&a));
    uint64_t before = sketch_count(&a);
    CHECK_EQ(sketch_merge(&a, &e, NULL), 0);
    CHECK_EQ(sketch_count(&a), before);
    sketch_reset(&a);
    sketch_reset(&b);
    sketch_reset(&c);
    sketch_reset(&e);
}

static void test_serialise(void)
{
    struct sketch s, t;
    sketch_init(&s);
    sketch_init(&t);
    for (uint64_t i = 0; i < 777; i++)
        sketch_add(&s, val(i, 3), NULL);
    sketch_add(&s, 0, NULL);
    size_t need = sketch_write(&s, NULL, 0);
    uint8_t *buf = malloc(need);
    CHECK_EQ(sketch_write(&s, buf, need), need);
    CHECK_EQ(sketch_read(&t, buf, need), need);
    CHECK_EQ(sketch_count(&t), 778);
    CHECK_EQ(sketch_add(&t, val(5, 3), NULL), 0); /* the same values came back */
    CHECK_EQ(sketch_add(&t, 0, NULL), 0);
    CHECK_EQ(sketch_read(&t, buf, need - 1), 0); /* truncated */
    CHECK_EQ(sketch_count(&t), 0);
    buf[0] = 9;
    CHECK_EQ(sketch_read(&t, buf, need), 0); /* unknown kind */
    free(buf);
    for (uint64_t i = 0; i < 20000; i++)
        sketch_add(&s, val(i, 4), NULL);
    need = sketch_write(&s, NULL, 0);
    CHECK_EQ(need, 1 + 16384);
    buf = malloc(need);
    sketch_write(&s, buf, need);
    CHECK_EQ(sketch_read(&t, buf, need), need);
    CHECK_EQ(sketch_count(&t), sketch_count(&s));
    buf[100] = 200; /* no register can hold that */
    CHECK_EQ(sketch_read(&t, buf, need), 0);
    free(buf);
    sketch_reset(&s);
    sketch_reset(&t);
}

int main(void)
{
    test_exact();
    test_hll_error();
    test_merge();
    test_serialise();
    return check_done();
}
