/* gen.c - lh-gen: main and command line of the courier-network traffic
 * generator (issue 3; docs/generator.md).
 *
 * Options (and presets, applied first) become a sim_cfg, a world, a
 * scenario set and a capture writer; sim_run() writes the capture and
 * truth_write() the ground truth next to it. Nothing here reads the wall
 * clock except the speed report on stderr. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bg.h"
#include "buf.h"
#include "scenario.h"
#include "sim.h"

typedef struct {
    const char *out, *truth, *preset;
    uint64_t seed, start, bytes;
    double duration_s, background, rate, ipv6;
    int accounts, flows, quiet, flat, mss, user_scen;
    sim_cfg cfg;
    pkt_impair imp;
    char impair_spec[128];
    const char *scen[32];
    int nscen;
} opts;

static void usage(FILE *f)
{
    fputs(
        "usage: lh-gen -o OUT.pcap [options]\n"
        "  --seed N               deterministic seed (default 1)\n"
        "  --start ISO            first instant, e.g. 2026-03-02T00:00:00Z (default)\n"
        "  --days N | --duration DUR   length of the run (default 1 day; DUR like 5m, 2h)\n"
        "  --bytes SIZE           bench: write about SIZE (e.g. 1G) with the bench mix\n"
        "  --accounts N           employee accounts (default 300)\n"
        "  --rate X               multiply every account's volume (default 1)\n"
        "  --background F         share of bytes that is background (default 0.3)\n"
        "  --identity M           header|jwt|basic|cookie (default header)\n"
        "  --identity-header NAME header carrying the account (default X-Emp-Id)\n"
        "  --scenario NAME[:k=v,...]  hijack, lowslow, enum, bulk, busy, outscope,\n"
        "                         scripted (repeatable; keys in docs/generator.md)\n"
        "  --impair LIST          all, or retrans=R,ooo=R,overlap=R,onebyte=R,loss=R,midstream=R\n"
        "  --gzip F --deflate F --chunked F   shares of API responses (0.25/0.05/0.3)\n"
        "  --pipeline F           share of lookups sent pipelined (default 0.1)\n"
        "  --ipv6 F               share of workstations on fd00::/8 (default 0.1)\n"
        "  --mss N                TCP MSS (default 1460)\n"
        "  --phone-forms plain|mixed  mobiles also as +86 / 138-1234-5678 (default mixed)\n"
        "  --truth FILE           ground truth path (default OUT with .truth.json)\n"
        "  --no-flows             do not list flows in the truth (bench default)\n"
        "  --preset NAME          demo, golden-plain, golden-identity, golden-impaired,\n"
        "                         golden-days, bench (options after it override)\n"
        "  -q                     no summary on stderr\n",
        f);
}

static uint64_t parse_iso(const char *v)
{
    int y, mo, d, h, mi, s;
    if (sscanf(v, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6 || y < 1970 || mo < 1 ||
        mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return 0;
    y -= mo <= 2;
    long era = y / 400, yoe = y - era * 400;
    long doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long days = era * 146097 + doe - 719468;
    return ((uint64_t)days * 86400 + (uint64_t)(h * 3600 + mi * 60 + s)) * 1000000ULL;
}

static double parse_dur(const char *v)
{
    char *e;
    double d = strtod(v, &e);
    if (e == v || d <= 0) return -1;
    if (!*e || !strcmp(e, "s")) return d;
    if (!strcmp(e, "m")) return d * 60;
    if (!strcmp(e, "h")) return d * 3600;
    if (!strcmp(e, "d")) return d * 86400;
    return -1;
}

static uint64_t parse_size(const char *v)
{
    char *e;
    double d = strtod(v, &e);
    if (e == v || d <= 0) return 0;
    double m = !*e                        ? 1
               : (*e == 'k' || *e == 'K') ? 1e3
               : (*e == 'm' || *e == 'M') ? 1e6
               : (*e == 'g' || *e == 'G') ? 1e9
                                          : 0;
    if (*e && e[1] && strcmp(e + 1, "B") && strcmp(e + 1, "b")) return 0;
    return (uint64_t)(d * m);
}

static int parse_frac(const char *v, double *out)
{
    char *e;
    double d = strtod(v, &e);
    if (e == v || *e || d < 0 || d > 1) return -1;
    *out = d;
    return 0;
}

static int parse_impair(const char *spec, pkt_impair *imp)
{
    if (!strcmp(spec, "all")) {
        *imp = (pkt_impair){0.01, 0.01, 0.005, 0.01, 0.003, 0.05};
        return 0;
    }
    if (!strcmp(spec, "none")) {
        memset(imp, 0, sizeof *imp);
        return 0;
    }
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", spec);
    for (char *save, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        double v = 0.01;
        if (eq) {
            *eq = 0;
            if (parse_frac(eq + 1, &v)) return -1;
        }
        if (!strcmp(tok, "retrans"))
            imp->retrans = v;
        else if (!strcmp(tok, "ooo"))
            imp->ooo = v;
        else if (!strcmp(tok, "overlap"))
            imp->overlap = v;
        else if (!strcmp(tok, "onebyte"))
            imp->onebyte = v;
        else if (!strcmp(tok, "loss"))
            imp->loss = v;
        else if (!strcmp(tok, "midstream"))
            imp->midstream = v;
        else
            return -1;
    }
    return 0;
}

static void defaults(opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->start = parse_iso("2026-03-02T00:00:00Z");
    o->duration_s = 86400;
    o->background = 0.3;
    o->rate = 1;
    o->ipv6 = 0.1;
    o->accounts = 300;
    o->flows = 1;
    o->mss = 1460;
    sim_cfg *c = &o->cfg;
    c->identity = ID_HEADER;
    snprintf(c->id_header, sizeof c->id_header, "X-Emp-Id");
    c->gzip = 0.25;
    c->deflate = 0.05;
    c->chunked = 0.3;
    c->pipeline = 0.1;
    c->rst = 0.05;
    c->scope_leak = 0.05;
    c->keepalive_s = 15;
    c->wpool = 200000;
    c->dopt = (data_opts){1, 0.12, 0.1, 0.2, 0.05, 50000, 0};
}

static int preset(opts *o, const char *name)
{
    uint64_t t10 = parse_iso("2026-03-02T02:00:00Z"); /* 10:00 in Shanghai, a Monday */
    if (!strcmp(name, "demo")) {
        o->accounts = 50;
        o->start = t10;
        o->duration_s = 300;
        o->rate = 4;
        o->background = 0.2;
        o->cfg.gzip = 0.4;
        o->scen[o->nscen++] = "hijack:at=+100s,records=1000,size=100,interval=4s";
    } else if (!strcmp(name, "golden-plain")) {
        o->accounts = 30;
        o->start = t10;
        o->duration_s = 180;
        o->rate = 6;
        o->background = 0.15;
        o->cfg.gzip = o->cfg.deflate = o->cfg.chunked = 0;
        o->cfg.dopt.mixed_forms = 0;
        o->scen[o->nscen++] = "hijack:at=+60s,records=400,size=100,interval=2s";
    } else if (!strcmp(name, "golden-identity")) {
        o->accounts = 20;
        o->start = t10;
        o->duration_s = 120;
        o->rate = 10;
        o->background = 0.1;
        o->scen[o->nscen++] = "hijack:at=+40s,records=300,size=50,interval=2s";
    } else if (!strcmp(name, "golden-impaired")) {
        o->accounts = 30;
        o->start = t10;
        o->duration_s = 180;
        o->rate = 10;
        o->background = 0.15;
        parse_impair("all", &o->imp);
        snprintf(o->impair_spec, sizeof o->impair_spec, "all");
        o->scen[o->nscen++] = "hijack:at=+60s,records=500,size=100,interval=2s";
    } else if (!strcmp(name, "golden-days")) {
        o->accounts = 40;
        o->duration_s = 3 * 86400;
        o->background = 0.05;
        o->scen[o->nscen++] = "lowslow:per_hour=200";
        o->scen[o->nscen++] = "busy";
        o->scen[o->nscen++] = "bulk:records=4000,size=1000";
        o->scen[o->nscen++] = "hijack:at=+2d3h,records=3000";
    } else if (!strcmp(name, "bench")) {
        o->bytes = 1000000000ULL;
        o->flat = 1;
        o->rate = 20;
        o->background = 0.45;
        o->cfg.gzip = 0.3;
        o->cfg.deflate = 0;
        o->cfg.chunked = 0.3;
        o->flows = 0;
    } else {
        return -1;
    }
    o->preset = name;
    return 0;
}

enum {
    O_SEED = 256,
    O_START,
    O_DAYS,
    O_DURATION,
    O_BYTES,
    O_ACCOUNTS,
    O_RATE,
    O_BG,
    O_IDENTITY,
    O_IDHDR,
    O_SCEN,
    O_IMPAIR,
    O_GZIP,
    O_DEFLATE,
    O_CHUNKED,
    O_PIPE,
    O_IPV6,
    O_MSS,
    O_FORMS,
    O_TRUTH,
    O_NOFLOWS,
    O_PRESET,
    O_HELP
};

static const struct option longopts[] = {{"out", required_argument, 0, 'o'},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"start", required_argument, 0, O_START},
                                         {"days", required_argument, 0, O_DAYS},
                                         {"duration", required_argument, 0, O_DURATION},
                                         {"bytes", required_argument, 0, O_BYTES},
                                         {"accounts", required_argument, 0, O_ACCOUNTS},
                                         {"rate", required_argument, 0, O_RATE},
                                         {"background", required_argument, 0, O_BG},
                                         {"identity", required_argument, 0, O_IDENTITY},
                                         {"identity-header", required_argument, 0, O_IDHDR},
                                         {"scenario", required_argument, 0, O_SCEN},
                                         {"impair", required_argument, 0, O_IMPAIR},
                                         {"gzip", required_argument, 0, O_GZIP},
                                         {"deflate", required_argument, 0, O_DEFLATE},
                                         {"chunked", required_argument, 0, O_CHUNKED},
                                         {"pipeline", required_argument, 0, O_PIPE},
                                         {"ipv6", required_argument, 0, O_IPV6},
                                         {"mss", required_argument, 0, O_MSS},
                                         {"phone-forms", required_argument, 0, O_FORMS},
                                         {"truth", required_argument, 0, O_TRUTH},
                                         {"no-flows", no_argument, 0, O_NOFLOWS},
                                         {"preset", required_argument, 0, O_PRESET},
                                         {"help", no_argument, 0, O_HELP},
                                         {0, 0, 0, 0}};

static int bad(const char *opt, const char *v)
{
    fprintf(stderr, "lh-gen: bad value for %s: '%s' (see --help)\n", opt, v);
    return -1;
}

static int parse_args(opts *o, int argc, char **argv)
{
    defaults(o);
    /* presets first, so any option given overrides them */
    for (int i = 1; i < argc; i++) {
        const char *p = NULL;
        if (!strcmp(argv[i], "--preset") && i + 1 < argc)
            p = argv[i + 1];
        else if (!strncmp(argv[i], "--preset=", 9))
            p = argv[i] + 9;
        if (p && preset(o, p)) return bad("--preset", p);
    }
    int c;
    char *e;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o->out = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
        case O_HELP:
            usage(stdout);
            exit(0);
        case O_SEED:
            o->seed = strtoull(optarg, &e, 0);
            if (*e) return bad("--seed", optarg);
            break;
        case O_START:
            if (!(o->start = parse_iso(optarg))) return bad("--start", optarg);
            break;
        case O_DAYS:
            o->duration_s = strtod(optarg, &e) * 86400;
            if (*e || o->duration_s <= 0 || o->duration_s > 400 * 86400.0)
                return bad("--days", optarg);
            break;
        case O_DURATION:
            if ((o->duration_s = parse_dur(optarg)) <= 0) return bad("--duration", optarg);
            break;
        case O_BYTES:
            if (!(o->bytes = parse_size(optarg))) return bad("--bytes", optarg);
            break;
        case O_ACCOUNTS:
            o->accounts = (int)strtol(optarg, &e, 10);
            if (*e || o->accounts < 4 || o->accounts > 20000)
                return bad("--accounts (4..20000)", optarg);
            break;
        case O_RATE:
            o->rate = strtod(optarg, &e);
            if (*e || o->rate <= 0 || o->rate > 10000) return bad("--rate", optarg);
            break;
        case O_BG:
            if (parse_frac(optarg, &o->background)) return bad("--background", optarg);
            break;
        case O_IDENTITY: {
            int k = -1;
            for (int i = 0; i < ID_N; i++)
                if (!strcmp(optarg, sim_identity_name[i])) k = i;
            if (k < 0) return bad("--identity", optarg);
            o->cfg.identity = k;
            break;
        }
        case O_IDHDR:
            if (!*optarg || strlen(optarg) >= sizeof o->cfg.id_header ||
                strpbrk(optarg, ": \r\n\"\\"))
                return bad("--identity-header", optarg);
            snprintf(o->cfg.id_header, sizeof o->cfg.id_header, "%s", optarg);
            break;
        case O_SCEN:
            if (!o->user_scen++) o->nscen = 0; /* scenarios given replace the preset's */
            if (o->nscen == 32) return bad("--scenario (at most 32)", optarg);
            o->scen[o->nscen++] = optarg;
            break;
        case O_IMPAIR:
            if (parse_impair(optarg, &o->imp)) return bad("--impair", optarg);
            snprintf(o->impair_spec, sizeof o->impair_spec, "%s", optarg);
            break;
        case O_GZIP:
            if (parse_frac(optarg, &o->cfg.gzip)) return bad("--gzip", optarg);
            break;
        case O_DEFLATE:
            if (parse_frac(optarg, &o->cfg.deflate)) return bad("--deflate", optarg);
            break;
        case O_CHUNKED:
            if (parse_frac(optarg, &o->cfg.chunked)) return bad("--chunked", optarg);
            break;
        case O_PIPE:
            if (parse_frac(optarg, &o->cfg.pipeline)) return bad("--pipeline", optarg);
            break;
        case O_IPV6:
            if (parse_frac(optarg, &o->ipv6)) return bad("--ipv6", optarg);
            break;
        case O_MSS: {
            long m = strtol(optarg, &e, 10);
            if (*e || m < 64 || m > 9000) return bad("--mss (64..9000)", optarg);
            o->mss = (int)m;
            break;
        }
        case O_FORMS:
            if (strcmp(optarg, "plain") && strcmp(optarg, "mixed"))
                return bad("--phone-forms", optarg);
            o->cfg.dopt.mixed_forms = !strcmp(optarg, "mixed");
            break;
        case O_TRUTH:
            o->truth = optarg;
            break;
        case O_NOFLOWS:
            o->flows = 0;
            break;
        case O_PRESET:
            break; /* applied above */
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lh-gen: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->out) {
        usage(stderr);
        return -1;
    }
    if (o->cfg.gzip + o->cfg.deflate > 1) {
        fprintf(stderr, "lh-gen: --gzip plus --deflate exceeds 1\n");
        return -1;
    }
    if (o->bytes) o->flat = 1;
    return 0;
}

static void params_json(const opts *o, buf_t *b, uint64_t end)
{
    char st[32], en[32];
    truth_iso(o->start, 0, st);
    truth_iso(end, 0, en);
    const sim_cfg *c = &o->cfg;
    buf_fmt(b,
            "{\"seed\":%llu,\"preset\":%s%s%s,\"start\":\"%s\",\"end\":\"%s\","
            "\"duration_s\":%.0f,\"bytes_target\":%llu,\"accounts\":%d,\"rate\":%g,"
            "\"background\":%g,\"identity\":\"%s\",\"identity_header\":\"%s\",",
            (unsigned long long)o->seed, o->preset ? "\"" : "", o->preset ? o->preset : "null",
            o->preset ? "\"" : "", st, en, (double)(end - o->start) / 1e6,
            (unsigned long long)o->bytes, o->accounts, o->rate, o->background,
            sim_identity_name[c->identity], c->id_header);
    buf_fmt(b,
            "\"gzip\":%g,\"deflate\":%g,\"chunked\":%g,\"pipeline\":%g,\"ipv6\":%g,"
            "\"mss\":%d,\"phone_forms\":\"%s\",\"flat\":%s,\"timezone\":\"UTC+8\",",
            c->gzip, c->deflate, c->chunked, c->pipeline, o->ipv6, o->mss,
            c->dopt.mixed_forms ? "mixed" : "plain", o->flat ? "true" : "false");
    buf_fmt(b,
            "\"impair\":{\"retrans\":%g,\"ooo\":%g,\"overlap\":%g,\"onebyte\":%g,"
            "\"loss\":%g,\"midstream\":%g},\"scenarios\":[",
            o->imp.retrans, o->imp.ooo, o->imp.overlap, o->imp.onebyte, o->imp.loss,
            o->imp.midstream);
    for (int i = 0; i < o->nscen; i++)
        buf_fmt(b, "%s\"%s\"", i ? "," : "", o->scen[i]);
    buf_str(b, "]}");
}

static void server_json(const opts *o, buf_t *b)
{
    const char *via[ID_N] = {"header", "jwt", "basic", "cookie"};
    buf_fmt(b,
            "{\"host\":\"waybill.corp.example\",\"ip\":\"10.0.0.5\",\"ip6\":\"fd00::5\","
            "\"port\":8080,\"identity\":{\"method\":\"%s\",",
            via[o->cfg.identity]);
    switch (o->cfg.identity) {
    case ID_HEADER:
        buf_fmt(b, "\"header\":\"%s\"}}", o->cfg.id_header);
        break;
    case ID_JWT:
        buf_str(b, "\"header\":\"Authorization\",\"scheme\":\"Bearer\",\"claim\":\"emp_id\"}}");
        break;
    case ID_BASIC:
        buf_str(b, "\"header\":\"Authorization\",\"scheme\":\"Basic\"}}");
        break;
    default:
        buf_str(b, "\"cookie\":\"SESSIONID\",\"login\":\"POST /api/v1/login\","
                   "\"login_field\":\"username\"}}");
        break;
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* the speed report only */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    opts o;
    char err[256];
    if (parse_args(&o, argc, argv)) return 2;
    char truth_path[4096];
    if (o.truth) {
        snprintf(truth_path, sizeof truth_path, "%s", o.truth);
    } else {
        size_t n = strlen(o.out);
        if (n > 5 && !strcmp(o.out + n - 5, ".pcap")) n -= 5;
        snprintf(truth_path, sizeof truth_path, "%.*s.truth.json", (int)n, o.out);
    }
    uint64_t end =
        o.bytes ? o.start + 365ULL * 86400000000ULL : o.start + (uint64_t)(o.duration_s * 1e6);
    o.cfg.background = o.background;
    o.cfg.dopt.day0 = (int64_t)(o.start / 1000000);

    int rc = 1;
    double t0 = now_s();
    world *w = world_new(o.seed, o.accounts, o.ipv6, o.rate, o.flat);
    truth *tr = truth_new(o.accounts + 1, o.flows);
    scen_set *ss = scen_new();
    pkt_writer *pw = pkt_open(o.out, o.seed, err);
    sim *s = NULL;
    buf_t pj = {0}, sj = {0};
    if (!w || !pw) {
        fprintf(stderr, "lh-gen: %s\n", pw ? "bad world" : err);
        goto out;
    }
    pw->imp = o.imp;
    pw->mss = (uint16_t)o.mss;
    for (int i = 0; i < o.nscen; i++)
        if (scen_add(ss, o.scen[i], err)) {
            fprintf(stderr, "lh-gen: %s\n", err);
            goto out;
        }
    s = sim_new(&o.cfg, o.seed, o.start, end, o.bytes, w, pw, tr);
    if (scen_setup(ss, s, err)) {
        fprintf(stderr, "lh-gen: %s\n", err);
        goto out;
    }
    s->scen = ss;
    s->bg = bg_new(s);
    sim_run(s);
    params_json(&o, &pj, end);
    buf_ch(&pj, 0);
    server_json(&o, &sj);
    buf_ch(&sj, 0);
    uint64_t packets = pw->packets, bytes = pw->bytes;
    if (truth_write(tr, truth_path, (const char *)pj.p, (const char *)sj.p, pw, err)) {
        fprintf(stderr, "lh-gen: %s\n", err);
        goto out;
    }
    bg_free(s->bg);
    s->bg = NULL;
    rc = pkt_close(pw) ? 1 : 0;
    pw = NULL;
    if (rc) fprintf(stderr, "lh-gen: %s: write failed\n", o.out);
    double dt = now_s() - t0;
    if (!o.quiet && !rc)
        fprintf(stderr, "lh-gen: %s: %llu packets, %llu bytes in %.2f s (%.1f MB/s); truth %s\n",
                o.out, (unsigned long long)packets, (unsigned long long)bytes, dt,
                (double)bytes / 1e6 / (dt > 0 ? dt : 1), truth_path);
out:
    if (s && s->bg) bg_free(s->bg);
    sim_free(s);
    if (pw) pkt_close(pw);
    scen_free(ss);
    truth_free(tr);
    world_free(w);
    buf_free(&pj);
    buf_free(&sj);
    return rc;
}
