/* test_compare.c: ondine test's comparison of an output with its reference, by --metric:
 *   elementwise (default): |got - ref| <= atol + rtol * |ref| for float, double and bfloat16
 *     (a bfloat16 output is also allowed one unit in its last place: references round it in
 *     different ways), exact equality for integer and bool outputs, NaN matching only NaN;
 *   cosine:MIN: the cosine similarity of got and ref, as vectors, is at least MIN per data set;
 *   topk:K: in every row (the last axis), ref's largest element is among got's K largest.
 * Integer outputs are always held exactly, types ondine does not compute with byte for byte.
 * Besides the verdict it keeps the count of elements out of tolerance and the few worst, with
 * their indices, for the line a failing case prints. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/ir.h"
#include "tools/test.h"

/* ---- comparing values ---- */

static double elem(int32_t dtype, const void *data, size_t i)
{
    uint32_t bits;
    float f;
    switch (dtype) {
    case OND_DTYPE_BFLOAT16:
        /* bfloat16 is the top half of a float32. */
        bits = (uint32_t)((const uint16_t *)data)[i] << 16;
        memcpy(&f, &bits, sizeof f);
        return f;
    case OND_DTYPE_FLOAT: return ((const float *)data)[i];
    case OND_DTYPE_DOUBLE: return ((const double *)data)[i];
    case OND_DTYPE_INT8: return ((const int8_t *)data)[i];
    case OND_DTYPE_UINT8: return ((const uint8_t *)data)[i];
    case OND_DTYPE_BOOL: return ((const uint8_t *)data)[i];
    case OND_DTYPE_INT16: return ((const int16_t *)data)[i];
    case OND_DTYPE_UINT16: return ((const uint16_t *)data)[i];
    case OND_DTYPE_INT32: return ((const int32_t *)data)[i];
    case OND_DTYPE_UINT32: return ((const uint32_t *)data)[i];
    case OND_DTYPE_INT64: return (double)((const int64_t *)data)[i];
    case OND_DTYPE_UINT64: return (double)((const uint64_t *)data)[i];
    default: return 0;
    }
}

static const char *shape_str(int rank, const int64_t *dims, char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < rank && at < len; d++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", d ? "," : "", (long long)dims[d]);
    if (at < len)
        snprintf(buf + at, len - at, "]");
    return buf;
}

static uint64_t numel(const struct ond_value *v)
{
    uint64_t n = 1;
    for (int d = 0; d < v->rank; d++)
        n *= v->dims[d] > 0 ? (uint64_t)v->dims[d] : 0;
    return n;
}

void test_unflatten(const struct cmp *c, size_t i, int64_t *idx)
{
    for (int d = c->rank - 1; d >= 0; d--) {
        size_t n = c->dims[d] > 0 ? (size_t)c->dims[d] : 1;
        idx[d] = (int64_t)(i % n);
        i /= n;
    }
}

/* Failures first, then by ratio to the tolerance, then by difference. */
static bool worse(const struct worst *a, const struct worst *b)
{
    if (a->bad != b->bad)
        return a->bad;
    return a->ratio != b->ratio ? a->ratio > b->ratio : a->diff > b->diff;
}

/* Keeps c->worst sorted worst first. */
static void keep_worst(struct cmp *c, const struct worst *w)
{
    if (c->n_worst == N_WORST && !worse(w, &c->worst[N_WORST - 1]))
        return;
    int n = c->n_worst < N_WORST ? c->n_worst++ : N_WORST - 1;
    for (; n > 0 && worse(w, &c->worst[n - 1]); n--)
        c->worst[n] = c->worst[n - 1];
    c->worst[n] = *w;
}

/* cosine:MIN, per data set. */
static void cosine(const struct cfg *cfg, int set, int32_t dtype, const struct ond_value *got,
                   const struct ond_value *want, size_t n, struct cmp *c)
{
    double gw = 0, gg = 0, ww = 0;
    for (size_t i = 0; i < n; i++) {
        double g = elem(dtype, got->data, i), w = elem(dtype, want->data, i);
        gw += g * w;
        gg += g * g;
        ww += w * w;
    }
    /* Two zero vectors agree; one zero vector does not. */
    double cs = gg == 0 && ww == 0 ? 1 : gg == 0 || ww == 0 ? 0 : gw / sqrt(gg * ww);
    c->metric_limit = cfg->min_cosine;
    if (!(cs >= cfg->min_cosine))
        c->bad = true;
    if (!c->has_metric || cs < c->metric) {
        c->has_metric = true;
        c->metric = cs;
        c->metric_set = set;
    }
}

/* topk:K: rows along the last axis; counts rows whose reference argmax is not in got's top K. */
static void topk(const struct cfg *cfg, int set, int32_t dtype, const struct ond_value *got,
                 const struct ond_value *want, size_t n, struct cmp *c)
{
    c->metric_limit = cfg->topk;
    size_t cols = want->rank > 0 && want->dims[want->rank - 1] > 0
                      ? (size_t)want->dims[want->rank - 1] : 1;
    for (size_t row = 0; row * cols < n; row++) {
        const size_t at0 = row * cols;
        size_t best = 0, above = 0;
        for (size_t j = 1; j < cols; j++)
            if (elem(dtype, want->data, at0 + j) > elem(dtype, want->data, at0 + best))
                best = j;
        double at = elem(dtype, got->data, at0 + best);
        for (size_t j = 0; j < cols; j++)
            above += elem(dtype, got->data, at0 + j) > at;
        c->metric_rows++;
        if (above >= (size_t)cfg->topk) {
            c->bad = true;
            if (!c->metric_bad++) {
                c->metric_set = set;
                c->metric_row = row;
                c->metric_class = best;
            }
        }
    }
}

void test_compare(const struct cfg *cfg, int set, const struct ond_value *got,
                  const struct ond_value *want, struct cmp *c)
{
    char a[256], b[256];
    if (got->dtype != want->dtype) {
        c->bad = true;
        snprintf(c->problem, sizeof c->problem, "dtype %s, expected %s",
                 ond_dtype_name(got->dtype), ond_dtype_name(want->dtype));
        return;
    }
    size_t rank = (size_t)(want->rank > 0 ? want->rank : 0);
    if (got->rank != want->rank || memcmp(got->dims, want->dims, sizeof(int64_t) * rank)) {
        c->bad = true;
        snprintf(c->problem, sizeof c->problem, "shape %s, expected %s",
                 shape_str(got->rank, got->dims, a, sizeof a),
                 shape_str(want->rank, want->dims, b, sizeof b));
        return;
    }
    c->rank = want->rank;
    memcpy(c->dims, want->dims, sizeof(int64_t) * rank);
    size_t es = ond_dtype_size(want->dtype), n = (size_t)numel(want);
    if (!es || got->size < n * es || want->size < n * es) {
        /* Types ondine does not compute with: bytes must agree. */
        if (got->size != want->size || memcmp(got->data, want->data, want->size)) {
            c->bad = true;
            snprintf(c->problem, sizeof c->problem, "%s data differs",
                     ond_dtype_name(want->dtype));
        }
        return;
    }
    bool bf16 = want->dtype == OND_DTYPE_BFLOAT16;
    bool is_float = want->dtype == OND_DTYPE_FLOAT || want->dtype == OND_DTYPE_DOUBLE || bf16;
    bool by_elem = !is_float || cfg->metric == METRIC_ELEMENTWISE;
    if (is_float && cfg->metric == METRIC_COSINE)
        cosine(cfg, set, want->dtype, got, want, n, c);
    else if (is_float && cfg->metric == METRIC_TOPK)
        topk(cfg, set, want->dtype, got, want, n, c);
    c->n_elems += n;
    for (size_t i = 0; i < n; i++) {
        double g = elem(want->dtype, got->data, i), w = elem(want->dtype, want->data, i);
        double d, tol = cfg->atol + cfg->rtol * fabs(w);
        bool ok;
        /* One bfloat16 unit in the last place: 2^-7 of the power of two at or below |w|. */
        if (bf16 && w != 0 && isfinite(w))
            tol = fmax(tol, ldexp(1, ilogb(w) - 7));
        if (!is_float) {
            const char *gb = got->data, *wb = want->data;
            ok = memcmp(gb + i * es, wb + i * es, es) == 0;
            d = fabs(g - w);
        } else if (isnan(g) || isnan(w)) {
            ok = isnan(g) && isnan(w);
            d = ok ? 0 : INFINITY;
        } else if (g == w) {
            ok = true;
            d = 0;
        } else {
            d = fabs(g - w);
            ok = d <= tol;
        }
        double ratio = d == 0 ? 0 : tol > 0 ? d / tol : INFINITY;
        if (d > c->max_abs)
            c->max_abs = d;
        if (w != 0 && isfinite(w) && d / fabs(w) > c->max_rel)
            c->max_rel = d / fabs(w);
        if (!ok) {
            c->n_bad++;
            c->bad |= by_elem;
        }
        struct worst wr = {.bad = !ok, .ratio = ratio, .diff = d, .set = set, .index = i,
                           .got = g, .want = w};
        keep_worst(c, &wr);
    }
}

/* The worst few elements: "[1,500] (set 0) is 0.51, expected 0.6". */
static size_t worst_str(const struct cmp *c, char *buf, size_t len)
{
    size_t at = 0;
    /* Failing elements only, when there are some. */
    for (int k = 0; k < c->n_worst && at < len && (!c->n_bad || c->worst[k].bad); k++) {
        char idx[256];
        int64_t at_idx[OND_MAX_RANK];
        test_unflatten(c, c->worst[k].index, at_idx);
        shape_str(c->rank, at_idx, idx, sizeof idx);
        at += (size_t)snprintf(buf + at, len - at, "%s%s (set %d) is %.9g, expected %.9g",
                               k ? "; " : "", idx, c->worst[k].set, c->worst[k].got,
                               c->worst[k].want);
    }
    return at;
}

/* "output 'y': 1 of 2000 elements (0.05%) out of tolerance; worst [1,500] (set 0) is 0.51,
 * expected 0.6; ... (max abs error 0.09, max rel 0.15)", or the metric's own words. */
size_t test_describe(const struct cmp *c, const char *what, char *buf, size_t len)
{
    char worst[1024];
    if (c->problem[0])
        return (size_t)snprintf(buf, len, "%s '%s': %s", what, c->name, c->problem);
    worst_str(c, worst, sizeof worst);
    size_t at;
    double pct = c->n_elems ? 100.0 * (double)c->n_bad / (double)c->n_elems : 0;
    if (c->has_metric)
        at = (size_t)snprintf(buf, len, "%s '%s': cosine similarity %.9g (set %d), "
                              "below %.9g; %llu of %llu elements (%.3g%%) outside the "
                              "elementwise tolerance; worst %s", what, c->name, c->metric,
                              c->metric_set, c->metric_limit, (unsigned long long)c->n_bad,
                              (unsigned long long)c->n_elems, pct, worst);
    else if (c->metric_rows)
        at = (size_t)snprintf(buf, len, "%s '%s': %llu of %llu rows have the reference's top "
                              "class outside the result's top %g (first: row %zu of set %d, "
                              "class %zu)", what, c->name, (unsigned long long)c->metric_bad,
                              (unsigned long long)c->metric_rows, c->metric_limit, c->metric_row,
                              c->metric_set, c->metric_class);
    else
        at = (size_t)snprintf(buf, len, "%s '%s': %llu of %llu elements (%.3g%%) out of "
                              "tolerance; worst %s", what, c->name, (unsigned long long)c->n_bad,
                              (unsigned long long)c->n_elems, pct, worst);
    if (at < len)
        at += (size_t)snprintf(buf + at, len - at, " (max abs error %.3g, max rel %.3g)",
                               c->max_abs, c->max_rel);
    if (c->match[0] && at < len)
        at += (size_t)snprintf(buf + at, len - at, "; its values match %s: the reference files "
                               "are in another order than the graph's outputs (name each "
                               "file's tensor after its graph output to bind by name)",
                               c->match);
    return at;
}

/* Compares a list of outputs; fills buf with the first difference, or leaves it empty. */
void test_compare_outputs(const struct cfg *cfg, int set, const struct ond_value *got,
                          const struct ond_value *want, int n, char *buf, size_t len)
{
    buf[0] = 0;
    for (int i = 0; i < n && !buf[0]; i++) {
        struct cmp c = {0};
        snprintf(c.name, sizeof c.name, "%s", got[i].name ? got[i].name : "?");
        test_compare(cfg, set, &got[i], &want[i], &c);
        if (c.bad)
            test_describe(&c, "output", buf, len);
    }
}

void test_append(char *buf, size_t len, const char *sep, const char *s)
{
    size_t at = strlen(buf);
    if (at + 1 < len)
        snprintf(buf + at, len - at, "%s%s", at ? sep : "", s);
}
