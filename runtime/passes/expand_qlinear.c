/* expand_qlinear.c: rewrites ONNX's QOperator nodes (QLinearConv, QLinearMatMul) into the QDQ
 * form, so that fold_constants and fold_qdq then apply and int8 sessions run the float op on
 * oneDNN's int8 kernels (the QLinear ops themselves only have a plain-C eval).
 *
 *   before:  x_q -> QLinearConv(x_s, x_zp, w_q, w_s, w_zp, y_s, y_zp, B) -> y_q
 *   after:   x_q -> DequantizeLinear(x_s, x_zp) -> x -> Conv(W, B') -> y
 *                -> QuantizeLinear(y_s, y_zp) -> y_q
 *            W = DequantizeLinear(w_q, w_s, w_zp, axis 0 when w_s is per output channel)
 *            B'[oc] = B[oc] * x_s * w_s[oc]      (float, computed here in double)
 *   before:  a_q -> QLinearMatMul(a_s, a_zp, b_q, b_s, b_zp, y_s, y_zp) -> y_q
 *   after:   DequantizeLinear(a_q, a_s, a_zp, axis -2 when per row)
 *                -> MatMul(., DequantizeLinear(b_q, b_s, b_zp, axis -1 when per column)) -> y
 *                -> QuantizeLinear(y_s, y_zp) -> y_q
 *
 * The Conv keeps the QLinearConv's name and its attributes (auto_pad, dilations, group,
 * kernel_shape, pads, strides). A chain QLinearConv -> QLinearConv becomes ... Conv ->
 * QuantizeLinear -> DequantizeLinear -> Conv ..., whose pair fold_qdq takes as a scale; the
 * constant weights' DequantizeLinear fold_constants computes into float weights.
 *
 * Math: QLinearConv is y_q = saturate(round((sum (x_q - x_zp)(w_q - w_zp) + B) * x_s w_s[oc]
 * / y_s) + y_zp) over the exact int32 sums. The expansion computes the same sum of the same
 * products in float, (x_q - x_zp) x_s times (w_q - w_zp) w_s[oc], plus B x_s w_s[oc] (the
 * bias scale the ONNX spec gives B), then divides by y_s and rounds the same way: identical
 * except for the float rounding of the accumulation, which can move a result lying near a
 * half to the neighbouring integer (one unit of y). Zero padding agrees: QLinearConv pads
 * with x_zp, which dequantizes to 0. QLinearMatMul likewise, per row of A and per column of B.
 *
 * Legality:
 * - Every scale and zero point is a constant: the pass reads the bias scale, and fold_qdq
 *   and int8 sessions need the activation scales at load.
 * - x_q (a_q) is not a constant: a node of constants only is left to fold_constants, which
 *   computes it exactly with the op's own eval.
 * - QLinearConv: w_q and B (when present) are constants: the float bias is computed here, and
 *   convolutions take constant weights (int8 sessions quantize them per output channel).
 *   QLinearMatMul's b_q may be computed at run time: MatMul reads any B.
 * - A parameter with one value per output channel (QLinearConv's w), row of A or column of B
 *   (QLinearMatMul) needs a per-axis DequantizeLinear, which ONNX has from opset 13 (opset 10
 *   takes one scale per tensor): below 13 such a node stays. The axis of A's rows is -2 and of
 *   B's columns -1, which needs that tensor's rank known and at least 2.
 */
#include <stdio.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/passes/passes.h"

static const char *const conv_attrs[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                         "pads", "strides"};
#define N_CONV_ATTRS (sizeof conv_attrs / sizeof conv_attrs[0])

/* Values of scale n->in[k] (the quantized tensor is n->in[k - 1], its zero point n->in[k + 1])
 * when it and its zero point are constants; else 0. */
static int64_t const_params(const struct ond_node *n, int k)
{
    uint64_t count;
    if (!ond_pass_is_const(n->in[k]) || (n->in[k + 1] && !ond_pass_is_const(n->in[k + 1])) ||
        !ond_numel(&n->in[k]->info, 0, &count))
        return 0;
    return (int64_t)count;
}

/* Whether a per-axis parameter of count values along an axis of t that needs rank >= min_rank
 * can be expressed: per tensor always; per axis from opset 13, t's rank known. */
static bool expressible(const struct ond_node *n, int64_t count, const struct ond_tensor *t,
                        int min_rank)
{
    return count == 1 || (n->opset >= 13 && t->info.rank >= min_rank);
}

/* op(in) -> out at n's opset, named n's name (+ _suffix when suffix), its parameters parsed
 * from attrs as the loader's binding does. */
static enum ond_status add_node(struct ond_pass_ctx *c, const struct ond_node *n, const char *op,
                                const char *suffix, struct ond_tensor *const *in, int n_in,
                                struct ond_tensor *out, struct ond_attr *attrs, size_t n_attrs,
                                struct ond_error *err)
{
    struct ond_graph *g = c->g;
    struct ond_node *d = ond_graph_add_node(g, n_in, 1, err);
    char name[600];
    snprintf(name, sizeof name, "%s%s%s", n->name, suffix ? "_" : "", suffix ? suffix : "");
    if (!d || !(d->name = ond_strdup(g, name, strlen(name), err)))
        return err ? err->status : OND_STATUS_NO_MEMORY;
    if (!(d->op = ond_op_find("", op, n->opset)))
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "no %s at opset %lld to expand into",
                             op, (long long)n->opset);
    d->op_type = d->op->name;
    d->domain = "";
    d->opset = n->opset;
    d->attrs = attrs;
    d->n_attrs = n_attrs;
    for (int k = 0; k < n_in; k++)
        ond_pass_set_input(c, d, k, in[k]);
    d->out[0] = out;
    out->producer = d;
    if (d->op->params_size && !(d->params = ond_alloc(g, d->op->params_size, err)))
        return err ? err->status : OND_STATUS_NO_MEMORY;
    return d->op->parse ? d->op->parse(d, d->params, err) : OND_OK;
}

/* DequantizeLinear(n->in[k], its scale and zero point) -> *x, a new float tensor; along axis
 * when the scale has count > 1 values. */
static enum ond_status dequantize(struct ond_pass_ctx *c, const struct ond_node *n, int k,
                                  const char *suffix, int64_t count, int64_t axis,
                                  struct ond_tensor **x, struct ond_error *err)
{
    struct ond_attr *a = NULL;
    if (!(*x = ond_pass_new_tensor(c, n->in[k]->name, "dequantized", err)))
        return err ? err->status : OND_STATUS_NO_MEMORY;
    if (count > 1) {
        if (!(a = ond_alloc(c->g, sizeof *a, err)))
            return err ? err->status : OND_STATUS_NO_MEMORY;
        *a = (struct ond_attr){.name = "axis", .type = OND_ATTR_INT, .i = axis};
    }
    return add_node(c, n, "DequantizeLinear", suffix,
                    (struct ond_tensor *[]){n->in[k], n->in[k + 1], n->in[k + 2]}, 3, *x, a,
                    count > 1, err);
}

/* y (float, made by the op n became) -> QuantizeLinear(n's y_scale, y_zero_point) -> n's
 * output, and n dies. */
static enum ond_status quantize(struct ond_pass_ctx *c, struct ond_node *n, const char *op,
                                struct ond_tensor *y, struct ond_error *err)
{
    struct ond_tensor *y_q = n->out[0];
    enum ond_status st = add_node(c, n, "QuantizeLinear", "quantize",
                                  (struct ond_tensor *[]){y, n->in[6], n->in[7]}, 3, y_q, NULL,
                                  0, err);
    if (st)
        return st;
    ond_pass_kill(n);
    c->rewrites++;
    return ond_pass_fusion(c, err, 1, (const struct ond_node *[]){n}, NULL, n->name,
                           "%s '%s' -> DequantizeLinear + %s '%s' + QuantizeLinear", n->op_type,
                           n->name, op, n->name);
}

/* B' = B * x_s * w_s[oc] as a new float constant. */
static struct ond_tensor *float_bias(struct ond_pass_ctx *c, const struct ond_node *n,
                                     struct ond_error *err)
{
    const struct ond_tensor *b = n->in[8];
    int64_t m = n->in[3]->info.dims[0];
    struct ond_info info = {.dtype = OND_DTYPE_FLOAT, .rank = 1, .dims = {m}};
    void *data;
    struct ond_tensor *t = ond_pass_new_const(c, b->name, "float", &info, &data, err);
    if (!t)
        return NULL;
    double xs = ond_qscale_at(&n->in[1]->info, 0);
    for (int64_t oc = 0; oc < m; oc++)
        ((float *)data)[oc] = (float)((double)ond_q_at(b->info.data, OND_DTYPE_INT32, oc) * xs *
                                      ond_qscale_at(&n->in[4]->info, oc));
    return t;
}

static enum ond_status expand_conv(struct ond_pass_ctx *c, struct ond_node *n,
                                   struct ond_error *err)
{
    struct ond_tensor *w_q = n->in[3], *b = n->n_in > 8 ? n->in[8] : NULL;
    int64_t ws = const_params(n, 4);
    if (ond_pass_is_const(n->in[0]) || !const_params(n, 1) || !ws || !const_params(n, 6) ||
        !ond_pass_is_const(w_q) || (b && !ond_pass_is_const(b)) || w_q->info.rank < 3 ||
        !expressible(n, ws, w_q, 1))
        return OND_OK;
    struct ond_tensor *x, *w, *y, *bias = NULL;
    struct ond_attr *attrs = ond_alloc(c->g, sizeof *attrs * N_CONV_ATTRS, err);
    size_t n_attrs = 0;
    if (!attrs)
        return err ? err->status : OND_STATUS_NO_MEMORY;
    for (size_t i = 0; i < N_CONV_ATTRS; i++) {
        const struct ond_attr *a = ond_node_attr(n, conv_attrs[i]);
        if (a)
            attrs[n_attrs++] = *a;
    }
    enum ond_status st;
    if ((st = dequantize(c, n, 0, "dequantize_x", 1, 0, &x, err)) ||
        (st = dequantize(c, n, 3, "dequantize_w", ws, 0, &w, err)))
        return st;
    if ((b && !(bias = float_bias(c, n, err))) ||
        !(y = ond_pass_new_tensor(c, n->out[0]->name, "float", err)))
        return err ? err->status : OND_STATUS_NO_MEMORY;
    if ((st = add_node(c, n, "Conv", NULL, (struct ond_tensor *[]){x, w, bias}, bias ? 3 : 2, y,
                       attrs, n_attrs, err)))
        return st;
    return quantize(c, n, "Conv", y, err);
}

static enum ond_status expand_matmul(struct ond_pass_ctx *c, struct ond_node *n,
                                     struct ond_error *err)
{
    int64_t as = const_params(n, 1), bs = const_params(n, 4);
    if (ond_pass_is_const(n->in[0]) || !as || !bs || !const_params(n, 6) ||
        !expressible(n, as, n->in[0], 2) || !expressible(n, bs, n->in[3], 2))
        return OND_OK;
    struct ond_tensor *a, *b, *y;
    enum ond_status st;
    if ((st = dequantize(c, n, 0, "dequantize_a", as, -2, &a, err)) ||
        (st = dequantize(c, n, 3, "dequantize_b", bs, -1, &b, err)))
        return st;
    if (!(y = ond_pass_new_tensor(c, n->out[0]->name, "float", err)))
        return err ? err->status : OND_STATUS_NO_MEMORY;
    if ((st = add_node(c, n, "MatMul", NULL, (struct ond_tensor *[]){a, b}, 2, y, NULL, 0, err)))
        return st;
    return quantize(c, n, "MatMul", y, err);
}

enum ond_status ond_pass_expand_qlinear(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    /* The nodes added below are appended and are neither QLinear op: not visited again. */
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *n = g->nodes[i];
        enum ond_status st = OND_OK;
        if (ond_pass_is(n, "", "QLinearConv"))
            st = expand_conv(c, n, err);
        else if (ond_pass_is(n, "", "QLinearMatMul"))
            st = expand_matmul(c, n, err);
        if (st)
            return st;
    }
    return OND_OK;
}
