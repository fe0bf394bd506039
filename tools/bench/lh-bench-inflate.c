/* lh-bench-inflate.c - zlib's streaming inflate against libdeflate's
 * whole-buffer one, on real HTTP bodies: the measurement behind
 * parsers/decompress.c's whole-body mode (docs/performance.md, step 12).
 *
 * Bodies enter as the files of one directory (for instance every HTTP object
 * of a capture: tshark -r CAP -q --export-objects http,DIR); each is gzipped
 * at level 6 in memory, then inflated three times both ways: zlib the way
 * decompress.c streams (16 KiB output pieces, no CRC check), and
 * libdeflate_gzip_decompress into one buffer. Prints the CPU seconds.
 *
 *   meson setup build-bench -Dbench=true && ninja -C build-bench
 *   build-bench/tools/bench/lh-bench-inflate DIR */
#include <dirent.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define MAX_BODIES 200000
#define OUT_CAP (64u << 20)

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *b = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)n)) &&
            fread(b, 1, (size_t)n, f) != (size_t)n) {
            free(b);
            b = NULL;
        }
        *len = n > 0 ? (size_t)n : 0;
    }
    fclose(f);
    return b;
}

static unsigned char *gzip(const unsigned char *in, size_t len, size_t *out_len)
{
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, len) + 64;
    unsigned char *out = malloc(cap);
    if (out) {
        z.next_in = (unsigned char *)in;
        z.avail_in = (uInt)len;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
            free(out);
            out = NULL;
        }
        *out_len = z.total_out;
    }
    deflateEnd(&z);
    return out;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lh-bench-inflate DIR\n");
        return 2;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        fprintf(stderr, "lh-bench-inflate: cannot open %s\n", argv[1]);
        return 1;
    }
    unsigned char **body = calloc(MAX_BODIES, sizeof(*body));
    size_t *blen = calloc(MAX_BODIES, sizeof(*blen)), n = 0, plain = 0, packed = 0;
    unsigned char *out = malloc(OUT_CAP), piece[16384];
    if (!body || !blen || !out) return 1;
    struct dirent *e;
    while ((e = readdir(dir)) && n < MAX_BODIES) {
        char path[4096];
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
        unsigned char *raw = e->d_name[0] == '.' ? NULL : read_file(path, &len);
        if (!raw) continue;
        if (len <= OUT_CAP && (body[n] = gzip(raw, len, &blen[n]))) {
            plain += len;
            packed += blen[n++];
        }
        free(raw);
    }
    closedir(dir);
    printf("%zu bodies: %zu bytes, %zu gzipped\n", n, plain, packed);
    struct libdeflate_decompressor *ld = libdeflate_alloc_decompressor();
    z_stream z = {0};
    if (!ld || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return 1;
    for (int round = 0; round < 3; round++) {
        size_t got_z = 0, got_l = 0;
        double t0 = cpu_s();
        for (size_t i = 0; i < n; i++) {
            inflateReset(&z);
            inflateValidate(&z, 0);
            z.next_in = body[i];
            z.avail_in = (uInt)blen[i];
            int rc;
            do {
                z.next_out = piece;
                z.avail_out = sizeof(piece);
                rc = inflate(&z, Z_NO_FLUSH);
                got_z += sizeof(piece) - z.avail_out;
            } while (rc == Z_OK);
        }
        double t1 = cpu_s();
        for (size_t i = 0; i < n; i++) {
            size_t got = 0;
            if (libdeflate_gzip_decompress(ld, body[i], blen[i], out, OUT_CAP, &got) ==
                LIBDEFLATE_SUCCESS)
                got_l += got;
        }
        double t2 = cpu_s();
        printf("zlib %.3f CPU-s (%zu bytes out), libdeflate %.3f CPU-s (%zu bytes out): %.2fx\n",
               t1 - t0, got_z, t2 - t1, got_l, (t1 - t0) / (t2 - t1));
    }
    inflateEnd(&z);
    libdeflate_free_decompressor(ld);
    for (size_t i = 0; i < n; i++) free(body[i]);
    free(body);
    free(blen);
    free(out);
    return 0;
}
