/* main.c - command line, set-up, the run, shutdown.
 *
 * Parses options, loads and compiles the rules, opens the capture and the
 * outputs, drops privileges, then hands every packet to the worker until the
 * input ends or a signal arrives. Every refusal is one line on stderr naming
 * the thing and what to do, and exit status 1 (usage, config, rules) or 2
 * (run-time: capture, output). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lh_config.h"
#include "output/eve.h"
#include "output/evidence.h"
#include "output/fingerprint.h"
#include "output/sink.h"
#include "rules/detect.h"
#include "rules/endpoint.h"
#include "rules/match.h"
#include "rules/rulegen.h"
#include "rules/ruleset.h"
#include "sensor/capture.h"
#include "sensor/config.h"
#include "sensor/pipeline.h"
#include "sensor/worker.h"

#define MAX_INPUTS 256
#define MAX_RULES 64

static volatile sig_atomic_t g_stop, g_usr1, g_hup, g_usr2;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void on_usr1(int sig)
{
    (void)sig;
    g_usr1 = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    g_hup = 1;
}

static void on_usr2(int sig)
{
    (void)sig;
    g_usr2 = 1;
}

static void usage(FILE *fp)
{
    fprintf(fp,
"Usage: leakhound [OPTIONS] -r FILE|DIR ...   replay capture files\n"
"       leakhound [OPTIONS] -i IFACE          capture live\n"
"       leakhound --check-rules PATH ...      load and compile rule files, report errors\n"
"       leakhound --check-config -c FILE      load the configuration and the rules it names\n"
"\n"
"leakhound follows every TCP conversation, finds personal records (mobile\n"
"numbers, resident ID numbers, addresses, waybill numbers) in the streams and\n"
"writes EVE-style JSON events (one per line). Packet time drives everything:\n"
"replaying the same capture gives the same events.\n"
"\n"
"Configuration:\n"
"  -c, --config FILE        YAML configuration; every key has an option below, and the\n"
"                           command line wins (keys, defaults: etc/leakhound.yaml)\n"
"      --check-config       load the configuration and every rule file it names, compile,\n"
"                           report errors as FILE:LINE, exit (0 OK, 1 errors)\n"
"\n"
"Input:\n"
"  -r, --read FILE|DIR      pcap or pcapng file; repeat for several (read in order);\n"
"                           a directory stands for its files in name order\n"
"  -i, --interface IFACE    live capture\n"
"  -f, --filter EXPR        BPF filter (live and files)\n"
"  -s, --snaplen N          live: bytes per packet (default 262144)\n"
"      --no-promisc         live: do not put the interface in promiscuous mode\n"
"      --promisc            live: promiscuous mode (the default; overrides the file)\n"
"      --buffer-size MB     live: kernel capture buffer (default 64)\n"
"      --replay-speed X     pace replay by packet time, X times real time (default: full speed)\n"
"      --no-progress        no progress line on stderr during long replays (drawn by\n"
"                           default, only when stderr is a terminal; -q also stops it)\n"
"      --user USER          drop privileges to USER after opening the capture and outputs\n"
"\n"
"Rules:\n"
"  -R, --rules PATH         rule file or directory; repeat for several\n"
"                           (default: the directory ./rules if it holds pii-cn.yaml,\n"
"                           else %s)\n"
"      --check-rules        with -R or PATH arguments: load, compile, report, exit\n"
"      --site-key KEY       key for record fingerprints (HMAC-SHA256; >= 16 bytes or 32+ hex);\n"
"                           also LEAKHOUND_SITE_KEY. Without one a random key is used and\n"
"                           fingerprints do not correlate across runs\n"
"      --allowlist PATH     extra rule file (allowlists); repeat for several\n"
"      --no-match           do not scan streams (packet path only)\n"
"\n"
"Output:\n"
"  -o, --output DIR         output directory (default ./leakhound-out): file outputs with a\n"
"                           relative path go there (default output: DIR/eve.json, mode 0640);\n"
"                           '-': every event as EVE on stdout, no other output\n"
"      --sink SPEC          an output (repeat for several; replaces the file's 'outputs'):\n"
"                             file:PATH  stdout  unix:SOCKET  syslog:udp://HOST:PORT\n"
"                             syslog:tcp://HOST:PORT (RFC 5424, octet-counting framing)\n"
"                           then ,key=value: name=N format=eve|ecs events=alert+http+flow+stats\n"
"                           buffer=line|batch flush-interval=1s fsync=true queue-events=10000\n"
"                           queue-bytes=16M reconnect-interval=1s drain-timeout=2s\n"
"                           facility=local0 hostname=H app-name=A (docs/output.md)\n"
"      --stats-interval S   stats event every S seconds of packet time (default 60, 0: final only)\n"
"  -q, --quiet              no summary line on stderr at the end\n"
"\n"
"Limits (every cap reached is counted in the stats event):\n"
"      --flow-memcap BYTES  flow table memory (default 256M; K, M, G suffixes)\n"
"      --reasm-memcap BYTES out-of-order TCP data held, all flows (default 64M)\n"
"      --defrag-memcap BYTES IP fragments held (default 32M)\n"
"      --no-checksum        do not verify IP/TCP/UDP checksums (for a capture on a\n"
"                           host that offloads them: a warning says when)\n"
"      --no-vlan-tracking   VLAN ids do not separate flows (for asymmetric tagging)\n"
"      --detect-memcap BYTES account state of the detections (default 512M)\n"
"      --threads N          worker threads (default 1)\n"
"      --reader-share F     with threads: the share of address pairs the reading\n"
"                           thread processes itself as worker 0; auto (default):\n"
"                           0 with a spare CPU for it, else (1-(N-1)*0.3)/N\n"
"\n"
"Detection:\n"
"      --state-file PATH    keep baselines, known hosts and rolling counts across runs\n"
"                           (written atomically every 5 min of packet time and at exit)\n"
"      --event-fingerprints N  fingerprints of records per event (default 8; tests use more)\n"
"\n"
"Evidence (kept for the detections):\n"
"      --evidence-dir DIR   where evidence captures go\n"
"      --evidence-max-bytes BYTES  all evidence files together\n"
"      --evidence-max-file-bytes BYTES  one evidence capture\n"
"      --evidence-max-files N  number of evidence files\n"
"\n"
"  -V, --version            print the version\n"
"  -h, --help               this help\n"
"\n"
"Signals: SIGINT/SIGTERM end the run cleanly (flows ended, events flushed,\n"
"stats written, network queues drained); SIGUSR1 prints a short summary and the\n"
"outputs' state on stderr; SIGHUP reopens output files (logrotate); SIGUSR2\n"
"reloads the rule files (compiled aside; flows and account state are kept; a\n"
"broken set is reported file:line and the running rules stay).\n"
"Exit status: 0 success, 1 bad usage, rules or configuration, 2 run-time failure.\n",
            LH_RULES_DIR);
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static int drop_privileges(const char *user, char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "--user %s: no such user (create it, e.g. useradd --system %s, or give another)", user, user);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        snprintf(err, errlen, "--user %s: cannot drop privileges: %s", user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0 && pw->pw_uid != 0) {
        snprintf(err, errlen, "--user %s: privileges could be regained; refusing to run", user);
        return -1;
    }
    return 0;
}

/* The rules directory beside the working directory (a source checkout), else
 * the installed one: patterns, the example API and the detections. */
/* The detection engine's evidence hook: an alert starts (or continues) the
 * account's evidence capture; the alert names the file. */
static const char *on_evidence(void *ud, const char *account, uint64_t flow_id, uint64_t ts_us,
                               const char *rule)
{
    (void)flow_id;
    return evidence_start(ud, account, rule, ts_us);
}

static const char *default_rules(void)
{
    if (access("rules/pii-cn.yaml", R_OK) == 0)
        return "rules";
    return LH_RULES_DIR;
}

/* A rule reload (SIGUSR2) loads and compiles the rule files again on a
 * thread of its own, so packets keep flowing while Hyperscan compiles; the
 * service hook picks the result up and hands it to the pipeline, or
 * reports the errors and keeps the running rules. */
struct reloader {
    const char *const *paths;
    size_t n_paths;
    uint32_t next_id;  /* the generation the next successful build becomes */
    pthread_t th;
    int running;       /* a build thread exists (the service's own) */
    int again;         /* another SIGUSR2 came during the build */
    int done;          /* atomic: the thread has finished */
    struct rulegen *result;
    char err[8192];
};

static void *reload_main(void *arg)
{
    struct reloader *rl = arg;
    rl->result = rulegen_build(rl->paths, rl->n_paths, rl->next_id, NULL, rl->err,
                               sizeof(rl->err));
    __atomic_store_n(&rl->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void reload_start(struct reloader *rl)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals stay the reader's */
    rl->done = 0;
    rl->result = NULL;
    rl->err[0] = 0;
    int e = pthread_create(&rl->th, NULL, reload_main, rl);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        fprintf(stderr, "leakhound: rule reload: cannot start a thread: %s; the rules stay\n",
                strerror(e));
        return;
    }
    fprintf(stderr, "leakhound: rule reload: loading the rules again\n");
    rl->running = 1;
}

/* Waits for a build still running (end of the run) and drops its result. */
static void reload_stop(struct reloader *rl)
{
    if (!rl || !rl->running)
        return;
    pthread_join(rl->th, NULL);
    rl->running = 0;
    rulegen_unref(rl->result);
    rl->result = NULL;
}

struct run {
    struct pipeline *pl;
    struct eve *eve;
    struct reloader *rl; /* NULL: no rules (--no-match) */
};

static void reload_service(struct run *r)
{
    struct reloader *rl = r->rl;
    if (g_usr2) {
        g_usr2 = 0;
        if (!rl)
            fprintf(stderr, "leakhound: rule reload ignored: running without rules "
                            "(--no-match)\n");
        else if (rl->running)
            rl->again = 1;
        else
            reload_start(rl);
    }
    if (!rl || !rl->running || !__atomic_load_n(&rl->done, __ATOMIC_ACQUIRE))
        return;
    pthread_join(rl->th, NULL);
    rl->running = 0;
    struct rulegen *g = rl->result;
    rl->result = NULL;
    if (g) {
        fprintf(stderr,
                "leakhound: rules reloaded: generation %u, %zu patterns in %zu files "
                "(built in %.0f ms)\n",
                g->id, g->rs->n_patterns, g->rs->n_files, (double)g->build_us / 1000.0);
        rl->next_id++;
        pipeline_reload(r->pl, g);
    } else {
        size_t n = strlen(rl->err);
        fprintf(stderr, "%s%s", rl->err, n && rl->err[n - 1] != '\n' ? "\n" : "");
        fprintf(stderr, "leakhound: rule reload rejected: the rules have errors; generation "
                        "%u stays\n", rl->next_id - 1);
        pipeline_reload_rejected(r->pl);
    }
    if (rl->again) {
        rl->again = 0;
        reload_start(rl);
    }
}

/* Signals and the outputs' wall-clock work, between packets and when idle. */
static void service(struct run *r)
{
    reload_service(r);
    eve_tick(r->eve);
    if (g_hup) {
        g_hup = 0;
        eve_reopen(r->eve);
    }
    if (g_usr1) {
        g_usr1 = 0;
        pipeline_print_summary(r->pl, stderr);
        eve_print_sinks(r->eve, stderr);
    }
}

static void on_idle(void *ud)
{
    service(ud);
}

enum {
    OPT_NO_PROMISC = 256,
    OPT_BUFFER_SIZE,
    OPT_REPLAY_SPEED,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_USER,
    OPT_CHECK_RULES,
    OPT_SITE_KEY,
    OPT_NO_MATCH,
    OPT_STATS_INTERVAL,
    OPT_FLOW_MEMCAP,
    OPT_REASM_MEMCAP,
    OPT_DEFRAG_MEMCAP,
    OPT_NO_CHECKSUM,
    OPT_STATE_FILE,
    OPT_NO_VLAN_TRACKING,
    OPT_EVENT_FINGERPRINTS,
    OPT_DETECT_MEMCAP,
    OPT_CHECK_CONFIG,
    OPT_SINK,
    OPT_ALLOWLIST,
    OPT_THREADS,
    OPT_READER_SHARE,
    OPT_PROMISC,
    OPT_EVIDENCE_DIR,
    OPT_EVIDENCE_MAX_BYTES,
    OPT_EVIDENCE_MAX_FILE_BYTES,
    OPT_EVIDENCE_MAX_FILES,
};

static const struct option long_opts[] = {
    {"read", required_argument, NULL, 'r'},
    {"interface", required_argument, NULL, 'i'},
    {"filter", required_argument, NULL, 'f'},
    {"snaplen", required_argument, NULL, 's'},
    {"no-promisc", no_argument, NULL, OPT_NO_PROMISC},
    {"buffer-size", required_argument, NULL, OPT_BUFFER_SIZE},
    {"replay-speed", required_argument, NULL, OPT_REPLAY_SPEED},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"user", required_argument, NULL, OPT_USER},
    {"rules", required_argument, NULL, 'R'},
    {"check-rules", no_argument, NULL, OPT_CHECK_RULES},
    {"site-key", required_argument, NULL, OPT_SITE_KEY},
    {"no-match", no_argument, NULL, OPT_NO_MATCH},
    {"output", required_argument, NULL, 'o'},
    {"stats-interval", required_argument, NULL, OPT_STATS_INTERVAL},
    {"quiet", no_argument, NULL, 'q'},
    {"flow-memcap", required_argument, NULL, OPT_FLOW_MEMCAP},
    {"reasm-memcap", required_argument, NULL, OPT_REASM_MEMCAP},
    {"defrag-memcap", required_argument, NULL, OPT_DEFRAG_MEMCAP},
    {"no-checksum", no_argument, NULL, OPT_NO_CHECKSUM},
    {"state-file", required_argument, NULL, OPT_STATE_FILE},
    {"no-vlan-tracking", no_argument, NULL, OPT_NO_VLAN_TRACKING},
    {"event-fingerprints", required_argument, NULL, OPT_EVENT_FINGERPRINTS},
    {"detect-memcap", required_argument, NULL, OPT_DETECT_MEMCAP},
    {"config", required_argument, NULL, 'c'},
    {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
    {"sink", required_argument, NULL, OPT_SINK},
    {"allowlist", required_argument, NULL, OPT_ALLOWLIST},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"reader-share", required_argument, NULL, OPT_READER_SHARE},
    {"promisc", no_argument, NULL, OPT_PROMISC},
    {"evidence-dir", required_argument, NULL, OPT_EVIDENCE_DIR},
    {"evidence-max-bytes", required_argument, NULL, OPT_EVIDENCE_MAX_BYTES},
    {"evidence-max-file-bytes", required_argument, NULL, OPT_EVIDENCE_MAX_FILE_BYTES},
    {"evidence-max-files", required_argument, NULL, OPT_EVIDENCE_MAX_FILES},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        fprintf(stderr, "leakhound: " __VA_ARGS__);                                                \
        fputc('\n', stderr);                                                                       \
        rc = (code);                                                                               \
        goto out;                                                                                  \
    } while (0)

int main(int argc, char **argv)
{
    const char *inputs[MAX_INPUTS];
    const char *rules[MAX_RULES];
    size_t n_inputs = 0, n_rules = 0;
    struct capture_config ccfg;
    struct worker_config wcfg;
    capture_config_default(&ccfg);
    worker_config_default(&wcfg);
    const char *outdir = "leakhound-out", *user = NULL, *site_key = getenv("LEAKHOUND_SITE_KEY");
    int check_rules = 0, no_match = 0, quiet = 0, rc = 0, opt;
    char err[8192] = "";
    struct rulegen *gen = NULL, *engine_gen = NULL;
    const struct ruleset *rs = NULL;
    struct reloader reloader;
    memset(&reloader, 0, sizeof(reloader));
    struct detect_engine *detect = NULL;
    struct evidence *evidence = NULL;
    const char *state_file = NULL;
    uint64_t detect_memcap = 512ull << 20;
    struct capture *cap = NULL;
    struct eve *eve = NULL;
    struct pipeline *pl = NULL;
    struct fingerprint_key fpkey;
    struct config cfg;
    config_init(&cfg);
    const char *config_path = NULL;
    int check_config = 0, cli_rules = 0, cli_sinks = 0, cli_allow = 0;
    static const char optstring[] = ":r:i:f:s:R:o:c:qVh";
    {
        /* at once: a logrotate or a reload sent while the rules compile
         * must wait for the run, not end the process (their default) */
        struct sigaction early;
        memset(&early, 0, sizeof(early));
        early.sa_handler = on_usr1;
        sigaction(SIGUSR1, &early, NULL);
        early.sa_handler = on_hup;
        sigaction(SIGHUP, &early, NULL);
        early.sa_handler = on_usr2;
        sigaction(SIGUSR2, &early, NULL);
    }

    /* pass 1: the configuration file, so that every option can override it */
    while ((opt = getopt_long(argc, argv, optstring, long_opts, NULL)) != -1)
        if (opt == 'c')
            config_path = optarg;
    optind = 0; /* GNU getopt: start again */
    if (config_path && config_load(&cfg, config_path, err, sizeof(err)) != 0)
        FAIL(1, "%s", err);
    if (cfg.interface)
        ccfg.iface = cfg.interface;
    if (cfg.filter)
        ccfg.bpf = cfg.filter;
    if (cfg.snaplen)
        ccfg.snaplen = cfg.snaplen;
    if (cfg.promisc >= 0)
        ccfg.promisc = cfg.promisc;
    if (cfg.buffer_mb)
        ccfg.buffer_mb = cfg.buffer_mb;
    if (cfg.replay_speed > 0)
        ccfg.replay_speed = cfg.replay_speed;
    if (cfg.checksums >= 0)
        wcfg.decode.verify_checksums = cfg.checksums;
    if (cfg.user)
        user = cfg.user;
    if (!site_key && cfg.site_key)
        site_key = cfg.site_key; /* order: --site-key, LEAKHOUND_SITE_KEY, the file */
    for (size_t i = 0; i < cfg.n_rules; i++)
        rules[n_rules++] = cfg.rules[i];
    no_match = !cfg.match;
    if (cfg.output_dir)
        outdir = cfg.output_dir;
    if (cfg.stats_interval >= 0)
        wcfg.stats_interval_s = (uint32_t)cfg.stats_interval;
    if (cfg.flow_memcap)
        wcfg.flow.memcap = cfg.flow_memcap;
    if (cfg.reasm_memcap)
        wcfg.reasm.memcap = cfg.reasm_memcap;
    if (cfg.defrag_memcap)
        wcfg.decode.defrag.memcap = cfg.defrag_memcap;
    if (cfg.detect_memcap)
        detect_memcap = cfg.detect_memcap;
    if (cfg.state_file)
        state_file = cfg.state_file;

    /* pass 2: the command line */
    while ((opt = getopt_long(argc, argv, optstring, long_opts, NULL)) != -1) {
        uint64_t v;
        char *end;
        switch (opt) {
        case 'r':
            if (n_inputs == MAX_INPUTS)
                FAIL(1, "too many -r inputs (at most %d; give a directory instead)", MAX_INPUTS);
            inputs[n_inputs++] = optarg;
            break;
        case 'i': ccfg.iface = optarg; break;
        case 'f': ccfg.bpf = optarg; break;
        case 's':
            ccfg.snaplen = (int)strtol(optarg, &end, 10);
            if (*end || ccfg.snaplen < 64 || ccfg.snaplen > 262144)
                FAIL(1, "--snaplen %s: give a number of bytes from 64 to 262144", optarg);
            break;
        case OPT_NO_PROMISC: ccfg.promisc = 0; break;
        case OPT_BUFFER_SIZE:
            ccfg.buffer_mb = (int)strtol(optarg, &end, 10);
            if (*end || ccfg.buffer_mb < 1 || ccfg.buffer_mb > 4096)
                FAIL(1, "--buffer-size %s: give megabytes from 1 to 4096", optarg);
            break;
        case OPT_REPLAY_SPEED:
            ccfg.replay_speed = strtod(optarg, &end);
            if (*end || !(ccfg.replay_speed > 0))
                FAIL(1, "--replay-speed %s: give a positive factor (1 = real time)", optarg);
            break;
        case OPT_PROGRESS: ccfg.progress = 1; break;
        case OPT_NO_PROGRESS: ccfg.progress = 0; break;
        case OPT_USER: user = optarg; break;
        case 'R':
            if (!cli_rules++)
                n_rules = 0; /* the command line's rules replace the file's */
            if (n_rules == MAX_RULES)
                FAIL(1, "too many -R rule paths (at most %d; give a directory)", MAX_RULES);
            rules[n_rules++] = optarg;
            break;
        case OPT_CHECK_RULES: check_rules = 1; break;
        case OPT_SITE_KEY: site_key = optarg; break;
        case OPT_NO_MATCH: no_match = 1; break;
        case 'o': outdir = optarg; break;
        case OPT_STATS_INTERVAL:
            wcfg.stats_interval_s = (uint32_t)strtoul(optarg, &end, 10);
            if (*end)
                FAIL(1, "--stats-interval %s: give whole seconds", optarg);
            break;
        case 'q': quiet = 1; ccfg.progress = 0; break;
        case OPT_FLOW_MEMCAP:
            if (parse_size(optarg, &v) || v < (1u << 20))
                FAIL(1, "--flow-memcap %s: give bytes (K/M/G suffix), at least 1M", optarg);
            wcfg.flow.memcap = v;
            break;
        case OPT_REASM_MEMCAP:
            if (parse_size(optarg, &v))
                FAIL(1, "--reasm-memcap %s: give bytes (K/M/G suffix)", optarg);
            wcfg.reasm.memcap = v;
            break;
        case OPT_DEFRAG_MEMCAP:
            if (parse_size(optarg, &v))
                FAIL(1, "--defrag-memcap %s: give bytes (K/M/G suffix)", optarg);
            wcfg.decode.defrag.memcap = v;
            break;
        case OPT_NO_CHECKSUM: wcfg.decode.verify_checksums = 0; break;
        case OPT_STATE_FILE: state_file = optarg; break;
        case OPT_NO_VLAN_TRACKING: wcfg.flow.ignore_vlan = 1; break;
        case OPT_EVENT_FINGERPRINTS:
            wcfg.max_fingerprints = (uint32_t)strtoul(optarg, &end, 10);
            if (*end)
                FAIL(1, "--event-fingerprints %s: give a whole number", optarg);
            break;
        case OPT_DETECT_MEMCAP:
            if (parse_size(optarg, &v) || v < (1u << 20))
                FAIL(1, "--detect-memcap %s: give bytes (K/M/G suffix), at least 1M", optarg);
            detect_memcap = v;
            break;
        case 'c': break; /* read in pass 1 */
        case OPT_CHECK_CONFIG: check_config = check_rules = 1; break;
        case OPT_SINK:
            if (!cli_sinks++)
                cfg.n_sinks = 0; /* the command line's outputs replace the file's */
            if (config_add_sink_spec(&cfg, optarg, err, sizeof(err)) != 0)
                FAIL(1, "%s", err);
            break;
        case OPT_ALLOWLIST:
            if (!cli_allow++)
                config_clear_paths(cfg.allowlists, &cfg.n_allowlists);
            if (config_add_path(cfg.allowlists, &cfg.n_allowlists, optarg) != 0)
                FAIL(1, "too many --allowlist paths (at most %d)", CONFIG_MAX_PATHS);
            break;
        case OPT_THREADS:
            cfg.threads = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || cfg.threads < 1 || cfg.threads > 256)
                FAIL(1, "--threads %s: give a number from 1 to 256", optarg);
            break;
        case OPT_READER_SHARE:
            if (config_parse_share(optarg, &cfg.reader_share) != 0)
                FAIL(1, "--reader-share %s: give auto or a fraction from 0 to below 1", optarg);
            break;
        case OPT_PROMISC: ccfg.promisc = 1; break;
        case OPT_EVIDENCE_DIR: config_set_str(&cfg.evidence_dir, optarg); break;
        case OPT_EVIDENCE_MAX_BYTES:
            if (config_parse_size(optarg, &cfg.evidence_max_bytes) != 0)
                FAIL(1, "--evidence-max-bytes %s: give bytes (K/M/G suffix)", optarg);
            break;
        case OPT_EVIDENCE_MAX_FILE_BYTES:
            if (config_parse_size(optarg, &cfg.evidence_max_file_bytes) != 0)
                FAIL(1, "--evidence-max-file-bytes %s: give bytes (K/M/G suffix)", optarg);
            break;
        case OPT_EVIDENCE_MAX_FILES:
            cfg.evidence_max_files = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || !*optarg)
                FAIL(1, "--evidence-max-files %s: give a whole number", optarg);
            break;
        case ':':
            FAIL(1, "option %s needs a value; see 'leakhound --help'", argv[optind - 1]);
        case '?':
            if (optopt)
                FAIL(1, "unknown option -%c; see 'leakhound --help' for the options", optopt);
            FAIL(1, "unknown option %s; see 'leakhound --help' for the options", argv[optind - 1]);
        case 'V': printf("leakhound %s\n", LH_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "leakhound: see 'leakhound --help' for the options\n");
            return 1;
        }
    }
    for (; optind < argc; optind++) {
        /* bare arguments: rule paths for --check-rules, else capture files */
        if (check_rules) {
            if (n_rules == MAX_RULES)
                FAIL(1, "too many rule paths");
            rules[n_rules++] = argv[optind];
        } else {
            if (n_inputs == MAX_INPUTS)
                FAIL(1, "too many inputs");
            inputs[n_inputs++] = argv[optind];
        }
    }
    if (n_rules == 0)
        rules[n_rules++] = default_rules();
    for (size_t i = 0; i < cfg.n_allowlists; i++) {
        if (n_rules == MAX_RULES)
            FAIL(1, "too many rule and allowlist paths (at most %d; give a directory)", MAX_RULES);
        rules[n_rules++] = cfg.allowlists[i];
    }

    if (!no_match || check_rules) {
        enum rulegen_stage stage;
        gen = rulegen_build(rules, n_rules, 1, &stage, err, sizeof(err));
        if (!gen) {
            fprintf(stderr, "%s%s", err, err[0] && err[strlen(err) - 1] != '\n' ? "\n" : "");
            fprintf(stderr, "leakhound: the rules %s; nothing was run\n",
                    stage == RULEGEN_COMPILE ? "do not compile" : "have errors");
            rc = 1;
            goto out;
        }
        rs = gen->rs;
        if (check_config && site_key && fingerprint_key_set(&fpkey, site_key, err, sizeof(err)))
            FAIL(1, "%s: site-key: %s", config_path ? config_path : "command line", err);
        if (check_config) {
            printf("leakhound: %s: OK (%zu patterns in %zu rule files, %zu outputs)\n",
                   config_path ? config_path : "command line", rs->n_patterns, rs->n_files,
                   cfg.n_sinks ? cfg.n_sinks : (size_t)1);
            goto out;
        }
        if (check_rules) {
            printf("leakhound: %zu patterns in %zu files: OK\n", rs->n_patterns, rs->n_files);
            /* which engine serves what (docs/rules.md, "Writing fast patterns") */
            size_t npre = match_db_prepass_patterns(gen->db);
            if (npre) {
                printf("leakhound: %zu in the digit-run pre-pass:", npre);
                for (size_t i = 0; i < rs->n_patterns; i++)
                    if (match_db_pattern_prepass(gen->db, i)) printf(" %s", rs->patterns[i].id);
                printf("; the rest in Hyperscan\n");
            } else {
                printf("leakhound: none in the digit-run pre-pass; all in Hyperscan\n");
            }
            goto out;
        }
    }
    if (ccfg.iface && n_inputs)
        FAIL(1, "give either -i IFACE or -r FILE, not both");
    if (!ccfg.iface && !n_inputs)
        FAIL(1, "nothing to read: give -r FILE|DIR or -i IFACE (see --help)");

    if (site_key) {
        if (fingerprint_key_set(&fpkey, site_key, err, sizeof(err)) != 0)
            FAIL(1, "site key: %s", err);
    } else {
        if (fingerprint_key_random(&fpkey) != 0)
            FAIL(2, "cannot make a random site key");
        fprintf(stderr, "leakhound: warning: no --site-key: fingerprints are keyed with a random "
                        "key and will not match other runs'\n");
    }

    ccfg.inputs = inputs;
    ccfg.n_inputs = n_inputs;
    if (capture_open(&ccfg, &cap, err, sizeof(err)) != 0)
        FAIL(2, "%s", err);

    if (strcmp(outdir, "-") == 0) {
        eve = eve_open("-", err, sizeof(err));
        if (!eve)
            FAIL(2, "%s", err);
    } else {
        if (!cfg.n_sinks) {
            sink_config_default(&cfg.sinks[0]); /* eve.json, every event, EVE */
            cfg.n_sinks = 1;
        }
        eve = eve_new(err, sizeof(err));
        if (!eve)
            FAIL(2, "%s", err);
        int made_dir = 0;
        for (size_t i = 0; i < cfg.n_sinks; i++) {
            struct sink_config sc = cfg.sinks[i];
            if (sc.kind == SINK_FILE && sc.path[0] != '/') {
                if (!made_dir++ && mkdir(outdir, 0750) != 0 && errno != EEXIST)
                    FAIL(2, "%s: cannot create the output directory: %s (give -o DIR)", outdir,
                         strerror(errno));
                char path[sizeof(sc.path)];
                if ((size_t)snprintf(path, sizeof(path), "%s/%s", outdir, sc.path) >= sizeof(path))
                    FAIL(1, "output %s: path too long", sc.name);
                memcpy(sc.path, path, sizeof(path));
            }
            if (eve_add_sink(eve, &sc, err, sizeof(err)) != 0)
                FAIL(2, "%s", err);
        }
    }

    if (cfg.evidence_dir && rs && rs->detect) {
        /* a relative evidence directory goes under the output directory */
        char evdir[4096];
        if (cfg.evidence_dir[0] == '/' || strcmp(outdir, "-") == 0)
            snprintf(evdir, sizeof(evdir), "%s", cfg.evidence_dir);
        else {
            if (mkdir(outdir, 0750) != 0 && errno != EEXIST)
                FAIL(2, "%s: cannot create the output directory: %s (give -o DIR)", outdir,
                     strerror(errno));
            snprintf(evdir, sizeof(evdir), "%s/%s", outdir, cfg.evidence_dir);
        }
        struct evidence_config ecfg = {evdir, cfg.evidence_max_bytes,
                                       cfg.evidence_max_file_bytes, cfg.evidence_max_files, 0};
        evidence = evidence_new(&ecfg, err, sizeof(err));
        if (!evidence)
            FAIL(2, "%s", err);
    }

    if (user && drop_privileges(user, err, sizeof(err)) != 0)
        FAIL(2, "%s", err);

    if (rs && rs->detect) {
        struct detect_config dcfg = {rs->detect,  detect_memcap,       state_file, 300,
                                     evidence ? on_evidence : NULL, evidence};
        detect = detect_new(&dcfg, eve, err, sizeof(err));
        if (!detect)
            FAIL(2, "%s", err);
    }
    struct worker_shared shared = {gen, &fpkey, eve, cap, detect};
    shared.evidence = evidence;
    pl = pipeline_new(&wcfg, &shared, cfg.threads ? cfg.threads : 1, cfg.reader_share, err,
                      sizeof(err));
    if (!pl)
        FAIL(2, "%s", err);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    reloader.paths = rules;
    reloader.n_paths = n_rules;
    reloader.next_id = 2;
    struct run run = {pl, eve, gen ? &reloader : NULL};
    /* the pipeline calls on_idle (signals, output service) between packets */
    if (pipeline_run(pl, cap, on_idle, &run, &g_stop, err, sizeof(err)) != 0) {
        fprintf(stderr, "leakhound: %s\n", err);
        rc = 2;
    }
    pipeline_finish(pl);
    if (!quiet) {
        pipeline_print_summary(pl, stderr);
        eve_print_sinks(eve, stderr);
    }
    {
        struct capture_stats cs;
        capture_get_stats(cap, &cs);
        if (cs.files_failed && rc == 0)
            rc = 2;
    }
out:
    reload_stop(&reloader);
    engine_gen = pl ? pipeline_rules(pl) : NULL; /* the engine's detections live in it */
    pipeline_free(pl);
    detect_free(detect); /* after the worker, whose last transactions it observes */
    rulegen_unref(engine_gen);
    evidence_free(evidence);
    eve_close(eve);
    capture_close(cap);
    rulegen_unref(gen);
    config_free(&cfg);
    return rc;
}
