/* test_compare.c: ondine test's comparison of an output with its reference: |got - ref| <=
 * atol + rtol * |ref| for float and double, exact equality for integer and bool outputs, NaN
 * matching only NaN, bytes for types ondine does not compute with; and the one-line description
 * of the worst element that a failing case prints. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/ir.h"
#include "tools/test.h"

/* ---- comparing values ---- */

static double elem(int32_t dtype, const void *data, size_t i)
{
    switch (dtype) {
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

/* Holds got to want (data set `set`), merging into c what earlier sets left there. */
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
    bool is_float = want->dtype == OND_DTYPE_FLOAT || want->dtype == OND_DTYPE_DOUBLE;
    for (size_t i = 0; i < n; i++) {
        double g = elem(want->dtype, got->data, i), w = elem(want->dtype, want->data, i);
        double d, tol = cfg->atol + cfg->rtol * fabs(w);
        bool ok;
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
        if (!ok)
            c->bad = true;
        /* Ties (a zero tolerance makes every ratio infinite) go to the larger difference. */
        bool worse = ratio > c->worst_ratio || (ratio == c->worst_ratio && d > c->worst_diff);
        if (!c->has_worst || (!ok && !c->worst_bad) || (!ok == c->worst_bad && worse)) {
            c->has_worst = true;
            c->worst_bad = !ok;
            c->worst_ratio = ratio;
            c->worst_diff = d;
            c->worst_set = set;
            c->worst_index = i;
            c->worst_got = g;
            c->worst_want = w;
        }
    }
}

/* "output 'y': element 12 (set 0) is 0.51, expected 0.6 (max abs error 0.09, max rel 0.15)" */
size_t test_describe(const struct cmp *c, const char *what, char *buf, size_t len)
{
    if (c->problem[0])
        return (size_t)snprintf(buf, len, "%s '%s': %s", what, c->name, c->problem);
    return (size_t)snprintf(buf, len,
                            "%s '%s': element %zu (set %d) is %.9g, expected %.9g "
                            "(max abs error %.3g, max rel %.3g)",
                            what, c->name, c->worst_index, c->worst_set, c->worst_got,
                            c->worst_want, c->max_abs, c->max_rel);
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
