/* tanh.c: ONNX Tanh, opsets 1, 6, 13 (same float semantics; consumed_inputs of
 * opset 1 ignored). float only. Sessions: oneDNN eltwise tanh. */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

float ond_scalar_tanh(float x, const void *u)
{
    (void)u;
    return tanhf(x);
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)n;
    (void)err;
    *(struct ond_unary *)params =
        (struct ond_unary){.f = ond_scalar_tanh, .alg = dnnl_eltwise_tanh};
    return OND_OK;
}

const struct ond_op ond_op_tanh = {
    .domain = "", .name = "Tanh", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_infer_same, .eval = ond_unary_eval,
    .prepare = ond_unary_prepare,
};
