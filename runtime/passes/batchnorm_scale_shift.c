/* batchnorm_scale_shift.c: turns a BatchNormalization that could not fold into a Conv into an
 * ai.ondine ScaleShift, one multiply-add per element with two constants per channel.
 *
 *   before:  x -> BatchNormalization(scale, beta, mean, var) -> y     (pre-activation ResNet v2:
 *            BN -> Relu -> Conv, or a BN after an Add, a pool, a graph input)
 *   after:   x -> ScaleShift(s, t) -> y
 *
 * Math, per channel c, in double, rounded once to float:
 *   s[c] = scale[c] / sqrt(var[c] + epsilon),  t[c] = beta[c] - mean[c] * s[c]
 *   y = x * s[c] + t[c]  (= scale * (x - mean) / sqrt(var + epsilon) + beta)
 *
 * Legality: the input rule below and the BN rules of fold_batchnorm.c (constant float
 * parameters of one value per channel, per channel, training outputs unused: ScaleShift has one
 * output and s and t are computed now), in the words `inspect --passes --why-not` reports a
 * BatchNormalization it leaves with. Runs after fold_batchnorm, so only BNs no Conv could absorb
 * are left.
 */
#include <stdlib.h>

#include "ops/op.h"
#include "runtime/passes/passes.h"

static const char KNOWN_CHANNELS[] = "the input is float, of rank 2 or more, with a known "
                                     "channel count (dim 1)";

static enum ond_status convert(struct ond_pass_ctx *c, struct ond_node *bn, int64_t ch,
                               struct ond_error *err)
{
    const float *beta = bn->in[2]->info.data, *mean = bn->in[3]->info.data;
    struct ond_info info = {.dtype = OND_DTYPE_FLOAT, .rank = 1, .dims = {ch}};
    double *s = calloc((size_t)ch + 1, sizeof *s);
    void *sd, *td;
    struct ond_tensor *scale, *shift;
    enum ond_status st = s ? ond_pass_bn_scale(bn, ch, s, err)
                           : ond_node_fail(err, bn, OND_STATUS_NO_MEMORY, "cannot convert");
    if (!st && (!(scale = ond_pass_new_const(c, bn->name, "scale", &info, &sd, err)) ||
                !(shift = ond_pass_new_const(c, bn->name, "shift", &info, &td, err))))
        st = err ? err->status : OND_STATUS_NO_MEMORY;
    if (!st) {
        for (int64_t i = 0; i < ch; i++) {
            ((float *)sd)[i] = (float)s[i];
            ((float *)td)[i] = (float)(beta[i] - mean[i] * s[i]);
        }
        ond_pass_set_input(c, bn, 1, scale);
        ond_pass_set_input(c, bn, 2, shift);
        ond_pass_set_input(c, bn, 3, NULL);
        ond_pass_set_input(c, bn, 4, NULL);
        bn->n_in = 3;
        bn->n_out = 1;
        st = ond_pass_rebind(c, bn, "ScaleShift", err);
    }
    free(s);
    return st;
}

enum ond_status ond_pass_batchnorm_scale_shift(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *bn = g->nodes[i];
        if (!ond_pass_is(bn, "", "BatchNormalization"))
            continue;
        const struct ond_info *x = &bn->in[0]->info;
        const struct ond_node *pattern[] = {bn};
        const char *why = x->dtype != OND_DTYPE_FLOAT || x->rank < 2 || x->dims[1] < 0
                              ? KNOWN_CHANNELS
                              : ond_pass_bn_per_channel(bn, x->dims[1]);
        enum ond_status st = why ? ond_pass_not_fused(c, err, 1, pattern, why)
                                 : convert(c, bn, x->dims[1], err);
        if (st)
            return st;
        if (why)
            continue;
        if ((st = ond_pass_fusion(c, err, 1, pattern, bn, NULL,
                                  "BatchNormalization '%s' -> ScaleShift '%s'", bn->name,
                                  bn->name)))
            return st;
        c->rewrites++;
    }
    return OND_OK;
}
