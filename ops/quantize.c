/* quantize.c: ONNX QuantizeLinear and DequantizeLinear, opsets 10, 13, 19, 21, 23, 24, 25,
 * and DynamicQuantizeLinear, opset 11. Plain C only (sessions run the eval).
 * QuantizeLinear: y = saturate(round_half_even(x / y_scale) + y_zero_point), x float or
 * int32, y uint8 or int8 (the zero point's type, else `output_dtype`, else uint8).
 * DequantizeLinear: y = (x - x_zero_point) * x_scale, x uint8, int8 or int32, y float.
 * Opset 10: scale and zero point are scalars (a 1-element 1-D tensor counts as one). Opset 13
 * adds per-axis quantization: a 1-D scale (and zero point) of x.shape[axis] values, `axis`
 * (default 1) in [-rank, rank). Opset 19 adds `saturate` (float8 only: read and checked).
 * Opset 21 adds blocked quantization: with `block_size` B > 0 the scale has x's rank and
 * dims except ceil(x.shape[axis] / B) along `axis`, each scale covering B consecutive
 * elements there; and `output_dtype` (read from opset 21 on, for both ops: it must agree
 * with the zero point, and ondine computes only uint8/int8 for QuantizeLinear and float for
 * DequantizeLinear). Opset 23's `precision` of QuantizeLinear may only name float. The types
 * the later opsets add (int16, float8, int4, float4, int2, float16/bfloat16 scales) are
 * UNSUPPORTED. DynamicQuantizeLinear: uint8 output over the range [min(x, 0), max(x, 0)]; an
 * all-zero x gets scale 1 (as ONNX Runtime) instead of dividing by zero.
 * Limits: scales must be positive and finite (checked at load for constants, else at run). */
#include <math.h>
#include <string.h>

#include "ops/op.h"

struct qaxis {
    int64_t axis;
    bool per_axis;        /* opset 13: a 1-D scale may run along `axis` */
    int64_t block;        /* opset 21: block_size, 0 for none */
    int64_t output_dtype; /* opset 21: 0 when absent */
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct qaxis *p = params;
    int64_t saturate = 1, precision = 0;
    enum ond_status st;
    p->per_axis = n->opset >= 13;
    if (p->per_axis && (st = ond_attr_int(n, "axis", 1, &p->axis, err)))
        return st;
    if (n->opset >= 19 && strcmp(n->op_type, "QuantizeLinear") == 0 &&
        (st = ond_attr_int(n, "saturate", 1, &saturate, err)))
        return st;
    if (saturate != 0 && saturate != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'saturate' must be 0 or 1, got %lld", (long long)saturate);
    if (n->opset >= 21 && ((st = ond_attr_int(n, "block_size", 0, &p->block, err)) ||
                           (st = ond_attr_int(n, "output_dtype", 0, &p->output_dtype, err))))
        return st;
    if (p->block < 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'block_size' must be positive, got %lld",
                             (long long)p->block);
    if (p->output_dtype < 0 || p->output_dtype > OND_DTYPE_LAST_ONNX)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'output_dtype' is %lld, not a tensor type",
                             (long long)p->output_dtype);
    if (n->opset >= 23 && strcmp(n->op_type, "QuantizeLinear") == 0 &&
        (st = ond_attr_int(n, "precision", 0, &precision, err)))
        return st;
    if (precision != 0 && precision != OND_DTYPE_FLOAT)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "attribute 'precision': %s is not supported (only float)",
                             ond_dtype_name((int32_t)precision));
    return OND_OK;
}

/* Blocked scale (or zero point) v against x along axis a with block size b. */
static enum ond_status check_block(const struct ond_node *n, const struct ond_info *x,
                                   const struct ond_info *v, int k, const char *what, int a,
                                   int64_t b, struct ond_error *err)
{
    if (v->rank < 0 || x->rank < 0)
        return OND_OK;
    if (v->rank != x->rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input %d (%s) has rank %d; blocked quantization needs x's rank %d",
                             k, what, v->rank, x->rank);
    for (int i = 0; i < x->rank; i++) {
        int64_t d = x->dims[i], want = i != a || d < 0 ? d : d / b + (d % b != 0);
        if (want >= 0 && v->dims[i] >= 0 && v->dims[i] != want)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "input %d (%s) has dim %d = %lld; block_size %lld over x's %lld "
                                 "needs %lld", k, what, i, (long long)v->dims[i], (long long)b,
                                 (long long)d, (long long)want);
    }
    return OND_OK;
}

/* Checks scale input 1 and zero point input 2 (of dtype zdt, NULL: omitted) against x; *axis
 * gets the axis a per-axis or blocked scale runs along, -1 for a per-tensor one. */
static enum ond_status check_params(const struct ond_node *n, const struct ond_info *x,
                                    const struct ond_info *s, const struct ond_info *zp,
                                    int32_t zdt, const char *sname, const char *zname,
                                    int *axis, struct ond_error *err)
{
    const struct qaxis *p = n->params;
    int64_t per = 0, count;
    enum ond_status st;
    *axis = -1;
    if (p->block > 0) {
        if (x->rank < 0)
            return OND_OK;
        if ((st = ond_axis(n, p->axis, x->rank, axis, err)))
            return st;
        if (s->dtype != OND_DTYPE_FLOAT)
            return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                                 "input 1 (%s) is %s; ondine's scales are float", sname,
                                 ond_dtype_name(s->dtype));
        if (zp && zp->dtype != zdt)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "input 2 (%s) is %s; it must be %s", zname,
                                 ond_dtype_name(zp->dtype), ond_dtype_name(zdt));
        if ((st = check_block(n, x, s, 1, sname, *axis, p->block, err)) ||
            (zp && (st = check_block(n, x, zp, 2, zname, *axis, p->block, err))))
            return st;
        uint64_t numel;
        if (s->data && ond_numel(s, 0, &numel))
            for (uint64_t i = 0; i < numel; i++) {
                float v = ((const float *)s->data)[i];
                if (!(v > 0.0f) || isinf(v))
                    return ond_node_fail(err, n, OND_STATUS_INVALID_INPUT,
                                         "input 1 (%s) has value %g at %llu; a scale must be "
                                         "positive and finite", sname, (double)v,
                                         (unsigned long long)i);
            }
        return OND_OK;
    }
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

/* Where element i of x finds its scale and zero point. */
struct qindex {
    int64_t inner, len;   /* elements after the quantization axis, and its length */
    int64_t block, nblk;  /* blocked: block_size and the scale's length along the axis */
};

static struct qindex qindex(const struct ond_node *n, const struct ond_info *x, int axis)
{
    const struct qaxis *p = n->params;
    struct qindex q = {1, axis >= 0 ? x->dims[axis] : 1, p->block, 0};
    for (int i = axis + 1; axis >= 0 && i < x->rank; i++)
        q.inner *= x->dims[i];
    if (q.block > 0)
        q.nblk = q.len / q.block + (q.len % q.block != 0);
    return q;
}

/* A blocked parameter is read at its own index: it may have a leading dim of 1, which the
 * per-tensor rule of ond_qscale_at would take for a single value. */
static float scale_at(const struct qindex *q, const struct ond_info *s, int64_t c)
{
    return q->block > 0 ? ((const float *)s->data)[c] : ond_qscale_at(s, c);
}

static int32_t zp_at(const struct qindex *q, const struct ond_info *zp, int64_t c)
{
    return !zp ? 0 : q->block > 0 ? ond_q_at(zp->data, zp->dtype, c) : ond_qzp_at(zp, c);
}

static int64_t qparam(const struct qindex *q, int64_t i)
{
    int64_t c = i / q->inner % q->len;
    if (q->block <= 0)
        return c;
    int64_t outer = i / (q->inner * q->len);
    return (outer * q->nblk + c / q->block) * q->inner + i % q->inner;
}

static enum ond_status quantize_infer(const struct ond_node *n, const struct ond_info *const *in,
                                      struct ond_info *out, struct ond_error *err)
{
    const struct qaxis *p = n->params;
    const struct ond_info *x = in[0], *zp = ond_opt_in(n, in, 2);
    int axis;
    enum ond_status st;
    int32_t ydt = zp ? zp->dtype : p->output_dtype ? (int32_t)p->output_dtype : OND_DTYPE_UINT8;
    if (zp && p->output_dtype && p->output_dtype != zp->dtype)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'output_dtype' is %s, y_zero_point %s",
                             ond_dtype_name((int32_t)p->output_dtype), ond_dtype_name(zp->dtype));
    if (zp && zp->dtype != OND_DTYPE_INT16 && zp->dtype != OND_DTYPE_UINT16 &&
        (st = ond_require_q8(n, zp, 2, "y_zero_point", err)))
        return st;
    if (ydt != OND_DTYPE_UINT8 && ydt != OND_DTYPE_INT8)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "quantizing to %s is not supported (uint8 and int8 are)",
                             ond_dtype_name(ydt));
    if (x->dtype != OND_DTYPE_FLOAT && x->dtype != OND_DTYPE_INT32)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input 0 (x) is %s; it must be float or int32",
                             ond_dtype_name(x->dtype));
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
    struct qindex q = qindex(n, x, axis);
    for (int64_t i = 0; i < (int64_t)numel; i++) {
        int64_t c = qparam(&q, i);
        float v = x->dtype == OND_DTYPE_FLOAT ? ((const float *)x->data)[i]
                                              : (float)((const int32_t *)x->data)[i];
        ond_q_store(out_data[0], out[0].dtype, i, v / scale_at(&q, s, c), zp_at(&q, zp, c));
    }
    return OND_OK;
}

static enum ond_status dequantize_infer(const struct ond_node *n,
                                        const struct ond_info *const *in, struct ond_info *out,
                                        struct ond_error *err)
{
    const struct qaxis *p = n->params;
    const struct ond_info *x = in[0];
    int axis;
    if (p->output_dtype && p->output_dtype != OND_DTYPE_FLOAT)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "attribute 'output_dtype': %s is not supported (float is)",
                             ond_dtype_name((int32_t)p->output_dtype));
    if (x->dtype != OND_DTYPE_UINT8 && x->dtype != OND_DTYPE_INT8 &&
        x->dtype != OND_DTYPE_INT32)
        return ond_node_fail(err, n, x->dtype == OND_DTYPE_INT16 || x->dtype == OND_DTYPE_UINT16
                                         ? OND_STATUS_UNSUPPORTED : OND_STATUS_INVALID_MODEL,
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
    struct qindex q = qindex(n, x, axis);
    float *y = out_data[0];
    for (int64_t i = 0; i < (int64_t)numel; i++) {
        int64_t c = qparam(&q, i);
        /* In float, as ONNX's reference: exact for 8-bit x, rounded for large int32 x. */
        y[i] = ((float)ond_q_at(x->data, x->dtype, i) - (float)zp_at(&q, zp, c)) *
               scale_at(&q, s, c);
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
