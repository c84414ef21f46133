/* relu.c: ONNX Relu, opsets 1 to 14 (float; consumed_inputs of opset 1 ignored). */
#include "ops/op.h"

const struct ond_op ond_op_relu = {
    .domain = "", .name = "Relu", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .infer = ond_infer_same,
};
