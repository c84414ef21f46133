/* squeeze.c: ONNX Squeeze, opsets 1 and 11 (`axes` attribute; negative axes from 11) and 13, 21,
 * 23, 24, 25 (`axes` input, int64; 21 and later only add types). Without axes every dim of size 1
 * goes, which needs the input shape known. All dtypes. In a session the output is a view of the
 * input's buffer. */
#include "ops/op.h"
#include "runtime/exec.h"

struct squeeze {
    int n_axes;              /* opsets before 13; -1: absent */
    int64_t axes[OND_MAX_RANK];
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct squeeze *p = params;
    return ond_attr_ints(n, "axes", p->axes, OND_MAX_RANK, &p->n_axes, err);
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct squeeze *p = n->params;
    const struct ond_info *x = in[0];
    int64_t axes[OND_MAX_RANK];
    int count = -1;
    bool known = true;
    out[0].dtype = x->dtype;
    if (p) {
        count = p->n_axes;
        for (int i = 0; i < count; i++)
            axes[i] = p->axes[i];
    } else if (n->n_in > 1 && in[1]) {
        enum ond_status st = ond_input_ints(n, in[1], 1, "axes", axes, OND_MAX_RANK, &count,
                                            &known, err);
        if (st)
            return st;
        if (count < 0)
            return OND_OK;
    }
    if (x->rank < 0)
        return OND_OK;
    bool drop[OND_MAX_RANK] = {false};
    if (count < 0) {
        for (int i = 0; i < x->rank; i++) {
            if (x->dims[i] < 0)
                return OND_OK;
            drop[i] = x->dims[i] == 1;
        }
    } else if (!known) {
        if (count > x->rank)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "%d axes for an input of rank %d", count, x->rank);
        out[0].rank = x->rank - count;
        for (int i = 0; i < out[0].rank; i++)
            out[0].dims[i] = OND_DIM_UNKNOWN;
        return OND_OK;
    }
    for (int i = 0; i < count; i++) {
        int a;
        enum ond_status st = ond_axis(n, axes[i], x->rank, &a, err);
        if (st)
            return st;
        if (drop[a])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "axis %d is repeated", a);
        if (x->dims[a] >= 0 && x->dims[a] != 1)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "cannot squeeze axis %d of size %lld", a,
                                 (long long)x->dims[a]);
        drop[a] = true;
    }
    out[0].rank = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i])
            out[0].dims[out[0].rank++] = x->dims[i];
    return OND_OK;
}

const struct ond_op ond_op_squeeze_v1 = {
    .domain = "", .name = "Squeeze", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct squeeze),
    .parse = parse, .infer = infer, .eval = ond_eval_copy, .prepare = ond_prep_view,
    .quant = OND_QUANT_KEEP,
};

const struct ond_op ond_op_squeeze = {
    .domain = "", .name = "Squeeze", .since = 13,
    .min_in = 1, .max_in = 2, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = ond_eval_copy, .prepare = ond_prep_view,
    .quant = OND_QUANT_KEEP,
};
