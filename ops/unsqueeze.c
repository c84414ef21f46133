/* unsqueeze.c: ONNX Unsqueeze, opsets 1 and 11 (`axes` attribute, required; negative axes from 11)
 * and 13, 21, 23, 24, 25 (`axes` input, int64; 21 and later only add types). Axes index the
 * output, in any order. All dtypes. In a session the output is a view of the input's buffer. */
#include "ops/op.h"
#include "runtime/exec.h"

struct unsqueeze {
    int n_axes;              /* opsets before 13 */
    int64_t axes[OND_MAX_RANK];
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct unsqueeze *p = params;
    enum ond_status st = ond_attr_ints(n, "axes", p->axes, OND_MAX_RANK, &p->n_axes, err);
    if (!st && p->n_axes < 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "attribute 'axes' is required");
    return st;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct unsqueeze *p = n->params;
    const struct ond_info *x = in[0];
    int64_t axes[OND_MAX_RANK];
    int count;
    bool known = true;
    out[0].dtype = x->dtype;
    if (p) {
        count = p->n_axes;
        for (int i = 0; i < count; i++)
            axes[i] = p->axes[i];
    } else {
        enum ond_status st = ond_input_ints(n, in[1], 1, "axes", axes, OND_MAX_RANK, &count,
                                            &known, err);
        if (st)
            return st;
    }
    if (x->rank < 0 || count < 0)
        return OND_OK;
    int rank = x->rank + count;
    if (rank > OND_MAX_RANK)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "output rank %d is over the maximum %d", rank, OND_MAX_RANK);
    out[0].rank = rank;
    if (!known) {
        for (int i = 0; i < rank; i++)
            out[0].dims[i] = OND_DIM_UNKNOWN;
        return OND_OK;
    }
    bool added[OND_MAX_RANK] = {false};
    for (int i = 0; i < count; i++) {
        int a;
        enum ond_status st = ond_axis(n, axes[i], rank, &a, err);
        if (st)
            return st;
        if (added[a])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "axis %d is repeated", a);
        added[a] = true;
    }
    for (int i = 0, j = 0; i < rank; i++)
        out[0].dims[i] = added[i] ? 1 : x->dims[j++];
    return OND_OK;
}

const struct ond_op ond_op_unsqueeze_v1 = {
    .domain = "", .name = "Unsqueeze", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct unsqueeze),
    .parse = parse, .infer = infer, .eval = ond_eval_copy, .prepare = ond_prep_view,
    .quant = OND_QUANT_KEEP,
};

const struct ond_op ond_op_unsqueeze = {
    .domain = "", .name = "Unsqueeze", .since = 13,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = ond_eval_copy, .prepare = ond_prep_view,
    .quant = OND_QUANT_KEEP,
};
