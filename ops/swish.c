/* swish.c: ONNX Swish, opset 24 (ONNX has no Swish before; older exporters write
 * x * Sigmoid(x), which is Sigmoid and Mul here): x * sigmoid(alpha * x), attribute alpha
 * (default 1.0). float only. Sessions: oneDNN eltwise swish with alpha. */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

float ond_scalar_swish(float x, const void *u)
{
    const struct ond_unary *p = u;
    float t = p->alpha * x;
    /* exp of a non-positive argument only, as Sigmoid */
    return t >= 0 ? x / (1.f + expf(-t)) : x * expf(t) / (1.f + expf(t));
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct ond_unary *p = params;
    *p = (struct ond_unary){.f = ond_scalar_swish, .alg = dnnl_eltwise_swish};
    return ond_attr_float(n, "alpha", 1.f, &p->alpha, err);
}

const struct ond_op ond_op_swish = {
    .domain = "", .name = "Swish", .since = 24,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_infer_same, .eval = ond_unary_eval,
    .prepare = ond_unary_prepare,
};
