/* concat.c: ONNX Concat, opsets 1 (axis optional, default 1), 4 (axis required) and 11, 13
 * (negative axis). Any number of inputs of one dtype; all dtypes. */
#include <string.h>

#include "ops/op.h"

struct concat {
    int64_t axis;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct concat *p = params;
    if (n->opset >= 4 && !ond_node_attr(n, "axis"))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "attribute 'axis' is required");
    return ond_attr_int(n, "axis", 1, &p->axis, err);
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct concat *p = n->params;
    const struct ond_info *ref = NULL;
    out[0].dtype = in[0]->dtype;
    for (int k = 0; k < n->n_in; k++) {
        if (!in[k])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input %d is empty", k);
        if (in[k]->dtype != in[0]->dtype)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "input %d is %s, input 0 is %s", k,
                                 ond_dtype_name(in[k]->dtype), ond_dtype_name(in[0]->dtype));
        if (!ref && in[k]->rank >= 0)
            ref = in[k];
    }
    if (!ref)
        return OND_OK;
    int axis;
    enum ond_status st = ond_axis(n, p->axis, ref->rank, &axis, err);
    if (st)
        return st;
    out[0] = *ref;
    out[0].data = NULL;
    out[0].dims[axis] = 0;
    for (int k = 0; k < n->n_in; k++) {
        const struct ond_info *x = in[k];
        if (x->rank < 0) {
            out[0].dims[axis] = OND_DIM_UNKNOWN;
            continue;
        }
        if (x->rank != ref->rank)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "input %d has rank %d, another input rank %d", k, x->rank,
                                 ref->rank);
        for (int i = 0; i < x->rank; i++) {
            int64_t a = out[0].dims[i], b = x->dims[i];
            if (i == axis)
                out[0].dims[i] = a >= 0 && b >= 0 ? a + b : OND_DIM_UNKNOWN;
            else if (a >= 0 && b >= 0 && a != b)
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "input %d has %lld at dim %d, another input %lld", k,
                                     (long long)b, i, (long long)a);
            else if (a < 0 && b != OND_DIM_UNKNOWN)
                out[0].dims[i] = b;
        }
    }
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct concat *p = n->params;
    const struct ond_info *y = &out[0];
    int axis;
    enum ond_status st = ond_axis(n, p->axis, y->rank, &axis, err);
    if (st)
        return st;
    size_t es = ond_dtype_size(y->dtype), outer = 1, inner = es;
    for (int i = 0; i < axis; i++)
        outer *= (size_t)y->dims[i];
    for (int i = axis + 1; i < y->rank; i++)
        inner *= (size_t)y->dims[i];
    char *dst = out_data[0];
    for (size_t o = 0; o < outer; o++)
        for (int k = 0; k < n->n_in; k++) {
            size_t len = (size_t)in[k]->dims[axis] * inner;
            if (len)
                memcpy(dst, (const char *)in[k]->data + o * len, len);
            dst += len;
        }
    return OND_OK;
}

const struct ond_op ond_op_concat = {
    .domain = "", .name = "Concat", .since = 1,
    .min_in = 1, .max_in = 1 << 20, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct concat),
    .parse = parse, .infer = infer, .eval = eval,
};
