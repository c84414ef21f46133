/* lrn.c: ONNX LRN (local response normalization across channels), opsets 1 and 13 (same
 * semantics), float, X [N,C,D...]:
 *   square_sum[n,c,d] = sum of x[n,i,d]^2 for i in [c - floor((size-1)/2), c + ceil((size-1)/2)]
 *   (clipped to the channels), y = x / (bias + alpha / size * square_sum)^beta.
 * Attributes: size (required, positive), alpha (1e-4), beta (0.75), bias (1.0).
 * Sessions: oneDNN lrn_across_channels on X in the layout it arrives in. Its formula is the
 * same (alpha is divided by size there too, so alpha passes unchanged), but its window is
 * symmetric, c +- (size-1)/2, so an even size, whose ONNX window leans one channel up, runs
 * the eval. */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct lrn {
    int64_t size;
    float alpha, beta, bias;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct lrn *p = params;
    enum ond_status st;
    if (!ond_node_attr(n, "size"))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "attribute 'size' is required");
    if ((st = ond_attr_int(n, "size", 1, &p->size, err)) ||
        (st = ond_attr_float(n, "alpha", 1e-4f, &p->alpha, err)) ||
        (st = ond_attr_float(n, "beta", 0.75f, &p->beta, err)) ||
        (st = ond_attr_float(n, "bias", 1.0f, &p->bias, err)))
        return st;
    if (p->size < 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "size must be positive, got %lld",
                             (long long)p->size);
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    enum ond_status st = ond_infer_same(n, in, out, err);
    if (!st && in[0]->rank >= 0 && in[0]->rank < 2)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has rank %d, at least 2 is needed", in[0]->rank);
    return st;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct lrn *p = n->params;
    const struct ond_info *x = in[0];
    const float *xd = x->data;
    float *y = out_data[0];
    int64_t batch = x->dims[0], c = x->dims[1], inner = 1;
    int64_t lo = (p->size - 1) / 2, hi = p->size - 1 - lo;
    (void)out;
    (void)err;
    for (int i = 2; i < x->rank; i++)
        inner *= x->dims[i];
    for (int64_t b = 0; b < batch; b++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t i = 0; i < inner; i++) {
                double sq = 0.0;
                int64_t from = ch - lo < 0 ? 0 : ch - lo, to = ch + hi >= c ? c - 1 : ch + hi;
                for (int64_t j = from; j <= to; j++) {
                    double v = xd[(b * c + j) * inner + i];
                    sq += v * v;
                }
                int64_t at = (b * c + ch) * inner + i;
                y[at] = (float)(xd[at] / pow(p->bias + p->alpha / (double)p->size * sq, p->beta));
            }
    return OND_OK;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct lrn *q = n->params;
    if (!ond_prep_float_activation(p, 0, "X"))
        return OND_OK;
    if (q->size % 2 == 0)
        return ond_prep_decline(p, "even size %lld", (long long)q->size);
    dnnl_lrn_desc_t desc;
    OND_DNNL(dnnl_lrn_forward_desc_init(&desc, dnnl_forward_inference, dnnl_lrn_across_channels,
                                        p->in_md[0], q->size, q->alpha, q->beta, q->bias),
             n, err);
    dnnl_primitive_desc_t pd;
    enum ond_status st = ond_prep_pd(p, &desc, &pd, err);
    if (st || !pd)
        return st;
    return ond_prep_finish_unary(p, pd, err);
}

const struct ond_op ond_op_lrn = {
    .domain = "", .name = "LRN", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct lrn),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_lrn_13 = {
    .domain = "", .name = "LRN", .since = 13,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct lrn),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
