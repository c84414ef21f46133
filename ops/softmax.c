/* softmax.c: ONNX Softmax and LogSoftmax (y = x - max - log(sum(exp(x - max)))). Opsets 1
 * and 11: the input is coerced to 2-D at `axis` (default 1) and each row of the flattened
 * dims axis.. is normalized; opset 13: normalized along `axis` alone (default -1). float only.
 * Sessions: oneDNN softmax or logsoftmax. Opset 13 runs on the input in the layout it arrives in (plain
 * if oneDNN has no kernel for that layout); the coerced 2-D form of opsets 1 and 11 runs on
 * a [rows, len] view of the plain input. */
#include <math.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct softmax {
    int64_t axis;
};

static enum ond_status parse_1(struct ond_node *n, void *params, struct ond_error *err)
{
    struct softmax *p = params;
    return ond_attr_int(n, "axis", 1, &p->axis, err);
}

static enum ond_status parse_13(struct ond_node *n, void *params, struct ond_error *err)
{
    struct softmax *p = params;
    return ond_attr_int(n, "axis", -1, &p->axis, err);
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct softmax *p = n->params;
    enum ond_status st = ond_infer_same(n, in, out, err);
    int axis;
    if (st || in[0]->rank < 0)
        return st;
    return ond_axis(n, p->axis, in[0]->rank, &axis, err);
}

static int64_t prod(const int64_t *d, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= d[i];
    return p;
}

static bool is_log(const struct ond_node *n)
{
    return strcmp(n->op->name, "LogSoftmax") == 0;
}

/* Normalizes `len` values `stride` apart, subtracting their max first so exp cannot
 * overflow (and LogSoftmax keeps the precision of x - max near the max). */
static void normalize(const float *x, float *y, int64_t len, int64_t stride, bool log_)
{
    float max = x[0];
    for (int64_t i = 1; i < len; i++)
        max = x[i * stride] > max ? x[i * stride] : max;
    double sum = 0;
    for (int64_t i = 0; i < len; i++) {
        y[i * stride] = expf(x[i * stride] - max);
        sum += y[i * stride];
    }
    double lse = log(sum);
    for (int64_t i = 0; i < len; i++)
        y[i * stride] = log_ ? (float)((double)x[i * stride] - max - lse)
                             : (float)(y[i * stride] / sum);
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)out;
    const struct softmax *p = n->params;
    const struct ond_info *x = in[0];
    int axis;
    enum ond_status st = ond_axis(n, p->axis, x->rank, &axis, err);
    if (st)
        return st;
    bool coerce = n->op->since < 13;
    int64_t outer = prod(x->dims, 0, axis);
    int64_t len = coerce ? prod(x->dims, axis, x->rank) : x->dims[axis];
    int64_t inner = coerce ? 1 : prod(x->dims, axis + 1, x->rank);
    if (len == 0)
        return OND_OK;
    const float *xs = x->data;
    float *ys = out_data[0];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            normalize(xs + o * len * inner + i, ys + o * len * inner + i, len, inner,
                      is_log(n));
    return OND_OK;
}

static enum ond_status softmax_pd(struct ond_prep *p, const dnnl_memory_desc_t *src, int axis,
                                  dnnl_primitive_desc_t *pd, struct ond_error *err)
{
    dnnl_softmax_desc_t desc;
    if (is_log(p->node))
        OND_DNNL(dnnl_logsoftmax_forward_desc_init(&desc, dnnl_forward_inference, src, axis),
                 p->node, err);
    else
        OND_DNNL(dnnl_softmax_forward_desc_init(&desc, dnnl_forward_inference, src, axis),
                 p->node, err);
    return ond_prep_pd(p, &desc, pd, err);
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct softmax *q = n->params;
    const struct ond_info *x = p->in[0];
    if (!ond_prep_float_activation(p, 0, "input"))
        return OND_OK;
    int axis;
    enum ond_status st = ond_axis(n, q->axis, x->rank, &axis, err);
    if (st)
        return st;
    dnnl_primitive_desc_t pd = NULL;
    if (n->op->since < 13) {
        int64_t dims[2] = {prod(x->dims, 0, axis), prod(x->dims, axis, x->rank)};
        if (!(st = ond_md_float(2, dims, true, &p->want_md[0], err)))
            st = softmax_pd(p, &p->want_md[0], 1, &pd, err);
    } else if (!(st = softmax_pd(p, p->in_md[0], axis, &pd, err)) && !pd &&
               !ond_md_is_plain(p->in_md[0])) {
        /* No kernel for the layout it arrives in: plain then. */
        p->declined = false;
        if (!(st = ond_md(x, true, &p->want_md[0], err)))
            st = softmax_pd(p, &p->want_md[0], axis, &pd, err);
    }
    if (st || !pd)
        return st;
    return ond_prep_finish_unary(p, pd, err);
}

const struct ond_op ond_op_softmax_1 = {
    .domain = "", .name = "Softmax", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct softmax),
    .parse = parse_1, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_softmax_13 = {
    .domain = "", .name = "Softmax", .since = 13,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct softmax),
    .parse = parse_13, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_log_softmax_1 = {
    .domain = "", .name = "LogSoftmax", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct softmax),
    .parse = parse_1, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_log_softmax_13 = {
    .domain = "", .name = "LogSoftmax", .since = 13,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct softmax),
    .parse = parse_13, .infer = infer, .eval = eval, .prepare = prepare,
};
