/* globallppool.c: ONNX GlobalLpPool, opsets 1 (p a FLOAT attribute) and 2 (p an INT), float:
 * y[n, c] = (sum over the spatial dims of |x|^p)^(1/p), X [N, C, D...] to [N, C, 1...].
 * p (2) must be positive.
 * Sessions: oneDNN reduction norm_lp_sum over the spatial dims, on X in the layout it
 * arrives in (plain if oneDNN has no kernel for it). */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct global_lp_pool {
    float p;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct global_lp_pool *p = params;
    enum ond_status st;
    if (n->op->since < 2) {
        st = ond_attr_float(n, "p", 2.f, &p->p, err);
    } else {
        int64_t v;
        st = ond_attr_int(n, "p", 2, &v, err);
        p->p = (float)v;
    }
    if (!st && (!(p->p > 0.f) || isinf(p->p)))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'p' must be positive, got %g", (double)p->p);
    return st;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *x = in[0];
    enum ond_status st = ond_infer_same(n, in, out, err);
    if (st || x->rank < 0)
        return st;
    if (x->rank < 2)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has rank %d, at least 2 is needed", x->rank);
    for (int i = 2; i < x->rank; i++)
        out[0].dims[i] = 1;
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct global_lp_pool *p = n->params;
    const struct ond_info *x = in[0];
    int64_t planes = x->dims[0] * x->dims[1], spatial = 1;
    (void)out;
    (void)err;
    for (int i = 2; i < x->rank; i++)
        spatial *= x->dims[i];
    const float *xd = x->data;
    float *y = out_data[0];
    for (int64_t c = 0; c < planes; c++) {
        double sum = 0;
        for (int64_t j = 0; j < spatial; j++)
            sum += pow(fabs(xd[c * spatial + j]), p->p);
        y[c] = (float)pow(sum, 1.0 / p->p);
    }
    return OND_OK;
}

static enum ond_status lp_pd(struct ond_prep *p, const dnnl_memory_desc_t *src,
                             dnnl_primitive_desc_t *pd, struct ond_error *err)
{
    const struct global_lp_pool *q = p->node->params;
    dnnl_memory_desc_t dst;
    dnnl_reduction_desc_t desc;
    enum ond_status st = ond_md_any(&p->out[0], src->data_type, &dst, err);
    if (st)
        return st;
    OND_DNNL(dnnl_reduction_desc_init(&desc, dnnl_reduction_norm_lp_sum, src, &dst, q->p, 0.f),
             p->node, err);
    return ond_prep_pd(p, &desc, pd, err);
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_info *x = p->in[0];
    if (!ond_prep_float_activation(p, 0, "X"))
        return OND_OK;
    if (x->rank < 3)
        return ond_prep_decline(p, "no spatial dims");
    dnnl_primitive_desc_t pd = NULL;
    enum ond_status st = lp_pd(p, p->in_md[0], &pd, err);
    if (!st && !pd && !ond_md_is_plain(p->in_md[0])) {
        /* No kernel for the layout it arrives in: plain then. */
        p->declined = false;
        if (!(st = ond_md(x, true, &p->want_md[0], err)))
            st = lp_pd(p, &p->want_md[0], &pd, err);
    }
    if (st || !pd)
        return st;
    return ond_prep_finish_unary(p, pd, err);
}

const struct ond_op ond_op_global_lp_pool_1 = {
    .domain = "", .name = "GlobalLpPool", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct global_lp_pool),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_global_lp_pool_2 = {
    .domain = "", .name = "GlobalLpPool", .since = 2,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct global_lp_pool),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
