/* shape_operands.c: which graph inputs decide shapes. A session plans for concrete shapes, so
 * an input whose value flows into a shape position (Reshape's shape, Pad's pads, Unsqueeze's
 * axes...) must be known at planning: its values key the plan. Every other input is data, read
 * at run time whatever its type or size (class ids, indices into a table).
 *
 * The analysis walks back from the shape positions of every node: a tensor whose value is
 * needed needs the values of all its producer's inputs, except through Shape and Size, which
 * read only their input's dims. It is conservative (an op whose output value does not depend
 * on some input still passes the need on), never wrong: missing a shape operand would make
 * planning fail with "depends on run-time data".
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/ir.h"

/* ONNX ops and the first input index from which the inputs are shape positions, up to last
 * (inclusive). Ops ondine does not run are listed too: an unsupported model never plans, and
 * one more support only needs its op file. */
static const struct {
    const char *op;
    int first, last;
} positions[] = {
    {"Reshape", 1, 1},  {"Expand", 1, 1},   {"Slice", 1, 4},  {"Resize", 1, 3},
    {"Upsample", 1, 1}, {"ConstantOfShape", 0, 0}, {"Range", 0, 2}, {"Tile", 1, 1},
    {"Pad", 1, 3},      {"Split", 1, 1},    {"Squeeze", 1, 1}, {"Unsqueeze", 1, 1},
    {"TopK", 1, 1},     {"OneHot", 1, 1},   {"ReduceSum", 1, 1}, {"ReduceMean", 1, 1},
    {"ReduceMax", 1, 1}, {"ReduceMin", 1, 1}, {"ReduceProd", 1, 1},
};

static bool is_position(const struct ond_node *n, int k)
{
    if (*n->domain)
        return false;
    for (size_t i = 0; i < sizeof positions / sizeof *positions; i++)
        if (strcmp(n->op_type, positions[i].op) == 0)
            return k >= positions[i].first && k <= positions[i].last;
    return false;
}

bool *ond_shape_operands(const struct ond_graph *g)
{
    bool *needed = calloc((size_t)g->n_tensors + 1, sizeof *needed);
    bool *out = calloc((size_t)(g->n_inputs + g->n_defaults) + 1, sizeof *out);
    if (!needed || !out) {
        free(needed);
        free(out);
        return NULL;
    }
    /* Nodes are in topological order: backwards, a node's outputs are settled before it. */
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const struct ond_node *n = g->nodes[i];
        bool dims_only = !*n->domain &&
                         (strcmp(n->op_type, "Shape") == 0 || strcmp(n->op_type, "Size") == 0);
        bool all = false;
        for (int k = 0; k < n->n_out && !dims_only; k++)
            all |= n->out[k] && needed[n->out[k]->id];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] && (all || is_position(n, k)))
                needed[n->in[k]->id] = true;
    }
    for (int i = 0; i < g->n_inputs; i++)
        out[i] = needed[g->inputs[i]->id];
    /* Defaults are known at planning whatever they feed: primitives take them as constants. */
    for (int i = 0; i < g->n_defaults; i++)
        out[g->n_inputs + i] = true;
    free(needed);
    return out;
}
