/* round.c: ONNX Round, opsets 11, 22 (22 adds bfloat16): halves to even, as
 * numpy.round. float only. Sessions: oneDNN eltwise round (round to nearest even). */
#include <math.h>

#include "ops/op.h"
#include "runtime/exec.h"

static float scalar(float x, const void *u)
{
    (void)u;
    return nearbyintf(x); /* the default rounding mode: halves to even */
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    (void)n;
    (void)err;
    *(struct ond_unary *)params = (struct ond_unary){.f = scalar, .alg = dnnl_eltwise_round};
    return OND_OK;
}

const struct ond_op ond_op_round = {
    .domain = "", .name = "Round", .since = 11,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct ond_unary),
    .parse = parse, .infer = ond_infer_same, .eval = ond_unary_eval,
    .prepare = ond_unary_prepare,
};
