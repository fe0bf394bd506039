/* fuzz_rules.c - the rule-file loader on any bytes.
 *
 * Input: the contents of one YAML rule file. It is written to an in-memory
 * file (memfd; a temporary file where memfd is missing) and loaded by
 * ruleset_load() alone; for one input length in eight also after the
 * shipped rules/pii-cn.yaml (so ids and sections can clash across files),
 * and for another eighth with a tiny error buffer. Whatever the YAML, the loader must return 0 or -1, never crash,
 * leak or read past anything; on -1 the error text is terminated inside the
 * buffer and names a file; on 0 the ruleset is consistent (ids unique and
 * found by ruleset_pattern_index, validators resolved, a regex for each
 * pattern). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rules/ruleset.h"
#include "rules/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef FUZZ_RULES_FILE
#define FUZZ_RULES_FILE "rules/pii-cn.yaml"
#endif

static const char *shipped_rules(void)
{
    const char *env = getenv("FUZZ_RULES");
    if (env && *env)
        return env;
    return access(FUZZ_RULES_FILE, R_OK) == 0 ? FUZZ_RULES_FILE : NULL;
}

static void check_loaded(const struct ruleset *rs)
{
    for (size_t i = 0; i < rs->n_patterns; i++) {
        const struct rule_pattern *p = &rs->patterns[i];
        if (!p->id || !p->regex)
            abort();
        if (ruleset_pattern_index(rs, p->id) != (int)i)
            abort(); /* ids are unique */
        if (p->validator && (p->validator_idx < 0 || p->validator_idx >= validate_count()))
            abort();
        if ((int)p->category < 0 || p->category >= RULE_CAT_MAX)
            abort();
    }
    for (size_t i = 0; i < rs->api.n_identity; i++)
        if ((int)rs->api.identity[i].kind < 0 || rs->api.identity[i].kind >= IDENT_KIND_MAX)
            abort();
}

static void load(const char *const *paths, size_t n, size_t errlen)
{
    char *err = malloc(errlen);
    if (!err)
        return;
    memset(err, 'x', errlen);
    struct ruleset *rs = NULL;
    int r = ruleset_load(paths, n, &rs, err, errlen);
    if (r == 0) {
        if (!rs)
            abort();
        check_loaded(rs);
        ruleset_free(rs);
    } else if (r == -1) {
        if (memchr(err, 0, errlen) == NULL)
            abort(); /* error text not terminated */
    } else {
        abort();
    }
    free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = memfd_create("fuzz-rules.yaml", 0);
    char tmpl[] = "/tmp/fuzz-rules-XXXXXX";
    int is_tmp = 0;
    if (fd < 0) {
        fd = mkstemp(tmpl);
        is_tmp = 1;
        if (fd < 0)
            return 0;
        snprintf(path, sizeof(path), "%s", tmpl);
    } else {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (off == size) {
        const char *one[1] = {path};
        load(one, 1, 4096);
        /* the other two loads cost more than the fuzzed file (the shipped
         * rules' regexes are checked each time): one input in eight */
        const char *shipped = (size & 7) == 0 ? shipped_rules() : NULL;
        if ((size & 7) == 1)
            load(one, 1, 16);
        if (shipped) {
            const char *two[2] = {shipped, path};
            load(two, 2, 4096);
        }
    }
    close(fd);
    if (is_tmp)
        unlink(tmpl);
    return 0;
}
