/* fold_batchnorm.c: folds a BatchNormalization into the Conv before it.
 *
 *   before:  x -> Conv(W, B) -> y -> BatchNormalization(scale, beta, mean, var) -> z
 *   after:   x -> Conv(W', B') -> z
 *
 * Math, per output channel c, in double:
 *   s[c]   = scale[c] / sqrt(var[c] + epsilon)
 *   W'[c]  = W[c] * s[c]                        (every weight of output channel c)
 *   B'[c]  = (B[c] - mean[c]) * s[c] + beta[c]  (B = 0 when the Conv has none)
 * since BN(conv(x)) = s * (W*x + B - mean) + beta = (s W)*x + (B - mean) s + beta.
 *
 * Legality: the rules below, in the words `inspect --passes --why-not` reports a candidate (a
 * BatchNormalization reading a Conv's output) with when it breaks one; the BN rules are shared
 * with batchnorm_scale_shift.c. W and B are written in place when this Conv is their only
 * reader; a weight shared with another node (or a graph output) is cloned first, so the other
 * reader keeps its values. A W left in the model file (OND_TENSOR_DEFERRED, runtime/ir.h)
 * that only this Conv reads takes s as its scale instead: the planner applies it when it
 * copies W to reorder it, so its bytes are read once and W' is never a copy of its own.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/passes/passes.h"

/* The unnormalized conv output disappears. */
static const char ONE_READER[] = "the Conv's output has one reader, the BatchNormalization, "
                                 "and is not a graph output";
/* BN must apply to the convolution itself, before them. */
static const char NO_POST[] = "the Conv has no post-ops yet";
/* W' and B' are computed now, in float. */
static const char FLOAT[] = "the Conv's output is float";
static const char CONST_W[] = "the Conv's W is a constant float and its B, when present, a "
                              "constant float of one value per output channel";
/* spatial = 0 normalizes each element with its own parameters, which a per-output-channel
 * weight scale cannot express. */
static const char BN_SPATIAL[] = "the BatchNormalization is per channel (spatial = 1, the "
                                 "default; opset 9 on)";
static const char BN_CONST[] = "the BatchNormalization's four parameters are constant floats "
                               "of one value per channel";
/* The node that makes them goes. */
static const char BN_TRAINING[] = "the BatchNormalization's training outputs (running mean "
                                  "and var, saved statistics) have no reader and are not graph "
                                  "outputs";

/* A constant float tensor of exactly m elements. */
static bool per_channel(const struct ond_tensor *t, int64_t m)
{
    uint64_t numel;
    return ond_pass_is_const(t) && t->info.dtype == OND_DTYPE_FLOAT &&
           ond_numel(&t->info, 0, &numel) && numel == (uint64_t)m;
}

static bool training_outputs_unused(const struct ond_node *bn)
{
    for (int k = 1; k < bn->n_out; k++)
        if (bn->out[k] && (bn->out[k]->uses || (bn->out[k]->flags & OND_TENSOR_OUTPUT)))
            return false;
    return true;
}

const char *ond_pass_bn_per_channel(const struct ond_node *bn, int64_t channels)
{
    int64_t spatial = 1;
    if (bn->n_out > 1 && !training_outputs_unused(bn))
        return BN_TRAINING;
    if ((bn->opset < 9 && ond_attr_int(bn, "spatial", 1, &spatial, NULL)) || spatial != 1)
        return BN_SPATIAL;
    for (int k = 1; k < 5; k++)
        if (channels < 0 || !per_channel(bn->in[k], channels))
            return BN_CONST;
    return NULL;
}

enum ond_status ond_pass_bn_scale(const struct ond_node *bn, int64_t channels, double *s,
                                  struct ond_error *err)
{
    float eps;
    enum ond_status st = ond_attr_float(bn, "epsilon", 1e-5f, &eps, err);
    const float *scale = bn->in[1]->info.data, *var = bn->in[4]->info.data;
    for (int64_t i = 0; i < channels && !st; i++)
        s[i] = scale[i] / sqrt((double)var[i] + eps);
    return st;
}

/* Whether n is the only reader of its constant input k. */
static bool sole(const struct ond_node *n, int k)
{
    return n->in[k]->uses == 1 && !(n->in[k]->flags & OND_TENSOR_OUTPUT);
}

/* A writable copy of constant input k of n: the tensor itself when n is its only reader,
 * else a clone that n reads instead. */
static float *writable(struct ond_pass_ctx *c, struct ond_node *n, int k, const char *suffix,
                       struct ond_error *err)
{
    struct ond_tensor *t = n->in[k];
    if (sole(n, k) && t->own)
        return (float *)t->info.data;
    void *data;
    struct ond_tensor *copy = ond_pass_new_const(c, t->name, suffix, &t->info, &data, err);
    if (!copy)
        return NULL;
    ond_tensor_read(t, data);
    ond_pass_set_input(c, n, k, copy);
    return data;
}

/* W' of a W left in the model file (runtime/ir.h) that only this Conv reads: its scale, which
 * the Conv applies when it reads W, so that the weights are not copied here first. */
static bool defer_scale(struct ond_pass_ctx *c, struct ond_node *conv, int64_t m,
                        const double *s, struct ond_error *err)
{
    struct ond_tensor *t = conv->in[1];
    double *scale = ond_alloc(c->g, sizeof *scale * (size_t)m, err);
    if (!scale)
        return false;
    for (int64_t o = 0; o < m; o++)
        scale[o] = (t->scale ? t->scale[o] : 1.0) * s[o];
    t->scale = scale;
    return true;
}

/* B' of a conv without B: a new zero bias it reads as input 2. */
static float *new_bias(struct ond_pass_ctx *c, struct ond_node *conv, int64_t m,
                       struct ond_error *err)
{
    struct ond_info info = {.dtype = OND_DTYPE_FLOAT, .rank = 1, .dims = {m}};
    void *data;
    struct ond_tensor *t = ond_pass_new_const(c, conv->name, "bias", &info, &data, err);
    if (!t || ond_pass_grow_inputs(c, conv, 3, err))
        return NULL;
    ond_pass_set_input(c, conv, 2, t);
    return data;
}

static enum ond_status fold(struct ond_pass_ctx *c, struct ond_node *conv, struct ond_node *bn,
                            int64_t m, struct ond_error *err)
{
    const float *beta = bn->in[2]->info.data, *mean = bn->in[3]->info.data;
    double *s = calloc((size_t)m + 1, sizeof *s);
    float *w, *b;
    uint64_t numel = 0;
    enum ond_status st = OND_OK;
    if (!s)
        return ond_node_fail(err, bn, OND_STATUS_NO_MEMORY, "cannot fold");
    if ((st = ond_pass_bn_scale(bn, m, s, err)))
        goto done;
    bool deferred = (conv->in[1]->flags & OND_TENSOR_DEFERRED) && sole(conv, 1);
    w = deferred ? NULL : writable(c, conv, 1, "bn", err);
    b = !w && !deferred ? NULL
        : conv->n_in > 2 && conv->in[2] ? writable(c, conv, 2, "bn", err)
                                        : new_bias(c, conv, m, err);
    if ((!w && !deferred) || !b || (deferred && !defer_scale(c, conv, m, s, err))) {
        st = err ? err->status : OND_STATUS_NO_MEMORY;
        goto done;
    }
    ond_numel(&conv->in[1]->info, 0, &numel);
    uint64_t per = numel / (uint64_t)m;
    for (int64_t o = 0; o < m; o++) {
        for (uint64_t j = 0; w && j < per; j++)
            w[(uint64_t)o * per + j] = (float)(w[(uint64_t)o * per + j] * s[o]);
        b[o] = (float)(((double)b[o] - mean[o]) * s[o] + beta[o]);
    }
done:
    free(s);
    return st;
}

/* The rule that Conv -> bn breaks, or NULL. */
static const char *rejects(const struct ond_pass_ctx *c, const struct ond_node *conv,
                           const struct ond_node *bn)
{
    const struct ond_tensor *y = bn->in[0], *w = conv->in[1];
    const struct ond_tensor *b = conv->n_in > 2 ? conv->in[2] : NULL;
    if (ond_pass_sole_user(c, y) != bn)
        return ONE_READER;
    if (conv->n_post)
        return NO_POST;
    if (y->info.dtype != OND_DTYPE_FLOAT)
        return FLOAT;
    if (!ond_pass_is_const(w) || w->info.dtype != OND_DTYPE_FLOAT ||
        (b && !per_channel(b, w->info.dims[0])))
        return CONST_W;
    return ond_pass_bn_per_channel(bn, w->info.dims[0]);
}

enum ond_status ond_pass_fold_batchnorm(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *bn = g->nodes[i];
        if (!ond_pass_is(bn, "", "BatchNormalization"))
            continue;
        struct ond_tensor *y = bn->in[0];
        struct ond_node *conv = y->producer;
        if (!ond_pass_is(conv, "", "Conv"))
            continue;
        const char *why = rejects(c, conv, bn);
        const struct ond_node *pattern[] = {conv, bn};
        if (why) {
            enum ond_status st = ond_pass_not_fused(c, err, 2, pattern, why);
            if (st)
                return st;
            continue;
        }
        enum ond_status st = fold(c, conv, bn, conv->in[1]->info.dims[0], err);
        if (st)
            return st;
        ond_pass_take_output(conv, bn);
        c->rewrites++;
        if ((st = ond_pass_fusion(c, err, 2, pattern, conv, NULL,
                                  "Conv '%s' + BatchNormalization '%s' -> Conv '%s'", conv->name,
                                  bn->name, conv->name)))
            return st;
    }
    return OND_OK;
}
