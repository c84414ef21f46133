/* test_bisect.c: `ondine test --bisect` explains a failing case node by node: the reference
 * interpreter runs the optimized graph and the -O0 graph, tensors are matched by name, and the
 * first -O0 node whose output diverges is named (optionally against per-tensor .pb files in a
 * folder). Then the -O0 interpreter is held to the expected outputs and the session to it. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/loader.h"
#include "runtime/model.h"
#include "runtime/reference.h"
#include "tools/test.h"

/* ---- bisection ---- */

struct bisect {
    const struct cfg *cfg;
    const struct ond_graph *opt;
    struct ond_value *saved;      /* per tensor of the optimized graph: its traced value */
    const char *dir;              /* <tensor>.pb references, or NULL */
    int set;                      /* the data set being bisected */
    int compared, removed, dir_compared, dir_missing;
    char first[1024], first_node[512], first_dir[1024], first_dir_node[512];
};

static struct ond_value value_of(const struct ond_info *info, const char *name)
{
    struct ond_value v = {.name = name, .dtype = info->dtype, .rank = info->rank,
                          .data = (void *)info->data};
    uint64_t n = 0;
    ond_numel(info, 0, &n);
    memcpy(v.dims, info->dims, sizeof(int64_t) * (size_t)(info->rank > 0 ? info->rank : 0));
    v.size = (size_t)n * ond_dtype_size(info->dtype);
    return v;
}

static void save_trace(void *ctx, const struct ond_node *n, const struct ond_info *out)
{
    struct bisect *b = ctx;
    for (int k = 0; k < n->n_out; k++) {
        if (!n->out[k] || !out[k].data)
            continue;
        struct ond_value *v = &b->saved[n->out[k]->id];
        *v = value_of(&out[k], n->out[k]->name);
        v->data = malloc(v->size ? v->size : 1);
        if (v->data)
            memcpy(v->data, out[k].data, v->size);
    }
}

/* Tensor names may hold '/' and the like: anything but [A-Za-z0-9._-] becomes '_'. */
static void pb_path(const char *dir, const char *name, char *path, size_t len)
{
    size_t at = (size_t)snprintf(path, len, "%s/", dir);
    for (const char *p = name; *p && at + 4 < len; p++) {
        char c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '_' || c == '-';
        path[at++] = plain ? c : '_';
    }
    snprintf(path + at, len - at, ".pb");
}

static void diverged(const struct ond_node *n, const struct cmp *c, char *buf, size_t len,
                     char *node, size_t node_len)
{
    char what[600];
    snprintf(what, sizeof what, "node '%s' (%s) output", n->name, n->op_type);
    test_describe(c, what, buf, len);
    snprintf(node, node_len, "%s", n->name);
}

static void check_trace(void *ctx, const struct ond_node *n, const struct ond_info *out)
{
    struct bisect *b = ctx;
    for (int k = 0; k < n->n_out; k++) {
        if (!n->out[k] || !out[k].data)
            continue;
        const char *name = n->out[k]->name;
        struct ond_value got = value_of(&out[k], name);
        const struct ond_tensor *t = ond_graph_find_tensor(b->opt, name);
        if (!t || !b->saved[t->id].data) {
            b->removed++;
        } else if (!b->first[0]) {
            struct cmp c = {0};
            snprintf(c.name, sizeof c.name, "%s", name);
            test_compare(b->cfg, b->set, &b->saved[t->id], &got, &c);
            b->compared++;
            if (c.bad)
                diverged(n, &c, b->first, sizeof b->first, b->first_node, sizeof b->first_node);
        }
        if (!b->dir || b->first_dir[0])
            continue;
        char path[4096];
        struct ond_value ref;
        struct ond_error err = {0};
        pb_path(b->dir, name, path, sizeof path);
        if (access(path, R_OK) != 0) {
            b->dir_missing++;
            continue;
        }
        struct cmp c = {0};
        snprintf(c.name, sizeof c.name, "%s", name);
        if (ond_tensor_proto_read(path, &ref, &err)) {
            snprintf(b->first_dir, sizeof b->first_dir, "%s", err.message);
            continue;
        }
        test_compare(b->cfg, b->set, &got, &ref, &c);
        b->dir_compared++;
        if (c.bad)
            diverged(n, &c, b->first_dir, sizeof b->first_dir, b->first_dir_node,
                     sizeof b->first_dir_node);
        free((void *)ref.name);
        free(ref.data);
    }
}

static void line(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct report *r, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    test_append(r->bisect, sizeof r->bisect, "\n", buf);
}

/* One conclusion from the bisection's findings, the most specific first. */
static void verdict(struct report *r, const char *pass_node, bool ref_differs, bool sess_ran,
                    bool sess_differs)
{
    if (pass_node[0]) {
        r->verdict = "pass_diverges";
        snprintf(r->verdict_text, sizeof r->verdict_text, "the optimized graph differs from "
                 "the -O0 graph from node '%s' on: a pass changed the result", pass_node);
    } else if (sess_ran && sess_differs) {
        r->verdict = "session_differs";
        snprintf(r->verdict_text, sizeof r->verdict_text, "the session differs from the "
                 "reference interpreter on the same graph: a kernel (oneDNN primitive or "
                 "eval) computes something else than the op's reference");
    } else if (ref_differs) {
        r->verdict = "reference_disagrees";
        snprintf(r->verdict_text, sizeof r->verdict_text, "the reference interpreter agrees "
                 "with the session but not with the expected outputs: the reference data "
                 "disagrees with the model (or an op's reference eval is wrong)");
    } else {
        r->verdict = "not_reproduced";
        snprintf(r->verdict_text, sizeof r->verdict_text, "the bisection found no difference "
                 "on this data set");
    }
    line(r, "verdict: %s", r->verdict_text);
}

void test_bisect(const struct cfg *cfg, const struct ond_model *m0, const struct ond_model *opt,
                 struct ond_session *s, const char *dir, int set, struct report *r)
{
    struct set data;
    struct ond_error err = {0};
    struct ond_value bound[MAX_IO], ref_opt[MAX_IO], ref0[MAX_IO], *sess = NULL;
    size_t n_sess = 0;
    int n_out = m0->graph->n_outputs;
    struct bisect b = {.cfg = cfg, .opt = opt->graph, .set = set};
    char ref_dir[4096] = "", diff[1200];
    if (cfg->bisect_dir) {
        snprintf(ref_dir, sizeof ref_dir, "%s/%s", cfg->bisect_dir, test_base_name(dir));
        b.dir = test_is_dir(ref_dir) ? ref_dir : cfg->bisect_dir;
    }
    bool ref_differs = false, sess_differs = false, sess_ran = false;
    r->verdict = "cannot_run";
    snprintf(r->verdict_text, sizeof r->verdict_text, "the bisection could not run");
    if (test_read_set(m0, dir, set, &data, &err) || n_out > MAX_IO ||
        !(b.saved = calloc((size_t)opt->graph->n_tensors + 1, sizeof *b.saved))) {
        line(r, "cannot read test_data_set_%d: %s", set, err.message);
        test_free_set(&data);
        return;
    }
    test_bind(m0, &data, bound);
    bool opt_ran = !ond_reference_run(opt->graph, bound, (size_t)data.n_in, ref_opt, save_trace,
                                      &b, &err);
    if (!opt_ran)
        line(r, "the optimized graph does not run in the reference interpreter: %s",
             err.message);
    if (ond_reference_run(m0->graph, bound, (size_t)data.n_in, ref0, check_trace, &b, &err)) {
        line(r, "the -O0 graph does not run in the reference interpreter: %s", err.message);
    } else {
        if (opt_ran && b.first[0])
            line(r, "the optimized graph first diverges from -O0 at %s", b.first);
        else if (opt_ran)
            line(r, "the optimized graph matches -O0 at all %d shared tensors (%d removed by "
                    "passes)", b.compared, b.removed);
        snprintf(r->bisect_node, sizeof r->bisect_node, "%s", b.first_node);
        if (b.dir && b.first_dir[0])
            line(r, "-O0 first diverges from %s at %s", b.dir, b.first_dir);
        else if (b.dir)
            line(r, "-O0 matches %s at all %d tensors it holds (%d without a file)", b.dir,
                 b.dir_compared, b.dir_missing);
        snprintf(r->bisect_dir_node, sizeof r->bisect_dir_node, "%s", b.first_dir_node);
        if (data.n_want == n_out) {
            test_compare_outputs(cfg, set, ref0, data.want, n_out, diff, sizeof diff);
            ref_differs = diff[0];
            line(r, "the -O0 reference interpreter %s the expected outputs%s%s",
                 diff[0] ? "differs from" : "matches", diff[0] ? ": " : "", diff);
        }
        if (ond_session_run_alloc(s, bound, (size_t)data.n_in, &sess, &n_sess, &err)) {
            line(r, "the session does not run: %s", err.message);
        } else {
            test_compare_outputs(cfg, set, sess, ref0, n_out, diff, sizeof diff);
            sess_ran = true;
            sess_differs = diff[0];
            line(r, "the session's outputs %s the -O0 reference interpreter's%s%s",
                 diff[0] ? "differ from" : "match", diff[0] ? ": " : "", diff);
            ond_values_free(sess, n_sess);
        }
        verdict(r, opt_ran ? b.first_node : "", ref_differs, sess_ran, sess_differs);
        for (int i = 0; i < n_out; i++) {
            free((void *)ref0[i].name);
            free(ref0[i].data);
        }
    }
    for (int i = 0; opt_ran && i < opt->graph->n_outputs; i++) {
        free((void *)ref_opt[i].name);
        free(ref_opt[i].data);
    }
    for (int i = 0; i < opt->graph->n_tensors; i++)
        free(b.saved[i].data);
    free(b.saved);
    test_free_set(&data);
}
