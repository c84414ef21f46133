/* sum.c: ONNX Sum, opsets 1, 6, 8, 13: n inputs (1 to 64), numpy broadcasting for all
 * opsets (opsets 1 and 6 require equal shapes, which broadcasting accepts too); consumed_inputs
 * of opset 1 ignored. float, double, int8, uint8, int32, int64. */
#include "ops/op.h"

#define SUM_MAX_INPUTS 64

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    enum ond_status st = ond_binary_infer(n, in[0], in[0], &out[0], err);
    for (int k = 1; k < n->n_in && !st; k++) {
        if (!in[k])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input %d is empty", k);
        struct ond_info acc = out[0];
        st = ond_binary_infer(n, &acc, in[k], &out[0], err);
    }
    return st;
}

/* Accumulates into the zeroed output, so every input broadcasts against the final shape. */
static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    struct ond_info acc = out[0];
    acc.data = out_data[0];
    enum ond_status st = OND_OK;
    for (int k = 0; k < n->n_in && !st; k++)
        st = ond_binary_eval(n, OND_BIN_ADD, &acc, in[k], &out[0], out_data[0], err);
    return st;
}

const struct ond_op ond_op_sum = {
    .domain = "", .name = "Sum", .since = 1,
    .min_in = 1, .max_in = SUM_MAX_INPUTS, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = eval,
};
