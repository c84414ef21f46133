/* inspect.c: `ondine inspect MODEL`: what a model holds (inputs, outputs, op counts,
 * parameters, MACs and FLOPs at a batch size) as text, JSON (--json) or Graphviz (--dot,
 * --svg), and what the optimization passes did to it (--passes).
 * Loads with unsupported ops allowed so they can be listed. Node counts are the loaded graph's
 * (the pass report keeps them); parameters, MACs and FLOPs are the optimized graph's, which is
 * what runs. MACs count multiply-accumulates of Conv, Gemm, MatMul and InnerProduct; FLOPs are
 * 2 x MACs plus one per output element of other ops. --kernels plans a session at the
 * precision and batch given and runs it once on seeded random inputs, to list the kernel and
 * the layouts (with their data types) of every step. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/op.h"
#include "runtime/model.h"
#include "runtime/passes/passes.h"
#include "runtime/session.h"
#include "tools/cli.h"
#include "tools/report.h"

struct op_count {
    const char *op;
    int count;
    uint64_t macs;
};

struct summary {
    struct op_count ops[256];
    int n_ops;
    uint64_t params, param_bytes, macs, flops;
    uint64_t *node_macs;   /* per node, when the caller gives room for them */
};

static void count(struct summary *s, const struct ond_graph *g)
{
    uint64_t *node_macs = s->node_macs;
    memset(s, 0, sizeof *s);
    s->node_macs = node_macs;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct ond_node *n = g->nodes[i];
        int k = 0;
        while (k < s->n_ops && strcmp(s->ops[k].op, n->op_type) != 0)
            k++;
        if (k == s->n_ops && s->n_ops < 256)
            s->ops[s->n_ops++].op = n->op_type;
        uint64_t macs = n->op && n->op->macs ? n->op->macs(n) : 0, elems = 0;
        if (k < s->n_ops) {
            s->ops[k].count++;
            s->ops[k].macs += macs;
        }
        s->macs += macs;
        if (node_macs)
            node_macs[i] = macs;
        if (!macs && n->n_out && n->out[0] && ond_numel(&n->out[0]->info, 0, &elems))
            s->flops += elems;
    }
    s->flops += 2 * s->macs;
    for (int i = 0; i < g->n_tensors; i++) {
        const struct ond_tensor *t = g->tensors[i];
        uint64_t e;
        if ((t->flags & OND_TENSOR_CONST) && ond_numel(&t->info, 0, &e)) {
            s->params += e;
            s->param_bytes += t->nbytes;
        }
    }
}

/* Counts with the symbolic dims of the inputs set to batch, then infers again with the
 * symbols, so every shape shown keeps them. */
static enum ond_status count_at(struct summary *s, struct ond_graph *g, int64_t batch,
                                struct ond_error *err)
{
    int n = g->n_inputs + g->n_outputs;
    struct ond_info *saved = calloc((size_t)n + 1, sizeof *saved);
    if (!saved)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
    for (int i = 0; i < n; i++)
        saved[i] = (i < g->n_inputs ? g->inputs[i] : g->outputs[i - g->n_inputs])->info;
    for (int i = 0; i < g->n_inputs; i++)
        for (int d = 0; d < g->inputs[i]->info.rank; d++)
            if (g->inputs[i]->info.dims[d] < 0)
                g->inputs[i]->info.dims[d] = batch;
    enum ond_status st = ond_graph_infer(g, err);
    if (!st)
        count(s, g);
    for (int i = 0; i < n; i++) {
        struct ond_tensor *t = i < g->n_inputs ? g->inputs[i] : g->outputs[i - g->n_inputs];
        const void *data = t->info.data;
        t->info = saved[i];
        t->info.data = data;
    }
    free(saved);
    return st ? st : ond_graph_infer(g, err);
}

static const char *human(double v, char *buf, size_t len)
{
    const char *unit[] = {"", " K", " M", " G", " T"};
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    snprintf(buf, len, u ? "%.2f%s" : "%.0f%s", v, unit[u]);
    return buf;
}

static void json_shape(FILE *f, const struct ond_graph *g, const struct ond_info *info)
{
    fprintf(f, "[");
    for (int d = 0; d < info->rank; d++) {
        int64_t v = info->dims[d];
        if (d)
            fprintf(f, ", ");
        if (v >= 0)
            fprintf(f, "%lld", (long long)v);
        else if (v <= -2 && -2 - v < g->n_syms)
            cli_json_str(f, g->syms[-2 - v]);
        else
            fprintf(f, "null");
    }
    fprintf(f, "]");
}

static void json_values(FILE *f, const struct ond_graph *g, const char *key,
                        struct ond_tensor *const *ts, int n)
{
    fprintf(f, "  \"%s\": [", key);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        cli_json_str(f, ts[i]->name);
        fprintf(f, ", \"dtype\": \"%s\", \"shape\": ", ond_dtype_name(ts[i]->info.dtype));
        if (ts[i]->info.rank < 0)
            fprintf(f, "null");
        else
            json_shape(f, g, &ts[i]->info);
        fprintf(f, "}");
    }
    fprintf(f, "],\n");
}

static void json_counts(FILE *f, const struct ond_op_counts *c)
{
    fprintf(f, "{");
    for (int i = 0; i < c->n; i++) {
        fprintf(f, "%s", i ? ", " : "");
        cli_json_str(f, c->items[i].op);
        fprintf(f, ": %d", c->items[i].count);
    }
    fprintf(f, "}");
}

static void json_strs(FILE *f, const char *key, char *const *v, int n)
{
    fprintf(f, ", \"%s\": [", key);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s", i ? ", " : "");
        cli_json_str(f, v[i]);
    }
    fprintf(f, "]");
}

/* fusions: {"pass", "nodes", "into", "post_ops", "line"}; not_fused: {"pass", "nodes",
 * "reason"}. */
static void json_records(FILE *f, const char *key, const struct ond_pass_records *rs)
{
    fprintf(f, "  \"%s\": [", key);
    for (int i = 0; i < rs->n; i++) {
        const struct ond_pass_record *x = &rs->items[i];
        fprintf(f, "%s\n    {\"pass\": ", i ? "," : "");
        cli_json_str(f, x->pass);
        json_strs(f, "nodes", x->nodes, x->n_nodes);
        if (x->reason) {
            fprintf(f, ", \"reason\": ");
            cli_json_str(f, x->reason);
        } else {
            fprintf(f, ", \"into\": ");
            cli_json_str(f, x->into);
            json_strs(f, "post_ops", x->post_ops, x->n_post);
            fprintf(f, ", \"line\": ");
            cli_json_str(f, x->line);
        }
        fprintf(f, "}");
    }
    fprintf(f, "%s],\n", rs->n ? "\n  " : "");
}

static void json_passes(FILE *f, const struct ond_pass_report *r)
{
    fprintf(f, "  \"opt_level\": %d,\n  \"passes\": [", r->opt_level);
    for (int i = 0; i < r->n_passes; i++) {
        const struct ond_pass_stat *p = &r->passes[i];
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        cli_json_str(f, p->name);
        fprintf(f, ", \"ran\": %s, \"rewrites\": %d, \"nodes_before\": %d, "
                   "\"nodes_after\": %d}", p->ran ? "true" : "false", p->rewrites,
                p->nodes_before, p->nodes_after);
    }
    fprintf(f, "\n  ],\n");
    json_records(f, "fusions", &r->fusions);
    json_records(f, "not_fused", &r->not_fused);
    fprintf(f, "  \"optimized\": {\"nodes\": ");
    json_counts(f, &r->optimized);
    fprintf(f, ", \"nodes_total\": %d},\n", r->optimized.total);
}

/* The steps of a planned session: kernel, layouts read and written. */
static void print_kernels(FILE *f, const struct ond_profile *prof, const char *precision,
                          bool json)
{
    if (json) {
        fprintf(f, "  \"precision\": ");
        cli_json_str(f, precision);
        fprintf(f, ",\n  \"kernels\": [");
    } else {
        printf("kernels     %d steps at %s\n", prof->n_steps, precision);
    }
    for (int i = 0; i < prof->n_steps; i++) {
        const struct ond_profile_step *p = &prof->steps[i];
        if (!json) {
            printf("  %-18s %-34s %-28s %-16s -> %s\n", p->op, p->node, p->impl, p->src, p->dst);
            continue;
        }
        fprintf(f, "%s\n    {\"op\": ", i ? "," : "");
        cli_json_str(f, p->op);
        fprintf(f, ", \"node\": ");
        cli_json_str(f, p->node);
        fprintf(f, ", \"impl\": ");
        cli_json_str(f, p->impl);
        fprintf(f, ", \"src\": ");
        cli_json_str(f, p->src);
        fprintf(f, ", \"dst\": ");
        cli_json_str(f, p->dst);
        fprintf(f, ", \"post_ops\": %d}", p->n_post);
    }
    if (json)
        fprintf(f, "\n  ],\n");
}

/* Plans a session for inputs of batch and profiles one run into *prof, whose names live in
 * *m (freed by the caller with *s). */
static int kernels(const char *path, struct ond_options *o, const char *calibrate,
                   long long batch, struct ond_profile *prof, struct ond_model **m,
                   struct ond_session **s)
{
    struct ond_value *in = NULL, *out = NULL;
    size_t n_in = 0, n_out = 0;
    struct ond_error err = {0};
    int rc = cli_session("inspect", path, o, calibrate, m, s);
    if (rc == CLI_OK && cli_random_inputs("inspect", *m, batch, &in, &n_in))
        rc = CLI_FAIL;
    if (rc == CLI_OK && (ond_session_run_alloc(*s, in, n_in, &out, &n_out, &err) ||
                         ond_session_profile(*s, in, n_in, out, n_out, prof, &err)))
        rc = cli_error("inspect", &err);
    ond_values_free(out, n_out);
    ond_values_free(in, n_in);
    return rc;
}

static void print_json(const char *path, const struct ond_graph *g, const struct summary *s,
                       long long batch, const struct ond_pass_report *r, bool passes,
                       const struct ond_profile *prof, const char *precision)
{
    FILE *f = stdout;
    fprintf(f, "{\n  \"model\": ");
    cli_json_str(f, path);
    fprintf(f, ",\n  \"ir_version\": %lld,\n  \"producer\": ", (long long)g->ir_version);
    cli_json_str(f, g->producer_name);
    fprintf(f, ",\n  \"producer_version\": ");
    cli_json_str(f, g->producer_version);
    fprintf(f, ",\n  \"opsets\": {");
    for (size_t i = 0; i < g->n_opsets; i++) {
        fprintf(f, "%s", i ? ", " : "");
        cli_json_str(f, *g->opsets[i].domain ? g->opsets[i].domain : "ai.onnx");
        fprintf(f, ": %lld", (long long)g->opsets[i].version);
    }
    fprintf(f, "},\n");
    json_values(f, g, "inputs", g->inputs, g->n_inputs);
    json_values(f, g, "outputs", g->outputs, g->n_outputs);
    fprintf(f, "  \"nodes\": ");
    json_counts(f, &r->loaded);
    fprintf(f, ",\n  \"nodes_total\": %d,\n", r->loaded.total);
    if (passes)
        json_passes(f, r);
    fprintf(f, "  \"params\": %llu,\n  \"param_bytes\": %llu,\n", (unsigned long long)s->params,
            (unsigned long long)s->param_bytes);
    fprintf(f, "  \"batch\": %lld,\n  \"macs\": %llu,\n  \"flops\": %llu,\n",
            batch, (unsigned long long)s->macs, (unsigned long long)s->flops);
    if (prof)
        print_kernels(f, prof, precision, true);
    fprintf(f, "  \"macs_by_op\": {");
    for (int i = 0, first = 1; i < s->n_ops; i++) {
        if (!s->ops[i].macs)
            continue;
        fprintf(f, "%s", first ? "" : ", ");
        first = 0;
        cli_json_str(f, s->ops[i].op);
        fprintf(f, ": %llu", (unsigned long long)s->ops[i].macs);
    }
    fprintf(f, "},\n  \"unsupported\": [");
    if (g->unsupported) {
        /* The list is "a, b, c": one JSON string each. */
        const char *p = g->unsupported;
        for (int first = 1; *p; first = 0) {
            const char *e = strstr(p, ", ");
            size_t len = e ? (size_t)(e - p) : strlen(p);
            char item[256];
            snprintf(item, sizeof item, "%.*s", (int)len, p);
            fprintf(f, "%s", first ? "" : ", ");
            cli_json_str(f, item);
            p += len + (e ? 2 : 0);
        }
    }
    fprintf(f, "]\n}\n");
}

static void print_passes(const struct ond_pass_report *r, bool why_not)
{
    printf("passes at -O%d                 rewrites   nodes\n", r->opt_level);
    for (int i = 0; i < r->n_passes; i++) {
        const struct ond_pass_stat *p = &r->passes[i];
        if (p->ran)
            printf("  %-26s %8d   %d -> %d\n", p->name, p->rewrites, p->nodes_before,
                   p->nodes_after);
        else
            printf("  %-26s        -   %s\n", p->name,
                   p->disabled                        ? "disabled"
                   : p->level <= r->opt_level && p->int8_only ? "int8 sessions only"
                   : p->level == 2                     ? "-O2 only"
                                                       : "-O1 and -O2");
    }
    printf("fusions     %d\n", r->fusions.n);
    for (int i = 0; i < r->fusions.n; i++)
        printf("  %s\n", r->fusions.items[i].line);
    printf("not fused   %d%s\n", r->not_fused.n,
           r->not_fused.n && !why_not ? " (--why-not lists them)" : "");
    for (int i = 0; why_not && i < r->not_fused.n; i++) {
        const struct ond_pass_record *x = &r->not_fused.items[i];
        printf("  %s:", x->pass);
        for (int k = 0; k < x->n_nodes; k++)
            printf("%s '%s'", k ? " +" : "", x->nodes[k]);
        printf(": rule not met: %s\n", x->reason);
    }
}

static void print_text(const char *path, const struct ond_graph *g, const struct summary *s,
                       long long batch, const struct ond_pass_report *r)
{
    char buf[256], h[32];
    printf("model       %s\n", path);
    printf("ir_version  %lld\n", (long long)g->ir_version);
    printf("producer    %s %s\n", *g->producer_name ? g->producer_name : "-", g->producer_version);
    printf("opsets     ");
    for (size_t i = 0; i < g->n_opsets; i++)
        printf(" %s %lld", *g->opsets[i].domain ? g->opsets[i].domain : "ai.onnx",
               (long long)g->opsets[i].version);
    printf("\n");
    for (int i = 0; i < g->n_inputs; i++)
        printf("%-11s %s %s\n", i ? "" : "inputs", g->inputs[i]->name,
               ond_info_str(g, &g->inputs[i]->info, buf, sizeof buf));
    for (int i = 0; i < g->n_outputs; i++)
        printf("%-11s %s %s\n", i ? "" : "outputs", g->outputs[i]->name,
               ond_info_str(g, &g->outputs[i]->info, buf, sizeof buf));
    if (r->opt_level > 0) {
        printf("nodes       %d loaded\n", r->loaded.total);
        for (int i = 0; i < r->loaded.n; i++)
            printf("  %-24s %5d\n", r->loaded.items[i].op, r->loaded.items[i].count);
        printf("optimized   %d nodes at -O%d\n", g->n_nodes, r->opt_level);
    } else {
        printf("nodes       %d\n", g->n_nodes);
    }
    for (int i = 0; i < s->n_ops; i++) {
        printf("  %-24s %5d", s->ops[i].op, s->ops[i].count);
        if (s->ops[i].macs)
            printf("   %s MACs", human((double)s->ops[i].macs, h, sizeof h));
        printf("\n");
    }
    printf("parameters  %llu (%s bytes)\n", (unsigned long long)s->params,
           human((double)s->param_bytes, h, sizeof h));
    printf("MACs        %s at batch %lld\n", human((double)s->macs, h, sizeof h), batch);
    printf("FLOPs       %s\n", human((double)s->flops, h, sizeof h));
    if (g->unsupported)
        printf("unsupported %s\n", g->unsupported);
}

/* Index of the pass named `after` in the pipeline, -1 for "all", -2 for an unknown name. */
static int pass_index(const char *after)
{
    if (strcmp(after, "all") == 0)
        return -1;
    for (size_t i = 0; i < ond_pass_count(); i++)
        if (strcmp(ond_pass_name(i), after) == 0)
            return (int)i;
    return -2;
}

/* Writes the graph as it is after pass `after` (-1: all passes) to dot and/or svg. An earlier
 * pass's graph is a second load with every later pass disabled; it is inferred at `batch` like
 * the model's own. */
static int draw(const char *path, const struct ond_options *o, struct ond_model *m, int after,
                long long batch, const char *dot, const char *svg)
{
    struct ond_options o2 = *o;
    struct ond_model *m2 = NULL;
    struct ond_error err = {0};
    struct summary s = {0};
    const char **names = calloc(o->n_disabled_passes + ond_pass_count() + 1, sizeof *names);
    char tmp[] = "/tmp/ondine-inspect-XXXXXX";
    const char *file = dot;
    int rc = names ? CLI_OK : CLI_FAIL;
    if (rc == CLI_OK && after >= 0) {
        if (o->n_disabled_passes)
            memcpy(names, o->disabled_passes, sizeof *names * o->n_disabled_passes);
        o2.disabled_passes = names;
        for (size_t i = (size_t)after + 1; i < ond_pass_count(); i++)
            names[o2.n_disabled_passes++] = ond_pass_name(i);
        enum ond_status st = ond_model_load_file_ex(path, &o2, true, &m2, &err);
        if (!st)
            st = count_at(&s, m2->graph, batch, &err);
        if (st)
            rc = cli_error("inspect", &err);
        else
            m = m2;
    }
    if (rc == CLI_OK && !file) {
        int fd = mkstemp(tmp);
        if (fd < 0) {
            fprintf(stderr, "ondine inspect: cannot make a temporary file\n");
            rc = CLI_FAIL;
        } else {
            close(fd);
            file = tmp;
        }
    }
    FILE *f = rc == CLI_OK ? fopen(file, "w") : NULL;
    if (f)
        report_dot(f, &(struct report_graph){.g = m->graph, .r = m->passes, .prefix = "",
                                               .wrap = true});
    if (rc == CLI_OK && (!f || fclose(f) != 0)) {
        fprintf(stderr, "ondine inspect: cannot write '%s'\n", file);
        rc = CLI_FAIL;
    }
    if (rc == CLI_OK && svg)
        rc = report_render(file, svg);
    if (file == tmp)
        unlink(tmp);
    ond_model_free(m2);
    free(names);
    return rc;
}

/* The HTML report: the loaded graph is a second load at -O0. */
static int report(const char *path, const struct ond_options *o, const struct ond_model *m,
                  const uint64_t *macs, long long batch, const struct ond_profile *prof,
                  const char *precision, const char *file)
{
    struct ond_options o0 = *o;
    struct ond_model *before = NULL;
    struct ond_error err = {0};
    o0.opt_level = 0;
    if (ond_model_load_file_ex(path, &o0, true, &before, &err))
        return cli_error("inspect", &err);
    struct report_in in = {.model = path, .before = before->graph, .after = m->graph,
                           .passes = m->passes, .macs = macs, .batch = batch, .prof = prof,
                           .precision = precision};
    int rc = report_html(file, &in);
    ond_model_free(before);
    return rc;
}

int cli_inspect(int argc, char **argv)
{
    const char *path = NULL, *dot = NULL, *svg = NULL, *after = NULL, *calibrate = NULL;
    const char *html = NULL;
    bool json = false, passes = false, why_not = false, want_kernels = false, profile = false;
    long long batch = 1;
    struct ond_options o;
    ond_options_init(&o);
    const struct cli_opt rows[] = {
        {.names = "--json", .set = cli_set_flag, .target = &json,
         .help = "one JSON object on stdout (keys in docs/cli.md)"},
        {.names = "--batch", .arg = "N", .set = cli_set_ll, .target = &batch, .min = 1,
         .max = 1 << 20, .help = "value of symbolic dims for shapes, MACs and FLOPs (default 1)"},
        {.names = "--passes", .set = cli_set_flag, .target = &passes,
         .help = "what each optimization pass did, every fusion, and a count of\n"
                 "the candidates passes rejected"},
        {.names = "--why-not", .set = cli_set_flag, .target = &why_not,
         .help = "with --passes (implies it): list each rejected candidate with the\n"
                 "rule it broke"},
        CLI_OPT_LEVELS(&o),
        CLI_OPTS_COMMON(&o),
        {.names = "--dot", .arg = "FILE", .set = cli_set_str, .target = &dot,
         .help = "write the graph for Graphviz: names, ops, post-ops, attributes,\n"
                 "small constants, shapes; fused nodes green"},
        {.names = "--svg", .arg = "FILE", .set = cli_set_str, .target = &svg,
         .help = "render the graph with Graphviz's dot (" DOT_PROGRAM ")"},
        {.names = "--after", .arg = "PASS|all", .set = cli_set_str, .target = &after,
         .help = "draw the graph as it is after that pass (default: all)"},
        {.names = "--html", .arg = "FILE", .set = cli_set_str, .target = &html,
         .help = "a self-contained page: the graph before and after the passes, each\n"
                 "pass's changes, fusions, candidates not fused, the node table"},
        {.names = "--profile", .set = cli_set_flag, .target = &profile,
         .help = "with --html: time and kernel per node from one profiled run"},
        {.names = "--kernels", .set = cli_set_flag, .target = &want_kernels,
         .help = "plan a session and list every step's kernel and layouts\n"
                 "(one run on seeded random inputs of --batch)"},
        {.names = "--precision", .arg = "P", .set = cli_set_precision, .target = &o.precision,
         .help = "with --kernels or --profile: fp32 (default), bf16, int8"},
        {.names = "--calibrate", .arg = "DIR", .set = cli_set_str, .target = &calibrate,
         .help = "with --kernels or --profile, int8: calibration inputs (see ondine\n"
                 "run --help)"},
    };
    int rc = cli_parse_model("inspect", "usage: ondine inspect MODEL [options]\n", argc, argv,
                             rows, CLI_ROWS(rows), &path, "no model given");
    passes |= why_not;
    const char *precision = cli_precision_names[o.precision];
    if (rc == CLI_OK && after && !dot && !svg)
        rc = cli_usage("inspect", "--after draws a graph: give --dot FILE or --svg FILE");
    if (rc == CLI_OK && profile && !html)
        rc = cli_usage("inspect", "--profile times the nodes for the report: give --html FILE");
    if (rc == CLI_OK && after && pass_index(after) == -2)
        rc = cli_usage("inspect", "--after: unknown pass '%s' ('ondine inspect --passes MODEL' "
                                  "lists them)", after);
    /* Drawing "after" a pass that does not run would draw another pass's graph. */
    if (rc == CLI_OK && after && pass_index(after) >= 0 &&
        ond_pass_level((size_t)pass_index(after)) > o.opt_level)
        rc = cli_usage("inspect", "--after: pass '%s' runs from -O%d on, not at -O%d (add -O%d)",
                       after, ond_pass_level((size_t)pass_index(after)), o.opt_level,
                       ond_pass_level((size_t)pass_index(after)));
    for (size_t k = 0; rc == CLI_OK && after && k < o.n_disabled_passes; k++)
        if (strcmp(o.disabled_passes[k], after) == 0)
            rc = cli_usage("inspect", "--after: pass '%s' is disabled (--disable-pass)", after);
    if (rc != CLI_OK) {
        free((void *)o.disabled_passes);
        return rc == CLI_HELP ? CLI_OK : rc;
    }
    struct ond_error err = {0};
    struct ond_model *m = NULL;
    struct summary s = {0};
    struct ond_profile prof = {0};
    struct ond_model *km = NULL;
    struct ond_session *ks = NULL;
    enum ond_status st = ond_model_load_file_ex(path, &o, true, &m, &err);
    if (!st && html && !(s.node_macs = calloc((size_t)m->graph->n_nodes + 1, sizeof(uint64_t))))
        st = ond_fail(&err, OND_STATUS_NO_MEMORY, "cannot allocate");
    if (!st && (st = count_at(&s, m->graph, batch, &err)))
        ond_error_prefix(&err, "%s: ", path);
    if (st)
        rc = cli_error("inspect", &err);
    else if (want_kernels || profile)
        rc = kernels(path, &o, calibrate, batch, &prof, &km, &ks);
    if (!st && rc == CLI_OK) {
        if (json)
            print_json(path, m->graph, &s, batch, m->passes, passes, want_kernels ? &prof : NULL,
                       precision);
        else
            print_text(path, m->graph, &s, batch, m->passes);
        if (!json && passes)
            print_passes(m->passes, why_not);
        if (!json && want_kernels)
            print_kernels(stdout, &prof, precision, false);
        if (dot || svg)
            rc = draw(path, &o, m, after ? pass_index(after) : -1, batch, dot, svg);
        if (html && rc == CLI_OK)
            rc = report(path, &o, m, s.node_macs, batch, profile ? &prof : NULL, precision, html);
    }
    free(s.node_macs);
    ond_profile_free(&prof);
    ond_session_free(ks);
    ond_model_free(km);
    ond_model_free(m);
    free((void *)o.disabled_passes);
    return rc;
}
