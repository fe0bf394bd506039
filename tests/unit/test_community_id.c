/* test_community_id.c - Community ID v1 and address formatting.
 *
 * The TCP, UDP and proto-46 vectors are the spec's (REFERENCE.md). The ICMP,
 * ICMPv6, IPv6 TCP and seed-1 values were computed independently: a pcap
 * with those packets was written by a small python3 script (struct module)
 * and run through Wireshark 4.0.17's dissector,
 *   tshark -r cid.pcap --enable-protocol communityid \
 *          -o communityid.seed:S -T fields -e communityid
 * with S = 0 and 1; the values below are what tshark printed. tshark gave
 * the spec's vectors too, so the two sources agree. */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "sensor/flow.h"

static struct lh_addr v4(const char *s)
{
    struct lh_addr a;
    memset(&a, 0, sizeof(a));
    a.a[10] = a.a[11] = 0xff;
    CHECK(inet_pton(AF_INET, s, a.a + 12) == 1);
    return a;
}

static struct lh_addr v6(const char *s)
{
    struct lh_addr a;
    memset(&a, 0, sizeof(a));
    CHECK(inet_pton(AF_INET6, s, a.a) == 1);
    return a;
}

/* The ID both ways round; for a two-way tuple both must be expect. */
static void check_both(uint16_t seed, uint8_t ver, uint8_t proto, const struct lh_addr *a,
                       uint16_t pa, const struct lh_addr *b, uint16_t pb, const char *expect)
{
    char out[32], rev[32];
    memset(out, 'x', sizeof(out));
    flow_community_id(seed, ver, proto, a, pa, b, pb, out);
    CHECK_STR(out, expect);
    CHECK_EQ(strlen(out), 30);
    flow_community_id(seed, ver, proto, b, pb, a, pa, rev);
    CHECK_STR(rev, expect);
}

static void test_spec_vectors(void)
{
    struct lh_addr a = v4("128.232.110.120"), b = v4("66.35.250.204");
    check_both(0, 4, 6, &a, 34855, &b, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    struct lh_addr c = v4("192.168.1.52"), d = v4("8.8.8.8");
    check_both(0, 4, 17, &c, 54585, &d, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
    struct lh_addr e = v4("10.1.12.1"), f = v4("10.1.12.2");
    check_both(0, 4, 46, &e, 0, &f, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=");
    /* protocols without ports ignore whatever port values are passed */
    check_both(0, 4, 46, &e, 1234, &f, 80, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=");
}

static void test_seed(void)
{
    /* tshark -o communityid.seed:1 */
    struct lh_addr a = v4("128.232.110.120"), b = v4("66.35.250.204");
    check_both(1, 4, 6, &a, 34855, &b, 80, "1:3V71V58M3Ksw/yuFALMcW0LAHvc=");
    struct lh_addr c = v4("192.168.1.52"), d = v4("8.8.8.8");
    check_both(1, 4, 17, &c, 54585, &d, 53, "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=");
    struct lh_addr e = v4("10.1.12.1"), f = v4("10.1.12.2");
    check_both(1, 4, 46, &e, 0, &f, 0, "1:rYir8gphR31noO9iDRQmF/BteEI=");
}

static void test_icmp(void)
{
    struct lh_addr h = v4("192.168.1.10"), r = v4("10.0.0.1");
    char out[32];
    /* echo request h->r (type 8 code 0) and reply r->h (type 0 code 0) */
    flow_community_id(0, 4, 1, &h, 8, &r, 0, out);
    CHECK_STR(out, "1:fVCaTWibfVUKIrzUQo4zLZoswbQ=");
    flow_community_id(0, 4, 1, &r, 0, &h, 0, out);
    CHECK_STR(out, "1:fVCaTWibfVUKIrzUQo4zLZoswbQ=");
    flow_community_id(1, 4, 1, &h, 8, &r, 0, out);
    CHECK_STR(out, "1:8xX3kRzxIYXHmYlnWuGDi3vqP14=");
    flow_community_id(1, 4, 1, &r, 0, &h, 0, out);
    CHECK_STR(out, "1:8xX3kRzxIYXHmYlnWuGDi3vqP14=");
    /* one-way: port unreachable r->h (3/3), time exceeded h->r (11/0) with
     * the larger address first: hashed as given, not reordered */
    flow_community_id(0, 4, 1, &r, 3, &h, 3, out);
    CHECK_STR(out, "1:dtiEyMB75c9b3dUOSUy2ubw3xKQ=");
    flow_community_id(1, 4, 1, &r, 3, &h, 3, out);
    CHECK_STR(out, "1:vdyISaWDG/tMUreDpi+RotB5jkE=");
    flow_community_id(0, 4, 1, &h, 11, &r, 0, out);
    CHECK_STR(out, "1:zArEBgNW700f0M7M+CapBJQYOwI=");
    char rev[32];
    flow_community_id(0, 4, 1, &r, 11, &h, 0, rev);
    CHECK(strcmp(out, rev) != 0); /* one-way IDs keep their direction */

    /* ICMPv6 echo request 2001:db8::1 -> ::2 (128) and its reply (129) */
    struct lh_addr a6 = v6("2001:db8::1"), b6 = v6("2001:db8::2");
    flow_community_id(0, 6, 58, &a6, 128, &b6, 0, out);
    CHECK_STR(out, "1:u2vMS3HiWth2lIMKHB1fjELshpQ=");
    flow_community_id(0, 6, 58, &b6, 129, &a6, 0, out);
    CHECK_STR(out, "1:u2vMS3HiWth2lIMKHB1fjELshpQ=");
    flow_community_id(1, 6, 58, &a6, 128, &b6, 0, out);
    CHECK_STR(out, "1:/8emheB+mrn2yPC8dLdJ0QdERzQ=");
}

static void test_ipv6_tcp(void)
{
    struct lh_addr a = v6("2001:db8::1"), b = v6("2001:db8::2");
    check_both(0, 6, 6, &a, 51000, &b, 443, "1:TZebe/ybIXr8J9lX26/lqPRYGuk=");
    check_both(1, 6, 6, &a, 51000, &b, 443, "1:lQBZvBahtIZWDlE8fq259XuJY9o=");
}

static void test_icmp_pairs(void)
{
    CHECK_EQ(flow_icmp_peer_type(1, 8), 0);
    CHECK_EQ(flow_icmp_peer_type(1, 0), 8);
    CHECK_EQ(flow_icmp_peer_type(1, 13), 14);
    CHECK_EQ(flow_icmp_peer_type(1, 15), 16);
    CHECK_EQ(flow_icmp_peer_type(1, 10), 9);
    CHECK_EQ(flow_icmp_peer_type(1, 17), 18);
    CHECK(flow_icmp_peer_type(1, 3) < 0);
    CHECK(flow_icmp_peer_type(1, 11) < 0);
    CHECK_EQ(flow_icmp_peer_type(58, 128), 129);
    CHECK_EQ(flow_icmp_peer_type(58, 129), 128);
    CHECK_EQ(flow_icmp_peer_type(58, 130), 131);
    CHECK_EQ(flow_icmp_peer_type(58, 133), 134);
    CHECK_EQ(flow_icmp_peer_type(58, 135), 136);
    CHECK_EQ(flow_icmp_peer_type(58, 139), 140);
    CHECK_EQ(flow_icmp_peer_type(58, 144), 145);
    CHECK(flow_icmp_peer_type(58, 1) < 0);
    CHECK(flow_icmp_peer_type(58, 8) < 0); /* v4 numbers mean nothing in v6 */
    CHECK(flow_icmp_peer_type(6, 8) < 0);
    /* the table is an involution: each pair maps back */
    for (unsigned proto = 1; proto <= 58; proto += 57)
        for (unsigned ty = 0; ty < 256; ty++) {
            int p = flow_icmp_peer_type((uint8_t)proto, (uint8_t)ty);
            if (p >= 0) CHECK_EQ(flow_icmp_peer_type((uint8_t)proto, (uint8_t)p), ty);
        }
}

static void test_addr_str(void)
{
    char out[64];
    struct lh_addr a = v4("192.168.1.52");
    flow_addr_str(&a, 4, out, sizeof(out));
    CHECK_STR(out, "192.168.1.52");
    flow_addr_str(&a, 6, out, sizeof(out)); /* v4-mapped prints as dotted quad */
    CHECK_STR(out, "192.168.1.52");
    struct lh_addr b = v6("2001:db8::1");
    flow_addr_str(&b, 6, out, sizeof(out));
    CHECK_STR(out, "2001:0db8:0000:0000:0000:0000:0000:0001");
    struct lh_addr c = v6("fe80::1:2:3:4");
    flow_addr_str(&c, 6, out, 46);
    CHECK_STR(out, "fe80:0000:0000:0000:0001:0002:0003:0004");
    /* a short buffer truncates, NUL-terminated, never overruns */
    char small[8];
    memset(small, 'x', sizeof(small));
    flow_addr_str(&a, 4, small, 5);
    CHECK_STR(small, "192.");
    CHECK_EQ(small[5], 'x');
}

int main(void)
{
    test_spec_vectors();
    test_seed();
    test_icmp();
    test_ipv6_tcp();
    test_icmp_pairs();
    test_addr_str();
    return check_done();
}
