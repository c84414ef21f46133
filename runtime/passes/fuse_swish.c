/* fuse_swish.c: x * Sigmoid(x), as torch exports nn.SiLU at opsets 13-17 (EfficientNet,
 * RegNet-Y's SE activation is not one: its Sigmoid reads another tensor), becomes one Swish
 * node (ONNX Swish, opset 24, alpha 1), which fuse_activation then makes a post-op of the Conv
 * before it.
 *
 *   before:  x -> Sigmoid -> s;  Mul(x, s) or Mul(s, x) -> y
 *   after:   x -> Swish -> y                       (the Sigmoid node, rebound; the Mul is gone)
 *
 * Math: y = x * sigmoid(x) = swish(x) with alpha 1. Sessions run it as oneDNN's eltwise_swish
 * (alone or as a post-op), the reference interpreter with ops/swish.c's scalar function: the
 * same value to float rounding (x / (1 + exp(-x)) is one rounding fewer than the Mul of a
 * rounded sigmoid).
 *
 * Legality: the rules below, in the words `inspect --passes --why-not` reports a candidate (a
 * Mul one of whose inputs is a Sigmoid of its other input) with when it breaks one.
 * Level 2: Swish is an opset-24 op, which a model of an older opset does not have (`ondine
 * optimize` writes it as ai.ondine.Swish there, like the fused ops); -O1 keeps standard ops.
 * Runs before fuse_residual_add and fuse_activation, which take the Swish as a post-op.
 */
#include "ops/op.h"
#include "runtime/passes/passes.h"

/* The sigmoid's value disappears. */
static const char ONE_READER[] = "the Sigmoid's output has one reader, the Mul, and is not a "
                                 "graph output";
/* oneDNN's swish and ops/swish.c are float. (The Mul reads x twice: it has x's shape.) */
static const char FLOAT[] = "x is float";

/* The Sigmoid that makes s from the Mul's other input x, or NULL. */
static struct ond_node *sigmoid_of(const struct ond_tensor *s, const struct ond_tensor *x)
{
    struct ond_node *p = s ? s->producer : NULL;
    return ond_pass_is(p, "", "Sigmoid") && p->n_in == 1 && p->in[0] == x && p->out[0] == s
               ? p
               : NULL;
}

enum ond_status ond_pass_fuse_swish(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *mul = g->nodes[i], *sig = NULL;
        if (!ond_pass_is(mul, "", "Mul") || mul->n_in != 2 || !mul->in[0] || !mul->in[1] ||
            !mul->out[0])
            continue;
        int k = 0;
        for (; k < 2 && !sig; k++)
            sig = sigmoid_of(mul->in[k], mul->in[1 - k]);
        if (!sig)
            continue;
        const struct ond_tensor *x = sig->in[0];
        const char *why = ond_pass_sole_user(c, sig->out[0]) != mul ? ONE_READER
                          : x->info.dtype != OND_DTYPE_FLOAT                ? FLOAT
                                                                            : NULL;
        const struct ond_node *pattern[] = {sig, mul};
        enum ond_status st;
        if (why) {
            if ((st = ond_pass_not_fused(c, err, 2, pattern, why)))
                return st;
            continue;
        }
        /* The record names the nodes before the Sigmoid becomes the Swish. */
        if ((st = ond_pass_fusion(c, err, 2, pattern, NULL, sig->name,
                                  "Sigmoid '%s' + Mul '%s' -> Swish '%s'", sig->name, mul->name,
                                  sig->name)) ||
            (st = ond_pass_rebind(c, sig, "", "Swish", err)))
            return st;
        ond_pass_take_output(sig, mul);
        c->rewrites++;
    }
    return OND_OK;
}
