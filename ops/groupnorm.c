/* groupnorm.c: ONNX GroupNormalization, opsets 18 and 21, float. X [N, C, D...] is split
 * into num_groups groups of C / num_groups channels; each (sample, group) is normalized over
 * its channels and spatial dims: Y = (X - mean) / sqrt(var + epsilon) * scale + bias, var
 * the biased variance. Opset 18: scale and bias have num_groups values (one per group);
 * opset 21: C values (one per channel).
 * Attributes: num_groups (required, positive, divides C), epsilon (1e-5), stash_type (21: 1,
 * float; the statistics are computed in double whatever it says).
 * Sessions: the plain-C eval (oneDNN 2.6 has no group normalization). */
#include <math.h>
#include <stdlib.h>

#include "ops/op.h"

struct group_norm {
    int64_t groups, stash_type;
    float epsilon;
};

enum ond_status ond_norm_attrs(const struct ond_node *n, float *epsilon, int64_t *stash_type,
                               struct ond_error *err)
{
    enum ond_status st = ond_attr_float(n, "epsilon", 1e-5f, epsilon, err);
    if (!st && (!(*epsilon >= 0.f) || isinf(*epsilon)))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'epsilon' must be finite and not negative, got %g",
                             (double)*epsilon);
    if (st || !stash_type || (st = ond_attr_int(n, "stash_type", 1, stash_type, err)))
        return st;
    if (!ond_dtype_size((int32_t)*stash_type))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'stash_type' %lld is not a known type",
                             (long long)*stash_type);
    return OND_OK;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct group_norm *p = params;
    enum ond_status st;
    if (!ond_node_attr(n, "num_groups"))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'num_groups' is required");
    if ((st = ond_attr_int(n, "num_groups", 1, &p->groups, err)) ||
        (st = ond_norm_attrs(n, &p->epsilon, &p->stash_type, err)))
        return st;
    if (p->groups < 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'num_groups' must be positive, got %lld",
                             (long long)p->groups);
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct group_norm *p = n->params;
    const struct ond_info *x = in[0];
    enum ond_status st = ond_infer_same(n, in, out, err);
    if (st || x->rank < 0)
        return st;
    if (x->rank < 2)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has rank %d, at least 2 is needed", x->rank);
    int64_t c = x->dims[1], per = n->op->since < 21 ? p->groups : c;
    if (c >= 0 && c % p->groups)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "num_groups %lld does not divide the %lld channels",
                             (long long)p->groups, (long long)c);
    return ond_norm_params(n, in, per, err);
}

enum ond_status ond_norm_params(const struct ond_node *n, const struct ond_info *const *in,
                                int64_t per, struct ond_error *err)
{
    enum ond_status st = OND_OK;
    for (int k = 1; k < 3 && !st; k++) {
        if ((st = ond_require_float(n, in[k], k, err)) || in[k]->rank < 0)
            continue;
        if (in[k]->rank != 1)
            st = ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                               "input %d must be 1-D, got rank %d", k, in[k]->rank);
        else if (per >= 0 && in[k]->dims[0] >= 0 && in[k]->dims[0] != per)
            st = ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                               "input %d has %lld values, %lld expected", k,
                               (long long)in[k]->dims[0], (long long)per);
    }
    return st;
}

void ond_group_normalize(const struct ond_info *x, int64_t groups, float epsilon,
                         const float *scale, const float *bias, float *y)
{
    int64_t batch = x->dims[0], c = x->dims[1], spatial = 1;
    for (int i = 2; i < x->rank; i++)
        spatial *= x->dims[i];
    int64_t cg = c / groups, len = cg * spatial;
    const float *xd = x->data;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t g = 0; g < groups; g++) {
            int64_t at = (b * c + g * cg) * spatial;
            double mean = 0, var = 0;
            for (int64_t j = 0; j < len; j++)
                mean += xd[at + j];
            mean = len ? mean / (double)len : 0;
            for (int64_t j = 0; j < len; j++)
                var += (xd[at + j] - mean) * (xd[at + j] - mean);
            var = len ? var / (double)len : 0;
            double inv = 1.0 / sqrt(var + epsilon);
            for (int64_t j = 0; j < len; j++) {
                int64_t ch = g * cg + j / spatial;
                y[at + j] = (float)((xd[at + j] - mean) * inv * scale[ch] + bias[ch]);
            }
        }
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct group_norm *p = n->params;
    const struct ond_info *x = in[0];
    (void)out;
    if (n->op->since >= 21) {
        ond_group_normalize(x, p->groups, p->epsilon, in[1]->data, in[2]->data, out_data[0]);
        return OND_OK;
    }
    /* Opset 18's per-group parameters, spread over the channels. */
    int64_t c = x->dims[1], cg = c / p->groups;
    float *sb = malloc(sizeof(float) * (size_t)(2 * c + 1));
    if (!sb)
        return ond_node_fail(err, n, OND_STATUS_NO_MEMORY, "cannot allocate %lld parameters",
                             (long long)(2 * c));
    const float *s = in[1]->data, *b = in[2]->data;
    for (int64_t ch = 0; ch < c; ch++) {
        sb[ch] = s[ch / cg];
        sb[c + ch] = b[ch / cg];
    }
    ond_group_normalize(x, p->groups, p->epsilon, sb, sb + c, out_data[0]);
    free(sb);
    return OND_OK;
}

const struct ond_op ond_op_group_norm_18 = {
    .domain = "", .name = "GroupNormalization", .since = 18,
    .min_in = 3, .max_in = 3, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct group_norm),
    .parse = parse, .infer = infer, .eval = eval,
};

const struct ond_op ond_op_group_norm_21 = {
    .domain = "", .name = "GroupNormalization", .since = 21,
    .min_in = 3, .max_in = 3, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct group_norm),
    .parse = parse, .infer = infer, .eval = eval,
};
