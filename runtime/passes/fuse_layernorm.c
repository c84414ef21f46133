/* fuse_layernorm.c: layer normalization written out, as torch exports F.layer_norm at opsets
 * below 17 (ConvNeXt-tiny: 23 of them), becomes one LayerNormalization node (ONNX, opset 17).
 *
 *   before:  m = ReduceMean(x, axes);  d = Sub(x, m);  v = ReduceMean(Pow(d, 2), axes);
 *            s = Sqrt(Add(v, epsilon));  n = Div(d, s);  [Mul(n, gamma) ->] [Add(., beta) ->] y
 *   after:   x -> LayerNormalization(Scale = gamma or ones, B = beta or none) -> y
 *            (the Div node, rebound, with axis and epsilon; the others are gone)
 *   also:    the Adds and the Mul with their operands either way round; axes -1, rank - 1 or a
 *            trailing run of several (normalized together), as the attribute (opsets < 18) or
 *            a constant input (18); gamma and beta of more dims than the normalized ones, all
 *            1 (a broadcast copy of the normalized shape is made)
 *
 * Math: y = (x - mean) / sqrt(var + epsilon) * gamma + beta, var the biased variance over the
 * axes, which is LayerNormalization's definition. Sessions run it as oneDNN's layer
 * normalization on a [rows, normalized size] view (ops/layernorm.c), which also computes the
 * variance from x - mean: the fused and the unfused graph agree to float rounding.
 *
 * Legality: the rules below, in the words `inspect --passes --why-not` reports a candidate (a
 * Div whose dividend is x minus ReduceMean(x)) with when it breaks one. The Mul and Add after
 * the Div are taken when their other operand is constant; another Mul or Add (a residual add)
 * ends the pattern before it. Level 2: LayerNormalization is an opset-17 op (`ondine
 * optimize` writes ai.ondine.LayerNormalization into older models, like Gelu); -O1 keeps
 * standard ops.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/passes/passes.h"

/* The intermediate values disappear with their nodes. */
static const char ONE_READER[] = "x minus its mean is read by the Pow and the Div only, every "
                                 "other value of the pattern has one reader, the next node, "
                                 "and none is a graph output";
/* Anything else computes another function. */
static const char FORM[] = "the divisor is Sqrt(ReduceMean(Pow(d, 2)) + epsilon) of the same "
                           "difference d, 2 and epsilon constant float scalars, epsilon finite "
                           "and not negative";
/* LayerNormalization normalizes over the dims from its axis to the last. */
static const char AXES[] = "both ReduceMeans keep dims and reduce the same trailing run of x's "
                           "axes, ending at the last (the axes attribute, or a constant input "
                           "from opset 18)";
/* A gamma or beta that varies along a non-normalized dim is not one Scale or B. */
static const char AFFINE[] = "gamma and beta (a constant multiplied and added after the Div) "
                             "are float and broadcast onto the normalized dims only";
/* LayerNormalization is float; Scale is made of the normalized shape (and a tensor of none
 * would be an allocation of 0 bytes). The scalars have one element, so the result has x's dims
 * unless one of them has more dims than x. */
static const char SHAPE[] = "x is float, of known rank, its normalized dims known and not 0, "
                            "and the result has x's rank";

/* For a two-input node of type op reading t, the other input; NULL otherwise. */
static struct ond_tensor *other(const struct ond_node *n, const char *op,
                                const struct ond_tensor *t)
{
    if (!ond_pass_is(n, "", op) || n->n_in != 2 || !n->in[0] || !n->in[1] || !n->out[0])
        return NULL;
    return n->in[0] == t ? n->in[1] : n->in[1] == t ? n->in[0] : NULL;
}

/* The first axis of the trailing run a ReduceMean over x of rank `rank` reduces, keeping
 * dims; -1 when it reduces anything else or its axes are not known. */
static int trailing_axis(const struct ond_node *r, int rank)
{
    const struct ond_attr *keep = ond_node_attr(r, "keepdims");
    const struct ond_attr *a = ond_node_attr(r, "axes");
    const int64_t *axes = a && a->type == OND_ATTR_INTS ? a->ints : NULL;
    size_t count = axes ? a->n : 0;
    if (r->n_in > 1 && r->in[1]) {
        const struct ond_tensor *t = r->in[1];
        uint64_t numel;
        if (!ond_pass_is_const(t) || t->info.dtype != OND_DTYPE_INT64 ||
            !ond_numel(&t->info, 0, &numel))
            return -1;
        axes = t->info.data;
        count = (size_t)numel;
    }
    if ((keep && (keep->type != OND_ATTR_INT || keep->i != 1)) || !count ||
        count > (size_t)rank)
        return -1;
    bool red[OND_MAX_RANK] = {0};
    for (size_t i = 0; i < count; i++) {
        int64_t k = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (k < 0 || k >= rank || red[k])
            return -1;
        red[k] = true;
    }
    int first = rank - (int)count;
    for (int i = first; i < rank; i++)
        if (!red[i])
            return -1;
    return first;
}

/* The rest of the pattern before the Div, whose dividend d is Sub (nodes[1]) of x and
 * ReduceMean(x) (nodes[0]): nodes[2..6) (Pow, ReduceMean, Add, Sqrt), the axis and epsilon;
 * the rule that fails, NULL when it matches. */
static const char *match_head(const struct ond_pass_ctx *c, const struct ond_node *div,
                              struct ond_node **nodes, int *axis, float *eps)
{
    const struct ond_tensor *d = div->in[0], *s = div->in[1];
    const struct ond_node *sub = nodes[1], *mean = nodes[0];
    struct ond_node *sq = nodes[5] = s->producer;
    if (!ond_pass_is(sq, "", "Sqrt") || !sq->in[0])
        return FORM;
    struct ond_node *add = nodes[4] = sq->in[0]->producer;
    float two;
    struct ond_node *var = NULL, *pow = NULL;
    for (int k = 0; k < 2 && !var; k++)
        if (ond_pass_is(add, "", "Add") && add->n_in == 2 && add->in[k] &&
            ond_pass_float_scalar(add->in[1 - k], eps))
            var = add->in[k]->producer;
    nodes[3] = var;
    if (!ond_pass_is(var, "", "ReduceMean") || !var->in[0])
        return FORM;
    pow = nodes[2] = var->in[0]->producer;
    if (!ond_pass_is(pow, "", "Pow") || pow->n_in != 2 || pow->in[0] != d ||
        !ond_pass_float_scalar(pow->in[1], &two) || two != 2.0f || !(*eps >= 0) || isinf(*eps))
        return FORM;
    /* d's two readers are the Pow and the Div, which read it once each. */
    if (d->uses != 2 || (d->flags & OND_TENSOR_OUTPUT) ||
        ond_pass_sole_user(c, sub->in[1]) != sub || ond_pass_sole_user(c, pow->out[0]) != var ||
        ond_pass_sole_user(c, var->out[0]) != add || ond_pass_sole_user(c, add->out[0]) != sq ||
        ond_pass_sole_user(c, s) != div)
        return ONE_READER;
    const struct ond_info *xi = &sub->in[0]->info;
    int rank = xi->rank;
    if (xi->dtype != OND_DTYPE_FLOAT || rank < 1)
        return SHAPE;
    *axis = trailing_axis(mean, rank);
    if (*axis < 0 || trailing_axis(var, rank) != *axis)
        return AXES;
    for (int i = *axis; i < rank; i++)
        if (xi->dims[i] <= 0)
            return SHAPE;
    return NULL;
}

/* Whether g (gamma or beta) broadcasts onto x's dims axis.. only: rank at most x's, its dims
 * aligned to x's trailing ones 1 before axis, and 1 or x's dim from it. */
static bool affine_ok(const struct ond_tensor *g, const struct ond_info *x, int axis)
{
    if (!ond_pass_is_const(g) || g->info.dtype != OND_DTYPE_FLOAT || g->info.rank > x->rank)
        return false;
    for (int i = 0; i < g->info.rank; i++) {
        int k = x->rank - g->info.rank + i;
        int64_t d = g->info.dims[i];
        if (d != 1 && (k < axis || d != x->dims[k]))
            return false;
    }
    return true;
}

/* The Mul by gamma and the Add of beta after the Div (nodes[7], nodes[8]; NULL when absent)
 * and gamma and beta themselves; the rule that fails, NULL when they fit. */
static const char *match_affine(const struct ond_pass_ctx *c, const struct ond_node *div,
                                const struct ond_info *x, int axis, struct ond_node **nodes,
                                struct ond_tensor **gamma, struct ond_tensor **beta)
{
    const struct ond_tensor *y = div->out[0];
    struct ond_node *u = ond_pass_sole_user(c, y);
    struct ond_tensor *t = other(u, "Mul", y);
    if (t && ond_pass_is_const(t)) {
        if (!affine_ok(t, x, axis))
            return AFFINE;
        *gamma = t;
        nodes[7] = u;
        y = u->out[0];
        u = ond_pass_sole_user(c, y);
    }
    if ((t = other(u, "Add", y)) && ond_pass_is_const(t)) {
        if (!affine_ok(t, x, axis))
            return AFFINE;
        *beta = t;
        nodes[8] = u;
    }
    return NULL;
}

/* g as a constant of exactly the normalized dims (x's from axis): g itself when it has them,
 * else a broadcast copy (ones when g is NULL). NULL on failure, err set. */
static struct ond_tensor *param(struct ond_pass_ctx *c, const struct ond_node *div,
                                struct ond_tensor *g, const struct ond_info *x, int axis,
                                const char *suffix, struct ond_error *err)
{
    static const float one_value = 1.0f;
    struct ond_info want = {.dtype = OND_DTYPE_FLOAT, .rank = x->rank - axis};
    memcpy(want.dims, x->dims + axis, sizeof(int64_t) * (size_t)want.rank);
    if (g && g->info.rank == want.rank &&
        !memcmp(g->info.dims, want.dims, sizeof(int64_t) * (size_t)want.rank))
        return g;
    struct ond_info one = {.dtype = OND_DTYPE_FLOAT, .data = &one_value}, src = one;
    if (g) {
        /* Its dims before the normalized ones are 1: dropping them keeps the data. */
        src = g->info;
        src.rank = g->info.rank < want.rank ? g->info.rank : want.rank;
        memmove(src.dims, g->info.dims + g->info.rank - src.rank,
                sizeof(int64_t) * (size_t)src.rank);
    }
    void *data;
    struct ond_tensor *t = ond_pass_new_const(c, div->name, suffix, &want, &data, err);
    if (!t || ond_binary_eval(div, OND_BIN_MUL, &src, &one, &want, data, err))
        return NULL;
    return t;
}

/* Rebinds the Div to LayerNormalization(x, scale[, bias]) with axis and epsilon. */
static enum ond_status rewrite(struct ond_pass_ctx *c, struct ond_node *div,
                               struct ond_tensor *x, struct ond_tensor *scale,
                               struct ond_tensor *bias, int axis, float eps,
                               struct ond_error *err)
{
    enum ond_status st;
    struct ond_attr *attrs;
    if ((st = ond_pass_rebind(c, div, "", "LayerNormalization", err)) ||
        (st = ond_pass_grow_inputs(c, div, bias ? 3 : 2, err)))
        return st;
    if (!(attrs = ond_alloc(c->g, sizeof *attrs * 2, err)))
        return err ? err->status : OND_STATUS_NO_MEMORY;
    attrs[0] = (struct ond_attr){.name = "axis", .type = OND_ATTR_INT, .i = axis};
    attrs[1] = (struct ond_attr){.name = "epsilon", .type = OND_ATTR_FLOAT, .f = eps};
    div->attrs = attrs;
    div->n_attrs = 2;
    ond_pass_set_input(c, div, 0, x);
    ond_pass_set_input(c, div, 1, scale);
    if (bias)
        ond_pass_set_input(c, div, 2, bias);
    return div->op->parse(div, div->params, err);
}

enum ond_status ond_pass_fuse_layernorm(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *div = g->nodes[i], *sub, *mean;
        if (!ond_pass_is(div, "", "Div") || div->n_in != 2 || !div->in[0] || !div->in[1] ||
            !div->out[0] || !ond_pass_is(sub = div->in[0]->producer, "", "Sub") ||
            sub->n_in != 2 || !sub->in[0] || !sub->in[1] ||
            !ond_pass_is(mean = sub->in[1]->producer, "", "ReduceMean") ||
            mean->in[0] != sub->in[0])
            continue;
        struct ond_node *nodes[9] = {mean, sub, [6] = div};
        struct ond_tensor *x = sub->in[0], *gamma = NULL, *beta = NULL;
        int axis = -1;
        float eps = 0;
        const char *why = match_head(c, div, nodes, &axis, &eps);
        if (!why)
            why = match_affine(c, div, &x->info, axis, nodes, &gamma, &beta);
        struct ond_node *last = nodes[8] ? nodes[8] : nodes[7] ? nodes[7] : div;
        if (!why && last->out[0]->info.rank != x->info.rank)
            why = SHAPE;
        const struct ond_node *const *pattern = (const struct ond_node *const *)nodes;
        enum ond_status st;
        if (why) {
            if ((st = ond_pass_not_fused(c, err, 9, pattern, why)))
                return st;
            continue;
        }
        struct ond_tensor *scale = param(c, div, gamma, &x->info, axis, "scale", err);
        struct ond_tensor *bias = beta ? param(c, div, beta, &x->info, axis, "bias", err) : NULL;
        if (!scale || (beta && !bias))
            return err ? err->status : OND_STATUS_NO_MEMORY;
        char tail[1200] = "";
        for (int k = 7; k < 9; k++)
            if (nodes[k])
                snprintf(tail + strlen(tail), sizeof tail - strlen(tail), " + %s '%s'",
                         nodes[k]->op_type, nodes[k]->name);
        if ((st = ond_pass_fusion(c, err, 9, pattern, NULL, div->name,
                                  "ReduceMean '%s' + Sub '%s' + Pow '%s' + ReduceMean '%s' + "
                                  "Add '%s' + Sqrt '%s' + Div '%s'%s -> LayerNormalization '%s'",
                                  mean->name, sub->name, nodes[2]->name, nodes[3]->name,
                                  nodes[4]->name, nodes[5]->name, div->name, tail,
                                  div->name)) ||
            (st = rewrite(c, div, x, scale, bias, axis, eps, err)))
            return st;
        for (int k = 0; k < 6; k++)
            ond_pass_kill(nodes[k]);
        if (last != div) {
            if (nodes[7] && last != nodes[7])
                ond_pass_kill(nodes[7]);
            ond_pass_take_output(div, last);
        }
        c->rewrites++;
    }
    return OND_OK;
}
