/* batchnorm.c: ONNX BatchNormalization, opsets 1, 6, 7, 9, 14 and 15, inference form:
 *   Y = scale * (X - mean) / sqrt(var + epsilon) + B, per channel (dim 1 of X [N,C,D...]).
 * Attributes: epsilon (default 1e-5). Ignored: momentum (a training-only rate), is_test
 * (opsets 1 to 6: ondine only runs inference, so X is always normalized with the given
 * mean and var), consumed_inputs (opset 1). spatial (opsets 1 to 8): 1 (default) is the
 * per-channel form; 0 gives scale, B, mean and var one value per element of a sample,
 * shape [C, D...] (or any shape of C x D... elements), and is supported too.
 * training_mode=1 (opset 14+) is refused (UNSUPPORTED).
 * Extra outputs: a model may list the training outputs in inference mode (up to 4 more before
 * opset 14: mean, var, saved_mean, saved_var; 2 more from 14: running_mean, running_var).
 * ondine gives output 1 and 3 the shape and value of input `mean`, output 2 and 4 those of
 * input `var` (what inference leaves them: no batch statistics are computed, and saved_var
 * is not inverted). float only.
 * Sessions: oneDNN batch normalization in inference form (global statistics, separate scale
 * and shift), on X in the layout it arrives in; constant parameters become oneDNN memory
 * once, run-time ones are read plain. spatial=0 and used extra outputs run the eval. */
#include <math.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

struct batchnorm {
    float epsilon;
    bool per_element;   /* spatial = 0 */
};

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct batchnorm *p = params;
    int64_t spatial = 1, training = 0;
    enum ond_status st;
    if ((st = ond_attr_float(n, "epsilon", 1e-5f, &p->epsilon, err)) ||
        (n->opset < 9 && (st = ond_attr_int(n, "spatial", 1, &spatial, err))) ||
        (n->opset >= 14 && (st = ond_attr_int(n, "training_mode", 0, &training, err))))
        return st;
    if (spatial != 0 && spatial != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "spatial must be 0 or 1, got %lld",
                             (long long)spatial);
    if (training != 0 && training != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "training_mode must be 0 or 1, got %lld", (long long)training);
    if (training)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "attribute 'training_mode' = 1 is not supported (inference only)");
    if (!(p->epsilon >= 0.0f))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "epsilon must not be negative, got %g", (double)p->epsilon);
    p->per_element = spatial == 0;
    return OND_OK;
}

static const char *const input_names[] = {"X", "scale", "B", "mean", "var"};

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct batchnorm *p = n->params;
    const struct ond_info *x = in[0];
    enum ond_status st;
    for (int i = 0; i < 5; i++)
        if ((st = ond_require_float(n, in[i], i, err)))
            return st;
    if (x->rank >= 0 && x->rank < 2)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has rank %d, at least 2 is needed", x->rank);
    /* Parameters: [C] per channel, C x D... elements per element (known dims only). */
    for (int i = 1; i < 5 && x->rank >= 0; i++) {
        const struct ond_info *t = in[i];
        if (t->rank < 0)
            continue;
        if (!p->per_element) {
            if (t->rank != 1 || (t->dims[0] >= 0 && x->dims[1] >= 0 && t->dims[0] != x->dims[1]))
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "%s must have shape [%lld] (the channels of X)",
                                     input_names[i], (long long)x->dims[1]);
            continue;
        }
        struct ond_info sample = *x;
        uint64_t want, got;
        sample.rank = x->rank - 1;
        memmove(sample.dims, x->dims + 1, sizeof(int64_t) * (size_t)sample.rank);
        if (ond_numel(&sample, 0, &want) && ond_numel(t, 0, &got) && want != got)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "%s has %llu elements; spatial=0 needs one per element of a "
                                 "sample, %llu", input_names[i], (unsigned long long)got,
                                 (unsigned long long)want);
    }
    out[0] = *x;
    out[0].data = NULL;
    for (int k = 1; k < n->n_out; k++) {
        out[k] = *in[k % 2 ? 3 : 4];
        out[k].data = NULL;
    }
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct batchnorm *p = n->params;
    const struct ond_info *x = in[0];
    const float *xd = x->data, *scale = in[1]->data, *bias = in[2]->data, *mean = in[3]->data,
                *var = in[4]->data;
    float *y = out_data[0];
    int64_t batch = x->dims[0], c = x->dims[1], inner = 1;
    (void)err;
    for (int i = 2; i < x->rank; i++)
        inner *= x->dims[i];
    for (int64_t b = 0; b < batch; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            const float *xp = xd + (b * c + ch) * inner;
            float *yp = y + (b * c + ch) * inner;
            if (!p->per_element) {
                float a = scale[ch] / sqrtf(var[ch] + p->epsilon);
                float s = bias[ch] - mean[ch] * a;
                for (int64_t i = 0; i < inner; i++)
                    yp[i] = xp[i] * a + s;
                continue;
            }
            for (int64_t i = 0; i < inner; i++) {
                int64_t e = ch * inner + i;
                yp[i] = scale[e] * (xp[i] - mean[e]) / sqrtf(var[e] + p->epsilon) + bias[e];
            }
        }
    for (int k = 1; k < n->n_out; k++) {
        uint64_t numel = 0;
        ond_numel(&out[k], 0, &numel);
        if (out_data[k] && numel)
            memcpy(out_data[k], k % 2 ? mean : var, (size_t)numel * sizeof(float));
    }
    return OND_OK;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct batchnorm *q = n->params;
    /* Parameter inputs and the oneDNN argument each one feeds. */
    static const int args[] = {0, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN,
                               DNNL_ARG_VARIANCE};
    if (!ond_prep_float_activation(p, 0, "X"))
        return OND_OK;
    if (q->per_element)
        return ond_prep_decline(p, "spatial=0");
    for (int k = 1; k < n->n_out; k++)
        if (n->out[k])
            return ond_prep_decline(p, "output %d is used", k);
    dnnl_batch_normalization_desc_t desc;
    OND_DNNL(dnnl_batch_normalization_forward_desc_init(
                 &desc, dnnl_forward_inference, p->in_md[0], q->epsilon,
                 dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift), n, err);
    dnnl_primitive_desc_t pd;
    dnnl_memory_desc_t param;
    enum ond_status st = ond_prep_pd(p, &desc, &pd, err);
    if (st || !pd)
        return st;
    p->out_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    ond_prep_arg(p, DNNL_ARG_SRC, OND_ARG_IN, 0);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    st = ond_md(p->in[1], true, &param, err);
    for (int k = 1; k < 5 && !st; k++) {
        int m;
        if (p->in_md[k]) {
            p->want_md[k] = param;
            ond_prep_arg(p, args[k], OND_ARG_IN, k);
        } else if (!(st = ond_prep_const(p, k, &param, &m, err))) {
            ond_prep_arg(p, args[k], OND_ARG_MEM, m);
        }
    }
    if (st) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    return ond_prep_finish(p, pd, err);
}

#define BATCHNORM(sym, ver, outs)                                                   \
    const struct ond_op sym = {                                                     \
        .domain = "", .name = "BatchNormalization", .since = ver,                   \
        .min_in = 5, .max_in = 5, .min_out = 1, .max_out = outs,                    \
        .params_size = sizeof(struct batchnorm),                                    \
        .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,           \
    };
BATCHNORM(ond_op_batchnorm_1, 1, 5)
BATCHNORM(ond_op_batchnorm_6, 6, 5)
BATCHNORM(ond_op_batchnorm_7, 7, 5)
BATCHNORM(ond_op_batchnorm_9, 9, 5)
BATCHNORM(ond_op_batchnorm_14, 14, 3)
BATCHNORM(ond_op_batchnorm_15, 15, 3)
