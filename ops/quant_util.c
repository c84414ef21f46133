/* quant_util.c: what the quantization ops share: checks of scales and zero points, element
 * access for uint8/int8/int32 data, rounding with saturation, and the integer convolution and
 * matrix product (int64 accumulation, wrapped to int32) that ConvInteger and MatMulInteger
 * output and QLinearConv and QLinearMatMul requantize. */
#include <math.h>
#include <stdio.h>

#include "ops/op.h"

const struct ond_info *ond_opt_in(const struct ond_node *n, const struct ond_info *const *in,
                                  int k)
{
    return k < n->n_in ? in[k] : NULL;
}

enum ond_status ond_require_q8(const struct ond_node *n, const struct ond_info *x, int k,
                               const char *what, struct ond_error *err)
{
    if (x->dtype != OND_DTYPE_UINT8 && x->dtype != OND_DTYPE_INT8)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input %d (%s) is %s; it must be uint8 or int8", k, what,
                             ond_dtype_name(x->dtype));
    return OND_OK;
}

/* Shape rule of scales and zero points: one value, or a 1-D tensor of per values. Unknown
 * dims pass: the reference and session planning infer again on concrete shapes before eval. */
static enum ond_status param_shape(const struct ond_node *n, const struct ond_info *v, int k,
                                   const char *what, int64_t per, int64_t *count,
                                   struct ond_error *err)
{
    *count = v->rank == 0 ? 1 : v->rank == 1 && v->dims[0] >= 0 ? v->dims[0] : -1;
    if (v->rank <= 0 || (v->rank == 1 && (v->dims[0] < 0 || v->dims[0] == 1 ||
                                          (per != 0 && (per < 0 || v->dims[0] == per)))))
        return OND_OK;
    char got[48];
    if (v->rank == 1)
        snprintf(got, sizeof got, "%lld values", (long long)v->dims[0]);
    else
        snprintf(got, sizeof got, "rank %d", v->rank);
    if (per == 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input %d (%s) must be a scalar (per-tensor), got %s", k, what,
                             got);
    return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                         "input %d (%s) must be a scalar or a 1-D tensor of %lld values, got %s",
                         k, what, (long long)per, got);
}

enum ond_status ond_qscale_check(const struct ond_node *n, const struct ond_info *s, int k,
                                 const char *what, int64_t per, int64_t *count,
                                 struct ond_error *err)
{
    if (s->dtype != OND_DTYPE_FLOAT)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input %d (%s) is %s; a scale must be float", k, what,
                             ond_dtype_name(s->dtype));
    enum ond_status st = param_shape(n, s, k, what, per, count, err);
    if (st || !s->data || *count < 0)
        return st;
    const float *v = s->data;
    for (int64_t i = 0; i < *count; i++)
        if (!(v[i] > 0.0f) || isinf(v[i]))
            return ond_node_fail(err, n, OND_STATUS_INVALID_INPUT,
                                 "input %d (%s) has value %g at %lld; a scale must be positive "
                                 "and finite", k, what, (double)v[i], (long long)i);
    return OND_OK;
}

enum ond_status ond_qzp_check(const struct ond_node *n, const struct ond_info *zp, int k,
                              const char *what, int32_t dtype, int64_t per, int64_t count,
                              struct ond_error *err)
{
    if (!zp)
        return OND_OK;
    if (zp->dtype != dtype)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input %d (%s) is %s; it must be %s like the tensor it quantizes",
                             k, what, ond_dtype_name(zp->dtype), ond_dtype_name(dtype));
    int64_t zcount;
    enum ond_status st = param_shape(n, zp, k, what, per, &zcount, err);
    if (!st && zcount >= 0 && count >= 0 && zcount != count)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input %d (%s) has %lld values, its scale %lld", k, what,
                             (long long)zcount, (long long)count);
    return st;
}

int32_t ond_q_at(const void *data, int32_t dtype, int64_t i)
{
    switch (dtype) {
    case OND_DTYPE_UINT8: return ((const uint8_t *)data)[i];
    case OND_DTYPE_INT8: return ((const int8_t *)data)[i];
    default: return ((const int32_t *)data)[i];
    }
}

/* A per-tensor parameter may be a scalar or a 1-element 1-D tensor: both read element 0. */
static int64_t param_index(const struct ond_info *v, int64_t i)
{
    return v->rank == 0 || v->dims[0] == 1 ? 0 : i;
}

int32_t ond_qzp_at(const struct ond_info *zp, int64_t i)
{
    return zp ? ond_q_at(zp->data, zp->dtype, param_index(zp, i)) : 0;
}

float ond_qscale_at(const struct ond_info *s, int64_t i)
{
    return ((const float *)s->data)[param_index(s, i)];
}

void ond_q_store(void *y, int32_t dtype, int64_t i, float v, int32_t zp)
{
    /* rintf rounds half to even in the default rounding mode, as ONNX asks. */
    double r = isnan(v) ? 0.0 : (double)rintf(v) + zp;
    double lo = dtype == OND_DTYPE_UINT8 ? 0.0 : -128.0, hi = dtype == OND_DTYPE_UINT8 ? 255.0
                                                                                       : 127.0;
    r = r < lo ? lo : r > hi ? hi : r;
    if (dtype == OND_DTYPE_UINT8)
        ((uint8_t *)y)[i] = (uint8_t)r;
    else
        ((int8_t *)y)[i] = (int8_t)r;
}

/* Two's complement wrap of an int64 sum, as a 32-bit accumulator would overflow. */
static int32_t wrap32(int64_t v)
{
    return (int32_t)(uint32_t)(uint64_t)v;
}

enum ond_status ond_conv_integer(const struct ond_node *n, const struct ond_conv_attrs *c,
                                 const struct ond_info *x, const struct ond_info *xzp,
                                 const struct ond_info *w, const struct ond_info *wzp,
                                 int32_t *y, struct ond_error *err)
{
    struct ond_window3 g;
    int sp = x->rank - 2;
    enum ond_status st = ond_window3_resolve(n, &c->w, sp, x->dims + 2, w->dims + 2, &g, err);
    if (st)
        return st;
    int64_t batch = x->dims[0], ch = x->dims[1], m = w->dims[0];
    int64_t cg = ch / c->group, mg = m / c->group;
    int64_t in_sp = g.in[0] * g.in[1] * g.in[2], out_sp = g.out[0] * g.out[1] * g.out[2];
    int64_t k_sp = g.k[0] * g.k[1] * g.k[2];
    int32_t xz = ond_qzp_at(xzp, 0);
    for (int64_t b0 = 0; b0 < batch; b0++)
        for (int64_t oc = 0; oc < m; oc++) {
            int64_t xg = (b0 * ch + oc / mg * cg) * in_sp, wm = oc * cg * k_sp;
            int32_t wz = ond_qzp_at(wzp, oc);
            int32_t *yo = y + (b0 * m + oc) * out_sp;
            for (int64_t o = 0; o < out_sp; o++) {
                int64_t od = o / (g.out[1] * g.out[2]), oh = o / g.out[2] % g.out[1];
                int64_t ow = o % g.out[2], acc = 0;
                for (int64_t ic = 0; ic < cg; ic++)
                    for (int64_t kk = 0; kk < k_sp; kk++) {
                        int64_t kd = kk / (g.k[1] * g.k[2]), kh = kk / g.k[2] % g.k[1];
                        int64_t kw = kk % g.k[2];
                        int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
                        int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
                        int64_t iw = ow * g.s[2] - g.pb[2] + kw * g.d[2];
                        if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || iw < 0 ||
                            iw >= g.in[2])
                            continue;
                        int64_t xi = xg + ic * in_sp + (id * g.in[1] + ih) * g.in[2] + iw;
                        int64_t wi = wm + ic * k_sp + kk;
                        acc += (int64_t)(ond_q_at(x->data, x->dtype, xi) - xz) *
                               (ond_q_at(w->data, w->dtype, wi) - wz);
                    }
                yo[o] = wrap32(acc);
            }
        }
    return OND_OK;
}

void ond_matmul_integer(const struct ond_info *a, const struct ond_info *azp,
                        const struct ond_info *b, const struct ond_info *bzp, int32_t *y)
{
    struct ond_mm mm;
    ond_mm_init(a, b, &mm);
    int64_t m = mm.m, k = mm.k, nn = mm.n;
    for (int64_t t = 0; t < mm.batches; t++) {
        int64_t oa, ob;
        ond_mm_batch(&mm, t, &oa, &ob);
        int64_t am = oa * m * k, bm = ob * k * nn;
        int32_t *ym = y + t * m * nn;
        for (int64_t i = 0; i < m; i++) {
            int32_t az = ond_qzp_at(azp, i);
            for (int64_t j = 0; j < nn; j++) {
                int32_t bz = ond_qzp_at(bzp, j);
                int64_t acc = 0;
                for (int64_t l = 0; l < k; l++)
                    acc += (int64_t)(ond_q_at(a->data, a->dtype, am + i * k + l) - az) *
                           (ond_q_at(b->data, b->dtype, bm + l * nn + j) - bz);
                ym[i * nn + j] = wrap32(acc);
            }
        }
    }
}
