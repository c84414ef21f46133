/* softplus.c: ONNX Softplus, opsets 1, 22 (22 adds bfloat16): log(1 + exp(x)).
 * float only. Sessions: oneDNN eltwise soft_relu (the same function in 2.6). */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

float ond_scalar_softplus(float x, const void *u)
{
    (void)u;
    /* exp of a non-positive argument only: no overflow for large x */
    return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)n;
    (void)err;
    *(struct ond_unary *)params =
        (struct ond_unary){.f = ond_scalar_softplus, .alg = dnnl_eltwise_soft_relu};
    return OND_OK;
}

const struct ond_op ond_op_softplus = {
    .domain = "", .name = "Softplus", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_infer_same, .eval = ond_unary_eval,
    .prepare = ond_unary_prepare,
};
