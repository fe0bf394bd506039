/* community_id.c - Community ID v1 of a flow tuple, and address formatting.
 *
 * Follows corelight's community-id-spec v1: SHA-1 over
 *   seed(2) | saddr | daddr | proto(1) | 0x00 | sport(2) | dport(2)
 * (network byte order, 4-byte addresses for IPv4, 16 for IPv6), base64 with
 * the standard alphabet and '=' padding, prefixed "1:". Ports are hashed only
 * for TCP, UDP, SCTP, ICMP and ICMPv6, as in the spec's reference code; any
 * other protocol hashes the addresses and protocol alone.
 *
 * Endpoint order: the smaller (address, then port) endpoint goes first, so
 * both directions give one ID. ICMP and ICMPv6 use the type as the source
 * port; when the type has a counterpart in the spec's table (echo request and
 * reply, ...), the counterpart is the destination port, otherwise the code
 * is and the tuple is "one-way": it is hashed in the order given, never
 * swapped. Ports are compared as numbers (the C reference compares them in
 * network byte order, which differs only when both addresses are equal).
 *
 * Input comes in by value; output is a caller's fixed buffer. No allocation,
 * no failure: OpenSSL's one-shot SHA1() and EVP_EncodeBlock() work on
 * caller-side memory only. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "sensor/flow.h"

enum {
    PROTO_ICMP = 1,
    PROTO_TCP = 6,
    PROTO_UDP = 17,
    PROTO_ICMPV6 = 58,
    PROTO_SCTP = 132,
};

int flow_icmp_peer_type(uint8_t proto, uint8_t type)
{
    if (proto == PROTO_ICMP) {
        switch (type) {
        case 8:
            return 0; /* echo -> echo reply */
        case 0:
            return 8;
        case 13:
            return 14; /* timestamp */
        case 14:
            return 13;
        case 15:
            return 16; /* information */
        case 16:
            return 15;
        case 10:
            return 9; /* router solicitation -> advertisement */
        case 9:
            return 10;
        case 17:
            return 18; /* address mask */
        case 18:
            return 17;
        default:
            return -1;
        }
    }
    if (proto == PROTO_ICMPV6) {
        switch (type) {
        case 128:
            return 129; /* echo request -> reply */
        case 129:
            return 128;
        case 130:
            return 131; /* MLD listener query -> report */
        case 131:
            return 130;
        case 133:
            return 134; /* router solicitation -> advertisement */
        case 134:
            return 133;
        case 135:
            return 136; /* neighbor solicitation -> advertisement */
        case 136:
            return 135;
        case 139:
            return 140; /* node information query -> response */
        case 140:
            return 139;
        case 144:
            return 145; /* home agent address discovery */
        case 145:
            return 144;
        default:
            return -1;
        }
    }
    return -1;
}

void flow_community_id(uint16_t seed, uint8_t ip_ver, uint8_t proto, const struct lh_addr *a,
                       uint16_t pa, const struct lh_addr *b, uint16_t pb, char out[32])
{
    /* IPv4 lives v4-mapped in the last 4 bytes; the spec hashes 4 bytes */
    size_t alen = ip_ver == 4 ? 4 : 16;
    const uint8_t *sa = ip_ver == 4 ? a->a + 12 : a->a;
    const uint8_t *da = ip_ver == 4 ? b->a + 12 : b->a;
    int has_ports = proto == PROTO_TCP || proto == PROTO_UDP || proto == PROTO_SCTP ||
                    proto == PROTO_ICMP || proto == PROTO_ICMPV6;
    int one_way = 0;
    uint16_t sp = pa, dp = pb;

    if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
        int peer = flow_icmp_peer_type(proto, (uint8_t)pa);
        if (peer >= 0)
            dp = (uint16_t)peer;
        else
            one_way = 1;
    }
    if (!one_way) {
        int c = memcmp(sa, da, alen);
        int lt = c < 0 || (c == 0 && (!has_ports || sp < dp));
        if (!lt) {
            const uint8_t *ta = sa;
            uint16_t tp = sp;
            sa = da;
            da = ta;
            sp = dp;
            dp = tp;
        }
    }

    uint8_t buf[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    buf[n++] = (uint8_t)(seed >> 8);
    buf[n++] = (uint8_t)seed;
    memcpy(buf + n, sa, alen);
    n += alen;
    memcpy(buf + n, da, alen);
    n += alen;
    buf[n++] = proto;
    buf[n++] = 0;
    if (has_ports) {
        buf[n++] = (uint8_t)(sp >> 8);
        buf[n++] = (uint8_t)sp;
        buf[n++] = (uint8_t)(dp >> 8);
        buf[n++] = (uint8_t)dp;
    }

    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1(buf, n, md);
    memcpy(out, "1:", 2);
    /* 20 bytes -> 28 base64 chars + NUL: 31 of the 32 bytes */
    EVP_EncodeBlock((unsigned char *)out + 2, md, SHA_DIGEST_LENGTH);
}

void flow_addr_str(const struct lh_addr *a, uint8_t ip_ver, char *out, size_t outlen)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const char hex[] = "0123456789abcdef";
    char tmp[INET6_ADDRSTRLEN];
    size_t n = 0;

    if (!out || outlen == 0) return;
    /* written by hand, not by printf: two per event on the packet path */
    if (ip_ver == 4 || memcmp(a->a, v4mapped, sizeof(v4mapped)) == 0) {
        for (int i = 12; i < 16; i++) { /* dotted quad, as inet_ntop writes it */
            unsigned v = a->a[i];
            if (v >= 100) tmp[n++] = (char)('0' + v / 100);
            if (v >= 10) tmp[n++] = (char)('0' + v / 10 % 10);
            tmp[n++] = (char)('0' + v % 10);
            if (i < 15) tmp[n++] = '.';
        }
    } else {
        /* written out in full, as Suricata's EVE does, so SIEM parsers and
         * correlation on the text form carry over */
        for (int i = 0; i < 16; i++) {
            tmp[n++] = hex[a->a[i] >> 4];
            tmp[n++] = hex[a->a[i] & 15];
            if (i & 1 && i < 15) tmp[n++] = ':';
        }
    }
    if (n > outlen - 1) n = outlen - 1;
    memcpy(out, tmp, n);
    out[n] = 0;
}
