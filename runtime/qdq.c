/* qdq.c: rewrites a graph of standard ops into ONNX's QDQ form, for `ondine quantize`.
 *
 *   before:  P -> x -> Conv(W f32) -> ...
 *   after:   P -> x -> QuantizeLinear(s, 0) -> x_quantized -> DequantizeLinear(s, 0)
 *                  -> x_dequantized -> Conv(DequantizeLinear(W_quantized int8, w_scale[M],
 *                  0, axis 0)) -> ...
 *
 * An activation gets a Quantize/Dequantize pair when the scales hold one for it (by name:
 * the scales come from an int8 calibration of the -O2 graph, whose tensors keep the names of
 * the standard graph's); every reader of x then reads the pair's output. Activation zero
 * points are 0, uint8 for non-negative tensors, int8 otherwise, so ondine's int8 sessions read
 * the scales back exactly (fold_qdq). A Conv whose input has a scale gets int8 weights,
 * quantized per output channel (max |w| / 127, as ondine's int8 convolutions do), through a
 * DequantizeLinear with axis 0: that needs opset 13 (opset 10 to 12 has per-tensor scales
 * only). Biases stay float. The graph is sorted again; it is meant to be written, not run.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/passes/passes.h"
#include "runtime/qdq.h"

/* A new constant tensor named after base with dims (rank 0: a scalar). */
static struct ond_tensor *new_const(struct ond_pass_ctx *c, const char *base, const char *suffix,
                                    int32_t dtype, int rank, const int64_t *dims, void **data,
                                    struct ond_error *err)
{
    struct ond_info info = {.dtype = dtype, .rank = rank};
    memcpy(info.dims, dims, sizeof(int64_t) * (size_t)rank);
    return ond_pass_new_const(c, base, suffix, &info, data, err);
}

/* A run-time tensor like `like` with another dtype. */
static struct ond_tensor *new_value(struct ond_pass_ctx *c, const struct ond_tensor *like,
                                    const char *suffix, int32_t dtype, struct ond_error *err)
{
    struct ond_tensor *t = ond_pass_new_tensor(c, like->name, suffix, err);
    if (t) {
        t->info = like->info;
        t->info.data = NULL;
        t->info.dtype = dtype;
    }
    return t;
}

/* op(in...) -> out, bound to the standard op at the graph's opset; axis >= 0 sets `axis`. */
static enum ond_status add_node(struct ond_graph *g, const char *op, struct ond_tensor *const *in,
                                int n_in, struct ond_tensor *out, int64_t axis,
                                struct ond_error *err)
{
    struct ond_node *n = ond_graph_add_node(g, n_in, 1, err);
    char name[600];
    snprintf(name, sizeof name, "%s_%s", out->name, op);
    if (!n || !(n->name = ond_strdup(g, name, strlen(name), err)))
        return err ? err->status : OND_STATUS_NO_MEMORY;
    n->op_type = op;
    n->domain = "";
    n->opset = ond_graph_opset(g, "");
    if (!(n->op = ond_op_find("", op, n->opset)))
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "no %s at opset %lld", op,
                        (long long)n->opset);
    for (int k = 0; k < n_in; k++) {
        n->in[k] = in[k];
        in[k]->uses++;
    }
    n->out[0] = out;
    out->producer = n;
    if (axis >= 0) {
        if (!(n->attrs = ond_alloc(g, sizeof *n->attrs, err)))
            return err ? err->status : OND_STATUS_NO_MEMORY;
        n->n_attrs = 1;
        n->attrs[0] = (struct ond_attr){.name = "axis", .type = OND_ATTR_INT, .i = axis};
    }
    return OND_OK;
}

/* x -> Q -> DQ; every other reader of x reads the DQ's output. */
static enum ond_status pair(struct ond_pass_ctx *c, struct ond_tensor *x, float scale, bool u,
                            struct ond_error *err)
{
    struct ond_graph *g = c->g;
    void *sd, *zd;
    int32_t qt = u ? OND_DTYPE_UINT8 : OND_DTYPE_INT8;
    struct ond_tensor *s = new_const(c, x->name, "scale", OND_DTYPE_FLOAT, 0, NULL, &sd, err);
    struct ond_tensor *z = s ? new_const(c, x->name, "zero_point", qt, 0, NULL, &zd, err) : NULL;
    struct ond_tensor *q = z ? new_value(c, x, "quantized", qt, err) : NULL;
    struct ond_tensor *dq = q ? new_value(c, x, "dequantized", OND_DTYPE_FLOAT, err) : NULL;
    if (!dq)
        return err ? err->status : OND_STATUS_NO_MEMORY;
    *(float *)sd = scale;
    int readers = g->n_nodes;
    for (int i = 0; i < readers; i++)
        for (int k = 0; k < g->nodes[i]->n_in; k++)
            if (g->nodes[i]->in[k] == x) {
                g->nodes[i]->in[k] = dq;
                dq->uses++;
                x->uses--;
            }
    enum ond_status st = add_node(g, "QuantizeLinear", (struct ond_tensor *[]){x, s, z}, 3, q, -1,
                                  err);
    return st ? st : add_node(g, "DequantizeLinear", (struct ond_tensor *[]){q, s, z}, 3, dq, -1,
                              err);
}

/* Conv n's float weights -> int8 per output channel + DequantizeLinear(axis 0). */
static enum ond_status weights(struct ond_pass_ctx *c, struct ond_node *n, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    struct ond_tensor *w = n->in[1];
    int64_t m = w->info.dims[0];
    uint64_t numel;
    if (!ond_numel(&w->info, 0, &numel) || m <= 0)
        return OND_OK;
    enum ond_status st = ond_tensor_materialize(g, w, err);
    if (st)
        return st;
    size_t per = (size_t)(numel / (uint64_t)m);
    void *qd, *sd, *zd;
    struct ond_tensor *q = new_const(c, w->name, "quantized", OND_DTYPE_INT8, w->info.rank,
                                     w->info.dims, &qd, err);
    struct ond_tensor *s = q ? new_const(c, w->name, "scale", OND_DTYPE_FLOAT, 1, &m, &sd, err)
                             : NULL;
    struct ond_tensor *z = s ? new_const(c, w->name, "zero_point", OND_DTYPE_INT8, 1, &m, &zd,
                                         err) : NULL;
    struct ond_tensor *dq = z ? new_value(c, w, "dequantized", OND_DTYPE_FLOAT, err) : NULL;
    if (!dq)
        return err ? err->status : OND_STATUS_NO_MEMORY;
    const float *wd = w->info.data;
    for (int64_t oc = 0; oc < m; oc++) {
        float sc = ond_int8_channel_scale(wd + (size_t)oc * per, per);
        ((float *)sd)[oc] = sc;
        for (size_t i = 0; i < per; i++)
            ((int8_t *)qd)[(size_t)oc * per + i] =
                (int8_t)fmaxf(-127.f, fminf(127.f, nearbyintf(wd[(size_t)oc * per + i] / sc)));
    }
    n->in[1] = dq;
    dq->uses++;
    w->uses--;
    return add_node(g, "DequantizeLinear", (struct ond_tensor *[]){q, s, z}, 3, dq, 0, err);
}

enum ond_status ond_qdq_insert(struct ond_graph *g, const struct ond_graph *scaled,
                               const float *qscale, const bool *qunsigned, int *n_pairs,
                               int *n_weights, struct ond_error *err)
{
    enum ond_status st = OND_OK;
    struct ond_pass_ctx c = {.g = g};
    int64_t opset = ond_graph_opset(g, "");
    *n_pairs = *n_weights = 0;
    if (opset < 13)
        return ond_fail(err, OND_STATUS_UNSUPPORTED,
                        "the model imports opset %lld: per-channel weights in QDQ form need opset "
                        "13 or later (export the model at opset 13)", (long long)opset);
    /* Tensors and nodes added below are not visited again. */
    int n_tensors = g->n_tensors, n_nodes = g->n_nodes;
    for (int i = 0; i < n_tensors && !st; i++) {
        struct ond_tensor *x = g->tensors[i];
        const struct ond_tensor *t = ond_graph_find_tensor(scaled, x->name);
        if (!t || !(qscale[t->id] > 0) || x->info.dtype != OND_DTYPE_FLOAT ||
            (x->flags & OND_TENSOR_CONST) || !x->uses)
            continue;
        st = pair(&c, x, qscale[t->id], qunsigned[t->id], err);
        ++*n_pairs;
    }
    for (int i = 0; i < n_nodes && !st; i++) {
        struct ond_node *n = g->nodes[i];
        if (!n->dead && n->op && !*n->op->domain && strcmp(n->op->name, "Conv") == 0 &&
            n->in[0]->producer && strcmp(n->in[0]->producer->op_type, "DequantizeLinear") == 0 &&
            (n->in[1]->flags & OND_TENSOR_CONST) && n->in[1]->info.data &&
            n->in[1]->info.dtype == OND_DTYPE_FLOAT) {
            st = weights(&c, n, err);
            ++*n_weights;
        }
    }
    return st ? st : ond_graph_sort(g, err);
}
