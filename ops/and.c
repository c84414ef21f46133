/* and.c: ONNX And, opsets 1, 7: logical and of two bool tensors, a bool output. Opset 1
 * broadcasts B onto A only with attribute broadcast 1 (from attribute axis, as Add-1); 7
 * broadcasts as numpy. Sessions run the eval (C): bool tensors are plain bytes to the
 * planner. */
#include "ops/op.h"

static bool logical_and(const void *a, const void *b, int32_t dtype)
{
    (void)dtype;
    return *(const uint8_t *)a && *(const uint8_t *)b;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    return ond_predicate_eval(n, in, out, out_data, logical_and, err);
}

const struct ond_op ond_op_and_1 = {
    .domain = "", .name = "And", .since = 1,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_arith_legacy),
    .parse = ond_arith_legacy_parse, .infer = ond_logical_infer, .eval = eval,
};

const struct ond_op ond_op_and_7 = {
    .domain = "", .name = "And", .since = 7,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .infer = ond_logical_infer, .eval = eval,
};
