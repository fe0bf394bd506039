/* evidence.c - per-account evidence captures (libpcap's dump API).
 *
 * A small table maps account -> evidence file (path, bytes written, open
 * dumper or closed). Packets arrive from the worker; they are written with
 * pcap_dump into a pcap_open_dead(DLT_RAW) dumper. Files beyond max_open are
 * closed least-recently-written first and reopened for append when needed
 * (pcap_dump_open_append). Besides capture.c this is the one file that
 * includes <pcap.h>: writing captures is libpcap's job too. */
#include "output/evidence.h"

#include <errno.h>
#include <dirent.h>
#include <pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EV_MAX_ACCOUNTS 4096

struct ev_file {
    char account[64];
    char path[512];
    uint64_t bytes;
    uint64_t last_use;
    pcap_dumper_t *d;
    int full; /* file cap reached */
};

struct evidence {
    struct evidence_config cfg; /* cfg.dir points at dir below */
    char dir[512];
    pcap_t *dead;
    struct ev_file *f;
    size_t n;
    uint64_t clock, total;
    struct evidence_stats st;
    char ret[600];
    pthread_mutex_t lock; /* alerts start files on one thread, workers write on others */
    uint64_t gen;         /* bumped at every start: workers re-check their account */
};

struct evidence *evidence_new(const struct evidence_config *cfg, char *err, size_t errlen)
{
    if (!cfg->dir)
        return NULL;
    if (mkdir(cfg->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create the evidence directory: %s", cfg->dir,
                 strerror(errno));
        return NULL;
    }
    struct evidence *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    snprintf(e->dir, sizeof(e->dir), "%s", cfg->dir); /* the caller's string may not live on */
    e->cfg.dir = e->dir;
    pthread_mutex_init(&e->lock, NULL);
    e->gen = 1;
    if (!e->cfg.max_bytes)
        e->cfg.max_bytes = 1ull << 30;
    if (!e->cfg.max_file_bytes)
        e->cfg.max_file_bytes = 64ull << 20;
    if (!e->cfg.max_files)
        e->cfg.max_files = 1000;
    if (!e->cfg.max_open)
        e->cfg.max_open = 32;
    e->dead = pcap_open_dead(DLT_RAW, 262144);
    e->f = calloc(EV_MAX_ACCOUNTS, sizeof(*e->f));
    if (!e->dead || !e->f) {
        snprintf(err, errlen, "out of memory");
        evidence_free(e);
        return NULL;
    }
    return e;
}

void evidence_free(struct evidence *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++)
        if (e->f[i].d)
            pcap_dump_close(e->f[i].d);
    free(e->f);
    if (e->dead)
        pcap_close(e->dead);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

uint64_t evidence_generation(const struct evidence *e)
{
    return e ? __atomic_load_n(&e->gen, __ATOMIC_ACQUIRE) : 0;
}

const struct evidence_stats *evidence_get_stats(const struct evidence *e)
{
    return &e->st;
}

static struct ev_file *find(const struct evidence *e, const char *account)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->f[i].account, account) == 0)
            return &e->f[i];
    return NULL;
}

int evidence_active(struct evidence *e, const char *account)
{
    if (!e)
        return 0;
    pthread_mutex_lock(&e->lock);
    int on = find(e, account) != NULL;
    pthread_mutex_unlock(&e->lock);
    return on;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Makes room for one more file within max_files: deletes the oldest names
 * (they start with the alert time, so name order is time order). */
static void retention(struct evidence *e)
{
    DIR *d = opendir(e->cfg.dir);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".pcap") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn)
                break;
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; n >= e->cfg.max_files && i < n - e->cfg.max_files + 1; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", e->cfg.dir, names[i]);
        for (size_t k = 0; k < e->n; k++)
            if (strcmp(e->f[k].path, path) == 0 && e->f[k].d) {
                pcap_dump_close(e->f[k].d);
                e->f[k].d = NULL;
                e->f[k].full = 1;
            }
        if (unlink(path) == 0)
            e->st.files_deleted++;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static const char *start_locked(struct evidence *e, const char *account, uint64_t ts_us)
{
    struct ev_file *f = find(e, account);
    if (!f) {
        if (e->n == EV_MAX_ACCOUNTS) {
            e->st.errors++;
            return NULL;
        }
        f = &e->f[e->n++];
        memset(f, 0, sizeof(*f));
        snprintf(f->account, sizeof(f->account), "%s", account);
        /* a file name from an account name: keep [A-Za-z0-9_-], the rest '_' */
        char safe[64];
        size_t j = 0;
        for (const char *p = account; *p && j + 1 < sizeof(safe); p++)
            safe[j++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                         (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')
                            ? *p
                            : '_';
        safe[j] = 0;
        time_t t = (time_t)(ts_us / 1000000u);
        struct tm tm;
        gmtime_r(&t, &tm);
        char when[32];
        strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
        snprintf(f->path, sizeof(f->path), "%s/%s-%s.pcap", e->cfg.dir, when, safe);
        e->st.files++;
        retention(e);
        __atomic_add_fetch(&e->gen, 1, __ATOMIC_RELEASE);
    }
    snprintf(e->ret, sizeof(e->ret), "%s", f->path);
    return e->ret;
}

const char *evidence_start(struct evidence *e, const char *account, const char *rule,
                           uint64_t ts_us)
{
    (void)rule;
    if (!e)
        return NULL;
    pthread_mutex_lock(&e->lock);
    const char *r = start_locked(e, account, ts_us);
    pthread_mutex_unlock(&e->lock);
    return r;
}

static int open_file(struct evidence *e, struct ev_file *f)
{
    size_t open = 0;
    struct ev_file *lru = NULL;
    for (size_t i = 0; i < e->n; i++)
        if (e->f[i].d) {
            open++;
            if (!lru || e->f[i].last_use < lru->last_use)
                lru = &e->f[i];
        }
    if (open >= e->cfg.max_open && lru) {
        pcap_dump_close(lru->d);
        lru->d = NULL;
    }
    f->d = f->bytes ? pcap_dump_open_append(e->dead, f->path) : pcap_dump_open(e->dead, f->path);
    if (!f->d) {
        e->st.errors++;
        f->full = 1;
        return -1;
    }
    chmod(f->path, 0600);
    return 0;
}

static void packet_locked(struct evidence *e, const char *account, uint64_t ts_us,
                          const uint8_t *l3, uint32_t len, uint32_t wirelen)
{
    struct ev_file *f = find(e, account);
    if (!f || f->full)
        return;
    uint64_t rec = 16u + len;
    if (f->bytes + rec > e->cfg.max_file_bytes) {
        e->st.file_cap_hit++;
        f->full = 1;
        if (f->d) {
            pcap_dump_close(f->d);
            f->d = NULL;
        }
        return;
    }
    if (e->total + rec > e->cfg.max_bytes) {
        e->st.total_cap_hit++;
        return;
    }
    if (!f->d && open_file(e, f) != 0)
        return;
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(ts_us / 1000000u);
    h.ts.tv_usec = (suseconds_t)(ts_us % 1000000u);
    h.caplen = len;
    h.len = wirelen > len ? wirelen : len;
    pcap_dump((u_char *)f->d, &h, l3);
    if (!f->bytes)
        f->bytes = 24; /* the file header */
    f->bytes += rec;
    e->total += rec;
    f->last_use = ++e->clock;
    e->st.packets++;
    e->st.bytes += len;
}

void evidence_packet(struct evidence *e, const char *account, uint64_t ts_us, const uint8_t *l3,
                     uint32_t len, uint32_t wirelen)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    packet_locked(e, account, ts_us, l3, len, wirelen);
    pthread_mutex_unlock(&e->lock);
}
