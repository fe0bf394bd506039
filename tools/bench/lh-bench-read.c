/* lh-bench-read.c - the benchmark's floor: libpcap's offline read loop alone.
 *
 * In: capture files. Out: one JSON line on stdout with the packets, wire and
 * captured bytes, and the wall and CPU time of the loop. The loop does what
 * every reader must: pcap_open_offline, pcap_next_ex for every packet, and
 * one load per 64-byte line of each packet so the bytes really come through
 * the cache (a loop that never touches the data measures less than the
 * sensor can ever pay). The sum is printed so the compiler keeps the loads.
 * Not part of the sensor: it includes <pcap.h> on its own. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout, "usage: lh-bench-read FILE.pcap ...\n");
        return argc < 2 ? 1 : 0;
    }
    uint64_t pkts = 0, wire = 0, cap = 0, sum = 0;
    double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 1; i < argc; i++) {
        char err[PCAP_ERRBUF_SIZE];
        pcap_t *p = pcap_open_offline(argv[i], err);
        if (!p) {
            fprintf(stderr, "lh-bench-read: %s\n", err);
            return 2;
        }
        struct pcap_pkthdr *h;
        const u_char *d;
        int rc;
        while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
            pkts++;
            wire += h->len;
            cap += h->caplen;
            for (uint32_t o = 0; o < h->caplen; o += 64)
                sum += d[o];
        }
        if (rc == PCAP_ERROR)
            fprintf(stderr, "lh-bench-read: %s: %s\n", argv[i], pcap_geterr(p));
        pcap_close(p);
    }
    double wall = now_s(CLOCK_MONOTONIC) - w0, cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    printf("{\"packets\":%llu,\"wire_bytes\":%llu,\"cap_bytes\":%llu,\"wall_s\":%.6f,"
           "\"cpu_s\":%.6f,\"sum\":%llu}\n",
           (unsigned long long)pkts, (unsigned long long)wire, (unsigned long long)cap, wall, cpu,
           (unsigned long long)sum);
    return 0;
}
