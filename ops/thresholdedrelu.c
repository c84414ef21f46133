/* thresholdedrelu.c: ONNX ThresholdedRelu, opsets 10, 22 (22 adds bfloat16; the op was
 * experimental before 10): x for x > alpha, 0 otherwise; attribute alpha (default 1.0).
 * float only. oneDNN 2.6 has no thresholded relu: sessions run the eval. */
#include "ops/op.h"

static float scalar(float x, const void *u)
{
    const struct ond_unary *p = u;
    return x > p->alpha ? x : 0.f;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct ond_unary *p = params;
    *p = (struct ond_unary){.f = scalar};
    return ond_attr_float(n, "alpha", 1.f, &p->alpha, err);
}

const struct ond_op ond_op_thresholdedrelu = {
    .domain = "", .name = "ThresholdedRelu", .since = 10,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_infer_same, .eval = ond_unary_eval,
};
