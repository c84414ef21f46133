/* flatten.c: ONNX Flatten, opsets 1, 9, 11, 13, 21, 23, 24 and 25 (same semantics, 21 and later
 * only add types; negative axis accepted in every opset). Attribute axis (default 1) in [-rank,
 * rank]. All dtypes. In a session the output is a view of the input buffer (plain row-major). */
#include "ops/op.h"
#include "runtime/exec.h"

struct flatten {
    int64_t axis;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct flatten *p = params;
    return ond_attr_int(n, "axis", 1, &p->axis, err);
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct flatten *p = n->params;
    const struct ond_info *x = in[0];
    out[0].dtype = x->dtype;
    out[0].rank = 2;
    out[0].dims[0] = out[0].dims[1] = OND_DIM_UNKNOWN;
    if (x->rank < 0)
        return OND_OK;
    int64_t axis = p->axis < 0 ? p->axis + x->rank : p->axis;
    /* axis == rank is legal: everything goes into the first dim. */
    if (axis < 0 || axis > x->rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "axis %lld is out of range for rank %d", (long long)p->axis,
                             x->rank);
    out[0].dims[0] = out[0].dims[1] = 1;
    for (int i = 0; i < x->rank; i++)
        out[0].dims[i >= axis] = ond_dim_mul(out[0].dims[i >= axis], x->dims[i]);
    return OND_OK;
}

const struct ond_op ond_op_flatten = {
    .domain = "", .name = "Flatten", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct flatten),
    .parse = parse, .infer = infer, .eval = ond_eval_copy, .prepare = ond_prep_view,
    .quant = OND_QUANT_KEEP,
};
