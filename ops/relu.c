/* relu.c: ONNX Relu, opsets 1, 6, 13, 14 (14 only adds integer types; float semantics are
 * unchanged), consumed_inputs of opset 1 ignored. float only. Sessions: oneDNN eltwise relu. */
#include "ops/op.h"
#include "runtime/exec.h"

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    return ond_prep_eltwise(p, dnnl_eltwise_relu, 0.f, 0.f, err);
}

/* max(0, x) as numpy and oneDNN compute it: NaN stays NaN. */
static float relu(float x, const void *params)
{
    (void)params;
    return x < 0 ? 0 : x;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)out;
    (void)err;
    return ond_unary_float_eval(n, in, out_data, relu);
}

const struct ond_op ond_op_relu = {
    .domain = "", .name = "Relu", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .infer = ond_infer_same, .eval = eval, .prepare = prepare,
};
