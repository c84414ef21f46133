/* gather.c: ONNX Gather, opsets 1, 11 and 13 (same semantics; negative indices count from
 * the end). Attribute axis (default 0). Data of any dtype; indices int32 or int64. An index
 * out of range is an error naming the node: INVALID_MODEL for constant indices, else
 * INVALID_INPUT. */
#include <string.h>

#include "ops/op.h"

struct gather {
    int64_t axis;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct gather *p = params;
    return ond_attr_int(n, "axis", 0, &p->axis, err);
}

static enum ond_status check_index(const struct ond_node *n, int64_t j, int64_t dim,
                                   size_t at, struct ond_error *err)
{
    if (j >= -dim && j < dim)
        return OND_OK;
    bool constant = n->in[1] && (n->in[1]->flags & OND_TENSOR_CONST);
    return ond_node_fail(err, n, constant ? OND_STATUS_INVALID_MODEL : OND_STATUS_INVALID_INPUT,
                         "index %lld at %zu is out of range for a dim of %lld", (long long)j, at,
                         (long long)dim);
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct gather *p = n->params;
    const struct ond_info *x = in[0], *ind = in[1];
    out[0].dtype = x->dtype;
    if (ind->dtype != OND_DTYPE_INT64 && ind->dtype != OND_DTYPE_INT32)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "indices must be int32 or int64, got %s", ond_dtype_name(ind->dtype));
    if (x->rank < 0 || ind->rank < 0)
        return OND_OK;
    int axis;
    enum ond_status st = ond_axis(n, p->axis, x->rank, &axis, err);
    if (st)
        return st;
    int rank = x->rank - 1 + ind->rank;
    if (rank > OND_MAX_RANK)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "output rank %d is over the maximum %d", rank, OND_MAX_RANK);
    uint64_t ni;
    if (ind->data && x->dims[axis] >= 0 && ond_numel(ind, 0, &ni))
        for (uint64_t i = 0; i < ni; i++)
            if ((st = check_index(n, ond_int_at(ind, i), x->dims[axis], i, err)))
                return st;
    out[0].rank = rank;
    memcpy(out[0].dims, x->dims, sizeof(int64_t) * (size_t)axis);
    memcpy(out[0].dims + axis, ind->dims, sizeof(int64_t) * (size_t)ind->rank);
    memcpy(out[0].dims + axis + ind->rank, x->dims + axis + 1,
           sizeof(int64_t) * (size_t)(x->rank - axis - 1));
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)out;
    const struct gather *p = n->params;
    const struct ond_info *x = in[0], *ind = in[1];
    int axis;
    enum ond_status st = ond_axis(n, p->axis, x->rank, &axis, err);
    uint64_t ni;
    if (st || !ond_numel(ind, 0, &ni))
        return st;
    size_t es = ond_dtype_size(x->dtype), outer = 1, inner = es;
    int64_t dim = x->dims[axis];
    for (int i = 0; i < axis; i++)
        outer *= (size_t)x->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        inner *= (size_t)x->dims[i];
    const char *src = x->data;
    char *dst = out_data[0];
    for (size_t o = 0; o < outer; o++)
        for (uint64_t i = 0; i < ni; i++) {
            int64_t j = ond_int_at(ind, i);
            if ((st = check_index(n, j, dim, i, err)))
                return st;
            j = j < 0 ? j + dim : j;
            memcpy(dst, src + (o * (size_t)dim + (size_t)j) * inner, inner);
            dst += inner;
        }
    return OND_OK;
}

const struct ond_op ond_op_gather = {
    .domain = "", .name = "Gather", .since = 1,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct gather),
    .parse = parse, .infer = infer, .eval = eval,
};
