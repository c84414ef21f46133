/* hardswish.c: ONNX HardSwish, opsets 14 and 22: x * max(0, min(1, x / 6 + 0.5)). float only.
 * Sessions: oneDNN eltwise hardswish (the same formula). */
#include "ops/op.h"
#include "runtime/exec.h"

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    return ond_prep_eltwise(p, dnnl_eltwise_hardswish, 0.f, 0.f, err);
}

static float hardswish(float x, const void *params)
{
    (void)params;
    float s = x / 6.0f + 0.5f;
    return x * (s < 0 ? 0 : s > 1 ? 1 : s);
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)out;
    (void)err;
    return ond_unary_float_eval(n, in, out_data, hardswish);
}

const struct ond_op ond_op_hardswish = {
    .domain = "", .name = "HardSwish", .since = 14,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .infer = ond_infer_same, .eval = eval, .prepare = prepare,
};
