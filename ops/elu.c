/* elu.c: ONNX Elu, opsets 1, 6, 22 (22 adds bfloat16; consumed_inputs of opset 1
 * ignored): x for x >= 0, alpha * (exp(x) - 1) below; attribute alpha (default 1.0). float
 * only. Sessions: oneDNN eltwise elu with alpha. */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

float ond_scalar_elu(float x, const void *u)
{
    const struct ond_unary *p = u;
    return x >= 0 ? x : p->alpha * expm1f(x);
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct ond_unary *p = params;
    *p = (struct ond_unary){.f = ond_scalar_elu, .alg = dnnl_eltwise_elu};
    return ond_attr_float(n, "alpha", 1.f, &p->alpha, err);
}

const struct ond_op ond_op_elu = {
    .domain = "", .name = "Elu", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_infer_same, .eval = ond_unary_eval,
    .prepare = ond_unary_prepare,
};
