/* test_json.c: the `ondine test --json` report: the options, one record per case (status,
 * reason, ops, per-output errors and worst element, the bisection), and the totals. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/test.h"

/* ---- the report ---- */

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        cli_json_str(f, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

static void json_words(FILE *f, const char *key, const char *words)
{
    fprintf(f, ", \"%s\": [", key);
    for (const char *p = words; *p;) {
        size_t len = strcspn(p, " ");
        char w[512];
        snprintf(w, sizeof w, "%.*s", (int)len, p);
        fprintf(f, "%s", p == words ? "" : ", ");
        cli_json_str(f, w);
        p += len + (p[len] ? 1 : 0);
    }
    fprintf(f, "]");
}

static void json_cmps(FILE *f, const char *key, const struct cmp *c, int n)
{
    fprintf(f, ", \"%s\": [", key);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        cli_json_str(f, c[i].name);
        fprintf(f, ", \"ok\": %s, \"problem\": ", c[i].bad ? "false" : "true");
        if (c[i].problem[0])
            cli_json_str(f, c[i].problem);
        else
            fprintf(f, "null");
        fprintf(f, ", \"max_abs\": ");
        json_num(f, c[i].max_abs);
        fprintf(f, ", \"max_rel\": ");
        json_num(f, c[i].max_rel);
        fprintf(f, ", \"worst\": ");
        if (c[i].has_worst && !c[i].problem[0]) {
            fprintf(f, "{\"set\": %d, \"index\": %zu, \"got\": ", c[i].worst_set,
                    c[i].worst_index);
            json_num(f, c[i].worst_got);
            fprintf(f, ", \"expected\": ");
            json_num(f, c[i].worst_want);
            fprintf(f, "}");
        } else {
            fprintf(f, "null");
        }
        fprintf(f, "}");
    }
    fprintf(f, "]");
}

void test_json_case(FILE *f, const struct cfg *cfg, const char *dir, const struct report *r,
                    bool first)
{
    static const char *const lower[] = {"pass", "fail", "error", "skip"};
    fprintf(f, "%s\n    {\"name\": ", first ? "" : ",");
    cli_json_str(f, test_base_name(dir));
    fprintf(f, ", \"path\": ");
    cli_json_str(f, dir);
    fprintf(f, ", \"status\": \"%s\", \"reason\": ", lower[r->status]);
    cli_json_str(f, r->reason);
    json_words(f, "ops", r->ops);
    json_words(f, "skip_ops", r->skip_ops);
    fprintf(f, ", \"sets\": %d, \"seconds\": %.3f", r->n_sets, r->seconds);
    json_cmps(f, "outputs", r->out, r->n_out);
    if (cfg->compare_levels)
        json_cmps(f, "levels", r->lvl, r->n_lvl);
    if (r->bisect[0]) {
        fprintf(f, ", \"bisect\": {\"first_node\": ");
        if (r->bisect_node[0])
            cli_json_str(f, r->bisect_node);
        else
            fprintf(f, "null");
        fprintf(f, ", \"dir_first_node\": ");
        if (r->bisect_dir_node[0])
            cli_json_str(f, r->bisect_dir_node);
        else
            fprintf(f, "null");
        fprintf(f, ", \"text\": ");
        cli_json_str(f, r->bisect);
        fprintf(f, "}");
    }
    fprintf(f, "}");
}

void test_json_head(FILE *f, const struct cfg *cfg)
{
    static const char *const prec[] = {"fp32", "bf16", "int8"};
    fprintf(f, "{\n  \"ondine\": ");
    cli_json_str(f, ond_version());
    fprintf(f, ",\n  \"options\": {\"rtol\": ");
    json_num(f, cfg->rtol);
    fprintf(f, ", \"atol\": ");
    json_num(f, cfg->atol);
    fprintf(f, ", \"opt_level\": %d, \"precision\": \"%s\", \"threads\": %d, "
            "\"compare_levels\": %s, \"filter\": ",
            cfg->opts.opt_level, prec[cfg->opts.precision], cfg->opts.threads,
            cfg->compare_levels ? "true" : "false");
    if (cfg->filter)
        cli_json_str(f, cfg->filter);
    else
        fprintf(f, "null");
    fprintf(f, "},\n  \"cases\": [");
}
