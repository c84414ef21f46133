/* ceil.c: ONNX Ceil, opsets 1, 6, 13 (same float semantics; consumed_inputs of
 * opset 1 ignored). float only. oneDNN 2.6 has no ceil: sessions run the eval. */
#include <math.h>

#include "ops/op.h"

static float scalar(float x, const void *u)
{
    (void)u;
    return ceilf(x);
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)n;
    (void)err;
    *(struct ond_unary *)params = (struct ond_unary){.f = scalar};
    return OND_OK;
}

const struct ond_op ond_op_ceil = {
    .domain = "", .name = "Ceil", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_infer_same, .eval = ond_unary_eval,
};
