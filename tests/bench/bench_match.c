/* bench_match.c - stream-mode matcher throughput over a buffer.
 *
 *   bench_match RULES.yaml [FILE] [-b BLOCK] [-r ROUNDS]
 *
 * Loads the rules, builds the database, then scans FILE (or 64 MiB of
 * generated waybill-query responses, see generate()) as one stream in
 * BLOCK-byte pieces (default 1460, a TCP segment), ROUNDS times, and prints
 * MB/s and the matcher's counters. Nothing raw is printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules/match.h"
#include "rules/ruleset.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
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
    char *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b ? (size_t)n : 0;
    return b;
}

static void on_rec(void *ud, const struct record *r)
{
    (void)r;
    (*(uint64_t *)ud)++;
}

int main(int argc, char **argv)
{
    const char *rules = NULL, *file = NULL;
    size_t block = 1460;
    int rounds = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-b") == 0 && i + 1 < argc)
            block = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!rules)
            rules = argv[i];
        else
            file = argv[i];
    }
    if (!rules || block == 0 || rounds < 1) {
        fprintf(stderr, "usage: bench_match RULES.yaml [FILE] [-b BLOCK] [-r ROUNDS]\n");
        return 2;
    }
    char err[4096];
    struct ruleset *rs = NULL;
    if (ruleset_load(&rules, 1, &rs, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct match_db *db = NULL;
    double t0 = now_s();
    if (match_db_build(rs, &db, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double t_build = now_s() - t0;
    size_t len = 0;
    char *buf = file ? read_all(file, &len) : generate(len = 64u << 20);
    if (!buf) {
        fprintf(stderr, "bench_match: cannot read %s\n", file ? file : "(generated)");
        return 1;
    }
    struct match_scratch *s = match_scratch_new(db);
    uint64_t recs = 0;
    double best = 1e9;
    for (int r = 0; r < rounds; r++) {
        t0 = now_s();
        struct match_stream *st = match_stream_open(db, s);
        for (size_t o = 0; o < len; o += block) {
            size_t n = len - o < block ? len - o : block;
            if (match_stream_scan(st, s, (const uint8_t *)buf + o, n, on_rec, &recs) != 0) break;
        }
        match_stream_close(st, s, on_rec, &recs);
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    const struct match_stats *ms = match_scratch_stats(s);
    printf("patterns %zu, build %.1f ms, stream state %zu bytes\n", rs->n_patterns, t_build * 1e3,
           match_db_stream_size(db));
    printf("%zu bytes in %zu-byte blocks: %.1f MB/s (best of %d)\n", len, block,
           (double)len / best / 1e6, rounds);
    printf("per round: raw matches %llu, rejected %llu, records %llu\n",
           (unsigned long long)(ms->raw_matches / (unsigned)rounds),
           (unsigned long long)(ms->rejected / (unsigned)rounds),
           (unsigned long long)(ms->records / (unsigned)rounds));
    match_scratch_free(s);
    match_db_free(db);
    ruleset_free(rs);
    free(buf);
    return 0;
}
