/* matmul.c: ONNX MatMul, opsets 1, 9 and 13 (same semantics), float, as numpy.matmul:
 * A [..., M, K] x B [..., K, N] -> [..., M, N] with the batch dims broadcast; a 1-D A is
 * promoted to [1, K] and a 1-D B to [K, 1], the added dim removed from the result.
 * Sessions: one oneDNN matmul over the operands as plain matrices of the output's rank (views
 * of the plain inputs), or as 2-D matrices when B is one matrix for all batches (A's batch dims
 * then count as rows); a constant B is reordered once into the layout oneDNN picks. */
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

/* The operands as matrices: batch dims of A and B apart from their last two. */
struct mm_shape {
    int64_t m, k, kb, n;
};

static void split(const struct ond_info *a, const struct ond_info *b, struct ond_info *ab,
                  struct ond_info *bb, struct mm_shape *s)
{
    memset(ab, 0, sizeof *ab);
    memset(bb, 0, sizeof *bb);
    s->m = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
    s->k = a->dims[a->rank - 1];
    s->kb = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0];
    s->n = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    ab->rank = a->rank > 2 ? a->rank - 2 : 0;
    bb->rank = b->rank > 2 ? b->rank - 2 : 0;
    memcpy(ab->dims, a->dims, sizeof(int64_t) * (size_t)ab->rank);
    memcpy(bb->dims, b->dims, sizeof(int64_t) * (size_t)bb->rank);
}

enum ond_status ond_matmul_shape(const struct ond_node *n, const struct ond_info *a,
                                 const struct ond_info *b, struct ond_info *out,
                                 struct ond_error *err)
{
    enum ond_status st;
    if (a->rank == 0 || b->rank == 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "%s of a scalar", n->op_type);
    if (a->rank < 0 || b->rank < 0)
        return OND_OK;
    struct ond_info ab, bb, ob = {0};
    struct mm_shape s;
    split(a, b, &ab, &bb, &s);
    if (s.k >= 0 && s.kb >= 0 && s.k != s.kb)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "inner dims differ: A has K %lld, B %lld", (long long)s.k,
                             (long long)s.kb);
    if ((st = ond_broadcast(n, &ab, &bb, &ob, err)))
        return st;
    out->rank = ob.rank;
    memcpy(out->dims, ob.dims, sizeof(int64_t) * (size_t)ob.rank);
    if (a->rank >= 2)
        out->dims[out->rank++] = s.m;
    if (b->rank >= 2)
        out->dims[out->rank++] = s.n;
    return OND_OK;
}

void ond_mm_init(const struct ond_info *a, const struct ond_info *b, struct ond_mm *mm)
{
    struct ond_info ab, bb;
    struct mm_shape s;
    split(a, b, &ab, &bb, &s);
    mm->m = s.m;
    mm->k = s.k;
    mm->n = s.n;
    mm->nb = ab.rank > bb.rank ? ab.rank : bb.rank;
    mm->batches = 1;
    int64_t ra = 1, rb = 1;
    for (int i = mm->nb - 1; i >= 0; i--) {
        int ia = i - (mm->nb - ab.rank), ib = i - (mm->nb - bb.rank);
        int64_t da = ia >= 0 ? ab.dims[ia] : 1, db = ib >= 0 ? bb.dims[ib] : 1;
        mm->dims[i] = da > db ? da : db;
        mm->sa[i] = da == 1 ? 0 : ra;
        mm->sb[i] = db == 1 ? 0 : rb;
        ra *= da;
        rb *= db;
        mm->batches *= mm->dims[i];
    }
}

void ond_mm_batch(const struct ond_mm *mm, int64_t t, int64_t *ia, int64_t *ib)
{
    int64_t oa = 0, ob = 0, rest = t;
    for (int i = mm->nb - 1; i >= 0; i--) {
        int64_t idx = rest % mm->dims[i];
        rest /= mm->dims[i];
        oa += idx * mm->sa[i];
        ob += idx * mm->sb[i];
    }
    *ia = oa;
    *ib = ob;
}

int64_t ond_mm_rows(const struct ond_info *a)
{
    return a->rank >= 2 ? a->dims[a->rank - 2] : a->rank == 1 ? 1 : OND_DIM_UNKNOWN;
}

int64_t ond_mm_cols(const struct ond_info *b)
{
    return b->rank >= 2 ? b->dims[b->rank - 1] : b->rank == 1 ? 1 : OND_DIM_UNKNOWN;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    enum ond_status st;
    if ((st = ond_require_float(n, in[0], 0, err)) || (st = ond_require_float(n, in[1], 1, err)))
        return st;
    out[0].dtype = OND_DTYPE_FLOAT;
    return ond_matmul_shape(n, in[0], in[1], &out[0], err);
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    struct ond_mm mm;
    (void)n;
    (void)out;
    (void)err;
    ond_mm_init(in[0], in[1], &mm);
    const float *ad = in[0]->data, *bd = in[1]->data;
    float *y = out_data[0];
    int64_t m = mm.m, k = mm.k, nn = mm.n;
    for (int64_t t = 0; t < mm.batches; t++) {
        int64_t oa, ob;
        ond_mm_batch(&mm, t, &oa, &ob);
        const float *am = ad + oa * m * k, *bm = bd + ob * k * nn;
        float *ym = y + t * m * nn;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < nn; j++) {
                double acc = 0.0;
                for (int64_t l = 0; l < k; l++)
                    acc += (double)am[i * k + l] * bm[l * nn + j];
                ym[i * nn + j] = (float)acc;
            }
    }
    return OND_OK;
}

/* x as an operand of rank r: a 1-D x promoted to a matrix ([1, K] for A, [K, 1] for B),
 * then leading 1s. */
static void as_matrix(const struct ond_info *x, bool is_a, int r, int64_t *d)
{
    int64_t m[OND_MAX_RANK + 1];
    int rank = x->rank;
    memcpy(m, x->dims, sizeof(int64_t) * (size_t)rank);
    if (rank == 1) {
        m[1] = is_a ? m[0] : 1;
        m[0] = is_a ? 1 : m[0];
        rank = 2;
    }
    for (int i = 0; i < r; i++)
        d[i] = i < r - rank ? 1 : m[i - (r - rank)];
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct ond_info *a = p->in[0], *b = p->in[1];
    int r = a->rank > b->rank ? a->rank : b->rank;
    r = r < 2 ? 2 : r;
    int64_t ad[OND_MAX_RANK], bd[OND_MAX_RANK], yd[OND_MAX_RANK];
    /* One B for every batch (ConvNeXt's and ViT's Linear layers on [N, H, W, C]): A's batch
     * dims join its rows, one matmul of N*H*W rows instead of N*H small ones of W rows each
     * (ConvNeXt's ran at a fifth of the convolutions' multiply-add rate). */
    bool rows = a->rank > 2 && b->rank >= 2;
    for (int i = 0; rows && i < b->rank - 2; i++)
        rows = b->dims[i] == 1;
    if (rows) {
        r = 2;
        ad[0] = 1;
        for (int i = 0; i < a->rank - 1; i++)
            ad[0] *= a->dims[i];
        ad[1] = bd[0] = a->dims[a->rank - 1];
        bd[1] = b->dims[b->rank - 1];
    } else {
        as_matrix(a, true, r, ad);
        as_matrix(b, false, r, bd);
    }
    for (int i = 0; i < r - 2; i++)
        yd[i] = ad[i] > bd[i] ? ad[i] : bd[i];
    yd[r - 2] = ad[r - 2];
    yd[r - 1] = bd[r - 1];
    dnnl_memory_desc_t src, wei, dst;
    enum ond_status st;
    int am = -1, wm;
    if ((st = ond_md_float(r, ad, true, &src, err)) ||
        (st = ond_md_float(r, bd, !!p->in_md[1], &wei, err)) ||
        (st = ond_md_float(r, yd, true, &dst, err)))
        return st;
    if (p->in_md[0])
        p->want_md[0] = src;
    else if ((st = ond_prep_const(p, 0, &src, &am, err)))
        return st;
    if (p->in_md[1])
        p->want_md[1] = wei;
    dnnl_matmul_desc_t desc;
    OND_DNNL(dnnl_matmul_desc_init(&desc, &src, &wei, NULL, &dst), n, err);
    dnnl_primitive_desc_t pd;
    if ((st = ond_prep_pd(p, &desc, &pd, err)) || !pd)
        return st;
    if (!p->in_md[1] &&
        (st = ond_prep_const(p, 1, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                             &wm, err))) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    p->out_md[0] = dst;
    ond_prep_arg(p, DNNL_ARG_SRC, p->in_md[0] ? OND_ARG_IN : OND_ARG_MEM, p->in_md[0] ? 0 : am);
    ond_prep_arg(p, DNNL_ARG_WEIGHTS, p->in_md[1] ? OND_ARG_IN : OND_ARG_MEM,
                 p->in_md[1] ? 1 : wm);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}

/* Output elements * K */
static uint64_t macs(const struct ond_node *n)
{
    const struct ond_info *a = &n->in[0]->info, *y = &n->out[0]->info;
    uint64_t numel;
    if (a->rank < 1 || a->dims[a->rank - 1] < 0 || !ond_numel(y, 0, &numel))
        return 0;
    return numel * (uint64_t)a->dims[a->rank - 1];
}

#define MATMUL(sym, ver)                                                            \
    const struct ond_op sym = {                                                     \
        .domain = "", .name = "MatMul", .since = ver,                               \
        .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,                       \
        .infer = infer, .eval = eval, .prepare = prepare, .macs = macs,             \
    };
MATMUL(ond_op_matmul_1, 1)
MATMUL(ond_op_matmul_9, 9)
MATMUL(ond_op_matmul_13, 13)
