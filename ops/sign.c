/* sign.c: ONNX Sign, opsets 9, 13 (13 adds bfloat16): -1, 0 or 1 (NaN stays NaN, as
 * numpy.sign), of float, double and every integer type. oneDNN 2.6 has no sign: sessions run
 * the eval. */
#include "ops/op.h"

static float scalar(float x, const void *u)
{
    (void)u;
    return x > 0 ? 1.f : x < 0 ? -1.f : x;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)n;
    (void)err;
    *(struct ond_unary *)params = (struct ond_unary){.f = scalar, .num = OND_NUM_SIGN};
    return OND_OK;
}

const struct ond_op ond_op_sign = {
    .domain = "", .name = "Sign", .since = 9,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_unary_infer, .eval = ond_unary_eval,
};
