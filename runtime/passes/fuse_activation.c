/* fuse_activation.c: an activation after a Conv, Gemm, InnerProduct or ScaleShift becomes a
 * post-op of that node.
 *
 *   before:  x -> Conv -> y -> Relu -> r         after:  x -> Conv [relu] -> r
 *   (also Clip with constant bounds, LeakyRelu, Sigmoid, HardSwish; chains of them in order)
 *
 * Math: r = act(op(x)). oneDNN applies eltwise post-ops to the Conv's and InnerProduct's
 * accumulators before writing; the plain-C evals (Gemm, ScaleShift, and the reference
 * interpreter for all) apply them to the output with the activation ops' own formulas.
 *
 * Legality:
 * - y is the node's output 0, has one reader, the activation, and is not a graph output: the
 *   value before the activation disappears.
 * - the activation reads float data, and a Clip's bounds are absent or constant float scalars
 *   (a post-op's parameters are fixed when the primitive is made).
 * - the node has room for one more post-op (at most 4) and none that oneDNN runs with the
 *   same eltwise algorithm (ond_pass_can_add_post: oneDNN would run it with the first's
 *   parameters).
 * Runs after fuse_residual_add, which gives the Relu after a residual add to the Conv together
 * with the sum; the Relu after an Add no Conv took is fuse_add_activation's.
 */
#include "ops/op.h"
#include "runtime/passes/passes.h"

static bool takes_post_ops(const struct ond_node *n)
{
    return ond_pass_is(n, "", "Conv") || ond_pass_is(n, "", "Gemm") ||
           ond_pass_is(n, "ai.ondine", "InnerProduct") || ond_pass_is(n, "ai.ondine", "ScaleShift");
}

enum ond_status ond_pass_fuse_activation(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *r = g->nodes[i];
        struct ond_postop q;
        if (!ond_pass_activation(r, &q))
            continue;
        struct ond_tensor *y = r->in[0];
        struct ond_node *p = y->producer;
        if (!takes_post_ops(p) || p->out[0] != y || ond_pass_sole_user(c, y) != r ||
            !ond_pass_add_post(p, q.kind, q.alpha, q.beta, -1, r->name))
            continue;
        char post[128];
        ond_pass_take_output(p, r);
        enum ond_status st = ond_pass_fusion(c, err, "%s '%s' + %s '%s' -> %s '%s' [%s]",
                                             p->op_type, p->name, r->op_type, r->name,
                                             p->op_type, p->name,
                                             ond_post_str(p, post, sizeof post));
        if (st)
            return st;
        c->rewrites++;
    }
    return OND_OK;
}
