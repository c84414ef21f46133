/* scale_shift.c: ai.ondine ScaleShift, opset 1: Y = X * scale[c] + shift[c] per channel c (dim
 * 1 of X [N,C,D...]), then the node's post-ops. It is what a BatchNormalization that cannot fold
 * into a Conv becomes (pre-activation ResNet: BN -> Relu -> Conv), with scale = gamma /
 * sqrt(var + epsilon) and shift = beta - mean * scale computed once at load.
 * Inputs: X, scale [C], shift [C] (float), then one per sum or add post-op. Attributes:
 * post_ops, post_params (ops/postops.c).
 * Sessions: oneDNN's inference batch normalization with global statistics mean 0, variance 1
 * and epsilon 0, which computes scale * (x - 0) / sqrt(1 + 0) + shift = x * scale + shift
 * exactly as the eval does, in the layout x arrives in (no reorders around it), with the
 * node's post-ops; the eval runs where oneDNN declines a post-op list. */
#include <stdlib.h>

#include "ops/op.h"
#include "runtime/exec.h"

#define BASE_INPUTS 3

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)params;
    return ond_post_parse(n, BASE_INPUTS, err);
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *x = in[0];
    enum ond_status st;
    for (int k = 0; k < BASE_INPUTS; k++)
        if ((st = ond_require_float(n, in[k], k, err)))
            return st;
    if (x->rank >= 0 && x->rank < 2)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has rank %d, at least 2 is needed", x->rank);
    for (int k = 1; k < BASE_INPUTS; k++) {
        const struct ond_info *t = in[k];
        if (t->rank >= 0 && (t->rank != 1 || (x->rank >= 0 && t->dims[0] >= 0 &&
                                              x->dims[1] >= 0 && t->dims[0] != x->dims[1])))
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "%s must have shape [C], one value per channel of X",
                                 k == 1 ? "scale" : "shift");
    }
    out[0] = *x;
    out[0].data = NULL;
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct ond_info *x = in[0];
    const float *xd = x->data, *scale = in[1]->data, *shift = in[2]->data;
    float *y = out_data[0];
    int64_t batch = x->dims[0], c = x->dims[1], inner = 1;
    uint64_t numel = 0;
    for (int i = 2; i < x->rank; i++)
        inner *= x->dims[i];
    for (int64_t b = 0; b < batch; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            const float *xp = xd + (b * c + ch) * inner;
            float *yp = y + (b * c + ch) * inner;
            for (int64_t i = 0; i < inner; i++)
                yp[i] = xp[i] * scale[ch] + shift[ch];
        }
    ond_numel(&out[0], 0, &numel);
    return ond_apply_post(n, in, y, numel, err);
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    if (!ond_prep_float_activation(p, 0, "X"))
        return OND_OK;
    for (int k = 1; k < BASE_INPUTS; k++)
        if (p->in_md[k])
            return ond_prep_decline(p, "%s is not constant", k == 1 ? "scale" : "shift");
    dnnl_batch_normalization_desc_t desc;
    OND_DNNL(dnnl_batch_normalization_forward_desc_init(
                 &desc, dnnl_forward_inference, p->in_md[0], 0.f,
                 dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift), n, err);
    dnnl_primitive_desc_t pd;
    enum ond_status st = ond_prep_pd(p, &desc, &pd, err);
    if (st || !pd)
        return st;
    int64_t c = p->in[1]->dims[0];
    float *stats = calloc((size_t)(2 * c), sizeof *stats);
    dnnl_memory_desc_t param;
    int m[4];
    if (!stats)
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate statistics");
    for (int64_t i = 0; !st && i < c; i++)
        stats[c + i] = 1.f;
    if (!st)
        st = ond_md(p->in[1], true, &param, err);
    if (!st)
        st = ond_prep_const(p, 1, &param, &m[0], err);
    if (!st)
        st = ond_prep_const(p, 2, &param, &m[1], err);
    if (!st)
        st = ond_prep_floats(p, stats, &param, &m[2], err);
    if (!st)
        st = ond_prep_floats(p, stats + c, &param, &m[3], err);
    free(stats);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    p->out_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    ond_prep_arg(p, DNNL_ARG_SRC, OND_ARG_IN, 0);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    ond_prep_arg(p, DNNL_ARG_SCALE, OND_ARG_MEM, m[0]);
    ond_prep_arg(p, DNNL_ARG_SHIFT, OND_ARG_MEM, m[1]);
    ond_prep_arg(p, DNNL_ARG_MEAN, OND_ARG_MEM, m[2]);
    ond_prep_arg(p, DNNL_ARG_VARIANCE, OND_ARG_MEM, m[3]);
    return ond_prep_finish(p, pd, err);
}

const struct ond_op ond_op_scale_shift = {
    .domain = "ai.ondine", .name = "ScaleShift", .since = 1,
    .min_in = BASE_INPUTS, .max_in = BASE_INPUTS + OND_MAX_POSTOPS, .min_out = 1, .max_out = 1,
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
