/* conv.c: ONNX Conv, opsets 1, 11 and 22 (same semantics; 22 adds bfloat16), 1-D, 2-D and 3-D.
 * Attributes: kernel_shape, strides, dilations, pads, auto_pad (NOTSET, SAME_UPPER, SAME_LOWER,
 * VALID), group (including depthwise). Inputs X [N,C,D...], W [M,C/group,k...], optional B [M].
 * float only. eval is a direct (naive) convolution, for the reference interpreter and constant
 * folding; it and prepare apply the node's post-ops (a fused sum reads input 3, after an omitted B
 * when there is none). In an int8 session, a convolution with constant weights whose input has a
 * scale runs on oneDNN's int8 kernels (prepare_int8); the others, and configurations oneDNN lacks,
 * run in f32 between dequantized values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"
#include "runtime/tune.h"

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    return ond_conv_parse(n, params, err);
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    enum ond_status st;
    if ((st = ond_require_float(n, in[0], 0, err)) || (st = ond_require_float(n, in[1], 1, err)))
        return st;
    out[0].dtype = OND_DTYPE_FLOAT;
    return ond_conv_shape(n, n->params, in[0], in[1], n->n_in > 2 ? in[2] : NULL, &out[0], err);
}

/* Winograd's input and output transforms cost per tile and channel whatever the filter count,
 * and its weights take 16/9 of the memory: it pays on wide 3x3 layers (64 channels or more)
 * over images of 14x14 or more (measured here, 2 threads, batch 1: ResNet-101 61 ms against
 * 71-78 with the 14x14 stage direct; on the 7x7 stage nothing gained, 15 MB of weights). */
#define WINO_MIN_CHANNELS 64
/* Winograd's scratchpad (transformed tiles of the whole input and output) is held by the
 * session: take it where the layer's work pays for it, up to one byte per 8 multiply-adds
 * (or 6 MB). On a 28x28 map oneDNN offers only its F(4x4,3x3) kernel, which wants 10 MB for
 * ResNet-50's 116 M MAC layers: it runs them in 0.46-0.53 ms against 1.0 direct (2 threads,
 * batch 1; ResNet-50 4% and ResNet-18 10% faster, 13 MB more peak memory, outputs 8e-6 from
 * torch's as before). At one byte per 16 MACs those layers ran direct. */
#define WINO_SCRATCH_FLOOR (6u << 20)
#define WINO_MACS_PER_BYTE 8
#define WINO_MIN_PIXELS 196

/* Geometry of a convolution as oneDNN takes it. */
struct conv_geom {
    struct ond_info wi;      /* weights, grouped ones as [G, M/G, C/G, k...] */
    dnnl_dims_t strides, dil, pl, pr;
};

static enum ond_status geometry(const struct ond_prep *p, struct conv_geom *g,
                                struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct ond_conv_attrs *c = n->params;
    const struct ond_info *x = p->in[0], *w = p->in[1];
    int sp = x->rank - 2;
    int64_t k[OND_MAX_SPATIAL], s[OND_MAX_SPATIAL], d[OND_MAX_SPATIAL], pads[2 * OND_MAX_SPATIAL];
    int64_t o[OND_MAX_SPATIAL];
    for (int i = 0; i < sp; i++)
        k[i] = w->dims[2 + i];
    enum ond_status st = ond_window_resolve(n, &c->w, sp, x->dims + 2, k, s, d, pads, o, err);
    if (st)
        return st;
    g->wi = *w;
    if (c->group > 1) {
        g->wi.rank = w->rank + 1;
        g->wi.dims[0] = c->group;
        g->wi.dims[1] = w->dims[0] / c->group;
        for (int i = 1; i < w->rank; i++)
            g->wi.dims[i + 1] = w->dims[i];
    }
    for (int i = 0; i < sp; i++) {
        g->strides[i] = s[i];
        g->dil[i] = d[i] - 1;
        g->pl[i] = pads[i];
        g->pr[i] = pads[i + sp];
    }
    return OND_OK;
}

/* The int8 convolution (ond_prep_int8_begin: weights per output channel, requantized
 * output). Declines when oneDNN has no kernel or the post-ops cannot be requantized; prepare
 * then builds the f32 one. */
static enum ond_status prepare_int8(struct ond_prep *p, const struct conv_geom *g,
                                    struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct ond_info *x = p->in[0], *w = p->in[1], *b = n->n_in > 2 ? p->in[2] : NULL;
    struct ond_int8 q8;
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_convolution_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    enum ond_status st = ond_prep_int8_begin(p, &q8, err);
    if (st)
        return st;
    if (!(st = ond_md_any(x, q8.src_dt, &src, err)) &&
        !(st = ond_md_any(&g->wi, dnnl_s8, &wei, err)) &&
        !(st = ond_md_any(&p->out[0], q8.dst_dt, &dst, err)) &&
        !(b && (st = ond_md(b, true, &bias, err))) &&
        !(st = ond_dnnl(dnnl_dilated_convolution_forward_desc_init(
                            &desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei,
                            b ? &bias : NULL, &dst, g->strides, g->dil, g->pl, g->pr),
                        "convolution_desc_init", n, err)))
        st = ond_prep_pd_q(p, &desc, &q8.q, &pd, err);
    return ond_prep_int8_end(p, &q8, st, pd, g->wi.rank > w->rank ? 3 : 1, b ? &bias : NULL,
                             err);
}

/* What the tuner needs to build this convolution in other layouts. */
struct tune_ctx {
    const struct conv_geom *g;
    const dnnl_memory_desc_t *wei, *bias;
};

static enum ond_status tune_desc(struct ond_prep *p, void *ctx, const dnnl_memory_desc_t *src,
                                 const dnnl_memory_desc_t *dst, dnnl_alg_kind_t alg,
                                 dnnl_convolution_desc_t *desc, struct ond_error *err)
{
    const struct tune_ctx *c = ctx;
    OND_DNNL(dnnl_dilated_convolution_forward_desc_init(desc, dnnl_forward_inference, alg, src,
                                                        c->wei, c->bias, dst, c->g->strides,
                                                        c->g->dil, c->g->pl, c->g->pr),
             p->node, err);
    return OND_OK;
}

/* The layer as the tuning cache keys it: shapes, geometry, bias, post-ops, data type. */
static void tune_key(const struct ond_prep *p, const struct conv_geom *g, dnnl_data_type_t dt,
                     char *key, size_t size)
{
    const struct ond_info *x = p->in[0];
    int n = snprintf(key, size, "Conv x=%lldx%lldx%lldx%lld w=", (long long)x->dims[0],
                     (long long)x->dims[1], (long long)x->dims[2], (long long)x->dims[3]);
    for (int i = 0; i < g->wi.rank && n > 0 && (size_t)n < size; i++)
        n += snprintf(key + n, size - (size_t)n, "%s%lld", i ? "x" : "", (long long)g->wi.dims[i]);
    for (int i = 0; i < p->node->n_post && n > 0 && (size_t)n < size; i++)
        n += snprintf(key + n, size - (size_t)n, "%s%d", i ? "," : " post=",
                      (int)p->node->post[i].kind);
    if (n > 0 && (size_t)n < size)
        snprintf(key + n, size - (size_t)n,
                 " s=%lldx%lld d=%lldx%lld p=%lld,%lld,%lld,%lld b=%d %s",
                 (long long)g->strides[0], (long long)g->strides[1], (long long)g->dil[0],
                 (long long)g->dil[1], (long long)g->pl[0], (long long)g->pl[1],
                 (long long)g->pr[0], (long long)g->pr[1], p->node->n_in > 2,
                 dt == dnnl_bf16 ? "bf16" : "f32");
}

/* One oneDNN convolution: src and dst in the layout oneDNN picks (blocked), constant weights
 * reordered once into its layout (a deferred W, runtime/ir.h, straight from the model
 * file), the node's post-ops fused. Weights that are not constant
 * (ONNX allows it) are read plain at each run. */
static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct ond_info *x = p->in[0], *w = p->in[1], *b = n->n_in > 2 ? p->in[2] : NULL;
    if (!ond_prep_float_activation(p, 0, "X"))
        return OND_OK;
    struct conv_geom g;
    enum ond_status st = geometry(p, &g, err);
    if (st)
        return st;
    /* Run-time weights are read plain (grouped: a 5-D view of the same bytes). */
    bool w_rt = p->in_md[1], b_rt = b && p->in_md[2];
    if (p->int8 && p->in_scale[0] > 0 && !w_rt && !b_rt && w->dtype == OND_DTYPE_FLOAT &&
        (!b || b->dtype == OND_DTYPE_FLOAT)) {
        if ((st = prepare_int8(p, &g, err)) || !p->declined)
            return st;
        p->declined = false;
        memset(&p->sum_md, 0, sizeof p->sum_md);
    }
    dnnl_memory_desc_t src, wei, bias, dst;
    /* Constant weights are converted to the session's activation type at planning; run-time
     * ones stay f32, and so do the activations around them. */
    dnnl_data_type_t dt = w_rt ? dnnl_f32 : p->act_dt;
    if ((st = ond_md_any(x, dt, &src, err)) ||
        (st = w_rt ? ond_md(&g.wi, true, &wei, err) : ond_md_any(&g.wi, dt, &wei, err)) ||
        (st = ond_md_any(&p->out[0], dt, &dst, err)) || (b && (st = ond_md(b, true, &bias, err))))
        return st;
    /* Tried in order, the first oneDNN implements wins. Winograd (F(2x2,3x3)) does 3x3
     * stride-1 f32 convolutions with 2.25x fewer multiplications (about 30% less time on
     * ResNet-50's 3x3 convs here; ResNet-18's outputs within 1.1e-5 of torch's against 7.6e-6
     * direct, relative errors of about 1e-4 on single elements); it works in blocked
     * nChw16c, so the convolutions after one take their input in the layout it arrives in
     * when oneDNN has a kernel for it (blocked 1x1 and strided ones do) instead of a reorder
     * to NHWC and back. */
    /* Pixels of the output over the whole batch: Winograd's tiles and the kernels' work
     * split run over the batch too (ResNet-50 batch 16: the 7x7 stage's 3x3 layers 7.2 ms in
     * F(4x4,3x3) against 14.1 in brgconv; 2% of the run). */
    int64_t pixels = x->rank == 4 ? p->out[0].dims[0] * p->out[0].dims[2] * p->out[0].dims[3]
                                  : 0;
    bool wino = dt == dnnl_f32 && x->rank == 4 && w->dims[2] == 3 && w->dims[3] == 3 &&
                g.strides[0] == 1 && g.strides[1] == 1 && g.dil[0] == 0 && g.dil[1] == 0 &&
                g.wi.rank == w->rank && w->dims[0] >= WINO_MIN_CHANNELS &&
                w->dims[1] >= WINO_MIN_CHANNELS &&
                pixels >= WINO_MIN_PIXELS;
    bool follow = !ond_md_is_plain(p->in_md[0]) && p->in_md[0]->data_type == dt;
    /* Convolutions onto 7x7 or less (the whole batch) run on nhwc (brgconv): what tuning
     * (runtime/tune.c) chose on this CPU class for the 3x3 layers of ResNet-18's and
     * ResNet-50's last stage (2 threads, batch 1: 1.67 ms against 1.70-1.86 for the blocked
     * jit kernel on 512->512); the 1x1 layers there are as fast in either layout, and
     * following them saves the reorders around each residual sum. At batch 16 tuning keeps
     * every layer after the stem blocked. */
    dnnl_memory_desc_t nhwc;
    bool small = x->rank == 4 && !w_rt && g.wi.rank == w->rank &&
                 pixels <= 49 && !ond_tune_md(x, dt, OND_TUNE_NHWC, &nhwc, NULL);
    /* A stem (fewer than 16 input channels, an image's 3) of 64 filters or more onto a map
     * larger than that writes nChw16c. Left to oneDNN it takes brgconv on nhwc and the layers
     * after it follow; the blocked ones after them (Winograd, DenseNet's in-place Concats,
     * which need a layout whose channel ranges are contiguous) then pay reorders or copies
     * (2 threads, batch 1, same run: DenseNet-121 0.93 of the time, SqueezeNet 0.93, ResNet-18
     * 0.98, VGG-16 0.99, GoogLeNet 1.02, AlexNet 1.01; ResNet-50 batch 16 0.98). The
     * 32-filter stems of depthwise nets feed depthwise layers on nhwc (EfficientNet-B0 1.03,
     * MnasNet 1.04 with the rule), so they keep oneDNN's choice. */
    dnnl_memory_desc_t blocked;
    bool stem = x->rank == 4 && !w_rt && g.wi.rank == w->rank && x->dims[1] < 16 &&
                w->dims[0] >= 64 && pixels > 49 &&
                !ond_tune_md(&p->out[0], dt, OND_TUNE_NCHW16C, &blocked, NULL);
    uint64_t out_numel = 0;
    ond_numel(&p->out[0], 0, &out_numel);
    size_t wino_scratch = out_numel * (uint64_t)w->dims[1] * 9 / WINO_MACS_PER_BYTE;
    if (wino_scratch < WINO_SCRATCH_FLOOR)
        wino_scratch = WINO_SCRATCH_FLOOR;
    const struct {
        bool use;
        dnnl_alg_kind_t alg;
        const dnnl_memory_desc_t *src, *dst;
    } tries[] = {
        {wino, dnnl_convolution_winograd, &src, &dst},
        {small, dnnl_convolution_direct, &nhwc, &dst},
        {stem, dnnl_convolution_direct, &src, &blocked},
        {follow, dnnl_convolution_direct, p->in_md[0], &dst},
        {true, dnnl_convolution_direct, &src, &dst},
    };
    dnnl_convolution_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    /* A tuned choice (runtime/tune.h) comes first; when oneDNN does not offer it, the
     * defaults below. */
    struct ond_tune_choice ch;
    bool tuned = false;
    if (p->tune && !w_rt && x->rank == 4) {
        char key[256];
        tune_key(p, &g, dt, key, sizeof key);
        struct tune_ctx ctx = {&g, &wei, b ? &bias : NULL};
        struct ond_tune_conv tc = {key, x, &p->out[0], dt, wino, wino_scratch, tune_desc, &ctx};
        if ((st = ond_tune_conv(p, &tc, &ch, &tuned, err)))
            return st;
    }
    if (tuned) { /* a choice oneDNN cannot build (a stale or edited cache) is no error */
        dnnl_memory_desc_t ts, td;
        if (!ond_tune_md(x, dt, ch.layout, &ts, NULL) &&
            !ond_tune_md(&p->out[0], dt, ch.layout, &td, NULL) &&
            !tune_desc(p, &(struct tune_ctx){&g, &wei, b ? &bias : NULL}, &ts, &td, ch.alg,
                       &desc, NULL) &&
            (st = ond_tune_pd(p, &desc, ch.impl, &pd, err)))
            return st;
        p->declined = false;
    }
    for (size_t t = 0; t < sizeof tries / sizeof tries[0] && !pd; t++) {
        if (!tries[t].use)
            continue;
        OND_DNNL(dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference,
                                                            tries[t].alg, tries[t].src, &wei,
                                                            b ? &bias : NULL, tries[t].dst,
                                                            g.strides, g.dil, g.pl, g.pr), n, err);
        if ((st = tries[t].alg == dnnl_convolution_winograd
                      ? ond_prep_pd_within(p, &desc, wino_scratch, &pd, err)
                      : ond_prep_pd(p, &desc, &pd, err)))
            return st;
        /* A layout only oneDNN's reference kernel takes is no choice while `any` remains:
         * RegNet-Y's grouped 3x3 convs (8 channels a group) on the nhwc input they arrive in
         * ran ref:any at 0.1 G MAC/s, 90% of the model's time; a blocked input into a dilated
         * convolution whose taps reach past the image (DeepLabV3's ASPP, dilations 12-36 on a
         * 28x28 map) ran about 1000 times slower than brgconv on NHWC behind a reorder. */
        if (pd && t + 1 < sizeof tries / sizeof tries[0] && ond_pd_is_reference(pd)) {
            dnnl_primitive_desc_destroy(pd);
            pd = NULL;
        }
        if (!pd && t + 1 < sizeof tries / sizeof tries[0])
            p->declined = false;
    }
    if (!pd)
        return OND_OK;
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
    const struct ond_conv_attrs *p = n->params;
    const struct ond_info *x = in[0], *w = in[1], *b = n->n_in > 2 ? in[2] : NULL;
    int sp = x->rank - 2;
    struct ond_window3 g;
    enum ond_status st = ond_window3_resolve(n, &p->w, sp, x->dims + 2, w->dims + 2, &g, err);
    if (st)
        return st;
    const void *wv;
    void *copy;
    if ((st = ond_input_value(n->in[1], w->data, &wv, &copy, err)))
        return st;
    const float *xd = x->data, *wd = wv, *bd = b ? b->data : NULL;
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
    free(copy);
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
    .params_size = sizeof(struct ond_conv_attrs),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare, .macs = macs,
    .quant = OND_QUANT_OWN,
};
