/* fuse_swish.c: x * Sigmoid(x), as torch exports nn.SiLU at opsets 13-17 (EfficientNet,
 * RegNet-Y's SE activation is not one: its Sigmoid reads another tensor), becomes one Swish
 * node (ONNX Swish, opset 24, alpha 1); x * HardSigmoid(x) with torch's alpha 1/6 and beta
 * 1/2, as torch exports nn.Hardswish at opsets below 14 (MobileNetV3-Large: 21), one
 * HardSwish (ONNX HardSwish, opset 14). fuse_activation then makes either a post-op of the
 * Conv before it.
 *
 *   before:  x -> Sigmoid -> s;  Mul(x, s) or Mul(s, x) -> y
 *   after:   x -> Swish -> y                       (the Sigmoid node, rebound; the Mul is gone)
 *   also:    x -> HardSigmoid(alpha 1/6, beta 1/2) -> s;  Mul -> y   =>   x -> HardSwish -> y
 *
 * Math: y = x * sigmoid(x) = swish(x) with alpha 1; y = x * max(0, min(1, x / 6 + 1 / 2)) =
 * hardswish(x). Sessions run them as oneDNN's eltwise_swish and eltwise_hardswish (alone or as
 * post-ops), the reference interpreter with ops/swish.c's and ops/hardswish.c's scalar
 * functions: the same values to float rounding (one rounding fewer than the Mul of a rounded
 * sigmoid). Left alone, the HardSigmoid ran oneDNN's reference eltwise kernel (its clip is a
 * post-op, which 2.6's jit eltwise does not take): 81% of MobileNetV3-Large's time.
 *
 * Legality: the rules below, in the words `inspect --passes --why-not` reports a candidate (a
 * Mul one of whose inputs is a Sigmoid or HardSigmoid of its other input) with when it breaks
 * one. Level 2: Swish is an opset-24 op and HardSwish an opset-14 one, which a model of an
 * older opset does not have (`ondine optimize` writes ai.ondine.Swish or ai.ondine.HardSwish
 * there, like the fused ops); -O1 keeps standard ops. Runs before fuse_residual_add and
 * fuse_activation, which take the Swish or HardSwish as a post-op.
 */

#include "ops/op.h"
#include "runtime/passes/passes.h"

/* The sigmoid's value disappears. */
static const char ONE_READER[] = "the Sigmoid's or HardSigmoid's output has one reader, the "
                                 "Mul, and is not a graph output";
/* Another slope or offset is not hardswish (ONNX's default alpha is 0.2). */
static const char HARD_FORM[] = "the HardSigmoid has alpha 1/6 and beta 1/2 (torch's "
                                "hardsigmoid), within 2 float rounding steps";
/* oneDNN's swish and ops/swish.c are float. (The Mul reads x twice: it has x's shape.) */
static const char FLOAT[] = "x is float";

/* The Sigmoid or HardSigmoid that makes s from the Mul's other input x, or NULL. */
static struct ond_node *sigmoid_of(const struct ond_tensor *s, const struct ond_tensor *x)
{
    struct ond_node *p = s ? s->producer : NULL;
    return (ond_pass_is(p, "", "Sigmoid") || ond_pass_is(p, "", "HardSigmoid")) &&
                   p->n_in == 1 && p->in[0] == x && p->out[0] == s
               ? p
               : NULL;
}

/* Whether a HardSigmoid is torch's (x / 6 + 1 / 2, clipped). */
static bool torch_hard(const struct ond_node *n)
{
    float alpha, beta;
    struct ond_error err;
    return !ond_attr_float(n, "alpha", 0.2f, &alpha, &err) &&
           !ond_attr_float(n, "beta", 0.5f, &beta, &err) && ond_pass_near(alpha, 1.0 / 6) &&
           ond_pass_near(beta, 0.5);
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
        bool hard = ond_pass_is(sig, "", "HardSigmoid");
        const char *why = ond_pass_sole_user(c, sig->out[0]) != mul ? ONE_READER
                          : x->info.dtype != OND_DTYPE_FLOAT                ? FLOAT
                          : hard && !torch_hard(sig)                        ? HARD_FORM
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
                                  "%s '%s' + Mul '%s' -> %s '%s'", sig->op_type, sig->name,
                                  mul->name, hard ? "HardSwish" : "Swish", sig->name)) ||
            (st = ond_pass_rebind(c, sig, "", hard ? "HardSwish" : "Swish", err)))
            return st;
        ond_pass_take_output(sig, mul);
        c->rewrites++;
    }
    return OND_OK;
}
