/* fold_shape_chains.c: gives a Reshape a constant shape when its shape input is shape
 * arithmetic on a symbolic dim (PyTorch's x.view(x.size(0), -1) with a dynamic batch).
 *
 *   before:  x[N,C,H,W] -> Shape -> Gather(0) -> Unsqueeze -> Concat(., [-1]) -> s
 *            Reshape(x, s) -> y[N,C*H*W]
 *   after:   Reshape(x, [0, C*H*W]) -> y      (the chain is left to eliminate_dead_code)
 *
 * With static dims fold_constants computes such a chain; with a symbolic batch its value is
 * known only as "dim 0 of x, then the rest", which a Reshape shape can say with a 0 (copy the
 * input's dim) and at most one -1 (infer from the element count).
 *
 * Math: shape inference traced the chain (ond_shape_value) and gave y's dims. The constant has,
 * for each dim i of y: y's dim when known; 0 when y's dim is the symbol x has at the same
 * index; otherwise -1, which the element count fixes. Input dims other than symbolic ones are
 * fixed by the model (a run refuses inputs that differ), so known dims stay right at run time.
 *
 * Legality:
 * - the shape input is not a constant but its value traces through shape ops (Shape, Gather,
 *   Unsqueeze, Squeeze, Concat, Cast): then it is a function of dims only, which inference
 *   resolved, and not of data.
 * - allowzero is 0: with allowzero=1 a 0 is a literal zero, not a copy.
 * - y has no dim of 0 (a literal 0 would copy instead) and at most one dim that is neither
 *   known nor copied at its index (a shape has at most one -1).
 */
#include "ops/op.h"
#include "runtime/passes/passes.h"

/* The constant shape for y = Reshape(x, .), or false. */
static bool constant_shape(const struct ond_info *x, const struct ond_info *y, int64_t *shape)
{
    int free_dims = 0;
    if (y->rank < 0)
        return false;
    for (int i = 0; i < y->rank; i++) {
        int64_t d = y->dims[i];
        if (d == 0)
            return false;
        if (d > 0)
            shape[i] = d;
        else if (d <= -2 && i < x->rank && x->dims[i] == d)
            shape[i] = 0;
        else if (free_dims++ == 0)
            shape[i] = -1;
        else
            return false;
    }
    return true;
}

enum ond_status ond_pass_fold_shape_chains(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *n = g->nodes[i];
        int64_t allowzero = 0, v[OND_MAX_RANK], shape[OND_MAX_RANK];
        bool dim[OND_MAX_RANK];
        int count;
        if (!ond_pass_is(n, "", "Reshape") || n->op->since < 5 || n->n_in < 2 || !n->in[1] ||
            ond_pass_is_const(n->in[1]) || !n->out[0] ||
            ond_attr_int(n, "allowzero", 0, &allowzero, NULL) || allowzero ||
            !ond_shape_value(n->in[1], v, dim, OND_MAX_RANK, &count) ||
            !constant_shape(&n->in[0]->info, &n->out[0]->info, shape))
            continue;
        struct ond_info info = {.dtype = OND_DTYPE_INT64, .rank = 1,
                                .dims = {n->out[0]->info.rank}};
        void *data;
        struct ond_tensor *t = ond_pass_new_const(c, n->name, "shape", &info, &data, err);
        if (!t)
            return err ? err->status : OND_STATUS_NO_MEMORY;
        for (int k = 0; k < info.dims[0]; k++)
            ((int64_t *)data)[k] = shape[k];
        ond_pass_set_input(c, n, 1, t);
        c->rewrites++;
    }
    return OND_OK;
}
