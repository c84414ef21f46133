/* eltwise_util.c: the loops the elementwise ops share: one numpy-broadcasting binary
 * loop (Add, Sub, Mul, Div, Sum), one float unary loop (the activations), one copy
 * (Identity, Dropout). Integer arithmetic wraps like ONNX runtimes do, so it is computed in
 * the unsigned type of the same width (signed overflow is undefined in C). In sessions, float
 * Add/Sub/Mul/Div run as one oneDNN binary primitive (ond_arith_prepare). */
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"
#include "runtime/tune.h"

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
    if (op > OND_BIN_DIV)
        return NULL;
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

void ond_bcast_runs(const struct ond_info *out, int nx, const struct ond_info *const *x,
                    ond_run_fn run, void *ctx)
{
    uint64_t numel = 0;
    if (!ond_numel(out, 0, &numel) || numel == 0)
        return;
    int r = out->rank;
    int64_t s[OND_BCAST_MAX_IN][OND_MAX_RANK], off[OND_BCAST_MAX_IN] = {0},
        step[OND_BCAST_MAX_IN], idx[OND_MAX_RANK] = {0};
    for (int k = 0; k < nx; k++) {
        bcast_strides(x[k], out, s[k]);
        step[k] = r ? s[k][r - 1] : 0;
    }
    int64_t inner = r ? out->dims[r - 1] : 1;
    for (uint64_t at = 0; at < numel; at += (uint64_t)inner) {
        run(ctx, at, off, step, inner);
        for (int d = r - 2; d >= 0; d--) {
            int carry = ++idx[d] >= out->dims[d];
            for (int k = 0; k < nx; k++)
                off[k] += carry ? -s[k][d] * (out->dims[d] - 1) : s[k][d];
            if (!carry)
                break;
            idx[d] = 0;
        }
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

struct binary_run {
    row_fn row;
    size_t es;
    const char *a, *b;
    char *o;
};

static void binary_run(void *ctx, uint64_t o, const int64_t *off, const int64_t *step, int64_t n)
{
    const struct binary_run *c = ctx;
    c->row(c->o + o * c->es, c->a + (size_t)off[0] * c->es, step[0],
           c->b + (size_t)off[1] * c->es, step[1], n);
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
    struct binary_run c = {row, ond_dtype_size(out->dtype), a->data, b->data, out_data};
    const struct ond_info *x[2] = {a, b};
    ond_bcast_runs(out, 2, x, binary_run, &c);
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

enum ond_status ond_arith_legacy_b(const struct ond_node *n, const struct ond_info *a,
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
    enum ond_status st = ond_arith_legacy_b(n, in[0], in[1], &pb, err);
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
    enum ond_status st = n->params ? ond_arith_legacy_b(n, in[0], in[1], &pb, err) : OND_OK;
    return st ? st : ond_binary_eval(n, op, in[0], &pb, &out[0], out_data[0], err);
}

/* x's dims at rank r: leading 1s added (numpy's alignment). */
static void pad_rank(struct ond_info *x, int r)
{
    int add = r - x->rank;
    memmove(x->dims + add, x->dims, sizeof(int64_t) * (size_t)x->rank);
    for (int i = 0; i < add; i++)
        x->dims[i] = 1;
    x->rank = r;
}

static bool same_shape(const struct ond_info *a, const struct ond_info *b)
{
    return a->rank == b->rank &&
           memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) == 0;
}

/* Operand k of a binary primitive (SRC_0 or SRC_1) seen with dims x, in layout `as` when
 * given (an activation as it arrives, or the layout of the other operand), else plain (a
 * view when an activation's rank differs); constants are memory in that layout. */
static enum ond_status binary_operand(struct ond_prep *p, int k, const struct ond_info *x,
                                      const dnnl_memory_desc_t *as, int dnnl_arg,
                                      dnnl_memory_desc_t *md, struct ond_error *err)
{
    int r = x->rank ? x->rank : 1;
    static const int64_t one = 1;
    enum ond_status st = ond_md_float(r, x->rank ? x->dims : &one, true, md, err);
    if (st)
        return st;
    if (as)
        *md = *as;
    if (!p->in_md[k]) {
        int m;
        if (!(st = ond_prep_const(p, k, md, &m, err)))
            ond_prep_arg(p, dnnl_arg, OND_ARG_MEM, m);
        return st;
    }
    if (!dnnl_memory_desc_equal(md, p->in_md[k]))
        p->want_md[k] = *md;
    ond_prep_arg(p, dnnl_arg, OND_ARG_IN, k);
    return OND_OK;
}

/* Whether oneDNN has a kernel other than its reference one for the binary alg over the
 * blocked layout as0 (the full-shaped operand as it arrives) and the other operand (x1, in as0
 * too when full) plain. RegNet-Y's squeeze-and-excitation Mul read its grouped conv's aBcd8b
 * output with ref:any, 10x slower than a reorder to nhwc and the jit kernel there. */
static bool blocked_has_kernel(const struct ond_prep *p, dnnl_alg_kind_t alg,
                               const dnnl_memory_desc_t *as0, const struct ond_info *x1,
                               bool full1)
{
    dnnl_memory_desc_t src1, dst;
    dnnl_binary_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    if (full1)
        src1 = *as0;
    else if (ond_md_float(x1->rank, x1->dims, true, &src1, NULL))
        return true;
    if (dnnl_memory_desc_init_by_tag(&dst, as0->ndims, as0->dims, as0->data_type,
                                     dnnl_format_tag_any) != dnnl_success ||
        dnnl_binary_desc_init(&desc, alg, as0, &src1, &dst) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &desc, NULL, p->engine, NULL) != dnnl_success)
        return true; /* decided when the primitive is made */
    bool jit = !ond_pd_is_reference(pd);
    dnnl_primitive_desc_destroy(pd);
    return jit;
}

enum ond_status ond_arith_prepare(struct ond_prep *p, enum ond_binop op, struct ond_error *err)
{
    static const dnnl_alg_kind_t algs[] = {dnnl_binary_add, dnnl_binary_sub, dnnl_binary_mul,
                                           dnnl_binary_div, dnnl_binary_max, dnnl_binary_min};
    const struct ond_node *n = p->node;
    const struct ond_info *y = &p->out[0];
    if (y->dtype != OND_DTYPE_FLOAT)
        return ond_prep_decline(p, "%s operands", ond_dtype_name(y->dtype));
    /* Both operands at the output's rank, B where the legacy rules or numpy place it. */
    struct ond_info x[2] = {*p->in[0], *p->in[1]};
    enum ond_status st = n->params ? ond_arith_legacy_b(n, p->in[0], p->in[1], &x[1], err) : OND_OK;
    if (st)
        return st;
    pad_rank(&x[0], y->rank);
    pad_rank(&x[1], y->rank);
    /* oneDNN broadcasts SRC_1 only: the full-shaped operand goes first. */
    int k0 = 0;
    if (!same_shape(&x[0], y)) {
        if (!same_shape(&x[1], y) || op == OND_BIN_SUB || op == OND_BIN_DIV)
            return ond_prep_decline(p, "the first operand is broadcast");
        k0 = 1;
    }
    int k1 = 1 - k0;
    /* Two operands of the output's shape share one layout and type: a blocked one if either
     * activation is; a constant takes the activation's. oneDNN 2.6's binary kernel (jit:uni)
     * reads a full-shaped SRC_1 in another layout and type (plain f32 beside a blocked bf16
     * SRC_0) through a vector register it never sets: the result depended on what the
     * calling thread ran before (graph fuzzer, finding E; tests/test_ops_bf16.c). An
     * activation of another rank is read as a plain view, so SRC_0 is plain too. */
    bool full1 = same_shape(&x[k1], y);
    bool shaped0 = !p->in_md[k0] || p->in[k0]->rank == y->rank;
    bool shaped1 = full1 && (!p->in_md[k1] || p->in[k1]->rank == y->rank);
    const dnnl_memory_desc_t *as0 = shaped0 && (shaped1 || !full1) ? p->in_md[k0] : NULL;
    if (shaped0 && shaped1 && p->in_md[k1] &&
        (!as0 || (ond_md_is_plain(as0) && !ond_md_is_plain(p->in_md[k1]))))
        as0 = p->in_md[k1];
    dnnl_memory_desc_t nhwc;
    if (as0 && !ond_md_is_plain(as0) && !blocked_has_kernel(p, algs[op], as0, &x[k1], shaped1) &&
        y->rank == 4 && !ond_tune_md(y, as0->data_type, OND_TUNE_NHWC, &nhwc, NULL))
        as0 = &nhwc;
    const dnnl_memory_desc_t *as1 = shaped1 ? as0 : NULL;
    dnnl_memory_desc_t src0, src1, dst;
    if ((st = binary_operand(p, k0, &x[k0], as0, DNNL_ARG_SRC_0, &src0, err)) ||
        (st = binary_operand(p, k1, &x[k1], as1, DNNL_ARG_SRC_1, &src1, err)) ||
        (st = ond_md_any(y, src0.data_type, &dst, err)))
        return st;
    dnnl_binary_desc_t desc;
    OND_DNNL(dnnl_binary_desc_init(&desc, algs[op], &src0, &src1, &dst), n, err);
    dnnl_primitive_desc_t pd;
    if ((st = ond_prep_pd(p, &desc, &pd, err)) || !pd)
        return st;
    /* oneDNN 2.6 broadcasts SRC_1 over the last dim only in its reference kernel (ConvNeXt's
     * decomposed LayerNorm: x - mean and (x - mean) / std over [1,56,56,96] by [1,56,56,1]):
     * 13 ms a step, 83% of the model's time; the eval's broadcasting loops take 0.3 ms. */
    if (ond_pd_is_reference(pd)) {
        dnnl_primitive_desc_destroy(pd);
        return ond_prep_decline(p, "oneDNN has only its reference kernel for this broadcast");
    }
    p->out_md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}

/* ---- the elementwise family of issue 15: float activations, comparisons, Min/Max ---- */

static bool num_type(enum ond_unary_num num, int32_t dt)
{
    switch (dt) {
    case OND_DTYPE_DOUBLE: case OND_DTYPE_INT8: case OND_DTYPE_INT16: case OND_DTYPE_INT32:
    case OND_DTYPE_INT64:
        return num != OND_NUM_NONE;
    case OND_DTYPE_UINT8: case OND_DTYPE_UINT16: case OND_DTYPE_UINT32: case OND_DTYPE_UINT64:
        return num == OND_NUM_ABS || num == OND_NUM_SIGN;
    }
    return false;
}

enum ond_status ond_unary_infer(const struct ond_node *n, const struct ond_info *const *in,
                                struct ond_info *out, struct ond_error *err)
{
    const struct ond_unary *u = n->params;
    if (!num_type(u->num, in[0]->dtype))
        return ond_infer_same(n, in, out, err);
    out[0] = *in[0];
    out[0].data = NULL;
    return OND_OK;
}

/* Neg, Abs, Sign of signed T (U: its unsigned twin, so negation wraps) or double. */
#define SIGNED_NUM(T, U)                                                                \
    do {                                                                              \
        const T *x = xv;                                                              \
        T *y = yv;                                                                    \
        for (uint64_t i = 0; i < numel; i++) {                                        \
            T v = x[i], neg = (T)((U)0 - (U)v);                                       \
            y[i] = num == OND_NUM_NEG ? neg : num == OND_NUM_ABS ? (v < 0 ? neg : v)  \
                   : v > 0 ? (T)1 : v < 0 ? (T)-1 : v;                                \
        }                                                                             \
    } while (0)

/* Abs (the value) and Sign (0 or 1) of unsigned T. */
#define UNSIGNED_NUM(T)                                                  \
    do {                                                                 \
        const T *x = xv;                                                 \
        T *y = yv;                                                       \
        for (uint64_t i = 0; i < numel; i++)                             \
            y[i] = num == OND_NUM_ABS ? x[i] : (T)(x[i] != 0);           \
    } while (0)

static void num_eval(enum ond_unary_num num, int32_t dt, const void *xv, void *yv,
                     uint64_t numel)
{
    switch (dt) {
    case OND_DTYPE_DOUBLE: SIGNED_NUM(double, double); break;
    case OND_DTYPE_INT8: SIGNED_NUM(int8_t, uint8_t); break;
    case OND_DTYPE_INT16: SIGNED_NUM(int16_t, uint16_t); break;
    case OND_DTYPE_INT32: SIGNED_NUM(int32_t, uint32_t); break;
    case OND_DTYPE_INT64: SIGNED_NUM(int64_t, uint64_t); break;
    case OND_DTYPE_UINT8: UNSIGNED_NUM(uint8_t); break;
    case OND_DTYPE_UINT16: UNSIGNED_NUM(uint16_t); break;
    case OND_DTYPE_UINT32: UNSIGNED_NUM(uint32_t); break;
    case OND_DTYPE_UINT64: UNSIGNED_NUM(uint64_t); break;
    }
}

enum ond_status ond_unary_eval(const struct ond_node *n, const struct ond_info *const *in,
                               const struct ond_info *out, void *const *out_data,
                               struct ond_error *err)
{
    (void)err;
    const struct ond_unary *u = n->params;
    if (in[0]->dtype == OND_DTYPE_FLOAT)
        return ond_unary_float_eval(n, in, out_data, u->f);
    uint64_t numel = 0;
    ond_numel(&out[0], 0, &numel);
    num_eval(u->num, in[0]->dtype, in[0]->data, out_data[0], numel);
    return OND_OK;
}

enum ond_status ond_unary_prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_unary *u = p->node->params;
    return ond_prep_eltwise(p, (dnnl_alg_kind_t)u->alg, u->alpha, u->beta, err);
}

bool ond_num_dtype(int32_t dt)
{
    switch (dt) {
    case OND_DTYPE_FLOAT: case OND_DTYPE_DOUBLE: case OND_DTYPE_FLOAT16:
    case OND_DTYPE_BFLOAT16: case OND_DTYPE_INT8: case OND_DTYPE_INT16: case OND_DTYPE_INT32:
    case OND_DTYPE_INT64: case OND_DTYPE_UINT8: case OND_DTYPE_UINT16: case OND_DTYPE_UINT32:
    case OND_DTYPE_UINT64: case OND_DTYPE_BOOL:
        return true;
    }
    return false;
}

#define CMP3(T)                                                 \
    do {                                                        \
        T x_, y_;                                               \
        memcpy(&x_, a, sizeof x_);                              \
        memcpy(&y_, b, sizeof y_);                              \
        return x_ < y_ ? -1 : x_ > y_ ? 1 : x_ == y_ ? 0 : 2;   \
    } while (0)

int ond_num_cmp(const void *a, const void *b, int32_t dt)
{
    switch (dt) {
    case OND_DTYPE_FLOAT: CMP3(float);
    case OND_DTYPE_DOUBLE: CMP3(double);
    case OND_DTYPE_INT8: CMP3(int8_t);
    case OND_DTYPE_INT16: CMP3(int16_t);
    case OND_DTYPE_INT32: CMP3(int32_t);
    case OND_DTYPE_INT64: CMP3(int64_t);
    case OND_DTYPE_UINT8: case OND_DTYPE_BOOL: CMP3(uint8_t);
    case OND_DTYPE_UINT16: CMP3(uint16_t);
    case OND_DTYPE_UINT32: CMP3(uint32_t);
    case OND_DTYPE_UINT64: CMP3(uint64_t);
    }
    float fa, fb;   /* float16, bfloat16: exact in float */
    ond_convert(a, dt, &fa, OND_DTYPE_FLOAT, 1);
    ond_convert(b, dt, &fb, OND_DTYPE_FLOAT, 1);
    return fa < fb ? -1 : fa > fb ? 1 : fa == fb ? 0 : 2;
}

double ond_num_double(const void *p, int32_t dt)
{
#define AS(T)                 \
    do {                      \
        T v_;                 \
        memcpy(&v_, p, sizeof v_); \
        return (double)v_;    \
    } while (0)
    switch (dt) {
    case OND_DTYPE_INT16: AS(int16_t);
    case OND_DTYPE_UINT16: AS(uint16_t);
    case OND_DTYPE_UINT32: AS(uint32_t);
    case OND_DTYPE_UINT64: AS(uint64_t);
    }
#undef AS
    double d;
    ond_convert(p, dt, &d, OND_DTYPE_DOUBLE, 1);
    return d;
}

static enum ond_status predicate_infer(const struct ond_node *n, const struct ond_info *const *in,
                                       struct ond_info *out, bool bool_only,
                                       struct ond_error *err)
{
    int32_t dt = in[0]->dtype;
    if (bool_only ? dt != OND_DTYPE_BOOL : !ond_num_dtype(dt))
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "type %s is not supported%s",
                             ond_dtype_name(dt), bool_only ? " (bool only)" : "");
    if (in[1]->dtype != dt)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "inputs are %s and %s",
                             ond_dtype_name(dt), ond_dtype_name(in[1]->dtype));
    struct ond_info pb = *in[1];
    enum ond_status st = n->params ? ond_arith_legacy_b(n, in[0], in[1], &pb, err) : OND_OK;
    if (st || (st = ond_broadcast(n, in[0], &pb, &out[0], err)))
        return st;
    out[0].dtype = OND_DTYPE_BOOL;
    out[0].data = NULL;
    return OND_OK;
}

enum ond_status ond_compare_infer(const struct ond_node *n, const struct ond_info *const *in,
                                  struct ond_info *out, struct ond_error *err)
{
    return predicate_infer(n, in, out, false, err);
}

enum ond_status ond_logical_infer(const struct ond_node *n, const struct ond_info *const *in,
                                  struct ond_info *out, struct ond_error *err)
{
    return predicate_infer(n, in, out, true, err);
}

struct pred_run {
    ond_pred_fn pred;
    int32_t dt;
    size_t es;
    const char *a, *b;
    uint8_t *o;
};

static void pred_run(void *ctx, uint64_t o, const int64_t *off, const int64_t *step, int64_t n)
{
    const struct pred_run *c = ctx;
    for (int64_t j = 0; j < n; j++)
        c->o[o + (uint64_t)j] = c->pred(c->a + (size_t)(off[0] + j * step[0]) * c->es,
                                        c->b + (size_t)(off[1] + j * step[1]) * c->es, c->dt);
}

enum ond_status ond_predicate_eval(const struct ond_node *n, const struct ond_info *const *in,
                                   const struct ond_info *out, void *const *out_data,
                                   ond_pred_fn pred, struct ond_error *err)
{
    struct ond_info pb = *in[1];
    enum ond_status st = n->params ? ond_arith_legacy_b(n, in[0], in[1], &pb, err) : OND_OK;
    if (st)
        return st;
    const struct ond_info *x[2] = {in[0], &pb};
    struct pred_run c = {pred, in[0]->dtype, ond_dtype_size(in[0]->dtype), in[0]->data,
                         pb.data, out_data[0]};
    ond_bcast_runs(&out[0], 2, x, pred_run, &c);
    return OND_OK;
}

enum ond_status ond_variadic_infer(const struct ond_node *n, const struct ond_info *const *in,
                                   struct ond_info *out, bool (*dtype_ok)(int32_t),
                                   struct ond_error *err)
{
    int32_t dt = in[0]->dtype;
    if (!dtype_ok(dt))
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "type %s is not supported",
                             ond_dtype_name(dt));
    out[0] = *in[0];
    out[0].data = NULL;
    for (int k = 1; k < n->n_in; k++) {
        if (!in[k])
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input %d is empty", k);
        if (in[k]->dtype != dt)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "inputs 0 and %d are %s "
                                 "and %s", k, ond_dtype_name(dt), ond_dtype_name(in[k]->dtype));
        struct ond_info acc = out[0];
        enum ond_status st = ond_broadcast(n, &acc, in[k], &out[0], err);
        if (st)
            return st;
    }
    return OND_OK;
}

/* o = x broadcast (nx 1), or the larger (sign 1) or smaller (-1) of o and x (nx 2), a NaN
 * winning as numpy.maximum and minimum let it. */
struct pick_run {
    int32_t dt;
    int sign;
    size_t es;
    const char *x;
    char *o;
};

static void pick_run(void *ctx, uint64_t o, const int64_t *off, const int64_t *step, int64_t n)
{
    const struct pick_run *c = ctx;
    for (int64_t j = 0; j < n; j++) {
        char *y = c->o + (o + (uint64_t)j) * c->es;
        const char *x = c->x + (size_t)(off[1] + j * step[1]) * c->es;
        int r = c->sign ? ond_num_cmp(x, y, c->dt) : c->sign;
        if (r == c->sign || (r == 2 && ond_num_cmp(x, x, c->dt) == 2))
            memcpy(y, x, c->es);
    }
}

enum ond_status ond_minmax_eval(const struct ond_node *n, const struct ond_info *const *in,
                                const struct ond_info *out, void *const *out_data, int sign)
{
    struct ond_info acc = out[0];
    acc.data = out_data[0];
    for (int k = 0; k < n->n_in; k++) {
        const struct ond_info *x[2] = {&acc, in[k]};
        struct pick_run c = {out[0].dtype, k ? sign : 0, ond_dtype_size(out[0].dtype),
                             in[k]->data, out_data[0]};
        ond_bcast_runs(&out[0], 2, x, pick_run, &c);
    }
    return OND_OK;
}
