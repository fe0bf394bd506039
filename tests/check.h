/* check.h - the unit tests' assertions: count, report file:line, exit status.
 *
 * CHECK* record a failure and go on, so one run shows every broken case;
 * check_done() prints "N checks, N failed" and returns the exit status. */
#ifndef LH_CHECK_H
#define LH_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static unsigned long check_count, check_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond)) {                                                                             \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);              \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);                               \
        check_count++;                                                                             \
        if (check_a_ != check_b_) {                                                                \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: %s == %s failed: %" PRIu64 " != %" PRIu64 "\n", __FILE__,      \
                    __LINE__, #a, #b, check_a_, check_b_);                                         \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        check_count++;                                                                             \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                           \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a,  \
                    #b, check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");          \
        }                                                                                          \
    } while (0)

static inline int check_done(void)
{
    printf("%lu checks, %lu failed\n", check_count, check_failed);
    return check_failed ? 1 : 0;
}

#endif
