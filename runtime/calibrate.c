/* calibrate.c: static post-training quantization of activations for int8 sessions.
 *
 * An observing f32 session (session.h) runs the calibration inputs over the optimized graph
 * and records every float activation's range. A tensor gets a scale when an op that takes
 * int8 reads it: a convolution (OND_QUANT_OWN), or a max pooling or view (OND_QUANT_KEEP)
 * whose own output does; so a conv feeding only the classifier's Gemm writes f32, not int8 to
 * be dequantized. Scales are symmetric (zero point 0, as oneDNN's convolutions take them):
 * max / 255 for a non-negative tensor (u8), max |x| / 127 otherwise (s8), min-max over all
 * calibration inputs. A KEEP op's output shares its input's scale, so max pooling and views
 * pass int8 data through unchanged (averaging pools take float: ops/pool.c). Weights are
 * quantized per output channel by the convolution itself (ops/conv.c).
 *
 * A model that states its scales (QDQ: fold_qdq sets tensors' qscale) is not calibrated: the
 * tensors an int8 op reads take the scales the model gives, and those it gives none stay
 * float.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/model.h"
#include "runtime/session.h"

struct range {
    float *lo, *hi;
    bool *seen;
};

static void observe(void *ctx, const struct ond_tensor *t, const float *data, size_t numel)
{
    struct range *r = ctx;
    float lo = r->seen[t->id] ? r->lo[t->id] : INFINITY;
    float hi = r->seen[t->id] ? r->hi[t->id] : -INFINITY;
    for (size_t i = 0; i < numel; i++) {
        /* NaN compares false both ways and is skipped. */
        if (data[i] < lo)
            lo = data[i];
        if (data[i] > hi)
            hi = data[i];
    }
    r->lo[t->id] = lo;
    r->hi[t->id] = hi;
    r->seen[t->id] = true;
}

/* Two sets of normal random inputs (seeded, batch and unknown dims 1). */
#define RANDOM_SETS 2

static enum ond_status random_inputs(const struct ond_graph *g, struct ond_value *v,
                                     struct ond_error *err)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int set = 0; set < RANDOM_SETS; set++)
        for (int i = 0; i < g->n_inputs; i++) {
            const struct ond_info *info = &g->inputs[i]->info;
            struct ond_value *x = &v[set * g->n_inputs + i];
            uint64_t numel = 1;
            x->name = g->inputs[i]->name;
            x->dtype = info->dtype;
            x->rank = info->rank < 0 ? 0 : info->rank;
            for (int d = 0; d < x->rank; d++) {
                x->dims[d] = info->dims[d] > 0 ? info->dims[d] : 1;
                numel *= (uint64_t)x->dims[d];
            }
            size_t es = ond_dtype_size(info->dtype);
            if (!es || numel > g->opts.max_tensor_elements)
                return ond_fail(err, OND_STATUS_UNSUPPORTED,
                                "input '%s' cannot be filled with random calibration data: give "
                                "calibration inputs", x->name);
            x->size = (size_t)numel * es;
            if (!(x->data = calloc(1, x->size ? x->size : 1)))
                return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate calibration inputs");
            if (info->dtype != OND_DTYPE_FLOAT)
                continue;
            float *f = x->data;
            for (uint64_t k = 0; k < numel; k++) {
                /* xorshift64*, Box-Muller */
                double u[2];
                for (int j = 0; j < 2; j++) {
                    seed ^= seed >> 12;
                    seed ^= seed << 25;
                    seed ^= seed >> 27;
                    u[j] = ((seed * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
                }
                f[k] = (float)(sqrt(-2.0 * log(u[0] + 0x1.0p-60)) * cos(6.283185307179586 * u[1]));
            }
        }
    return OND_OK;
}

/* Which tensors an int8 op reads as int8 (see the top of this file), deciding in reverse
 * order so that a KEEP op's output is settled before its input. */
static void mark_needed(const struct ond_graph *g, bool *need)
{
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const struct ond_node *n = g->nodes[i];
        enum ond_quant q = n->op ? n->op->quant : OND_QUANT_NONE;
        if (q == OND_QUANT_NONE || (q == OND_QUANT_KEEP && !(n->out[0] && need[n->out[0]->id])))
            continue;
        for (int k = 0; k < (q == OND_QUANT_KEEP ? 1 : n->n_in); k++) {
            const struct ond_tensor *t = n->in[k];
            if (t && !(t->flags & (OND_TENSOR_CONST | OND_TENSOR_OUTPUT)) &&
                t->info.dtype == OND_DTYPE_FLOAT)
                need[t->id] = true;
        }
    }
}

/* Tensor t's scale, after its producer's inputs': the model's (r NULL) or from its range.
 * A KEEP op's output takes its input's scale even where no int8 op reads it (a view that is
 * a graph output): the op writes int8 when its input arrives so, and that value needs the
 * scale to be read as float. */
static void assign(const struct ond_tensor *t, const struct range *r, const bool *need,
                   float *qscale, bool *qunsigned)
{
    const struct ond_node *p = t->producer;
    if (p && p->op->quant == OND_QUANT_KEEP && p->in[0] && qscale[p->in[0]->id] > 0) {
        qscale[t->id] = qscale[p->in[0]->id];
        qunsigned[t->id] = qunsigned[p->in[0]->id];
        return;
    }
    if (!need[t->id] || (r && !r->seen[t->id]))
        return;
    if (!r) {
        qscale[t->id] = t->qscale;
        qunsigned[t->id] = t->qunsigned;
        return;
    }
    bool u = r->lo[t->id] >= 0;
    float m = u ? r->hi[t->id] / 255.f : fmaxf(-r->lo[t->id], r->hi[t->id]) / 127.f;
    qscale[t->id] = m > 0 && isfinite(m) ? m : 1.f;
    qunsigned[t->id] = u;
}

enum ond_status ond_calibrate(const struct ond_model *model, const struct ond_options *opts,
                              float **qscale, bool **qunsigned, struct ond_error *err)
{
    const struct ond_graph *g = model->graph;
    size_t nt = (size_t)g->n_tensors + 1, n_sets = opts->n_calibration_sets;
    const struct ond_value *sets = opts->calibration;
    struct ond_value *own = NULL;
    struct range r = {calloc(nt, sizeof(float)), calloc(nt, sizeof(float)),
                      calloc(nt, sizeof(bool))};
    bool *need = calloc(nt, sizeof(bool));
    struct ond_session *obs = NULL;
    enum ond_status st = OND_OK;
    bool given = false;
    for (int i = 0; i < g->n_tensors; i++)
        given |= g->tensors[i]->qscale > 0;
    *qscale = calloc(nt, sizeof(float));
    *qunsigned = calloc(nt, sizeof(bool));
    if (!r.lo || !r.hi || !r.seen || !need || !*qscale || !*qunsigned)
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate calibration tables");
    if (!st && given)
        n_sets = 0;
    else if (!st && (!sets || !n_sets)) {
        n_sets = RANDOM_SETS;
        if (!(own = calloc(n_sets * (size_t)g->n_inputs + 1, sizeof *own)))
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate calibration inputs");
        else
            st = random_inputs(g, own, err);
        sets = own;
    }
    if (!st && !given)
        st = ond_session_create_observer(model, opts, &obs, err);
    for (size_t i = 0; i < n_sets && !st; i++)
        if ((st = ond_session_observe(obs, sets + i * (size_t)g->n_inputs, (size_t)g->n_inputs,
                                      observe, &r, err)))
            ond_error_prefix(err, "calibration input set %zu: ", i);
    if (!st) {
        mark_needed(g, need);
        const struct range *rr = given ? NULL : &r;
        for (int i = 0; i < g->n_inputs; i++)
            assign(g->inputs[i], rr, need, *qscale, *qunsigned);
        for (int i = 0; i < g->n_nodes; i++)
            for (int k = 0; k < g->nodes[i]->n_out; k++)
                if (g->nodes[i]->out[k])
                    assign(g->nodes[i]->out[k], rr, need, *qscale, *qunsigned);
    }
    ond_session_free(obs);
    for (size_t i = 0; own && i < n_sets * (size_t)g->n_inputs; i++)
        free(own[i].data);
    free(own);
    free(r.lo);
    free(r.hi);
    free(r.seen);
    free(need);
    if (st) {
        free(*qscale);
        free(*qunsigned);
        *qscale = NULL;
        *qunsigned = NULL;
    }
    return st;
}
