/* window.c: kernel-window attributes shared by Conv, MaxPool and AveragePool, and the output
 * size rule: out = floor_or_ceil((in + pad_begin + pad_end - dilation*(k-1) - 1) / stride) + 1,
 * with auto_pad SAME_* giving out = ceil(in / stride) and VALID no padding. */
#include <string.h>

#include "ops/op.h"

static enum ond_status positive(const struct ond_node *n, const char *name, const int64_t *v,
                                int count, int64_t min, struct ond_error *err)
{
    for (int i = 0; i < count; i++)
        if (v[i] < min)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "attribute '%s' has %s value %lld", name,
                                 min > 0 ? "a zero or negative" : "a negative", (long long)v[i]);
    return OND_OK;
}

enum ond_status ond_window_parse(const struct ond_node *n, struct ond_window *w, bool has_ceil,
                                 struct ond_error *err)
{
    enum ond_status st;
    const char *ap;
    int64_t ceil_mode = 0;
    memset(w, 0, sizeof *w);
    if ((st = ond_attr_ints(n, "kernel_shape", w->kernel, OND_MAX_SPATIAL, &w->n_kernel, err)) ||
        (st = ond_attr_ints(n, "strides", w->strides, OND_MAX_SPATIAL, &w->n_strides, err)) ||
        (st = ond_attr_ints(n, "dilations", w->dilations, OND_MAX_SPATIAL, &w->n_dilations,
                            err)) ||
        (st = ond_attr_ints(n, "pads", w->pads, 2 * OND_MAX_SPATIAL, &w->n_pads, err)) ||
        (st = ond_attr_string(n, "auto_pad", "NOTSET", &ap, err)) ||
        (has_ceil && (st = ond_attr_int(n, "ceil_mode", 0, &ceil_mode, err))))
        return st;
    if ((st = positive(n, "kernel_shape", w->kernel, w->n_kernel, 1, err)) ||
        (st = positive(n, "strides", w->strides, w->n_strides, 1, err)) ||
        (st = positive(n, "dilations", w->dilations, w->n_dilations, 1, err)) ||
        (st = positive(n, "pads", w->pads, w->n_pads, 0, err)))
        return st;
    if (strcmp(ap, "NOTSET") == 0)
        w->auto_pad = OND_PAD_NOTSET;
    else if (strcmp(ap, "SAME_UPPER") == 0)
        w->auto_pad = OND_PAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0)
        w->auto_pad = OND_PAD_SAME_LOWER;
    else if (strcmp(ap, "VALID") == 0)
        w->auto_pad = OND_PAD_VALID;
    else
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "auto_pad '%s' is not valid", ap);
    if (ceil_mode != 0 && ceil_mode != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "ceil_mode must be 0 or 1");
    w->ceil_mode = ceil_mode;
    return OND_OK;
}

static enum ond_status length(const struct ond_node *n, const char *name, int count, int want,
                              struct ond_error *err)
{
    if (count >= 0 && count != want)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute '%s' has %d values, expected %d", name, count, want);
    return OND_OK;
}

static enum ond_status overflow(const struct ond_node *n, int i, struct ond_error *err)
{
    return ond_node_fail(err, n, OND_STATUS_LIMIT,
                         "kernel, dilation, stride and pad sizes overflow at spatial dim %d", i);
}

enum ond_status ond_window_resolve(const struct ond_node *n, const struct ond_window *w,
                                   int rank, const int64_t *in, const int64_t *k,
                                   int64_t *strides, int64_t *dilations, int64_t *pads,
                                   int64_t *out, struct ond_error *err)
{
    enum ond_status st;
    if (rank < 1 || rank > OND_MAX_SPATIAL)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "%d spatial dims; 1 to %d are supported", rank, OND_MAX_SPATIAL);
    if ((st = length(n, "kernel_shape", w->n_kernel, rank, err)) ||
        (st = length(n, "strides", w->n_strides, rank, err)) ||
        (st = length(n, "dilations", w->n_dilations, rank, err)) ||
        (st = length(n, "pads", w->n_pads, 2 * rank, err)))
        return st;
    for (int i = 0; i < rank; i++) {
        strides[i] = w->n_strides > 0 ? w->strides[i] : 1;
        dilations[i] = w->n_dilations > 0 ? w->dilations[i] : 1;
        int64_t pb = w->n_pads > 0 ? w->pads[i] : 0, pe = w->n_pads > 0 ? w->pads[i + rank] : 0;
        int64_t span, total, padded;
        if (k[i] < 1)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "kernel dim %d is %lld", i,
                                 (long long)k[i]);
        /* Attributes and dims are any positive int64: every step is checked. */
        if (__builtin_mul_overflow(dilations[i], k[i] - 1, &span) ||
            __builtin_add_overflow(span, 1, &span))
            return overflow(n, i, err);
        if (w->auto_pad == OND_PAD_VALID) {
            pb = pe = 0;
        } else if (w->auto_pad != OND_PAD_NOTSET) {
            if (in[i] < 0) {
                pads[i] = pads[i + rank] = 0;
                out[i] = OND_DIM_UNKNOWN;
                continue;
            }
            int64_t o = in[i] / strides[i] + (in[i] % strides[i] != 0);
            if (__builtin_mul_overflow(o - 1, strides[i], &total) ||
                __builtin_add_overflow(total, span - in[i], &total))
                return overflow(n, i, err);
            if (total < 0)
                total = 0;
            pb = w->auto_pad == OND_PAD_SAME_UPPER ? total / 2 : total - total / 2;
            pe = total - pb;
        }
        pads[i] = pb;
        pads[i + rank] = pe;
        if (in[i] < 0) {
            out[i] = OND_DIM_UNKNOWN;
            continue;
        }
        if (__builtin_add_overflow(in[i], pb, &padded) ||
            __builtin_add_overflow(padded, pe, &padded))
            return overflow(n, i, err);
        int64_t room = padded - span;
        if (room < 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "kernel span %lld is larger than the padded input %lld at "
                                 "spatial dim %d", (long long)span, (long long)padded, i);
        out[i] = room / strides[i] + (w->ceil_mode && room % strides[i] != 0) + 1;
        /* ONNX (like PyTorch) drops a last ceil-mode window that starts in the end padding. */
        int64_t last;
        if (w->ceil_mode && (__builtin_mul_overflow(out[i] - 1, strides[i], &last) ||
                             last >= in[i] + pb))
            out[i]--;
    }
    return OND_OK;
}

enum ond_status ond_window3_resolve(const struct ond_node *n, const struct ond_window *w,
                                    int rank, const int64_t *in, const int64_t *k,
                                    struct ond_window3 *g, struct ond_error *err)
{
    int64_t s[OND_MAX_SPATIAL], d[OND_MAX_SPATIAL], out[OND_MAX_SPATIAL];
    int64_t pads[2 * OND_MAX_SPATIAL];
    enum ond_status st = ond_window_resolve(n, w, rank, in, k, s, d, pads, out, err);
    if (st)
        return st;
    int lead = OND_MAX_SPATIAL - rank;
    for (int i = 0; i < OND_MAX_SPATIAL; i++) {
        int j = i - lead;
        g->in[i] = j >= 0 ? in[j] : 1;
        g->out[i] = j >= 0 ? out[j] : 1;
        g->k[i] = j >= 0 ? k[j] : 1;
        g->s[i] = j >= 0 ? s[j] : 1;
        g->d[i] = j >= 0 ? d[j] : 1;
        g->pb[i] = j >= 0 ? pads[j] : 0;
        g->pe[i] = j >= 0 ? pads[j + rank] : 0;
        if (g->in[i] < 0 || g->out[i] < 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_ARGUMENT,
                                 "spatial dim %d is unknown when computing", j);
    }
    return OND_OK;
}

enum ond_status ond_conv_parse(const struct ond_node *n, struct ond_conv_attrs *c,
                               struct ond_error *err)
{
    enum ond_status st = ond_window_parse(n, &c->w, false, err);
    if (st || (st = ond_attr_int(n, "group", 1, &c->group, err)))
        return st;
    if (c->group < 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "group must be positive, got %lld",
                             (long long)c->group);
    return OND_OK;
}

enum ond_status ond_conv_shape(const struct ond_node *n, const struct ond_conv_attrs *c,
                               const struct ond_info *x, const struct ond_info *w,
                               const struct ond_info *b, struct ond_info *out,
                               struct ond_error *err)
{
    if (x->rank < 0 || w->rank < 0)
        return OND_OK;
    int sp = x->rank - 2;
    if (x->rank < 3 || w->rank != x->rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has rank %d and W rank %d; both must be the same, at least 3",
                             x->rank, w->rank);
    int64_t ch = x->dims[1], m = w->dims[0];
    if (m >= 0 && m % c->group)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "group %lld does not divide the %lld output channels",
                             (long long)c->group, (long long)m);
    if (ch >= 0 && w->dims[1] >= 0 && ch != w->dims[1] * c->group)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "X has %lld channels, W expects %lld x group %lld", (long long)ch,
                             (long long)w->dims[1], (long long)c->group);
    if (b && b->rank >= 0 &&
        (b->rank != 1 || (m >= 0 && b->dims[0] >= 0 && b->dims[0] != m)))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "B must have shape [%lld]",
                             (long long)m);
    int64_t k[OND_MAX_SPATIAL], s[OND_MAX_SPATIAL], d[OND_MAX_SPATIAL], pads[2 * OND_MAX_SPATIAL];
    for (int i = 0; i < sp && i < OND_MAX_SPATIAL; i++) {
        k[i] = w->dims[2 + i];
        if (c->w.n_kernel == sp && k[i] >= 0 && c->w.kernel[i] != k[i])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "kernel_shape disagrees with W at spatial dim %d", i);
        if (k[i] < 0 && c->w.n_kernel == sp)
            k[i] = c->w.kernel[i];
        if (k[i] < 0)
            return OND_OK;
    }
    out->rank = x->rank;
    out->dims[0] = x->dims[0];
    out->dims[1] = m;
    return ond_window_resolve(n, &c->w, sp, x->dims + 2, k, s, d, pads, out->dims + 2, err);
}
