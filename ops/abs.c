/* abs.c: ONNX Abs, opsets 1, 6, 13 (13 adds bfloat16; consumed_inputs of opset 1 ignored):
 * float, double and every integer type (Abs of the most negative integer is itself, as
 * numpy). Sessions: float runs as oneDNN eltwise abs; the other types run the eval. */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

float ond_scalar_abs(float x, const void *u)
{
    (void)u;
    return fabsf(x);
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)n;
    (void)err;
    *(struct ond_unary *)params =
        (struct ond_unary){.f = ond_scalar_abs, .alg = dnnl_eltwise_abs, .num = OND_NUM_ABS};
    return OND_OK;
}

const struct ond_op ond_op_abs = {
    .domain = "", .name = "Abs", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_unary_infer, .eval = ond_unary_eval,
    .prepare = ond_unary_prepare,
};
