/* sink_file.c - NDJSON to a file (or stdout): one event per line.
 *
 * Lines are appended to a buffer (256 KiB, at most 8192 events) and written
 * with write(2): at once in line mode, else when the buffer fills or
 * flush_ms have passed (checked on writes and on sink_tick). The buffer
 * remembers where each event ends, so a short or failed write counts exactly
 * the events that reached the file. A failing write (disk full, EIO, a
 * closed pipe) starts an error episode: reported once on stderr, every
 * failure counted, the buffer kept and retried every second; events that
 * find the buffer full are dropped and counted. The episode's end is
 * reported with its losses. sink_reopen() (SIGHUP) opens the path again
 * for logrotate: new events go to the new file. */
#include "output/sink_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_BUF (256u << 10)
#define FILE_MAX_EVENTS 8192u
#define FILE_RETRY_MS 1000u

struct file_sink {
    struct sink base;
    int fd;
    int is_stdout;
    char *buf;
    size_t used;
    uint32_t ends[FILE_MAX_EVENTS]; /* end offset of each buffered event */
    uint32_t n_ends;
    uint64_t last_flush;
    uint64_t next_retry;            /* in an error episode: no write before this */
    int in_error;
    uint64_t lost_in_episode;
};

static int open_path(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        snprintf(err, errlen, "%s: cannot open for writing: %s%s", path, strerror(errno),
                 errno == EACCES ? " (check the directory's owner and mode, or --user)" : "");
    return fd;
}

/* Writes the buffer out; keeps what could not be written. */
static void file_flush_at(struct file_sink *f, uint64_t now)
{
    f->last_flush = now;
    if (!f->used)
        return;
    if (f->in_error && now < f->next_retry)
        return;
    size_t off = 0;
    int err = 0;
    while (off < f->used) {
        ssize_t w = write(f->fd, f->buf + off, f->used - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = w < 0 ? errno : EIO;
            break;
        }
        off += (size_t)w;
    }
    /* events wholly written */
    uint32_t k = 0;
    while (k < f->n_ends && f->ends[k] <= off)
        k++;
    f->base.st.written += k;
    /* part of an event may have reached the file: the rest follows on the
     * retry, so the line ends up whole; it counts when it is done */
    size_t done = off;
    memmove(f->buf, f->buf + done, f->used - done);
    f->used -= done;
    for (uint32_t i = k; i < f->n_ends; i++)
        f->ends[i - k] = f->ends[i] - (uint32_t)done;
    f->n_ends -= k;
    f->base.st.queued = f->n_ends;
    if (err) {
        f->base.st.errors++;
        f->next_retry = now + FILE_RETRY_MS;
        if (!f->in_error) {
            f->in_error = 1;
            f->lost_in_episode = 0;
            sink_report(&f->base, "%s: cannot write events: %s (keeping up to %u KiB, "
                        "retrying every %u ms, counting losses)",
                        f->is_stdout ? "stdout" : f->base.cfg.path, strerror(err),
                        FILE_BUF >> 10, FILE_RETRY_MS);
        }
        return;
    }
    if (f->in_error) {
        f->in_error = 0;
        sink_report(&f->base, "%s: writing again (%llu events lost meanwhile)",
                    f->is_stdout ? "stdout" : f->base.cfg.path,
                    (unsigned long long)f->lost_in_episode);
    }
    if (f->base.cfg.fsync && !f->is_stdout && fdatasync(f->fd) != 0 && errno != EINVAL) {
        f->base.st.errors++;
        if (!f->in_error) {
            f->in_error = 1;
            f->lost_in_episode = 0;
            f->next_retry = now + FILE_RETRY_MS;
            sink_report(&f->base, "%s: fsync failed: %s", f->base.cfg.path, strerror(errno));
        }
    }
}

static void file_drop(struct file_sink *f)
{
    f->base.st.dropped++;
    f->lost_in_episode++;
}

static void file_write(struct sink *s, const char *type, const char *line, size_t len,
                       uint64_t now)
{
    (void)type;
    struct file_sink *f = (struct file_sink *)s;
    if (len + 1 > FILE_BUF - f->used || f->n_ends == FILE_MAX_EVENTS)
        file_flush_at(f, now);
    if (len + 1 > FILE_BUF - f->used || f->n_ends == FILE_MAX_EVENTS) {
        if (f->used || len + 1 <= FILE_BUF) {
            file_drop(f);
            return;
        }
        /* one event larger than the buffer, and nothing waits before it */
        struct iovec_like {
            const char *p;
            size_t n;
        } part[2] = {{line, len}, {"\n", 1}};
        for (int i = 0; i < 2; i++) {
            size_t off = 0;
            while (off < part[i].n) {
                ssize_t w = write(f->fd, part[i].p + off, part[i].n - off);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0) {
                    f->base.st.errors++;
                    file_drop(f);
                    return;
                }
                off += (size_t)w;
            }
        }
        f->base.st.written++;
        return;
    }
    memcpy(f->buf + f->used, line, len);
    f->buf[f->used + len] = '\n';
    f->used += len + 1;
    f->ends[f->n_ends++] = (uint32_t)f->used;
    f->base.st.queued = f->n_ends;
    if (f->base.cfg.line_buffered || now - f->last_flush >= f->base.cfg.flush_ms)
        file_flush_at(f, now);
}

static void file_tick(struct sink *s, uint64_t now)
{
    struct file_sink *f = (struct file_sink *)s;
    if (f->used && now - f->last_flush >= (f->base.cfg.line_buffered ? 0 : f->base.cfg.flush_ms))
        file_flush_at(f, now);
}

static void file_flush(struct sink *s)
{
    struct file_sink *f = (struct file_sink *)s;
    f->next_retry = 0; /* an explicit flush tries now */
    file_flush_at(f, sink_now_ms());
}

static void file_reopen(struct sink *s)
{
    struct file_sink *f = (struct file_sink *)s;
    if (f->is_stdout)
        return;
    file_flush(s); /* what was written before the signal goes to the old file */
    char err[1200];
    int fd = open_path(f->base.cfg.path, err, sizeof(err));
    if (fd < 0) {
        f->base.st.errors++;
        sink_report(s, "reopen: %s; still writing to the old file", err);
        return;
    }
    close(f->fd);
    f->fd = fd;
    f->base.st.reconnects++;
}

static void file_close(struct sink *s)
{
    struct file_sink *f = (struct file_sink *)s;
    file_flush(s);
    if (f->n_ends) {
        f->base.st.dropped += f->n_ends;
        sink_report(s, "%s: %u events could not be written before exit and are lost "
                    "(%llu lost in all)", f->is_stdout ? "stdout" : f->base.cfg.path, f->n_ends,
                    (unsigned long long)f->base.st.dropped);
    } else if (f->base.st.dropped) {
        sink_report(s, "%s: %llu events were lost in this run",
                    f->is_stdout ? "stdout" : f->base.cfg.path,
                    (unsigned long long)f->base.st.dropped);
    }
    if (!f->is_stdout)
        close(f->fd);
    free(f->buf);
    free(f);
}

static const char *file_state(const struct sink *s)
{
    const struct file_sink *f = (const struct file_sink *)s;
    return f->in_error ? "error" : "ok";
}

static const struct sink_ops file_ops = {file_write, file_tick, file_flush,
                                         file_reopen, file_close, file_state};

struct sink *sink_file_open(const struct sink_config *cfg, uint64_t now, char *err, size_t errlen)
{
    struct file_sink *f = calloc(1, sizeof(*f));
    char *buf = malloc(FILE_BUF);
    if (!f || !buf) {
        free(f);
        free(buf);
        snprintf(err, errlen, "output %s: out of memory", cfg->name);
        return NULL;
    }
    f->base.ops = &file_ops;
    f->base.cfg = *cfg;
    f->buf = buf;
    f->last_flush = now;
    if (cfg->kind == SINK_STDOUT) {
        f->fd = STDOUT_FILENO;
        f->is_stdout = 1;
        return &f->base;
    }
    char e2[1200];
    f->fd = open_path(cfg->path, e2, sizeof(e2));
    if (f->fd < 0) {
        snprintf(err, errlen, "output %s: %s", cfg->name, e2);
        free(buf);
        free(f);
        return NULL;
    }
    return &f->base;
}
