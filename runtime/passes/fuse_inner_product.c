/* fuse_inner_product.c: Flatten (or a Reshape that flattens) followed by Gemm becomes one
 * ai.ondine InnerProduct that reads the unflattened tensor.
 *
 *   before:  x[N,C,H,W] -> Flatten(axis 1) -> f[N,K] -> Gemm(f, B, C) -> y[N,M]
 *   after:   x[N,C,H,W] -> InnerProduct(x, W, b) -> y[N,M]       (K = C*H*W)
 *
 * Math: Gemm gives y = alpha * f B' + beta * C with B' = transB ? B^T : B; an inner product
 * gives y = x' W^T + b with x' = x read as [N,K]. So W = alpha * (transB ? B : B^T), [M,K],
 * and b = beta * C broadcast to [M]. B and C are reused when they already are W and b
 * (transB = 1, alpha = 1; C of shape [M], beta = 1), else new constants are made.
 *
 * Legality: the rules below, in the words `inspect --passes --why-not` reports a candidate (a
 * Gemm reading a Flatten's or a Reshape's output) with when it breaks one.
 */
#include <string.h>

#include "ops/op.h"
#include "runtime/passes/passes.h"

/* Either is x seen as [N,K] without moving data. */
static const char FLATTENS[] = "Flatten's axis is 1, or the Reshape's output is [x's dim 0, "
                               "rest] (the same dim 0, known or the same symbol, rank 2)";
/* It disappears. */
static const char ONE_READER[] = "the flattened tensor has one reader, the Gemm's A input, and "
                                 "is not a graph output";
/* The sources oneDNN's inner product takes. */
static const char SOURCE[] = "x is float, of rank 2 to 5";
/* A' = f is the flattened x, row per sample. */
static const char NO_TRANS_A[] = "transA = 0";
/* The weights are computed now. */
static const char WEIGHTS[] = "B is a constant float [K,M] or [M,K] (transB) with K = the "
                              "product of x's dims after dim 0";
/* An inner product's bias is per output; a C that varies along the rows ([N,M], [N,1]) is not. */
static const char BIAS[] = "C is absent, or a constant float of one value or one per output "
                           "([1], [M], [1,M])";
/* Whose extra input would not carry over. */
static const char NO_SUM[] = "the Gemm carries no sum or add post-op";

/* The rule that stops p (a Flatten or Reshape making gemm's A) from fusing, as far as it and
 * its input go, or NULL. */
static const char *flattening(const struct ond_pass_ctx *c, const struct ond_node *gemm,
                              const struct ond_node *p)
{
    const struct ond_tensor *f = gemm->in[0];
    if (ond_pass_sole_user(c, f) != gemm)
        return ONE_READER;
    const struct ond_info *x = &p->in[0]->info, *y = &f->info;
    if (x->dtype != OND_DTYPE_FLOAT || x->rank < 2 || x->rank > 5)
        return SOURCE;
    if (ond_pass_is(p, "", "Flatten")) {
        int64_t axis;
        bool at_1 = !ond_attr_int(p, "axis", 1, &axis, NULL) && (axis == 1 || axis == 1 - x->rank);
        return at_1 ? NULL : FLATTENS;
    }
    bool keeps_dim0 = y->rank == 2 && x->dims[0] != OND_DIM_UNKNOWN && x->dims[0] != 0 &&
                      y->dims[0] == x->dims[0];
    return keeps_dim0 ? NULL : FLATTENS;
}

struct gemm_attrs {
    float alpha, beta;
    int64_t trans_a, trans_b;
};

static bool gemm_attrs(const struct ond_node *n, struct gemm_attrs *a)
{
    return !ond_attr_float(n, "alpha", 1.f, &a->alpha, NULL) &&
           !ond_attr_float(n, "beta", 1.f, &a->beta, NULL) &&
           !ond_attr_int(n, "transA", 0, &a->trans_a, NULL) &&
           !ond_attr_int(n, "transB", 0, &a->trans_b, NULL);
}

/* Elements of x after dim 0, or -1 when unknown. */
static int64_t row_size(const struct ond_info *x)
{
    int64_t k = 1;
    for (int i = 1; i < x->rank; i++)
        k = ond_dim_mul(k, x->dims[i]);
    return k;
}

/* W [M,K] from B: B itself when it already is W, else a new constant. */
static struct ond_tensor *weights(struct ond_pass_ctx *c, struct ond_node *gemm,
                                  const struct gemm_attrs *a, int64_t m, int64_t k,
                                  struct ond_error *err)
{
    struct ond_tensor *b = gemm->in[1];
    if (a->trans_b && a->alpha == 1.f)
        return b;
    /* Read here: B left in the model file (runtime/ir.h) gets its own copy first. */
    if (ond_tensor_materialize(c->g, b, err))
        return NULL;
    struct ond_info info = {.dtype = OND_DTYPE_FLOAT, .rank = 2, .dims = {m, k}};
    void *data;
    struct ond_tensor *w = ond_pass_new_const(c, gemm->name, "weights", &info, &data, err);
    if (!w)
        return NULL;
    const float *bd = b->info.data;
    float *wd = data;
    for (int64_t j = 0; j < m; j++)
        for (int64_t l = 0; l < k; l++)
            wd[j * k + l] = a->alpha * (a->trans_b ? bd[j * k + l] : bd[l * m + j]);
    return w;
}

/* b [M] from C (NULL when absent): C itself when it already is b, else a new constant. */
static bool bias(struct ond_pass_ctx *c, struct ond_node *gemm, const struct gemm_attrs *a,
                 int64_t m, struct ond_tensor **out, struct ond_error *err)
{
    struct ond_tensor *t = gemm->n_in > 2 ? gemm->in[2] : NULL;
    *out = t;
    if (!t || (a->beta == 1.f && t->info.rank == 1 && t->info.dims[0] == m))
        return true;
    struct ond_info info = {.dtype = OND_DTYPE_FLOAT, .rank = 1, .dims = {m}};
    void *data;
    uint64_t numel;
    if (!(*out = ond_pass_new_const(c, gemm->name, "bias", &info, &data, err)))
        return false;
    ond_numel(&t->info, 0, &numel);
    const float *cd = t->info.data;
    for (int64_t j = 0; j < m; j++)
        ((float *)data)[j] = a->beta * cd[numel == 1 ? 0 : j];
    return true;
}

/* C's shape is one value or one per output. */
static bool bias_shape(const struct ond_tensor *t, int64_t m)
{
    uint64_t numel;
    if (!t)
        return true;
    if (!ond_pass_is_const(t) || t->info.dtype != OND_DTYPE_FLOAT || t->info.rank > 2 ||
        !ond_numel(&t->info, 0, &numel))
        return false;
    if (numel == 1)
        return true;
    return numel == (uint64_t)m && t->info.dims[t->info.rank - 1] == m;
}

/* The rule that stops Gemm gemm, reading Flatten or Reshape flat's output, from fusing, or
 * NULL; *a gets gemm's attributes. */
static const char *rejects(const struct ond_pass_ctx *c, const struct ond_node *gemm,
                           const struct ond_node *flat, struct gemm_attrs *a)
{
    const struct ond_info *x = &flat->in[0]->info, *b = &gemm->in[1]->info;
    const char *why = flattening(c, gemm, flat);
    int64_t k = row_size(x);
    if (!why && gemm->n_in > 3)
        why = NO_SUM;
    if (!why && (!gemm_attrs(gemm, a) || a->trans_a))
        why = NO_TRANS_A;
    if (!why && (!ond_pass_is_const(gemm->in[1]) || b->dtype != OND_DTYPE_FLOAT ||
                 b->rank != 2 || k < 0 || b->dims[a->trans_b ? 1 : 0] != k))
        why = WEIGHTS;
    if (!why && !bias_shape(gemm->n_in > 2 ? gemm->in[2] : NULL, b->dims[a->trans_b ? 0 : 1]))
        why = BIAS;
    return why;
}

/* Gemm n's Flatten or Reshape producer, the pattern's first node, or NULL. */
static struct ond_node *flattener(const struct ond_node *n)
{
    struct ond_node *p = n->in[0] ? n->in[0]->producer : NULL;
    return ond_pass_is(p, "", "Flatten") || ond_pass_is(p, "", "Reshape") ? p : NULL;
}

bool ond_pass_inner_product_takes(const struct ond_pass_ctx *c, const struct ond_node *n)
{
    struct gemm_attrs a;
    const struct ond_node *flat = ond_pass_is(n, "", "Gemm") ? flattener(n) : NULL;
    return flat && ond_pass_will_run(c, "fuse_inner_product") && !rejects(c, n, flat, &a);
}

enum ond_status ond_pass_fuse_inner_product(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *gemm = g->nodes[i];
        struct gemm_attrs a;
        struct ond_node *flat = ond_pass_is(gemm, "", "Gemm") ? flattener(gemm) : NULL;
        if (!flat)
            continue;
        struct ond_tensor *w, *bt;
        const char *why = rejects(c, gemm, flat, &a);
        const struct ond_node *pattern[] = {flat, gemm};
        if (why) {
            enum ond_status st = ond_pass_not_fused(c, err, 2, pattern, why);
            if (st)
                return st;
            continue;
        }
        int64_t k = row_size(&flat->in[0]->info), m = gemm->in[1]->info.dims[a.trans_b ? 0 : 1];
        if (!(w = weights(c, gemm, &a, m, k, err)) || !bias(c, gemm, &a, m, &bt, err))
            return err ? err->status : OND_STATUS_NO_MEMORY;
        enum ond_status st = ond_pass_grow_inputs(c, gemm, 3, err);
        if (st)
            return st;
        ond_pass_set_input(c, gemm, 0, flat->in[0]);
        ond_pass_set_input(c, gemm, 1, w);
        ond_pass_set_input(c, gemm, 2, bt);
        if (!bt)
            gemm->n_in = 2;
        if ((st = ond_pass_rebind(c, gemm, "ai.ondine", "InnerProduct", err)) ||
            (st = ond_pass_fusion(c, err, 2, pattern, gemm, NULL,
                                  "%s '%s' + Gemm '%s' -> InnerProduct '%s'",
                                  flat->op_type, flat->name, gemm->name, gemm->name)))
            return st;
        ond_pass_kill(flat);
        c->rewrites++;
    }
    return OND_OK;
}
