/* test_evidence.c - evidence captures: written, readable, capped, retained. */
#include <dirent.h>
#include <pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "output/evidence.h"

static int count_packets(const char *path)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, eb);
    if (!p)
        return -1;
    struct pcap_pkthdr *h;
    const u_char *d;
    int n = 0;
    while (pcap_next_ex(p, &h, &d) == 1)
        n++;
    CHECK_EQ(pcap_datalink(p), DLT_RAW);
    pcap_close(p);
    return n;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += strstr(de->d_name, ".pcap") != NULL;
    if (d)
        closedir(d);
    return n;
}

int main(void)
{
    char dir[] = "/tmp/lh-evidence-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char evdir[256];
    snprintf(evdir, sizeof(evdir), "%s/evidence", dir);
    uint8_t ip[60] = {0x45, 0, 0, 60};
    char err[256];

    struct evidence_config cfg = {evdir, 0, 16 + 24 + 5 * (16 + 60), 2, 1};
    struct evidence *e = evidence_new(&cfg, err, sizeof(err));
    CHECK(e != NULL);
    struct stat sb;
    CHECK(stat(evdir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
    CHECK(!evidence_active(e, "E1"));
    evidence_packet(e, "E1", 1, ip, sizeof(ip), 60); /* no episode: not written */
    const char *p1 = evidence_start(e, "E1/../x", "bulk", 1772445303000000ull);
    CHECK(p1 != NULL);
    char path1[512];
    snprintf(path1, sizeof(path1), "%s", p1);
    CHECK(strstr(path1, "/20260302T095503Z-E1____x.pcap") != NULL); /* no path tricks */
    CHECK(evidence_active(e, "E1/../x"));
    for (int i = 0; i < 7; i++) /* the file cap holds 5 */
        evidence_packet(e, "E1/../x", 1772445303000000ull + (uint64_t)i, ip, sizeof(ip), 60);
    CHECK_EQ(evidence_get_stats(e)->packets, 5);
    CHECK_EQ(evidence_get_stats(e)->file_cap_hit, 1);
    /* a second account: with max_open 1 the first is closed; then a third
     * file: retention keeps 2, deleting the oldest name */
    evidence_start(e, "E2", "bulk", 1772445304000000ull);
    evidence_packet(e, "E2", 1772445304000000ull, ip, sizeof(ip), 60);
    evidence_start(e, "E3", "bulk", 1772445305000000ull);
    evidence_packet(e, "E3", 1772445305000000ull, ip, sizeof(ip), 60);
    evidence_packet(e, "E2", 1772445306000000ull, ip, sizeof(ip), 60); /* reopened, appended */
    CHECK_EQ(evidence_get_stats(e)->files, 3);
    CHECK_EQ(evidence_get_stats(e)->files_deleted, 1);
    evidence_free(e);
    CHECK_EQ(count_files(evdir), 2);
    CHECK(access(path1, F_OK) != 0); /* the oldest went */
    char path2[512];
    snprintf(path2, sizeof(path2), "%s/20260302T095504Z-E2.pcap", evdir);
    CHECK_EQ(count_packets(path2), 2);
    CHECK(stat(path2, &sb) == 0 && (sb.st_mode & 0777) == 0600);

    /* the total cap stops writing, counted */
    struct evidence_config c2 = {evdir, 24 + 2 * (16 + 60), 0, 10, 4};
    e = evidence_new(&c2, err, sizeof(err));
    evidence_start(e, "E9", "bulk", 1772445400000000ull);
    for (int i = 0; i < 4; i++)
        evidence_packet(e, "E9", 1772445400000000ull, ip, sizeof(ip), 60);
    CHECK_EQ(evidence_get_stats(e)->packets, 2);
    CHECK_EQ(evidence_get_stats(e)->total_cap_hit, 2);
    evidence_free(e);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return check_done();
}
