/* split.c: ONNX Split, opsets 1, 2, 11, 13 and 18. Attribute axis (default 0; negative counts
 * from the end at every opset: 11 made it official, older exporters already wrote it). The
 * part lengths come from the `split` attribute (1, 2, 11) or input 1 (1, 13, 18; int64,
 * 1-D); without them the axis is cut into equal parts, one per output: it must divide
 * evenly before 18; from 18 (attribute num_outputs, equal to the output count) the parts
 * are ceil(dim / outputs) long and the last ones shorter. At most 64 outputs (4 in a
 * session, runtime/exec.h's OND_PREP_MAX_OUT). All dtypes. Sessions run the eval (a strided
 * copy per output). */
#include <string.h>

#include "ops/op.h"

#define SPLIT_MAX 64

struct split {
    int64_t axis, num_outputs;    /* num_outputs 0: absent */
    int n_split;                  /* -1: no split attribute */
    int64_t split[SPLIT_MAX];
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct split *p = params;
    enum ond_status st = ond_attr_int(n, "axis", 0, &p->axis, err);
    p->n_split = -1;
    p->num_outputs = 0;
    if (!st && n->opset < 13)
        st = ond_attr_ints(n, "split", p->split, SPLIT_MAX, &p->n_split, err);
    if (!st && n->opset >= 18) {
        if ((st = ond_attr_int(n, "num_outputs", 0, &p->num_outputs, err)))
            return st;
        bool has_split = n->n_in > 1 && n->in[1];
        if (ond_node_attr(n, "num_outputs") && has_split)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "attribute 'num_outputs' and input 1 (split) are both given");
        if (ond_node_attr(n, "num_outputs") && p->num_outputs != n->n_out)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "attribute 'num_outputs' is %lld, the node has %d outputs",
                                 (long long)p->num_outputs, n->n_out);
    }
    if (!st && p->n_split >= 0 && n->n_in > 1 && n->in[1])
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'split' and input 1 (split) are both given");
    for (int i = 0; !st && i < p->n_split; i++)
        if (p->split[i] < 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "attribute 'split' has a negative value %lld at %d",
                                 (long long)p->split[i], i);
    return st;
}

/* Lengths of the parts along the axis of length dim (-1 unknown) into len; *known false
 * when they are not known yet. */
static enum ond_status lengths(const struct ond_node *n, const struct ond_info *const *in,
                               int64_t dim, int64_t *len, bool *known, struct ond_error *err)
{
    const struct split *p = n->params;
    int count = p->n_split;
    enum ond_status st;
    *known = true;
    if (count >= 0)
        memcpy(len, p->split, sizeof(int64_t) * (size_t)count);
    else if (n->n_in > 1 && in[1] &&
             (st = ond_input_ints(n, in[1], 1, "split", len, SPLIT_MAX, &count, known, err)))
        return st;
    if (count >= 0) {
        if (count != n->n_out)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "split has %d values for %d outputs", count, n->n_out);
        if (!*known)
            return OND_OK;
        int64_t sum = 0;
        for (int i = 0; i < count; i++) {
            if (len[i] < 0 || len[i] > INT64_MAX - sum)
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "split value %lld at %d is invalid", (long long)len[i], i);
            sum += len[i];
        }
        if (dim >= 0 && sum != dim)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "split values add up to %lld, the axis has %lld",
                                 (long long)sum, (long long)dim);
        return OND_OK;
    }
    *known = dim >= 0;
    if (!*known)
        return OND_OK;
    if (n->opset < 18 && dim % n->n_out)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "the axis of %lld does not split into %d equal parts",
                             (long long)dim, n->n_out);
    int64_t chunk = (dim + n->n_out - 1) / n->n_out, left = dim;
    for (int i = 0; i < n->n_out; i++) {
        len[i] = left < chunk ? left : chunk;
        left -= len[i];
    }
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct split *p = n->params;
    const struct ond_info *x = in[0];
    int64_t len[SPLIT_MAX];
    bool known;
    int axis;
    enum ond_status st;
    for (int k = 0; k < n->n_out; k++)
        out[k].dtype = x->dtype;
    if (x->rank < 0)
        return OND_OK;
    if ((st = ond_axis(n, p->axis, x->rank, &axis, err)) ||
        (st = lengths(n, in, x->dims[axis], len, &known, err)))
        return st;
    for (int k = 0; k < n->n_out; k++) {
        out[k].rank = x->rank;
        memcpy(out[k].dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
        out[k].dims[axis] = known ? len[k] : OND_DIM_UNKNOWN;
    }
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)out;
    const struct split *p = n->params;
    const struct ond_info *x = in[0];
    int64_t len[SPLIT_MAX], outer = 1, inner = 1;
    bool known;
    int axis;
    enum ond_status st;
    if ((st = ond_axis(n, p->axis, x->rank, &axis, err)) ||
        (st = lengths(n, in, x->dims[axis], len, &known, err)))
        return st;
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    size_t es = ond_dtype_size(x->dtype);
    int64_t at = 0;
    for (int k = 0; k < n->n_out; k++) {
        int64_t dims[2] = {outer, len[k] * inner}, strides[2] = {x->dims[axis] * inner, 1};
        if (out_data[k])
            ond_strided_copy(out_data[k], (const char *)x->data + (size_t)(at * inner) * es, 2,
                             dims, strides, es);
        at += len[k];
    }
    return OND_OK;
}

#define SPLIT_OP(sym, ver, nin)                                        \
    const struct ond_op sym = {                                        \
        .domain = "", .name = "Split", .since = ver,                   \
        .min_in = 1, .max_in = nin, .min_out = 1, .max_out = SPLIT_MAX, \
        .params_size = sizeof(struct split),                           \
        .parse = parse, .infer = infer, .eval = eval,                  \
    };
SPLIT_OP(ond_op_split_1, 1, 2)
SPLIT_OP(ond_op_split_2, 2, 1)
SPLIT_OP(ond_op_split_13, 13, 2)
SPLIT_OP(ond_op_split_18, 18, 2)
