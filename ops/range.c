/* range.c: ONNX Range, opset 11. Scalar inputs start, limit, delta of one dtype (float,
 * double, int16, int32, int64); output 1-D of max(ceil((limit - start) / delta), 0)
 * elements, start + i * delta. A zero delta is an error naming the node (INVALID_MODEL when
 * constant, else INVALID_INPUT); so is a length over int64. No attributes. Sessions run the
 * eval, and need the inputs known at planning: constants, or int32/int64 graph inputs
 * (shape operands); float graph inputs are refused, so test_range_float_type_positive_delta
 * is in tests/node_skip.txt. */
#include <math.h>
#include <string.h>

#include "ops/op.h"

static double value_at(const struct ond_info *x)
{
    switch (x->dtype) {
    case OND_DTYPE_FLOAT: return *(const float *)x->data;
    case OND_DTYPE_DOUBLE: return *(const double *)x->data;
    case OND_DTYPE_INT16: return *(const int16_t *)x->data;
    case OND_DTYPE_INT32: return *(const int32_t *)x->data;
    default: return (double)*(const int64_t *)x->data;
    }
}

/* Element count once all three inputs are known (*known false otherwise). */
static enum ond_status length(const struct ond_node *n, const struct ond_info *const *in,
                              int64_t *len, bool *known, struct ond_error *err)
{
    *known = in[0]->data && in[1]->data && in[2]->data;
    if (!*known)
        return OND_OK;
    enum ond_status bad = (n->in[2]->flags & OND_TENSOR_CONST) ? OND_STATUS_INVALID_MODEL
                                                               : OND_STATUS_INVALID_INPUT;
    double start = value_at(in[0]), limit = value_at(in[1]), delta = value_at(in[2]);
    if (delta == 0 || isnan(delta))
        return ond_node_fail(err, n, bad, "delta is %g", delta);
    double count;
    if (in[0]->dtype == OND_DTYPE_INT64) {
        /* Exact in integers: doubles lose int64's low bits. */
        int64_t s = *(const int64_t *)in[0]->data, l = *(const int64_t *)in[1]->data,
                d = *(const int64_t *)in[2]->data;
        __int128 span = (__int128)l - s, q = span / d;
        if (q * d != span && (span > 0) == (d > 0))
            q++;
        count = (double)q;
    } else
        count = ceil((limit - start) / delta);
    if (isnan(count) || count >= 9.2e18)
        return ond_node_fail(err, n, bad, "range from %g to %g by %g is too long", start, limit,
                             delta);
    *len = count > 0 ? (int64_t)count : 0;
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    int32_t dt = in[0]->dtype;
    for (int k = 0; k < 3; k++) {
        if (in[k]->dtype != dt)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input %d is %s, input 0 is %s",
                                 k, ond_dtype_name(in[k]->dtype), ond_dtype_name(dt));
        if (in[k]->rank > 0 && !(in[k]->rank == 1 && in[k]->dims[0] == 1))
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input %d must be a scalar",
                                 k);
    }
    if (dt != OND_DTYPE_FLOAT && dt != OND_DTYPE_DOUBLE && dt != OND_DTYPE_INT16 &&
        dt != OND_DTYPE_INT32 && dt != OND_DTYPE_INT64)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "inputs must be float, double, int16, int32 or int64, got %s",
                             ond_dtype_name(dt));
    int64_t len = 0;
    bool known;
    enum ond_status st = length(n, in, &len, &known, err);
    out[0].dtype = dt;
    out[0].rank = 1;
    out[0].dims[0] = known ? len : OND_DIM_UNKNOWN;
    if (!st && known && (uint64_t)len > SIZE_MAX / ond_dtype_size(dt))
        return ond_node_fail(err, n, OND_STATUS_LIMIT, "the output has too many elements");
    return st;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)n;
    (void)err;
    int64_t len = out[0].dims[0];
    void *y = out_data[0];
    switch (in[0]->dtype) {
    case OND_DTYPE_FLOAT: {
        float s = *(const float *)in[0]->data, d = *(const float *)in[2]->data;
        for (int64_t i = 0; i < len; i++)
            ((float *)y)[i] = s + (float)i * d;
        break;
    }
    case OND_DTYPE_DOUBLE: {
        double s = *(const double *)in[0]->data, d = *(const double *)in[2]->data;
        for (int64_t i = 0; i < len; i++)
            ((double *)y)[i] = s + (double)i * d;
        break;
    }
    case OND_DTYPE_INT16: {
        int16_t s = *(const int16_t *)in[0]->data, d = *(const int16_t *)in[2]->data;
        for (int64_t i = 0; i < len; i++)
            ((int16_t *)y)[i] = (int16_t)(s + i * d);
        break;
    }
    case OND_DTYPE_INT32: {
        int32_t s = *(const int32_t *)in[0]->data, d = *(const int32_t *)in[2]->data;
        for (int64_t i = 0; i < len; i++)
            ((int32_t *)y)[i] = (int32_t)(s + i * d);
        break;
    }
    default: {
        int64_t s = *(const int64_t *)in[0]->data, d = *(const int64_t *)in[2]->data;
        for (int64_t i = 0; i < len; i++)
            ((int64_t *)y)[i] = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d);
    }
    }
    return OND_OK;
}

const struct ond_op ond_op_range = {
    .domain = "", .name = "Range", .since = 11,
    .min_in = 3, .max_in = 3, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = eval,
};
