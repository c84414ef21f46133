/* fold_pad.c: a Pad by zeros on the spatial dims becomes the pads of the Conv or AveragePool
 * that reads it, as torch exports Inception-v3's avg_pool2d(3, stride 1, padding 1) (a Pad
 * before an AveragePool without pads: nine of them).
 *
 *   before:  x -> Pad(constant 0, pads p) -> t -> Conv(pads q) -> y
 *                                             -> AveragePool(pads q) -> y
 *   after:   x -> Conv(pads p + q) -> y          (the Pad is gone)
 *            x -> AveragePool(pads p + q, count_include_pad 1) -> y
 *
 * Math: a Conv pads with zeros, and an AveragePool that counts its pads divides by the whole
 * window, zeros included: both compute what they computed on the padded tensor. Left alone,
 * the Pad ran as eval on a plain copy of the map with a reorder on each side (Inception-v3:
 * 25% of its time, 8.5 ms of 34).
 *
 * Legality: the rules below, in the words `inspect --passes --why-not` reports a candidate (a
 * Pad read by a Conv or an AveragePool) with when it breaks one. Level 1: the result is
 * standard ONNX (the consumer's own pads attribute).
 */
#include <string.h>

#include "ops/op.h"
#include "runtime/passes/passes.h"

/* The Pad's value disappears. */
static const char ONE_READER[] = "the Pad's output has one reader, the Conv or AveragePool, and "
                                 "is not a graph output";
/* Other modes repeat or mirror the data; another value is not what a Conv pads with. */
static const char ZEROS[] = "the Pad is in constant mode with value 0 (absent or a constant)";
/* The consumer's pads are per spatial dim and not negative; they are known at load. */
static const char PADS[] = "the pads are constant, not negative, 0 on the batch and channel "
                           "dims, and the Pad has no axes input";
/* auto_pad computes pads from the input size; a pool that does not count its own pads, or
 * rounds its output size up, divides border windows by fewer elements. */
static const char WINDOW[] = "the Conv or AveragePool has auto_pad NOTSET, and the AveragePool "
                             "ceil_mode 0 and count_include_pad 1 or no pads of its own";

/* The Pad's pads for every dim (begins then ends, 2 * rank), or false. */
static bool pad_amounts(const struct ond_node *pad, int rank, int64_t *pads)
{
    int count = 0;
    return ond_pass_pad_amounts(pad, pads, &count) && count == 2 * rank &&
           !(pad->n_in > 3 && pad->in[3]);
}

static bool zero_value(const struct ond_node *pad)
{
    struct ond_error err;
    const char *mode;
    float v = 0.f;
    if (ond_attr_string(pad, "mode", "constant", &mode, &err) || strcmp(mode, "constant") != 0)
        return false;
    if (pad->opset < 11)
        return !ond_attr_float(pad, "value", 0.f, &v, &err) && v == 0.f;
    const struct ond_tensor *t = pad->n_in > 2 ? pad->in[2] : NULL;
    return !t || (ond_pass_float_scalar(t, &v) && v == 0.f);
}

/* n's attributes with v's name set to v (replaced, or added); the array is the graph's. */
static enum ond_status set_attr(struct ond_pass_ctx *c, struct ond_node *n, struct ond_attr v,
                                struct ond_error *err)
{
    size_t k = 0;
    while (k < n->n_attrs && strcmp(n->attrs[k].name, v.name) != 0)
        k++;
    struct ond_attr *a = ond_alloc(c->g, sizeof *a * (n->n_attrs + (k == n->n_attrs)), err);
    if (!a)
        return err->status;
    memcpy(a, n->attrs, sizeof *a * n->n_attrs);
    a[k] = v;
    n->attrs = a;
    n->n_attrs += k == n->n_attrs;
    return OND_OK;
}

enum ond_status ond_pass_fold_pad(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *pad = g->nodes[i];
        if (!ond_pass_is(pad, "", "Pad") || pad->n_in < 1 || !pad->in[0] || !pad->out[0])
            continue;
        struct ond_node *use = c->user[pad->out[0]->id];
        bool conv = ond_pass_is(use, "", "Conv"), pool = ond_pass_is(use, "", "AveragePool");
        if (!conv && !pool)
            continue;
        int rank = pad->in[0]->info.rank, sp = rank - 2;
        int64_t p[2 * OND_MAX_RANK], q[2 * OND_MAX_SPATIAL] = {0};
        struct ond_window w;
        struct ond_error e;
        int64_t include = 0;
        const char *why = ond_pass_sole_user(c, pad->out[0]) != use ? ONE_READER
                          : !zero_value(pad)                        ? ZEROS
                                                                    : NULL;
        bool pads_ok = !why && rank >= 3 && sp <= OND_MAX_SPATIAL && pad_amounts(pad, rank, p);
        for (int d = 0; pads_ok && d < rank; d++)
            pads_ok = p[d] >= 0 && p[d + rank] >= 0 && (d >= 2 || (!p[d] && !p[d + rank]));
        if (!why && !pads_ok)
            why = PADS;
        if (!why && (ond_window_parse(use, &w, pool, &e) || w.auto_pad != OND_PAD_NOTSET ||
                     (pool && (w.ceil_mode ||
                               ond_attr_int(use, "count_include_pad", 0, &include, &e)))))
            why = WINDOW;
        for (int d = 0; !why && w.n_pads > 0 && d < 2 * sp; d++)
            if ((q[d] = w.pads[d]) && pool && !include)
                why = WINDOW;
        const struct ond_node *pattern[] = {pad, use};
        enum ond_status st;
        if (why) {
            if ((st = ond_pass_not_fused(c, err, 2, pattern, why)))
                return st;
            continue;
        }
        int64_t *sum = ond_alloc(g, sizeof *sum * (size_t)(2 * sp), err);
        if (!sum)
            return err->status;
        for (int d = 0; d < sp; d++) {
            sum[d] = q[d] + p[2 + d];
            sum[sp + d] = q[sp + d] + p[rank + 2 + d];
        }
        if ((st = ond_pass_fusion(c, err, 2, pattern, NULL, use->name, "Pad '%s' + %s '%s' -> %s "
                                  "'%s'", pad->name, use->op_type, use->name, use->op_type,
                                  use->name)) ||
            (st = set_attr(c, use, (struct ond_attr){.name = "pads", .type = OND_ATTR_INTS,
                                                     .n = (size_t)(2 * sp), .ints = sum}, err)) ||
            (pool && (st = set_attr(c, use, (struct ond_attr){.name = "count_include_pad",
                                                              .type = OND_ATTR_INT, .i = 1},
                                    err))) ||
            (st = use->op->parse(use, use->params, err)))
            return st;
        ond_pass_set_input(c, use, 0, pad->in[0]);
        ond_pass_kill(pad);
        c->rewrites++;
    }
    return OND_OK;
}
