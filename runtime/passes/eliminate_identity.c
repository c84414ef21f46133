/* eliminate_identity.c: removes Identity, inference-mode Dropout, Pad by zero everywhere and
 * Concat of one input.
 *
 *   before:  P -> x -> Identity -> y -> C1, C2        after:  P -> x -> C1, C2
 *            P -> x -> Dropout -> y (, mask)                  P -> x -> ...
 *            P -> x -> Pad(pads all 0) -> y                   P -> x -> ...
 *            P -> x -> Concat(x) -> y                         P -> x -> ...
 *   when y is a graph output:  P -> x -> Identity -> y   becomes   P -> y
 *
 * Math: y = x. Dropout at inference is the identity (ratio is not applied); its optional mask
 * is all ones. A Pad adding and removing nothing copies x whatever its mode and value; a
 * Concat of one input copies it. torch exports both: DenseNet's transitions as a Pad by zero
 * before each AveragePool, its first dense layers as a Concat of one map. Left in, the Pad
 * ran eval on a plain copy of the map, and the layers after it ran in plain layouts on
 * oneDNN's slow kernels (DenseNet-121: 41% of its time in plain BatchNormalizations).
 *
 * Legality:
 * - Pad: its pads are known to be 0 here: the attribute (opsets 2-10) or a constant pads
 *   input (11 and later); pads computed at run time may not be.
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

static bool zero_pad(const struct ond_node *n)
{
    int64_t pads[2 * OND_MAX_RANK];
    int count = 0;
    if (!ond_pass_pad_amounts(n, pads, &count))
        return false;
    for (int i = 0; i < count; i++)
        if (pads[i])
            return false;
    return true;
}

static bool is_identity(const struct ond_node *n)
{
    return ond_pass_is(n, "", "Identity") || (ond_pass_is(n, "", "Dropout") && mask_unused(n)) ||
           (ond_pass_is(n, "", "Pad") && n->n_in >= 1 && n->in[0] && zero_pad(n)) ||
           (ond_pass_is(n, "", "Concat") && n->n_in == 1 && n->in[0]);
}

enum ond_status ond_pass_eliminate_identity(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    (void)err;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *n = g->nodes[i];
        if (!is_identity(n))
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
