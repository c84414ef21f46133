/* eliminate_identity.c: removes Identity and inference-mode Dropout.
 *
 *   before:  P -> x -> Identity -> y -> C1, C2        after:  P -> x -> C1, C2
 *            P -> x -> Dropout -> y (, mask)                  P -> x -> ...
 *   when y is a graph output:  P -> x -> Identity -> y   becomes   P -> y
 *
 * Math: y = x. Dropout at inference is the identity (ratio is not applied); its optional mask
 * is all ones.
 *
 * Legality:
 * - Dropout's mask has no reader and is not a graph output: the node is what makes the mask.
 * - Dropout runs in inference mode: shape inference refuses a training_mode that is not a
 *   constant false (ops/dropout.c), so every loaded Dropout qualifies.
 * - y a graph output: the output keeps its name, so x's producer writes y instead. That needs
 *   x made by a node (not a graph input or constant, which have no producer to rewire), read
 *   by nothing else and not a graph output itself (x and y would then be two outputs with one
 *   value). Otherwise the node stays.
 */
#include "runtime/passes/passes.h"

static bool mask_unused(const struct ond_node *n)
{
    for (int k = 1; k < n->n_out; k++)
        if (n->out[k] && (n->out[k]->uses || (n->out[k]->flags & OND_TENSOR_OUTPUT)))
            return false;
    return true;
}

/* y is a graph output: x's producer makes y directly. */
static bool rewire_producer(struct ond_tensor *x, struct ond_tensor *y)
{
    struct ond_node *p = x->producer;
    if (!p || p->dead || x->uses != 1 || (x->flags & OND_TENSOR_OUTPUT))
        return false;
    for (int k = 0; k < p->n_out; k++)
        if (p->out[k] == x) {
            p->out[k] = y;
            y->producer = p;
            x->producer = NULL;
            return true;
        }
    return false;
}

enum ond_status ond_pass_eliminate_identity(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    (void)err;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *n = g->nodes[i];
        if (!ond_pass_is(n, "", "Identity") && !(ond_pass_is(n, "", "Dropout") && mask_unused(n)))
            continue;
        struct ond_tensor *x = n->in[0], *y = n->out[0];
        if (!y)
            continue;
        if (y->flags & OND_TENSOR_OUTPUT) {
            if (!rewire_producer(x, y))
                continue;
        } else {
            for (int j = i + 1; j < g->n_nodes; j++)
                for (int k = 0; k < g->nodes[j]->n_in; k++)
                    if (g->nodes[j]->in[k] == y)
                        ond_pass_set_input(c, g->nodes[j], k, x);
        }
        ond_pass_kill(n);
        c->rewrites++;
    }
    return OND_OK;
}
