/* fuse_gelu.c: GELU written out with Erf, as torch exports nn.GELU (ConvNeXt, ViT) at opsets
 * 9-17, becomes one Gelu node (ONNX Gelu, opset 20, approximate "none").
 *
 *   before:  x -> Div(., 1.4142135) -> d -> Erf -> e -> Add(., 1) -> a;
 *            Mul(x, a) -> m -> Mul(., 0.5) -> y                          (torch 1.13)
 *   after:   x -> Gelu -> y                      (the Erf node, rebound; the others are gone)
 *   also:    Mul(x, 0.70710677) for the Div; each Add and Mul with its operands either way
 *            round; the product of x, a and 0.5 in any association: Mul(Mul(x, 0.5), a)
 *            (Hugging Face's x * 0.5 * (1 + erf(x / sqrt 2))) or Mul(x, Mul(a, 0.5))
 *
 * Math: y = x * (1 + erf(x / sqrt 2)) / 2 = gelu_erf(x). Sessions run it as oneDNN's
 * eltwise_gelu_erf, the reference interpreter with ops/gelu.c's scalar function (through erfc:
 * no cancellation where 1 + erf is small). Both agree with the five rounded ops to float
 * rounding: where x << 0 the chain itself loses digits (1 + erf(x / sqrt 2) cancels), and the
 * fused op is the closer one to the exact value.
 *
 * Legality: the rules below, in the words `inspect --passes --why-not` reports a candidate (an
 * Erf whose input is x divided by sqrt 2, or multiplied by its inverse) with when it breaks
 * one. Level 2: Gelu is an opset-20 op (`ondine optimize` writes ai.ondine.Gelu into older
 * models, like the fused ops); -O1 keeps standard ops.
 */
#include "ops/op.h"
#include "runtime/passes/passes.h"

/* The intermediate values disappear with their nodes. */
static const char ONE_READER[] = "the outputs of the Div, Erf, Add and inner Mul each have one "
                                 "reader, the next node of the pattern, and are not graph "
                                 "outputs";
/* Anything else computes another function. */
static const char CONSTANTS[] = "the Erf's Add adds 1 and the product of x and that sum is "
                                "multiplied by 0.5 (constant float scalars, within 2 float "
                                "rounding steps)";
/* Gelu is float and elementwise. The constants have one element, so the result has x's dims
 * unless one of them has more dims than x (known or not, as a symbolic batch). */
static const char SHAPE[] = "x is float, of known rank, and the result has x's rank";

/* Whether t is a constant float with one element within 2 float steps of v. */
static bool is_scalar(const struct ond_tensor *t, double v)
{
    float f;
    return ond_pass_float_scalar(t, &f) && ond_pass_near(f, v);
}

/* For a two-input Add or Mul n reading t, the other input; NULL otherwise. */
static struct ond_tensor *other(const struct ond_node *n, const char *op,
                                const struct ond_tensor *t)
{
    if (!ond_pass_is(n, "", op) || n->n_in != 2 || !n->in[0] || !n->in[1] || !n->out[0])
        return NULL;
    return n->in[0] == t ? n->in[1] : n->in[1] == t ? n->in[0] : NULL;
}

/* x for an Erf whose input d is x / sqrt 2 (Div) or x * (1 / sqrt 2) (Mul); NULL otherwise. */
static struct ond_tensor *erf_argument(const struct ond_tensor *d, struct ond_node **scale)
{
    struct ond_node *p = d->producer;
    *scale = p;
    const double sqrt2 = 1.4142135623730951;
    if (ond_pass_is(p, "", "Div") && p->n_in == 2 && p->in[0] && is_scalar(p->in[1], sqrt2))
        return p->in[0];
    if (ond_pass_is(p, "", "Mul") && p->n_in == 2 && p->in[0] && p->in[1])
        for (int k = 0; k < 2; k++)
            if (is_scalar(p->in[1 - k], 1 / sqrt2) && !ond_pass_is_const(p->in[k]))
                return p->in[k];
    return NULL;
}

/* The pattern after the Erf: nodes[2..4] (Add, inner Mul, outer Mul) and the rule that fails
 * (NULL when it matches). nodes[3] is left NULL when the Add has no Mul reader. */
static const char *match_tail(const struct ond_pass_ctx *c, const struct ond_tensor *x,
                              const struct ond_tensor *e, struct ond_node **nodes)
{
    struct ond_node *add = ond_pass_sole_user(c, e), *m1, *m2;
    struct ond_tensor *t;
    nodes[2] = add;
    if (!add)
        return ONE_READER;
    if (!(t = other(add, "Add", e)) || !is_scalar(t, 1.0))
        return CONSTANTS;
    const struct ond_tensor *a = add->out[0];
    if (!(m1 = ond_pass_sole_user(c, a)) || !(t = other(m1, "Mul", a)))
        return m1 ? CONSTANTS : ONE_READER;
    nodes[3] = m1;
    if (t == x || is_scalar(t, 0.5)) {
        /* Mul(x, a) then * 0.5, or Mul(a, 0.5) then * x. */
        const struct ond_tensor *want = t == x ? NULL : x;
        if (!(m2 = ond_pass_sole_user(c, m1->out[0])))
            return ONE_READER;
        nodes[4] = m2;
        t = other(m2, "Mul", m1->out[0]);
        return !t ? CONSTANTS : want ? (t == want ? NULL : CONSTANTS)
                                     : (is_scalar(t, 0.5) ? NULL : CONSTANTS);
    }
    /* Mul(Mul(x, 0.5), a): the inner product is made beside the Erf chain. */
    struct ond_node *half = t->producer;
    struct ond_tensor *u = other(half, "Mul", x);
    nodes[3] = half;
    nodes[4] = m1;
    if (!u || !is_scalar(u, 0.5))
        return CONSTANTS;
    return ond_pass_sole_user(c, t) != m1 ? ONE_READER : NULL;
}

enum ond_status ond_pass_fuse_gelu(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *erf = g->nodes[i], *nodes[5] = {0};
        if (!ond_pass_is(erf, "", "Erf") || erf->n_in != 1 || !erf->in[0] || !erf->out[0])
            continue;
        struct ond_tensor *x = erf_argument(erf->in[0], &nodes[0]);
        if (!x)
            continue;
        nodes[1] = erf;
        const char *why = ond_pass_sole_user(c, erf->in[0]) != erf
                              ? ONE_READER
                              : match_tail(c, x, erf->out[0], nodes);
        struct ond_node *last = nodes[4];
        if (!why && (x->info.dtype != OND_DTYPE_FLOAT || x->info.rank < 0 ||
                     last->out[0]->info.rank != x->info.rank))
            why = SHAPE;
        const struct ond_node *const *pattern = (const struct ond_node *const *)nodes;
        enum ond_status st;
        if (why) {
            if ((st = ond_pass_not_fused(c, err, 5, pattern, why)))
                return st;
            continue;
        }
        if ((st = ond_pass_fusion(c, err, 5, pattern, NULL, erf->name,
                                  "%s '%s' + Erf '%s' + Add '%s' + Mul '%s' + Mul '%s' -> Gelu "
                                  "'%s'", nodes[0]->op_type, nodes[0]->name, erf->name,
                                  nodes[2]->name, nodes[3]->name, last->name, erf->name)) ||
            (st = ond_pass_rebind(c, erf, "", "Gelu", err)))
            return st;
        ond_pass_set_input(c, erf, 0, x);
        ond_pass_kill(nodes[0]);
        ond_pass_kill(nodes[2]);
        ond_pass_kill(nodes[3]);
        ond_pass_take_output(erf, last);
        c->rewrites++;
    }
    return OND_OK;
}
