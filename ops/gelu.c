/* gelu.c: ONNX Gelu, opset 20: attribute approximate, "none" (default: x * (1 + erf(x /
 * sqrt 2)) / 2) or "tanh" (x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))) / 2). float only.
 * Sessions: oneDNN eltwise gelu_erf or gelu_tanh. */
#include <math.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

float ond_scalar_gelu_erf(float x, const void *u)
{
    (void)u;
    /* erfc, not 1 + erf: no cancellation for negative x */
    return 0.5f * x * erfcf(-x * 0.70710678118654752f);
}

float ond_scalar_gelu_tanh(float x, const void *u)
{
    (void)u;
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
    /* (1 + tanh z) / 2 written as sigmoid(2z): no cancellation for negative x */
    return x / (1.f + expf(-2.f * k * (x + 0.044715f * x * x * x)));
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct ond_unary *p = params;
    const char *mode;
    enum ond_status st = ond_attr_string(n, "approximate", "none", &mode, err);
    if (st)
        return st;
    if (strcmp(mode, "none") == 0)
        *p = (struct ond_unary){.f = ond_scalar_gelu_erf, .alg = dnnl_eltwise_gelu_erf};
    else if (strcmp(mode, "tanh") == 0)
        *p = (struct ond_unary){.f = ond_scalar_gelu_tanh, .alg = dnnl_eltwise_gelu_tanh};
    else
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'approximate' must be \"none\" or \"tanh\", got \"%s\"",
                             mode);
    return OND_OK;
}

const struct ond_op ond_op_gelu = {
    .domain = "", .name = "Gelu", .since = 20,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_infer_same, .eval = ond_unary_eval,
    .prepare = ond_unary_prepare,
};
