/* fold_qdq.c: takes the activation quantization a QDQ model states (ONNX Runtime's
 * quantization tool, `ondine quantize`) as scales on the tensors, for int8 sessions.
 *
 *   before:  P -> x -> QuantizeLinear(s, zp) -> q -> DequantizeLinear(s, zp) -> x' -> C1, C2
 *   after:   P -> x -> C1, C2          x.qscale = s (u8 when q is uint8, s8 when int8)
 *   or:      P -> x -> Clip(lo, hi) -> x' -> C1, C2      x'.qscale as below
 *
 * Weights (a constant int8 tensor -> DequantizeLinear) need no pass: fold_constants computes
 * their float values at load, and int8 sessions quantize them again per output channel.
 *
 * Math: the pair rounds x to the grid s * (q - zp) and saturates at its range [lo, hi] =
 * [s (qmin - zp), s (qmax - zp)]. An int8 session quantizes a tensor that an int8 op reads
 * with its scale, so with a zero point of 0 it computes what the pair states, rounding and
 * saturation included: the pair goes. Another zero point (asymmetric) is run symmetric over
 * [lo, hi], the nearest that oneDNN's convolutions take, which saturates at -max(|lo|, |hi|)
 * and not at lo (or the other way round); and an op that takes float reads the tensor
 * unsaturated. In both cases the pair becomes a Clip to [lo, hi] (fuse_activation folds it
 * into a producing convolution), keeping the saturation; only the rounding (at most s / 2)
 * is left to the int8 form, or lost where the tensor stays float (graph fuzzer, finding G).
 * So does a second pair on a tensor an earlier pair gave a scale (one scale per tensor), a
 * pair on a graph output (which int8 sessions keep float), and a pair on a tensor that other
 * nodes read too (the scale on x would quantize what they read: a Flatten of a graph input
 * beside the pair lost its negative values; graph fuzzer, seed 466990698).
 * Which readers are int8 follows what the session will run, since an int8 session gives a
 * tensor a scale only where an int8 op reads it (calibrate.c): a Gemm counts only when
 * fuse_inner_product will make it an int8 InnerProduct. At -O1, or behind a Reshape it does not
 * take (to [1, C] against a symbolic batch), the Gemm runs f32 and read the pair's tensor
 * unsaturated (graph fuzzer, finding N: 0.35 of the output's scale off); now the pair is a
 * Clip there. Counting no Gemm errs the other way: a QDQ ResNet-20's pair after its global
 * pool became a Clip, so the pair before the pool, a Clip fused into the last conv, no longer
 * led to an int8 op; its tensor stayed float and lost that pair's rounding (0.7% of the
 * logits' scale off the QDQ model, which the calibrated session computes exactly).
 *
 * Legality: the rules below, in the words `inspect --passes --why-not` reports a candidate (a
 * QuantizeLinear) with when it breaks one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/passes/passes.h"

static const char RUNTIME_FLOAT[] = "x is a float tensor computed at run time";
static const char SCALE[] = "s is a positive, finite constant float with one element; zp absent "
                            "or a constant uint8 or int8 with one element";
static const char READERS[] = "q is read only by DequantizeLinear nodes with s and zp of the "
                              "same values, and is not a graph output";
/* It keeps a node making it. */
static const char DQ_OUTPUT[] = "no DequantizeLinear output is a graph output";

static bool scalar(const struct ond_tensor *t, int32_t dtype)
{
    uint64_t n;
    return ond_pass_is_const(t) && t->info.dtype == dtype && ond_numel(&t->info, 0, &n) && n == 1;
}

/* The zero point's value (0 when absent) and whether q is unsigned; false if zp is not a
 * constant uint8/int8 scalar. */
static bool zero_point(const struct ond_node *n, int *zp, bool *u)
{
    const struct ond_tensor *z = n->n_in > 2 ? n->in[2] : NULL;
    *zp = 0;
    *u = !z || z->info.dtype == OND_DTYPE_UINT8;
    if (!z)
        return true;
    if (scalar(z, OND_DTYPE_UINT8))
        *zp = *(const uint8_t *)z->info.data;
    else if (scalar(z, OND_DTYPE_INT8))
        *zp = *(const int8_t *)z->info.data;
    else
        return false;
    return true;
}

/* A DequantizeLinear reading q with the Quantize's scale and zero point. */
static bool matching_dq(const struct ond_node *d, const struct ond_tensor *q, float s, int zp,
                        bool u)
{
    int dzp;
    bool du;
    return ond_pass_is(d, "", "DequantizeLinear") && d->in[0] == q &&
           scalar(d->in[1], OND_DTYPE_FLOAT) && *(const float *)d->in[1]->info.data == s &&
           zero_point(d, &dzp, &du) && dzp == zp && du == u && d->out[0];
}

/* The rule that Quantize n breaks, or NULL; its DequantizeLinear readers into dq[] (q's uses). */
static const char *rejects(const struct ond_graph *g, const struct ond_node *n,
                           const struct ond_node **dq)
{
    const struct ond_tensor *x = n->in[0], *q = n->out[0];
    int zp, readers = 0;
    bool u;
    if (x->info.dtype != OND_DTYPE_FLOAT || ond_pass_is_const(x))
        return RUNTIME_FLOAT;
    if (!scalar(n->in[1], OND_DTYPE_FLOAT) || !zero_point(n, &zp, &u))
        return SCALE;
    float s = *(const float *)n->in[1]->info.data;
    if (!(s > 0) || !isfinite(s))
        return SCALE;
    if (!q || !q->uses || (q->flags & OND_TENSOR_OUTPUT))
        return READERS;
    for (int j = 0; j < g->n_nodes; j++)
        for (int k = 0; k < g->nodes[j]->n_in; k++)
            if (g->nodes[j]->in[k] == q && !g->nodes[j]->dead) {
                if (readers == q->uses || !matching_dq(g->nodes[j], q, s, zp, u))
                    return READERS;
                dq[readers++] = g->nodes[j];
            }
    for (int j = 0; j < readers; j++)
        if (dq[j]->out[0]->flags & OND_TENSOR_OUTPUT)
            return DQ_OUTPUT;
    return readers == q->uses ? NULL : READERS;
}

/* Whether t is read only as an int8 op's input 0, which the int8 session's quantization
 * saturates: a convolution or inner product; a Gemm that fuse_inner_product will make an
 * InnerProduct (with the Flatten or Reshape before it); or a max pooling or view
 * (which quantizes its input when its output needs it) whose output is no graph output and
 * is read so in turn. *budget bounds the tensors visited (views fanning out in a hostile
 * model); running out answers false, which costs a Clip, not a wrong result. */
static bool int8_readers(const struct ond_pass_ctx *c, const struct ond_tensor *t, int *budget)
{
    const struct ond_graph *g = c->g;
    if ((t->flags & OND_TENSOR_OUTPUT) || --*budget < 0)
        return false;
    for (int a = 0; a < g->n_nodes; a++) {
        const struct ond_node *r = g->nodes[a];
        for (int k = 0; k < r->n_in && !r->dead; k++) {
            if (r->in[k] != t)
                continue;
            if (k != 0 ||
                (r->op->quant == OND_QUANT_NONE && !ond_pass_inner_product_takes(c, r)) ||
                (r->op->quant == OND_QUANT_KEEP &&
                 (!r->out[0] || !int8_readers(c, r->out[0], budget))))
                return false;
        }
    }
    return true;
}

/* int8_readers for every DequantizeLinear output of q. */
static bool all_int8_readers(const struct ond_pass_ctx *c, const struct ond_tensor *q)
{
    const struct ond_graph *g = c->g;
    int budget = 64;
    for (int j = 0; j < g->n_nodes; j++) {
        const struct ond_node *d = g->nodes[j];
        if (!d->dead && d->n_in >= 1 && d->in[0] == q && !int8_readers(c, d->out[0], &budget))
            return false;
    }
    return true;
}

/* The pair's scale on t: s for a zero point of 0, else symmetric over range, u8 when it is
 * non-negative. */
static void set_scale(struct ond_tensor *t, float s, int zp, const float *range)
{
    t->qunsigned = range[0] >= 0;
    t->qscale = zp == 0 ? s
                : t->qunsigned ? range[1] / 255.f
                               : fmaxf(-range[0], range[1]) / 127.f;
}

/* Rebinds DequantizeLinear d to Clip(x, bound[0], bound[1]), writing d's output. */
static enum ond_status to_clip(struct ond_pass_ctx *c, struct ond_node *d, struct ond_tensor *x,
                               struct ond_tensor *const *bound, struct ond_error *err)
{
    enum ond_status st = d->n_in < 3 ? ond_pass_grow_inputs(c, d, 3, err) : OND_OK;
    if (!st)
        st = ond_pass_rebind(c, d, "", "Clip", err);
    if (st)
        return st;
    ond_pass_set_input(c, d, 0, x);
    ond_pass_set_input(c, d, 1, bound[0]);
    ond_pass_set_input(c, d, 2, bound[1]);
    return OND_OK;
}

enum ond_status ond_pass_fold_qdq(struct ond_pass_ctx *c, struct ond_error *err)
{
    struct ond_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *n = g->nodes[i];
        if (!ond_pass_is(n, "", "QuantizeLinear"))
            continue;
        struct ond_tensor *x = n->in[0], *q = n->out[0];
        /* The pattern: the Quantize, then its Dequantize readers. */
        const struct ond_node **nodes = calloc((size_t)(q ? q->uses : 0) + 1, sizeof *nodes);
        if (!nodes)
            return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot run fold_qdq");
        nodes[0] = n;
        const char *why = rejects(g, n, nodes + 1);
        enum ond_status st;
        if (why) {
            st = ond_pass_not_fused(c, err, 1, nodes, why);
            free(nodes);
            if (st)
                return st;
            continue;
        }
        int zp;
        bool u;
        zero_point(n, &zp, &u);
        float s = *(const float *)n->in[1]->info.data;
        int n_nodes = 1 + q->uses;
        int qmin = u ? 0 : -128, qmax = u ? 255 : 127;
        float range[2] = {s * (float)(qmin - zp), s * (float)(qmax - zp)};
        bool clip = zp != 0 || x->qscale > 0 || (x->flags & OND_TENSOR_OUTPUT) ||
                    x->uses > 1 || !all_int8_readers(c, q);
        struct ond_tensor *bound[2] = {NULL, NULL};
        for (int b = 0; b < 2 && clip; b++) {
            struct ond_info info = {.dtype = OND_DTYPE_FLOAT, .rank = 0};
            void *data;
            if (!(bound[b] = ond_pass_new_const(c, n->name, b ? "max" : "min", &info, &data,
                                                err))) {
                free(nodes);
                return err ? err->status : OND_STATUS_NO_MEMORY;
            }
            memcpy(data, &range[b], sizeof range[b]);
        }
        struct ond_tensor *scaled = x;
        st = OND_OK;
        for (int j = 1; j < n_nodes && !st; j++) {
            struct ond_node *d = (struct ond_node *)nodes[j];
            if (clip) {
                scaled = d->out[0];
                st = to_clip(c, d, x, bound, err);
                set_scale(scaled, s, zp, range);
                continue;
            }
            for (int a = 0; a < g->n_nodes; a++)
                for (int k = 0; k < g->nodes[a]->n_in; k++)
                    if (g->nodes[a]->in[k] == d->out[0])
                        ond_pass_set_input(c, g->nodes[a], k, x);
            ond_pass_kill(d);
        }
        if (!st) {
            ond_pass_kill(n);
            if (!clip)
                set_scale(x, s, zp, range);
            c->rewrites++;
            st = ond_pass_fusion(c, err, n_nodes, nodes, NULL, scaled->name,
                                 "QuantizeLinear '%s' + DequantizeLinear -> %s'%s' scale %g %s",
                                 n->name, clip ? "Clip " : "", scaled->name,
                                 (double)scaled->qscale, scaled->qunsigned ? "u8" : "s8");
        }
        free(nodes);
        if (st)
            return st;
    }
    return OND_OK;
}
