/* hardsigmoid.c: ONNX HardSigmoid, opsets 1, 6 and 22 (same float semantics): max(0, min(1, alpha
 * * x + beta)), attributes alpha (default 0.2) and beta (default 0.5); consumed_inputs of opset 1
 * ignored. float only. Sessions: oneDNN 2.6 has no hard sigmoid, so it runs as eltwise linear
 * (alpha * x + beta) with a fused clip to [0, 1]. */
#include "ops/op.h"
#include "runtime/exec.h"

struct hardsigmoid {
    float alpha, beta;
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct hardsigmoid *p = params;
    enum ond_status st = ond_attr_float(n, "alpha", 0.2f, &p->alpha, err);
    return st ? st : ond_attr_float(n, "beta", 0.5f, &p->beta, err);
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct hardsigmoid *q = p->node->params;
    const struct ond_postop clip01 = {.kind = OND_POST_CLIP, .alpha = 0.f, .beta = 1.f};
    return ond_prep_eltwise_then(p, dnnl_eltwise_linear, q->alpha, q->beta, &clip01, err);
}

static float hardsigmoid(float x, const void *params)
{
    const struct hardsigmoid *p = params;
    float y = p->alpha * x + p->beta;
    return y < 0 ? 0 : y > 1 ? 1 : y;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)out;
    (void)err;
    return ond_unary_float_eval(n, in, out_data, hardsigmoid);
}

const struct ond_op ond_op_hardsigmoid = {
    .domain = "", .name = "HardSigmoid", .since = 1,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct hardsigmoid),
    .parse = parse, .infer = ond_infer_same, .eval = eval, .prepare = prepare,
};
