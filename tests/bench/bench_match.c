/* bench_match.c - matcher throughput and record lists over a corpus.
 *
 *   bench_match RULES.yaml [INPUT...] [-b BLOCK] [-r ROUNDS] [--dump OUT]
 *
 * INPUT is a file (one stream) or a directory (each regular file in it is
 * one stream, in name order, e.g. the HTTP bodies `tshark --export-objects`
 * wrote); without INPUT, 64 MiB of generated waybill-query responses (see
 * generate()) make one stream. Each stream is scanned in BLOCK-byte pieces
 * (default 1460, a TCP segment), ROUNDS times (default 5), and the best
 * round's CPU time (this thread's, steadier than wall time on a shared
 * machine) gives MB/s for each way of running the matcher:
 *
 *   full        the matcher as the sensor runs it (normalise, pre-pass,
 *               Hyperscan, values, validators)
 *   no-decode   the same without decoding escapes and full-width characters
 *   hs-only     Hyperscan alone over its patterns: matches counted, no values
 *   prepass     the digit-run pre-pass alone: run ends counted, no values
 *   engines     both engines, no values (what callbacks add is full - this)
 *
 * --dump OUT writes the records of the full run, one line per record:
 * "stream pattern_id end_off src_len fnv64(value)", sorted, so two builds'
 * lists can be compared with diff/comm. No raw value is ever printed.
 *
 * Built with -DBENCH_OLD it uses only the matcher API of before the pre-pass
 * (for comparing against an older rules/match.c). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rules/match.h"
#include "rules/ruleset.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x853c49e6748fea9bULL;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((rng_state >> 33) % n);
}

static size_t put_digits(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('0' + rnd(10));
    return n;
}

/* Generated traffic: waybill-query JSON responses, one record of about 330
 * bytes with a waybill, two names, two mobiles, two addresses, a timestamp
 * and other digits that are not records. */
static char *generate(size_t size)
{
    static const char *const addr[] = {"广东省深圳市南山区科技园路1号", "北京市朝阳区建国路88号",
                                       "浙江省杭州市西湖区文三路12号"};
    char *b = malloc(size + 1024);
    if (!b) return NULL;
    size_t o = 0;
    while (o < size) {
        char d[4][16];
        for (int i = 0; i < 4; i++) {
            put_digits(d[i], 15);
            d[i][15] = 0;
        }
        o += (size_t)sprintf(
            b + o,
            "{\"waybillNo\":\"YT%.13s\",\"status\":\"SIGNED\",\"weight\":1.%u,"
            "\"receiver\":{\"name\":\"张三\",\"mobile\":\"13%.9s\",\"address\":\"%s\"},"
            "\"sender\":{\"name\":\"李四\",\"mobile\":\"18%.9s\",\"address\":\"%s\"},"
            "\"createdAt\":\"2024-05-01 10:%02u:%02u\",\"ts\":17%.11s,\"fee\":%u}\n",
            d[0], rnd(100), d[1], addr[rnd(3)], d[2], addr[rnd(3)], rnd(60), rnd(60), d[3],
            rnd(10000));
    }
    return b;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b && n > 0 ? (size_t)n : 0;
    return b;
}

struct stream_in {
    char *data;
    size_t len;
};

struct corpus {
    struct stream_in *s;
    size_t n, cap, bytes;
};

static int corpus_add(struct corpus *c, char *data, size_t len)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 64;
        struct stream_in *ns = realloc(c->s, nc * sizeof(*ns));
        if (!ns) return -1;
        c->s = ns, c->cap = nc;
    }
    c->s[c->n].data = data;
    c->s[c->n].len = len;
    c->n++;
    c->bytes += len;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int corpus_path(struct corpus *c, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return -1;
    if (!S_ISDIR(sb.st_mode)) {
        size_t len;
        char *d = read_all(path, &len);
        return d ? corpus_add(c, d, len) : -1;
    }
    DIR *dir = opendir(path);
    if (!dir) return -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn) break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof(*names), cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, names[i]);
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
            size_t len;
            char *d = read_all(p, &len);
            if (!d || corpus_add(c, d, len) != 0) rc = -1;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---- records ---------------------------------------------------------------- */

struct dumprec {
    uint32_t stream;
    uint16_t pattern;
    uint16_t src_len;
    uint64_t end_off, hash;
};

struct sink {
    uint64_t n;
    uint32_t stream;
    struct dumprec *r; /* when dumping */
    size_t len, cap;
};

static uint64_t fnv64(const uint8_t *v, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ v[i]) * 1099511628211ULL;
    return h;
}

static void on_rec(void *ud, const struct record *r)
{
    struct sink *k = ud;
    k->n++;
    if (!k->cap) return;
    if (k->len == k->cap) {
        size_t nc = 2 * k->cap;
        struct dumprec *nr = realloc(k->r, nc * sizeof(*nr));
        if (!nr) return;
        k->r = nr, k->cap = nc;
    }
    struct dumprec *d = &k->r[k->len++];
    d->stream = k->stream;
    d->pattern = r->pattern;
#ifdef BENCH_OLD
    d->src_len = r->len;
#else
    d->src_len = r->src_len;
#endif
    d->end_off = r->end_off;
    d->hash = fnv64(r->value, r->len);
}

static int cmp_rec(const void *a, const void *b)
{
    const struct dumprec *x = a, *y = b;
    if (x->stream != y->stream) return x->stream < y->stream ? -1 : 1;
    if (x->end_off != y->end_off) return x->end_off < y->end_off ? -1 : 1;
    if (x->pattern != y->pattern) return x->pattern < y->pattern ? -1 : 1;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* Scans the corpus once; returns CPU seconds. */
static double run_once(const struct match_db *db, struct match_scratch *s, const struct corpus *c,
                       size_t block, struct sink *k)
{
    double t0 = cpu_s();
    for (size_t i = 0; i < c->n; i++) {
        k->stream = (uint32_t)i;
        struct match_stream *st = match_stream_open(db, s);
        if (!st) break;
        const uint8_t *d = (const uint8_t *)c->s[i].data;
        size_t len = c->s[i].len;
        for (size_t o = 0; o < len; o += block) {
            size_t n = len - o < block ? len - o : block;
            if (match_stream_scan(st, s, d + o, n, on_rec, k) != 0) break;
        }
        match_stream_close(st, s, on_rec, k);
    }
    return cpu_s() - t0;
}

int main(int argc, char **argv)
{
    const char *rules = NULL, *dump = NULL;
    const char *inputs[64];
    size_t n_inputs = 0;
    size_t block = 1460;
    int rounds = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-b") == 0 && i + 1 < argc)
            block = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc)
            dump = argv[++i];
        else if (!rules)
            rules = argv[i];
        else if (n_inputs < 64)
            inputs[n_inputs++] = argv[i];
    }
    if (!rules || block == 0 || rounds < 1) {
        fprintf(stderr, "usage: bench_match RULES.yaml [FILE|DIR...] [-b BLOCK] [-r ROUNDS] "
                        "[--dump OUT]\n");
        return 2;
    }
    char err[4096];
    struct ruleset *rs = NULL;
    if (ruleset_load(&rules, 1, &rs, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct match_db *db = NULL;
    double t0 = cpu_s();
    if (match_db_build(rs, &db, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double t_build = cpu_s() - t0;
    struct corpus c = {0};
    for (size_t i = 0; i < n_inputs; i++)
        if (corpus_path(&c, inputs[i]) != 0) {
            fprintf(stderr, "bench_match: cannot read %s\n", inputs[i]);
            return 1;
        }
    if (!n_inputs) {
        char *g = generate(64u << 20);
        if (!g || corpus_add(&c, g, 64u << 20) != 0) return 1;
    }
    struct match_scratch *s = match_scratch_new(db);
    if (!s) return 1;
#ifdef BENCH_OLD
    printf("patterns %zu, build %.1f ms, stream state %zu bytes\n", rs->n_patterns,
           t_build * 1e3, match_db_stream_size(db));
    static const struct {
        const char *name;
        unsigned flags;
    } modes[] = {{"full", 0}};
#else
    printf("patterns %zu (%zu in the pre-pass), build %.1f ms, stream state %zu bytes\n",
           rs->n_patterns, match_db_prepass_patterns(db), t_build * 1e3,
           match_db_stream_size(db));
    static const struct {
        const char *name;
        unsigned flags;
    } modes[] = {
        {"full", 0},
        {"no-decode", MATCH_NO_NORMALIZE},
        {"hs-only", MATCH_NO_NORMALIZE | MATCH_NO_PREPASS | MATCH_RAW_ONLY},
        {"prepass", MATCH_NO_NORMALIZE | MATCH_NO_HS | MATCH_RAW_ONLY},
        {"engines", MATCH_NO_NORMALIZE | MATCH_RAW_ONLY},
    };
#endif
    printf("%zu streams, %zu bytes, %zu-byte blocks, best of %d (CPU time)\n", c.n, c.bytes,
           block, rounds);
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
#ifndef BENCH_OLD
        match_scratch_set_flags(s, modes[m].flags);
#endif
        double best = 1e9;
        struct sink k = {0};
        uint64_t raw0 = match_scratch_stats(s)->raw_matches;
        for (int r = 0; r < rounds; r++) {
            k.n = 0;
            double t = run_once(db, s, &c, block, &k);
            if (t < best) best = t;
        }
        printf("  %-10s %8.1f MB/s  records %llu, raw matches %llu\n", modes[m].name,
               (double)c.bytes / best / 1e6, (unsigned long long)k.n,
               (unsigned long long)((match_scratch_stats(s)->raw_matches - raw0) /
                                    (unsigned)rounds));
    }
    int rc = 0;
    if (dump) {
#ifndef BENCH_OLD
        match_scratch_set_flags(s, 0);
#endif
        struct sink k = {.cap = 1024};
        k.r = malloc(k.cap * sizeof(*k.r));
        run_once(db, s, &c, block, &k);
        qsort(k.r, k.len, sizeof(*k.r), cmp_rec);
        FILE *f = fopen(dump, "w");
        if (!f) {
            fprintf(stderr, "bench_match: cannot write %s\n", dump);
            rc = 1;
        } else {
            for (size_t i = 0; i < k.len; i++)
                fprintf(f, "%u %s %llu %u %016llx\n", k.r[i].stream,
                        rs->patterns[k.r[i].pattern].id, (unsigned long long)k.r[i].end_off,
                        k.r[i].src_len, (unsigned long long)k.r[i].hash);
            fclose(f);
        }
        free(k.r);
    }
    match_scratch_free(s);
    match_db_free(db);
    ruleset_free(rs);
    for (size_t i = 0; i < c.n; i++)
        free(c.s[i].data);
    free(c.s);
    return rc;
}
