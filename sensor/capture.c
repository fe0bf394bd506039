/* capture.c - libpcap input: capture files in order, or a live interface.
 *
 * Owns the pcap handles and the list of input files. Packets leave through
 * the caller's callback as struct packet views into libpcap's buffer. Packet
 * time comes from the capture; the wall clock is used only to pace replay
 * (--replay-speed) and to draw the progress line, never for output.
 *
 * Errors: a file that cannot be opened or ends in a read error is reported
 * once on stderr ("leakhound: FILE: ...") and counted; the next file is read.
 * This is the only file that includes <pcap.h>. */
#include "sensor/capture.h"

#include <dirent.h>
#include <errno.h>
#include <pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILE_BUF (1u << 20)

struct capture {
    struct capture_config cfg;
    char **files;
    size_t n_files;
    uint64_t total_bytes; /* sum of file sizes, for the progress line */
    pcap_t *live;
    struct capture_stats st;
    uint64_t pcap_cnt;
    char *filebuf; /* stdio buffer of the file being read (FILE_BUF bytes) */
    /* progress */
    int show_progress;
    uint64_t bytes_done_files; /* sizes of files finished */
    double start_wall, last_progress;
    int progress_drawn; /* a line was drawn: the final one ends it */
    /* pacing */
    int paced;
    double pace_wall0;
    uint64_t pace_ts0;
};

void capture_config_default(struct capture_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->snaplen = 262144;
    cfg->promisc = 1;
    cfg->buffer_mb = 64;
    cfg->progress = 1; /* drawn only when stderr is a terminal */
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_file(struct capture *c, const char *path)
{
    char **n = realloc(c->files, (c->n_files + 1) * sizeof(*n));
    if (!n)
        return -1;
    c->files = n;
    c->files[c->n_files] = strdup(path);
    if (!c->files[c->n_files])
        return -1;
    c->n_files++;
    return 0;
}

/* A directory stands for its regular, non-hidden files in name order. */
static int add_dir(struct capture *c, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot read directory: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn) {
                rc = -1;
                break;
            }
            names = nn;
        }
        names[n] = strdup(path);
        if (!names[n]) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0) {
        qsort(names, n, sizeof(*names), cmp_str);
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = add_file(c, names[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc)
        snprintf(err, errlen, "%s: out of memory listing the directory", dir);
    return rc;
}

static int open_live(struct capture *c, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(c->cfg.iface, ebuf);
    if (!p) {
        snprintf(err, errlen, "%s: cannot open interface: %s", c->cfg.iface, ebuf);
        return -1;
    }
    pcap_set_snaplen(p, c->cfg.snaplen);
    pcap_set_promisc(p, c->cfg.promisc);
    pcap_set_timeout(p, 100);
    pcap_set_buffer_size(p, c->cfg.buffer_mb * 1024 * 1024);
    int rc = pcap_activate(p);
    if (rc < 0) {
        const char *hint = "";
        if (rc == PCAP_ERROR_PERM_DENIED)
            hint = " (run as root or give the binary CAP_NET_RAW,CAP_NET_ADMIN)";
        else if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
            hint = " (list interfaces with: ip link)";
        snprintf(err, errlen, "%s: cannot capture: %s%s", c->cfg.iface, pcap_geterr(p), hint);
        pcap_close(p);
        return -1;
    }
    if (c->cfg.bpf) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, c->cfg.bpf, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(p, &prog) != 0) {
            snprintf(err, errlen, "filter \"%s\": %s", c->cfg.bpf, pcap_geterr(p));
            pcap_close(p);
            return -1;
        }
        pcap_freecode(&prog);
    }
    /* non-blocking, waited for with poll() and a timeout: a quiet interface
     * must not keep a signal (stop, stats) waiting for the next packet */
    if (pcap_setnonblock(p, 1, ebuf) != 0) {
        snprintf(err, errlen, "%s: cannot set non-blocking mode: %s", c->cfg.iface, ebuf);
        pcap_close(p);
        return -1;
    }
    c->live = p;
    return 0;
}

int capture_open(const struct capture_config *cfg, struct capture **out, char *err, size_t errlen)
{
    struct capture *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->cfg = *cfg;
    if (cfg->iface) {
        if (open_live(c, err, errlen) != 0)
            goto error;
    } else {
        for (size_t i = 0; i < cfg->n_inputs; i++) {
            struct stat sb;
            if (stat(cfg->inputs[i], &sb) != 0) {
                snprintf(err, errlen, "%s: cannot read capture: %s", cfg->inputs[i],
                         strerror(errno));
                goto error;
            }
            if (S_ISDIR(sb.st_mode)) {
                if (add_dir(c, cfg->inputs[i], err, errlen) != 0)
                    goto error;
            } else if (add_file(c, cfg->inputs[i]) != 0) {
                snprintf(err, errlen, "out of memory");
                goto error;
            }
        }
        if (c->n_files == 0) {
            snprintf(err, errlen, "no capture files to read (give -r FILE or -i IFACE)");
            goto error;
        }
        /* page-aligned: the kernel copies the file into it, and into a
         * buffer off a 64-byte boundary (malloc's mmap chunks start 16 bytes
         * in) that copy takes twice the system time */
        if (!(c->filebuf = aligned_alloc(4096, FILE_BUF))) {
            snprintf(err, errlen, "out of memory");
            goto error;
        }
        for (size_t i = 0; i < c->n_files; i++) {
            struct stat sb;
            if (stat(c->files[i], &sb) == 0)
                c->total_bytes += (uint64_t)sb.st_size;
        }
    }
    c->show_progress = cfg->progress && !cfg->iface && isatty(STDERR_FILENO);
    c->paced = cfg->replay_speed > 0 && !cfg->iface;
    *out = c;
    return 0;
error:
    capture_close(c);
    return -1;
}

void capture_close(struct capture *c)
{
    if (!c)
        return;
    if (c->live)
        pcap_close(c->live);
    for (size_t i = 0; i < c->n_files; i++)
        free(c->files[i]);
    free(c->files);
    free(c->filebuf);
    free(c);
}

const char *capture_file_name(const struct capture *c, uint32_t idx)
{
    return idx < c->n_files ? c->files[idx] : "";
}

int capture_is_live(const struct capture *c)
{
    return c->live != NULL;
}

void capture_get_stats(struct capture *c, struct capture_stats *s)
{
    if (c->live) {
        struct pcap_stat ps;
        if (pcap_stats(c->live, &ps) == 0) {
            c->st.if_recv = ps.ps_recv;
            c->st.if_drop = ps.ps_drop;
            c->st.if_ifdrop = ps.ps_ifdrop;
        }
    }
    *s = c->st;
}

static void progress(struct capture *c, uint64_t file_off, int final)
{
    double now = wall_now();
    if (final && !c->progress_drawn)
        return; /* a replay too short to need one */
    if (!final && now - c->start_wall < 1.0)
        return; /* only long replays get a progress line */
    if (!final && now - c->last_progress < 0.5)
        return;
    c->progress_drawn = 1;
    c->last_progress = now;
    uint64_t done = c->bytes_done_files + file_off;
    double el = now - c->start_wall;
    double rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 && c->total_bytes > done ? (double)(c->total_bytes - done) / rate : 0;
    fprintf(stderr, "\r%6.1f%%  %llu MB  %llu pkts  %.1f MB/s  ETA %.0fs   %s",
            c->total_bytes ? 100.0 * (double)done / (double)c->total_bytes : 100.0,
            (unsigned long long)(done >> 20), (unsigned long long)c->st.packets, rate / 1e6, eta,
            final ? "\n" : "");
}

/* Sleeps so that packet time advances at replay_speed times the wall clock. */
static void pace(struct capture *c, uint64_t ts_us)
{
    if (!c->pace_ts0) {
        c->pace_ts0 = ts_us ? ts_us : 1;
        c->pace_wall0 = wall_now();
        return;
    }
    if (ts_us <= c->pace_ts0)
        return;
    double due = c->pace_wall0 + (double)(ts_us - c->pace_ts0) / 1e6 / c->cfg.replay_speed;
    double now = wall_now();
    if (due > now + 0.0005) {
        double d = due - now;
        if (d > 10)
            d = 10; /* a long silence in the capture: do not hang for hours */
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static void fill(struct packet *p, const struct pcap_pkthdr *h, const uint8_t *data, int dlt)
{
    memset(p, 0, sizeof(*p));
    p->ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
    p->caplen = h->caplen;
    p->wirelen = h->len;
    p->linktype = dlt;
    p->data = data;
}

static int run_file(struct capture *c, uint32_t idx, capture_fn fn, void *ud,
                    volatile sig_atomic_t *stop)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    const char *path = c->files[idx];
    /* our own FILE with a 1 MiB buffer: libpcap reads record by record, and
     * the default 4 KiB stdio buffer makes that a read(2) per few packets.
     * The buffer is the capture's own (glibc ignores the size asked of
     * setvbuf without one); pcap_close below closes the FILE before the
     * next file reuses it. */
    FILE *in = fopen(path, "rbe");
    if (in)
        setvbuf(in, c->filebuf, _IOFBF, FILE_BUF);
    pcap_t *p = in ? pcap_fopen_offline(in, ebuf) : NULL;
    if (!p) {
        fprintf(stderr, "leakhound: %s: cannot read capture: %s\n", path,
                in ? ebuf : strerror(errno));
        if (in)
            fclose(in);
        c->st.files_failed++;
        return 0;
    }
    if (c->cfg.bpf) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, c->cfg.bpf, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(p, &prog) != 0) {
            fprintf(stderr, "leakhound: filter \"%s\": %s\n", c->cfg.bpf, pcap_geterr(p));
            pcap_close(p);
            c->st.files_failed++;
            return 0;
        }
        pcap_freecode(&prog);
    }
    int dlt = pcap_datalink(p);
    FILE *fp = pcap_file(p);
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t file_pkt = 0;
    int rc, stopped = 0;
    while (!*stop && (rc = pcap_next_ex(p, &h, &data)) == 1) {
        struct packet pkt;
        fill(&pkt, h, data, dlt);
        pkt.pcap_cnt = ++c->pcap_cnt;
        pkt.file_pkt = ++file_pkt;
        pkt.file_idx = idx;
        c->st.packets++;
        c->st.bytes += h->len;
        if (c->paced)
            pace(c, pkt.ts_us);
        if (c->show_progress && (c->st.packets & 1023) == 0)
            progress(c, fp ? (uint64_t)ftell(fp) : 0, 0);
        if (fn(ud, &pkt) != 0) {
            stopped = 1;
            break;
        }
    }
    if (!stopped && !*stop && rc == PCAP_ERROR) {
        fprintf(stderr, "leakhound: %s: read error after %llu packets: %s\n", path,
                (unsigned long long)file_pkt, pcap_geterr(p));
        c->st.read_errors++;
    }
    struct stat sb;
    if (stat(path, &sb) == 0)
        c->bytes_done_files += (uint64_t)sb.st_size;
    c->st.files_ok++;
    pcap_close(p);
    return stopped;
}

static int run_live(struct capture *c, capture_fn fn, void (*idle)(void *ud), void *ud,
                    volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    int dlt = pcap_datalink(c->live);
    double last_idle = wall_now();
    while (!*stop) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int rc = pcap_next_ex(c->live, &h, &data);
        if (rc == 1) {
            struct packet pkt;
            fill(&pkt, h, data, dlt);
            pkt.pcap_cnt = ++c->pcap_cnt;
            pkt.file_pkt = pkt.pcap_cnt;
            c->st.packets++;
            c->st.bytes += h->len;
            if (fn(ud, &pkt) != 0)
                return 0;
        } else if (rc == 0) {
            /* nothing now: wait for the interface, at most 100 ms */
            int fd = pcap_get_selectable_fd(c->live);
            if (fd >= 0) {
                struct pollfd pfd = {fd, POLLIN, 0};
                poll(&pfd, 1, 100);
            } else {
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        } else if (rc == PCAP_ERROR_BREAK) {
            return 0;
        } else {
            snprintf(err, errlen, "%s: capture failed: %s", c->cfg.iface, pcap_geterr(c->live));
            return -1;
        }
        double now = wall_now();
        if (idle && now - last_idle >= 0.1) {
            last_idle = now;
            idle(ud);
        }
    }
    return 0;
}

int capture_run(struct capture *c, capture_fn fn, void (*idle)(void *ud), void *ud,
                volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    if (c->live)
        return run_live(c, fn, idle, ud, stop, err, errlen);
    c->start_wall = wall_now();
    for (size_t i = 0; i < c->n_files && !*stop; i++)
        if (run_file(c, (uint32_t)i, fn, ud, stop))
            break;
    if (c->show_progress)
        progress(c, 0, 1);
    return 0;
}
