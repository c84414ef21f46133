/* sigmoid.c: ONNX Sigmoid, opsets 1, 6, 13 (same float semantics); consumed_inputs of
 * opset 1 ignored. float only. Sessions: oneDNN eltwise logistic. */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    return ond_prep_eltwise(p, dnnl_eltwise_logistic, 0.f, 0.f, err);
}

/* exp of a non-positive argument only, so large |x| neither overflows nor loses 1 - y. */
static float sigmoid(float x, const void *params)
{
    (void)params;
    if (x >= 0)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)out;
    (void)err;
    return ond_unary_float_eval(n, in, out_data, sigmoid);
}

const struct ond_op ond_op_sigmoid = {
    .domain = "", .name = "Sigmoid", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .infer = ond_infer_same, .eval = eval, .prepare = prepare,
};
