/* convtranspose.c: ONNX ConvTranspose, opsets 1 and 11 (same semantics; 22 changes types
 * only), 1-D, 2-D and 3-D. Attributes: kernel_shape (must agree with W), strides,
 * dilations, pads, auto_pad (NOTSET, SAME_UPPER, SAME_LOWER, VALID), group, output_padding
 * (added at the end of each spatial dim; below the stride or the dilation), output_shape
 * (spatial dims, or all of them; pads are then derived, as with SAME_*: the odd unit of the
 * total padding at the end for SAME_UPPER, at the start otherwise). Inputs X [N, C, D...],
 * W [C, M/group, k...], optional B [M]. float only.
 * eval is a direct scatter (every input pixel times the kernel added into the output).
 * Sessions: one oneDNN deconvolution, constant W reordered once from ONNX's [C, M/g] order,
 * run-time W read in place through a strided view; a negative derived start pad and
 * geometries oneDNN lacks run the eval. */
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct convt {
    struct ond_conv_attrs c;
    int n_opad, n_oshape;           /* -1: absent */
    int64_t opad[OND_MAX_SPATIAL], oshape[OND_MAX_SPATIAL + 2];
};

/* The geometry of one node with known input and W dims. */
struct geom {
    int sp;
    int64_t in[OND_MAX_SPATIAL], k[OND_MAX_SPATIAL], out[OND_MAX_SPATIAL];
    int64_t s[OND_MAX_SPATIAL], d[OND_MAX_SPATIAL], pb[OND_MAX_SPATIAL], pe[OND_MAX_SPATIAL];
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct convt *p = params;
    enum ond_status st;
    if ((st = ond_conv_parse(n, &p->c, err)) ||
        (st = ond_attr_ints(n, "output_padding", p->opad, OND_MAX_SPATIAL, &p->n_opad, err)) ||
        (st = ond_attr_ints(n, "output_shape", p->oshape, OND_MAX_SPATIAL + 2, &p->n_oshape,
                            err)))
        return st;
    for (int i = 0; i < p->n_opad; i++)
        if (p->opad[i] < 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "attribute 'output_padding' has a negative value %lld",
                                 (long long)p->opad[i]);
    for (int i = 0; i < p->n_oshape; i++)
        if (p->oshape[i] < 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "attribute 'output_shape' has a negative value %lld",
                                 (long long)p->oshape[i]);
    return OND_OK;
}

static enum ond_status count(const struct ond_node *n, const char *name, int have, int want,
                             struct ond_error *err)
{
    if (have >= 0 && have != want)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute '%s' has %d values, expected %d", name, have, want);
    return OND_OK;
}

/* Resolves strides, dilations, pads and output dims for sp spatial dims of input in (some
 * unknown: their outputs are unknown) and kernel k. */
static enum ond_status resolve(const struct ond_node *n, int sp, const int64_t *in,
                               const int64_t *k, struct geom *g, struct ond_error *err)
{
    const struct convt *p = n->params;
    const struct ond_window *w = &p->c.w;
    enum ond_status st;
    if (sp < 1 || sp > OND_MAX_SPATIAL)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "%d spatial dims; 1 to %d are supported", sp, OND_MAX_SPATIAL);
    if ((st = count(n, "kernel_shape", w->n_kernel, sp, err)) ||
        (st = count(n, "strides", w->n_strides, sp, err)) ||
        (st = count(n, "dilations", w->n_dilations, sp, err)) ||
        (st = count(n, "pads", w->n_pads, 2 * sp, err)) ||
        (st = count(n, "output_padding", p->n_opad, sp, err)))
        return st;
    if (p->n_oshape >= 0 && p->n_oshape != sp && p->n_oshape != sp + 2)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'output_shape' has %d values, expected %d or %d",
                             p->n_oshape, sp, sp + 2);
    const int64_t *oshape = p->n_oshape == sp + 2 ? p->oshape + 2 : p->oshape;
    g->sp = sp;
    for (int i = 0; i < sp; i++) {
        g->in[i] = in[i];
        g->k[i] = k[i];
        if (w->n_kernel == sp && k[i] >= 0 && w->kernel[i] != k[i])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "kernel_shape disagrees with W at spatial dim %d", i);
        g->s[i] = w->n_strides > 0 ? w->strides[i] : 1;
        g->d[i] = w->n_dilations > 0 ? w->dilations[i] : 1;
        int64_t opad = p->n_opad > 0 ? p->opad[i] : 0;
        if (opad && opad >= g->s[i] && opad >= g->d[i])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "output_padding %lld at spatial dim %d is not below the stride "
                                 "or the dilation", (long long)opad, i);
        g->pb[i] = w->n_pads > 0 && w->auto_pad == OND_PAD_NOTSET ? w->pads[i] : 0;
        g->pe[i] = w->n_pads > 0 && w->auto_pad == OND_PAD_NOTSET ? w->pads[sp + i] : 0;
        if (in[i] < 0 || k[i] < 0) {
            g->out[i] = p->n_oshape >= 0 ? oshape[i] : OND_DIM_UNKNOWN;
            continue;
        }
        /* Every term is below 2^20 x 2^40 for any tensor ondine can hold; refuse beyond. */
        if (in[i] > (1ll << 40) || k[i] > (1ll << 20) || g->s[i] > (1ll << 20) ||
            g->d[i] > (1ll << 20) || opad > (1ll << 20) || g->pb[i] > (1ll << 40) ||
            g->pe[i] > (1ll << 40))
            return ond_node_fail(err, n, OND_STATUS_LIMIT,
                                 "sizes at spatial dim %d are too large", i);
        /* The full extent: every input pixel's kernel footprint, plus output_padding. */
        int64_t full = g->s[i] * (in[i] - 1) + opad + (k[i] - 1) * g->d[i] + 1;
        int64_t target = p->n_oshape >= 0 ? oshape[i]
                         : w->auto_pad == OND_PAD_SAME_UPPER || w->auto_pad == OND_PAD_SAME_LOWER
                             ? in[i] * g->s[i]
                             : -1;
        if (target >= 0) {
            /* Floor halves: a negative total (output_shape past the full extent) extends
             * the end, as ONNX's reference does. */
            int64_t total = full - target, half = total >= 0 ? total / 2 : -((1 - total) / 2);
            g->pb[i] = w->auto_pad == OND_PAD_SAME_UPPER ? half : total - half;
            g->pe[i] = total - g->pb[i];
        }
        g->out[i] = full - g->pb[i] - g->pe[i];
        if (g->out[i] < 0 || (in[i] > 0 && g->out[i] == 0))
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "pads %lld and %lld leave spatial dim %d with %lld elements",
                                 (long long)g->pb[i], (long long)g->pe[i], i,
                                 (long long)g->out[i]);
    }
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct convt *p = n->params;
    const struct ond_info *x = in[0], *w = in[1], *b = n->n_in > 2 ? in[2] : NULL;
    enum ond_status st;
    if ((st = ond_require_float(n, x, 0, err)) || (st = ond_require_float(n, w, 1, err)) ||
        (b && (st = ond_require_float(n, b, 2, err))))
        return st;
    out[0].dtype = OND_DTYPE_FLOAT;
    if (x->rank < 0 || w->rank < 0)
        return OND_OK;
    if (x->rank < 3 || w->rank != x->rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has rank %d and W rank %d; both must be the same, at least 3",
                             x->rank, w->rank);
    int64_t ch = x->dims[1], g = p->c.group;
    if (w->dims[0] >= 0 && w->dims[0] % g)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "group %lld does not divide W's %lld input channels", (long long)g,
                             (long long)w->dims[0]);
    if (ch >= 0 && w->dims[0] >= 0 && ch != w->dims[0])
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has %lld channels, W %lld", (long long)ch, (long long)w->dims[0]);
    if (w->dims[1] > INT64_MAX / g)
        return ond_node_fail(err, n, OND_STATUS_LIMIT, "W's output channels overflow");
    int64_t m = w->dims[1] < 0 ? OND_DIM_UNKNOWN : w->dims[1] * g;
    if (b && b->rank >= 0 && (b->rank != 1 || (m >= 0 && b->dims[0] >= 0 && b->dims[0] != m)))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "B must have shape [%lld]",
                             (long long)m);
    struct geom geo;
    if ((st = resolve(n, x->rank - 2, x->dims + 2, w->dims + 2, &geo, err)))
        return st;
    out[0].rank = x->rank;
    out[0].dims[0] = x->dims[0];
    out[0].dims[1] = m;
    memcpy(out[0].dims + 2, geo.out, sizeof(int64_t) * (size_t)geo.sp);
    return OND_OK;
}

/* Resolved geometry over 3 spatial dims (leading unit dims for 1-D and 2-D). */
static enum ond_status geom3(const struct ond_node *n, const struct ond_info *x,
                             const struct ond_info *w, struct geom *g, struct ond_error *err)
{
    struct geom r;
    int sp = x->rank - 2, lead = OND_MAX_SPATIAL - sp;
    enum ond_status st = resolve(n, sp, x->dims + 2, w->dims + 2, &r, err);
    if (st)
        return st;
    for (int i = 0; i < OND_MAX_SPATIAL; i++) {
        int j = i - lead;
        g->in[i] = j >= 0 ? r.in[j] : 1;
        g->k[i] = j >= 0 ? r.k[j] : 1;
        g->out[i] = j >= 0 ? r.out[j] : 1;
        g->s[i] = j >= 0 ? r.s[j] : 1;
        g->d[i] = j >= 0 ? r.d[j] : 1;
        g->pb[i] = j >= 0 ? r.pb[j] : 0;
    }
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct convt *p = n->params;
    const struct ond_info *x = in[0], *w = in[1], *b = n->n_in > 2 ? in[2] : NULL;
    struct geom g;
    enum ond_status st = geom3(n, x, w, &g, err);
    if (st || !out_data[0])
        return st;
    const float *xd = x->data, *wd = w->data, *bd = b ? b->data : NULL;
    float *y = out_data[0];
    int64_t batch = x->dims[0], c = x->dims[1], m = out[0].dims[1];
    int64_t cg = c / p->c.group, mg = m / p->c.group;
    int64_t in_sp = g.in[0] * g.in[1] * g.in[2], out_sp = g.out[0] * g.out[1] * g.out[2];
    int64_t k_sp = g.k[0] * g.k[1] * g.k[2];
    for (int64_t b0 = 0; b0 < batch; b0++)
        for (int64_t oc = 0; oc < m; oc++)
            for (int64_t i = 0; i < out_sp; i++)
                y[(b0 * m + oc) * out_sp + i] = bd ? bd[oc] : 0.0f;
    for (int64_t b0 = 0; b0 < batch; b0++)
        for (int64_t ic = 0; ic < c; ic++) {
            const float *xc = xd + (b0 * c + ic) * in_sp;
            int64_t grp = ic / cg;
            for (int64_t o = 0; o < mg; o++) {
                int64_t oc = grp * mg + o;
                const float *wk = wd + (ic * mg + o) * k_sp;
                float *yo = y + (b0 * m + oc) * out_sp;
                for (int64_t id = 0; id < g.in[0]; id++)
                    for (int64_t ih = 0; ih < g.in[1]; ih++)
                        for (int64_t iw = 0; iw < g.in[2]; iw++) {
                            float v = xc[(id * g.in[1] + ih) * g.in[2] + iw];
                            for (int64_t kd = 0; kd < g.k[0]; kd++) {
                                int64_t od = id * g.s[0] - g.pb[0] + kd * g.d[0];
                                if (od < 0 || od >= g.out[0])
                                    continue;
                                for (int64_t kh = 0; kh < g.k[1]; kh++) {
                                    int64_t oh = ih * g.s[1] - g.pb[1] + kh * g.d[1];
                                    if (oh < 0 || oh >= g.out[1])
                                        continue;
                                    const float *wr = wk + (kd * g.k[1] + kh) * g.k[2];
                                    float *yr = yo + (od * g.out[1] + oh) * g.out[2];
                                    for (int64_t kw = 0; kw < g.k[2]; kw++) {
                                        int64_t ow = iw * g.s[2] - g.pb[2] + kw * g.d[2];
                                        if (ow >= 0 && ow < g.out[2])
                                            yr[ow] += v * wr[kw];
                                    }
                                }
                            }
                        }
            }
        }
    uint64_t numel = 0;
    ond_numel(&out[0], 0, &numel);
    return ond_apply_post(n, in, y, numel, err);
}

/* One oneDNN deconvolution. Constant weights are reordered once into its layout; run-time
 * ones (and their activations) stay f32, W read in place through a strided 5-D view. */
static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct convt *q = n->params;
    const struct ond_info *x = p->in[0], *w = p->in[1], *b = n->n_in > 2 ? p->in[2] : NULL;
    if (!ond_prep_float_activation(p, 0, "X"))
        return OND_OK;
    bool w_rt = p->in_md[1], b_rt = b && p->in_md[2];
    struct geom g;
    int sp = x->rank - 2;
    enum ond_status st = resolve(n, sp, x->dims + 2, w->dims + 2, &g, err);
    if (st)
        return st;
    dnnl_dims_t strides, dil, pl, pr;
    for (int i = 0; i < sp; i++) {
        if (g.pb[i] < 0)
            return ond_prep_decline(p, "negative start padding at spatial dim %d", i);
        strides[i] = g.s[i];
        dil[i] = g.d[i] - 1;
        pl[i] = g.pb[i];
        /* oneDNN's output is (in - 1) s + (k - 1) d + 1 - pl - pr: output_padding and
         * output_shape shrink the end padding, possibly below zero. */
        pr[i] = g.s[i] * (g.in[i] - 1) + (g.k[i] - 1) * g.d[i] + 1 - g.pb[i] - g.out[i];
    }
    /* Weights as oneDNN takes them, [G,] M/G, C/G, k..., described over ONNX's bytes
     * [G * C/G, M/G, k...] by strides. Run-time ones are always grouped, so that their view
     * differs from W's dims and the planner hands over W's buffer as it is. */
    int64_t grp = q->c.group, cg = x->dims[1] / grp, mg = w->dims[1], ks = 1;
    for (int i = 0; i < sp; i++)
        ks *= w->dims[2 + i];
    struct ond_info wi = *w;
    dnnl_dims_t wd, ws;
    int r = 0;
    if (grp > 1 || w_rt) {
        wd[r] = grp;
        ws[r++] = cg * mg * ks;
    }
    wd[r] = mg;
    ws[r++] = ks;
    wd[r] = cg;
    ws[r++] = mg * ks;
    int64_t s = 1;
    for (int i = sp - 1; i >= 0; i--) {
        wd[r + i] = w->dims[2 + i];
        ws[r + i] = s;
        s *= w->dims[2 + i];
    }
    wi.rank = r + sp;
    for (int i = 0; i < wi.rank; i++)
        wi.dims[i] = wd[i];
    dnnl_memory_desc_t src, wei, wfrom, bias, dst;
    dnnl_data_type_t dt = w_rt ? dnnl_f32 : p->act_dt;
    OND_DNNL(dnnl_memory_desc_init_by_strides(&wfrom, wi.rank, wd, dnnl_f32, ws), n, err);
    if ((st = ond_md_any(x, dt, &src, err)) ||
        (st = ond_md_any(&p->out[0], dt, &dst, err)) || (b && (st = ond_md(b, true, &bias, err))))
        return st;
    if (w_rt)
        wei = wfrom;
    else if ((st = ond_md_any(&wi, dt, &wei, err)))
        return st;
    dnnl_deconvolution_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    /* oneDNN rejects some geometries ONNX allows (a large negative end padding). */
    if (dnnl_dilated_deconvolution_forward_desc_init(&desc, dnnl_forward_inference,
                                                     dnnl_deconvolution_direct, &src, &wei,
                                                     b ? &bias : NULL, &dst, strides, dil, pl,
                                                     pr) != dnnl_success)
        return ond_prep_decline(p, "oneDNN takes no deconvolution of this geometry");
    if ((st = ond_prep_pd(p, &desc, &pd, err)) || !pd)
        return st;
    int wm = -1, bm = -1;
    if ((!w_rt && (st = ond_prep_const_from(p, 1, &wfrom,
                                            dnnl_primitive_desc_query_md(pd,
                                                                         dnnl_query_weights_md,
                                                                         0),
                                            &wm, err))) ||
        (b && !b_rt && (st = ond_prep_const(p, 2, &bias, &bm, err)))) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    p->want_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    p->out_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    if (w_rt)
        p->want_md[1] = wfrom;
    if (b_rt)
        p->want_md[2] = bias;
    ond_prep_arg(p, DNNL_ARG_SRC, OND_ARG_IN, 0);
    ond_prep_arg(p, DNNL_ARG_WEIGHTS, w_rt ? OND_ARG_IN : OND_ARG_MEM, w_rt ? 1 : wm);
    if (b)
        ond_prep_arg(p, DNNL_ARG_BIAS, b_rt ? OND_ARG_IN : OND_ARG_MEM, b_rt ? 2 : bm);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}

/* N * C * in_spatial * (M / group) * kernel */
static uint64_t macs(const struct ond_node *n)
{
    const struct ond_info *x = &n->in[0]->info, *w = &n->in[1]->info;
    uint64_t a = 1, b = 1;
    if (!ond_numel(x, 0, &a) || w->rank < 2)
        return 0;
    for (int i = 1; i < w->rank; i++)
        b *= (uint64_t)(w->dims[i] > 0 ? w->dims[i] : 0);
    return a * b;
}

const struct ond_op ond_op_conv_transpose = {
    .domain = "", .name = "ConvTranspose", .since = 1,
    .min_in = 2, .max_in = 3, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct convt),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare, .macs = macs,
};
