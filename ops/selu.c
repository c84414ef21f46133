/* selu.c: ONNX Selu, opsets 1, 6, 22 (22 adds bfloat16; consumed_inputs of opset
 * 1 ignored): gamma * x for x > 0, gamma * alpha * (exp(x) - 1) otherwise; attributes alpha
 * (default 1.67326319...) and gamma (default 1.05070102...). float only. oneDNN 2.6 has no
 * selu: sessions run the eval. */
#include <math.h>

#include "ops/op.h"

static float scalar(float x, const void *u)
{
    const struct ond_unary *p = u;
    return x > 0 ? p->beta * x : p->beta * p->alpha * expm1f(x);
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct ond_unary *p = params;
    *p = (struct ond_unary){.f = scalar};
    enum ond_status st = ond_attr_float(n, "alpha", 1.67326319217681884765625f, &p->alpha, err);
    return st ? st : ond_attr_float(n, "gamma", 1.05070102214813232421875f, &p->beta, err);
}

const struct ond_op ond_op_selu = {
    .domain = "", .name = "Selu", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_infer_same, .eval = ond_unary_eval,
};
