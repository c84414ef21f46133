/* matmul.c: ONNX MatMul, opsets 1, 9 and 13 (same semantics), float, as numpy.matmul:
 * A [..., M, K] x B [..., K, N] -> [..., M, N] with the batch dims broadcast; a 1-D A is
 * promoted to [1, K] and a 1-D B to [K, 1], the added dim removed from the result. */
#include <string.h>

#include "ops/op.h"

/* The operands as matrices: batch dims of A and B padded to the output's batch rank. */
struct mm_shape {
    int nb;                       /* output batch dims */
    int64_t batch[OND_MAX_RANK], a_batch[OND_MAX_RANK], b_batch[OND_MAX_RANK];
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

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *a = in[0], *b = in[1];
    enum ond_status st;
    if ((st = ond_require_float(n, a, 0, err)) || (st = ond_require_float(n, b, 1, err)))
        return st;
    out[0].dtype = OND_DTYPE_FLOAT;
    if (a->rank == 0 || b->rank == 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "MatMul of a scalar");
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
    out[0].rank = ob.rank;
    memcpy(out[0].dims, ob.dims, sizeof(int64_t) * (size_t)ob.rank);
    if (a->rank >= 2)
        out[0].dims[out[0].rank++] = s.m;
    if (b->rank >= 2)
        out[0].dims[out[0].rank++] = s.n;
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct ond_info *a = in[0], *b = in[1];
    struct ond_info ab, bb;
    struct mm_shape s;
    (void)n;
    (void)out;
    (void)err;
    split(a, b, &ab, &bb, &s);
    int nb = ab.rank > bb.rank ? ab.rank : bb.rank;
    /* Strides (in matrices) of each batch dim of A and B; 0 where broadcast. */
    int64_t dims[OND_MAX_RANK], sa[OND_MAX_RANK], sb[OND_MAX_RANK], batches = 1;
    int64_t ra = 1, rb = 1;
    for (int i = nb - 1; i >= 0; i--) {
        int ia = i - (nb - ab.rank), ib = i - (nb - bb.rank);
        int64_t da = ia >= 0 ? ab.dims[ia] : 1, db = ib >= 0 ? bb.dims[ib] : 1;
        dims[i] = da > db ? da : db;
        sa[i] = da == 1 ? 0 : ra;
        sb[i] = db == 1 ? 0 : rb;
        ra *= da;
        rb *= db;
        batches *= dims[i];
    }
    const float *ad = a->data, *bd = b->data;
    float *y = out_data[0];
    int64_t m = s.m, k = s.k, nn = s.n;
    for (int64_t t = 0; t < batches; t++) {
        int64_t oa = 0, ob = 0, rest = t;
        for (int i = nb - 1; i >= 0; i--) {
            int64_t idx = rest % dims[i];
            rest /= dims[i];
            oa += idx * sa[i];
            ob += idx * sb[i];
        }
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
        .infer = infer, .eval = eval, .macs = macs,                                 \
    };
MATMUL(ond_op_matmul_1, 1)
MATMUL(ond_op_matmul_9, 9)
MATMUL(ond_op_matmul_13, 13)
