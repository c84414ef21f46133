/* layernorm.c: ONNX LayerNormalization, opset 17, float. X is normalized over its dims
 * axis.. (the "normalized shape"): Y = (X - mean) / sqrt(var + epsilon) * Scale + B, var the
 * biased variance. Inputs X, Scale, optional B; Scale and B broadcast (numpy,
 * unidirectionally) to the normalized shape. Outputs Y and the optional Mean and InvStdDev,
 * shaped as X with the normalized dims 1.
 * Attributes: axis (-1; a dim of X), epsilon (1e-5), stash_type (1: float; the eval computes
 * the statistics in double whatever it says, so it only has to be a known type).
 * Sessions: oneDNN layer normalization on a plain [rows, normalized size] view of X, Scale
 * and B as use_scale and use_shift (constants or run-time inputs). Mean or InvStdDev used, or
 * Scale or B broadcast, runs the eval. */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct layer_norm {
    int64_t axis, stash_type;
    float epsilon;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct layer_norm *p = params;
    enum ond_status st;
    if ((st = ond_attr_int(n, "axis", -1, &p->axis, err)))
        return st;
    return ond_norm_attrs(n, &p->epsilon, &p->stash_type, err);
}

/* Checks that a parameter (Scale, B: input k) broadcasts onto X's dims axis..; *exact when
 * it has exactly those dims. */
static enum ond_status check_param(const struct ond_node *n, const struct ond_info *x, int axis,
                                   const struct ond_info *s, int k, bool *exact,
                                   struct ond_error *err)
{
    enum ond_status st = ond_require_float(n, s, k, err);
    if (st || s->rank < 0)
        return st;
    int len = x->rank - axis;
    *exact = s->rank == len;
    if (s->rank > len)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input %d has rank %d, the normalized shape %d", k, s->rank, len);
    for (int i = 0; i < s->rank; i++) {
        int64_t d = s->dims[i], xd = x->dims[x->rank - s->rank + i];
        *exact = *exact && d == xd && d >= 0;
        if (d >= 0 && xd >= 0 && d != xd && d != 1)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "input %d dim %d is %lld, X's is %lld", k, i, (long long)d,
                                 (long long)xd);
    }
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct layer_norm *p = n->params;
    const struct ond_info *x = in[0];
    enum ond_status st = ond_infer_same(n, in, out, err);
    int axis;
    bool exact;
    for (int k = 1; k < n->n_out; k++)
        out[k].dtype = OND_DTYPE_FLOAT;
    if (st || x->rank < 0)
        return st;
    if ((st = ond_axis(n, p->axis, x->rank, &axis, err)))
        return st;
    for (int k = 1; k < 3 && k < n->n_in && !st; k++)
        if (in[k])
            st = check_param(n, x, axis, in[k], k, &exact, err);
    for (int k = 1; k < n->n_out; k++) {
        out[k].rank = x->rank;
        for (int i = 0; i < x->rank; i++)
            out[k].dims[i] = i < axis ? x->dims[i] : 1;
    }
    return st;
}

/* Element j (row-major index over the normalized shape dims[0..len)) of parameter s, which
 * broadcasts onto it. */
static float param_at(const struct ond_info *s, const int64_t *dims, int len, int64_t j)
{
    int64_t at = 0, stride = 1;
    const float *d = s->data;
    for (int i = len - 1, k = s->rank - 1; i >= 0; i--, k--) {
        int64_t c = j % dims[i];
        j /= dims[i];
        if (k < 0)
            break;
        at += s->dims[k] == 1 ? 0 : c * stride;
        stride *= s->dims[k];
    }
    return d[at];
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct layer_norm *p = n->params;
    const struct ond_info *x = in[0], *b = n->n_in > 2 ? in[2] : NULL;
    int axis;
    enum ond_status st = ond_axis(n, p->axis, x->rank, &axis, err);
    (void)out;
    if (st)
        return st;
    int64_t rows = 1, len = 1;
    for (int i = 0; i < x->rank; i++)
        *(i < axis ? &rows : &len) *= x->dims[i];
    const float *xd = x->data;
    float *y = out_data[0], *mean_out = n->n_out > 1 && n->out[1] ? out_data[1] : NULL,
          *inv_out = n->n_out > 2 && n->out[2] ? out_data[2] : NULL;
    const int64_t *ndims = x->dims + axis;
    int nlen = x->rank - axis;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xd + r * len;
        double mean = 0, var = 0;
        for (int64_t j = 0; j < len; j++)
            mean += xr[j];
        mean = len ? mean / (double)len : 0;
        for (int64_t j = 0; j < len; j++)
            var += (xr[j] - mean) * (xr[j] - mean);
        var = len ? var / (double)len : 0;
        double inv = 1.0 / sqrt(var + p->epsilon);
        for (int64_t j = 0; j < len; j++) {
            double v = (xr[j] - mean) * inv * param_at(in[1], ndims, nlen, j);
            y[r * len + j] = (float)(b ? v + param_at(b, ndims, nlen, j) : v);
        }
        if (mean_out)
            mean_out[r] = (float)mean;
        if (inv_out)
            inv_out[r] = (float)inv;
    }
    return OND_OK;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct layer_norm *q = n->params;
    const struct ond_info *x = p->in[0];
    int axis;
    bool exact = true;
    if (!ond_prep_float_activation(p, 0, "X"))
        return OND_OK;
    for (int k = 1; k < n->n_out; k++)
        if (n->out[k])
            return ond_prep_decline(p, "output %d is used", k);
    enum ond_status st = ond_axis(n, q->axis, x->rank, &axis, err);
    for (int k = 1; k < 3 && k < n->n_in && !st && exact; k++)
        if (p->in[k])
            st = check_param(n, x, axis, p->in[k], k, &exact, err);
    if (st)
        return st;
    if (!exact)
        return ond_prep_decline(p, "Scale or B broadcasts");
    int64_t dims[2] = {1, 1};
    for (int i = 0; i < x->rank; i++)
        dims[i >= axis] *= x->dims[i];
    if (!dims[0] || !dims[1])
        return ond_prep_decline(p, "empty");
    bool has_b = n->n_in > 2 && p->in[2];
    dnnl_memory_desc_t param;
    if ((st = ond_md_float(2, dims, true, &p->want_md[0], err)) ||
        (st = ond_md_float(1, &dims[1], true, &param, err)))
        return st;
    dnnl_layer_normalization_desc_t desc;
    OND_DNNL(dnnl_layer_normalization_forward_desc_init(
                 &desc, dnnl_forward_inference, &p->want_md[0], NULL, q->epsilon,
                 dnnl_use_scale | (has_b ? dnnl_use_shift : 0)), n, err);
    dnnl_primitive_desc_t pd;
    if ((st = ond_prep_pd(p, &desc, &pd, err)) || !pd)
        return st;
    p->out_md[0] = p->want_md[0];
    ond_prep_arg(p, DNNL_ARG_SRC, OND_ARG_IN, 0);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    for (int k = 1; k < (has_b ? 3 : 2) && !st; k++) {
        int arg = k == 1 ? DNNL_ARG_SCALE : DNNL_ARG_SHIFT, m;
        if (p->in_md[k]) {
            p->want_md[k] = param;
            ond_prep_arg(p, arg, OND_ARG_IN, k);
        } else if (!(st = ond_prep_const(p, k, &param, &m, err))) {
            ond_prep_arg(p, arg, OND_ARG_MEM, m);
        }
    }
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    return ond_prep_finish(p, pd, err);
}

const struct ond_op ond_op_layer_norm = {
    .domain = "", .name = "LayerNormalization", .since = 17,
    .min_in = 2, .max_in = 3, .min_out = 1, .max_out = 3,
    .params_size = sizeof(struct layer_norm),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
