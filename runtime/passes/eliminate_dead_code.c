/* eliminate_dead_code.c: removes nodes whose outputs nobody reads, and frees constants nobody
 * reads any more.
 *
 *   before:  x -> Shape -> Gather -> t   (t unused)      after:  (gone)
 *            BatchNormalization's scale, B, mean, var after folding: freed
 *
 * Legality:
 * - a node goes when none of its outputs is read or is a graph output: nothing observes it.
 *   Nodes are visited from the last, so a whole unused chain goes in one pass.
 * - a constant is freed when no node reads it and it is not a graph output; its name stays
 *   taken, so later passes cannot reuse it for another value.
 */
#include <stdlib.h>

#include "runtime/passes/passes.h"

static bool observed(const struct ond_node *n)
{
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] && (n->out[k]->uses > 0 || (n->out[k]->flags & OND_TENSOR_OUTPUT)))
            return true;
    return false;
}

enum ond_status ond_pass_eliminate_dead_code(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    (void)err;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        struct ond_node *n = g->nodes[i];
        if (n->dead || observed(n))
            continue;
        ond_pass_kill(n);
        c->rewrites++;
    }
    for (int i = 0; i < g->n_tensors; i++) {
        struct ond_tensor *t = g->tensors[i];
        if (!(t->flags & OND_TENSOR_CONST) || t->uses > 0 || (t->flags & OND_TENSOR_OUTPUT) ||
            !t->own)
            continue;
        free(t->own);
        g->const_bytes -= t->nbytes;
        t->own = NULL;
        t->nbytes = 0;
        t->info.data = NULL;
        t->flags &= ~(unsigned)OND_TENSOR_CONST;
    }
    return OND_OK;
}
