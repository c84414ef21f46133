/* inspect.c: `ondine inspect MODEL`: what a model holds (inputs, outputs, op counts,
 * parameters, MACs and FLOPs at a batch size) as text, JSON (--json) or Graphviz (--dot).
 * Loads with unsupported ops allowed so they can be listed. MACs count multiply-accumulates
 * of Conv, Gemm and MatMul; FLOPs are 2 x MACs plus one per output element of other ops. */
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/model.h"
#include "tools/cli.h"

static const char help[] =
    "usage: ondine inspect MODEL [--json] [--batch N] [--dot FILE]\n"
    "  --json       one JSON object on stdout (keys in docs/cli.md)\n"
    "  --batch N    value of symbolic dims for shapes, MACs and FLOPs (default 1)\n"
    "  --dot FILE   write the graph for Graphviz\n";

struct op_count {
    const char *op;
    int count;
    uint64_t macs;
};

struct summary {
    struct op_count ops[256];
    int n_ops;
    uint64_t params, param_bytes, macs, flops;
};

static void count(struct summary *s, const struct ond_graph *g)
{
    memset(s, 0, sizeof *s);
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

/* Counts with the symbolic dims of the inputs set to batch; the inputs' and outputs' infos
 * keep their symbols for display. */
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
    return st;
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

static void print_json(const char *path, const struct ond_graph *g, const struct summary *s,
                       long long batch)
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
    fprintf(f, "  \"nodes\": {");
    for (int i = 0; i < s->n_ops; i++) {
        fprintf(f, "%s", i ? ", " : "");
        cli_json_str(f, s->ops[i].op);
        fprintf(f, ": %d", s->ops[i].count);
    }
    fprintf(f, "},\n  \"nodes_total\": %d,\n", g->n_nodes);
    fprintf(f, "  \"params\": %llu,\n  \"param_bytes\": %llu,\n", (unsigned long long)s->params,
            (unsigned long long)s->param_bytes);
    fprintf(f, "  \"batch\": %lld,\n  \"macs\": %llu,\n  \"flops\": %llu,\n  \"macs_by_op\": {",
            batch, (unsigned long long)s->macs, (unsigned long long)s->flops);
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

static void print_text(const char *path, const struct ond_graph *g, const struct summary *s,
                       long long batch)
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
    printf("nodes       %d\n", g->n_nodes);
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

/* Graphviz: one box per node labelled with its op and output shape; constant inputs are
 * listed in their consumer's label rather than drawn. */
static int write_dot(const char *file, const struct ond_graph *g)
{
    FILE *f = fopen(file, "w");
    char buf[256];
    if (!f)
        return -1;
    fprintf(f, "digraph ondine {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n");
    for (int i = 0; i < g->n_inputs; i++)
        fprintf(f, "  t%d [shape=oval, label=\"%s\\n%s\"];\n", g->inputs[i]->id,
                g->inputs[i]->name, ond_info_str(g, &g->inputs[i]->info, buf, sizeof buf));
    for (int i = 0; i < g->n_nodes; i++) {
        const struct ond_node *n = g->nodes[i];
        fprintf(f, "  n%d [label=\"%s", i, n->op_type);
        for (int k = 0; k < n->n_post; k++)
            fprintf(f, "%s%s", k ? ", " : " [", n->post[k].kind == OND_POST_SUM ? "sum" : "post");
        fprintf(f, "%s", n->n_post ? "]" : "");
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] && (n->in[k]->flags & OND_TENSOR_CONST))
                fprintf(f, "\\n%s", ond_info_str(g, &n->in[k]->info, buf, sizeof buf));
        if (n->n_out && n->out[0])
            fprintf(f, "\\n-> %s", ond_info_str(g, &n->out[0]->info, buf, sizeof buf));
        fprintf(f, "\"%s];\n", n->op ? "" : ", color=red");
        for (int k = 0; k < n->n_in; k++) {
            const struct ond_tensor *t = n->in[k];
            if (!t || (t->flags & OND_TENSOR_CONST))
                continue;
            if (t->producer)
                fprintf(f, "  n%d -> n%d;\n", t->producer->id, i);
            else
                fprintf(f, "  t%d -> n%d;\n", t->id, i);
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const struct ond_tensor *t = g->outputs[i];
        fprintf(f, "  o%d [shape=oval, label=\"%s\\n%s\"];\n", i, t->name,
                ond_info_str(g, &t->info, buf, sizeof buf));
        if (t->producer)
            fprintf(f, "  n%d -> o%d;\n", t->producer->id, i);
    }
    fprintf(f, "}\n");
    return fclose(f) == 0 ? 0 : -1;
}

int cli_inspect(int argc, char **argv)
{
    const char *path = NULL, *dot = NULL;
    bool json = false;
    long long batch = 1;
    struct ond_options o;
    ond_options_init(&o);
    const char **disabled = calloc((size_t)argc + 1, sizeof *disabled);
    int rc = CLI_OK;
    for (int i = 1; i < argc && rc == CLI_OK; i++) {
        const char *a = argv[i];
        int c = cli_common_flag("inspect", argc, argv, &i, &o, disabled);
        if (c < 0)
            rc = CLI_USAGE;
        else if (c > 0)
            continue;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            free(disabled);
            return CLI_OK;
        } else if (strcmp(a, "--json") == 0)
            json = true;
        else if (strcmp(a, "--batch") == 0) {
            if (i + 1 >= argc || !cli_int(argv[++i], 1, 1 << 20, &batch))
                rc = cli_usage("inspect", "--batch takes a whole number from 1");
        } else if (strcmp(a, "--dot") == 0) {
            if (i + 1 >= argc)
                rc = cli_usage("inspect", "--dot needs a file name");
            else
                dot = argv[++i];
        } else if (a[0] == '-' && a[1])
            rc = cli_usage("inspect", "unknown option '%s'", a);
        else if (path)
            rc = cli_usage("inspect", "one model at a time ('%s' and '%s')", path, a);
        else
            path = a;
    }
    if (rc == CLI_OK && !path)
        rc = cli_usage("inspect", "no model given");
    if (rc != CLI_OK) {
        free(disabled);
        return rc;
    }
    struct ond_error err = {0};
    struct ond_model *m = NULL;
    struct summary s;
    enum ond_status st = ond_model_load_file_ex(path, &o, true, &m, &err);
    if (!st && (st = count_at(&s, m->graph, batch, &err)))
        ond_error_prefix(&err, "%s: ", path);
    if (st) {
        rc = cli_error("inspect", &err);
    } else {
        if (json)
            print_json(path, m->graph, &s, batch);
        else
            print_text(path, m->graph, &s, batch);
        if (dot && write_dot(dot, m->graph) != 0) {
            fprintf(stderr, "ondine inspect: cannot write '%s'\n", dot);
            rc = CLI_FAIL;
        }
    }
    ond_model_free(m);
    free(disabled);
    return rc;
}
