/* castlike.c: ONNX CastLike, opsets 15, 19, 21, 23, 24, 25: input converted to the type of
 * target_type (whose values are not read), as Cast converts (ond_convert): between float,
 * double, float16, bfloat16, int8, uint8, int32, int64 and bool. Attribute saturate (19+,
 * default 1) only concerns float8 types, which ondine refuses (as it does int4, string...).
 * Sessions run the eval (C). Node tests test_castlike_BFLOAT16_to_FLOAT and
 * test_castlike_FLOAT_to_BFLOAT16 are skipped (tests/node_skip.txt: their input 'like' is [1]
 * while the model declares [3,4], broken ONNX 1.12 data). */
#include "ops/op.h"

static bool castable(int32_t dt)
{
    switch (dt) {
    case OND_DTYPE_FLOAT: case OND_DTYPE_DOUBLE: case OND_DTYPE_FLOAT16:
    case OND_DTYPE_BFLOAT16: case OND_DTYPE_INT8: case OND_DTYPE_UINT8: case OND_DTYPE_INT32:
    case OND_DTYPE_INT64: case OND_DTYPE_BOOL:
        return true;
    }
    return false;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)params;
    int64_t saturate;
    enum ond_status st = ond_attr_int(n, "saturate", 1, &saturate, err);
    if (!st && saturate != 0 && saturate != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'saturate' must be 0 or 1, got %lld",
                             (long long)saturate);
    return st;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    for (int k = 0; k < 2; k++)
        if (!castable(in[k]->dtype))
            return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "%s is %s, not supported",
                                 k ? "target_type" : "input", ond_dtype_name(in[k]->dtype));
    out[0] = *in[0];
    out[0].data = NULL;
    out[0].dtype = in[1]->dtype;
    return OND_OK;
}

const struct ond_op ond_op_castlike = {
    .domain = "", .name = "CastLike", .since = 15,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .parse = parse, .infer = infer, .eval = ond_cast_eval,
};
