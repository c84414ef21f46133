/* constant_of_shape.c: ONNX ConstantOfShape, opsets 9, 20, 21, 23, 24 and 25 (20 and later only
 * add value types, refused at load when ondine does not hold them). Input: the output shape, int64
 * 1-D (empty: a scalar). Attribute value: a one-element tensor of any dtype ondine loads (default
 * float 0). A shape whose element count overflows is a LIMIT error at inference; the graph's
 * max_tensor_elements is enforced before any buffer is made (reference run, session planning), and
 * load-time evaluation only runs on small outputs. */
#include <string.h>

#include "ops/op.h"

struct constant_of_shape {
    const struct ond_info *value; /* NULL: float 0 */
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct constant_of_shape *p = params;
    const struct ond_attr *a = ond_node_attr(n, "value");
    uint64_t numel = 0;
    p->value = NULL;
    if (!a)
        return OND_OK;
    if (a->type != OND_ATTR_TENSOR)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'value' must be a TENSOR");
    if (!ond_numel(&a->t->info, 0, &numel) || numel != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'value' must hold one element, got %llu",
                             (unsigned long long)numel);
    p->value = &a->t->info;
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct constant_of_shape *p = n->params;
    int64_t v[OND_MAX_RANK];
    bool dim[OND_MAX_RANK] = {false};
    int count;
    bool known;
    out[0].dtype = p->value ? p->value->dtype : OND_DTYPE_FLOAT;
    if (in[0]->dtype != OND_DTYPE_INT64)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input 0 (shape) must be int64, got %s",
                             ond_dtype_name(in[0]->dtype));
    enum ond_status st = ond_input_ints(n, in[0], 0, "shape", v, OND_MAX_RANK, &count, &known,
                                        err);
    if (st)
        return st;
    if (!known && count >= 0)
        known = ond_shape_value(n->in[0], v, dim, OND_MAX_RANK, &count);
    if (count < 0)
        return OND_OK;
    out[0].rank = count;
    for (int i = 0; i < count; i++) {
        if (known && !dim[i] && v[i] < 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "shape value %lld at %d is negative", (long long)v[i], i);
        out[0].dims[i] = known ? v[i] : OND_DIM_UNKNOWN;
    }
    uint64_t numel;
    if (ond_info_known(&out[0]) &&
        !ond_numel(&out[0], SIZE_MAX / ond_dtype_size(out[0].dtype), &numel))
        return ond_node_fail(err, n, OND_STATUS_LIMIT, "the output shape has too many elements");
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)in;
    (void)err;
    const struct constant_of_shape *p = n->params;
    uint64_t numel;
    if (!p->value || !ond_numel(&out[0], 0, &numel))
        return OND_OK;
    size_t es = ond_dtype_size(out[0].dtype);
    char *dst = out_data[0];
    for (uint64_t i = 0; i < numel; i++)
        memcpy(dst + i * es, p->value->data, es);
    return OND_OK;
}

const struct ond_op ond_op_constant_of_shape = {
    .domain = "", .name = "ConstantOfShape", .since = 9,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct constant_of_shape),
    .parse = parse, .infer = infer, .eval = eval,
};
