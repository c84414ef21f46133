/* dropout.c: ONNX Dropout in inference mode, where it is the identity. Opsets 1 and 6 (attributes
 * ratio, is_test; is_test 0 is still run as inference), 7 (ratio; mask of the input's type), 10
 * (mask is bool), 12, 13 and 22 (ratio and training_mode inputs, seed; 22 adds types):
 * training_mode must be absent or a constant false, or ratio a constant 0 (then training drops
 * nothing and scales by 1), else UNSUPPORTED. The optional mask is all
 * true (ones). float and double. In a session the output is a view of the input's buffer; a node
 * whose mask is used runs its eval. */
#include "ops/op.h"
#include "runtime/exec.h"

static enum ond_status parse_1(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)params;
    float ratio;
    int64_t is_test;
    enum ond_status st = ond_attr_float(n, "ratio", 0.5f, &ratio, err);
    return st ? st : ond_attr_int(n, "is_test", 0, &is_test, err);
}

static enum ond_status parse_7(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)params;
    float ratio;
    return ond_attr_float(n, "ratio", 0.5f, &ratio, err);
}

static enum ond_status parse_12(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)params;
    int64_t seed;
    return ond_attr_int(n, "seed", 0, &seed, err);
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    int32_t dt = in[0]->dtype;
    if (dt != OND_DTYPE_FLOAT && dt != OND_DTYPE_DOUBLE)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "type %s is not supported",
                             ond_dtype_name(dt));
    const struct ond_info *training = n->n_in > 2 ? in[2] : NULL;
    if (training) {
        if (training->dtype != OND_DTYPE_BOOL)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "training_mode is %s, must be bool",
                                 ond_dtype_name(training->dtype));
        /* Training with ratio 0 drops nothing and scales by 1/(1-0): the identity still
         * (torch exports Swin's attention dropout so, with ratio 0 and training true). */
        const struct ond_info *ratio = in[1];
        bool zero = ratio && ratio->data && ond_num_dtype(ratio->dtype) &&
                    ond_num_double(ratio->data, ratio->dtype) == 0;
        if (!training->data || (*(const uint8_t *)training->data && !zero))
            return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                                 "training_mode must be a constant false (or ratio a "
                                 "constant 0)");
    }
    out[0] = *in[0];
    out[0].data = NULL;
    if (n->n_out > 1) {
        out[1] = out[0];
        out[1].dtype = n->op->since >= 10 ? OND_DTYPE_BOOL : dt;
    }
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    enum ond_status st = ond_copy_eval(n, in, out, out_data, err);
    uint64_t numel = 0;
    if (st || n->n_out < 2 || !ond_numel(&out[1], 0, &numel))
        return st;
    for (uint64_t i = 0; i < numel; i++) {
        switch (out[1].dtype) {
        case OND_DTYPE_BOOL: ((uint8_t *)out_data[1])[i] = 1; break;
        case OND_DTYPE_FLOAT: ((float *)out_data[1])[i] = 1; break;
        case OND_DTYPE_DOUBLE: ((double *)out_data[1])[i] = 1; break;
        }
    }
    return OND_OK;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    if (n->n_out > 1 && n->out[1])
        return ond_prep_decline(p, "the mask is used");
    return ond_prep_view(p, err);
}

const struct ond_op ond_op_dropout_1 = {
    .domain = "", .name = "Dropout", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 2,
    .parse = parse_1, .infer = infer, .eval = eval, .prepare = prepare,
    .quant = OND_QUANT_KEEP,
};

const struct ond_op ond_op_dropout_7 = {
    .domain = "", .name = "Dropout", .since = 7,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 2,
    .parse = parse_7, .infer = infer, .eval = eval, .prepare = prepare,
    .quant = OND_QUANT_KEEP,
};

const struct ond_op ond_op_dropout_10 = {
    .domain = "", .name = "Dropout", .since = 10,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 2,
    .parse = parse_7, .infer = infer, .eval = eval, .prepare = prepare,
    .quant = OND_QUANT_KEEP,
};

const struct ond_op ond_op_dropout_12 = {
    .domain = "", .name = "Dropout", .since = 12,
    .min_in = 1, .max_in = 3, .min_out = 1, .max_out = 2,
    .parse = parse_12, .infer = infer, .eval = eval, .prepare = prepare,
    .quant = OND_QUANT_KEEP,
};
