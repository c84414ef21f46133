/* pad.c: ONNX Pad, opset 2 (pads and value attributes) and opsets 11, 13, 18, 19, 21, 23,
 * 24, 25 (pads input, optional constant_value input of the data's dtype, optional axes input
 * from 18; 21 and later only add types). Modes constant, reflect (mirror without repeating
 * the edge), edge, and from opset 19 wrap (the data repeated periodically); negative pads
 * crop. All dtypes. Sessions: a Pad whose pads are all 0 once the plan's shapes are known
 * (Swin-T's window padding of maps already a multiple of the window, pads computed from the
 * shape) is a view of its input; others run the eval. */
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

enum mode { CONSTANT, REFLECT, EDGE, WRAP };
static const char *const mode_names[] = {"constant", "reflect", "edge", "wrap"};

struct pad {
    enum mode mode;
    float value;                   /* opset 2 */
    int n_pads;                    /* opset 2 */
    int64_t pads[2 * OND_MAX_RANK];
};

static enum ond_status parse_mode(struct ond_node *n, struct pad *p, struct ond_error *err)
{
    const char *m;
    enum ond_status st = ond_attr_string(n, "mode", "constant", &m, err);
    if (st)
        return st;
    if (strcmp(m, "constant") == 0)
        p->mode = CONSTANT;
    else if (strcmp(m, "reflect") == 0)
        p->mode = REFLECT;
    else if (strcmp(m, "edge") == 0)
        p->mode = EDGE;
    else if (strcmp(m, "wrap") == 0 && n->opset >= 19)
        p->mode = WRAP;
    else
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "attribute 'mode': '%s' is not supported at opset %lld", m,
                             (long long)n->opset);
    return OND_OK;
}

static enum ond_status parse_v2(struct ond_node *n, void *params, struct ond_error *err)
{
    struct pad *p = params;
    enum ond_status st = parse_mode(n, p, err);
    if (!st)
        st = ond_attr_float(n, "value", 0.0f, &p->value, err);
    if (!st)
        st = ond_attr_ints(n, "pads", p->pads, 2 * OND_MAX_RANK, &p->n_pads, err);
    if (!st && p->n_pads < 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "attribute 'pads' is required");
    return st;
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct pad *p = params;
    p->n_pads = -1;
    if (n->n_in > 3 && n->opset < 18)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input 3 (axes) needs opset 18, the model has %lld",
                             (long long)n->opset);
    return parse_mode(n, p, err);
}

/* Pads of every axis of x into begin and end; *known false when the pads input is not. */
static enum ond_status resolve(const struct ond_node *n, const struct ond_info *const *in,
                               int64_t *begin, int64_t *end, bool *known, struct ond_error *err)
{
    const struct pad *p = n->params;
    const struct ond_info *x = in[0];
    int64_t pads[2 * OND_MAX_RANK], axes[OND_MAX_RANK];
    int count = p->n_pads, n_axes = x->rank;
    enum ond_status st;
    *known = true;
    if (p->n_pads >= 0)
        memcpy(pads, p->pads, sizeof(int64_t) * (size_t)count);
    else if ((st = ond_input_ints(n, in[1], 1, "pads", pads, 2 * OND_MAX_RANK, &count, known,
                                  err)))
        return st;
    for (int i = 0; i < x->rank; i++)
        axes[i] = i;
    if (n->n_in > 3 && in[3]) {
        bool axes_known;
        if ((st = ond_input_ints(n, in[3], 3, "axes", axes, OND_MAX_RANK, &n_axes, &axes_known,
                                 err)))
            return st;
        *known = *known && axes_known;
    }
    if (!*known)
        return OND_OK;
    if (count != 2 * n_axes)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "pads has %d values, expected 2 x %d", count, n_axes);
    for (int i = 0; i < x->rank; i++)
        begin[i] = end[i] = 0;
    for (int i = 0; i < n_axes; i++) {
        int a;
        if ((st = ond_axis(n, axes[i], x->rank, &a, err)))
            return st;
        begin[a] = pads[i];
        end[a] = pads[n_axes + i];
        /* Whether wrap repeats the cropped or the whole data is not settled between
         * runtimes: refused rather than guessed. */
        if (p->mode == WRAP && (begin[a] < 0 || end[a] < 0))
            return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                                 "mode wrap with negative pads (axis %d) is not supported", a);
    }
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct pad *p = n->params;
    const struct ond_info *x = in[0];
    out[0].dtype = x->dtype;
    if (n->n_in > 2 && in[2]) {
        uint64_t numel;
        if (in[2]->dtype != x->dtype)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "constant_value is %s, data is %s", ond_dtype_name(in[2]->dtype),
                                 ond_dtype_name(x->dtype));
        if (ond_numel(in[2], 0, &numel) && numel != 1)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "constant_value must hold one element, got %llu",
                                 (unsigned long long)numel);
    }
    if (x->rank < 0)
        return OND_OK;
    int64_t begin[OND_MAX_RANK], end[OND_MAX_RANK];
    bool known;
    enum ond_status st = resolve(n, in, begin, end, &known, err);
    if (st)
        return st;
    out[0].rank = x->rank;
    for (int i = 0; i < x->rank; i++) {
        int64_t d = x->dims[i];
        if (!known || d < 0) {
            out[0].dims[i] = known && begin[i] == 0 && end[i] == 0 ? d : OND_DIM_UNKNOWN;
            continue;
        }
        out[0].dims[i] = d + begin[i] + end[i];
        if (out[0].dims[i] < 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "pads %lld and %lld make dim %d negative", (long long)begin[i],
                                 (long long)end[i], i);
        if (p->mode != CONSTANT && d == 0 && (begin[i] > 0 || end[i] > 0))
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "mode %s cannot pad the empty dim %d", mode_names[p->mode], i);
    }
    return OND_OK;
}

/* Source index along a dim of size d for output position o - begin, or -1 (constant). */
static int64_t source(enum mode mode, int64_t s, int64_t d)
{
    if (s >= 0 && s < d)
        return s;
    if (mode == CONSTANT)
        return -1;
    if (mode == WRAP)
        return (s % d + d) % d;
    if (mode == EDGE || d == 1)
        return s < 0 ? 0 : d - 1;
    int64_t period = 2 * (d - 1);
    s %= period;
    s = s < 0 ? s + period : s;
    return s < d ? s : period - s;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct pad *p = n->params;
    const struct ond_info *x = in[0], *y = &out[0];
    int64_t begin[OND_MAX_RANK], end[OND_MAX_RANK];
    bool known;
    uint64_t numel;
    enum ond_status st = resolve(n, in, begin, end, &known, err);
    if (st || !ond_numel(y, 0, &numel) || numel == 0)
        return st;
    size_t es = ond_dtype_size(x->dtype);
    char value[8] = {0};
    if (n->n_in > 2 && in[2])
        memcpy(value, in[2]->data, es);
    else if (p->n_pads >= 0)
        ond_convert(&p->value, OND_DTYPE_FLOAT, value, x->dtype, 1);
    int rank = x->rank;
    size_t stride[OND_MAX_RANK];
    int64_t idx[OND_MAX_RANK] = {0};
    size_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        stride[i] = s;
        s *= (size_t)x->dims[i];
    }
    const char *src = x->data;
    char *dst = out_data[0];
    for (uint64_t k = 0; k < numel; k++) {
        size_t off = 0;
        bool inside = true;
        for (int i = 0; i < rank && inside; i++) {
            int64_t j = source(p->mode, idx[i] - begin[i], x->dims[i]);
            inside = j >= 0;
            off += (size_t)j * stride[i];
        }
        memcpy(dst + k * es, inside ? src + off * es : value, es);
        for (int i = rank - 1; i >= 0 && ++idx[i] == y->dims[i]; i--)
            idx[i] = 0;
    }
    return OND_OK;
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    int64_t begin[OND_MAX_RANK], end[OND_MAX_RANK];
    bool known;
    enum ond_status st = resolve(p->node, p->in, begin, end, &known, err);
    if (st)
        return st;
    for (int i = 0; known && i < p->in[0]->rank; i++)
        known = !begin[i] && !end[i];
    return known ? ond_prep_view(p, err) : ond_prep_decline(p, "pads other than 0");
}

const struct ond_op ond_op_pad_v2 = {
    .domain = "", .name = "Pad", .since = 2,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct pad),
    .parse = parse_v2, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_pad = {
    .domain = "", .name = "Pad", .since = 11,
    .min_in = 2, .max_in = 4, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct pad),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
