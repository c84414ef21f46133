/* not.c: ONNX Not, opset 1: logical negation of a bool tensor. Sessions run the eval (C):
 * bool tensors are plain bytes to the planner. */
#include "ops/op.h"

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    if (in[0]->dtype != OND_DTYPE_BOOL)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input is %s, not bool",
                             ond_dtype_name(in[0]->dtype));
    out[0] = *in[0];
    out[0].data = NULL;
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)n;
    (void)err;
    uint64_t numel = 0;
    ond_numel(&out[0], 0, &numel);
    const uint8_t *x = in[0]->data;
    uint8_t *y = out_data[0];
    for (uint64_t i = 0; i < numel; i++)
        y[i] = !x[i];
    return OND_OK;
}

const struct ond_op ond_op_not = {
    .domain = "", .name = "Not", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = eval,
};
