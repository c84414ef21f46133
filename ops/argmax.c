/* argmax.c: ONNX ArgMax and ArgMin, opsets 1, 11 (negative axis; taken at every opset, as
 * ONNX Runtime does), 12 (select_last_index) and 13 (types only). Attributes axis (default
 * 0), keepdims (default 1), select_last_index (default 0: the first of equal extremes).
 * Numeric input; int64 output. Values compare as doubles (int64 beyond 2^53 loses its low
 * bits); NaN is never picked unless a row holds nothing else. Sessions run the eval: oneDNN
 * 2.6 has no arg-reduction. */
#include <string.h>

#include "ops/op.h"

struct argx {
    int64_t axis, keepdims, last;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct argx *p = params;
    enum ond_status st;
    if ((st = ond_attr_int(n, "axis", 0, &p->axis, err)) ||
        (st = ond_attr_int(n, "keepdims", 1, &p->keepdims, err)) ||
        (st = ond_attr_int(n, "select_last_index", 0, &p->last, err)))
        return st;
    if (p->keepdims != 0 && p->keepdims != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'keepdims' must be 0 or 1, got %lld",
                             (long long)p->keepdims);
    if (p->last != 0 && p->last != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'select_last_index' must be 0 or 1, got %lld",
                             (long long)p->last);
    if (p->last && n->opset < 12)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'select_last_index' needs opset 12, the model has %lld",
                             (long long)n->opset);
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct argx *p = n->params;
    const struct ond_info *x = in[0];
    out[0].dtype = OND_DTYPE_INT64;
    if (x->dtype == OND_DTYPE_BOOL)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input 0 must be numeric, got bool");
    if (x->rank < 0)
        return OND_OK;
    int axis;
    enum ond_status st = ond_axis(n, p->axis, x->rank, &axis, err);
    if (st)
        return st;
    if (x->dims[axis] == 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "the reduced axis %d is empty", axis);
    out[0].rank = 0;
    for (int i = 0; i < x->rank; i++)
        if (i != axis)
            out[0].dims[out[0].rank++] = x->dims[i];
        else if (p->keepdims)
            out[0].dims[out[0].rank++] = 1;
    return OND_OK;
}

static enum ond_status eval_dir(const struct ond_node *n, const struct ond_info *const *in,
                                void *const *out_data, bool max, struct ond_error *err)
{
    const struct argx *p = n->params;
    const struct ond_info *x = in[0];
    int axis;
    enum ond_status st = ond_axis(n, p->axis, x->rank, &axis, err);
    if (st || !out_data[0])
        return st;
    int64_t outer = 1, inner = 1, dim = x->dims[axis];
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    size_t es = ond_dtype_size(x->dtype);
    const char *src = x->data;
    int64_t *y = out_data[0];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double best = 0;
            int64_t at = -1;
            for (int64_t j = 0; j < dim; j++) {
                double v;
                ond_convert(src + (size_t)((o * dim + j) * inner + i) * es, x->dtype, &v,
                            OND_DTYPE_DOUBLE, 1);
                if (v != v)
                    continue;
                bool better = at < 0 || (max ? v > best : v < best) || (p->last && v == best);
                if (better) {
                    best = v;
                    at = j;
                }
            }
            y[o * inner + i] = at < 0 ? 0 : at;
        }
    return OND_OK;
}

static enum ond_status eval_max(const struct ond_node *n, const struct ond_info *const *in,
                                const struct ond_info *out, void *const *out_data,
                                struct ond_error *err)
{
    (void)out;
    return eval_dir(n, in, out_data, true, err);
}

static enum ond_status eval_min(const struct ond_node *n, const struct ond_info *const *in,
                                const struct ond_info *out, void *const *out_data,
                                struct ond_error *err)
{
    (void)out;
    return eval_dir(n, in, out_data, false, err);
}

#define ARGX(sym, opname, ver, ev)                                  \
    const struct ond_op sym = {                                     \
        .domain = "", .name = opname, .since = ver,                 \
        .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,       \
        .params_size = sizeof(struct argx),                         \
        .parse = parse, .infer = infer, .eval = ev,                 \
    };
ARGX(ond_op_argmax, "ArgMax", 1, eval_max)
ARGX(ond_op_argmin, "ArgMin", 1, eval_min)
