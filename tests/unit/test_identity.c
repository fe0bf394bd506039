/* test_identity.c - every identity source, their order, session learning. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "parsers/identity.h"

/* http_tx_header() lives in http.c; the test links it. */

static struct http_header req_h[8], resp_h[4];

static struct http_tx make_tx(const char *uri, const char *const *hdrs, size_t n)
{
    struct http_tx tx;
    memset(&tx, 0, sizeof(tx));
    strcpy(tx.method, "GET");
    tx.uri = (char *)uri;
    for (size_t i = 0; i < n; i++) {
        req_h[i].name = (char *)hdrs[2 * i];
        req_h[i].value = (char *)hdrs[2 * i + 1];
    }
    tx.req_headers = req_h;
    tx.n_req_headers = n;
    return tx;
}

static void b64url(const char *in, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)strlen(in));
    for (int i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
        else if (out[i] == '=') {
            out[i] = 0;
            break;
        }
    }
}

static struct rule_identity src(enum ident_kind k, const char *name, const char *claim)
{
    struct rule_identity r = {.kind = k, .name = (char *)name, .claim = (char *)claim,
                              .login_idx = -1, .file = "t.yaml", .line = 1};
    return r;
}

static int resolve1(struct rule_identity r, struct http_tx *tx, const char *body,
                    struct identity_result *out)
{
    struct api_rules rules = {&r, 1, NULL, 0};
    struct identity_ctx *c = identity_new(&rules, 16, 42);
    int got = identity_resolve(c, tx, (const uint8_t *)body, body ? strlen(body) : 0, out);
    identity_free(c);
    return got;
}

int main(void)
{
    struct identity_result r;

    const char *h1[] = {"Host", "w", "x-emp-id", " E10234 "};
    struct http_tx tx = make_tx("/api", h1, 2);
    CHECK_EQ(resolve1(src(IDENT_HEADER, "X-Emp-Id", NULL), &tx, NULL, &r), 1);
    CHECK_STR(r.account, "E10234");
    CHECK_STR(r.via, "header:X-Emp-Id");
    CHECK_EQ(resolve1(src(IDENT_HEADER, "X-Other", NULL), &tx, NULL, &r), 0);

    const char *h2[] = {"Cookie", "a=1; EMPID=E777; b=2"};
    tx = make_tx("/", h2, 1);
    CHECK_EQ(resolve1(src(IDENT_COOKIE, "EMPID", NULL), &tx, NULL, &r), 1);
    CHECK_STR(r.account, "E777");
    CHECK_EQ(resolve1(src(IDENT_COOKIE, "EMP", NULL), &tx, NULL, &r), 0);

    tx = make_tx("/q?x=1&empId=E%31%32+z&y=2", NULL, 0);
    CHECK_EQ(resolve1(src(IDENT_QUERY, "empId", NULL), &tx, NULL, &r), 1);
    CHECK_STR(r.account, "E12 z");
    tx = make_tx("/q?x=%", NULL, 0);
    CHECK_EQ(resolve1(src(IDENT_QUERY, "x", NULL), &tx, NULL, &r), 1);
    CHECK_STR(r.account, "%");

    char b64[128], auth[160];
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)"E555:secret", 11);
    snprintf(auth, sizeof(auth), "Basic %s", b64);
    const char *h3[] = {"Authorization", auth};
    tx = make_tx("/", h3, 1);
    CHECK_EQ(resolve1(src(IDENT_BASIC, NULL, NULL), &tx, NULL, &r), 1);
    CHECK_STR(r.account, "E555");
    CHECK_STR(r.via, "basic");

    char hdr[64], pay[256], tok[512];
    b64url("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", hdr);
    b64url("{\"sub\":\"x\",\"ctx\":{\"emp_id\":\"E42\"},\"n\":7}", pay);
    snprintf(tok, sizeof(tok), "Bearer %s.%s.c2lnbmF0dXJl", hdr, pay);
    const char *h4[] = {"Authorization", tok};
    tx = make_tx("/", h4, 1);
    CHECK_EQ(resolve1(src(IDENT_JWT, NULL, "ctx.emp_id"), &tx, NULL, &r), 1);
    CHECK_STR(r.account, "E42");
    CHECK_STR(r.via, "jwt:ctx.emp_id");
    CHECK_EQ(resolve1(src(IDENT_JWT, NULL, "n"), &tx, NULL, &r), 1);
    CHECK_STR(r.account, "7");
    CHECK_EQ(resolve1(src(IDENT_JWT, NULL, "missing"), &tx, NULL, &r), 0);
    const char *h5[] = {"Authorization", "Bearer not-a-jwt"};
    tx = make_tx("/", h5, 1);
    CHECK_EQ(resolve1(src(IDENT_JWT, NULL, "sub"), &tx, NULL, &r), 0);

    const char *h6[] = {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"};
    tx = make_tx("/login", h6, 1);
    CHECK_EQ(resolve1(src(IDENT_FORM, "user", NULL), &tx, "pw=x&user=E9", &r), 1);
    CHECK_STR(r.account, "E9");
    const char *h7[] = {"Content-Type", "application/json"};
    tx = make_tx("/login", h7, 1);
    CHECK_EQ(resolve1(src(IDENT_JSON, "auth.user", NULL), &tx, "{\"auth\":{\"user\":\"E8\"}}", &r),
             1);
    CHECK_STR(r.account, "E8");
    CHECK_EQ(resolve1(src(IDENT_JSON, "auth.user", NULL), &tx, "{broken", &r), 0);
    /* control bytes never reach an account name */
    CHECK_EQ(resolve1(src(IDENT_JSON, "u", NULL), &tx, "{\"u\":\"E\\u0001Z\"}", &r), 1);
    CHECK_STR(r.account, "EZ");

    /* bytes that are not well-formed UTF-8 are dropped; a multi-byte name is kept whole */
    const char *h11[] = {"X-Emp-Id", "E\xff\xfe" "1\xe5\xbc\xa0\xc0\xaf" "2"};
    tx = make_tx("/", h11, 1);
    CHECK_EQ(resolve1(src(IDENT_HEADER, "X-Emp-Id", NULL), &tx, NULL, &r), 1);
    CHECK_STR(r.account, "E1\xe5\xbc\xa0" "2");
    tx = make_tx("/q?u=%ff%fe", NULL, 0);
    CHECK_EQ(resolve1(src(IDENT_QUERY, "u", NULL), &tx, NULL, &r), 0);

    /* order: the first source that yields wins */
    struct rule_identity two[2] = {src(IDENT_HEADER, "X-Emp-Id", NULL),
                                   src(IDENT_COOKIE, "EMPID", NULL)};
    struct api_rules rules2 = {two, 2, NULL, 0};
    struct identity_ctx *c = identity_new(&rules2, 4, 1);
    const char *h8[] = {"Cookie", "EMPID=C1", "X-Emp-Id", "H1"};
    tx = make_tx("/", h8, 2);
    CHECK_EQ(identity_resolve(c, &tx, NULL, 0, &r), 1);
    CHECK_STR(r.account, "H1");
    tx = make_tx("/", h8, 1);
    CHECK_EQ(identity_resolve(c, &tx, NULL, 0, &r), 1);
    CHECK_STR(r.account, "C1");
    CHECK_EQ(identity_get_stats(c)->resolved[IDENT_HEADER], 1);
    CHECK_EQ(identity_get_stats(c)->resolved[IDENT_COOKIE], 1);
    identity_free(c);

    /* sessions: learned at login, used later, evicted LRU past the cap */
    struct rule_identity ss = src(IDENT_SESSION, "SESSIONID", NULL);
    ss.login_idx = 3;
    struct api_rules rules3 = {&ss, 1, NULL, 0};
    c = identity_new(&rules3, 2, 99);
    struct http_tx login = make_tx("/login", NULL, 0);
    resp_h[0].name = "Set-Cookie";
    resp_h[0].value = "SESSIONID=abc123; Path=/; HttpOnly";
    login.resp_headers = resp_h;
    login.n_resp_headers = 1;
    identity_learn(c, &login, 2, "E1", NULL, 0); /* not the login endpoint: nothing learned */
    CHECK_EQ(identity_get_stats(c)->sessions_learned, 0);
    identity_learn(c, &login, 3, "E1", NULL, 0);
    CHECK_EQ(identity_get_stats(c)->sessions_learned, 1);
    const char *h9[] = {"Cookie", "SESSIONID=abc123"};
    tx = make_tx("/api", h9, 1);
    CHECK_EQ(identity_resolve(c, &tx, NULL, 0, &r), 1);
    CHECK_STR(r.account, "E1");
    CHECK_STR(r.via, "session:SESSIONID");
    resp_h[0].value = "SESSIONID=s2";
    identity_learn(c, &login, 3, "E2", NULL, 0);
    CHECK_EQ(identity_resolve(c, &tx, NULL, 0, &r), 1); /* E1 used again: E2 is now the oldest */
    resp_h[0].value = "SESSIONID=s3";
    identity_learn(c, &login, 3, "E3", NULL, 0); /* cap 2: the least recently used (E2) goes */
    CHECK_EQ(identity_get_stats(c)->sessions_evicted, 1);
    CHECK_EQ(identity_get_stats(c)->sessions_active, 2);
    CHECK_EQ(identity_resolve(c, &tx, NULL, 0, &r), 1);
    CHECK_STR(r.account, "E1");
    const char *h10[] = {"Cookie", "SESSIONID=s2"};
    tx = make_tx("/api", h10, 1);
    CHECK_EQ(identity_resolve(c, &tx, NULL, 0, &r), 0);
    identity_free(c);

    /* sessions whose token the login answer gives in its JSON body, carried
     * later in a header (after an auth scheme) or a query parameter; and
     * one given in a response header of its own */
    struct rule_identity tk[3] = {src(IDENT_SESSION, "Authorization", NULL),
                                  src(IDENT_SESSION, "access_token", NULL),
                                  src(IDENT_SESSION, "X-Auth-Token", NULL)};
    tk[0].carrier = SESS_HEADER;
    tk[0].token = "data.token";
    tk[1].carrier = SESS_QUERY;
    tk[1].token = "data.token";
    tk[2].carrier = SESS_HEADER; /* token_header unset: the answer's X-Auth-Token */
    for (int i = 0; i < 3; i++)
        tk[i].login_idx = 5;
    struct api_rules rules4 = {tk, 3, NULL, 0};
    c = identity_new(&rules4, 8, 7);
    CHECK_EQ(identity_wants_answer(c, 5), 1);
    CHECK_EQ(identity_wants_answer(c, 4), 0);
    struct http_tx ans = make_tx("/api/login", NULL, 0);
    resp_h[0].name = "X-Auth-Token";
    resp_h[0].value = "hdr-tok-77";
    ans.resp_headers = resp_h;
    ans.n_resp_headers = 1;
    const char *jbody = "{\"code\":0,\"data\":{\"token\":\"Bearer q8Zk3Jr0c2x9\",\"ttl\":7200}}";
    identity_learn(c, &ans, 4, "E7", (const uint8_t *)jbody, strlen(jbody)); /* not the login */
    CHECK_EQ(identity_get_stats(c)->sessions_learned, 0);
    identity_learn(c, &ans, 5, "E7", (const uint8_t *)jbody, strlen(jbody));
    CHECK_EQ(identity_get_stats(c)->sessions_learned, 3); /* one per source (two the same token) */
    CHECK_EQ(identity_get_stats(c)->sessions_active, 2);
    const char *h12[] = {"Authorization", "Bearer q8Zk3Jr0c2x9"};
    tx = make_tx("/api/parcel", h12, 1);
    CHECK_EQ(identity_resolve(c, &tx, NULL, 0, &r), 1);
    CHECK_STR(r.account, "E7");
    CHECK_STR(r.via, "session:Authorization");
    const char *h13[] = {"Authorization", "q8Zk3Jr0c2x9"}; /* no scheme: the same token */
    tx = make_tx("/api/parcel", h13, 1);
    CHECK_EQ(identity_resolve(c, &tx, NULL, 0, &r), 1);
    CHECK_STR(r.account, "E7");
    tx = make_tx("/api/parcel?x=1&access_token=q8Zk3Jr0c2x9", NULL, 0);
    CHECK_EQ(identity_resolve(c, &tx, NULL, 0, &r), 1);
    CHECK_STR(r.via, "session:access_token");
    const char *h14[] = {"X-Auth-Token", "hdr-tok-77"};
    tx = make_tx("/api/parcel", h14, 1);
    CHECK_EQ(identity_resolve(c, &tx, NULL, 0, &r), 1);
    CHECK_STR(r.via, "session:X-Auth-Token");
    const char *h15[] = {"Authorization", "Bearer q8Zk3Jr0c2xX"}; /* another token */
    tx = make_tx("/api/parcel", h15, 1);
    CHECK_EQ(identity_resolve(c, &tx, NULL, 0, &r), 0);
    /* a login answer that is not JSON, or has no such field, teaches nothing */
    identity_learn(c, &ans, 5, "E8", (const uint8_t *)"<html>", 6);
    identity_learn(c, &ans, 5, "E8", (const uint8_t *)"{\"data\":{}}", 11);
    CHECK_EQ(identity_get_stats(c)->sessions_active, 2);
    identity_free(c);

    /* a form sent as multipart/form-data (a script's FormData): the text
     * field, not a file part of the same name nor a field whose name ends so */
    const char *hm[] = {"Content-Type", "multipart/form-data; boundary=----WebKitFormBoundaryX7"};
    tx = make_tx("/login", hm, 1);
    const char *mp = "------WebKitFormBoundaryX7\r\n"
                     "Content-Disposition: form-data; name=\"user\"; filename=\"u.txt\"\r\n\r\n"
                     "file-not-me\r\n------WebKitFormBoundaryX7\r\n"
                     "Content-Disposition: form-data; name=\"olduser\"\r\n\r\nnot-me\r\n"
                     "------WebKitFormBoundaryX7\r\n"
                     "Content-Disposition: form-data; name=\"user\"\r\n\r\nwang.wu\r\n"
                     "------WebKitFormBoundaryX7--\r\n";
    CHECK_EQ(resolve1(src(IDENT_FORM, "user", NULL), &tx, mp, &r), 1);
    CHECK_STR(r.account, "wang.wu");
    CHECK_STR(r.via, "form:user");
    CHECK_EQ(resolve1(src(IDENT_FORM, "pass", NULL), &tx, mp, &r), 0);
    const char *hq[] = {"Content-Type", "multipart/form-data; boundary=\"b q\""};
    tx = make_tx("/login", hq, 1);
    CHECK_EQ(resolve1(src(IDENT_FORM, "user", NULL), &tx,
                      "--b q\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nE5", &r),
             1); /* cut before its delimiter (the kept 16 KiB): what there is */
    CHECK_STR(r.account, "E5");

    /* a segment of the path: by number, from the end, after a name */
    struct rule_identity ps = src(IDENT_PATH, NULL, NULL);
    ps.segment = 4;
    tx = make_tx("/api/v1/staff/E%2042/orders?x=1", NULL, 0);
    CHECK_EQ(resolve1(ps, &tx, NULL, &r), 1);
    CHECK_STR(r.account, "E 42");
    CHECK_STR(r.via, "path:4");
    ps.segment = -2;
    CHECK_EQ(resolve1(ps, &tx, NULL, &r), 1);
    CHECK_STR(r.account, "E 42");
    ps.segment = 6;
    CHECK_EQ(resolve1(ps, &tx, NULL, &r), 0);
    ps.segment = 0;
    ps.name = "staff";
    tx = make_tx("http://erp.example:8080//api/staff/U-77", NULL, 0); /* absolute form */
    CHECK_EQ(resolve1(ps, &tx, NULL, &r), 1);
    CHECK_STR(r.account, "U-77");
    CHECK_STR(r.via, "path:staff");
    tx = make_tx("/api/staff", NULL, 0); /* nothing after it */
    CHECK_EQ(resolve1(ps, &tx, NULL, &r), 0);

    /* an element of an XML (SOAP) body, whatever its namespace prefix */
    const char *soap = "<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"x\"><soap:Header>"
                       "<auth:userId/><!-- <userId>no</userId> --></soap:Header><soap:Body>"
                       "<q:Query><q:userId attr=\"1\"> Li &amp; Co&#x41; </q:userId>"
                       "<userIdx>no</userIdx></q:Query></soap:Body></soap:Envelope>";
    const char *hx[] = {"Content-Type", "text/xml; charset=utf-8"};
    tx = make_tx("/ws", hx, 1);
    CHECK_EQ(resolve1(src(IDENT_XML, "userId", NULL), &tx, soap, &r), 1);
    CHECK_STR(r.account, "Li & Co&#x41;");
    CHECK_STR(r.via, "xml:userId");
    CHECK_EQ(resolve1(src(IDENT_XML, "userIdx", NULL), &tx, soap, &r), 1);
    CHECK_STR(r.account, "no");
    CHECK_EQ(resolve1(src(IDENT_XML, "nothing", NULL), &tx, soap, &r), 0);
    tx = make_tx("/ws", NULL, 0); /* no Content-Type: a body that opens with '<' */
    CHECK_EQ(resolve1(src(IDENT_XML, "op", NULL), &tx, "  <r><op><![CDATA[a<b]]></op></r>", &r), 1);
    CHECK_STR(r.account, "a<b");
    CHECK_EQ(resolve1(src(IDENT_XML, "op", NULL), &tx, "{\"op\": \"<op>x</op>\"}", &r), 0);

    char v[16];
    CHECK_EQ(identity_param("a=1&b=22", 8, "b", v, sizeof(v)), 2);
    CHECK_EQ(identity_param("a=1&b=22", 8, "c", v, sizeof(v)), -1);
    CHECK_EQ(identity_param("a=1&b=22", 6, "b", v, sizeof(v)), 0); /* cut at len: empty */
    return check_done();
}
