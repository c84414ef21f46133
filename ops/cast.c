/* cast.c: ONNX Cast, opset 1 (`to` a type name string such as "FLOAT") and opsets 6, 9, 13, 19,
 * 21, 23, 24, 25 (`to` an int TensorProto type; 19 adds `saturate`, which only float8 targets
 * read, and 19 to 25 add float8, int4, float4, int2 types, all UNSUPPORTED here). Between float,
 * double, float16, bfloat16, int8, uint8, int32, int64 and bool, rounding to nearest even into
 * float16/bfloat16; float to integer truncates toward zero and saturates. Other types (string,
 * complex...) are UNSUPPORTED: node tests test_cast_FLOAT_to_STRING and test_cast_STRING_to_FLOAT
 * are skipped. */
#include <string.h>

#include "ops/op.h"

struct cast {
    int64_t to;
};

static int64_t type_by_name(const char *s)
{
    static const struct { const char *name; int32_t dtype; } names[] = {
        {"FLOAT", OND_DTYPE_FLOAT}, {"UINT8", OND_DTYPE_UINT8}, {"INT8", OND_DTYPE_INT8},
        {"INT32", OND_DTYPE_INT32}, {"INT64", OND_DTYPE_INT64}, {"BOOL", OND_DTYPE_BOOL},
        {"FLOAT16", OND_DTYPE_FLOAT16}, {"DOUBLE", OND_DTYPE_DOUBLE},
        {"BFLOAT16", OND_DTYPE_BFLOAT16},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].dtype;
    return 0;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct cast *p = params;
    const struct ond_attr *a = ond_node_attr(n, "to");
    if (!a)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "attribute 'to' is required");
    if (n->opset < 6 && a->type == OND_ATTR_STRING) {
        if (!(p->to = type_by_name(a->s)))
            return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                                 "attribute 'to': type '%s' is not supported", a->s);
        return OND_OK;
    }
    enum ond_status st = ond_attr_int(n, "to", 0, &p->to, err);
    if (st)
        return st;
    if (p->to < 1 || p->to > OND_DTYPE_LAST_ONNX)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'to' is %lld, not a tensor type", (long long)p->to);
    int64_t saturate = 1;
    if (n->opset >= 19 && (st = ond_attr_int(n, "saturate", 1, &saturate, err)))
        return st;
    if (saturate != 0 && saturate != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'saturate' must be 0 or 1, got %lld", (long long)saturate);
    if (!ond_dtype_supported((int32_t)p->to))
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "attribute 'to': type %s is not supported",
                             ond_dtype_name((int32_t)p->to));
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    (void)err;
    const struct cast *p = n->params;
    out[0] = *in[0];
    out[0].data = NULL;
    out[0].dtype = (int32_t)p->to;
    return OND_OK;
}

enum ond_status ond_cast_eval(const struct ond_node *n, const struct ond_info *const *in,
                              const struct ond_info *out, void *const *out_data,
                              struct ond_error *err)
{
    (void)n;
    (void)err;
    uint64_t numel;
    if (ond_numel(&out[0], 0, &numel) && numel)
        ond_convert(in[0]->data, in[0]->dtype, out_data[0], out[0].dtype, (size_t)numel);
    return OND_OK;
}

const struct ond_op ond_op_cast = {
    .domain = "", .name = "Cast", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct cast),
    .parse = parse, .infer = infer, .eval = ond_cast_eval,
};
