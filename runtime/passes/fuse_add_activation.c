/* fuse_add_activation.c: an activation after an Add that no Conv took (fuse_residual_add runs
 * first) becomes a post-op of the Add.
 *
 *   before:  Add(a, b) -> z -> Relu -> r        after:  Add(a, b) [relu] -> r
 *   (old-opset Sum of two inputs counts as Add, and becomes one)
 *
 * Math: r = act(a + b), the add's eval applying the activation to its output.
 *
 * Legality:
 * - z has one reader, the activation, and is not a graph output.
 * - the add is float, and the activation one a post-op can stand for (Relu, Clip with constant
 *   bounds, LeakyRelu, Sigmoid, HardSwish).
 * - an Add of opset 1 or 6, or a Sum, has two inputs of the same shape: the fused node is the
 *   numpy-broadcasting Add (opset 14, what ai.ondine.FusedAdd means in a file), which agrees
 *   with those only without broadcasting.
 * - the Add has room for one more post-op.
 */
#include "ops/op.h"
#include "runtime/passes/passes.h"

/* An add whose semantics are the numpy Add's; rebinds an old Add or a Sum to it. */
static bool as_numpy_add(struct ond_pass_ctx *c, struct ond_node *n)
{
    bool add = ond_pass_is(n, "", "Add"), sum = ond_pass_is(n, "", "Sum") && n->n_in == 2;
    if ((!add && !sum) || !n->in[0] || !n->in[1] || n->in[0]->info.dtype != OND_DTYPE_FLOAT)
        return false;
    if (add && n->op->since >= 7)
        return true;
    if (!ond_pass_same_shape(&n->in[0]->info, &n->in[1]->info))
        return false;
    n->op = ond_op_find("", "Add", 14);
    n->op_type = n->op->name;
    n->opset = 14;
    n->params = NULL;
    ond_node_drop_attrs(c->g, n);
    return true;
}

enum ond_status ond_pass_fuse_add_activation(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *add = g->nodes[i], *r;
        struct ond_postop q;
        const char *was = add->op_type;
        if (!(ond_pass_is(add, "", "Add") || ond_pass_is(add, "", "Sum")) || !add->out[0])
            continue;
        /* One activation after another joins in order. */
        while ((r = ond_pass_sole_user(c, add->out[0])) && ond_pass_activation(r, &q) &&
               ond_pass_can_add_post(add, q.kind) && as_numpy_add(c, add)) {
            char post[128];
            ond_pass_add_post(add, q.kind, q.alpha, q.beta, -1, r->name);
            ond_pass_take_output(add, r);
            enum ond_status st = ond_pass_fusion(c, err, "%s '%s' + %s '%s' -> Add '%s' [%s]",
                                                 was, add->name, r->op_type, r->name, add->name,
                                                 ond_post_str(add, post, sizeof post));
            if (st)
                return st;
            was = add->op_type;
            c->rewrites++;
        }
    }
    return OND_OK;
}
