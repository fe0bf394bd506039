/* fuzz_pcap.c - the whole pipeline from a capture file in memory.
 *
 * Input: a pcap or pcapng file. It is written to an in-memory file (memfd;
 * a temporary file where memfd is missing) and replayed as the sensor does
 * it (sensor/main.c): capture -> worker (decode, defrag, flows, reassembly,
 * nDPI, HTTP, identity, endpoints, Hyperscan matching) -> EVE events into
 * /dev/null. The shipped rules (rules/pii-cn.yaml, or FUZZ_RULES) are
 * compiled once; a fresh capture and worker with small caps are made for
 * every input, so no state leaks from one input to the next and a crash
 * reproduces from its file alone. Checks are the sanitizers' and the
 * pipeline's own asserts: nothing may crash, read out of bounds or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "output/eve.h"
#include "output/fingerprint.h"
#include "rules/endpoint.h"
#include "rules/match.h"
#include "rules/rulegen.h"
#include "rules/ruleset.h"
#include "sensor/capture.h"
#include "sensor/worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef FUZZ_RULES_FILE
#define FUZZ_RULES_FILE "rules/pii-cn.yaml"
#endif

static struct rulegen *g_rules;
static struct fingerprint_key g_key;
static struct eve *g_eve;

static void setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    const char *path = getenv("FUZZ_RULES");
    if (!path || !*path)
        path = FUZZ_RULES_FILE;
    char err[4096];
    const char *paths[1] = {path};
    if (!(g_rules = rulegen_build(paths, 1, 1, NULL, err, sizeof(err)))) {
        fprintf(stderr, "fuzz_pcap: %s: %s\n(set FUZZ_RULES to the rule file)\n", path, err);
        abort();
    }
    if (fingerprint_key_set(&g_key, "fuzz-site-key-0123456789", err, sizeof(err)) != 0)
        abort();
    g_eve = eve_open("/dev/null", err, sizeof(err));
    if (!g_eve) {
        fprintf(stderr, "fuzz_pcap: %s\n", err);
        abort();
    }
}

static int on_packet(void *ud, struct packet *p)
{
    worker_packet(ud, p);
    return 0;
}

static void on_idle(void *ud)
{
    (void)ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    char path[64];
    char tmpl[] = "/tmp/fuzz-pcap-XXXXXX";
    int is_tmp = 0;
    int fd = memfd_create("fuzz.pcap", 0);
    if (fd < 0) {
        fd = mkstemp(tmpl);
        is_tmp = 1;
        if (fd < 0)
            return 0;
        snprintf(path, sizeof(path), "%s", tmpl);
    } else {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }

    char err[1024];
    struct capture *cap = NULL;
    struct worker *w = NULL;
    struct capture_config ccfg;
    capture_config_default(&ccfg);
    const char *inputs[1] = {path};
    ccfg.inputs = inputs;
    ccfg.n_inputs = 1;
    if (off != size || capture_open(&ccfg, &cap, err, sizeof(err)) != 0)
        goto out;

    struct worker_config wcfg;
    worker_config_default(&wcfg);
    /* small caps, so that fuzzed traffic reaches them */
    wcfg.flow.memcap = 4u << 20;
    wcfg.flow.hash_size = 256;
    wcfg.flow.seed[0] = 1;
    wcfg.flow.seed[1] = 2;
    wcfg.reasm.memcap = 256u << 10;
    wcfg.reasm.stream_cap = 64u << 10;
    wcfg.reasm.max_segments = 64;
    wcfg.decode.defrag.memcap = 256u << 10;
    wcfg.decode.defrag.max_datagrams = 64;
    wcfg.decode.defrag.max_frags = 64;
    wcfg.stats_interval_s = 1; /* stats events on packet time too */
    wcfg.dedup_cap = 64;
    wcfg.session_cap = 16;
    wcfg.identity_body_max = 4096;
    struct worker_shared sh = {g_rules, &g_key, g_eve, cap, NULL};
    w = worker_new(&wcfg, &sh, err, sizeof(err));
    if (!w)
        goto out;
    static volatile sig_atomic_t never;
    capture_run(cap, on_packet, on_idle, w, &never, err, sizeof(err));
    worker_finish(w);
out:
    worker_free(w);
    capture_close(cap);
    close(fd);
    if (is_tmp)
        unlink(tmpl);
    return 0;
}
