/* test_api_rules.c - identity: and endpoints: sections, and their errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rules/api_rules_parse.h"
#include "rules/endpoint.h"
#include "rules/ruleset.h"

static const char *PATTERN = "version: 1\npatterns:\n  - id: m\n    category: phone\n"
                             "    regex: '1[3-9][0-9]{9}'\n";

static int load_text(const char *text, struct ruleset **rs, char *err, size_t errlen)
{
    char path[] = "/tmp/lh-api-rules-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    if (fd < 0)
        return -2;
    FILE *fp = fdopen(fd, "w");
    fputs(PATTERN, fp);
    fputs(text, fp);
    fclose(fp);
    const char *paths[] = {path};
    int rc = ruleset_load(paths, 1, rs, err, errlen);
    unlink(path);
    return rc;
}

int main(void)
{
    char err[4096];
    struct ruleset *rs = NULL;
    int rc = load_text("identity:\n"
                       "  - header: X-Emp-Id\n"
                       "  - jwt: {header: X-Token, claim: ctx.emp}\n"
                       "  - jwt: emp_id\n"
                       "  - basic: true\n"
                       "  - session: {cookie: SESSIONID, login: login}\n"
                       "endpoints:\n"
                       "  - id: waybill_query\n"
                       "    method: [get, POST]\n"
                       "    path: '^/api/v1/waybill'\n"
                       "    host: waybill.corp.example\n"
                       "    waybill: [path, no]\n"
                       "  - id: login\n"
                       "    path: '^/api/v1/login$'\n",
                       &rs, err, sizeof(err));
    CHECK_EQ(rc, 0);
    if (rc == 0) {
        const struct api_rules *a = &rs->api;
        CHECK_EQ(a->n_identity, 5);
        CHECK_EQ(a->identity[0].kind, IDENT_HEADER);
        CHECK_STR(a->identity[0].name, "X-Emp-Id");
        CHECK_EQ(a->identity[1].kind, IDENT_JWT);
        CHECK_STR(a->identity[1].name, "X-Token");
        CHECK_STR(a->identity[1].claim, "ctx.emp");
        CHECK_STR(a->identity[2].claim, "emp_id");
        CHECK(a->identity[2].name == NULL);
        CHECK_EQ(a->identity[3].kind, IDENT_BASIC);
        CHECK_EQ(a->identity[4].kind, IDENT_SESSION);
        CHECK_EQ(a->identity[4].login_idx, 1);
        CHECK_EQ(a->identity[4].line, 11);
        CHECK_EQ(a->n_endpoints, 2);
        CHECK_STR(a->endpoints[0].id, "waybill_query");
        CHECK_EQ(a->endpoints[0].n_methods, 2);
        CHECK_STR(a->endpoints[0].methods[0], "GET");
        CHECK_STR(a->endpoints[0].waybill_param, "path,no");

        struct endpoint_db *db = NULL;
        CHECK_EQ(endpoint_db_build(a, &db, err, sizeof(err)), 0);
        struct endpoint_scratch *s = endpoint_scratch_new(db);
        CHECK_EQ(endpoint_match(db, s, "GET", "waybill.corp.example:8080",
                                "/api/v1/waybill/YT1234567890123?x=1"), 0);
        CHECK_EQ(endpoint_match(db, s, "GET", "other.example", "/api/v1/waybill/1"), -1);
        CHECK_EQ(endpoint_match(db, s, "DELETE", "waybill.corp.example", "/api/v1/waybill/1"),
                 -1);
        CHECK_EQ(endpoint_match(db, s, "POST", NULL, "/api/v1/login"), 1);
        CHECK_EQ(endpoint_match(db, s, "POST", NULL, "/api/v1/login/x"), -1);
        CHECK_EQ(endpoint_waybill(a, 0, "/api/v1/waybill/78123456789012?p=2"), 78123456789012ull);
        CHECK_EQ(endpoint_waybill(a, 0, "/api/v1/waybill?no=JT0012345678901&x"), 12345678901ull);
        CHECK_EQ(endpoint_waybill(a, 1, "/api/v1/login"), 0);
        size_t ws = 0, wl = 0;
        CHECK_EQ(endpoint_waybill_span(a, 0, "/api/v1/waybill/YT1234567890123?x=1", &ws, &wl), 1);
        CHECK_EQ(ws, 16);
        CHECK_EQ(wl, 15);
        CHECK_EQ(endpoint_waybill_span(a, 0, "/api/v1/waybill?a=1&no=JT001&b", &ws, &wl), 1);
        CHECK_EQ(ws, 23);
        CHECK_EQ(wl, 5);
        CHECK_EQ(endpoint_waybill_span(a, 0, "/api/v1/waybill?a=1", &ws, &wl), 0);
        CHECK_EQ(endpoint_waybill_span(a, 1, "/api/v1/login", &ws, &wl), 0);
        endpoint_scratch_free(s);
        endpoint_db_free(db);
        ruleset_free(rs);
    }

    /* every error reported, with its line */
    rs = NULL;
    rc = load_text("identity:\n"
                   "  - phone: X\n"
                   "  - session: {cookie: S, login: nowhere}\n"
                   "  - header: X\n    cookie: Y\n"
                   "endpoints:\n"
                   "  - id: a\n"
                   "  - path: '^/x'\n"
                   "  - id: b\n    path: '^/y'\n    colour: red\n"
                   "  - id: b\n    path: '^/z'\n",
                   &rs, err, sizeof(err));
    CHECK_EQ(rc, -1);
    CHECK(rs == NULL);
    CHECK(strstr(err, ":7: unknown identity source 'phone'") != NULL);
    CHECK(strstr(err, ":8: session login endpoint 'nowhere' is not declared") != NULL);
    CHECK(strstr(err, ":9: an identity source is one of") != NULL);
    CHECK(strstr(err, ":12: endpoint needs a 'path' regex") != NULL);
    CHECK(strstr(err, ":13: endpoint needs an 'id'") != NULL);
    CHECK(strstr(err, ":16: unknown key 'colour' in endpoint") != NULL);
    CHECK(strstr(err, ":17: duplicate endpoint id 'b'") != NULL);
    if (check_failed)
        fprintf(stderr, "errors were:\n%s\n", err);

    /* sessions by token: where requests carry it, where the login answer gives it */
    rs = NULL;
    rc = load_text("identity:\n"
                   "  - session: {header: Authorization, login: in, token: data.token}\n"
                   "  - session: {query: access_token, login: in, token_header: X-Token}\n"
                   "  - session: {header: X-Auth, login: in}\n"
                   "endpoints:\n  - id: in\n    path: '^/login$'\n",
                   &rs, err, sizeof(err));
    CHECK_EQ(rc, 0);
    if (rc == 0) {
        const struct rule_identity *id = rs->api.identity;
        CHECK_EQ(rs->api.n_identity, 3);
        CHECK_EQ(id[0].carrier, SESS_HEADER);
        CHECK_STR(id[0].name, "Authorization");
        CHECK_STR(id[0].token, "data.token");
        CHECK(id[0].token_header == NULL);
        CHECK_EQ(id[0].login_idx, 0);
        CHECK_EQ(id[1].carrier, SESS_QUERY);
        CHECK_STR(id[1].token_header, "X-Token");
        CHECK_EQ(id[2].carrier, SESS_HEADER);
        CHECK(id[2].token == NULL && id[2].token_header == NULL);
        ruleset_free(rs);
    }
    rs = NULL;
    rc = load_text("identity:\n"
                   "  - session: {cookie: S, header: H, login: in}\n"
                   "  - session: {query: t, login: in}\n"
                   "  - session: {header: H, login: in, token: a, token_header: B}\n"
                   "  - session: {header: H, login: in, tokens: a}\n"
                   "  - session: {token: a, login: in}\n"
                   "endpoints:\n  - id: in\n    path: '^/login$'\n",
                   &rs, err, sizeof(err));
    CHECK_EQ(rc, -1);
    CHECK(strstr(err, ":7: session needs login: and exactly one of cookie:, header:, query:") != NULL);
    CHECK(strstr(err, ":8: a session carried in a query parameter needs token:") != NULL);
    CHECK(strstr(err, ":9: session: token: (the login answer's JSON) or token_header:, not both") != NULL);
    CHECK(strstr(err, ":10: unknown key 'tokens' in session") != NULL);
    CHECK(strstr(err, ":11: session needs login: and exactly one of") != NULL);
    if (check_failed)
        fprintf(stderr, "errors were:\n%s\n", err);

    /* path segments and XML elements */
    rs = NULL;
    rc = load_text("identity:\n  - path: 3\n  - path: -1\n  - path: {after: staff}\n"
                   "  - xml: userId\n",
                   &rs, err, sizeof(err));
    CHECK_EQ(rc, 0);
    if (rc == 0) {
        const struct rule_identity *id = rs->api.identity;
        CHECK_EQ(id[0].kind, IDENT_PATH);
        CHECK_EQ(id[0].segment, 3);
        CHECK_EQ(id[1].segment, -1);
        CHECK_EQ(id[2].segment, 0);
        CHECK_STR(id[2].name, "staff");
        CHECK_EQ(id[3].kind, IDENT_XML);
        CHECK_STR(id[3].name, "userId");
        ruleset_free(rs);
    }
    rs = NULL;
    rc = load_text("identity:\n  - path: 0\n  - path: two\n  - path: {before: x}\n"
                   "  - xml: 'soap:userId'\n",
                   &rs, err, sizeof(err));
    CHECK_EQ(rc, -1);
    CHECK(strstr(err, ":7: path needs a segment number") != NULL);
    CHECK(strstr(err, ":8: path needs a segment number") != NULL);
    CHECK(strstr(err, ":9: path needs a segment number") != NULL);
    CHECK(strstr(err, ":10: xml needs an element's name (without a namespace prefix)") != NULL);
    if (check_failed)
        fprintf(stderr, "errors were:\n%s\n", err);

    /* a path regex Hyperscan rejects is reported at its endpoint */
    rs = NULL;
    rc = load_text("endpoints:\n  - id: bad\n    path: '(unclosed'\n", &rs, err, sizeof(err));
    CHECK_EQ(rc, 0);
    if (rc == 0) {
        struct endpoint_db *db = NULL;
        CHECK_EQ(endpoint_db_build(&rs->api, &db, err, sizeof(err)), -1);
        CHECK(strstr(err, ":7: endpoint bad: path:") != NULL);
        ruleset_free(rs);
    }
    return check_done();
}
