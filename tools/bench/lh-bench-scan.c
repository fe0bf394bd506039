/* lh-bench-scan.c - the benchmark's ceiling: Hyperscan alone over the
 * capture's TCP payloads.
 *
 * In: rule files and capture files. Out: JSON lines on stdout (one "meta"
 * line, then one line per scan mode with the median of --runs runs).
 *
 * Load phase (not timed as scanning): the capture is read with the
 * project's own capture, decoder, flow table and TCP reassembly (the same
 * modules and defaults as the sensor's worker, checksum-bad segments dropped
 * as the worker does), and every in-order byte each direction of each TCP
 * flow delivers is copied into one arena, in delivery (= capture) order,
 * with explicit gap and end marks. So the scans below see exactly the
 * bytes, splits and order the sensor's matcher would see in raw mode.
 *
 * Scan phase (timed with the process CPU clock, nothing else in the loop):
 *   hs_stream        one Hyperscan stream per flow direction, every TCP
 *                    payload byte; a gap resets the stream (hs_reset_stream)
 *   hs_stream_notls  the same, flows whose first bytes look like TLS left out
 *                    (what the worker skips before nDPI has spoken)
 *   hs_block         hs_scan on each delivered piece on its own (block mode
 *                    misses records split across segments: for comparison)
 *   match_stream     the project's matcher (rules/match.h): Hyperscan plus
 *                    look-back, boundaries and validators, records counted
 *
 * The raw databases are compiled from the ruleset's regexes and flags (less
 * SINGLEMATCH and SOM_LEFTMOST), once in stream and once in block mode. A
 * pattern with a context is compiled as what one regex would have to say,
 * "(?flags:context)(?:regex)": the straightforward design has no other way
 * to ask for a field name before a value. Not part of the sensor: it includes
 * <hs.h> on its own, and allocates freely. */
#include <hs.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rules/match.h"
#include "rules/ruleset.h"
#include "sensor/capture.h"
#include "sensor/decode.h"
#include "sensor/flow.h"
#include "sensor/reassembly.h"

#define MAX_FILES 64
#define MAX_RUNS 99

enum chunk_kind { CH_DATA = 0, CH_GAP = 1, CH_END = 2 };

/* One delivery of the reassembler: len bytes at arena+off for stream sid. */
struct chunk {
    uint64_t off;
    uint32_t sid;
    uint32_t len;
    uint8_t kind;
    uint8_t tls; /* the stream's flow opened like TLS */
};

struct load {
    uint8_t *arena;
    size_t arena_len, arena_cap;
    struct chunk *ch;
    size_t n_ch, cap_ch;
    uint32_t n_streams;
    uint64_t packets, wire_bytes, tcp_segments;
    uint64_t next_expire;
    struct decoder *dec;
    struct flow_table *ft;
    struct reasm_ctx *reasm;
    int oom;
};

struct fstate;
struct dctx {
    struct load *L;
    struct fstate *fs;
    uint32_t sid;
};

struct fstate {
    struct reasm_stream rs[2];
    struct dctx dc[2];
    int8_t tls; /* -1 undecided */
};

static double now_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_chunk(struct load *L, uint32_t sid, uint8_t kind, uint8_t tls, const uint8_t *d,
                      size_t len)
{
    if (L->n_ch == L->cap_ch) {
        size_t nc = L->cap_ch ? L->cap_ch * 2 : 1 << 16;
        struct chunk *n = realloc(L->ch, nc * sizeof(*n));
        if (!n) {
            L->oom = 1;
            return;
        }
        L->ch = n;
        L->cap_ch = nc;
    }
    if (len && L->arena_len + len > L->arena_cap) {
        size_t nc = L->arena_cap * 2 + len;
        uint8_t *n = realloc(L->arena, nc);
        if (!n) {
            L->oom = 1;
            return;
        }
        L->arena = n;
        L->arena_cap = nc;
    }
    struct chunk *c = &L->ch[L->n_ch++];
    *c = (struct chunk){L->arena_len, sid, (uint32_t)len, kind, tls};
    if (len) {
        memcpy(L->arena + L->arena_len, d, len);
        L->arena_len += len;
    }
}

static int looks_like_tls(const uint8_t *d, size_t len)
{
    return len >= 3 && d[0] == 0x16 && d[1] == 0x03 && d[2] <= 0x04;
}

static void sink_data(void *ud, uint64_t off, const uint8_t *data, size_t len)
{
    (void)off;
    struct dctx *dc = ud;
    if (dc->fs->tls < 0)
        dc->fs->tls = (int8_t)looks_like_tls(data, len);
    add_chunk(dc->L, dc->sid, CH_DATA, (uint8_t)dc->fs->tls, data, len);
}

static void sink_gap(void *ud, uint64_t off, uint64_t len)
{
    (void)off;
    (void)len;
    struct dctx *dc = ud;
    add_chunk(dc->L, dc->sid, CH_GAP, (uint8_t)(dc->fs->tls > 0), NULL, 0);
}

static void sink_end(void *ud)
{
    struct dctx *dc = ud;
    add_chunk(dc->L, dc->sid, CH_END, (uint8_t)(dc->fs->tls > 0), NULL, 0);
}

static void on_flow_end(struct flow *f, void *ud)
{
    struct load *L = ud;
    struct fstate *fs = f->user;
    if (!fs)
        return;
    for (int d = 0; d < 2; d++)
        reasm_stream_close(L->reasm, &fs->rs[d]);
    free(fs);
    f->user = NULL;
}

static int on_packet(void *ud, struct packet *p)
{
    struct load *L = ud;
    L->packets++;
    L->wire_bytes += p->wirelen;
    if (p->ts_us >= L->next_expire) {
        flow_table_expire(L->ft, p->ts_us);
        decoder_expire(L->dec, p->ts_us);
        L->next_expire = p->ts_us + 1000000u;
    }
    if (decode_packet(L->dec, p) != DECODE_OK || p->ip_ver == 0 || p->proto != 6)
        return 0;
    enum flow_dir dir;
    struct flow *f = flow_lookup(L->ft, p, &dir);
    if (!f)
        return 0;
    struct fstate *fs = f->user;
    if (!fs) {
        fs = calloc(1, sizeof(*fs));
        if (!fs) {
            L->oom = 1;
            return 1;
        }
        fs->tls = -1;
        for (int d = 0; d < 2; d++) {
            fs->dc[d] = (struct dctx){L, fs, L->n_streams++};
            struct reasm_sink sink = {sink_data, sink_gap, sink_end, &fs->dc[d]};
            reasm_stream_init(&fs->rs[d], &sink);
        }
        f->user = fs;
    }
    if (p->csum_bad)
        return 0;
    L->tcp_segments++;
    reasm_segment(L->reasm, &fs->rs[dir], p->seq, p->tcp_flags, p->payload, p->payload_len);
    return L->oom;
}

/* ---- scans ----------------------------------------------------------------- */

struct result {
    double cpu_s, wall_s;
    uint64_t bytes, matches, streams;
};

static int on_hs_match(unsigned int id, unsigned long long from, unsigned long long to,
                       unsigned int flags, void *ctx)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    (*(uint64_t *)ctx)++;
    return 0;
}

static void on_record(void *ud, const struct record *r)
{
    (void)r;
    (*(uint64_t *)ud)++;
}

/* mode: 0 hs_stream, 1 hs_stream_notls, 2 hs_block, 3 match_stream */
static int scan_once(const struct load *L, int mode, const hs_database_t *sdb,
                     const hs_database_t *bdb, hs_scratch_t *hscr, const struct match_db *mdb,
                     struct match_scratch *mscr, void **streams, struct result *r)
{
    memset(r, 0, sizeof(*r));
    memset(streams, 0, (size_t)L->n_streams * sizeof(void *));
    uint64_t m = 0;
    int rc = 0;
    double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t i = 0; i < L->n_ch && rc == 0; i++) {
        const struct chunk *c = &L->ch[i];
        if (mode == 1 && c->tls)
            continue;
        const uint8_t *d = L->arena + c->off;
        if (mode == 2) {
            if (c->kind == CH_DATA) {
                if (hs_scan(bdb, (const char *)d, c->len, 0, hscr, on_hs_match, &m) != HS_SUCCESS)
                    rc = -1;
                r->bytes += c->len;
            }
            continue;
        }
        void **sp = &streams[c->sid];
        if (mode == 3) {
            struct match_stream *ms = *sp;
            if (c->kind == CH_DATA) {
                if (!ms) {
                    ms = match_stream_open(mdb, mscr);
                    if (!ms)
                        return -1;
                    *sp = ms;
                    r->streams++;
                }
                if (match_stream_scan(ms, mscr, d, c->len, on_record, &m) != 0)
                    rc = -1;
                r->bytes += c->len;
            } else if (ms && c->kind == CH_GAP) {
                match_stream_gap(ms);
            } else if (ms) {
                match_stream_close(ms, mscr, on_record, &m);
                *sp = NULL;
            }
            continue;
        }
        hs_stream_t *hs = *sp;
        if (c->kind == CH_DATA) {
            if (!hs) {
                if (hs_open_stream(sdb, 0, &hs) != HS_SUCCESS)
                    return -1;
                *sp = hs;
                r->streams++;
            }
            if (hs_scan_stream(hs, (const char *)d, c->len, 0, hscr, on_hs_match, &m) !=
                HS_SUCCESS)
                rc = -1;
            r->bytes += c->len;
        } else if (hs && c->kind == CH_GAP) {
            hs_reset_stream(hs, 0, hscr, on_hs_match, &m);
        } else if (hs) {
            hs_close_stream(hs, hscr, on_hs_match, &m);
            *sp = NULL;
        }
    }
    r->cpu_s = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    r->wall_s = now_s(CLOCK_MONOTONIC) - w0;
    r->matches = m;
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The one regex a pattern stands for: its regex, or with a context
 * "(?FLAGS:context)(?:regex)", the context's own case, dot and line flags
 * inline (the pattern's flags apply to the whole). */
static char *raw_expr(const struct rule_pattern *p)
{
    if (!p->context) return strdup(p->regex);
    static const struct {
        unsigned flag;
        char c;
    } inl[] = {{HS_FLAG_CASELESS, 'i'}, {HS_FLAG_DOTALL, 's'}, {HS_FLAG_MULTILINE, 'm'}};
    char on[4] = "", off[5] = "-";
    size_t non = 0, noff = 1;
    for (size_t k = 0; k < 3; k++) {
        bool want = p->context_flags & inl[k].flag, have = p->hs_flags & inl[k].flag;
        if (want && !have) on[non++] = inl[k].c;
        if (!want && have) off[noff++] = inl[k].c;
    }
    on[non] = off[noff] = '\0';
    size_t n = strlen(p->context) + strlen(p->regex) + 32;
    char *e = malloc(n);
    if (e)
        snprintf(e, n, "(?%s%s:%s)(?:%s)", on, noff > 1 ? off : "", p->context, p->regex);
    return e;
}

static int compile_raw(const struct ruleset *rs, unsigned mode, hs_database_t **db)
{
    size_t n = rs->n_patterns;
    char **ex = calloc(n, sizeof(*ex));
    unsigned *fl = calloc(n, sizeof(*fl)), *ids = calloc(n, sizeof(*ids));
    hs_compile_error_t *cerr = NULL;
    int rc = -1;
    if (ex && fl && ids) {
        bool ok = true;
        for (size_t i = 0; i < n; i++) {
            const struct rule_pattern *p = &rs->patterns[i];
            ok &= (ex[i] = raw_expr(p)) != NULL;
            fl[i] = (p->hs_flags | (p->context ? p->context_flags & (HS_FLAG_UTF8 | HS_FLAG_UCP)
                                               : 0)) &
                    ~(unsigned)(HS_FLAG_SINGLEMATCH | HS_FLAG_SOM_LEFTMOST);
            ids[i] = (unsigned)i;
        }
        if (ok && hs_compile_multi((const char *const *)ex, fl, ids, (unsigned)n, mode, NULL, db,
                                   &cerr) == HS_SUCCESS)
            rc = 0;
        else
            fprintf(stderr, "lh-bench-scan: hs_compile_multi: %s\n",
                    cerr && cerr->message ? cerr->message : "failed");
    }
    hs_free_compile_error(cerr);
    for (size_t i = 0; ex && i < n; i++)
        free(ex[i]);
    free(ex);
    free(fl);
    free(ids);
    return rc;
}

static void usage(FILE *f)
{
    fputs("usage: lh-bench-scan [-R RULES]... [--runs N] [--modes LIST] FILE.pcap ...\n"
          "  -R PATH       rule file or directory (default rules/pii-cn.yaml)\n"
          "  --runs N      scans per mode; the median is printed (default 5)\n"
          "  --modes LIST  comma list of hs_stream,hs_stream_notls,hs_block,match_stream\n"
          "                (default all)\n"
          "  --sizes       print the state sizes only (no capture needed)\n",
          f);
}

int main(int argc, char **argv)
{
    static const char *mode_names[] = {"hs_stream", "hs_stream_notls", "hs_block",
                                       "match_stream"};
    const char *rules[MAX_FILES], *files[MAX_FILES];
    size_t n_rules = 0, n_files = 0;
    int runs = 5, sizes_only = 0, want[4] = {1, 1, 1, 1};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-R") && i + 1 < argc && n_rules < MAX_FILES) {
            rules[n_rules++] = argv[++i];
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            runs = atoi(argv[++i]);
            if (runs < 1 || runs > MAX_RUNS) {
                fprintf(stderr, "lh-bench-scan: --runs: 1 to %d\n", MAX_RUNS);
                return 1;
            }
        } else if (!strcmp(argv[i], "--modes") && i + 1 < argc) {
            const char *l = argv[++i];
            for (int k = 0; k < 4; k++) {
                const char *s = strstr(l, mode_names[k]);
                size_t n = strlen(mode_names[k]);
                /* whole items only: hs_stream must not match hs_stream_notls */
                while (s && ((s != l && s[-1] != ',') || (s[n] && s[n] != ',')))
                    s = strstr(s + 1, mode_names[k]);
                want[k] = s != NULL;
            }
        } else if (!strcmp(argv[i], "--sizes")) {
            sizes_only = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            usage(stderr);
            return 1;
        } else if (n_files < MAX_FILES) {
            files[n_files++] = argv[i];
        }
    }
    if (!n_rules)
        rules[n_rules++] = "rules/pii-cn.yaml";
    if (!n_files && !sizes_only) {
        usage(stderr);
        return 1;
    }

    static char err[8192];
    struct ruleset *rs = NULL;
    struct match_db *mdb = NULL;
    if (ruleset_load(rules, n_rules, &rs, err, sizeof(err)) != 0 ||
        match_db_build(rs, &mdb, err, sizeof(err)) != 0) {
        fprintf(stderr, "lh-bench-scan: %s\n", err);
        return 1;
    }
    hs_database_t *sdb = NULL, *bdb = NULL;
    if (compile_raw(rs, HS_MODE_STREAM, &sdb) || compile_raw(rs, HS_MODE_BLOCK, &bdb))
        return 1;
    size_t hs_ss = 0, hs_db_sz = 0;
    hs_stream_size(sdb, &hs_ss);
    hs_database_size(sdb, &hs_db_sz);

    struct flow_config fcfg;
    flow_config_default(&fcfg);
    fcfg.user_size = sizeof(struct fstate);
    if (sizes_only) {
        printf("{\"kind\":\"sizes\",\"patterns\":%zu,\"sizeof_flow\":%zu,"
               "\"sizeof_reasm_stream\":%zu,\"hs_stream_state\":%zu,\"match_stream_state\":%zu,"
               "\"hs_database\":%zu,\"sizeof_packet\":%zu}\n",
               rs->n_patterns, sizeof(struct flow), sizeof(struct reasm_stream), hs_ss,
               match_db_stream_size(mdb), hs_db_sz, sizeof(struct packet));
        return 0;
    }

    /* load */
    struct load L;
    memset(&L, 0, sizeof(L));
    struct stat sb;
    for (size_t i = 0; i < n_files; i++)
        if (stat(files[i], &sb) == 0)
            L.arena_cap += (size_t)sb.st_size;
    L.arena_cap = L.arena_cap ? L.arena_cap : 1 << 20;
    L.arena = malloc(L.arena_cap);
    struct decode_config dcfg;
    decode_config_default(&dcfg);
    struct reasm_config rcfg;
    reasm_config_default(&rcfg);
    L.dec = decoder_new(&dcfg);
    L.ft = flow_table_new(&fcfg, on_flow_end, &L);
    L.reasm = reasm_ctx_new(&rcfg);
    struct capture_config ccfg;
    capture_config_default(&ccfg);
    ccfg.inputs = files;
    ccfg.n_inputs = n_files;
    struct capture *cap = NULL;
    if (!L.arena || !L.dec || !L.ft || !L.reasm ||
        capture_open(&ccfg, &cap, err, sizeof(err)) != 0) {
        fprintf(stderr, "lh-bench-scan: %s\n", err[0] ? err : "out of memory");
        return 2;
    }
    volatile sig_atomic_t stop = 0;
    double lw0 = now_s(CLOCK_MONOTONIC), lc0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    if (capture_run(cap, on_packet, NULL, &L, &stop, err, sizeof(err)) != 0) {
        fprintf(stderr, "lh-bench-scan: %s\n", err);
        return 2;
    }
    flow_table_free(L.ft); /* ends every flow: reassembly closes, end marks */
    double load_wall = now_s(CLOCK_MONOTONIC) - lw0, load_cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - lc0;
    if (L.oom) {
        fprintf(stderr, "lh-bench-scan: out of memory loading the payloads\n");
        return 2;
    }
    uint64_t tls_bytes = 0;
    for (size_t i = 0; i < L.n_ch; i++)
        if (L.ch[i].tls && L.ch[i].kind == CH_DATA)
            tls_bytes += L.ch[i].len;
    const struct reasm_stats *rst = reasm_ctx_stats(L.reasm);
    printf("{\"kind\":\"meta\",\"packets\":%llu,\"wire_bytes\":%llu,\"tcp_segments\":%llu,"
           "\"payload_bytes\":%zu,\"tls_payload_bytes\":%llu,\"streams\":%u,\"chunks\":%zu,"
           "\"gaps\":%llu,\"load_cpu_s\":%.3f,\"load_wall_s\":%.3f,\"patterns\":%zu,"
           "\"sizeof_flow\":%zu,\"sizeof_reasm_stream\":%zu,\"hs_stream_state\":%zu,"
           "\"match_stream_state\":%zu,\"hs_database\":%zu}\n",
           (unsigned long long)L.packets, (unsigned long long)L.wire_bytes,
           (unsigned long long)L.tcp_segments, L.arena_len, (unsigned long long)tls_bytes,
           L.n_streams, L.n_ch, (unsigned long long)rst->gaps, load_cpu, load_wall,
           rs->n_patterns, sizeof(struct flow), sizeof(struct reasm_stream), hs_ss,
           match_db_stream_size(mdb), hs_db_sz);
    fflush(stdout);
    capture_close(cap);
    reasm_ctx_free(L.reasm);
    decoder_free(L.dec);

    /* scans */
    hs_scratch_t *hscr = NULL;
    if (hs_alloc_scratch(sdb, &hscr) != HS_SUCCESS || hs_alloc_scratch(bdb, &hscr) != HS_SUCCESS)
        return 2;
    struct match_scratch *mscr = match_scratch_new(mdb);
    void **streams = calloc(L.n_streams ? L.n_streams : 1, sizeof(void *));
    if (!mscr || !streams)
        return 2;
    for (int k = 0; k < 4; k++) {
        if (!want[k])
            continue;
        double cpu[MAX_RUNS], wall[MAX_RUNS];
        struct result r;
        for (int i = 0; i < runs; i++) {
            if (scan_once(&L, k, sdb, bdb, hscr, mdb, mscr, streams, &r) != 0) {
                fprintf(stderr, "lh-bench-scan: %s: scan failed\n", mode_names[k]);
                return 2;
            }
            cpu[i] = r.cpu_s;
            wall[i] = r.wall_s;
        }
        double cmin = cpu[0], cmax = cpu[0];
        for (int i = 1; i < runs; i++) {
            cmin = cpu[i] < cmin ? cpu[i] : cmin;
            cmax = cpu[i] > cmax ? cpu[i] : cmax;
        }
        printf("{\"kind\":\"scan\",\"mode\":\"%s\",\"runs\":%d,\"cpu_s\":%.6f,\"wall_s\":%.6f,"
               "\"cpu_min_s\":%.6f,\"cpu_max_s\":%.6f,\"bytes\":%llu,\"matches\":%llu,"
               "\"streams\":%llu}\n",
               mode_names[k], runs, median(cpu, runs), median(wall, runs), cmin, cmax,
               (unsigned long long)r.bytes, (unsigned long long)r.matches,
               (unsigned long long)r.streams);
        fflush(stdout);
    }
    free(streams);
    match_scratch_free(mscr);
    hs_free_scratch(hscr);
    hs_free_database(sdb);
    hs_free_database(bdb);
    match_db_free(mdb);
    ruleset_free(rs);
    free(L.arena);
    free(L.ch);
    return 0;
}
