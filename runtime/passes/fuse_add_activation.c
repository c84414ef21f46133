/* fuse_add_activation.c: an activation after an Add that no Conv took (fuse_residual_add runs
 * first) becomes a post-op of the Add.
 *
 *   before:  Add(a, b) -> z -> Relu -> r        after:  Add(a, b) [relu] -> r
 *   (old-opset Sum of two inputs counts as Add, and becomes one)
 *
 * Math: r = act(a + b), the add's eval applying the activation to its output.
 *
 * Legality: the rules below, in the words `inspect --passes --why-not` reports a candidate (an
 * activation, or a Clip, reading an add's output) with when it breaks one.
 */
#include "ops/op.h"
#include "runtime/passes/passes.h"

static const char ONE_READER[] = "the add's output has one reader, the activation, and is not "
                                 "a graph output";
static const char FUSABLE[] = "the add is float, and the activation one a post-op can stand for "
                              "(a Clip's bounds absent or constant float scalars)";
/* The fused node is the numpy-broadcasting Add (opset 14, what ai.ondine.FusedAdd means in a
 * file), which agrees with those only without broadcasting. */
static const char SAME_SHAPE[] = "an Add of opset 1 or 6, or a Sum, has two inputs of the same "
                                 "shape";
static const char ROOM[] = "the Add has room for one more post-op";

/* Whether n reads z as an activation or a Clip. */
static bool activation_of(const struct ond_node *n, const struct ond_tensor *z)
{
    struct ond_postop q;
    return n && !n->dead && n->n_in > 0 && n->in[0] == z &&
           (ond_pass_activation(n, &q) || ond_pass_is(n, "", "Clip"));
}

/* A reader of z that is an activation or a Clip: its only reader when it has one. */
static struct ond_node *activation_after(const struct ond_pass_ctx *c, const struct ond_tensor *z)
{
    struct ond_node *r = ond_pass_sole_user(c, z);
    if (r)
        return activation_of(r, z) ? r : NULL;
    for (int i = 0; i < c->g->n_nodes; i++)
        if (activation_of(c->g->nodes[i], z))
            return c->g->nodes[i];
    return NULL;
}

/* Rebinds an old Add or a Sum to the numpy Add (opset 14). */
static void as_numpy_add(struct ond_pass_ctx *c, struct ond_node *n)
{
    n->op = ond_op_find("", "Add", 14);
    n->op_type = n->op->name;
    n->opset = 14;
    n->params = NULL;
    ond_node_drop_attrs(c->g, n);
}

enum ond_status ond_pass_fuse_add_activation(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *add = g->nodes[i], *r;
        struct ond_postop q;
        bool sum = ond_pass_is(add, "", "Sum");
        if (!(ond_pass_is(add, "", "Add") || (sum && add->n_in == 2)) || !add->out[0] ||
            !add->in[0] || !add->in[1])
            continue;
        /* One activation after another joins in order. */
        while ((r = activation_after(c, add->out[0]))) {
            const char *was = add->op_type;
            const struct ond_node *pattern[] = {add, r};
            bool act = ond_pass_activation(r, &q), numpy = !sum && add->op->since >= 7;
            const char *why =
                ond_pass_sole_user(c, add->out[0]) != r                 ? ONE_READER
                : !act || add->in[0]->info.dtype != OND_DTYPE_FLOAT      ? FUSABLE
                : !numpy && !ond_pass_same_shape(&add->in[0]->info, &add->in[1]->info) ? SAME_SHAPE
                : add->n_post >= OND_MAX_POSTOPS                          ? ROOM
                                                                         : NULL;
            enum ond_status st;
            if (why) {
                if ((st = ond_pass_not_fused(c, err, 2, pattern, why)))
                    return st;
                break;
            }
            char post[128];
            if (!numpy)
                as_numpy_add(c, add);
            sum = false;
            ond_pass_add_post(add, q.kind, q.alpha, q.beta, -1, r->name);
            ond_pass_take_output(add, r);
            if ((st = ond_pass_fusion(c, err, 2, pattern, add, NULL,
                                      "%s '%s' + %s '%s' -> Add '%s' [%s]", was, add->name,
                                      r->op_type, r->name, add->name,
                                      ond_post_str(add, post, sizeof post))))
                return st;
            c->rewrites++;
        }
    }
    return OND_OK;
}
