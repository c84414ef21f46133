/* fuse_activation.c: an activation after a Conv, Gemm, InnerProduct or ScaleShift becomes a
 * post-op of that node.
 *
 *   before:  x -> Conv -> y -> Relu -> r         after:  x -> Conv [relu] -> r
 *   (also Clip with constant bounds, LeakyRelu, Sigmoid, HardSwish, and the ops whose kernel is
 *   one oneDNN eltwise algorithm with a post-op kind: Tanh, Elu, Gelu, Swish, Softplus, Mish,
 *   Abs, Sqrt, Exp; chains of them in order)
 *
 * Math: r = act(op(x)). oneDNN applies eltwise post-ops to the Conv's and InnerProduct's
 * accumulators before writing; the plain-C evals (Gemm, ScaleShift, and the reference
 * interpreter for all) apply them to the output with the activation ops' own formulas.
 *
 * Legality: the rules below, in the words `inspect --passes --why-not` reports a candidate (an
 * activation, or a Clip, reading such a node's output) with when it breaks one.
 * Runs after fuse_residual_add, which gives the Relu after a residual add to the Conv together
 * with the sum; the Relu after an Add no Conv took is fuse_add_activation's.
 */
#include "ops/op.h"
#include "runtime/passes/passes.h"

/* The value before the activation disappears. */
static const char ONE_READER[] = "the node's output 0 has one reader, the activation, and is "
                                 "not a graph output";
/* A post-op's parameters are fixed when the primitive is made. */
static const char FUSABLE[] = "the activation reads float data, and a Clip's bounds are absent "
                              "or constant float scalars";
static const char ROOM[] = "the node has room for one more post-op (at most 4)";

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
        bool act = ond_pass_activation(r, &q);
        if ((!act && !ond_pass_is(r, "", "Clip")) || r->n_in < 1 || !r->in[0])
            continue;
        struct ond_tensor *y = r->in[0];
        struct ond_node *p = y->producer;
        if (!takes_post_ops(p))
            continue;
        const char *why = p->out[0] != y || ond_pass_sole_user(c, y) != r ? ONE_READER
                          : !act                                          ? FUSABLE
                          : p->n_post >= OND_MAX_POSTOPS                  ? ROOM
                                                                          : NULL;
        const struct ond_node *pattern[] = {p, r};
        if (why) {
            enum ond_status st = ond_pass_not_fused(c, err, 2, pattern, why);
            if (st)
                return st;
            continue;
        }
        char post[128];
        ond_pass_add_post(p, q.kind, q.alpha, q.beta, -1, r->name);
        ond_pass_take_output(p, r);
        enum ond_status st = ond_pass_fusion(c, err, 2, pattern, p, NULL,
                                             "%s '%s' + %s '%s' -> %s '%s' [%s]",
                                             p->op_type, p->name, r->op_type, r->name,
                                             p->op_type, p->name,
                                             ond_post_str(p, post, sizeof post));
        if (st)
            return st;
        c->rewrites++;
    }
    return OND_OK;
}
