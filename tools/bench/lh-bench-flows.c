/* lh-bench-flows.c - writes a capture of N concurrent TCP flows for the
 * memory check (tools/bench-flows.sh).
 *
 * Out: a classic pcap (Ethernet, IPv4, microsecond stamps) written with
 * stdio, no libpcap. Flow i goes from 10.(i>>16).(i>>8).(i) + a port derived
 * from i to one server, 10.255.255.1:9000, so every flow is distinct. All
 * flows open within --duration seconds of packet time (default 10 s, well
 * inside the sensor's 30 s timeout for new TCP flows), so they are all alive
 * at once when the capture ends.
 *   --mode syn    one SYN per flow (a SYN flood: the cheapest flow to make)
 *   --mode data   SYN, SYN-ACK, ACK, then 32 bytes each way (not HTTP, not
 *                 TLS, no records), so each flow also holds its reassembly
 *                 streams, matcher streams and record sets: the costliest
 *                 ordinary flow
 * Checksums are right (the sensor drops bad ones before reassembly). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVER_IP 0x0affff01u
#define SERVER_PORT 9000
#define T0 1772416800ull /* 2026-03-02T02:00:00Z */

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += (uint32_t)(p[n - 1] << 8);
    return s;
}

static uint16_t csum_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* One Ethernet/IPv4/TCP packet with a correct IP and TCP checksum. */
static void packet(FILE *f, uint64_t ts_us, uint32_t sip, uint16_t sp, uint32_t dip, uint16_t dp,
                   uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *pl, size_t plen)
{
    uint8_t b[14 + 20 + 20 + 64];
    size_t iplen = 20 + 20 + plen, len = 14 + iplen;
    memset(b, 0, sizeof(b));
    memcpy(b, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
    uint8_t *ip = b + 14, *tcp = ip + 20;
    ip[0] = 0x45;
    put16(ip + 2, (uint32_t)iplen);
    put16(ip + 4, seq & 0xffff);
    ip[6] = 0x40; /* DF */
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, sip);
    put32(ip + 16, dip);
    put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
    put16(tcp, sp);
    put16(tcp + 2, dp);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    memcpy(tcp + 20, pl, plen);
    uint8_t ph[12];
    memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = 6;
    put16(ph + 10, (uint32_t)(20 + plen));
    put16(tcp + 16, csum_fold(csum_add(csum_add(0, ph, 12), tcp, 20 + plen)));
    uint8_t rh[16];
    le32(rh, (uint32_t)(ts_us / 1000000u));
    le32(rh + 4, (uint32_t)(ts_us % 1000000u));
    le32(rh + 8, (uint32_t)len);
    le32(rh + 12, (uint32_t)len);
    fwrite(rh, 1, 16, f);
    fwrite(b, 1, len, f);
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    uint64_t n = 1000000;
    double dur = 10;
    int data = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--flows") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
            dur = atof(argv[++i]);
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "syn") && strcmp(argv[i], "data")) {
                fprintf(stderr, "lh-bench-flows: --mode syn|data\n");
                return 1;
            }
            data = !strcmp(argv[i], "data");
        } else {
            fprintf(stderr, "usage: lh-bench-flows -o OUT.pcap [--flows N] [--duration S] "
                            "[--mode syn|data]\n");
            return 1;
        }
    }
    if (!out || n == 0 || n > (1ull << 24) || !(dur > 0)) {
        fprintf(stderr, "lh-bench-flows: give -o OUT.pcap, 1 <= --flows <= 16777216, --duration > 0\n");
        return 1;
    }
    FILE *f = fopen(out, "wb");
    if (!f) {
        perror(out);
        return 2;
    }
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof(buf));
    uint8_t gh[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0};
    le32(gh + 16, 65535);
    le32(gh + 20, 1); /* DLT_EN10MB */
    fwrite(gh, 1, 24, f);
    static const uint8_t req[32] = "BENCH-PING 0123 abcdefghijklmn\r\n";
    static const uint8_t rsp[32] = "BENCH-PONG 4567 opqrstuvwxyzab\r\n";
    uint64_t step = (uint64_t)(dur * 1e6 / (double)n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t ts = T0 * 1000000u + i * (step ? step : 1);
        uint32_t cip = 0x0a000000u | (uint32_t)(i & 0xffffff);
        uint16_t cp = (uint16_t)(10000 + (i * 7919u) % 50000u);
        uint32_t cs = (uint32_t)(i * 2654435761u), ss = ~cs;
        packet(f, ts, cip, cp, SERVER_IP, SERVER_PORT, cs, 0, 0x02, NULL, 0);
        if (!data)
            continue;
        packet(f, ts + 1, SERVER_IP, SERVER_PORT, cip, cp, ss, cs + 1, 0x12, NULL, 0);
        packet(f, ts + 2, cip, cp, SERVER_IP, SERVER_PORT, cs + 1, ss + 1, 0x10, NULL, 0);
        packet(f, ts + 3, cip, cp, SERVER_IP, SERVER_PORT, cs + 1, ss + 1, 0x18, req, sizeof(req));
        packet(f, ts + 4, SERVER_IP, SERVER_PORT, cip, cp, ss + 1, cs + 33, 0x18, rsp, sizeof(rsp));
    }
    if (fclose(f) != 0) {
        perror(out);
        return 2;
    }
    return 0;
}
