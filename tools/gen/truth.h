/* truth.h - the ground truth written next to each capture (X.truth.json).
 *
 * What goes in: every HTTP request (account, flow, endpoint, time), every
 * counted value an account received in a response body (category and the
 * exact text, unmasked and valid only), every flow and scenario. What comes
 * out: counts only - distinct values per account per hour, per account,
 * per scenario, per TCP flow and over the whole file. Values are kept as
 * 64-bit hashes in memory and never written.
 *
 * Ownership: truth_new() returns an object freed by truth_free(). Out of
 * memory aborts (offline tool). */
#ifndef LH_GEN_TRUTH_H
#define LH_GEN_TRUTH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pkt.h"

enum { T_MOBILE, T_ID, T_ADDR, T_WAYBILL, T_LANDLINE, T_NCAT };

/* Endpoints counted per account per hour (keys in the truth file). */
enum {
    EP_LOGIN,
    EP_WAYBILL_PATH,
    EP_WAYBILL_QUERY,
    EP_SEARCH,
    EP_EXPORT,
    EP_NOTICE,
    EP_STATIC,
    EP_N
};
extern const char *const truth_ep_name[EP_N];

typedef struct truth truth;

/* Where a response's values are counted; any index may be -1 (none). */
typedef struct {
    truth *t;
    int acct, flow, scen;
    uint64_t time;
} truth_sink;

truth *truth_new(int naccounts, int keep_flows);
void truth_free(truth *t);

void truth_account(truth *t, int a, const char *id, const char *role, const char *outlet,
                   const char *province, const char *city);
void truth_account_ip(truth *t, int a, const pkt_addr *ip);

/* Registers a scenario; returns its index. params_json is an object text. */
int truth_scenario(truth *t, const char *name, int acct, int malicious, int allowlisted,
                   const char *params_json);
void truth_scenario_ip(truth *t, int s, const pkt_addr *ip);

/* A TCP or UDP flow; returns a handle for truth_request/sink/close. */
int truth_flow_open(truth *t, int proto, const pkt_addr *cli, uint16_t cport, const pkt_addr *srv,
                    uint16_t sport, uint64_t start, int acct, const char *app);
/* Flags: PKT_F_* from the connection. */
void truth_flow_close(truth *t, int flow, unsigned pkt_flags);

/* An HTTP request on a flow; acct and endpoint may be -1 (background). */
void truth_request(truth *t, int flow, int acct, int scen, int endpoint, uint64_t time);
/* An HTTP response on a flow with how its body was encoded. */
void truth_response(truth *t, int flow, int acct, int gzip, int deflate, int chunked,
                    uint64_t time);

/* One received value (exact text as in the body; mobiles normalised to 11
 * digits by the caller). NULL sink: ignored. */
void truth_value(truth_sink *s, int cat, const char *v, size_t n);
/* A masked value seen (counted, never as a record). */
void truth_masked(truth_sink *s);

/* Writes the whole file: params_json and server_json are object texts put
 * in as they are. Returns 0 or -1 (reason in err, 256 bytes). */
int truth_write(truth *t, const char *path, const char *params_json, const char *server_json,
                const pkt_writer *w, char *err);

/* ISO 8601 UTC time of t (us) into out (32 bytes); frac: with .uuuuuu. */
void truth_iso(uint64_t t, int frac, char *out);
/* Endpoint path templates, for the file's "endpoints" map. */
extern const char *const truth_ep_path[EP_N];

#endif
