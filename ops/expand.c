/* expand.c: ONNX Expand, opsets 8 and 13 (13 adds types only). Input 1, the shape (int64,
 * 1-D), broadcasts with the input's shape both ways (numpy rules: a 1 on either side takes
 * the other's dim; the output rank is the larger). No attributes. All dtypes. An output
 * whose element count overflows is a LIMIT error at inference; the graph's element budget
 * applies before any buffer is made. Sessions run the eval (a copy with zero strides). */
#include <string.h>

#include "ops/op.h"

/* The shape input's value: literal values, or dims of other tensors (dim[i]: v[i] may be
 * unknown, -1) when load-time inference traced it; *count -1 when not even its length is
 * known. */
static enum ond_status shape_value(const struct ond_node *n, const struct ond_info *const *in,
                                   int64_t *v, bool *dim, int *count, struct ond_error *err)
{
    bool known;
    if (in[1]->dtype != OND_DTYPE_INT64)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input 1 (shape) must be int64, got %s", ond_dtype_name(in[1]->dtype));
    enum ond_status st = ond_input_ints(n, in[1], 1, "shape", v, OND_MAX_RANK, count, &known,
                                        err);
    for (int i = 0; i < OND_MAX_RANK; i++)
        dim[i] = false;
    if (st || *count < 0 || known)
        return st;
    if (!ond_shape_value(n->in[1], v, dim, OND_MAX_RANK, count))
        for (int i = 0; i < *count; i++) {
            v[i] = OND_DIM_UNKNOWN;
            dim[i] = true;
        }
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *x = in[0];
    int64_t v[OND_MAX_RANK];
    bool dim[OND_MAX_RANK];
    int count;
    out[0].dtype = x->dtype;
    enum ond_status st = shape_value(n, in, v, dim, &count, err);
    if (st || count < 0 || x->rank < 0)
        return st;
    int rank = count > x->rank ? count : x->rank;
    out[0].rank = rank;
    for (int i = 0; i < rank; i++) {
        int j = i - (rank - count), k = i - (rank - x->rank);
        int64_t s = j >= 0 ? v[j] : 1, d = k >= 0 ? x->dims[k] : 1;
        if (j >= 0 && !dim[j] && s < 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "shape value %lld at %d is negative", (long long)s, j);
        if (s >= 0 && d >= 0 && s != d && s != 1 && d != 1)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "shape value %lld at %d does not broadcast with input dim %lld",
                                 (long long)s, j, (long long)d);
        /* A dim not known on one side is 1 or the other side's. */
        if (s == 1)
            out[0].dims[i] = d;
        else if (s >= 0)
            out[0].dims[i] = s;
        else
            out[0].dims[i] = d == 0 || d > 1 ? d : OND_DIM_UNKNOWN;
    }
    uint64_t numel;
    if (ond_info_known(&out[0]) &&
        !ond_numel(&out[0], SIZE_MAX / ond_dtype_size(x->dtype), &numel))
        return ond_node_fail(err, n, OND_STATUS_LIMIT, "the output shape has too many elements");
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)n;
    (void)err;
    const struct ond_info *x = in[0], *y = &out[0];
    int64_t strides[OND_MAX_RANK], s = 1;
    for (int i = y->rank - 1; i >= 0; i--) {
        int k = i - (y->rank - x->rank);
        strides[i] = k >= 0 && x->dims[k] != 1 ? s : 0;
        s *= k >= 0 ? x->dims[k] : 1;
    }
    if (out_data[0])
        ond_strided_copy(out_data[0], x->data, y->rank, y->dims, strides,
                         ond_dtype_size(x->dtype));
    return OND_OK;
}

const struct ond_op ond_op_expand = {
    .domain = "", .name = "Expand", .since = 8,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = eval,
};
