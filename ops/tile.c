/* tile.c: ONNX Tile, opsets 6 and 13 (13 adds types only). Input 1, repeats (int64, 1-D,
 * one non-negative value per input dim): output dim i is input dim i times repeats[i]. No
 * attributes. All dtypes. An output whose element count overflows is a LIMIT error at
 * inference. Sessions run the eval: one strided copy over [repeat, dim] pairs. */
#include <string.h>

#include "ops/op.h"

static enum ond_status repeats(const struct ond_node *n, const struct ond_info *const *in,
                               int64_t *r, bool *known, struct ond_error *err)
{
    int count;
    if (in[1]->dtype != OND_DTYPE_INT64)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input 1 (repeats) must be int64, got %s",
                             ond_dtype_name(in[1]->dtype));
    enum ond_status st = ond_input_ints(n, in[1], 1, "repeats", r, OND_MAX_RANK, &count, known,
                                        err);
    if (st)
        return st;
    if (count >= 0 && in[0]->rank >= 0 && count != in[0]->rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input 1 (repeats) has %d values for an input of rank %d", count,
                             in[0]->rank);
    for (int i = 0; *known && i < count; i++)
        if (r[i] < 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "repeats value %lld at %d is negative", (long long)r[i], i);
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *x = in[0];
    int64_t r[OND_MAX_RANK];
    bool known;
    out[0].dtype = x->dtype;
    enum ond_status st = repeats(n, in, r, &known, err);
    if (st || x->rank < 0)
        return st;
    out[0].rank = x->rank;
    for (int i = 0; i < x->rank; i++) {
        int64_t d = x->dims[i];
        if (known && r[i] > 0 && d > INT64_MAX / r[i])
            return ond_node_fail(err, n, OND_STATUS_LIMIT, "dim %d times %lld overflows", i,
                                 (long long)r[i]);
        out[0].dims[i] = !known ? OND_DIM_UNKNOWN
                         : d < 0 ? (r[i] == 0 ? 0 : (r[i] == 1 ? d : OND_DIM_UNKNOWN))
                                 : d * r[i];
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
    (void)out;
    const struct ond_info *x = in[0];
    int64_t r[OND_MAX_RANK], dims[OND_STRIDED_MAX_RANK], strides[OND_STRIDED_MAX_RANK], s = 1;
    bool known;
    enum ond_status st = repeats(n, in, r, &known, err);
    if (st || !out_data[0])
        return st;
    for (int i = x->rank - 1; i >= 0; i--) {
        dims[2 * i] = r[i];
        strides[2 * i] = 0;
        dims[2 * i + 1] = x->dims[i];
        strides[2 * i + 1] = s;
        s *= x->dims[i];
    }
    ond_strided_copy(out_data[0], x->data, 2 * x->rank, dims, strides,
                     ond_dtype_size(x->dtype));
    return OND_OK;
}

const struct ond_op ond_op_tile = {
    .domain = "", .name = "Tile", .since = 6,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = eval,
};
