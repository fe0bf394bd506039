/* replay_main.c - runs a fuzz target over files when no fuzzer is linked.
 *
 * Without -Dfuzz=true every target links this main instead of libFuzzer's,
 * so the targets always build and their corpora run as regression tests
 * (meson test --suite fuzz). Arguments are files or directories (a
 * directory stands for its regular files, in name order, one level deep).
 * Each input is copied into a buffer of exactly its size, so a read past
 * the end is an ASan report, not a silent read of a neighbour. Exit 0 when
 * every input ran, 1 when an input could not be read; a crash or a
 * sanitizer report ends the run as it would under libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target; libFuzzer calls it once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned long n_ok, n_bad;

static void run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        n_bad++;
        return;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int rerr = ferror(fp);
    fclose(fp);
    if (!buf || rerr) {
        fprintf(stderr, "replay: %s: cannot read\n", path);
        free(buf);
        n_bad++;
        return;
    }
    /* exact-size copy: the target must not read one byte further */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        n_bad++;
        return;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    n_ok++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        n_bad++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        n_bad++;
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof(*names));
            if (!nn)
                break;
            names = nn;
        }
        size_t l = strlen(path) + strlen(de->d_name) + 2;
        names[n] = malloc(l);
        if (!names[n])
            break;
        snprintf(names[n], l, "%s/%s", path, de->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            run_file(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR ...  (runs the fuzz target over each input)\n",
                argv[0]);
        return 1;
    }
    for (int i = 1; i < argc; i++)
        run_path(argv[i]);
    printf("replay: %lu inputs ran, %lu unreadable\n", n_ok, n_bad);
    return n_bad ? 1 : 0;
}
