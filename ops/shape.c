/* shape.c: ONNX Shape, opsets 1, 13, 15, 19, 21, 23, 24 and 25 (19 and later only add types;
 * optional start and end attributes, negative counting from the back, clamped to [0, rank]). Any
 * input dtype; output int64 [count]. Its value needs only the input's dims: Reshape's inference
 * reads them through ond_shape_value when the input has no data. */
#include <string.h>

#include "ops/op.h"

struct shape {
    int64_t start, end;
    bool has_end;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct shape *p = params;
    p->has_end = ond_node_attr(n, "end") != NULL;
    enum ond_status st = ond_attr_int(n, "start", 0, &p->start, err);
    if (!st)
        st = ond_attr_int(n, "end", 0, &p->end, err);
    return st;
}

static int64_t clamp(int64_t v, int rank)
{
    v = v < 0 ? v + rank : v;
    return v < 0 ? 0 : v > rank ? rank : v;
}

static void range(const struct shape *p, int rank, int64_t *s, int64_t *e)
{
    *s = clamp(p->start, rank);
    *e = p->has_end ? clamp(p->end, rank) : rank;
    if (*e < *s)
        *e = *s;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    (void)err;
    int64_t s, e;
    out[0].dtype = OND_DTYPE_INT64;
    out[0].rank = 1;
    out[0].dims[0] = OND_DIM_UNKNOWN;
    if (in[0]->rank < 0)
        return OND_OK;
    range(n->params, in[0]->rank, &s, &e);
    out[0].dims[0] = e - s;
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)out;
    (void)err;
    int64_t s, e;
    range(n->params, in[0]->rank, &s, &e);
    if (e > s)
        memcpy(out_data[0], in[0]->dims + s, sizeof(int64_t) * (size_t)(e - s));
    return OND_OK;
}

const struct ond_op ond_op_shape = {
    .domain = "", .name = "Shape", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct shape),
    .parse = parse, .infer = infer, .eval = eval, .dims_only = true,
};
