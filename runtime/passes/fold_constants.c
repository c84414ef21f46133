/* fold_constants.c: computes at load every node whose value does not depend on the run-time
 * inputs, and makes its outputs constants.
 *
 *   before:  Constant -> c;  ConstantOfShape([2,3]) -> z;  x[1,3,8,8] -> Shape -> Gather(0) -> g
 *   after:   c, z, g are constants (initializers); the nodes are gone
 *
 * Math: each output is the op's eval on the constant inputs, the function the reference
 * interpreter runs. Nodes are visited in order, so a whole constant subgraph folds in one pass:
 * what a folded node makes is a constant for the nodes after it (PyTorch's Shape -> Gather ->
 * Unsqueeze -> Concat -> Reshape shape chains, when the dims are static).
 *
 * Legality:
 * - every input is a constant, or the node is a Shape whose input's dims are all known: its
 *   value needs only the dims. (A symbolic dim such as the batch is not known until the run;
 *   fold_shape_chains handles the Reshapes such chains feed.)
 * - the op has an eval (ops without one cannot be computed here).
 * - no output is a graph output: every graph output keeps a node that computes it, so the
 *   written model keeps the outputs ONNX tools expect; the session computes such a node once,
 *   when it plans, anyway.
 * - every output's shape is known, its elements within the graph's max_tensor_elements and all
 *   constant data, folded included, within max_total_bytes: the budget that keeps a small
 *   ConstantOfShape from turning into a huge initializer. A node over budget stays and runs at
 *   session time; that is not an error.
 */
#include <stdlib.h>

#include "ops/op.h"
#include "runtime/passes/passes.h"

static bool value_known(const struct ond_node *n)
{
    if (ond_pass_is(n, "", "Shape"))
        return ond_info_known(&n->in[0]->info);
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] && !ond_pass_is_const(n->in[k]))
            return false;
    return true;
}

static bool within_budget(const struct ond_graph *g, const struct ond_node *n)
{
    uint64_t bytes = 0;
    for (int k = 0; k < n->n_out; k++) {
        const struct ond_tensor *t = n->out[k];
        uint64_t numel;
        if (!t || (t->flags & OND_TENSOR_OUTPUT) || !ond_dtype_size(t->info.dtype) ||
            !ond_numel(&t->info, g->opts.max_tensor_elements, &numel))
            return false;
        bytes += numel * ond_dtype_size(t->info.dtype);
    }
    return !g->opts.max_total_bytes || g->const_bytes + bytes <= g->opts.max_total_bytes;
}

static enum ond_status fold(struct ond_pass_ctx *c, struct ond_node *n, struct ond_error *err)
{
    const struct ond_info **in = calloc((size_t)n->n_in + 1, sizeof *in);
    struct ond_info *out = calloc((size_t)n->n_out + 1, sizeof *out);
    void **data = calloc((size_t)n->n_out + 1, sizeof *data);
    enum ond_status st = OND_OK;
    if (!in || !out || !data) {
        st = ond_node_fail(err, n, OND_STATUS_NO_MEMORY, "cannot fold");
        goto done;
    }
    for (int k = 0; k < n->n_in; k++)
        in[k] = n->in[k] ? &n->in[k]->info : NULL;
    for (int k = 0; k < n->n_out && !st; k++) {
        struct ond_tensor *t = n->out[k];
        out[k] = t->info;
        if (!(data[k] = ond_tensor_alloc_data(c->g, t, ond_info_bytes(&t->info), err)))
            st = err ? err->status : OND_STATUS_NO_MEMORY;
    }
    if (!st)
        st = n->op->eval(n, in, out, data, err);
    for (int k = 0; k < n->n_out && !st; k++)
        n->out[k]->flags |= OND_TENSOR_CONST;
    if (!st) {
        ond_pass_kill(n);
        c->rewrites++;
    }
done:
    free(in);
    free(out);
    free(data);
    return st;
}

enum ond_status ond_pass_fold_constants(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *n = g->nodes[i];
        if (n->dead || !n->op || !n->op->eval || !value_known(n) || !within_budget(g, n))
            continue;
        enum ond_status st = fold(c, n, err);
        if (st)
            return st;
    }
    return OND_OK;
}
