/* conv.c: ONNX Conv, opsets 1 and 11 (same semantics), 1-D, 2-D and 3-D.
 * Attributes: kernel_shape, strides, dilations, pads, auto_pad (NOTSET, SAME_UPPER,
 * SAME_LOWER, VALID), group (including depthwise). Inputs X [N,C,D...], W [M,C/group,k...],
 * optional B [M]. float only. eval is a direct (naive) convolution, for the reference
 * interpreter and constant folding; it and prepare apply the node's post-ops (a fused sum
 * reads input 3, after an omitted B when there is none). */
#include "ops/op.h"
#include "runtime/exec.h"

struct conv {
    struct ond_window w;
    int64_t group;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct conv *p = params;
    enum ond_status st = ond_window_parse(n, &p->w, false, err);
    if (st || (st = ond_attr_int(n, "group", 1, &p->group, err)))
        return st;
    if (p->group < 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "group must be positive, got %lld",
                             (long long)p->group);
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct conv *p = n->params;
    const struct ond_info *x = in[0], *w = in[1], *b = in[2 < n->n_in ? 2 : 0];
    enum ond_status st;
    if ((st = ond_require_float(n, x, 0, err)) || (st = ond_require_float(n, w, 1, err)))
        return st;
    out[0].dtype = OND_DTYPE_FLOAT;
    if (x->rank < 0 || w->rank < 0)
        return OND_OK;
    int sp = x->rank - 2;
    if (x->rank < 3 || w->rank != x->rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has rank %d and W rank %d; both must be the same, at least 3",
                             x->rank, w->rank);
    int64_t c = x->dims[1], m = w->dims[0];
    if (m >= 0 && m % p->group)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "group %lld does not divide the %lld output channels",
                             (long long)p->group, (long long)m);
    if (c >= 0 && w->dims[1] >= 0 && c != w->dims[1] * p->group)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has %lld channels, W expects %lld x group %lld", (long long)c,
                             (long long)w->dims[1], (long long)p->group);
    if (b && n->n_in > 2 && b->rank >= 0 && (b->rank != 1 || (m >= 0 && b->dims[0] >= 0 &&
                                                               b->dims[0] != m)))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "B must have shape [%lld]",
                             (long long)m);
    int64_t k[OND_MAX_SPATIAL], s[OND_MAX_SPATIAL], d[OND_MAX_SPATIAL], pads[2 * OND_MAX_SPATIAL];
    for (int i = 0; i < sp && i < OND_MAX_SPATIAL; i++) {
        k[i] = w->dims[2 + i];
        if (p->w.n_kernel == sp && k[i] >= 0 && p->w.kernel[i] != k[i])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "kernel_shape disagrees with W at spatial dim %d", i);
        if (k[i] < 0 && p->w.n_kernel == sp)
            k[i] = p->w.kernel[i];
        if (k[i] < 0)
            return OND_OK;
    }
    out[0].rank = x->rank;
    out[0].dims[0] = x->dims[0];
    out[0].dims[1] = m;
    return ond_window_resolve(n, &p->w, sp, x->dims + 2, k, s, d, pads, out[0].dims + 2, err);
}

/* One oneDNN convolution: src and dst in the layout oneDNN picks (blocked), constant weights
 * reordered once into its layout, the node's post-ops fused. Weights that are not constant
 * (ONNX allows it) are read plain at each run. */
static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct conv *c = n->params;
    const struct ond_info *x = p->in[0], *w = p->in[1], *b = n->n_in > 2 ? p->in[2] : NULL;
    if (!ond_prep_float_activation(p, 0, "X"))
        return OND_OK;
    int sp = x->rank - 2;
    int64_t k[OND_MAX_SPATIAL], s[OND_MAX_SPATIAL], d[OND_MAX_SPATIAL], pads[2 * OND_MAX_SPATIAL];
    int64_t o[OND_MAX_SPATIAL];
    for (int i = 0; i < sp; i++)
        k[i] = w->dims[2 + i];
    enum ond_status st = ond_window_resolve(n, &c->w, sp, x->dims + 2, k, s, d, pads, o, err);
    if (st)
        return st;
    dnnl_memory_desc_t src, wei, bias, dst;
    struct ond_info wi = *w;
    /* Grouped weights are [G, M/G, C/G, k...] for oneDNN. */
    if (c->group > 1) {
        wi.rank = w->rank + 1;
        wi.dims[0] = c->group;
        wi.dims[1] = w->dims[0] / c->group;
        for (int i = 1; i < w->rank; i++)
            wi.dims[i + 1] = w->dims[i];
    }
    dnnl_dims_t strides, dil, pl, pr;
    for (int i = 0; i < sp; i++) {
        strides[i] = s[i];
        dil[i] = d[i] - 1;
        pl[i] = pads[i];
        pr[i] = pads[i + sp];
    }
    /* Run-time weights are read plain (grouped: a 5-D view of the same bytes). */
    bool w_rt = p->in_md[1], b_rt = b && p->in_md[2];
    /* Constant weights are converted to the session's activation type at planning; run-time
     * ones stay f32, and so do the activations around them. */
    dnnl_data_type_t dt = w_rt ? dnnl_f32 : p->act_dt;
    if ((st = ond_md_any(x, dt, &src, err)) ||
        (st = w_rt ? ond_md(&wi, true, &wei, err) : ond_md_any(&wi, dt, &wei, err)) ||
        (st = ond_md_any(&p->out[0], dt, &dst, err)) || (b && (st = ond_md(b, true, &bias, err))))
        return st;
    dnnl_convolution_desc_t desc;
    OND_DNNL(dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference,
                                                        dnnl_convolution_direct, &src, &wei,
                                                        b ? &bias : NULL, &dst, strides, dil, pl,
                                                        pr), n, err);
    dnnl_primitive_desc_t pd;
    if ((st = ond_prep_pd(p, &desc, &pd, err)) || !pd)
        return st;
    p->want_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    p->out_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    int wm = -1, bm = -1;
    if (w_rt)
        p->want_md[1] = wei;
    if (b_rt)
        p->want_md[2] = bias;
    if ((!w_rt && (st = ond_prep_const(p, 1, dnnl_primitive_desc_query_md(pd,
                                                                          dnnl_query_weights_md,
                                                                          0), &wm, err))) ||
        (b && !b_rt && (st = ond_prep_const(p, 2, &bias, &bm, err)))) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    ond_prep_arg(p, DNNL_ARG_SRC, OND_ARG_IN, 0);
    ond_prep_arg(p, DNNL_ARG_WEIGHTS, w_rt ? OND_ARG_IN : OND_ARG_MEM, w_rt ? 1 : wm);
    if (b)
        ond_prep_arg(p, DNNL_ARG_BIAS, b_rt ? OND_ARG_IN : OND_ARG_MEM, b_rt ? 2 : bm);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct conv *p = n->params;
    const struct ond_info *x = in[0], *w = in[1], *b = n->n_in > 2 ? in[2] : NULL;
    int sp = x->rank - 2;
    struct ond_window3 g;
    enum ond_status st = ond_window3_resolve(n, &p->w, sp, x->dims + 2, w->dims + 2, &g, err);
    if (st)
        return st;
    const float *xd = x->data, *wd = w->data, *bd = b ? b->data : NULL;
    float *y = out_data[0];
    int64_t batch = x->dims[0], c = x->dims[1], m = w->dims[0];
    int64_t cg = c / p->group, mg = m / p->group;
    int64_t in_sp = g.in[0] * g.in[1] * g.in[2], out_sp = g.out[0] * g.out[1] * g.out[2];
    int64_t k_sp = g.k[0] * g.k[1] * g.k[2];
    for (int64_t b0 = 0; b0 < batch; b0++)
        for (int64_t oc = 0; oc < m; oc++) {
            const float *xg = xd + (b0 * c + oc / mg * cg) * in_sp;
            const float *wm = wd + oc * cg * k_sp;
            float *yo = y + (b0 * m + oc) * out_sp;
            for (int64_t od = 0; od < g.out[0]; od++)
                for (int64_t oh = 0; oh < g.out[1]; oh++)
                    for (int64_t ow = 0; ow < g.out[2]; ow++) {
                        double acc = bd ? bd[oc] : 0.0;
                        for (int64_t ic = 0; ic < cg; ic++)
                            for (int64_t kd = 0; kd < g.k[0]; kd++) {
                                int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
                                if (id < 0 || id >= g.in[0])
                                    continue;
                                for (int64_t kh = 0; kh < g.k[1]; kh++) {
                                    int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
                                    if (ih < 0 || ih >= g.in[1])
                                        continue;
                                    const float *xr = xg + ((ic * g.in[0] + id) * g.in[1] + ih) *
                                                               g.in[2];
                                    const float *wr = wm + ((ic * g.k[0] + kd) * g.k[1] + kh) *
                                                               g.k[2];
                                    for (int64_t kw = 0; kw < g.k[2]; kw++) {
                                        int64_t iw = ow * g.s[2] - g.pb[2] + kw * g.d[2];
                                        if (iw >= 0 && iw < g.in[2])
                                            acc += (double)xr[iw] * wr[kw];
                                    }
                                }
                            }
                        yo[(od * g.out[1] + oh) * g.out[2] + ow] = (float)acc;
                    }
        }
    uint64_t numel = 0;
    ond_numel(&out[0], 0, &numel);
    return ond_apply_post(n, in, y, numel, err);
}

/* N * M * out_spatial * (C / group) * kernel */
static uint64_t macs(const struct ond_node *n)
{
    const struct ond_info *w = &n->in[1]->info, *y = &n->out[0]->info;
    uint64_t a = 1, b = 1;
    if (!ond_numel(y, 0, &a) || w->rank < 1)
        return 0;
    for (int i = 1; i < w->rank; i++)
        b *= (uint64_t)(w->dims[i] > 0 ? w->dims[i] : 0);
    return a * b;
}

const struct ond_op ond_op_conv = {
    .domain = "", .name = "Conv", .since = 1,
    .min_in = 2, .max_in = 3, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct conv),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare, .macs = macs,
};
