/* mish.c: ONNX Mish, opsets 18, 22 (22 adds bfloat16): x * tanh(softplus(x)).
 * float only. Sessions: oneDNN eltwise mish. */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

float ond_scalar_mish(float x, const void *u)
{
    (void)u;
    float sp = x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
    return x * tanhf(sp);
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)n;
    (void)err;
    *(struct ond_unary *)params =
        (struct ond_unary){.f = ond_scalar_mish, .alg = dnnl_eltwise_mish};
    return OND_OK;
}

const struct ond_op ond_op_mish = {
    .domain = "", .name = "Mish", .since = 18,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_infer_same, .eval = ond_unary_eval,
    .prepare = ond_unary_prepare,
};
