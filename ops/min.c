/* min.c: ONNX Min, opsets 1, 6, 8, 12, 13: the smallest of 1 to 64 inputs element by
 * element, numpy-broadcast (opsets 1 and 6 ask for equal shapes, which broadcasting accepts
 * too; consumed_inputs of opset 1 ignored); a NaN wins, as in numpy.minimum. Every integer
 * and float type (12 adds the integers and 13 bfloat16; ondine takes them at every opset).
 * Sessions: two float inputs run as oneDNN binary min (ond_arith_prepare); more inputs and
 * other types run the eval. */
#include "ops/op.h"
#include "runtime/exec.h"

static bool dtype_ok(int32_t dt)
{
    return ond_num_dtype(dt) && dt != OND_DTYPE_BOOL;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    return ond_variadic_infer(n, in, out, dtype_ok, err);
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)err;
    return ond_minmax_eval(n, in, out, out_data, -1);
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    if (p->node->n_in != 2)
        return ond_prep_decline(p, "%d inputs", p->node->n_in);
    return ond_arith_prepare(p, OND_BIN_MIN, err);
}

const struct ond_op ond_op_min = {
    .domain = "", .name = "Min", .since = 1,
    .min_in = 1, .max_in = 64, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = eval, .prepare = prepare,
};
