/* less.c: ONNX Less, opsets 1, 7, 9, 13: a < b, false where a NaN is compared, a bool output.
 * Opset 1 broadcasts B onto A only with attribute broadcast 1 (from attribute axis, as Add-1);
 * 7 and later broadcast as numpy. Inputs of one type: any integer, float or bool (ONNX narrows
 * some opsets to fewer types; ondine takes them all). Sessions run the eval (C): bool tensors
 * are plain bytes to the planner. */
#include "ops/op.h"

static bool less(const void *a, const void *b, int32_t dtype)
{
    return ond_num_cmp(a, b, dtype) == -1;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    return ond_predicate_eval(n, in, out, out_data, less, err);
}

const struct ond_op ond_op_less_1 = {
    .domain = "", .name = "Less", .since = 1,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_arith_legacy),
    .parse = ond_arith_legacy_parse, .infer = ond_compare_infer, .eval = eval,
};

const struct ond_op ond_op_less_7 = {
    .domain = "", .name = "Less", .since = 7,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .infer = ond_compare_infer, .eval = eval,
};
