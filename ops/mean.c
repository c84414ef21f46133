/* mean.c: ONNX Mean, opsets 1, 6, 8, 13: the mean of 1 to 64 inputs element by element,
 * numpy-broadcast (opsets 1 and 6 ask for equal shapes, which broadcasting accepts too;
 * consumed_inputs of opset 1 ignored). float and double (ONNX also allows float16 and,
 * from 13, bfloat16): the inputs are summed in order in the output's type, then divided.
 * Sessions run the eval (C). */
#include "ops/op.h"

static bool dtype_ok(int32_t dt)
{
    return dt == OND_DTYPE_FLOAT || dt == OND_DTYPE_DOUBLE;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    return ond_variadic_infer(n, in, out, dtype_ok, err);
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
    uint64_t numel = 0;
    ond_numel(&out[0], 0, &numel);
    for (uint64_t i = 0; i < numel && !st; i++) {
        if (out[0].dtype == OND_DTYPE_FLOAT)
            ((float *)out_data[0])[i] /= (float)n->n_in;
        else
            ((double *)out_data[0])[i] /= n->n_in;
    }
    return st;
}

const struct ond_op ond_op_mean = {
    .domain = "", .name = "Mean", .since = 1,
    .min_in = 1, .max_in = 64, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = eval,
};
