/* region.c - province codes of addresses and resident IDs (GB/T 2260).
 *
 * Addresses are matched on the province's short name at the start of the
 * value (北京, 广东, 内蒙古 ...), which covers both "广东省广州市" and
 * "广东广州". IDs give the code in their first two digits. */
#include "rules/region.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

static const struct {
    const char *name; /* UTF-8 short name */
    uint16_t code;
} provinces[] = {
    {"北京", 11}, {"天津", 12}, {"河北", 13}, {"山西", 14}, {"内蒙古", 15}, {"辽宁", 21},
    {"吉林", 22}, {"黑龙江", 23}, {"上海", 31}, {"江苏", 32}, {"浙江", 33}, {"安徽", 34},
    {"福建", 35}, {"江西", 36}, {"山东", 37}, {"河南", 41}, {"湖北", 42}, {"湖南", 43},
    {"广东", 44}, {"广西", 45}, {"海南", 46}, {"重庆", 50}, {"四川", 51}, {"贵州", 52},
    {"云南", 53}, {"西藏", 54}, {"陕西", 61}, {"甘肃", 62}, {"青海", 63}, {"宁夏", 64},
    {"新疆", 65}, {"台湾", 71}, {"香港", 81}, {"澳门", 82},
};
#define N_PROVINCES (sizeof(provinces) / sizeof(provinces[0]))
_Static_assert(N_PROVINCES < 0xff, "a province index fits by_byte, 0xff is free");

/* The names by the last byte of their first character: up to 3 names
 * share one (河 澳, 广 西 ...), the rest of the slot is 0xff. */
#define BY_BYTE_N 4
static uint8_t by_byte[256][BY_BYTE_N];

static void by_byte_init(void)
{
    memset(by_byte, 0xff, sizeof(by_byte));
    for (size_t i = 0; i < N_PROVINCES; i++) {
        uint8_t *slot = by_byte[(uint8_t)provinces[i].name[2]];
        size_t k = 0;
        while (k < BY_BYTE_N && slot[k] != 0xff)
            k++;
        if (k < BY_BYTE_N) /* always: test_validate finds every name */
            slot[k] = (uint8_t)i;
    }
}

uint16_t region_of_record(enum rule_category cat, const uint8_t *v, size_t len)
{
    if (cat == RULE_CAT_ID) {
        if (len < 2 || v[0] < '1' || v[0] > '9' || v[1] < '0' || v[1] > '9')
            return 0;
        uint16_t code = (uint16_t)((v[0] - '0') * 10 + (v[1] - '0'));
        for (size_t i = 0; i < N_PROVINCES; i++)
            if (provinces[i].code == code)
                return code;
        return 0;
    }
    if (cat != RULE_CAT_ADDRESS)
        return 0;
    /* every name is two or three 3-byte characters: the last byte of the
     * value's first character leaves at most three names to compare */
    if (len < 6)
        return 0;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, by_byte_init);
    const uint8_t *slot = by_byte[v[2]];
    for (size_t k = 0; k < BY_BYTE_N && slot[k] != 0xff; k++) {
        /* two or three 3-byte characters: compares of constant size */
        const char *nm = provinces[slot[k]].name;
        bool three = nm[6] != 0;
        if (three ? len >= 9 && memcmp(v, nm, 9) == 0 : memcmp(v, nm, 6) == 0)
            return provinces[slot[k]].code;
    }
    return 0;
}
