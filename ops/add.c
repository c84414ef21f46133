/* add.c: ONNX Add. Opsets 1 and 6: `broadcast` (0: same shapes; 1: B onto A from `axis`,
 * default A's trailing dims), consumed_inputs ignored; opsets 7, 13, 14: numpy broadcasting.
 * float, double, int8, uint8, int32, int64.
 * Sessions: float runs as a oneDNN binary primitive (ond_arith_prepare), other dtypes
 * run the eval. eval applies the node's post-ops (fused into float Adds only). */
#include "ops/op.h"

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    uint64_t numel = 0;
    enum ond_status st = ond_arith_eval(n, OND_BIN_ADD, in, out, out_data, err);
    if (st || !n->n_post)
        return st;
    if (out[0].dtype != OND_DTYPE_FLOAT)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "post-ops on a %s Add",
                             ond_dtype_name(out[0].dtype));
    ond_numel(&out[0], 0, &numel);
    return ond_apply_post(n, in, out_data[0], numel, err);
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    return ond_arith_prepare(p, OND_BIN_ADD, err);
}

const struct ond_op ond_op_add_1 = {
    .domain = "", .name = "Add", .since = 1,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_arith_legacy),
    .parse = ond_arith_legacy_parse, .infer = ond_arith_infer, .eval = eval,
    .prepare = prepare,
};

const struct ond_op ond_op_add_7 = {
    .domain = "", .name = "Add", .since = 7,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .infer = ond_arith_infer, .eval = eval, .prepare = prepare,
};
