/* layout_util.c: helpers of the shape, layout and constant ops: integer inputs, byte
 * copies, shape values traced through Shape chains, and dtype conversion. */
#include <math.h>
#include <string.h>

#include "ops/op.h"

enum ond_status ond_input_ints(const struct ond_node *n, const struct ond_info *in, int k,
                               const char *what, int64_t *v, int max, int *count, bool *known,
                               struct ond_error *err)
{
    *count = -1;
    *known = false;
    if (in->dtype != OND_DTYPE_INT64 && in->dtype != OND_DTYPE_INT32)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input %d (%s) must be int64, got %s", k, what,
                             ond_dtype_name(in->dtype));
    if (in->rank > 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input %d (%s) must be 1-D, got rank %d", k, what, in->rank);
    if (in->rank < 0 || (in->rank == 1 && in->dims[0] < 0))
        return OND_OK;
    int64_t len = in->rank ? in->dims[0] : 1;
    if (len > max)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "input %d (%s) has %lld values, at most %d allowed", k, what,
                             (long long)len, max);
    *count = (int)len;
    if (in->data) {
        for (int i = 0; i < *count; i++)
            v[i] = ond_int_at(in, (size_t)i);
        *known = true;
    }
    return OND_OK;
}

size_t ond_info_bytes(const struct ond_info *info)
{
    uint64_t numel;
    if (!ond_numel(info, 0, &numel))
        return 0;
    return (size_t)numel * ond_dtype_size(info->dtype);
}

enum ond_status ond_eval_copy(const struct ond_node *n, const struct ond_info *const *in,
                              const struct ond_info *out, void *const *out_data,
                              struct ond_error *err)
{
    (void)n;
    (void)err;
    size_t bytes = ond_info_bytes(&out[0]);
    if (bytes)
        memcpy(out_data[0], in[0]->data, bytes);
    return OND_OK;
}

/* Chains longer than this are not PyTorch's shape arithmetic; give up rather than recurse.
 * The visit budget bounds the whole walk: Concats that repeat their inputs would otherwise
 * make it exponential in the depth (a 2 KB model took minutes to load). */
#define TRACE_DEPTH 16
#define TRACE_VISITS 4096

static bool trace(const struct ond_tensor *t, int64_t *v, bool *dim, int max, int *count,
                  int depth, int *visits)
{
    const struct ond_info *info = &t->info;
    if (++*visits > TRACE_VISITS)
        return false;
    if (info->data && (info->dtype == OND_DTYPE_INT64 || info->dtype == OND_DTYPE_INT32) &&
        info->rank <= 1) {
        uint64_t numel;
        if (!ond_numel(info, (uint64_t)max, &numel))
            return false;
        for (size_t i = 0; i < numel; i++) {
            v[i] = ond_int_at(info, i);
            dim[i] = false;
        }
        *count = (int)numel;
        return true;
    }
    const struct ond_node *p = t->producer;
    if (!p || !p->op || depth >= TRACE_DEPTH || strcmp(p->domain, "") != 0 || p->n_in < 1 ||
        !p->in[0])
        return false;
    const char *op = p->op_type;
    const struct ond_info *x = &p->in[0]->info;
    if (strcmp(op, "Shape") == 0) {
        if (x->rank < 0)
            return false;
        const struct ond_attr *a = ond_node_attr(p, "start"), *b = ond_node_attr(p, "end");
        int64_t s = a ? a->i : 0, e = b ? b->i : x->rank;
        s = s < 0 ? s + x->rank : s;
        e = e < 0 ? e + x->rank : e;
        s = s < 0 ? 0 : s > x->rank ? x->rank : s;
        e = e < 0 ? 0 : e > x->rank ? x->rank : e;
        *count = 0;
        for (int64_t i = s; i < e && *count < max; i++, (*count)++) {
            v[*count] = x->dims[i];
            dim[*count] = true;
        }
        return *count == (e > s ? e - s : 0);
    }
    if (strcmp(op, "Unsqueeze") == 0 || strcmp(op, "Squeeze") == 0 ||
        strcmp(op, "Cast") == 0 || strcmp(op, "Identity") == 0)
        return trace(p->in[0], v, dim, max, count, depth + 1, visits);
    if (strcmp(op, "Concat") == 0) {
        *count = 0;
        for (int k = 0; k < p->n_in; k++) {
            int c;
            if (!p->in[k] || !trace(p->in[k], v + *count, dim + *count, max - *count, &c,
                                    depth + 1, visits))
                return false;
            *count += c;
        }
        return true;
    }
    if (strcmp(op, "Gather") == 0 && p->n_in == 2 && p->in[1]) {
        const struct ond_attr *a = ond_node_attr(p, "axis");
        const struct ond_info *ind = &p->in[1]->info;
        int64_t sv[OND_MAX_RANK];
        bool sd[OND_MAX_RANK];
        int c;
        uint64_t ni;
        if ((a && a->i != 0 && a->i != -1) || !ind->data || ind->rank > 1 ||
            !ond_numel(ind, (uint64_t)max, &ni) ||
            !trace(p->in[0], sv, sd, OND_MAX_RANK, &c, depth + 1, visits))
            return false;
        for (size_t i = 0; i < ni; i++) {
            int64_t j = ond_int_at(ind, i);
            j = j < 0 ? j + c : j;
            if (j < 0 || j >= c)
                return false;
            v[i] = sv[j];
            dim[i] = sd[j];
        }
        *count = (int)ni;
        return true;
    }
    return false;
}

bool ond_shape_value(const struct ond_tensor *t, int64_t *v, bool *dim, int max, int *count)
{
    /* A trace that fails part way (a Concat whose third input cannot be traced) has counted
     * the parts before: *count changes only on success, so callers keep what they knew. */
    int visits = 0, c = 0;
    if (!trace(t, v, dim, max, &c, 0, &visits))
        return false;
    *count = c;
    return true;
}

/* IEEE half and bfloat16 by hand: C11 has neither type. Rounding is to nearest even, as
 * numpy's (which produced the ONNX reference outputs). */
static float half_to_float(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    float f = e == 0 ? ldexpf((float)m, -24)
              : e == 31 ? (m ? NAN : INFINITY)
                        : ldexpf((float)(m | 1024), e - 25);
    return h & 0x8000 ? -f : f;
}

static uint16_t double_to_half(double x)
{
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    double a = fabs(x);
    if (isnan(x))
        return 0x7e00;
    if (a < 0x1p-14)
        return sign | (uint16_t)rint(a * 0x1p24);
    int e;
    frexp(a, &e);
    e -= 1;
    double m = rint(ldexp(a, 10 - e));
    if (m >= 2048) {
        m = 1024;
        e++;
    }
    if (e > 15)
        return sign | 0x7c00;
    return sign | (uint16_t)((e + 15) << 10) | (uint16_t)((int)m - 1024);
}

static float bf16_to_float(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint16_t float_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if (isnan(f))
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static bool is_float(int32_t dt)
{
    return dt == OND_DTYPE_FLOAT || dt == OND_DTYPE_DOUBLE || dt == OND_DTYPE_FLOAT16 ||
           dt == OND_DTYPE_BFLOAT16;
}

static double load_f(const void *p, int32_t dt, size_t i)
{
    switch (dt) {
    case OND_DTYPE_FLOAT: return ((const float *)p)[i];
    case OND_DTYPE_DOUBLE: return ((const double *)p)[i];
    case OND_DTYPE_FLOAT16: return half_to_float(((const uint16_t *)p)[i]);
    default: return bf16_to_float(((const uint16_t *)p)[i]);
    }
}

static int64_t load_i(const void *p, int32_t dt, size_t i)
{
    switch (dt) {
    case OND_DTYPE_INT64: return ((const int64_t *)p)[i];
    case OND_DTYPE_INT32: return ((const int32_t *)p)[i];
    case OND_DTYPE_INT16: return ((const int16_t *)p)[i];
    case OND_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case OND_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    /* Wraps above INT64_MAX, as numpy's astype does. */
    case OND_DTYPE_UINT64: return (int64_t)((const uint64_t *)p)[i];
    case OND_DTYPE_INT8: return ((const int8_t *)p)[i];
    default: return ((const uint8_t *)p)[i];
    }
}

static int64_t saturate(double x, double lo, double hi)
{
    if (isnan(x))
        return 0;
    x = trunc(x);
    return x <= lo ? (int64_t)lo : x >= hi ? (int64_t)hi : (int64_t)x;
}

static void store_i(void *p, int32_t dt, size_t i, int64_t x)
{
    switch (dt) {
    case OND_DTYPE_INT64: ((int64_t *)p)[i] = x; break;
    case OND_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)x; break;
    case OND_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)x; break;
    case OND_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)x; break;
    case OND_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)x; break;
    case OND_DTYPE_UINT64: ((uint64_t *)p)[i] = (uint64_t)x; break;
    case OND_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)x; break;
    case OND_DTYPE_BOOL: ((uint8_t *)p)[i] = x != 0; break;
    default: ((uint8_t *)p)[i] = (uint8_t)x; break;
    }
}

static void store_f(void *p, int32_t dt, size_t i, double x)
{
    switch (dt) {
    case OND_DTYPE_FLOAT: ((float *)p)[i] = (float)x; break;
    case OND_DTYPE_DOUBLE: ((double *)p)[i] = x; break;
    case OND_DTYPE_FLOAT16: ((uint16_t *)p)[i] = double_to_half(x); break;
    case OND_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = float_to_bf16((float)x); break;
    case OND_DTYPE_BOOL: ((uint8_t *)p)[i] = x != 0; break;
    case OND_DTYPE_INT64: ((int64_t *)p)[i] = saturate(x, -0x1p63, 0x1p63 - 1024); break;
    case OND_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)saturate(x, INT32_MIN, INT32_MAX); break;
    case OND_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)saturate(x, INT16_MIN, INT16_MAX); break;
    case OND_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)saturate(x, 0, UINT16_MAX); break;
    case OND_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)saturate(x, 0, UINT32_MAX); break;
    case OND_DTYPE_UINT64:
        ((uint64_t *)p)[i] = x <= 0 || isnan(x) ? 0 : x >= 0x1p64 ? UINT64_MAX : (uint64_t)x;
        break;
    case OND_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)saturate(x, INT8_MIN, INT8_MAX); break;
    default: ((uint8_t *)p)[i] = (uint8_t)saturate(x, 0, UINT8_MAX); break;
    }
}

void ond_convert(const void *src, int32_t sdt, void *dst, int32_t ddt, size_t n)
{
    if (sdt == ddt) {
        memcpy(dst, src, n * ond_dtype_size(sdt));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (is_float(sdt))
            store_f(dst, ddt, i, load_f(src, sdt, i));
        else if (is_float(ddt))
            store_f(dst, ddt, i, sdt == OND_DTYPE_UINT64 ? (double)((const uint64_t *)src)[i]
                                                         : (double)load_i(src, sdt, i));
        else
            store_i(dst, ddt, i, load_i(src, sdt, i));
    }
}
