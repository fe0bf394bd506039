/* data.c - names, phones, addresses, ID numbers, waybill numbers and the
 * waybill record JSON (see data.h). Facts follow docs REFERENCE: allocated
 * mobile prefixes per libphonenumber CN 2026, GB 11643 check characters,
 * GB/T 2260 district codes, carriers' public number formats. */
#include "data.h"

#include <stdio.h>
#include <string.h>

#include "rng.h"

const data_city data_cities[] = {
    {"北京市",
     "北京市",
     "010",
     1,
     4,
     {"东城区", "西城区", "朝阳区", "海淀区"},
     {"110101", "110102", "110105", "110108"}},
    {"上海市",
     "上海市",
     "021",
     1,
     4,
     {"黄浦区", "徐汇区", "长宁区", "浦东新区"},
     {"310101", "310104", "310105", "310115"}},
    {"广东省",
     "广州市",
     "020",
     0,
     4,
     {"越秀区", "海珠区", "天河区", "白云区"},
     {"440104", "440105", "440106", "440111"}},
    {"广东省",
     "深圳市",
     "0755",
     0,
     4,
     {"罗湖区", "福田区", "南山区", "宝安区"},
     {"440303", "440304", "440305", "440306"}},
    {"浙江省",
     "杭州市",
     "0571",
     0,
     4,
     {"上城区", "西湖区", "滨江区", "萧山区"},
     {"330102", "330106", "330108", "330109"}},
    {"浙江省", "宁波市", "0574", 0, 2, {"海曙区", "鄞州区"}, {"330203", "330212"}},
    {"江苏省",
     "南京市",
     "025",
     0,
     3,
     {"玄武区", "秦淮区", "鼓楼区"},
     {"320102", "320104", "320106"}},
    {"江苏省", "苏州市", "0512", 0, 2, {"吴中区", "姑苏区"}, {"320506", "320508"}},
    {"四川省",
     "成都市",
     "028",
     0,
     4,
     {"锦江区", "青羊区", "武侯区", "成华区"},
     {"510104", "510105", "510107", "510108"}},
    {"湖北省",
     "武汉市",
     "027",
     0,
     3,
     {"江岸区", "武昌区", "洪山区"},
     {"420102", "420106", "420111"}},
    {"山东省", "济南市", "0531", 0, 2, {"历下区", "市中区"}, {"370102", "370103"}},
    {"山东省",
     "青岛市",
     "0532",
     0,
     3,
     {"市南区", "市北区", "崂山区"},
     {"370202", "370203", "370212"}},
    {"河南省",
     "郑州市",
     "0371",
     0,
     3,
     {"中原区", "二七区", "金水区"},
     {"410102", "410103", "410105"}},
    {"陕西省",
     "西安市",
     "029",
     0,
     3,
     {"新城区", "碑林区", "雁塔区"},
     {"610102", "610103", "610113"}},
    {"福建省", "厦门市", "0592", 0, 2, {"思明区", "湖里区"}, {"350203", "350206"}},
    {"湖南省",
     "长沙市",
     "0731",
     0,
     3,
     {"芙蓉区", "天心区", "岳麓区"},
     {"430102", "430103", "430104"}},
};
const int data_ncities = (int)(sizeof data_cities / sizeof data_cities[0]);

static const char *const surnames[] = {
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡",   "朱",
    "高", "林", "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯",   "于",
    "董", "萧", "程", "曹", "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "欧阳", "司马"};
static const char *const given[] = {
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华", "建", "国", "文", "辉", "玲", "鹏",
    "俊", "红", "欣", "怡", "宇", "浩", "然", "晨", "思", "雨", "婷", "博", "子", "梓", "轩",
    "涵", "佳", "琪", "嘉", "鑫", "晓", "海", "春", "兰", "凤", "志", "宏", "亮", "琳", "瑶"};
static const char *const streets[] = {"人民路",   "解放路",   "中山路",   "建设路",   "和平路",
                                      "文化路",   "新华路",   "青年路",   "胜利路",   "朝阳路",
                                      "长江路",   "黄河路",   "光明路",   "友谊路",   "幸福路",
                                      "迎宾大道", "滨江大道", "学院路",   "花园街",   "东风路",
                                      "工农路",   "金山路",   "沿江北路", "体育西路", "科技园路"};
static const char *const compounds[] = {"阳光花园", "锦绣家园",   "金色家园", "翠苑小区",
                                        "绿城花园", "万科城",     "碧桂园",   "世纪新城",
                                        "和谐家园", "东方明珠苑", "紫荆公寓", "康乐新村"};

/* Allocated prefixes (libphonenumber CN mobile, 2026), weighted by use. */
static const char *const mprefix[] = {
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "130", "133",
    "135", "136", "137", "138", "139", "145", "147", "150", "151", "152", "153", "155",
    "156", "157", "158", "159", "150", "151", "158", "159", "162", "165", "166", "167",
    "170", "171", "172", "173", "175", "176", "177", "178", "180", "181", "182", "183",
    "184", "185", "186", "187", "188", "189", "186", "187", "188", "189", "190", "191",
    "192", "193", "195", "196", "197", "198", "199", "198"};
/* Unallocated look-alikes (decoys): 140-144, 146, 148, 149, 154, 194. */
static const char *const badprefix[] = {"140", "141", "143", "144", "146",
                                        "148", "149", "154", "194"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void digits(char *out, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    out[n] = 0;
}

void data_mobile(uint64_t h, char *out)
{
    uint64_t x = h;
    uint64_t r = rng_splitmix(&x);
    memcpy(out, mprefix[r % N(mprefix)], 3);
    digits(out + 3, (r >> 20) % 100000000ULL, 8);
}

char data_id_check(const char *id17)
{
    static const int wt[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int s = 0;
    for (int i = 0; i < 17; i++)
        s += (id17[i] - '0') * wt[i];
    return "10X98765432"[s % 11];
}

static int mdays(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return d[m - 1];
}

/* 18-digit ID for region code, birth date and order drawn from r. */
static void make_id(char *out, const char *region, uint64_t r)
{
    int y = 1955 + (int)(r % 50), m = 1 + (int)((r >> 8) % 12);
    int d = 1 + (int)((r >> 16) % (uint64_t)mdays(y, m));
    memcpy(out, region, 6);
    digits(out + 6, (uint64_t)y, 4);
    digits(out + 10, (uint64_t)m, 2);
    digits(out + 12, (uint64_t)d, 2);
    digits(out + 14, (r >> 24) % 1000, 3);
    out[17] = data_id_check(out);
    out[18] = 0;
}

void data_person_make(uint64_t seed, int city, uint32_t idx, data_person *p)
{
    rng_t r;
    rng_seed(&r, seed ^ 0x7065727300000000ULL, (uint64_t)city << 32 | idx);
    const data_city *c = &data_cities[city];
    const char *sn = surnames[rng_below(&r, N(surnames))];
    const char *g1 = given[rng_below(&r, N(given))];
    if (rng_chance(&r, 0.3))
        snprintf(p->name, sizeof p->name, "%s%s", sn, g1);
    else
        snprintf(p->name, sizeof p->name, "%s%s%s", sn, g1, given[rng_below(&r, N(given))]);
    snprintf(p->mname, sizeof p->mname, "%s*%s", sn, strlen(p->name) > strlen(sn) + 3 ? "*" : "");
    data_mobile(rng_next(&r), p->mobile);
    int tel8 = strlen(c->area) == 3 || rng_chance(&r, 0.6);
    char sub[9];
    digits(sub, rng_range(&r, tel8 ? 20000000 : 2000000, tel8 ? 89999999 : 8999999), tel8 ? 8 : 7);
    snprintf(p->tel, sizeof p->tel, "%s-%s", c->area, sub);
    int d = (int)rng_below(&r, (uint32_t)c->ndist);
    char prefix[96];
    if (c->muni)
        snprintf(prefix, sizeof prefix, "%s%s", c->city, c->dist[d]);
    else
        snprintf(prefix, sizeof prefix, "%s%s%s", c->province, c->city, c->dist[d]);
    const char *st = streets[rng_below(&r, N(streets))];
    unsigned no = rng_range(&r, 1, 999);
    if (rng_chance(&r, 0.7)) {
        unsigned bld = rng_range(&r, 1, 30), unit = rng_range(&r, 1, 6);
        unsigned room = rng_range(&r, 1, 32) * 100 + rng_range(&r, 1, 4);
        snprintf(p->addr, sizeof p->addr, "%s%s%u号%s%u栋%u单元%u室", prefix, st, no,
                 compounds[rng_below(&r, N(compounds))], bld, unit, room);
    } else {
        snprintf(p->addr, sizeof p->addr, "%s%s%u号", prefix, st, no);
    }
    /* GB/T 41833 style: street kept, number and room hidden */
    snprintf(p->maddr, sizeof p->maddr, "%s%s***号****", prefix, st);
    make_id(p->id, c->code[d], rng_next(&r));
}

/* Carrier share (per mille) and format. */
static const struct {
    const char *name;
    int share;
} carriers[DATA_NCARRIERS] = {{"ZTO", 200},   {"YTO", 180},    {"YUNDA", 150},  {"STO", 120},
                              {"JT", 100},    {"SF", 100},     {"JD", 60},      {"EMS", 40},
                              {"DEPPON", 20}, {"CAINIAO", 20}, {"EMS-INTL", 10}};

static void s10(char *out, uint64_t v)
{
    static const int wt[8] = {8, 6, 4, 2, 3, 5, 9, 7};
    static const char *const svc[] = {"EA", "EB", "RB", "RR", "LX", "CP"};
    char d[9];
    digits(d, v % 100000000ULL, 8);
    int s = 0;
    for (int i = 0; i < 8; i++)
        s += (d[i] - '0') * wt[i];
    int r = s % 11, chk = r == 0 ? 5 : r == 1 ? 0 : 11 - r;
    snprintf(out, 24, "%s%s%dCN", svc[(v >> 40) % N(svc)], d, chk);
}

void data_waybill_seq(int c, uint64_t v, char *out)
{
    char d[20];
    switch (c) {
    case 0: /* ZTO 7[3-68]\d{12} */
        digits(d, v % 1000000000000ULL, 12);
        snprintf(out, 24, "7%c%s", "34568"[(v / 1000000000000ULL) % 5], d);
        break;
    case 1: /* YTO YT\d{13} */
        digits(d, v % 10000000000000ULL, 13);
        snprintf(out, 24, "YT%s", d);
        break;
    case 2: /* Yunda [34]\d{14} */
        digits(d, v % 100000000000000ULL, 14);
        snprintf(out, 24, "%c%s", (v / 100000000000000ULL) % 2 ? '4' : '3', d);
        break;
    case 3: /* STO 77\d{12} or 77\d{13} */
        digits(d, v % 10000000000000ULL, 13);
        snprintf(out, 24, "77%s", (v >> 50) & 1 ? d : d + 1);
        break;
    case 4: /* J&T JT\d{13} */
        digits(d, v % 10000000000000ULL, 13);
        snprintf(out, 24, "JT%s", d);
        break;
    case 5: /* SF SF\d{13} */
        digits(d, v % 10000000000000ULL, 13);
        snprintf(out, 24, "SF%s", d);
        break;
    case 6: /* JD JDV[A-E]\d{11}; the digits never start with 1, so they
               cannot read as a mobile number next to the letter */
        digits(d, 20000000000ULL + v % 70000000000ULL, 11);
        snprintf(out, 24, "JDV%c%s", 'A' + (int)((v >> 45) % 5), d);
        break;
    case 7: /* EMS 9\d{12} */
        digits(d, v % 1000000000000ULL, 12);
        snprintf(out, 24, "9%s", d);
        break;
    case 8: /* Deppon DPK\d{12} */
        digits(d, v % 1000000000000ULL, 12);
        snprintf(out, 24, "DPK%s", d);
        break;
    case 9: /* Cainiao 621\d{12} */
        digits(d, v % 1000000000000ULL, 12);
        snprintf(out, 24, "621%s", d);
        break;
    default: /* UPU S10 with its check digit */
        s10(out, v);
        break;
    }
}

static int carrier_of(uint64_t h)
{
    int x = (int)(h % 1000);
    for (int i = 0; i < DATA_NCARRIERS; i++) {
        if (x < carriers[i].share) return i;
        x -= carriers[i].share;
    }
    return 0;
}

void data_waybill_no(uint64_t h, char *out)
{
    uint64_t x = h;
    data_waybill_seq(carrier_of(h), rng_splitmix(&x), out);
}

static const char *carrier_name(const char *wb)
{
    if (wb[0] == 'Y' && wb[1] == 'T') return "YTO";
    if (wb[0] == 'S' && wb[1] == 'F') return "SF";
    if (wb[0] == 'J' && wb[1] == 'T') return "JT";
    if (wb[0] == 'J' && wb[1] == 'D') return "JD";
    if (wb[0] == 'D') return "DEPPON";
    if (wb[0] >= 'A' && wb[0] <= 'Z') return "EMS";
    if (wb[0] == '7' && wb[1] == '7') return "STO";
    if (wb[0] == '7') return "ZTO";
    if (wb[0] == '6') return "CAINIAO";
    if (wb[0] == '9') return "EMS";
    return "YUNDA";
}

static uint64_t str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 0x100000001b3ULL;
    return h;
}

static void put_kv(buf_t *b, const char *k, const char *v)
{
    buf_ch(b, '"');
    buf_str(b, k);
    buf_put(b, "\":\"", 3);
    buf_str(b, v);
    buf_ch(b, '"');
}

static void put_mobile(buf_t *b, const data_opts *o, rng_t *r, const data_person *p, int masked,
                       truth_sink *s)
{
    char m[24];
    if (masked) {
        /* the common 138****5678 (4 hidden) or the compliant 138******78 */
        if (rng_chance(r, 0.7))
            snprintf(m, sizeof m, "%.3s****%s", p->mobile, p->mobile + 7);
        else
            snprintf(m, sizeof m, "%.3s******%s", p->mobile, p->mobile + 9);
        put_kv(b, "mobile", m);
        truth_masked(s);
        return;
    }
    unsigned f = o->mixed_forms ? rng_below(r, 100) : 99;
    if (f < 4)
        snprintf(m, sizeof m, "+86 %s", p->mobile);
    else if (f < 7)
        snprintf(m, sizeof m, "%.3s-%.4s-%s", p->mobile, p->mobile + 3, p->mobile + 7);
    else
        memcpy(m, p->mobile, 12);
    put_kv(b, "mobile", m);
    truth_value(s, T_MOBILE, p->mobile, 11);
}

static void put_person(buf_t *b, const data_opts *o, rng_t *r, const char *role,
                       const data_person *p, int with_id, int with_tel, truth_sink *s)
{
    int masked = rng_chance(r, o->masked);
    buf_ch(b, '"');
    buf_str(b, role);
    buf_put(b, "\":{", 3);
    put_kv(b, "name", masked ? p->mname : p->name);
    buf_ch(b, ',');
    put_mobile(b, o, r, p, masked, s);
    if (with_tel) {
        buf_ch(b, ',');
        put_kv(b, "tel", p->tel);
        truth_value(s, T_LANDLINE, p->tel, strlen(p->tel));
    }
    buf_ch(b, ',');
    if (masked) {
        put_kv(b, "address", p->maddr);
        truth_masked(s);
    } else {
        put_kv(b, "address", p->addr);
        /* an address record is the delivery point, up to the house number
         * (号), as the sensor's rules define it (docs/rules.md): the
         * households behind one number count once */
        const char *hao = strstr(p->addr, "号");
        truth_value(s, T_ADDR, p->addr, hao ? (size_t)(hao - p->addr) + strlen("号")
                                            : strlen(p->addr));
    }
    if (with_id) {
        buf_ch(b, ',');
        if (masked || rng_chance(r, 0.2)) {
            char m[24];
            snprintf(m, sizeof m, "%.6s********%s", p->id, p->id + 14);
            put_kv(b, "idNo", m);
            truth_masked(s);
        } else {
            put_kv(b, "idNo", p->id);
            truth_value(s, T_ID, p->id, 18);
        }
    }
    buf_ch(b, '}');
}

static const char *const statuses[] = {"CREATED",   "PICKED_UP",        "IN_TRANSIT", "IN_TRANSIT",
                                       "ARRIVED",   "OUT_FOR_DELIVERY", "DELIVERED",  "DELIVERED",
                                       "DELIVERED", "SIGNED",           "RETURNED"};

void data_record_json(buf_t *b, const data_opts *o, uint64_t seed, const char *wbno, int city,
                      truth_sink *sink)
{
    rng_t r;
    rng_seed(&r, seed ^ 0x7762000000000000ULL, str_hash(wbno));
    data_person snd, rcv;
    int scity = rng_chance(&r, 0.3) ? city : (int)rng_below(&r, (uint32_t)data_ncities);
    data_person_make(seed, scity, rng_below(&r, o->pool), &snd);
    data_person_make(seed, city, rng_below(&r, o->pool), &rcv);
    int64_t created = o->day0 - (int64_t)rng_below(&r, 7 * 86400);
    int64_t lt = created + 8 * 3600;
    int64_t days = lt / 86400, sec = lt % 86400;
    /* civil date from days since 1970-01-01 (Howard Hinnant's algorithm) */
    int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int y = (int)(yoe + era * 400 + (m <= 2));

    buf_put(b, "{", 1);
    put_kv(b, "waybillNo", wbno);
    truth_value(sink, T_WAYBILL, wbno, strlen(wbno));
    buf_ch(b, ',');
    put_kv(b, "carrier", carrier_name(wbno));
    buf_ch(b, ',');
    put_kv(b, "status", statuses[rng_below(&r, N(statuses))]);
    buf_fmt(b,
            ",\"createdAt\":\"%04d-%02d-%02d %02d:%02d:%02d\",\"weightKg\":%u.%02u,\"pieces\":%u,",
            y, m, d, (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60), rng_range(&r, 0, 25),
            rng_below(&r, 100), rng_range(&r, 1, 3));
    put_person(b, o, &r, "sender", &snd, rng_chance(&r, o->id_rate), 0, sink);
    buf_ch(b, ',');
    put_person(b, o, &r, "receiver", &rcv, 0, rng_chance(&r, o->tel_rate), sink);
    buf_fmt(b, ",\"outletCode\":\"%s%02u\"", data_cities[city].code[0], rng_range(&r, 1, 20));
    if (rng_chance(&r, o->decoy)) {
        /* look-alikes that are not records: an 18-digit trace id whose
           check character is wrong, an 11-digit reference on an
           unallocated prefix, a toll-free hotline */
        char id[19], ref[12];
        make_id(id, data_cities[city].code[0], rng_next(&r));
        id[17] = id[17] == '0'   ? '1'
                 : id[17] == 'X' ? '0'
                                 : (char)(id[17] == '9' ? 'X' : id[17] + 1);
        memcpy(ref, badprefix[rng_below(&r, N(badprefix))], 3);
        digits(ref + 3, rng_below(&r, 100000000), 8);
        buf_fmt(b, ",\"traceId\":\"%s\",\"refNo\":\"%s\",\"hotline\":\"400%07u\"", id, ref,
                rng_below(&r, 10000000));
    }
    buf_ch(b, '}');
}
