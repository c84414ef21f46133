/* quantize.c: ONNX QuantizeLinear and DequantizeLinear, opsets 10 and 13, and
 * DynamicQuantizeLinear, opset 11. Plain C only (sessions run the eval).
 * QuantizeLinear: y = saturate(round_half_even(x / y_scale) + y_zero_point), x float or
 * int32, y uint8 or int8 (the zero point's type; uint8 when it is omitted). DequantizeLinear:
 * y = (x - x_zero_point) * x_scale, x uint8, int8 or int32, y float. Opset 10: scale and zero
 * point are scalars (a 1-element 1-D tensor counts as one). Opset 13 adds per-axis
 * quantization: a 1-D scale (and zero point) of x.shape[axis] values, `axis` (default 1)
 * in [-rank, rank). DynamicQuantizeLinear: uint8 output over the range [min(x, 0),
 * max(x, 0)]; an all-zero x gets scale 1 (as ONNX Runtime) instead of dividing by zero.
 * Limits: scales must be positive and finite (checked at load for constants, else at run);
 * opset 19's float16/bfloat16 scales, float8 types and `saturate` are not supported. */
#include "ops/op.h"

struct qaxis {
    int64_t axis;
    bool per_axis;  /* opset 13: a 1-D scale may run along `axis` */
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct qaxis *p = params;
    p->per_axis = n->opset >= 13;
    return p->per_axis ? ond_attr_int(n, "axis", 1, &p->axis, err) : OND_OK;
}

/* Checks scale input 1 and zero point input 2 (of dtype zdt, NULL: omitted) against x; *axis
 * gets the axis a per-axis scale runs along, -1 for a per-tensor one. */
static enum ond_status check_params(const struct ond_node *n, const struct ond_info *x,
                                    const struct ond_info *s, const struct ond_info *zp,
                                    int32_t zdt, const char *sname, const char *zname,
                                    int *axis, struct ond_error *err)
{
    const struct qaxis *p = n->params;
    int64_t per = 0, count;
    enum ond_status st;
    *axis = -1;
    if (p->per_axis && s->rank == 1 && s->dims[0] != 1) {
        per = OND_DIM_UNKNOWN;
        if (x->rank >= 0) {
            if ((st = ond_axis(n, p->axis, x->rank, axis, err)))
                return st;
            per = x->dims[*axis];
        }
    }
    if ((st = ond_qscale_check(n, s, 1, sname, per, &count, err)))
        return st;
    return ond_qzp_check(n, zp, 2, zname, zdt, per, count, err);
}

/* Elements after the quantization axis, and its length (1, 1 per tensor). */
static void axis_split(const struct ond_info *x, int axis, int64_t *inner, int64_t *len)
{
    *inner = 1;
    *len = axis >= 0 ? x->dims[axis] : 1;
    for (int i = axis + 1; axis >= 0 && i < x->rank; i++)
        *inner *= x->dims[i];
}

static enum ond_status quantize_infer(const struct ond_node *n, const struct ond_info *const *in,
                                      struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *x = in[0], *zp = ond_opt_in(n, in, 2);
    int axis;
    enum ond_status st;
    if (x->dtype != OND_DTYPE_FLOAT && x->dtype != OND_DTYPE_INT32)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input 0 (x) is %s; it must be float or int32",
                             ond_dtype_name(x->dtype));
    if (zp && (st = ond_require_q8(n, zp, 2, "y_zero_point", err)))
        return st;
    int32_t ydt = zp ? zp->dtype : OND_DTYPE_UINT8;
    if ((st = check_params(n, x, in[1], zp, ydt, "y_scale", "y_zero_point", &axis, err)))
        return st;
    out[0] = *x;
    out[0].data = NULL;
    out[0].dtype = ydt;
    return OND_OK;
}

static enum ond_status quantize_eval(const struct ond_node *n, const struct ond_info *const *in,
                                     const struct ond_info *out, void *const *out_data,
                                     struct ond_error *err)
{
    const struct ond_info *x = in[0], *s = in[1], *zp = ond_opt_in(n, in, 2);
    int axis;
    uint64_t numel;
    enum ond_status st = check_params(n, x, s, zp, out[0].dtype, "y_scale", "y_zero_point",
                                      &axis, err);
    if (st || !ond_numel(x, 0, &numel))
        return st;
    int64_t inner, len;
    axis_split(x, axis, &inner, &len);
    for (int64_t i = 0; i < (int64_t)numel; i++) {
        int64_t c = i / inner % len;
        float v = x->dtype == OND_DTYPE_FLOAT ? ((const float *)x->data)[i]
                                              : (float)((const int32_t *)x->data)[i];
        ond_q_store(out_data[0], out[0].dtype, i, v / ond_qscale_at(s, c), ond_qzp_at(zp, c));
    }
    return OND_OK;
}

static enum ond_status dequantize_infer(const struct ond_node *n,
                                        const struct ond_info *const *in, struct ond_info *out,
                                        struct ond_error *err)
{
    const struct ond_info *x = in[0];
    int axis;
    if (x->dtype != OND_DTYPE_UINT8 && x->dtype != OND_DTYPE_INT8 &&
        x->dtype != OND_DTYPE_INT32)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input 0 (x) is %s; it must be uint8, int8 or int32",
                             ond_dtype_name(x->dtype));
    enum ond_status st = check_params(n, x, in[1], ond_opt_in(n, in, 2), x->dtype, "x_scale",
                                      "x_zero_point", &axis, err);
    if (st)
        return st;
    out[0] = *x;
    out[0].data = NULL;
    out[0].dtype = OND_DTYPE_FLOAT;
    return OND_OK;
}

static enum ond_status dequantize_eval(const struct ond_node *n,
                                       const struct ond_info *const *in,
                                       const struct ond_info *out, void *const *out_data,
                                       struct ond_error *err)
{
    const struct ond_info *x = in[0], *s = in[1], *zp = ond_opt_in(n, in, 2);
    int axis;
    uint64_t numel;
    (void)out;
    enum ond_status st = check_params(n, x, s, zp, x->dtype, "x_scale", "x_zero_point", &axis,
                                      err);
    if (st || !ond_numel(x, 0, &numel))
        return st;
    int64_t inner, len;
    axis_split(x, axis, &inner, &len);
    float *y = out_data[0];
    for (int64_t i = 0; i < (int64_t)numel; i++) {
        int64_t c = i / inner % len;
        /* In float, as ONNX's reference: exact for 8-bit x, rounded for large int32 x. */
        y[i] = ((float)ond_q_at(x->data, x->dtype, i) - (float)ond_qzp_at(zp, c)) *
               ond_qscale_at(s, c);
    }
    return OND_OK;
}

static enum ond_status dynamic_infer(const struct ond_node *n, const struct ond_info *const *in,
                                     struct ond_info *out, struct ond_error *err)
{
    enum ond_status st = ond_infer_same(n, in, out, err);
    if (st)
        return st;
    out[0].dtype = OND_DTYPE_UINT8;
    out[1] = (struct ond_info){.dtype = OND_DTYPE_FLOAT, .rank = 0};
    out[2] = (struct ond_info){.dtype = OND_DTYPE_UINT8, .rank = 0};
    return OND_OK;
}

static enum ond_status dynamic_eval(const struct ond_node *n, const struct ond_info *const *in,
                                    const struct ond_info *out, void *const *out_data,
                                    struct ond_error *err)
{
    const float *x = in[0]->data;
    uint64_t numel;
    (void)n;
    (void)out;
    (void)err;
    if (!ond_numel(in[0], 0, &numel))
        return OND_OK;
    /* The range always holds 0, so that 0 is exact in uint8 (zero padding stays exact). */
    float lo = 0.0f, hi = 0.0f;
    for (uint64_t i = 0; i < numel; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    float scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
    float zpf = -lo / scale;
    zpf = zpf < 0.0f ? 0.0f : zpf > 255.0f ? 255.0f : zpf;
    *(float *)out_data[1] = scale;
    ond_q_store(out_data[2], OND_DTYPE_UINT8, 0, zpf, 0);
    int32_t zp = *(const uint8_t *)out_data[2];
    for (uint64_t i = 0; i < numel; i++)
        ond_q_store(out_data[0], OND_DTYPE_UINT8, (int64_t)i, x[i] / scale, zp);
    return OND_OK;
}

#define QUANTIZE(sym, ver)                                                          \
    const struct ond_op sym = {                                                     \
        .domain = "", .name = "QuantizeLinear", .since = ver,                       \
        .min_in = 2, .max_in = 3, .min_out = 1, .max_out = 1,                       \
        .params_size = sizeof(struct qaxis),                                        \
        .parse = parse, .infer = quantize_infer, .eval = quantize_eval,             \
    };
QUANTIZE(ond_op_quantize_linear_10, 10)
QUANTIZE(ond_op_quantize_linear_13, 13)

#define DEQUANTIZE(sym, ver)                                                        \
    const struct ond_op sym = {                                                     \
        .domain = "", .name = "DequantizeLinear", .since = ver,                     \
        .min_in = 2, .max_in = 3, .min_out = 1, .max_out = 1,                       \
        .params_size = sizeof(struct qaxis),                                        \
        .parse = parse, .infer = dequantize_infer, .eval = dequantize_eval,         \
    };
DEQUANTIZE(ond_op_dequantize_linear_10, 10)
DEQUANTIZE(ond_op_dequantize_linear_13, 13)

const struct ond_op ond_op_dynamic_quantize_linear = {
    .domain = "", .name = "DynamicQuantizeLinear", .since = 11,
    .min_in = 1, .max_in = 1, .min_out = 3, .max_out = 3,
    .infer = dynamic_infer, .eval = dynamic_eval,
};
