/* pool.c: ONNX pooling, float, 1-D, 2-D and 3-D windows over X [N,C,D...]:
 *
 * MaxPool, opsets 1, 8, 10, 11, 12, 22 (22 only adds types): kernel_shape (required),
 *   strides, pads, auto_pad; dilations and ceil_mode from opset 10. storage_order must be 0,
 *   and the optional second output Indices is refused (UNSUPPORTED): ondine runs no op that
 *   reads it. Padded positions never win; a window with no input element in it gives -inf.
 * AveragePool, opsets 1, 7, 10, 11, 19, 22: kernel_shape (required), strides, pads, auto_pad;
 *   count_include_pad from opset 7, ceil_mode from opset 10, dilations from opset 19 (read at
 *   every opset); 22 only adds types. count_include_pad=1 divides by the kernel positions
 *   inside the explicitly padded input (a ceil_mode window that runs past the end padding
 *   counts only up to it, as ONNX Runtime and PyTorch); 0 divides by the positions inside the
 *   input.
 * GlobalAveragePool, GlobalMaxPool, opsets 1 and 22 (22 only adds types): one window over all
 *   spatial dims, output [N,C,1...].
 * The opset entries differ in which attributes they read (by the node's opset) and in
 * MaxPool's output count; the computation is the same.
 * Sessions: oneDNN pooling (v2, with dilations) on X in the layout it arrives in, for 1 to 3
 * spatial dims. An AveragePool with count_include_pad whose ceil_mode windows run past the
 * end padding runs the eval (oneDNN would divide those by the whole kernel).
 * int8 sessions: max pooling passes int8 through (OND_QUANT_KEEP: a max of values on the
 * input's grid is on it). Averaging pools take float (OND_QUANT_NONE): oneDNN 2.6's int8
 * average pooling writes the input's type and step, no f32 and no output scale, so the means
 * were rounded to a step sized for the input's largest value (graph fuzzer, finding P: a
 * GlobalAveragePool of products of activations, 0.41 of the output's scale off); in f32
 * their output takes its own scale where an int8 op reads it. */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct pool {
    struct ond_window w;
    bool avg, include_pad;
};

static enum ond_status parse_common(struct ond_node *n, struct pool *p, bool avg,
                                    struct ond_error *err)
{
    enum ond_status st = ond_window_parse(n, &p->w, n->opset >= 10, err);
    if (st)
        return st;
    p->avg = avg;
    if (p->w.n_kernel < 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'kernel_shape' is required");
    if (p->w.n_kernel < 1 || p->w.n_kernel > OND_MAX_SPATIAL)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "%d spatial dims; 1 to %d are supported", p->w.n_kernel,
                             OND_MAX_SPATIAL);
    return OND_OK;
}

static enum ond_status parse_max(struct ond_node *n, void *params, struct ond_error *err)
{
    struct pool *p = params;
    enum ond_status st = parse_common(n, p, false, err);
    int64_t order = 0;
    if (st || (n->opset >= 8 && (st = ond_attr_int(n, "storage_order", 0, &order, err))))
        return st;
    if (order != 0 && order != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "storage_order must be 0 or 1, got %lld", (long long)order);
    if (order)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "attribute 'storage_order' = 1 is not supported");
    if (n->n_out > 1 && n->out[1])
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "the second output (Indices) is not supported");
    return OND_OK;
}

static enum ond_status parse_avg(struct ond_node *n, void *params, struct ond_error *err)
{
    struct pool *p = params;
    enum ond_status st = parse_common(n, p, true, err);
    int64_t include = 0;
    if (st || (n->opset >= 7 && (st = ond_attr_int(n, "count_include_pad", 0, &include, err))))
        return st;
    if (include != 0 && include != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "count_include_pad must be 0 or 1, got %lld", (long long)include);
    p->include_pad = include;
    return OND_OK;
}

static enum ond_status check_x(const struct ond_node *n, const struct ond_info *x, int min_rank,
                               struct ond_error *err)
{
    enum ond_status st = ond_require_float(n, x, 0, err);
    if (st)
        return st;
    if (x->rank >= 0 && x->rank < min_rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has rank %d, at least %d is needed", x->rank, min_rank);
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct pool *p = n->params;
    const struct ond_info *x = in[0];
    enum ond_status st = check_x(n, x, 3, err);
    if (st)
        return st;
    out[0].dtype = OND_DTYPE_FLOAT;
    if (x->rank < 0)
        return OND_OK;
    int sp = x->rank - 2;
    if (sp != p->w.n_kernel)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has %d spatial dims, kernel_shape %d", sp, p->w.n_kernel);
    int64_t s[OND_MAX_SPATIAL], d[OND_MAX_SPATIAL], pads[2 * OND_MAX_SPATIAL];
    out[0].rank = x->rank;
    out[0].dims[0] = x->dims[0];
    out[0].dims[1] = x->dims[1];
    return ond_window_resolve(n, &p->w, sp, x->dims + 2, p->w.kernel, s, d, pads,
                              out[0].dims + 2, err);
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct pool *p = n->params;
    const struct ond_info *x = in[0];
    struct ond_window3 g;
    enum ond_status st = ond_window3_resolve(n, &p->w, x->rank - 2, x->dims + 2, p->w.kernel,
                                             &g, err);
    if (st)
        return st;
    (void)out;
    const float *xd = x->data;
    float *y = out_data[0];
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t in_sp = g.in[0] * g.in[1] * g.in[2], out_sp = g.out[0] * g.out[1] * g.out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = xd + pl * in_sp;
        float *yp = y + pl * out_sp;
        for (int64_t od = 0; od < g.out[0]; od++)
            for (int64_t oh = 0; oh < g.out[1]; oh++)
                for (int64_t ow = 0; ow < g.out[2]; ow++) {
                    int64_t o[3] = {od, oh, ow};
                    double sum = 0.0;
                    float max = -INFINITY;
                    int64_t count = 0, padded = 0;
                    int64_t k[3];
                    for (k[0] = 0; k[0] < g.k[0]; k[0]++)
                        for (k[1] = 0; k[1] < g.k[1]; k[1]++)
                            for (k[2] = 0; k[2] < g.k[2]; k[2]++) {
                                int64_t at = 0;
                                bool inside = true, in_pads = true;
                                for (int i = 0; i < 3; i++) {
                                    int64_t pos = o[i] * g.s[i] - g.pb[i] + k[i] * g.d[i];
                                    inside = inside && pos >= 0 && pos < g.in[i];
                                    in_pads = in_pads && pos >= -g.pb[i] &&
                                              pos < g.in[i] + g.pe[i];
                                    at = at * g.in[i] + pos;
                                }
                                padded += in_pads;
                                if (!inside)
                                    continue;
                                float v = xp[at];
                                count++;
                                sum += v;
                                if (v > max || v != v)
                                    max = v;
                            }
                    float r = max;
                    if (p->avg) {
                        int64_t div = p->include_pad ? padded : count;
                        r = div ? (float)(sum / (double)div) : 0.0f;
                    }
                    yp[(od * g.out[1] + oh) * g.out[2] + ow] = r;
                }
    }
    return OND_OK;
}

/* One oneDNN pooling over sp spatial dims (kernel k, strides st, dilations d as ONNX gives
 * them, pads at begin pb) producing p->out[0]. The end padding is whatever makes oneDNN's
 * output size rule give ONNX's output (ceil_mode adds to it, a floor can take from it). */
static enum ond_status prepare_pool(struct ond_prep *p, dnnl_alg_kind_t alg, int sp,
                                    const int64_t *k, const int64_t *st, const int64_t *d,
                                    const int64_t *pb, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct ond_info *x = p->in[0], *y = &p->out[0];
    dnnl_dims_t kernel, strides, dil, pad_l, pad_r;
    for (int i = 0; i < sp; i++) {
        int64_t range = (k[i] - 1) * d[i] + 1;
        kernel[i] = k[i];
        strides[i] = st[i];
        dil[i] = d[i] - 1;
        pad_l[i] = pb[i];
        pad_r[i] = (y->dims[2 + i] - 1) * st[i] + range - x->dims[2 + i] - pb[i];
    }
    dnnl_memory_desc_t dst;
    /* Pooling keeps the data type its input arrives in (bf16 in a bf16 session). */
    enum ond_status rc = ond_md_any(y, p->in_md[0]->data_type, &dst, err);
    if (rc)
        return rc;
    dnnl_pooling_v2_desc_t desc;
    OND_DNNL(dnnl_pooling_v2_forward_desc_init(&desc, dnnl_forward_inference, alg, p->in_md[0],
                                               &dst, strides, kernel, dil, pad_l, pad_r),
             n, err);
    dnnl_primitive_desc_t pd;
    if ((rc = ond_prep_pd(p, &desc, &pd, err)) || !pd)
        return rc;
    return ond_prep_finish_unary(p, pd, err);
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct pool *q = n->params;
    const struct ond_info *x = p->in[0];
    if (!ond_prep_float_activation(p, 0, "X"))
        return OND_OK;
    int sp = x->rank - 2;
    int64_t s[OND_MAX_SPATIAL], d[OND_MAX_SPATIAL], pads[2 * OND_MAX_SPATIAL], o[OND_MAX_SPATIAL];
    enum ond_status st = ond_window_resolve(n, &q->w, sp, x->dims + 2, q->w.kernel, s, d, pads,
                                            o, err);
    if (st)
        return st;
    if (q->avg && q->include_pad)
        for (int i = 0; i < sp; i++)
            if ((o[i] - 1) * s[i] + (q->w.kernel[i] - 1) * d[i] + 1 >
                x->dims[2 + i] + pads[i] + pads[sp + i])
                return ond_prep_decline(p, "count_include_pad with windows past the padding");
    dnnl_alg_kind_t alg = !q->avg ? dnnl_pooling_max
                          : q->include_pad ? dnnl_pooling_avg_include_padding
                                           : dnnl_pooling_avg_exclude_padding;
    return prepare_pool(p, alg, sp, q->w.kernel, s, d, pads, err);
}

/* A window over all spatial dims. */
static enum ond_status prepare_global(struct ond_prep *p, dnnl_alg_kind_t alg,
                                      struct ond_error *err)
{
    const struct ond_info *x = p->in[0];
    static const int64_t ones[OND_MAX_SPATIAL] = {1, 1, 1}, zeros[OND_MAX_SPATIAL];
    if (!ond_prep_float_activation(p, 0, "X"))
        return OND_OK;
    if (x->rank < 3 || x->rank > 2 + OND_MAX_SPATIAL)
        return ond_prep_decline(p, "X has rank %d", x->rank);
    return prepare_pool(p, alg, x->rank - 2, x->dims + 2, ones, ones, zeros, err);
}

static enum ond_status prepare_gavg(struct ond_prep *p, struct ond_error *err)
{
    return prepare_global(p, dnnl_pooling_avg_exclude_padding, err);
}

static enum ond_status prepare_gmax(struct ond_prep *p, struct ond_error *err)
{
    return prepare_global(p, dnnl_pooling_max, err);
}

static enum ond_status infer_global(const struct ond_node *n, const struct ond_info *const *in,
                                    struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *x = in[0];
    enum ond_status st = check_x(n, x, 2, err);
    if (st)
        return st;
    out[0] = *x;
    out[0].data = NULL;
    for (int i = 2; i < x->rank; i++)
        out[0].dims[i] = 1;
    return OND_OK;
}

static enum ond_status eval_global(const struct ond_node *n, const struct ond_info *const *in,
                                   const struct ond_info *out, void *const *out_data, bool avg)
{
    const struct ond_info *x = in[0];
    const float *xd = x->data;
    float *y = out_data[0];
    int64_t planes = x->dims[0] * x->dims[1], size = 1;
    (void)n;
    (void)out;
    for (int i = 2; i < x->rank; i++)
        size *= x->dims[i];
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = xd + pl * size;
        double sum = 0.0;
        float max = -INFINITY;
        for (int64_t i = 0; i < size; i++) {
            sum += xp[i];
            if (xp[i] > max || xp[i] != xp[i])
                max = xp[i];
        }
        y[pl] = avg ? (size ? (float)(sum / (double)size) : 0.0f) : max;
    }
    return OND_OK;
}

static enum ond_status eval_gavg(const struct ond_node *n, const struct ond_info *const *in,
                                 const struct ond_info *out, void *const *out_data,
                                 struct ond_error *err)
{
    (void)err;
    return eval_global(n, in, out, out_data, true);
}

static enum ond_status eval_gmax(const struct ond_node *n, const struct ond_info *const *in,
                                 const struct ond_info *out, void *const *out_data,
                                 struct ond_error *err)
{
    (void)err;
    return eval_global(n, in, out, out_data, false);
}

#define MAXPOOL(sym, ver, outs)                                                     \
    const struct ond_op sym = {                                                     \
        .domain = "", .name = "MaxPool", .since = ver,                              \
        .min_in = 1, .max_in = 1, .min_out = 1, .max_out = outs,                    \
        .params_size = sizeof(struct pool),                                         \
        .parse = parse_max, .infer = infer, .eval = eval, .prepare = prepare,       \
        .quant = OND_QUANT_KEEP,                                                    \
    };
MAXPOOL(ond_op_maxpool_1, 1, 1)
MAXPOOL(ond_op_maxpool_8, 8, 2)
MAXPOOL(ond_op_maxpool_10, 10, 2)
MAXPOOL(ond_op_maxpool_11, 11, 2)
MAXPOOL(ond_op_maxpool_12, 12, 2)

#define AVGPOOL(sym, ver)                                                           \
    const struct ond_op sym = {                                                     \
        .domain = "", .name = "AveragePool", .since = ver,                          \
        .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,                       \
        .params_size = sizeof(struct pool),                                         \
        .parse = parse_avg, .infer = infer, .eval = eval, .prepare = prepare,       \
        .quant = OND_QUANT_NONE, /* the means want their own scale (top) */         \
    };
AVGPOOL(ond_op_averagepool_1, 1)
AVGPOOL(ond_op_averagepool_7, 7)
AVGPOOL(ond_op_averagepool_10, 10)
AVGPOOL(ond_op_averagepool_11, 11)

const struct ond_op ond_op_globalaveragepool = {
    .domain = "", .name = "GlobalAveragePool", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .infer = infer_global, .eval = eval_gavg, .prepare = prepare_gavg,
    .quant = OND_QUANT_NONE,
};

const struct ond_op ond_op_globalmaxpool = {
    .domain = "", .name = "GlobalMaxPool", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .infer = infer_global, .eval = eval_gmax, .prepare = prepare_gmax,
    .quant = OND_QUANT_KEEP,
};
