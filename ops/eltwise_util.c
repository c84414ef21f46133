/* eltwise_util.c: the loops group B's elementwise ops share: one numpy-broadcasting binary
 * loop (Add, Sub, Mul, Div, Sum), one float unary loop (the activations), one copy
 * (Identity, Dropout). Integer arithmetic wraps like ONNX runtimes do, so it is computed in
 * the unsigned type of the same width (signed overflow is undefined in C). */
#include <string.h>

#include "ops/op.h"

typedef void (*row_fn)(void *o, const void *a, int64_t sa, const void *b, int64_t sb,
                       int64_t n);

#define ROW(name, T, EXPR)                                                             \
    static void name(void *o_, const void *a_, int64_t sa, const void *b_, int64_t sb,  \
                     int64_t n)                                                        \
    {                                                                                  \
        T *o = o_;                                                                     \
        const T *a = a_, *b = b_;                                                      \
        for (int64_t j = 0; j < n; j++) {                                              \
            T x = a[j * sa], y = b[j * sb];                                            \
            o[j] = (EXPR);                                                             \
        }                                                                              \
    }

#define FLOAT_ROWS(T, s)              \
    ROW(add_##s, T, x + y)            \
    ROW(sub_##s, T, x - y)            \
    ROW(mul_##s, T, x * y)            \
    ROW(div_##s, T, x / y)

/* Division truncates toward zero (C's rule, which the ONNX tests expect); MIN / -1 wraps. */
#define SINT_ROWS(T, U, s)                                      \
    ROW(add_##s, T, (T)((U)x + (U)y))                           \
    ROW(sub_##s, T, (T)((U)x - (U)y))                           \
    ROW(mul_##s, T, (T)((U)x * (U)y))                           \
    ROW(div_##s, T, y == -1 ? (T)((U)0 - (U)x) : (T)(x / y))

#define UINT_ROWS(T, s)               \
    ROW(add_##s, T, (T)(x + y))       \
    ROW(sub_##s, T, (T)(x - y))       \
    ROW(mul_##s, T, (T)(x * y))       \
    ROW(div_##s, T, (T)(x / y))

FLOAT_ROWS(float, f32)
FLOAT_ROWS(double, f64)
SINT_ROWS(int8_t, uint8_t, i8)
SINT_ROWS(int32_t, uint32_t, i32)
SINT_ROWS(int64_t, uint64_t, i64)
UINT_ROWS(uint8_t, u8)

static row_fn row_for(int32_t dtype, enum ond_binop op)
{
#define PICK(s) { add_##s, sub_##s, mul_##s, div_##s }
    static const row_fn f32[] = PICK(f32), f64[] = PICK(f64), i8[] = PICK(i8),
                        u8[] = PICK(u8), i32[] = PICK(i32), i64[] = PICK(i64);
#undef PICK
    switch (dtype) {
    case OND_DTYPE_FLOAT: return f32[op];
    case OND_DTYPE_DOUBLE: return f64[op];
    case OND_DTYPE_INT8: return i8[op];
    case OND_DTYPE_UINT8: return u8[op];
    case OND_DTYPE_INT32: return i32[op];
    case OND_DTYPE_INT64: return i64[op];
    }
    return NULL;
}

bool ond_arith_dtype(int32_t dtype)
{
    return row_for(dtype, OND_BIN_ADD) != NULL;
}

enum ond_status ond_binary_infer(const struct ond_node *n, const struct ond_info *a,
                                 const struct ond_info *b, struct ond_info *out,
                                 struct ond_error *err)
{
    if (!ond_arith_dtype(a->dtype))
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "type %s is not supported",
                             ond_dtype_name(a->dtype));
    if (b->dtype != a->dtype)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "inputs are %s and %s",
                             ond_dtype_name(a->dtype), ond_dtype_name(b->dtype));
    out->dtype = a->dtype;
    out->data = NULL;
    return ond_broadcast(n, a, b, out, err);
}

/* Element strides of x read at each of out's dims: 0 where x is broadcast. */
static void bcast_strides(const struct ond_info *x, const struct ond_info *out, int64_t *s)
{
    int64_t step = 1;
    for (int i = out->rank - 1; i >= 0; i--) {
        int ix = i - (out->rank - x->rank);
        int64_t d = ix >= 0 ? x->dims[ix] : 1;
        s[i] = d == 1 ? 0 : step;
        step *= d;
    }
}

static bool has_zero(const struct ond_info *b)
{
    uint64_t numel = 0;
    ond_numel(b, 0, &numel);
    size_t es = ond_dtype_size(b->dtype);
    static const uint8_t zero[8];
    for (uint64_t i = 0; i < numel; i++)
        if (memcmp((const uint8_t *)b->data + i * es, zero, es) == 0)
            return true;
    return false;
}

enum ond_status ond_binary_eval(const struct ond_node *n, enum ond_binop op,
                                const struct ond_info *a, const struct ond_info *b,
                                const struct ond_info *out, void *out_data,
                                struct ond_error *err)
{
    row_fn row = row_for(out->dtype, op);
    uint64_t numel = 0;
    if (!row || !ond_numel(out, 0, &numel))
        return ond_node_fail(err, n, OND_STATUS_INVALID_ARGUMENT, "cannot evaluate %s[rank %d]",
                             ond_dtype_name(out->dtype), out->rank);
    bool is_int = out->dtype != OND_DTYPE_FLOAT && out->dtype != OND_DTYPE_DOUBLE;
    if (op == OND_BIN_DIV && is_int && has_zero(b))
        return ond_node_fail(err, n, OND_STATUS_INVALID_INPUT, "integer division by zero");
    if (numel == 0)
        return OND_OK;
    int r = out->rank;
    int64_t sa[OND_MAX_RANK + 1], sb[OND_MAX_RANK + 1], idx[OND_MAX_RANK] = {0};
    bcast_strides(a, out, sa);
    bcast_strides(b, out, sb);
    int64_t inner = r ? out->dims[r - 1] : 1;
    int64_t sa_in = r ? sa[r - 1] : 0, sb_in = r ? sb[r - 1] : 0, oa = 0, ob = 0;
    size_t es = ond_dtype_size(out->dtype);
    const char *pa = a->data, *pb = b->data;
    char *po = out_data;
    for (uint64_t at = 0; at < numel; at += (uint64_t)inner) {
        row(po + at * es, pa + (size_t)oa * es, sa_in, pb + (size_t)ob * es, sb_in, inner);
        for (int d = r - 2; d >= 0; d--) {
            oa += sa[d];
            ob += sb[d];
            if (++idx[d] < out->dims[d])
                break;
            oa -= sa[d] * out->dims[d];
            ob -= sb[d] * out->dims[d];
            idx[d] = 0;
        }
    }
    return OND_OK;
}

enum ond_status ond_unary_float_eval(const struct ond_node *n, const struct ond_info *const *in,
                                     void *const *out_data, float (*f)(float, const void *))
{
    uint64_t numel = 0;
    ond_numel(in[0], 0, &numel);
    const float *x = in[0]->data;
    float *y = out_data[0];
    for (uint64_t i = 0; i < numel; i++)
        y[i] = f(x[i], n->params);
    return OND_OK;
}

enum ond_status ond_copy_eval(const struct ond_node *n, const struct ond_info *const *in,
                              const struct ond_info *out, void *const *out_data,
                              struct ond_error *err)
{
    uint64_t numel = 0;
    if (!ond_numel(&out[0], 0, &numel))
        return ond_node_fail(err, n, OND_STATUS_INVALID_ARGUMENT, "output shape is not known");
    if (numel)
        memcpy(out_data[0], in[0]->data, (size_t)numel * ond_dtype_size(out[0].dtype));
    return OND_OK;
}

enum ond_status ond_arith_legacy_parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct ond_arith_legacy *p = params;
    enum ond_status st;
    if ((st = ond_attr_int(n, "broadcast", 0, &p->broadcast, err)) ||
        (st = ond_attr_int(n, "axis", 0, &p->axis, err)))
        return st;
    p->has_axis = ond_node_attr(n, "axis") != NULL;
    if (p->broadcast != 0 && p->broadcast != 1)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "attribute 'broadcast' must be 0 or 1, got %lld",
                             (long long)p->broadcast);
    return OND_OK;
}

/* B of the legacy form, reshaped to A's rank so the numpy loop computes it. */
static enum ond_status legacy_b(const struct ond_node *n, const struct ond_info *a,
                                const struct ond_info *b, struct ond_info *pb,
                                struct ond_error *err)
{
    const struct ond_arith_legacy *p = n->params;
    *pb = *b;
    if (a->rank < 0 || b->rank < 0)
        return OND_OK;
    int axis = a->rank - b->rank;
    enum ond_status st;
    if (!p->broadcast) {
        if (b->rank != a->rank)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "A has rank %d and B rank %d, and 'broadcast' is 0", a->rank,
                                 b->rank);
    } else if (p->has_axis && (st = ond_axis(n, p->axis, a->rank, &axis, err))) {
        return st;
    }
    if (axis < 0 || axis + b->rank > a->rank)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "B of rank %d does not fit A of rank %d at axis %d", b->rank,
                             a->rank, axis);
    pb->rank = a->rank;
    for (int i = 0; i < a->rank; i++)
        pb->dims[i] = i >= axis && i < axis + b->rank ? b->dims[i - axis] : 1;
    for (int i = 0; i < a->rank; i++) {
        int64_t da = a->dims[i], db = pb->dims[i];
        if (da != db && (!p->broadcast || db != 1) && da >= 0 && db >= 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "B's dim %d (%lld) does not match A's (%lld) with 'broadcast' "
                                 "%lld", i - axis, (long long)db, (long long)da,
                                 (long long)p->broadcast);
    }
    return OND_OK;
}

enum ond_status ond_arith_infer(const struct ond_node *n, const struct ond_info *const *in,
                                struct ond_info *out, struct ond_error *err)
{
    if (!n->params)
        return ond_binary_infer(n, in[0], in[1], out, err);
    struct ond_info pb;
    enum ond_status st = legacy_b(n, in[0], in[1], &pb, err);
    if (st || (st = ond_binary_infer(n, in[0], &pb, out, err)))
        return st;
    *out = *in[0];
    out->data = NULL;
    return OND_OK;
}

enum ond_status ond_arith_eval(const struct ond_node *n, enum ond_binop op,
                               const struct ond_info *const *in, const struct ond_info *out,
                               void *const *out_data, struct ond_error *err)
{
    struct ond_info pb = *in[1];
    enum ond_status st = n->params ? legacy_b(n, in[0], in[1], &pb, err) : OND_OK;
    return st ? st : ond_binary_eval(n, op, in[0], &pb, &out[0], out_data[0], err);
}
