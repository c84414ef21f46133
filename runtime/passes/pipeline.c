/* pipeline.c: the ordered table of passes, levels and disabling by name, and the report.
 *
 * -O0 runs nothing; -O1 cleans up and folds, leaving only standard ONNX ops
 * (QLinearConv/QLinearMatMul expanded into QDQ form, constant and shape-chain folding, identity,
 * dropout, zero Pad and one-input Concat removal, a Pad by zeros taken as the pads of the Conv
 * or AveragePool after it, a QDQ model's activation pairs taken as scales
 * when the model is loaded for int8 sessions (the only pass that changes what a model computes, so
 * fp32 and bf16 loads keep the pairs and their rounding), BatchNormalization folded into Conv
 * weights, dead code); -O2 (the default) adds the fusions, whose nodes carry post-ops or are
 * ai.ondine ops, or ONNX ops newer than the model's opset (Swish, Gelu, LayerNormalization). Order
 * matters where patterns overlap: the QLinear ops expand before constants fold (their weights'
 * DequantizeLinear) and before fold_qdq takes the pairs the expansion leaves between them;
 * identities go once constants are folded (a Pad's pads come from a Constant node);
 * BatchNormalization folds into its Conv before a leftover one becomes a ScaleShift; x *
 * Sigmoid(x) becomes a Swish and the Erf form of GELU a Gelu before the convolutions and adds take
 * activations as post-ops; a written-out layer normalization becomes a LayerNormalization before
 * the adds are fused (its beta Add is part of the pattern); the residual add takes its Relu before
 * the generic activation fusion could give that Relu to the Add alone; Flatten + Gemm becomes an
 * InnerProduct before activations fuse, so the InnerProduct takes them; dead code goes last.
 *
 * After each pass that rewrote something the graph is compacted (dead nodes dropped, uses
 * recounted, re-sorted: a residual fusion makes a conv read a tensor another branch makes)
 * and shapes are inferred again; after every pass it is validated (ond_graph_validate). That
 * costs well under a millisecond on ResNet-50, so every build and every test does it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/passes/passes.h"

struct pass {
    const char *name;
    int level;
    enum ond_status (*run)(struct ond_pass_ctx *c, struct ond_error *err);
    bool int8_only;   /* changes what the model computes: only for int8 sessions */
};

static const struct pass table[] = {
    {"expand_qlinear", 1, ond_pass_expand_qlinear, false},
    {"fold_constants", 1, ond_pass_fold_constants, false},
    {"fold_shape_chains", 1, ond_pass_fold_shape_chains, false},
    {"eliminate_identity", 1, ond_pass_eliminate_identity, false},
    {"fold_pad", 1, ond_pass_fold_pad, false},
    {"fold_qdq", 1, ond_pass_fold_qdq, true},
    {"fold_batchnorm", 1, ond_pass_fold_batchnorm, false},
    {"batchnorm_scale_shift", 2, ond_pass_batchnorm_scale_shift, false},
    {"fuse_swish", 2, ond_pass_fuse_swish, false},
    {"fuse_gelu", 2, ond_pass_fuse_gelu, false},
    {"fuse_layernorm", 2, ond_pass_fuse_layernorm, false},
    {"fuse_residual_add", 2, ond_pass_fuse_residual_add, false},
    {"fuse_inner_product", 2, ond_pass_fuse_inner_product, false},
    {"fuse_activation", 2, ond_pass_fuse_activation, false},
    {"fuse_add_activation", 2, ond_pass_fuse_add_activation, false},
    {"eliminate_dead_code", 1, ond_pass_eliminate_dead_code, false},
};

#define N_PASSES (sizeof table / sizeof table[0])

size_t ond_pass_count(void)
{
    return N_PASSES;
}

const char *ond_pass_name(size_t i)
{
    return i < N_PASSES ? table[i].name : NULL;
}

int ond_pass_level(size_t i)
{
    return i < N_PASSES ? table[i].level : -1;
}

static enum ond_status unknown_pass(const char *name, struct ond_error *err)
{
    char list[512];
    size_t at = 0;
    for (size_t i = 0; i < N_PASSES && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", table[i].name);
    return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "unknown pass '%s' to disable; passes are: %s",
                    name, list);
}

static bool disabled(const struct ond_options *o, const char *name)
{
    for (size_t i = 0; i < o->n_disabled_passes; i++)
        if (strcmp(o->disabled_passes[i], name) == 0)
            return true;
    return false;
}

bool ond_pass_will_run(const struct ond_pass_ctx *c, const char *name)
{
    for (int i = 0; i < c->report->n_passes; i++)
        if (strcmp(c->report->passes[i].name, name) == 0)
            return c->report->passes[i].ran;
    return false;
}

static enum ond_status count_ops(const struct ond_graph *g, struct ond_op_counts *c,
                                 struct ond_error *err)
{
    free(c->items);
    memset(c, 0, sizeof *c);
    c->items = calloc((size_t)g->n_nodes + 1, sizeof *c->items);
    if (!c->items)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot count the graph's nodes");
    for (int i = 0; i < g->n_nodes; i++) {
        const char *op = g->nodes[i]->op_type;
        int k = 0;
        while (k < c->n && strcmp(c->items[k].op, op) != 0)
            k++;
        if (k == c->n)
            c->items[c->n++].op = op;
        c->items[k].count++;
    }
    c->total = g->n_nodes;
    return OND_OK;
}

void ond_pass_report_free(struct ond_pass_report *r)
{
    if (!r)
        return;
    struct ond_pass_records *sets[] = {&r->fusions, &r->not_fused};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < sets[k]->n; i++)
            free(sets[k]->items[i].mem);
        free(sets[k]->items);
    }
    free(r->passes);
    free(r->loaded.items);
    free(r->optimized.items);
    free(r);
}

/* One pass: its reader table, the pass, then compaction, inference and validation. */
static enum ond_status run_one(struct ond_graph *g, const struct pass *p,
                               struct ond_pass_report *r, struct ond_pass_stat *stat,
                               struct ond_error *err)
{
    struct ond_pass_ctx c = {.g = g, .pass = p->name, .report = r, .n_users = g->n_tensors};
    enum ond_status st = OND_OK;
    if (!(c.user = calloc((size_t)g->n_tensors + 1, sizeof *c.user)))
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot run pass '%s'", p->name);
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_in; k++)
            if (g->nodes[i]->in[k])
                c.user[g->nodes[i]->in[k]->id] = g->nodes[i];
    stat->nodes_before = g->n_nodes;
    if ((st = p->run(&c, err))) {
        ond_error_prefix(err, "pass %s: ", p->name);
    } else if (c.rewrites && ((st = ond_graph_compact(g, err)) || (st = ond_graph_infer(g, err)))) {
        ond_error_prefix(err, "after pass %s: ", p->name);
    } else if ((st = ond_graph_validate(g, err))) {
        ond_error_prefix(err, "after pass %s, the graph is invalid: ", p->name);
    }
    stat->rewrites = c.rewrites;
    stat->nodes_after = g->n_nodes;
    free(c.user);
    return st;
}

enum ond_status ond_passes_run(struct ond_graph *g, const struct ond_options *opts,
                               struct ond_pass_report **report, struct ond_error *err)
{
    struct ond_options defaults;
    if (!opts) {
        ond_options_init(&defaults);
        opts = &defaults;
    }
    if (report)
        *report = NULL;
    if (opts->opt_level < 0 || opts->opt_level > 2)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT,
                        "optimization level %d is not 0, 1 or 2", opts->opt_level);
    for (size_t i = 0; i < opts->n_disabled_passes; i++) {
        const char *name = opts->disabled_passes[i];
        size_t k = 0;
        while (k < N_PASSES && (!name || strcmp(table[k].name, name) != 0))
            k++;
        if (k == N_PASSES)
            return unknown_pass(name ? name : "(null)", err);
    }
    struct ond_pass_report *r = calloc(1, sizeof *r);
    enum ond_status st = OND_OK;
    if (!r || !(r->passes = calloc(N_PASSES, sizeof *r->passes))) {
        free(r);
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate the pass report");
    }
    r->opt_level = opts->opt_level;
    r->n_passes = (int)N_PASSES;
    st = count_ops(g, &r->loaded, err);
    /* Every pass's `ran` is settled first: a pass may ask whether a later one runs. */
    for (size_t i = 0; i < N_PASSES; i++) {
        struct ond_pass_stat *s = &r->passes[i];
        s->name = table[i].name;
        s->level = table[i].level;
        s->disabled = disabled(opts, s->name);
        s->int8_only = table[i].int8_only;
        s->ran = s->level <= opts->opt_level && !s->disabled &&
                 (!s->int8_only || opts->precision == OND_PRECISION_INT8);
        s->nodes_before = s->nodes_after = g->n_nodes;
    }
    for (size_t i = 0; i < N_PASSES && !st; i++)
        if (r->passes[i].ran)
            st = run_one(g, &table[i], r, &r->passes[i], err);
    if (!st)
        st = count_ops(g, &r->optimized, err);
    if (st || !report)
        ond_pass_report_free(r);
    else
        *report = r;
    return st;
}
