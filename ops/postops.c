/* postops.c: post-ops that fusion passes attach to a node (n->post, see runtime/ir.h), as the
 * plain-C evals apply them and as ai.ondine nodes carry them in a file.
 *
 * The eltwise formulas are the ONNX ops' own, as their evals compute them (ops/relu.c,
 * clip.c, leakyrelu.c, sigmoid.c, hardswish.c; from tanh on, the ops' ond_scalar_ functions
 * themselves), so a fused graph gives the unfused graph's floats. In a file, a node's
 * post-ops are two attributes: post_ops, the kinds in order ("sum", "relu"), and post_params,
 * alpha and beta of each (clip: min and max; leaky_relu, elu, swish: alpha), omitted when no
 * kind takes parameters. A sum or add post-op reads the node's next input after the base op's
 * inputs. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

static const char *const names[] = {
    [OND_POST_RELU] = "relu",
    [OND_POST_CLIP] = "clip",
    [OND_POST_LEAKY_RELU] = "leaky_relu",
    [OND_POST_SIGMOID] = "sigmoid",
    [OND_POST_HARD_SWISH] = "hard_swish",
    [OND_POST_SUM] = "sum",
    [OND_POST_ADD] = "add",
    [OND_POST_TANH] = "tanh",
    [OND_POST_ELU] = "elu",
    [OND_POST_GELU_ERF] = "gelu_erf",
    [OND_POST_GELU_TANH] = "gelu_tanh",
    [OND_POST_SWISH] = "swish",
    [OND_POST_SOFTPLUS] = "soft_relu",
    [OND_POST_MISH] = "mish",
    [OND_POST_ABS] = "abs",
    [OND_POST_SQRT] = "sqrt",
    [OND_POST_EXP] = "exp",
};

/* The kinds that are one oneDNN eltwise algorithm, with the op's scalar function. */
static const struct {
    dnnl_alg_kind_t alg;
    float (*f)(float x, const void *u);
} eltwise[] = {
    [OND_POST_TANH] = {dnnl_eltwise_tanh, ond_scalar_tanh},
    [OND_POST_ELU] = {dnnl_eltwise_elu, ond_scalar_elu},
    [OND_POST_GELU_ERF] = {dnnl_eltwise_gelu_erf, ond_scalar_gelu_erf},
    [OND_POST_GELU_TANH] = {dnnl_eltwise_gelu_tanh, ond_scalar_gelu_tanh},
    [OND_POST_SWISH] = {dnnl_eltwise_swish, ond_scalar_swish},
    [OND_POST_SOFTPLUS] = {dnnl_eltwise_soft_relu, ond_scalar_softplus},
    [OND_POST_MISH] = {dnnl_eltwise_mish, ond_scalar_mish},
    [OND_POST_ABS] = {dnnl_eltwise_abs, ond_scalar_abs},
    [OND_POST_SQRT] = {dnnl_eltwise_sqrt, ond_scalar_sqrt},
    [OND_POST_EXP] = {dnnl_eltwise_exp, ond_scalar_exp},
};

#define N_KINDS ((int)(sizeof names / sizeof names[0]))

const char *ond_postop_name(enum ond_postop_kind kind)
{
    return (int)kind > 0 && (int)kind < N_KINDS ? names[kind] : NULL;
}

int ond_postop_alg(enum ond_postop_kind kind)
{
    return kind >= OND_POST_TANH && (int)kind < N_KINDS ? (int)eltwise[kind].alg : 0;
}

enum ond_postop_kind ond_postop_of_alg(int alg)
{
    for (int k = OND_POST_TANH; k < N_KINDS; k++)
        if ((int)eltwise[k].alg == alg)
            return (enum ond_postop_kind)k;
    return 0;
}

const char *ond_post_str(const struct ond_node *n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < n->n_post && at < len; i++) {
        const char *name = ond_postop_name(n->post[i].kind);
        at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", name ? name : "?");
    }
    return buf;
}

static float sigmoid(float x)
{
    if (x >= 0)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static float hard_swish(float x)
{
    float s = x / 6.0f + 0.5f;
    return x * (s < 0 ? 0 : s > 1 ? 1 : s);
}

enum ond_status ond_apply_post(const struct ond_node *n, const struct ond_info *const *in,
                               float *out, uint64_t numel, struct ond_error *err)
{
    for (int i = 0; i < n->n_post; i++) {
        const struct ond_postop *q = &n->post[i];
        const float a = q->alpha, b = q->beta;
        switch (q->kind) {
        case OND_POST_RELU:
            for (uint64_t j = 0; j < numel; j++)
                out[j] = out[j] > 0 ? out[j] : 0;
            break;
        case OND_POST_CLIP:
            for (uint64_t j = 0; j < numel; j++) {
                float v = out[j] < a ? a : out[j];
                out[j] = v > b ? b : v;
            }
            break;
        case OND_POST_LEAKY_RELU:
            for (uint64_t j = 0; j < numel; j++)
                out[j] = out[j] >= 0 ? out[j] : a * out[j];
            break;
        case OND_POST_SIGMOID:
            for (uint64_t j = 0; j < numel; j++)
                out[j] = sigmoid(out[j]);
            break;
        case OND_POST_HARD_SWISH:
            for (uint64_t j = 0; j < numel; j++)
                out[j] = hard_swish(out[j]);
            break;
        case OND_POST_SUM:
        case OND_POST_ADD: {
            const struct ond_info *x = q->input >= 0 && q->input < n->n_in ? in[q->input] : NULL;
            uint64_t xn = 0;
            if (!x || x->dtype != OND_DTYPE_FLOAT || !ond_numel(x, 0, &xn) || xn != numel)
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "post-op %s reads input %d, which must be float with the "
                                     "output's %llu elements", names[q->kind], q->input,
                                     (unsigned long long)numel);
            const float *xd = x->data;
            for (uint64_t j = 0; j < numel; j++)
                out[j] += xd[j];
            break;
        }
        default: {
            if (!ond_postop_alg(q->kind))
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "post-op %d is unknown",
                                     (int)q->kind);
            const struct ond_unary u = {.alpha = a, .beta = b};
            for (uint64_t j = 0; j < numel; j++)
                out[j] = eltwise[q->kind].f(out[j], &u);
            break;
        }
        }
    }
    return OND_OK;
}

enum ond_status ond_post_parse(struct ond_node *n, int base_inputs, struct ond_error *err)
{
    const struct ond_attr *kinds = ond_node_attr(n, "post_ops");
    const struct ond_attr *params = ond_node_attr(n, "post_params");
    size_t count = kinds ? kinds->n : 0;
    int next_input = base_inputs;
    n->n_post = 0;
    if (kinds && kinds->type != OND_ATTR_STRINGS)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'post_ops' must be STRINGS");
    if (params && (params->type != OND_ATTR_FLOATS || params->n != 2 * count))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'post_params' must be FLOATS, two per post-op (%zu)",
                             2 * count);
    if (count > OND_MAX_POSTOPS)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "%zu post-ops, at most %d", count,
                             OND_MAX_POSTOPS);
    for (size_t i = 0; i < count; i++) {
        struct ond_postop *q = &n->post[i];
        int kind = 1;
        while (kind < N_KINDS && strcmp(names[kind], kinds->strings[i]) != 0)
            kind++;
        if (kind == N_KINDS)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "post-op '%s' is unknown (post_ops)", kinds->strings[i]);
        memset(q, 0, sizeof *q);
        q->kind = (enum ond_postop_kind)kind;
        q->input = -1;
        q->alpha = params ? params->floats[2 * i] : 0.f;
        q->beta = params ? params->floats[2 * i + 1] : 0.f;
        if (!params && (q->kind == OND_POST_CLIP || q->kind == OND_POST_LEAKY_RELU ||
                        q->kind == OND_POST_ELU || q->kind == OND_POST_SWISH))
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "post-op '%s' needs its parameters (post_params)", names[kind]);
        if (q->kind == OND_POST_SUM || q->kind == OND_POST_ADD) {
            if (next_input >= n->n_in || !n->in[next_input])
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "post-op '%s' reads input %d, which is missing",
                                     names[kind], next_input);
            q->input = next_input++;
        }
        n->n_post++;
    }
    if (next_input != n->n_in && n->n_in > base_inputs)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "has %d inputs; its op takes %d plus one per sum or add post-op",
                             n->n_in, base_inputs);
    return OND_OK;
}
