/* constant.c: ONNX Constant, opsets 1, 9, 11, 12, 13, 19, 21, 23, 24 and 25 (19 and later only add
 * value types: float8, int4, float4, int2 are refused at load). Exactly one of value (a tensor of
 * any dtype ondine loads), value_float, value_floats, value_int, value_ints (opset 12: float or
 * int64 scalars and 1-D tensors). sparse_value, value_string and value_strings are UNSUPPORTED. */
#include <string.h>

#include "ops/op.h"

static const char *const kinds[] = {
    "value", "value_float", "value_floats", "value_int", "value_ints",
    "sparse_value", "value_string", "value_strings",
};
static const int kind_types[] = {
    OND_ATTR_TENSOR, OND_ATTR_FLOAT, OND_ATTR_FLOATS, OND_ATTR_INT, OND_ATTR_INTS,
    OND_ATTR_SPARSE_TENSOR, OND_ATTR_STRING, OND_ATTR_STRINGS,
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])
#define N_SUPPORTED 5

struct constant {
    const struct ond_attr *a;
    int kind;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct constant *p = params;
    p->a = NULL;
    for (int k = 0; k < (int)N_KINDS; k++) {
        const struct ond_attr *a = ond_node_attr(n, kinds[k]);
        if (!a)
            continue;
        if (p->a)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "attributes '%s' and '%s' are both set", p->a->name, a->name);
        if (a->type != kind_types[k])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "attribute '%s' has the wrong type %d", a->name, a->type);
        p->a = a;
        p->kind = k;
    }
    if (!p->a)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "needs one of the attributes value, value_float(s), value_int(s)");
    if (p->kind >= N_SUPPORTED)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "attribute '%s' is not supported",
                             p->a->name);
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    (void)in;
    (void)err;
    const struct constant *p = n->params;
    const struct ond_attr *a = p->a;
    switch (p->kind) {
    case 0:
        out[0] = a->t->info;
        out[0].data = NULL;
        break;
    case 1: case 3:
        out[0].dtype = p->kind == 1 ? OND_DTYPE_FLOAT : OND_DTYPE_INT64;
        out[0].rank = 0;
        break;
    default:
        out[0].dtype = p->kind == 2 ? OND_DTYPE_FLOAT : OND_DTYPE_INT64;
        out[0].rank = 1;
        out[0].dims[0] = (int64_t)a->n;
        break;
    }
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)in;
    (void)err;
    const struct constant *p = n->params;
    const struct ond_attr *a = p->a;
    size_t bytes = ond_info_bytes(&out[0]);
    const void *src = p->kind == 0 ? a->t->info.data
                      : p->kind == 1 ? (const void *)&a->f
                      : p->kind == 2 ? (const void *)a->floats
                      : p->kind == 3 ? (const void *)&a->i
                                     : (const void *)a->ints;
    if (bytes && src)
        memcpy(out_data[0], src, bytes);
    return OND_OK;
}

const struct ond_op ond_op_constant = {
    .domain = "", .name = "Constant", .since = 1,
    .min_in = 0, .max_in = 0, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct constant),
    .parse = parse, .infer = infer, .eval = eval,
};
