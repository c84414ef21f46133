/* fold_qdq.c: takes the activation quantization a QDQ model states (ONNX Runtime's
 * quantization tool, `ondine quantize`) as scales on the tensors, for int8 sessions.
 *
 *   before:  P -> x -> QuantizeLinear(s, zp) -> q -> DequantizeLinear(s, zp) -> x' -> C1, C2
 *   after:   P -> x -> C1, C2          x.qscale = s (u8 when q is uint8, s8 when int8)
 *
 * Weights (a constant int8 tensor -> DequantizeLinear) need no pass: fold_constants computes
 * their float values at load, and int8 sessions quantize them again per output channel.
 *
 * Math: the pair rounds x to the grid s * (q - zp). An int8 session quantizes x with the same
 * scale, so it computes what the pair states; an fp32 session computes in float without the
 * rounding (at -O0 the pair runs as its two ops). A zero point of 0 gives the scale exactly;
 * another one (asymmetric) is run symmetric over the pair's range [s (qmin - zp),
 * s (qmax - zp)], the nearest that oneDNN's convolutions take.
 *
 * Legality: the rules below, in the words `inspect --passes --why-not` reports a candidate (a
 * QuantizeLinear) with when it breaks one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
        for (int j = 1; j < n_nodes; j++) {
            struct ond_node *d = (struct ond_node *)nodes[j];
            for (int a = 0; a < g->n_nodes; a++)
                for (int k = 0; k < g->nodes[a]->n_in; k++)
                    if (g->nodes[a]->in[k] == d->out[0])
                        ond_pass_set_input(c, g->nodes[a], k, x);
        }
        for (int j = 1; j < n_nodes; j++)
            ond_pass_kill((struct ond_node *)nodes[j]);
        ond_pass_kill(n);
        if (!(x->qscale > 0)) {
            int lo = u ? 0 : -128, hi = u ? 255 : 127;
            float mn = s * (float)(lo - zp), mx = s * (float)(hi - zp);
            x->qunsigned = mn >= 0;
            x->qscale = zp == 0 ? s : x->qunsigned ? mx / 255.f : fmaxf(-mn, mx) / 127.f;
        }
        c->rewrites++;
        st = ond_pass_fusion(c, err, n_nodes, nodes, NULL, x->name,
                             "QuantizeLinear '%s' + DequantizeLinear -> '%s' scale %g %s",
                             n->name, x->name, (double)x->qscale, x->qunsigned ? "u8" : "s8");
        free(nodes);
        if (st)
            return st;
    }
    return OND_OK;
}
