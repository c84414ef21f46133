/* gemm.c: ONNX Gemm, opsets 1, 6, 7, 9, 11 and 13, float:
 *   Y [M,N] = alpha * A' * B' + beta * C, A' = transA ? A^T : A, B' = transB ? B^T : B.
 * Attributes: alpha, beta (1.0), transA, transB (0). C is required before opset 11 and
 * optional from 11 on. It is broadcast unidirectionally to [M,N] (a scalar, [N], [1,N], [M,1],
 * [M,N]...); before opset 7 only when the attribute broadcast=1, and with broadcast=0 (the
 * default) C must be exactly [M,N].
 * Sessions: an inner product when it is one (A an activation, transA=0, B constant, C absent
 * or a constant [N] or [1,N]): B is laid out as its [N,K] weights (transposed when transB=0)
 * and reordered once. Otherwise a oneDNN matmul on A and B as they are (transposes read as
 * transposed views). alpha is folded into a constant B, else applied as an output scale;
 * beta is folded into a constant C; a run-time C needs alpha = beta = 1, else the eval. eval applies the node's post-ops. */
#include <stdlib.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct gemm {
    float alpha, beta;
    int64_t trans_a, trans_b;
    bool broadcast;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct gemm *p = params;
    int64_t broadcast = 1;
    enum ond_status st;
    if ((st = ond_attr_float(n, "alpha", 1.0f, &p->alpha, err)) ||
        (st = ond_attr_float(n, "beta", 1.0f, &p->beta, err)) ||
        (st = ond_attr_int(n, "transA", 0, &p->trans_a, err)) ||
        (st = ond_attr_int(n, "transB", 0, &p->trans_b, err)) ||
        (n->opset < 7 && (st = ond_attr_int(n, "broadcast", 0, &broadcast, err))))
        return st;
    if ((p->trans_a != 0 && p->trans_a != 1) || (p->trans_b != 0 && p->trans_b != 1))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "transA and transB must be 0 or 1");
    if (broadcast != 0 && broadcast != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "broadcast must be 0 or 1");
    p->broadcast = broadcast;
    return OND_OK;
}

static const struct ond_info *input_c(const struct ond_node *n, const struct ond_info *const *in)
{
    return n->n_in > 2 ? in[2] : NULL;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct gemm *p = n->params;
    const struct ond_info *a = in[0], *b = in[1], *c = input_c(n, in);
    enum ond_status st;
    if ((st = ond_require_float(n, a, 0, err)) || (st = ond_require_float(n, b, 1, err)) ||
        (c && (st = ond_require_float(n, c, 2, err))))
        return st;
    out[0].dtype = OND_DTYPE_FLOAT;
    if ((a->rank >= 0 && a->rank != 2) || (b->rank >= 0 && b->rank != 2))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "A has rank %d and B rank %d; both must be 2", a->rank, b->rank);
    int64_t m = a->rank == 2 ? a->dims[p->trans_a] : OND_DIM_UNKNOWN;
    int64_t k = a->rank == 2 ? a->dims[1 - p->trans_a] : OND_DIM_UNKNOWN;
    int64_t kb = b->rank == 2 ? b->dims[p->trans_b] : OND_DIM_UNKNOWN;
    int64_t nn = b->rank == 2 ? b->dims[1 - p->trans_b] : OND_DIM_UNKNOWN;
    if (k >= 0 && kb >= 0 && k != kb)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "inner dims differ: A' is [%lld,%lld], B' [%lld,%lld]",
                             (long long)m, (long long)k, (long long)kb, (long long)nn);
    out[0].rank = 2;
    out[0].dims[0] = m;
    out[0].dims[1] = nn;
    if (!c || c->rank < 0)
        return OND_OK;
    bool exact = !p->broadcast;
    if (c->rank > 2 || (exact && c->rank != 2))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "C has rank %d; it must %s", c->rank,
                             exact ? "be [M,N] (broadcast=0)" : "broadcast to [M,N]");
    for (int i = 0; i < c->rank; i++) {
        int64_t cd = c->dims[i], want = out[0].dims[2 - c->rank + i];
        if (cd >= 0 && want >= 0 && cd != want && (exact || cd != 1))
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "C dim %d is %lld; it must %s %lld", i, (long long)cd,
                                 exact ? "be" : "be 1 or", (long long)want);
    }
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct gemm *p = n->params;
    const struct ond_info *a = in[0], *b = in[1], *c = input_c(n, in);
    const void *bv;
    void *copy;
    enum ond_status st = ond_input_value(n->in[1], b->data, &bv, &copy, err);
    if (st)
        return st;
    const float *ad = a->data, *bd = bv, *cd = c ? c->data : NULL;
    float *y = out_data[0];
    int64_t m = out->dims[0], nn = out->dims[1], k = a->dims[1 - p->trans_a];
    /* Element strides of A' and B' rows and columns. */
    int64_t as_m = p->trans_a ? 1 : k, as_k = p->trans_a ? m : 1;
    int64_t bs_k = p->trans_b ? 1 : nn, bs_n = p->trans_b ? k : 1;
    int64_t cs_m = 0, cs_n = 0;
    if (c && c->rank == 2) {
        cs_m = c->dims[0] == 1 ? 0 : c->dims[1];
        cs_n = c->dims[1] == 1 ? 0 : 1;
    } else if (c && c->rank == 1) {
        cs_n = c->dims[0] == 1 ? 0 : 1;
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < nn; j++) {
            double acc = 0.0;
            for (int64_t l = 0; l < k; l++)
                acc += (double)ad[i * as_m + l * as_k] * bd[l * bs_k + j * bs_n];
            double r = p->alpha * acc;
            if (cd)
                r += (double)p->beta * cd[i * cs_m + j * cs_n];
            y[i * nn + j] = (float)r;
        }
    free(copy);
    return ond_apply_post(n, in, y, (uint64_t)(m * nn), err);
}

/* A 2-D f32 md of dims [d0, d1]; transposed: the row-major bytes of a [d1, d0] matrix. */
static enum ond_status md2(int64_t d0, int64_t d1, bool transposed, dnnl_memory_desc_t *md,
                           struct ond_error *err)
{
    dnnl_dims_t dims = {d0, d1};
    return ond_dnnl(dnnl_memory_desc_init_by_tag(md, 2, dims, dnnl_f32,
                                                 transposed ? dnnl_ba : dnnl_ab),
                    "memory_desc_init_by_tag", NULL, err);
}

/* Constant input k into layout want (its bytes laid out as from), times factor. */
static enum ond_status scaled_const(struct ond_prep *p, int k, const dnnl_memory_desc_t *from,
                                    const dnnl_memory_desc_t *want, float factor, int *m,
                                    struct ond_error *err)
{
    enum ond_status st = ond_prep_const_from(p, k, from, want, m, err);
    return st || factor == 1.f ? st : ond_prep_scale_mem(p, *m, factor, err);
}

/* The primitive's weights (constant B) and bias (C) once the pd is known. */
static enum ond_status finish(struct ond_prep *p, dnnl_primitive_desc_t pd,
                              const dnnl_memory_desc_t *b_from, float b_scale,
                              const dnnl_memory_desc_t *bias, float c_scale,
                              struct ond_error *err)
{
    const struct ond_info *c = input_c(p->node, p->in);
    enum ond_status st = OND_OK;
    int m;
    if (!p->in_md[1] &&
        !(st = scaled_const(p, 1, b_from, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md,
                                                                       0), b_scale, &m, err)))
        ond_prep_arg(p, DNNL_ARG_WEIGHTS, OND_ARG_MEM, m);
    if (!st && c && !p->in_md[2] && !(st = scaled_const(p, 2, bias, bias, c_scale, &m, err)))
        ond_prep_arg(p, DNNL_ARG_BIAS, OND_ARG_MEM, m);
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    p->out_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}

static enum ond_status prepare_inner_product(struct ond_prep *p, struct ond_error *err)
{
    const struct gemm *q = p->node->params;
    const struct ond_info *c = input_c(p->node, p->in);
    int64_t m = p->out[0].dims[0], nn = p->out[0].dims[1], k = p->in[0]->dims[1];
    dnnl_memory_desc_t src, wei, wei_from, bias, dst;
    enum ond_status st;
    /* In a bf16 session src and weights are bf16; the output stays f32 (oneDNN accumulates
     * in f32): it is usually a network's logits, where bf16's 8-bit mantissa would decide
     * close top-1 calls. */
    if ((st = ond_prep_md_dims(p, 2, (int64_t[]){m, k}, &src, err)) ||
        (st = ond_prep_md_dims(p, 2, (int64_t[]){nn, k}, &wei, err)) ||
        (st = md2(nn, k, !q->trans_b, &wei_from, err)) ||
        (st = ond_md_float(1, &nn, true, &bias, err)) ||
        (st = ond_md(&p->out[0], false, &dst, err)))
        return st;
    dnnl_inner_product_desc_t desc;
    OND_DNNL(dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference, &src, &wei,
                                                  c ? &bias : NULL, &dst), p->node, err);
    dnnl_primitive_desc_t pd;
    if ((st = ond_prep_pd(p, &desc, &pd, err)) || !pd)
        return st;
    p->want_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    ond_prep_arg(p, DNNL_ARG_SRC, OND_ARG_IN, 0);
    return finish(p, pd, &wei_from, q->alpha, &bias, q->beta, err);
}

static enum ond_status prepare_matmul(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct gemm *q = n->params;
    const struct ond_info *c = input_c(n, p->in);
    int64_t m = p->out[0].dims[0], nn = p->out[0].dims[1];
    int64_t k = p->in[0]->dims[1 - q->trans_a];
    /* alpha goes into a constant B, else into an output scale (applied after the bias). */
    bool out_scale = p->in_md[1] && q->alpha != 1.f;
    float c_scale = out_scale ? q->beta / q->alpha : q->beta;
    if (c && p->in_md[2] && c_scale != 1.f)
        return ond_prep_decline(p, "C is not constant and alpha or beta is not 1");
    if (out_scale && q->alpha == 0.f)
        return ond_prep_decline(p, "alpha is 0 and B is not constant");
    dnnl_memory_desc_t src, wei, wei_from, bias, dst;
    enum ond_status st;
    if ((st = md2(m, k, q->trans_a, &src, err)) || (st = md2(k, nn, q->trans_b, &wei_from, err)) ||
        (st = ond_md(&p->out[0], true, &dst, err)))
        return st;
    wei = wei_from;
    if (!p->in_md[1] && (st = ond_md_float(2, (int64_t[]){k, nn}, false, &wei, err)))
        return st;
    if (c) {
        /* C at rank 2, oneDNN broadcasting its dims of 1 like ONNX. */
        int64_t cd[2] = {1, 1};
        for (int i = 0; i < c->rank; i++)
            cd[2 - c->rank + i] = c->dims[i];
        if ((st = ond_md_float(2, cd, true, &bias, err)))
            return st;
    }
    int am;
    if (p->in_md[0])
        p->want_md[0] = src;
    else if ((st = ond_prep_const_from(p, 0, &src, &src, &am, err)))
        return st;
    if (p->in_md[1])
        p->want_md[1] = wei;
    if (c && p->in_md[2])
        p->want_md[2] = bias;
    dnnl_matmul_desc_t desc;
    OND_DNNL(dnnl_matmul_desc_init(&desc, &src, &wei, c ? &bias : NULL, &dst), n, err);
    dnnl_primitive_attr_t attr;
    dnnl_primitive_desc_t pd = NULL;
    if ((st = ond_prep_attr(p, &attr, err)) ||
        (out_scale && (st = ond_dnnl(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &q->alpha),
                                     "set_output_scales", n, err)))) {
        dnnl_primitive_attr_destroy(attr);
        return st;
    }
    dnnl_status_t ds = dnnl_primitive_desc_create(&pd, &desc, attr, p->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (ds == dnnl_unimplemented)
        return ond_prep_decline(p, "oneDNN has no implementation");
    OND_DNNL(ds, n, err);
    ond_prep_arg(p, DNNL_ARG_SRC, p->in_md[0] ? OND_ARG_IN : OND_ARG_MEM, p->in_md[0] ? 0 : am);
    if (p->in_md[1])
        ond_prep_arg(p, DNNL_ARG_WEIGHTS, OND_ARG_IN, 1);
    if (c && p->in_md[2])
        ond_prep_arg(p, DNNL_ARG_BIAS, OND_ARG_IN, 2);
    return finish(p, pd, &wei_from, out_scale ? 1.f : q->alpha, &bias, c_scale, err);
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct gemm *q = p->node->params;
    const struct ond_info *c = input_c(p->node, p->in);
    bool c_bias = !c || (!p->in_md[2] && (c->rank == 1 || (c->rank == 2 && c->dims[0] == 1)) &&
                         c->dims[c->rank - 1] == p->out[0].dims[1]);
    if (p->in_md[0] && !q->trans_a && !p->in_md[1] && c_bias)
        return prepare_inner_product(p, err);
    return prepare_matmul(p, err);
}

/* M * N * K */
static uint64_t macs(const struct ond_node *n)
{
    const struct gemm *p = n->params;
    const struct ond_info *a = &n->in[0]->info, *y = &n->out[0]->info;
    uint64_t mn;
    if (!p || a->rank != 2 || a->dims[1 - p->trans_a] < 0 || !ond_numel(y, 0, &mn))
        return 0;
    return mn * (uint64_t)a->dims[1 - p->trans_a];
}

#define GEMM(sym, ver, min)                                                         \
    const struct ond_op sym = {                                                     \
        .domain = "", .name = "Gemm", .since = ver,                                 \
        .min_in = min, .max_in = 3, .min_out = 1, .max_out = 1,                     \
        .params_size = sizeof(struct gemm),                                         \
        .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,           \
        .macs = macs,                                                               \
    };
GEMM(ond_op_gemm_1, 1, 3)
GEMM(ond_op_gemm_6, 6, 3)
GEMM(ond_op_gemm_7, 7, 3)
GEMM(ond_op_gemm_9, 9, 3)
GEMM(ond_op_gemm_11, 11, 2)
GEMM(ond_op_gemm_13, 13, 2)
