/* relu.c: ONNX Relu, opsets 1 to 14 (float; consumed_inputs of opset 1 ignored). */
#include "ops/op.h"
#include "runtime/exec.h"

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    return ond_prep_eltwise(p, dnnl_eltwise_relu, 0.f, 0.f, err);
}

const struct ond_op ond_op_relu = {
    .domain = "", .name = "Relu", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .infer = ond_infer_same, .prepare = prepare,
};
