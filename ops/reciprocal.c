/* reciprocal.c: ONNX Reciprocal, opsets 1, 6, 13 (same float semantics;
 * consumed_inputs of opset 1 ignored): 1 / x, 1 / 0 is inf. float only. Sessions: oneDNN
 * eltwise pow with alpha 1, beta -1. */
#include "ops/op.h"
#include "runtime/exec.h"

static float scalar(float x, const void *u)
{
    (void)u;
    return 1.f / x;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)n;
    (void)err;
    *(struct ond_unary *)params =
        (struct ond_unary){.f = scalar, .alg = dnnl_eltwise_pow, .alpha = 1.f, .beta = -1.f};
    return OND_OK;
}

const struct ond_op ond_op_reciprocal = {
    .domain = "", .name = "Reciprocal", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_infer_same, .eval = ond_unary_eval,
    .prepare = ond_unary_prepare,
};
