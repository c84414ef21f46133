/* resize.c: ONNX Resize (opsets 10, 11, 13, 18, 19) and Upsample (7, 9), float, any rank.
 * Upsample 7: attribute scales (FLOATS, one per dim); Upsample 9 and Resize 10: input scales.
 * Both take mode nearest or linear with the asymmetric transform; nearest rounds down when a
 * dim grows and up when it shrinks (ONNX Runtime's rule for these opsets).
 * Resize 11+: inputs X, roi (only tf_crop_and_resize reads it: starts then ends), scales,
 * sizes (scales or sizes, not both; 11 needs the scales input, possibly empty).
 * Attributes: mode (nearest, linear, cubic), coordinate_transformation_mode (half_pixel,
 * pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize, tf_half_pixel_for_nn
 * (11 only), half_pixel_symmetric (19)), nearest_mode (round_prefer_floor, round_prefer_ceil,
 * floor, ceil), cubic_coeff_a (-0.75), exclude_outside (0), extrapolation_value (0);
 * from 18: axes (scales/sizes/roi name only these dims), keep_aspect_ratio_policy (stretch,
 * not_larger, not_smaller: sizes then give one scale for every axis, output round(scale * in)),
 * antialias (only 0: antialiased filters are refused).
 * Output dim: floor(in * scale), or sizes. As in the ONNX reference, the transform uses the
 * scale given (out / in for sizes) and for align_corners the unrounded in * scale; neighbours
 * past an edge repeat the edge (exclude_outside drops them and renormalizes), and
 * tf_crop_and_resize gives extrapolation_value where it reads outside X.
 * Kernel: separable, one pass per resized dim (shrinking dims first, so no intermediate is
 * larger than X or Y), each a list of (index, weight) taps per output position.
 * Sessions: oneDNN resampling on X as it arrives, where its mapping (half-pixel with the
 * ratio of the dims) equals the ONNX one: N and C unchanged, rank 3 to 5, each spatial scale
 * exactly out / in, and linear with half_pixel or pytorch_half_pixel, or nearest with
 * integer growth factors under half_pixel or pytorch_half_pixel (round_prefer_floor or
 * _ceil: no ties arise) or asymmetric rounding down (torch's nearest). Else the eval. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

enum mode { NEAREST, LINEAR, CUBIC };
enum coord { HALF_PIXEL, HALF_PIXEL_SYMMETRIC, PYTORCH_HALF_PIXEL, ALIGN_CORNERS, ASYMMETRIC,
             TF_HALF_PIXEL_FOR_NN, TF_CROP_AND_RESIZE };
enum nearest { ROUND_PREFER_FLOOR, ROUND_PREFER_CEIL, FLOOR, CEIL, SIMPLE };
enum policy { STRETCH, NOT_LARGER, NOT_SMALLER };

struct resize {
    enum mode mode;
    enum coord coord;
    enum nearest nearest;
    enum policy policy;
    float cubic_a, extrapolation;
    int64_t exclude_outside;
    int n_axes;                        /* 18+: -1 absent */
    int64_t axes[OND_MAX_RANK];
    int n_scales;                      /* Upsample 7 */
    float scales[OND_MAX_RANK];
};

/* The value's index among names (n of them), or an error naming the attribute. */
static enum ond_status pick(const struct ond_node *n, const char *attr, const char *def,
                            const char *const *names, int count, int *v, struct ond_error *err)
{
    const char *s;
    enum ond_status st = ond_attr_string(n, attr, def, &s, err);
    if (st)
        return st;
    for (int i = 0; i < count; i++)
        if (names[i] && strcmp(s, names[i]) == 0) {
            *v = i;
            return OND_OK;
        }
    return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                         "attribute '%s': '%s' is not supported at opset %lld", attr, s,
                         (long long)n->opset);
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct resize *p = params;
    int since = n->op->since, v = 0;
    bool upsample = strcmp(n->op->name, "Upsample") == 0;
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    const char *coords[] = {
        "half_pixel", since >= 19 ? "half_pixel_symmetric" : NULL, "pytorch_half_pixel",
        "align_corners", "asymmetric", since == 11 ? "tf_half_pixel_for_nn" : NULL,
        "tf_crop_and_resize",
    };
    static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                           "ceil"};
    static const char *const policies[] = {"stretch", "not_larger", "not_smaller"};
    enum ond_status st = pick(n, "mode", "nearest", modes, since >= 11 ? 3 : 2, &v, err);
    p->mode = (enum mode)v;
    p->n_axes = p->n_scales = -1;
    p->coord = ASYMMETRIC;
    p->nearest = SIMPLE;
    if (!st && upsample && since < 9) {
        const struct ond_attr *a = ond_node_attr(n, "scales");
        if (!a || a->type != OND_ATTR_FLOATS)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "attribute 'scales' (FLOATS) is required");
        if (a->n > OND_MAX_RANK)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "attribute 'scales' has %zu values, at most %d allowed", a->n,
                                 OND_MAX_RANK);
        p->n_scales = (int)a->n;
        memcpy(p->scales, a->floats, sizeof(float) * a->n);
    }
    if (st || since < 11)
        return st;
    int64_t antialias = 0;
    if ((st = pick(n, "coordinate_transformation_mode", "half_pixel", coords, 7, &v, err)))
        return st;
    p->coord = (enum coord)v;
    if ((st = pick(n, "nearest_mode", "round_prefer_floor", nearests, 4, &v, err)))
        return st;
    p->nearest = (enum nearest)v;
    if ((st = ond_attr_float(n, "cubic_coeff_a", -0.75f, &p->cubic_a, err)) ||
        (st = ond_attr_int(n, "exclude_outside", 0, &p->exclude_outside, err)) ||
        (st = ond_attr_float(n, "extrapolation_value", 0.f, &p->extrapolation, err)))
        return st;
    if (p->exclude_outside != 0 && p->exclude_outside != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'exclude_outside' must be 0 or 1, got %lld",
                             (long long)p->exclude_outside);
    if (since < 18)
        return OND_OK;
    if ((st = pick(n, "keep_aspect_ratio_policy", "stretch", policies, 3, &v, err)) ||
        (st = ond_attr_int(n, "antialias", 0, &antialias, err)) ||
        (st = ond_attr_ints(n, "axes", p->axes, OND_MAX_RANK, &p->n_axes, err)))
        return st;
    p->policy = (enum policy)v;
    if (antialias != 0)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "attribute 'antialias' = %lld: antialiased resizing is not "
                             "implemented", (long long)antialias);
    return OND_OK;
}

/* A 1-D float input (scales, roi) into v; *count -1 when absent or of unknown length,
 * *known when its value is. */
static enum ond_status input_floats(const struct ond_node *n, const struct ond_info *const *in,
                                    int k, const char *what, double *v, int max, int *count,
                                    bool *known, struct ond_error *err)
{
    const struct ond_info *t = ond_opt_in(n, in, k);
    *count = -1;
    *known = true;
    if (!t)
        return OND_OK;
    if (t->dtype != OND_DTYPE_FLOAT)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "input %d (%s) must be float, got %s",
                             k, what, ond_dtype_name(t->dtype));
    if (t->rank != 1 && t->rank >= 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input %d (%s) must be 1-D, got rank %d", k, what, t->rank);
    *known = t->rank == 1 && t->dims[0] >= 0 && (t->data || t->dims[0] == 0);
    if (!*known)
        return OND_OK;
    if (t->dims[0] > max)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input %d (%s) has %lld values, at most %d allowed", k, what,
                             (long long)t->dims[0], max);
    *count = (int)t->dims[0];
    for (int i = 0; i < *count; i++)
        v[i] = ((const float *)t->data)[i];
    return OND_OK;
}

/* How each dim of X maps to Y. */
struct plan {
    int64_t out[OND_MAX_RANK];
    double scale[OND_MAX_RANK];
    double roi_start[OND_MAX_RANK], roi_end[OND_MAX_RANK];
};

/* Resolves output dims and scales; *known false when they depend on inputs not known yet. */
static enum ond_status resolve(const struct ond_node *n, const struct ond_info *const *in,
                               struct plan *pl, bool *known, struct ond_error *err)
{
    const struct resize *p = n->params;
    const struct ond_info *x = in[0];
    int rank = x->rank, since = n->op->since, n_scales = p->n_scales, n_sizes = -1, n_roi = -1;
    bool upsample = strcmp(n->op->name, "Upsample") == 0, scales_known = true;
    bool sizes_known = true, roi_known = true;
    double scales[OND_MAX_RANK], roi[2 * OND_MAX_RANK];
    int64_t sizes[OND_MAX_RANK], axes[OND_MAX_RANK];
    enum ond_status st;
    for (int i = 0; i < n_scales; i++)
        scales[i] = p->scales[i];
    int scales_at = upsample || since < 11 ? 1 : 2;
    if (!(upsample && since < 9) &&
        (st = input_floats(n, in, scales_at, "scales", scales, OND_MAX_RANK, &n_scales,
                           &scales_known, err)))
        return st;
    if (since >= 11 && (st = input_floats(n, in, 1, "roi", roi, 2 * OND_MAX_RANK, &n_roi,
                                          &roi_known, err)))
        return st;
    if (since >= 11 && ond_opt_in(n, in, 3) &&
        (st = ond_input_ints(n, in[3], 3, "sizes", sizes, OND_MAX_RANK, &n_sizes, &sizes_known,
                             err)))
        return st;
    *known = (upsample && since < 9) || (scales_known && sizes_known);
    if (!*known || rank < 0)
        return OND_OK;
    if (p->coord == TF_CROP_AND_RESIZE && !roi_known) {
        *known = false;
        return OND_OK;
    }
    int n_axes = p->n_axes >= 0 ? p->n_axes : rank;
    for (int i = 0; i < n_axes; i++) {
        int a = i;
        if (p->n_axes >= 0 && (st = ond_axis(n, p->axes[i], rank, &a, err)))
            return st;
        for (int j = 0; j < i; j++)
            if (axes[j] == a)
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "axis %lld is repeated",
                                     (long long)p->axes[i]);
        axes[i] = a;
    }
    if (n_scales > 0 && n_sizes > 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "scales and sizes are both given: one of them must be empty");
    if (n_scales <= 0 && n_sizes <= 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "neither scales nor sizes given");
    int given = n_scales > 0 ? n_scales : n_sizes;
    if (given != n_axes)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "%s has %d values, X has %d %s", n_scales > 0 ? "scales" : "sizes",
                             given, n_axes, p->n_axes >= 0 ? "axes" : "dims");
    if (p->coord == TF_CROP_AND_RESIZE && n_roi < 0)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "tf_crop_and_resize needs input 1 (roi)");
    if (p->coord == TF_CROP_AND_RESIZE && n_roi != 2 * n_axes)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "roi has %d values, tf_crop_and_resize needs %d", n_roi, 2 * n_axes);
    for (int i = 0; i < rank; i++) {
        pl->out[i] = x->dims[i];
        pl->scale[i] = 1;
        pl->roi_start[i] = 0;
        pl->roi_end[i] = 1;
    }
    /* keep_aspect_ratio_policy: one scale for every axis from sizes. */
    double common = p->policy == NOT_LARGER ? INFINITY : 0;
    for (int i = 0; i < n_axes && n_sizes > 0 && p->policy != STRETCH; i++) {
        if (x->dims[axes[i]] < 0)
            continue;
        double r = (double)sizes[i] / (double)x->dims[axes[i]];
        common = p->policy == NOT_LARGER ? fmin(common, r) : fmax(common, r);
    }
    for (int i = 0; i < n_axes; i++) {
        int a = (int)axes[i];
        int64_t d = x->dims[a];
        if (p->coord == TF_CROP_AND_RESIZE) {
            pl->roi_start[a] = roi[i];
            pl->roi_end[a] = roi[n_axes + i];
        }
        if (n_scales > 0) {
            if (!(scales[i] > 0) || isinf(scales[i]))
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "scale %d is %g, it must be positive and finite", i,
                                     scales[i]);
            pl->scale[a] = scales[i];
            if (d >= 0 && (double)d * scales[i] >= 9e15)
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "scale %d (%g) makes dim %d too large", i, scales[i], a);
            /* As ONNX Runtime: the product in float, then truncated. */
            pl->out[a] = d < 0 ? OND_DIM_UNKNOWN : (int64_t)((float)d * (float)scales[i]);
            continue;
        }
        if (sizes[i] < 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "size %d is %lld, negative", i,
                                 (long long)sizes[i]);
        if (d < 0) {
            pl->out[a] = p->policy == STRETCH ? sizes[i] : OND_DIM_UNKNOWN;
            continue;
        }
        if (d == 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "dim %d of X is empty: sizes cannot resize it", a);
        pl->out[a] = p->policy == STRETCH ? sizes[i] : (int64_t)floor(common * (double)d + 0.5);
        pl->scale[a] = p->policy == STRETCH ? (double)sizes[i] / (double)d : common;
    }
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    const struct ond_info *x = in[0];
    struct plan pl;
    bool known;
    enum ond_status st = ond_require_float(n, x, 0, err);
    if (st)
        return st;
    out[0].dtype = x->dtype;
    if ((st = resolve(n, in, &pl, &known, err)) || x->rank < 0)
        return st;
    out[0].rank = x->rank;
    for (int i = 0; i < x->rank; i++)
        out[0].dims[i] = known ? pl.out[i] : OND_DIM_UNKNOWN;
    if (!known)
        return OND_OK;
    for (int i = 0; i < x->rank; i++)
        if (x->dims[i] == 0 && pl.out[i] > 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "dim %d of X is empty and cannot grow to %lld", i,
                                 (long long)pl.out[i]);
    return OND_OK;
}

/* The coordinate in X of output position o along a dim of `in` values. */
static double source(const struct resize *p, const struct plan *pl, int a, int64_t in,
                     int64_t o)
{
    double s = pl->scale[a], x = (double)o, width = s * (double)in;
    double start = pl->roi_start[a], end = pl->roi_end[a];
    switch (p->coord) {
    case HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case HALF_PIXEL_SYMMETRIC: {
        double adjust = (double)pl->out[a] / width, center = (double)in / 2;
        return center * (1 - adjust) + (x + 0.5) / s - 0.5;
    }
    case PYTORCH_HALF_PIXEL: return pl->out[a] > 1 ? (x + 0.5) / s - 0.5 : -0.5;
    case ALIGN_CORNERS: return width == 1 ? 0 : x * (double)(in - 1) / (width - 1);
    case ASYMMETRIC: return x / s;
    case TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
    case TF_CROP_AND_RESIZE:
        if (pl->out[a] == 1)
            return (end - start) * (double)(in - 1) / 2 + start * (double)(in - 1);
        return x * (end - start) * (double)(in - 1) / (double)(pl->out[a] - 1) +
               start * (double)(in - 1);
    }
    return 0;
}

static double cubic(double d, double a)
{
    d = fabs(d);
    if (d <= 1)
        return ((a + 2) * d - (a + 3)) * d * d + 1;
    if (d < 2)
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
    return 0;
}

#define MAX_TAPS 4

/* Taps of one output position: idx[t] (clamped to X) with weight w[t]; *outside when it
 * reads past X under tf_crop_and_resize (extrapolation_value). */
static int taps(const struct resize *p, const struct plan *pl, int a, int64_t in, int64_t o,
                int64_t *idx, double *w, bool *outside)
{
    double x = source(p, pl, a, in, o);
    *outside = p->coord == TF_CROP_AND_RESIZE && !(x >= 0 && x <= (double)(in - 1));
    /* A hostile roi or scale can put x anywhere (or make it NaN): past 4 positions out every
     * tap is clamped to the same edge anyway, so clamping x there changes nothing else. */
    x = isnan(x) ? 0 : fmin(fmax(x, -4), (double)in + 3);
    double f = floor(x), r = x - f;
    int count = 0;
    int64_t first = (int64_t)f;
    if (p->mode == NEAREST) {
        bool up;
        switch (p->nearest) {
        case ROUND_PREFER_FLOOR: up = r > 0.5; break;
        case ROUND_PREFER_CEIL: up = r >= 0.5; break;
        case FLOOR: up = false; break;
        case CEIL: up = r > 0; break;
        default: up = pl->scale[a] < 1 && r > 0; break;
        }
        idx[0] = first + up;
        w[0] = 1;
        count = 1;
    } else if (p->mode == LINEAR) {
        idx[0] = first, idx[1] = first + 1;
        w[0] = 1 - r, w[1] = r;
        count = 2;
    } else {
        for (int t = 0; t < 4; t++) {
            idx[t] = first - 1 + t;
            w[t] = cubic(r - (t - 1), p->cubic_a);
        }
        count = 4;
    }
    double sum = 0;
    for (int t = 0; t < count; t++) {
        if (p->exclude_outside && (idx[t] < 0 || idx[t] >= in))
            w[t] = 0;
        sum += w[t];
        idx[t] = idx[t] < 0 ? 0 : idx[t] >= in ? in - 1 : idx[t];
    }
    for (int t = 0; p->exclude_outside && sum != 0 && t < count; t++)
        w[t] /= sum;
    return count;
}

/* One pass: dims[a] of the [outer, in, inner] source becomes out positions in dst. */
static void pass(const struct resize *p, const struct plan *pl, int a, const int64_t *dims,
                 int rank, const float *src, float *dst)
{
    int64_t outer = 1, inner = 1, in = dims[a], out = pl->out[a];
    for (int i = 0; i < rank; i++)
        if (i != a)
            *(i < a ? &outer : &inner) *= dims[i];
    for (int64_t o = 0; o < out; o++) {
        int64_t idx[MAX_TAPS];
        double w[MAX_TAPS];
        bool outside;
        int count = taps(p, pl, a, in, o, idx, w, &outside);
        for (int64_t b = 0; b < outer; b++) {
            float *y = dst + (b * out + o) * inner;
            const float *x = src + b * in * inner;
            for (int64_t i = 0; i < inner; i++) {
                double v = 0;
                for (int t = 0; t < count; t++)
                    v += w[t] * x[idx[t] * inner + i];
                y[i] = outside ? p->extrapolation : (float)v;
            }
        }
    }
}

/* Whether a pass over dim a would copy its input unchanged. */
static bool identity(const struct resize *p, const struct plan *pl, int a, int64_t in)
{
    if (pl->out[a] != in)
        return false;
    for (int64_t o = 0; o < in; o++) {
        int64_t idx[MAX_TAPS];
        double w[MAX_TAPS];
        bool outside;
        int count = taps(p, pl, a, in, o, idx, w, &outside);
        for (int t = 0; t < count; t++)
            if (outside || (w[t] != 0 && (idx[t] != o || w[t] != 1)))
                return false;
    }
    return true;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    const struct resize *p = n->params;
    const struct ond_info *x = in[0];
    struct plan pl;
    bool known;
    uint64_t xn, yn;
    enum ond_status st = resolve(n, in, &pl, &known, err);
    if (st || !ond_numel(x, 0, &xn) || !ond_numel(&out[0], 0, &yn) || yn == 0)
        return st;
    int rank = x->rank, order[OND_MAX_RANK], passes = 0;
    /* Shrinking dims first, then the others. */
    for (int shrink = 1; shrink >= 0; shrink--)
        for (int a = 0; a < rank; a++)
            if ((pl.out[a] < x->dims[a]) == shrink && !identity(p, &pl, a, x->dims[a]))
                order[passes++] = a;
    if (passes == 0) {
        memcpy(out_data[0], x->data, sizeof(float) * xn);
        return OND_OK;
    }
    float *buf[2] = {NULL, NULL};
    uint64_t most = xn > yn ? xn : yn;
    for (int b = 0; b < (passes > 2 ? 2 : passes - 1); b++)
        if (!(buf[b] = malloc(sizeof(float) * most))) {
            free(buf[0]);
            return ond_node_fail(err, n, OND_STATUS_NO_MEMORY, "cannot allocate %llu floats",
                                 (unsigned long long)most);
        }
    int64_t dims[OND_MAX_RANK];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)rank);
    const float *src = x->data;
    for (int k = 0; k < passes; k++) {
        float *dst = k == passes - 1 ? out_data[0] : buf[k % 2];
        pass(p, &pl, order[k], dims, rank, src, dst);
        dims[order[k]] = pl.out[order[k]];
        src = dst;
    }
    free(buf[0]);
    free(buf[1]);
    return OND_OK;
}

/* Whether oneDNN resampling computes what ONNX asks along spatial dim a (see the banner). */
static bool dnnl_matches(const struct resize *p, const struct plan *pl, int a, int64_t in)
{
    int64_t out = pl->out[a];
    if (in <= 0 || pl->scale[a] != (double)out / (double)in)
        return false;
    bool half = p->coord == HALF_PIXEL || (p->coord == PYTORCH_HALF_PIXEL && out > 1);
    if (p->mode == LINEAR)
        return half;
    if (p->mode != NEAREST || out % in)
        return false;
    if (half)
        return p->nearest == ROUND_PREFER_FLOOR || p->nearest == ROUND_PREFER_CEIL;
    return p->coord == ASYMMETRIC && (p->nearest == FLOOR || p->nearest == SIMPLE);
}

static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    const struct resize *q = n->params;
    const struct ond_info *x = p->in[0];
    struct plan pl;
    bool known;
    if (!ond_prep_float_activation(p, 0, "X"))
        return OND_OK;
    enum ond_status st = resolve(n, p->in, &pl, &known, err);
    if (st)
        return st;
    if (x->rank < 3 || x->rank > 5)
        return ond_prep_decline(p, "rank %d", x->rank);
    for (int a = 0; a < x->rank; a++) {
        if (a < 2 && (pl.out[a] != x->dims[a] || pl.scale[a] != 1 ||
                      q->coord == TF_CROP_AND_RESIZE))
            return ond_prep_decline(p, "resizes dim %d", a);
        if (a >= 2 && !dnnl_matches(q, &pl, a, x->dims[a]))
            return ond_prep_decline(p, "dim %d's mapping is not oneDNN's", a);
    }
    dnnl_memory_desc_t dst;
    if ((st = ond_md_any(&p->out[0], p->in_md[0]->data_type, &dst, err)))
        return st;
    dnnl_resampling_desc_t desc;
    OND_DNNL(dnnl_resampling_forward_desc_init(
                 &desc, dnnl_forward_inference,
                 q->mode == LINEAR ? dnnl_resampling_linear : dnnl_resampling_nearest, NULL,
                 p->in_md[0], &dst), n, err);
    dnnl_primitive_desc_t pd;
    if ((st = ond_prep_pd(p, &desc, &pd, err)) || !pd)
        return st;
    return ond_prep_finish_unary(p, pd, err);
}

const struct ond_op ond_op_upsample_7 = {
    .domain = "", .name = "Upsample", .since = 7,
    .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct resize),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_upsample_9 = {
    .domain = "", .name = "Upsample", .since = 9,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct resize),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_resize_10 = {
    .domain = "", .name = "Resize", .since = 10,
    .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct resize),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_resize_11 = {
    .domain = "", .name = "Resize", .since = 11,
    .min_in = 3, .max_in = 4, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct resize),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_resize_13 = {
    .domain = "", .name = "Resize", .since = 13,
    .min_in = 1, .max_in = 4, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct resize),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_resize_18 = {
    .domain = "", .name = "Resize", .since = 18,
    .min_in = 1, .max_in = 4, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct resize),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};

const struct ond_op ond_op_resize_19 = {
    .domain = "", .name = "Resize", .since = 19,
    .min_in = 1, .max_in = 4, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct resize),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
