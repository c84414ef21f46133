/* test.c: `ondine test PATH...`: runs ONNX backend test folders (model.onnx plus
 * test_data_set_<k>/input_<i>.pb and output_<i>.pb) through sessions and holds each output to
 * its reference (test_compare.c). One line per case and the totals last; --json writes the
 * report (test_json.c). --compare-levels also runs each case at -O0 and holds the chosen level
 * to the -O0 outputs; --bisect explains a failing case node by node (test_bisect.c). Folders,
 * data sets, skip lists and data.json come from test_data.c. Models the loader refuses as
 * unsupported are skipped, as are cases in --skip-list files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proto/loader.h"
#include "runtime/model.h"
#include "tools/cli.h"
#include "tools/test.h"

static const char *const status_name[] = {"PASS", "FAIL", "ERROR", "SKIP"};

/* Messages from loading start with the model's path, which the case line already names. */
static void set_reason(struct report *r, const char *dir, const char *prefix,
                       const struct ond_error *err)
{
    char path[4096];
    const char *msg = err->message[0] ? err->message : ond_status_name(err->status);
    snprintf(path, sizeof path, "%s/model.onnx: ", dir);
    if (strncmp(msg, path, strlen(path)) == 0)
        msg += strlen(path);
    snprintf(r->reason, sizeof r->reason, "%s%s", prefix, msg);
}

const char *const test_skip_kind_name[3] = {"not_implemented", "unsupported_feature",
                                             "skip_list"};
static const char *const skip_kind_text[3] = {
    "op not implemented", "unsupported attribute/type/mode of a claimed op", "skip list"};

/* The ops an UNSUPPORTED message names, and what it means: "unsupported ops
 * (domain.op-opset): A-7, x.B-1" lists ops (or opsets) ondine does not implement; "node 'n'
 * (Op): ..." is an op it implements refusing one of the node's attributes, types or modes. */
static enum skip_kind skipped_ops(const char *msg, char *buf, size_t len)
{
    const char *list = strstr(msg, "(domain.op-opset): ");
    buf[0] = 0;
    if (list) {
        for (const char *p = list + strlen("(domain.op-opset): "); *p;) {
            size_t item = strcspn(p, ",");
            char op[256];
            snprintf(op, sizeof op, "%.*s", (int)item, p);
            char *dash = strrchr(op, '-');
            if (dash)
                *dash = 0;
            test_append(buf, len, " ", op);
            p += item;
            p += strspn(p, ", ");
        }
        return SKIP_NOT_IMPLEMENTED;
    }
    const char *node = strstr(msg, "node '");
    const char *open = node ? strstr(node, "' (") : NULL;
    const char *close = open ? strstr(open, "):") : NULL;
    if (!close)
        return SKIP_NOT_IMPLEMENTED;
    snprintf(buf, len, "%.*s", (int)(close - open - 3), open + 3);
    return SKIP_UNSUPPORTED_FEATURE;
}

static void list_ops(const struct ond_graph *g, char *buf, size_t len)
{
    buf[0] = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        char op[300];
        snprintf(op, sizeof op, "%s%s%s", g->nodes[i]->domain, *g->nodes[i]->domain ? "." : "",
                 g->nodes[i]->op_type);
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(g->nodes[j]->op_type, g->nodes[i]->op_type) == 0 &&
                   strcmp(g->nodes[j]->domain, g->nodes[i]->domain) == 0;
        if (!seen)
            test_append(buf, len, " ", op);
    }
}

/* ---- one case ---- */

/* A failing output whose values match another output's reference file (bound by position):
 * the files are in another order than the graph's outputs. */
static void find_swaps(const struct cfg *cfg, int k, const struct ond_value *got,
                       const struct set *data, struct report *r)
{
    for (int i = 0; i < data->n_want; i++)
        for (int j = 0; j < data->n_want && r->out[i].bad && !r->out[i].match[0]; j++) {
            struct cmp c = {0};
            if (j != i)
                test_compare(cfg, k, &got[i], &data->want[j], &c);
            if (j != i && !c.bad)
                snprintf(r->out[i].match, sizeof r->out[i].match,
                         "test_data_set_%d/output_%d (tensor '%s')", k, j,
                         data->want[j].name ? data->want[j].name : "");
        }
}

/* Runs every data set of the case (all of them, so the report covers every set, unless one
 * cannot run); the first set that fails, or -1. */
static int run_sets(const struct cfg *cfg, const char *dir, const struct ond_model *m,
                    struct ond_session *s, struct ond_session *s0, struct report *r)
{
    int failed = -1;
    for (int k = 0; r->status != ERROR; k++) {
        char path[4096], prefix[64];
        snprintf(path, sizeof path, "%s/test_data_set_%d", dir, k);
        if (!test_is_dir(path)) {
            if (!k) {
                r->status = ERROR;
                snprintf(r->reason, sizeof r->reason, "no test_data_set_0 folder");
            }
            break;
        }
        struct set data;
        struct ond_error err = {0};
        struct ond_value bound[MAX_IO], *got = NULL, *got0 = NULL;
        size_t n_got = 0, n_got0 = 0;
        snprintf(prefix, sizeof prefix, "test_data_set_%d: ", k);
        r->n_sets = k + 1;
        enum ond_status st = test_read_set(m, dir, k, &data, &err);
        if (!st) {
            test_bind(m, &data, bound);
            st = ond_session_run_alloc(s, bound, (size_t)data.n_in, &got, &n_got, &err);
        }
        if (!st && s0) {
            snprintf(prefix, sizeof prefix, "test_data_set_%d at -O0: ", k);
            st = ond_session_run_alloc(s0, bound, (size_t)data.n_in, &got0, &n_got0, &err);
        }
        if (st) {
            r->status = ERROR;
            set_reason(r, dir, prefix, &err);
        } else if ((size_t)data.n_want != n_got) {
            r->status = ERROR;
            snprintf(r->reason, sizeof r->reason, "test_data_set_%d has %d outputs, the model %zu",
                     k, data.n_want, n_got);
        } else {
            r->n_out = r->n_lvl = (int)n_got;
            for (size_t i = 0; i < n_got; i++) {
                snprintf(r->out[i].name, sizeof r->out[i].name, "%s", got[i].name);
                test_compare(cfg, k, &got[i], &data.want[i], &r->out[i]);
                if (s0) {
                    snprintf(r->lvl[i].name, sizeof r->lvl[i].name, "%s", got[i].name);
                    test_compare(cfg, k, &got[i], &got0[i], &r->lvl[i]);
                }
                if ((r->out[i].bad || (s0 && r->lvl[i].bad)) && failed < 0)
                    failed = k;
            }
            if (failed >= 0)
                r->status = FAIL;
            if (!data.outputs_by_name)
                find_swaps(cfg, k, got, &data, r);
        }
        ond_values_free(got, n_got);
        ond_values_free(got0, n_got0);
        test_free_set(&data);
    }
    if (!s0)
        r->n_lvl = 0;
    return failed;
}

static void run_case(const struct cfg *cfg, const char *dir, struct report *r)
{
    struct cfg local = *cfg;
    test_case_tolerance(dir, &local, r);
    cfg = &local;
    const char *name = test_base_name(dir), *skip = test_skip_reason(cfg, name);
    char path[4096], level[32];
    struct ond_error err = {0};
    struct ond_model *m0 = NULL, *m = NULL;
    struct ond_session *s = NULL, *s0 = NULL;
    struct ond_options o0 = cfg->opts;
    o0.opt_level = 0;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    snprintf(level, sizeof level, "at -O%d: ", cfg->opts.opt_level);
    if (skip) {
        r->status = SKIP;
        r->skip_kind = SKIP_LISTED;
        snprintf(r->reason, sizeof r->reason, "skip list: %s", skip);
        return;
    }
    /* The -O0 load tells an unsupported model (a skip) from a pass that fails (an error). */
    enum ond_status st = ond_model_load_file(path, &o0, &m0, &err);
    if (st) {
        r->status = st == OND_STATUS_UNSUPPORTED ? SKIP : ERROR;
        set_reason(r, dir, "", &err);
        if (st == OND_STATUS_UNSUPPORTED)
            r->skip_kind = skipped_ops(r->reason, r->skip_ops, sizeof r->skip_ops);
        return;
    }
    list_ops(m0->graph, r->ops, sizeof r->ops);
    if (cfg->opts.opt_level == 0)
        m = m0;
    else if ((st = ond_model_load_file(path, &cfg->opts, &m, &err)))
        set_reason(r, dir, level, &err);
    /* Big models: hold one copy of the weights unless -O0 is needed again. */
    if (m != m0 && !cfg->compare_levels && !cfg->bisect) {
        ond_model_free(m0);
        m0 = NULL;
    }
    struct ond_options o = cfg->opts;
    struct ond_value *calib = NULL;
    size_t n_calib = 0;
    if (!st && o.precision == OND_PRECISION_INT8 && cfg->calibrate &&
        cli_calibration("test", cfg->calibrate, m, &calib, &n_calib)) {
        st = ond_fail(&err, OND_STATUS_INVALID_ARGUMENT,
                      "cannot read the calibration inputs in '%s' for this model", cfg->calibrate);
        set_reason(r, dir, "", &err);
    }
    o.calibration = calib;
    o.n_calibration_sets = n_calib;
    if (!st && (st = ond_session_create(m, &o, &s, &err)))
        set_reason(r, dir, "", &err);
    ond_values_free(calib, n_calib * (m ? ond_model_input_count(m) : 0));
    if (!st && cfg->compare_levels && (st = ond_session_create(m0, &o0, &s0, &err)))
        set_reason(r, dir, "-O0: ", &err);
    int failed = -1;
    if (st)
        r->status = ERROR;
    else
        failed = run_sets(cfg, dir, m, s, s0, r);
    if (r->status == FAIL && !r->reason[0]) {
        for (int i = 0; i < r->n_out; i++)
            if (r->out[i].bad) {
                char buf[1024];
                test_describe(&r->out[i], "output", buf, sizeof buf);
                test_append(r->reason, sizeof r->reason, "; ", buf);
            }
        for (int i = 0; i < r->n_lvl; i++)
            if (r->lvl[i].bad) {
                char buf[1024], what[64];
                snprintf(what, sizeof what, "-O%d vs -O0 output", cfg->opts.opt_level);
                test_describe(&r->lvl[i], what, buf, sizeof buf);
                test_append(r->reason, sizeof r->reason, "; ", buf);
            }
        if (r->tol_from[0]) {
            char buf[160];
            snprintf(buf, sizeof buf, "(rtol %g, atol %g from %s)", r->rtol, r->atol,
                     r->tol_from);
            test_append(r->reason, sizeof r->reason, " ", buf);
        }
    }
    if (r->status == FAIL && cfg->bisect && failed >= 0)
        test_bisect(cfg, m0, m, s, dir, failed, r);
    ond_session_free(s0);
    ond_session_free(s);
    if (m != m0)
        ond_model_free(m);
    ond_model_free(m0);
}

/* ---- the verb ---- */

/* --rtol X, --atol Y: a number >= 0. */
static CLI_SETTER(set_tol)
{
    char *end;
    double x = strtod(value, &end);
    if (!*value || *end || !(x >= 0) || !isfinite(x))
        return cli_usage(verb, "%s takes a number >= 0", name);
    *(double *)o->target = x;
    return CLI_OK;
}

/* --metric elementwise | cosine[:MIN] | topk:K */
static CLI_SETTER(set_metric)
{
    struct cfg *cfg = o->target;
    char *end = "";
    bool ok;
    if (strcmp(value, "elementwise") == 0) {
        cfg->metric = METRIC_ELEMENTWISE;
        ok = true;
    } else if (strncmp(value, "cosine", 6) == 0 && (!value[6] || value[6] == ':')) {
        cfg->metric = METRIC_COSINE;
        if (value[6])
            cfg->min_cosine = strtod(value + 7, &end);
        ok = !value[6] || (!*end && value[7] && cfg->min_cosine > 0 && cfg->min_cosine <= 1);
    } else {
        cfg->metric = METRIC_TOPK;
        ok = strncmp(value, "topk:", 5) == 0 && cli_int(value + 5, 1, 1 << 30, &cfg->topk);
    }
    if (!ok)
        return cli_usage(verb, "%s takes elementwise, cosine[:MIN] (0 < MIN <= 1) or topk:K "
                         "(K >= 1)", name);
    return CLI_OK;
}

static CLI_SETTER(set_skip_list)
{
    (void)verb, (void)name;
    return test_read_skip_list(o->target, value) ? CLI_OK : CLI_FAIL;
}

/* --bisect, --bisect DIR (a folder of .pb files), --bisect=DIR */
static bool bisect_dir(const char *next)
{
    return next[0] != '-' && test_holds_pb(next);
}

static CLI_SETTER(set_bisect)
{
    struct cfg *cfg = o->target;
    cfg->bisect = true;
    cfg->bisect_dir = value;
    if (value && !test_is_dir(value))
        return cli_usage(verb, "%s: '%s' is not a folder", name, value);
    return CLI_OK;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs the selected cases, printing a line each (with --quiet, failures only). */
static void run_all(const struct cfg *cfg, const struct cases *l, FILE *json, struct totals *t)
{
    size_t total = 0, done = 0, written = 0;
    for (size_t i = 0; i < l->n; i++)
        total += !cfg->filter || strstr(test_base_name(l->dirs[i]), cfg->filter);
    for (size_t i = 0; i < l->n; i++) {
        const char *dir = l->dirs[i], *name = test_base_name(dir);
        if (cfg->filter && !strstr(name, cfg->filter))
            continue;
        if (cfg->tty) {
            printf("\r[%zu/%zu] %s\033[K", ++done, total, name);
            fflush(stdout);
        }
        struct report *r = calloc(1, sizeof *r);
        if (!r) {
            fprintf(stderr, "ondine test: cannot allocate a report\n");
            t->status[ERROR]++;
            continue;
        }
        double t0 = now();
        run_case(cfg, dir, r);
        r->seconds = now() - t0;
        t->status[r->status]++;
        if (r->status == SKIP)
            t->skip[r->skip_kind]++;
        if (cfg->tty)
            printf("\r\033[K");
        char kind[128] = "";
        if (r->status == SKIP && r->skip_kind != SKIP_LISTED)
            snprintf(kind, sizeof kind, " (%s)", skip_kind_text[r->skip_kind]);
        if (!cfg->quiet || r->status == FAIL || r->status == ERROR)
            printf("%s %s%s%s%s\n", status_name[r->status], name, kind,
                   r->reason[0] ? ": " : "", r->reason);
        for (const char *p = r->bisect; *p;) {
            size_t len = strcspn(p, "\n");
            printf("  bisect: %.*s\n", (int)len, p);
            p += len + (p[len] ? 1 : 0);
        }
        fflush(stdout);
        if (json)
            test_json_case(json, cfg, dir, r, written++ == 0);
        free(r);
    }
}

/* bf16 keeps 8 bits of mantissa (a relative rounding of 2^-9 per step), and errors carried
 * through a deep network reach outputs near zero as absolute errors of about 5e-3 of the
 * outputs' scale (ResNet logits of scale 10: 0.05). int8 rounds every activation to 1/255 or
 * 1/127 of its calibrated range: errors of about 1% of the outputs' scale. Looser defaults,
 * stated in the output. */
static void default_tolerance(struct cfg *cfg)
{
    enum ond_precision p = cfg->opts.precision;
    bool stated = cfg->rtol < 0 || cfg->atol < 0;
    cfg->rtol_given = cfg->rtol >= 0;
    cfg->atol_given = cfg->atol >= 0;
    static const double rtol[] = {1e-3, 2e-2, 5e-2}, atol[] = {1e-5, 5e-2, 1e-1};
    if (cfg->rtol < 0)
        cfg->rtol = rtol[p];
    if (cfg->atol < 0)
        cfg->atol = atol[p];
    if (p != OND_PRECISION_FP32 && stated)
        printf("%s: tolerance rtol %g, atol %g (%s defaults; --rtol, --atol to change)\n",
               cli_precision_names[p], cfg->rtol, cfg->atol, cli_precision_names[p]);
    if (p == OND_PRECISION_INT8 && !cfg->calibrate)
        fprintf(stderr, "ondine test: warning: int8 calibrated on seeded random inputs; "
                "accuracy needs real data (--calibrate DIR)\n");
}

/* Prints the totals; fails on a failure, on fewer passes than --min-passed, and on a run
 * that compared nothing (no case selected, or every case skipped) unless --allow-empty. */
static int totals(const struct cfg *cfg, const struct totals *t)
{
    const int *n = t->status;
    printf("%d passed, %d failed", n[PASS], n[FAIL] + n[ERROR]);
    if (n[SKIP]) {
        printf(", %d skipped (", n[SKIP]);
        for (int k = 0, first = 1; k < 3; k++)
            if (t->skip[k]) {
                printf("%s%d %s", first ? "" : ", ", t->skip[k], skip_kind_text[k]);
                first = 0;
            }
        printf(")");
    }
    printf("\n");
    if (n[FAIL] + n[ERROR])
        return CLI_FAIL;
    if (n[PASS] < cfg->min_passed) {
        fprintf(stderr, "ondine test: %d passed, fewer than --min-passed %lld\n", n[PASS],
                cfg->min_passed);
        return CLI_FAIL;
    }
    if (!n[PASS] && !cfg->allow_empty) {
        fprintf(stderr, "ondine test: compared nothing: %s (--allow-empty to accept)\n",
                n[SKIP] ? "every case was skipped" : cfg->filter ? "--filter matches no case"
                                                              : "no case");
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cli_test(int argc, char **argv)
{
    /* Negative: not given, the precision's default applies. */
    struct cfg cfg = {.rtol = -1, .atol = -1, .tty = isatty(STDOUT_FILENO), .min_cosine = 0.999};
    ond_options_init(&cfg.opts);
    struct cli_list paths = {0};
    struct cases l = {0};
    struct totals t = {0};
    const struct cli_opt rows[] = {
        {.names = "--filter", .arg = "S", .set = cli_set_str, .target = &cfg.filter,
         .help = "only cases whose folder name contains S"},
        {.names = "--rtol", .arg = "X", .set = set_tol, .target = &cfg.rtol,
         .help = "tolerance |got - ref| <= atol + rtol*|ref| (default 1e-3;\n"
                 "with --precision bf16 2e-2; int8 5e-2)"},
        {.names = "--atol", .arg = "Y", .set = set_tol, .target = &cfg.atol,
         .help = "(default 1e-5; with --precision bf16 5e-2; int8 1e-1)"},
        {.names = "--json", .arg = "FILE", .set = cli_set_str, .target = &cfg.json_path,
         .help = "write the report as JSON"},
        {.names = "--metric", .arg = "M", .set = set_metric, .target = &cfg,
         .help = "how float outputs are held to references: elementwise (default,\n"
                 "by --rtol/--atol), cosine[:MIN] (cosine similarity >= MIN per\n"
                 "data set, default 0.999), topk:K (in each row of the last axis,\n"
                 "the reference's top class is in the result's top K); integer\n"
                 "outputs are always exact"},
        {.names = "-q, --quiet", .set = cli_set_flag, .target = &cfg.quiet,
         .help = "print failures and the totals only"},
        {.names = "--min-passed", .arg = "N", .set = cli_set_ll, .target = &cfg.min_passed,
         .min = 0, .max = 1 << 30, .help = "fail unless at least N cases pass"},
        {.names = "--allow-empty", .set = cli_set_flag, .target = &cfg.allow_empty,
         .help = "succeed when nothing was compared (no case selected, or every\n"
                 "case skipped); by default that fails"},
        {.names = "--skip-list", .arg = "FILE", .set = set_skip_list, .target = &cfg,
         .help = "skip the cases it names: one 'name reason...' a line, # comments"},
        {.names = "--compare-levels", .set = cli_set_flag, .target = &cfg.compare_levels,
         .help = "also run at -O0 and compare the outputs of the two levels"},
        {.names = "--bisect", .arg = "DIR", .set = set_bisect, .target = &cfg, .maybe = bisect_dir,
         .help = "for a failing case, name the first node whose output diverges\n"
                 "between the optimized and the -O0 graph (and DIR's <tensor>.pb)"},
        CLI_OPT_LEVELS(&cfg.opts),
        CLI_OPTS_COMMON(&cfg.opts),
        CLI_OPT_PRECISION(&cfg.opts),
        {.names = "--calibrate", .arg = "DIR", .set = cli_set_str, .target = &cfg.calibrate,
         .help = "int8: calibration inputs for every case (a backend test folder,\n"
                 "or .pb/.npy files; default: seeded random inputs, with a warning)"},
    };
    int rc = cli_parse("test", "usage: ondine test PATH... [options]\n"
                       "  PATH is a backend test folder (model.onnx, test_data_set_*/) or a folder "
                       "holding them\n", argc, argv, rows, CLI_ROWS(rows), &paths);
    if (rc == CLI_OK && !paths.n)
        rc = cli_usage("test", "no test folder given");
    if (rc == CLI_OK)
        default_tolerance(&cfg);
    for (size_t i = 0; rc == CLI_OK && i < paths.n; i++) {
        size_t before = l.n;
        struct stat sb;
        if (stat(paths.v[i], &sb) != 0) {
            fprintf(stderr, "ondine test: '%s' does not exist\n", paths.v[i]);
            rc = CLI_FAIL;
        } else if (!S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "ondine test: '%s' is a file; give the test folder that holds "
                    "model.onnx and test_data_set_*/ (or a folder of such folders)\n", paths.v[i]);
            rc = CLI_FAIL;
        } else if (!test_collect(paths.v[i], MAX_DEPTH, &l)) {
            fprintf(stderr, "ondine test: cannot allocate the case list\n");
            rc = CLI_FAIL;
        } else if (l.n == before) {
            fprintf(stderr, "ondine test: no test folders (model.onnx) under '%s'\n", paths.v[i]);
            rc = CLI_FAIL;
        }
    }
    FILE *json = NULL;
    if (rc == CLI_OK && cfg.json_path && !(json = fopen(cfg.json_path, "w"))) {
        fprintf(stderr, "ondine test: cannot write '%s'\n", cfg.json_path);
        rc = CLI_FAIL;
    }
    if (rc == CLI_OK) {
        if (json)
            test_json_head(json, &cfg);
        run_all(&cfg, &l, json, &t);
        rc = totals(&cfg, &t);
    }
    if (json) {
        test_json_tail(json, &t);
        if (fclose(json) != 0) {
            fprintf(stderr, "ondine test: cannot write '%s'\n", cfg.json_path);
            rc = CLI_FAIL;
        }
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.dirs[i]);
    free(l.dirs);
    for (size_t i = 0; i < cfg.n_skips; i++) {
        free(cfg.skips[i].name);
        free(cfg.skips[i].reason);
    }
    free(cfg.skips);
    free((void *)cfg.opts.disabled_passes);
    free(paths.v);
    return rc == CLI_HELP ? CLI_OK : rc;
}