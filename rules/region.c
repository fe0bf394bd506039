/* region.c - province codes of addresses and resident IDs (GB/T 2260).
 *
 * Addresses are matched on the province's short name at the start of the
 * value (北京, 广东, 内蒙古 ...), which covers both "广东省广州市" and
 * "广东广州". IDs give the code in their first two digits. */
#include "rules/region.h"

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

uint16_t region_of_record(enum rule_category cat, const uint8_t *v, size_t len)
{
    if (cat == RULE_CAT_ID) {
        if (len < 2 || v[0] < '1' || v[0] > '9' || v[1] < '0' || v[1] > '9')
            return 0;
        uint16_t code = (uint16_t)((v[0] - '0') * 10 + (v[1] - '0'));
        for (size_t i = 0; i < sizeof(provinces) / sizeof(provinces[0]); i++)
            if (provinces[i].code == code)
                return code;
        return 0;
    }
    if (cat != RULE_CAT_ADDRESS)
        return 0;
    /* every name is two or three 3-byte characters: most values are told
     * apart by their first bytes, so those are compared first */
    if (len < 6)
        return 0;
    for (size_t i = 0; i < sizeof(provinces) / sizeof(provinces[0]); i++) {
        const char *nm = provinces[i].name;
        if ((uint8_t)nm[1] != v[1] || (uint8_t)nm[2] != v[2] || (uint8_t)nm[0] != v[0])
            continue;
        size_t n = strlen(nm);
        if (len >= n && memcmp(v, nm, n) == 0)
            return provinces[i].code;
    }
    return 0;
}
