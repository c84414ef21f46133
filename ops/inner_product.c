/* inner_product.c: ai.ondine InnerProduct, opset 1: Y [N,M] = X' W^T + B, where X [N,D1...]
 * (rank 2 to 5, float) is read as X' [N,K], K = D1 x ..., W is [M,K] and the optional B [M];
 * then the node's post-ops. It is what Flatten (or a flattening Reshape) + Gemm becomes, so
 * the flatten is a view and one oneDNN inner product reads X in the layout its producer left
 * (a pooled conv activation, blocked). Inputs: X, W, B (may be omitted), then one per sum or
 * add post-op. Attributes: post_ops, post_params (ops/postops.c).
 * prepare: one oneDNN inner product, W viewed as [M,D1...] and reordered once; in an int8
 * session, when X has a scale, an int8 one (W per output channel, ond_prep_int8_begin). */
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

#define BASE_INPUTS 3
#define MAX_SRC_RANK 5   /* oneDNN's inner product takes 2-D to 5-D sources */

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)params;
    return ond_post_parse(n, BASE_INPUTS, err);
}

static const struct ond_info *input_b(const struct ond_node *n, const struct ond_info *const *in)
{
    return n->n_in > 2 ? in[2] : NULL;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *x = in[0], *w = in[1], *b = input_b(n, in);
    enum ond_status st;
    if ((st = ond_require_float(n, x, 0, err)) || (st = ond_require_float(n, w, 1, err)) ||
        (b && (st = ond_require_float(n, b, 2, err))))
        return st;
    out[0].dtype = OND_DTYPE_FLOAT;
    if (x->rank >= 0 && (x->rank < 2 || x->rank > MAX_SRC_RANK))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "X has rank %d; 2 to %d is needed",
                             x->rank, MAX_SRC_RANK);
    if (w->rank >= 0 && w->rank != 2)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "W has rank %d; it must be [M,K]",
                             w->rank);
    int64_t m = w->rank == 2 ? w->dims[0] : OND_DIM_UNKNOWN, k = 1;
    for (int i = 1; i < x->rank; i++)
        k = ond_dim_mul(k, x->dims[i]);
    if (x->rank >= 0 && w->rank == 2 && k >= 0 && w->dims[1] >= 0 && k != w->dims[1])
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has %lld elements per row, W expects %lld", (long long)k,
                             (long long)w->dims[1]);
    if (b && b->rank >= 0 && (b->rank != 1 || (m >= 0 && b->dims[0] >= 0 && b->dims[0] != m)))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "B must have shape [%lld]",
                             (long long)m);
    out[0].rank = 2;
    out[0].dims[0] = x->rank >= 0 ? x->dims[0] : OND_DIM_UNKNOWN;
    out[0].dims[1] = m;
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct ond_info *w = in[1], *b = input_b(n, in);
    const void *wv;
    void *copy;
    enum ond_status st = ond_input_value(n->in[1], w->data, &wv, &copy, err);
    if (st)
        return st;
    const float *xd = in[0]->data, *wd = wv, *bd = b ? b->data : NULL;
    float *y = out_data[0];
    int64_t rows = out[0].dims[0], m = w->dims[0], k = w->dims[1];
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < m; j++) {
            double acc = bd ? bd[j] : 0.0;
            for (int64_t l = 0; l < k; l++)
                acc += (double)xd[i * k + l] * wd[j * k + l];
            y[i * m + j] = (float)acc;
        }
    free(copy);
    return ond_apply_post(n, in, y, (uint64_t)(rows * m), err);
}

/* The int8 inner product; declines where oneDNN has none (prepare then builds f32). */
static enum ond_status prepare_int8(struct ond_prep *p, const struct ond_info *wi,
                                    struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct ond_info *b = input_b(n, p->in);
    struct ond_int8 q8;
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_inner_product_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    enum ond_status st = ond_prep_int8_begin(p, &q8, err);
    if (st)
        return st;
    if (!(st = ond_md_any(p->in[0], q8.src_dt, &src, err)) &&
        !(st = ond_md_any(wi, dnnl_s8, &wei, err)) &&
        !(st = ond_md_any(&p->out[0], q8.dst_dt, &dst, err)) &&
        !(b && (st = ond_md(b, true, &bias, err))) &&
        !(st = ond_dnnl(dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference, &src,
                                                             &wei, b ? &bias : NULL, &dst),
                        "inner_product_desc_init", n, err)))
        st = ond_prep_pd_q(p, &desc, &q8.q, &pd, err);
    return ond_prep_int8_end(p, &q8, st, pd, 1, b ? &bias : NULL, err);
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct ond_info *x = p->in[0], *w = p->in[1], *b = input_b(n, p->in);
    if (!w->data || (b && !b->data))
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "weights and bias must be constant");
    /* W [M,K] seen with X's dims: [M,D1...], the same bytes. */
    struct ond_info wi = *x;
    wi.dims[0] = w->dims[0];
    dnnl_memory_desc_t src, wei, bias, dst;
    enum ond_status st;
    if (p->int8 && p->in_scale[0] > 0 && p->in_md[0]) {
        if ((st = prepare_int8(p, &wi, err)) || !p->declined)
            return st;
        p->declined = false;
        memset(&p->sum_md, 0, sizeof p->sum_md);
    }
    /* In a bf16 session src and weights are bf16; the output stays f32 (oneDNN accumulates
     * in f32): it is usually a network's logits, where bf16's 8-bit mantissa would decide
     * close top-1 calls. */
    if ((st = ond_prep_md(p, x, &src, err)) || (st = ond_prep_md(p, &wi, &wei, err)) ||
        (st = ond_md(&p->out[0], false, &dst, err)) || (b && (st = ond_md(b, true, &bias, err))))
        return st;
    dnnl_inner_product_desc_t desc;
    OND_DNNL(dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference, &src, &wei,
                                                  b ? &bias : NULL, &dst), n, err);
    dnnl_primitive_attr_t attr;
    if ((st = ond_prep_attr(p, &attr, err))) {
        dnnl_primitive_attr_destroy(attr);
        return st;
    }
    dnnl_primitive_desc_t pd;
    dnnl_status_t ds = dnnl_primitive_desc_create(&pd, &desc, attr, p->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    OND_DNNL(ds, n, err);
    p->want_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    p->out_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    int wm, bm = -1;
    if ((st = ond_prep_const(p, 1, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                             &wm, err)) ||
        (b && (st = ond_prep_const(p, 2, &bias, &bm, err)))) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    return ond_prep_finish_weighted(p, pd, wm, bm, err);
}

/* N * M * K */
static uint64_t macs(const struct ond_node *n)
{
    const struct ond_info *w = &n->in[1]->info, *y = &n->out[0]->info;
    uint64_t rows_m;
    if (w->rank != 2 || w->dims[1] < 0 || !ond_numel(y, 0, &rows_m))
        return 0;
    return rows_m * (uint64_t)w->dims[1];
}

const struct ond_op ond_op_inner_product = {
    .domain = "ai.ondine", .name = "InnerProduct", .since = 1,
    .min_in = 2, .max_in = BASE_INPUTS + OND_MAX_POSTOPS, .min_out = 1, .max_out = 1,
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare, .macs = macs,
    .quant = OND_QUANT_OWN,
};
