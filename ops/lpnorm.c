/* lpnorm.c: ONNX LpNormalization, opset 1, float: y = x / ||x||_p along `axis`, the norm
 * over that axis alone. Attributes: axis (-1), p (2; 1 or 2). A zero norm gives 0, not NaN.
 * Sessions: the plain-C eval. */
#include <math.h>

#include "ops/op.h"

struct lp_norm {
    int64_t axis, p;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct lp_norm *p = params;
    enum ond_status st;
    if ((st = ond_attr_int(n, "axis", -1, &p->axis, err)) ||
        (st = ond_attr_int(n, "p", 2, &p->p, err)))
        return st;
    if (p->p != 1 && p->p != 2)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'p' must be 1 or 2, got %lld", (long long)p->p);
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct lp_norm *p = n->params;
    enum ond_status st = ond_infer_same(n, in, out, err);
    int axis;
    if (st || in[0]->rank < 0)
        return st;
    return ond_axis(n, p->axis, in[0]->rank, &axis, err);
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct lp_norm *p = n->params;
    const struct ond_info *x = in[0];
    int axis;
    enum ond_status st = ond_axis(n, p->axis, x->rank, &axis, err);
    (void)out;
    if (st)
        return st;
    int64_t outer = 1, len = x->dims[axis], inner = 1;
    for (int i = 0; i < x->rank; i++)
        if (i != axis)
            *(i < axis ? &outer : &inner) *= x->dims[i];
    const float *xd = x->data;
    float *y = out_data[0];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t at = o * len * inner + i;
            double norm = 0;
            for (int64_t j = 0; j < len; j++) {
                double v = xd[at + j * inner];
                norm += p->p == 1 ? fabs(v) : v * v;
            }
            norm = p->p == 1 ? norm : sqrt(norm);
            for (int64_t j = 0; j < len; j++)
                y[at + j * inner] = norm > 0 ? (float)(xd[at + j * inner] / norm) : 0.f;
        }
    return OND_OK;
}

const struct ond_op ond_op_lp_norm = {
    .domain = "", .name = "LpNormalization", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct lp_norm),
    .parse = parse, .infer = infer, .eval = eval,
};
