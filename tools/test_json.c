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
        fprintf(f, ", \"elements\": %llu, \"out_of_tolerance\": %llu, \"match\": ",
                (unsigned long long)c[i].n_elems, (unsigned long long)c[i].n_bad);
        if (c[i].match[0])
            cli_json_str(f, c[i].match);
        else
            fprintf(f, "null");
        if (c[i].has_metric) {
            fprintf(f, ", \"cosine\": ");
            json_num(f, c[i].metric);
        }
        if (c[i].metric_rows)
            fprintf(f, ", \"topk_rows\": %llu, \"topk_rows_failing\": %llu",
                    (unsigned long long)c[i].metric_rows, (unsigned long long)c[i].metric_bad);
        /* The worst elements, worst first: index is multi-dimensional, flat_index flat. */
        fprintf(f, ", \"worst\": [");
        for (int k = 0; k < c[i].n_worst && !c[i].problem[0]; k++) {
            const struct worst *w = &c[i].worst[k];
            fprintf(f, "%s{\"set\": %d, \"index\": [", k ? ", " : "", w->set);
            int64_t idx[OND_MAX_RANK];
            test_unflatten(&c[i], w->index, idx);
            for (int d = 0; d < c[i].rank; d++)
                fprintf(f, "%s%lld", d ? ", " : "", (long long)idx[d]);
            fprintf(f, "], \"flat_index\": %zu, \"ok\": %s, \"got\": ", w->index,
                    w->bad ? "false" : "true");
            json_num(f, w->got);
            fprintf(f, ", \"expected\": ");
            json_num(f, w->want);
            fprintf(f, "}");
        }
        fprintf(f, "]");
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
    fprintf(f, ", \"skip_kind\": ");
    if (r->status == SKIP)
        cli_json_str(f, test_skip_kind_name[r->skip_kind]);
    else
        fprintf(f, "null");
    json_words(f, "skip_ops", r->skip_ops);
    fprintf(f, ", \"sets\": %d, \"seconds\": %.3f, \"rtol\": ", r->n_sets, r->seconds);
    json_num(f, r->rtol);
    fprintf(f, ", \"atol\": ");
    json_num(f, r->atol);
    fprintf(f, ", \"tolerance_from\": ");
    cli_json_str(f, r->tol_from[0] ? r->tol_from : "options");
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
        fprintf(f, ", \"verdict\": ");
        cli_json_str(f, r->verdict ? r->verdict : "cannot_run");
        fprintf(f, ", \"verdict_text\": ");
        cli_json_str(f, r->verdict_text);
        fprintf(f, ", \"text\": ");
        cli_json_str(f, r->bisect);
        fprintf(f, "}");
    }
    fprintf(f, "}");
}

void test_json_head(FILE *f, const struct cfg *cfg)
{
    fprintf(f, "{\n  \"ondine\": ");
    cli_json_str(f, ond_version());
    fprintf(f, ",\n  \"options\": {\"rtol\": ");
    json_num(f, cfg->rtol);
    fprintf(f, ", \"atol\": ");
    json_num(f, cfg->atol);
    fprintf(f, ", \"opt_level\": %d, \"precision\": \"%s\", \"threads\": %d, "
            "\"compare_levels\": %s, \"filter\": ",
            cfg->opts.opt_level, cli_precision_names[cfg->opts.precision], cfg->opts.threads,
            cfg->compare_levels ? "true" : "false");
    if (cfg->filter)
        cli_json_str(f, cfg->filter);
    else
        fprintf(f, "null");
    fprintf(f, ", \"metric\": ");
    if (cfg->metric == METRIC_COSINE)
        fprintf(f, "\"cosine:%.9g\"", cfg->min_cosine);
    else if (cfg->metric == METRIC_TOPK)
        fprintf(f, "\"topk:%lld\"", cfg->topk);
    else
        fprintf(f, "\"elementwise\"");
    fprintf(f, "},\n  \"cases\": [");
}

void test_json_tail(FILE *f, const struct totals *t)
{
    const int *n = t->status;
    fprintf(f, "\n  ],\n  \"totals\": {\"passed\": %d, \"failed\": %d, \"errors\": %d, "
            "\"skipped\": %d, \"total\": %d", n[PASS], n[FAIL], n[ERROR], n[SKIP],
            n[PASS] + n[FAIL] + n[ERROR] + n[SKIP]);
    for (int k = 0; k < 3; k++)
        fprintf(f, ", \"skipped_%s\": %d", test_skip_kind_name[k], t->skip[k]);
    fprintf(f, "}\n}\n");
}
