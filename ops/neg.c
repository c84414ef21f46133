/* neg.c: ONNX Neg, opsets 1, 6, 13 (13 adds bfloat16; consumed_inputs of opset 1 ignored):
 * float, double and the signed integer types (integers wrap: Neg of the most negative value
 * is itself, as numpy). Sessions: float runs as oneDNN eltwise linear with alpha -1; the other
 * types run the eval. */
#include "ops/op.h"
#include "runtime/exec.h"

static float scalar(float x, const void *u)
{
    (void)u;
    return -x;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)n;
    (void)err;
    *(struct ond_unary *)params = (struct ond_unary){
        .f = scalar, .alg = dnnl_eltwise_linear, .alpha = -1.f, .num = OND_NUM_NEG};
    return OND_OK;
}

const struct ond_op ond_op_neg = {
    .domain = "", .name = "Neg", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_unary_infer, .eval = ond_unary_eval,
    .prepare = ond_unary_prepare,
};
