/* greaterorequal.c: ONNX GreaterOrEqual, opsets 12, 16: a >= b, false where a NaN is compared,
 * a bool output. Inputs of one type, numpy-broadcast: any integer, float or bool (ONNX narrows
 * some opsets to fewer types; ondine takes them all). Sessions run the eval (C): bool tensors
 * are plain bytes to the planner. */
#include "ops/op.h"

static bool greater_or_equal(const void *a, const void *b, int32_t dtype)
{
    int r = ond_num_cmp(a, b, dtype);
    return r == 0 || r == 1;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    return ond_predicate_eval(n, in, out, out_data, greater_or_equal, err);
}

const struct ond_op ond_op_greater_or_equal = {
    .domain = "", .name = "GreaterOrEqual", .since = 12,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .infer = ond_compare_infer, .eval = eval,
};
