/* gemm.c: ONNX Gemm, opsets 1, 6, 7, 9, 11 and 13, float:
 *   Y [M,N] = alpha * A' * B' + beta * C, A' = transA ? A^T : A, B' = transB ? B^T : B.
 * Attributes: alpha, beta (1.0), transA, transB (0). C is required before opset 11 and
 * optional from 11 on. It is broadcast unidirectionally to [M,N] (a scalar, [N], [1,N], [M,1],
 * [M,N]...); before opset 7 only when the attribute broadcast=1, and with broadcast=0 (the
 * default) C must be exactly [M,N]. eval applies the node's post-ops. */
#include "ops/op.h"

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
    const float *ad = a->data, *bd = b->data, *cd = c ? c->data : NULL;
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
    return ond_apply_post(n, in, y, (uint64_t)(m * nn), err);
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
        .parse = parse, .infer = infer, .eval = eval, .macs = macs,                 \
    };
GEMM(ond_op_gemm_1, 1, 3)
GEMM(ond_op_gemm_6, 6, 3)
GEMM(ond_op_gemm_7, 7, 3)
GEMM(ond_op_gemm_9, 9, 3)
GEMM(ond_op_gemm_11, 11, 2)
GEMM(ond_op_gemm_13, 13, 2)
