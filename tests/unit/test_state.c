/* test_state.c - the state file: framing, corruption, atomic replace, and
 * the engine's save/load round trip (baselines, known hosts, rolling
 * counts, open episodes survive; a corrupt file means a fresh start,
 * reported once). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "check.h"
#include "rules/detect.h"
#include "rules/detect_rules.h"
#include "rules/ruleset.h"
#include "rules/state.h"

#define T0 (1767225600ull * 1000000ull)
#define HOUR (3600ull * 1000000ull)

static char dir[64];

static int count_tmp_files(void)
{
    DIR *dh = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dh)))
        n += strstr(de->d_name, ".tmp.") != NULL;
    closedir(dh);
    return n;
}

static void test_framing(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/state", dir);
    struct state_buf b;
    state_buf_init(&b);
    state_put_u32(&b, 0xdeadbeef);
    state_put_str(&b, "E10234");
    state_put_f64(&b, 2.5);
    state_put_u64(&b, 1ull << 60);
    char err[512];
    CHECK_EQ(state_save(path, &b, err, sizeof err), 0);
    uint8_t *p;
    size_t len;
    CHECK_EQ(state_load(path, &p, &len, err, sizeof err), 0);
    CHECK_EQ(len, b.len);
    struct state_rd r = {.p = p, .len = len};
    CHECK_EQ(state_get_u32(&r), 0xdeadbeef);
    char s[16];
    state_get_str(&r, s, sizeof s);
    CHECK_STR(s, "E10234");
    CHECK(state_get_f64(&r) == 2.5);
    CHECK_EQ(state_get_u64(&r), 1ull << 60);
    CHECK_EQ(r.bad, 0);
    state_get_u8(&r); /* past the end */
    CHECK_EQ(r.bad, 1);
    free(p);

    /* missing */
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    CHECK_EQ(state_load(missing, &p, &len, err, sizeof err), -ENOENT);
    /* one flipped payload byte: checksum */
    FILE *f = fopen(path, "r+b");
    fseek(f, -3, SEEK_END);
    fputc('Z', f);
    fclose(f);
    CHECK_EQ(state_load(path, &p, &len, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "checksum") != NULL);
    /* truncated */
    CHECK_EQ(state_save(path, &b, err, sizeof err), 0);
    CHECK_EQ(truncate(path, 30), 0);
    CHECK_EQ(state_load(path, &p, &len, err, sizeof err), -EINVAL);
    /* another version */
    CHECK_EQ(state_save(path, &b, err, sizeof err), 0);
    f = fopen(path, "r+b");
    fseek(f, 8, SEEK_SET);
    fputc(99, f);
    fclose(f);
    CHECK_EQ(state_load(path, &p, &len, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "version 99") != NULL);
    /* not ours at all */
    f = fopen(path, "wb");
    fputs("{\"json\": true}\n", f);
    fclose(f);
    CHECK_EQ(state_load(path, &p, &len, err, sizeof err), -EINVAL);
    state_buf_free(&b);
}

static void test_atomic(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/atomic", dir);
    struct state_buf small, big;
    state_buf_init(&small);
    state_buf_init(&big);
    state_put_str(&small, "old contents");
    for (int i = 0; i < 100000; i++)
        state_put_u64(&big, (uint64_t)i);
    char err[512];
    CHECK_EQ(state_save(path, &small, err, sizeof err), 0);
    struct stat st0;
    stat(path, &st0);

    /* a write that fails half-way (file size limit, like a full disk) */
    struct rlimit old, lim = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
    getrlimit(RLIMIT_FSIZE, &old);
    lim.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    CHECK_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
    CHECK_EQ(state_save(path, &big, err, sizeof err), -1);
    setrlimit(RLIMIT_FSIZE, &old);
    printf("failed save reported as: %s\n", err);
    CHECK(strstr(err, "previous state kept") != NULL);
    uint8_t *p;
    size_t len;
    CHECK_EQ(state_load(path, &p, &len, err, sizeof err), 0); /* the old file, whole */
    CHECK_EQ(len, small.len);
    CHECK(p && memcmp(p, small.p, len) == 0);
    free(p);
    CHECK_EQ(count_tmp_files(), 0);

    /* the rename fails (the target is a directory): temp removed */
    char dpath[128];
    snprintf(dpath, sizeof dpath, "%s/isdir", dir);
    mkdir(dpath, 0700);
    CHECK_EQ(state_save(dpath, &small, err, sizeof err), -1);
    CHECK(strstr(err, "rename") != NULL);
    CHECK_EQ(count_tmp_files(), 0);
    rmdir(dpath);

    /* a directory that does not exist */
    char npath[160];
    snprintf(npath, sizeof npath, "%s/no/such/dir/state", dir);
    CHECK_EQ(state_save(npath, &small, err, sizeof err), -1);

    /* and a good save replaces the old file */
    CHECK_EQ(state_save(path, &big, err, sizeof err), 0);
    CHECK_EQ(state_load(path, &p, &len, err, sizeof err), 0);
    CHECK_EQ(len, big.len);
    free(p);
    state_buf_free(&small);
    state_buf_free(&big);
}

/* ---- the engine ------------------------------------------------------------- */

static const char *const RULES = "detections:\n"
                                 "  - id: rv\n"
                                 "    type: volume\n"
                                 "    count: {records: [phone]}\n"
                                 "    window: 2h\n"
                                 "    at_least: 500\n"
                                 "  - id: an\n"
                                 "    type: anomaly\n"
                                 "    count: {endpoint: waybill_query}\n"
                                 "    window: 1h\n"
                                 "    baseline: {ratio: 10, min: 100, learn: 1d}\n"
                                 "  - id: ns\n"
                                 "    type: new_source\n"
                                 "    learn: 1d\n";

static int ep_index(void *ud, const char *id)
{
    (void)ud;
    return strcmp(id, "waybill_query") == 0 ? 0 : -1;
}

static struct detect_rules *load_rules(void)
{
    yaml_parser_t ps;
    yaml_document_t doc;
    yaml_parser_initialize(&ps);
    yaml_parser_set_input_string(&ps, (const unsigned char *)RULES, strlen(RULES));
    struct detect_rules *r = NULL;
    if (yaml_parser_load(&ps, &doc)) {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        yaml_node_t *v = yaml_document_get_node(&doc, root->data.mapping.pairs.start->value);
        CHECK_EQ(detect_rules_parse(&doc, v, "t.yaml", &r, NULL, NULL), 0);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&ps);
    CHECK_EQ(detect_rules_resolve(r, ep_index, NULL, NULL, NULL), 0);
    return r;
}

static struct detect_rec recs[8];

static void obs(struct detect_engine *d, uint64_t ts, const char *acct, uint8_t ip_last,
                uint64_t rec)
{
    struct detect_obs o;
    memset(&o, 0, sizeof o);
    o.ts_us = ts;
    o.account = acct;
    o.via = "header:X-Emp-Id";
    o.src.a[10] = o.src.a[11] = 0xff;
    o.src.a[12] = 10;
    o.src.a[15] = ip_last;
    o.endpoint = 0;
    o.endpoint_id = "waybill_query";
    for (int i = 0; i < 2; i++) {
        recs[i].fp = rec * 2 + (uint64_t)i;
        recs[i].category = RULE_CAT_PHONE;
    }
    o.recs = recs;
    o.n_recs = 2;
    o.src_ip = "10.0.0.1";
    o.dest_ip = "10.0.0.2";
    detect_observe(d, &o);
    detect_tick(d, ts);
}

/* Captures what the engine says on stderr while f runs. */
static struct detect_engine *new_capturing(const struct detect_config *cfg, char *said,
                                           size_t saidlen)
{
    char cap[128];
    snprintf(cap, sizeof cap, "%s/stderr", dir);
    fflush(stderr);
    int saved = dup(2), fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    char err[256];
    struct detect_engine *d = detect_new(cfg, NULL, err, sizeof err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(cap, "r");
    size_t n = fread(said, 1, saidlen - 1, f);
    said[n] = 0;
    fclose(f);
    return d;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_engine_roundtrip(void)
{
    struct detect_rules *r = load_rules();
    char path[128], said[1024];
    snprintf(path, sizeof path, "%s/engine.state", dir);
    struct detect_config cfg = {.rules = r, .state_file = path, .save_interval_s = 600};

    /* no file yet: said once, fresh */
    struct detect_engine *d = new_capturing(&cfg, said, sizeof said);
    CHECK(d != NULL);
    CHECK(strstr(said, "does not exist yet; starting fresh") != NULL);
    CHECK_EQ(count_lines(said), 1);
    CHECK_EQ(detect_get_stats(d)->state_load_errors, 0);
    /* two days of one query every 6 minutes from 10.0.0.7 */
    uint64_t rec = 1, t;
    for (t = T0; t < T0 + 48 * HOUR; t += 360ull * 1000000) {
        obs(d, t, "E1", 7, rec);
        rec += 1;
    }
    /* periodic saves happened on packet time */
    CHECK(detect_get_stats(d)->state_saves >= 48 * 3600 / 720 - 1); /* due every 600 s, seen every 720 s */
    double lvl1;
    uint32_t h1;
    CHECK_EQ(detect_account_baseline(d, "E1", "an", &lvl1, &h1), 0);
    CHECK(h1 >= 46);
    /* an episode open at exit */
    for (int k = 0; k < 260; k++)
        obs(d, t + (uint64_t)k * 1000, "E2", 9, 1000000 + (uint64_t)k);
    CHECK_EQ(detect_account_alerted(d, "E2"), 1);
    /* E4: 498 distinct records in the 2 h window, just under the threshold */
    for (int k = 0; k < 249; k++)
        obs(d, t + (uint64_t)k * 1000, "E4", 11, 2000000 + (uint64_t)k);
    uint64_t alerts_before = detect_get_stats(d)->alerts;
    CHECK_EQ(alerts_before, 1);
    CHECK_EQ(detect_account_baseline(d, "E1", "an", &lvl1, &h1), 0); /* ticks fold idle hours */
    detect_free(d); /* saves */

    d = new_capturing(&cfg, said, sizeof said);
    CHECK_EQ(said[0], 0); /* a good file: nothing said */
    CHECK_EQ(detect_get_stats(d)->state_load_errors, 0);
    CHECK_EQ(detect_get_stats(d)->accounts, 3);
    double lvl2;
    uint32_t h2;
    CHECK_EQ(detect_account_baseline(d, "E1", "an", &lvl2, &h2), 0);
    CHECK_EQ(h2, h1);
    CHECK(lvl2 == lvl1);
    CHECK_EQ(detect_account_alerted(d, "E2"), 1); /* the episode went on */
    CHECK_EQ(detect_get_stats(d)->episodes_open, 1);
    /* E2's episode is still open: more records, no new alert (522 < 2 x 520) */
    uint64_t t2 = t + 1000000;
    obs(d, t2, "E2", 9, 5000000);
    CHECK_EQ(detect_get_stats(d)->alerts, 0);
    /* rolling counts came back: E4's 2 more distinct records make 500 only
     * if the 498 from before the restart were restored */
    obs(d, t2 + 500, "E4", 11, 3000000);
    CHECK_EQ(detect_get_stats(d)->alerts, 1);
    /* the known host is known: no new_source from 10.0.0.7, but one from .8 */
    obs(d, t2 + 1000, "E1", 7, 777777);
    CHECK_EQ(detect_get_stats(d)->alerts, 1);
    obs(d, t2 + 2000, "E1", 8, 777778);
    CHECK_EQ(detect_get_stats(d)->alerts, 2);
    detect_free(d);

    /* corrupt: reported once, fresh start, counted */
    FILE *f = fopen(path, "r+b");
    fseek(f, 40, SEEK_SET);
    fputc(0x5a, f);
    fputc(0xa5, f);
    fclose(f);
    d = new_capturing(&cfg, said, sizeof said);
    CHECK(d != NULL);
    CHECK(strstr(said, "starting fresh") != NULL);
    CHECK(strstr(said, "checksum") != NULL);
    CHECK_EQ(count_lines(said), 1);
    CHECK_EQ(detect_get_stats(d)->state_load_errors, 1);
    CHECK_EQ(detect_get_stats(d)->accounts, 0);
    /* and it still works */
    obs(d, T0 + 100 * HOUR, "E3", 1, 1);
    CHECK_EQ(detect_get_stats(d)->accounts, 1);
    /* saving into a directory that vanished: counted, said once, no crash */
    char gone[160];
    snprintf(gone, sizeof gone, "%s/gone", dir);
    detect_free(d);

    struct detect_config cfg2 = cfg;
    char gpath[200];
    snprintf(gpath, sizeof gpath, "%s/state", gone);
    cfg2.state_file = gpath;
    d = new_capturing(&cfg2, said, sizeof said);
    CHECK_EQ(detect_save(d), -1);
    CHECK_EQ(detect_save(d), -1);
    CHECK_EQ(detect_get_stats(d)->state_save_errors, 2);
    mkdir(gone, 0700);
    CHECK_EQ(detect_save(d), 0);
    detect_free(d);
    unlink(gpath);
    rmdir(gone);
    unlink(path);
    detect_rules_free(r);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/lh_state_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    test_framing();
    test_atomic();
    test_engine_roundtrip();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}
