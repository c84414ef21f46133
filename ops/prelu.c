/* prelu.c: ONNX PRelu, opsets 1, 6, 7, 9, 16: x for x >= 0, slope * x below, slope broadcast
 * to X's shape (unidirectional from 7; 9 and 16 only add types). Opsets 1 and 6 apply a 1-D
 * slope of more than one value per channel (X's dim 1, as the PyTorch exports of that time
 * expect); consumed_inputs of opset 1 is ignored. float only.
 * Sessions: oneDNN prelu with a constant slope as its weights (X's rank, plain); a slope
 * computed at run time runs the eval. */
#include "ops/op.h"
#include "runtime/exec.h"

/* The slope as it broadcasts to X: before opset 7, a 1-D slope [C] as [C, 1, ...]. */
static struct ond_info slope(const struct ond_node *n, const struct ond_info *x,
                             const struct ond_info *s)
{
    struct ond_info r = *s;
    if (n->op->since < 7 && s->rank == 1 && s->dims[0] != 1 && x->rank >= 2) {
        r.rank = x->rank - 1;
        for (int i = 1; i < r.rank; i++)
            r.dims[i] = 1;
    }
    return r;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *x = in[0], sv = slope(n, in[0], in[1]), *s = &sv;
    enum ond_status st = ond_require_float(n, x, 0, err);
    if (st || (st = ond_require_float(n, s, 1, err)))
        return st;
    if (x->rank >= 0 && s->rank > x->rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "slope has rank %d, above X's %d", s->rank, x->rank);
    for (int i = 0; x->rank >= 0 && i < s->rank; i++) {
        int64_t ds = s->dims[i], dx = x->dims[x->rank - s->rank + i];
        if (ds >= 0 && ds != 1 && dx >= 0 && ds != dx)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "slope dim %d (%lld) does not broadcast to X's (%lld)", i,
                                 (long long)ds, (long long)dx);
    }
    out[0] = *x;
    out[0].data = NULL;
    return OND_OK;
}

struct prelu_run {
    const float *x, *s;
    float *y;
};

static void prelu_run(void *ctx, uint64_t o, const int64_t *off, const int64_t *step, int64_t n)
{
    const struct prelu_run *c = ctx;
    for (int64_t j = 0; j < n; j++) {
        float v = c->x[off[0] + j * step[0]];
        c->y[o + (uint64_t)j] = v >= 0 ? v : c->s[off[1] + j * step[1]] * v;
    }
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)err;
    struct ond_info s = slope(n, in[0], in[1]);
    const struct ond_info *x[2] = {in[0], &s};
    struct prelu_run c = {in[0]->data, in[1]->data, out_data[0]};
    ond_bcast_runs(&out[0], 2, x, prelu_run, &c);
    return OND_OK;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_info *x = p->in[0], sv = slope(p->node, p->in[0], p->in[1]), *s = &sv;
    if (!ond_prep_float_activation(p, 0, "X"))
        return OND_OK;
    if (!s->data)
        return ond_prep_decline(p, "slope is not constant");
    /* The slope at X's rank, leading dims 1 (numpy's alignment). */
    int r = x->rank ? x->rank : 1;
    int64_t dims[OND_MAX_RANK];
    for (int i = 0; i < r; i++) {
        int is = i - (r - s->rank);
        dims[i] = is >= 0 ? s->dims[is] : 1;
    }
    const dnnl_memory_desc_t *src = p->in_md[0];
    dnnl_memory_desc_t w;
    enum ond_status st = ond_md_float(r, dims, true, &w, err);
    if (st)
        return st;
    w.data_type = src->data_type;
    dnnl_prelu_desc_t desc;
    OND_DNNL(dnnl_prelu_forward_desc_init(&desc, dnnl_forward_inference, src, &w), p->node,
             err);
    dnnl_primitive_desc_t pd;
    int m;
    if ((st = ond_prep_pd(p, &desc, &pd, err)) || !pd)
        return st;
    if ((st = ond_prep_const(p, 1, &w, &m, err))) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    p->out_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    return ond_prep_finish_weighted(p, pd, m, -1, err);
}

const struct ond_op ond_op_prelu_1 = {
    .domain = "", .name = "PRelu", .since = 1,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_prelu_7 = {
    .domain = "", .name = "PRelu", .since = 7,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .infer = infer, .eval = eval, .prepare = prepare,
};
