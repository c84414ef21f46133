/* test_ops_b.c: group B ops (activations, elementwise arithmetic, Softmax, Dropout,
 * Identity): shapes, symbolic batch, values through the reference interpreter, and one
 * rejected model per op. Expected values are worked out by hand or from the ONNX spec. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "runtime/reference.h"
#include "tests/util.h"

#define F OND_DTYPE_FLOAT
#define MAX_OUT 4

struct run {
    struct ond_graph *g;
    int n_out;
    struct ond_value out[MAX_OUT];
};

static const int64_t D1[] = {1}, D2[] = {2}, D3[] = {3}, D4[] = {4}, D6[] = {6};
static const int64_t D23[] = {2, 3}, D22[] = {2, 2}, D222[] = {2, 2, 2}, D232[] = {2, 3, 2};
static const int64_t DN3[] = {-1, 3}, D13[] = {1, 3};

/* Runs g (taking ownership) on n_in inputs. */
static void run(struct run *r, struct ond_graph *g, const struct ond_value *in, size_t n_in)
{
    struct ond_error err = {0};
    r->g = g;
    r->n_out = g->n_outputs;
    assert_true(r->n_out <= MAX_OUT);
    enum ond_status st = ond_reference_run(g, in, n_in, r->out, NULL, NULL, &err);
    if (st)
        print_error("run: %s\n", err.message);
    assert_int_equal(st, OND_OK);
}

static void run_done(struct run *r)
{
    for (int i = 0; i < r->n_out; i++) {
        free((void *)r->out[i].name);
        free(r->out[i].data);
    }
    ond_graph_free(r->g);
}

static void assert_shape(const struct ond_value *v, int32_t dtype, int rank, const int64_t *dims)
{
    assert_int_equal(v->dtype, dtype);
    assert_int_equal(v->rank, rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(v->dims[i], dims[i]);
}

/* One-node model y = op(x) of a float [rank, dims] input. */
static struct tm *unary(int64_t opset, const char *op, int rank, const int64_t *dims,
                        Onnx__NodeProto **node)
{
    struct tm *m = tm_new(8, opset);
    tm_input(m, "x", F, rank, dims);
    tm_output(m, "y");
    *node = tm_node(m, op, "n", "x", "y");
    return m;
}

/* Runs a float unary model on x (n values, shape [n]) and checks y. */
static void check_unary(struct tm *m, const float *x, const float *want, int64_t n, float atol)
{
    struct run r;
    struct ond_value in = ond_test_value("x", F, 1, &n, x);
    run(&r, tm_load_ok(m), &in, 1);
    assert_shape(&r.out[0], F, 1, &n);
    assert_close(r.out[0].data, want, (size_t)n, 1e-6f, atol);
    run_done(&r);
}

/* ---- activations ---- */

static void test_relu(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    static const float x[] = {-2, -0.5f, 0, 0.5f, 3, -1e30f};
    static const float want[] = {0, 0, 0, 0.5f, 3, 0};
    check_unary(unary(14, "Relu", 1, D6, &n), x, want, 6, 0);

    /* Symbolic batch carried to the output. */
    struct ond_graph *g = tm_load_ok(unary(6, "Relu", 2, DN3, &n));
    const struct ond_info *yi = &g->outputs[0]->info;
    assert_int_equal(yi->rank, 2);
    assert_true(yi->dims[0] <= -2);
    assert_int_equal(yi->dims[0], g->inputs[0]->info.dims[0]);
    assert_int_equal(yi->dims[1], 3);
    ond_graph_free(g);

    struct tm *m = tm_new(8, 14);
    tm_input(m, "x", OND_DTYPE_INT32, 1, D3);
    tm_output(m, "y");
    tm_node(m, "Relu", "r", "x", "y");
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "node 'r' (Relu): input 0 is int32");
}

static void test_leakyrelu(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    static const float x[] = {-10, -1, 0, 2};
    static const float want_01[] = {-1, -0.1f, 0, 2}, want_default[] = {-0.1f, -0.01f, 0, 2};
    struct tm *m = unary(16, "LeakyRelu", 1, D4, &n);
    tm_attr_float(m, n, "alpha", 0.1f);
    check_unary(m, x, want_01, 4, 1e-7f);
    check_unary(unary(6, "LeakyRelu", 1, D4, &n), x, want_default, 4, 1e-7f);

    m = unary(16, "LeakyRelu", 1, D4, &n);
    tm_attr_int(m, n, "alpha", 1);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL,
               "node 'n' (LeakyRelu): attribute 'alpha' must be FLOAT");
}

static void test_sigmoid(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    /* 1 / (1 + e^-1) = 0.7310586; far tails saturate without NaN. */
    static const float x[] = {0, 1, -1, 100, -100};
    static const float want[] = {0.5f, 0.7310586f, 0.2689414f, 1, 0};
    check_unary(unary(13, "Sigmoid", 1, (const int64_t[]){5}, &n), x, want, 5, 1e-6f);

    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", OND_DTYPE_DOUBLE, 1, D3);
    tm_output(m, "y");
    tm_node(m, "Sigmoid", "s", "x", "y");
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "input 0 is double");
}

static void test_hardsigmoid(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    /* Defaults alpha 0.2, beta 0.5: 0.2 * 1 + 0.5 = 0.7; saturates at -2.5 and 2.5. */
    static const float x[] = {-3, 0, 1, 3};
    static const float want[] = {0, 0.5f, 0.7f, 1};
    check_unary(unary(6, "HardSigmoid", 1, D4, &n), x, want, 4, 1e-6f);
    /* alpha 0.5, beta 0.6: 0.5 * -1 + 0.6 = 0.1. */
    static const float want_ab[] = {0, 0.6f, 1, 1}, x2[] = {-3, 0, 1, 3};
    struct tm *m = unary(6, "HardSigmoid", 1, D4, &n);
    tm_attr_float(m, n, "alpha", 0.5f);
    tm_attr_float(m, n, "beta", 0.6f);
    check_unary(m, x2, want_ab, 4, 1e-6f);

    m = unary(6, "HardSigmoid", 1, D4, &n);
    tm_attr_string(m, n, "beta", "half");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "attribute 'beta' must be FLOAT, got STRING");
}

static void test_hardswish(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    /* x * clamp(x / 6 + 0.5, 0, 1): -1 -> -1/3, 1 -> 2/3. */
    static const float x[] = {-4, -1, 0, 1, 4};
    static const float want[] = {0, -0.3333333f, 0, 0.6666667f, 4};
    check_unary(unary(14, "HardSwish", 1, (const int64_t[]){5}, &n), x, want, 5, 1e-6f);

    tm_load_fails(unary(13, "HardSwish", 1, D3, &n), OND_STATUS_UNSUPPORTED, "HardSwish-13");
}

static void test_clip(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    static const float x[] = {-5, -1, 0, 1, 5, -FLT_MAX};
    /* Opset 6: attributes. */
    static const float want_attr[] = {-2, -1, 0, 1, 2, -2};
    struct tm *m = unary(6, "Clip", 1, D6, &n);
    tm_attr_float(m, n, "min", -2);
    tm_attr_float(m, n, "max", 2);
    check_unary(m, x, want_attr, 6, 0);
    /* Opset 6, only max: min defaults to -FLT_MAX. */
    static const float want_max[] = {-5, -1, 0, 0.5f, 0.5f, -FLT_MAX};
    m = unary(6, "Clip", 1, D6, &n);
    tm_attr_float(m, n, "max", 0.5f);
    check_unary(m, x, want_max, 6, 0);
    /* Opset 13: scalar min and max inputs (constant), ReLU6 style. */
    static const float lo = 0, hi = 6;
    static const float want_relu6[] = {0, 0, 0, 1, 5, 0};
    m = tm_new(8, 13);
    tm_input(m, "x", F, 1, D6);
    tm_init(m, "lo", F, 0, NULL, &lo);
    tm_init(m, "hi", F, 0, NULL, &hi);
    tm_output(m, "y");
    tm_node(m, "Clip", "c", "x,lo,hi", "y");
    check_unary(m, x, want_relu6, 6, 0);

    /* int64, max only (min omitted); min above max gives max. */
    struct run r;
    static const int64_t xi[] = {-7, 3, 9}, mx = 4, want_i[] = {-7, 3, 4};
    m = tm_new(8, 13);
    tm_input(m, "x", OND_DTYPE_INT64, 1, D3);
    tm_init(m, "mx", OND_DTYPE_INT64, 0, NULL, &mx);
    tm_output(m, "y");
    tm_node(m, "Clip", "c", "x,,mx", "y");
    struct ond_value in = ond_test_value("x", OND_DTYPE_INT64, 1, D3, xi);
    run(&r, tm_load_ok(m), &in, 1);
    assert_shape(&r.out[0], OND_DTYPE_INT64, 1, D3);
    assert_memory_equal(r.out[0].data, want_i, sizeof want_i);
    run_done(&r);
    static const float l5 = 5, h1 = 1, want_swap[] = {1, 1, 1, 1, 1, 1};
    m = tm_new(8, 13);
    tm_input(m, "x", F, 1, D6);
    tm_init(m, "lo", F, 0, NULL, &l5);
    tm_init(m, "hi", F, 0, NULL, &h1);
    tm_output(m, "y");
    tm_node(m, "Clip", "c", "x,lo,hi", "y");
    check_unary(m, x, want_swap, 6, 0);

    static const float two[2] = {0, 1};
    m = tm_new(8, 13);
    tm_input(m, "x", F, 1, D6);
    tm_init(m, "lo", F, 1, D2, two);
    tm_output(m, "y");
    tm_node(m, "Clip", "c", "x,lo", "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "node 'c' (Clip): min must be a scalar");
}

/* ---- arithmetic ---- */

/* z = op(a, b) over two inputs of the given types and shapes. */
static struct tm *binary(int64_t opset, const char *op, int32_t dtype, int ra,
                         const int64_t *da, int rb, const int64_t *db, Onnx__NodeProto **node)
{
    struct tm *m = tm_new(8, opset);
    tm_input(m, "a", dtype, ra, da);
    tm_input(m, "b", dtype, rb, db);
    tm_output(m, "z");
    *node = tm_node(m, op, "n", "a,b", "z");
    return m;
}

static void run2(struct run *r, struct tm *m, int32_t dtype, int ra, const int64_t *da,
                 const void *a, int rb, const int64_t *db, const void *b)
{
    struct ond_value in[2] = {ond_test_value("a", dtype, ra, da, a), ond_test_value("b", dtype, rb, db, b)};
    run(r, tm_load_ok(m), in, 2);
}

static void test_add(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    struct run r;
    /* [2,3] + [3]: the row is added to each row. */
    static const float a[] = {1, 2, 3, 4, 5, 6}, b[] = {10, 20, 30};
    static const float want[] = {11, 22, 33, 14, 25, 36};
    run2(&r, binary(14, "Add", F, 2, D23, 1, D3, &n), F, 2, D23, a, 1, D3, b);
    assert_shape(&r.out[0], F, 2, D23);
    assert_close(r.out[0].data, want, 6, 0, 0);
    run_done(&r);

    /* [2,1] + [1,3] broadcasts both ways to [2,3]. */
    static const float c[] = {1, 2}, d[] = {10, 20, 30};
    static const float want_cd[] = {11, 21, 31, 12, 22, 32};
    static const int64_t D21[] = {2, 1};
    run2(&r, binary(7, "Add", F, 2, D21, 2, D13, &n), F, 2, D21, c, 2, D13, d);
    assert_shape(&r.out[0], F, 2, D23);
    assert_close(r.out[0].data, want_cd, 6, 0, 0);
    run_done(&r);

    /* Symbolic batch: [N,3] + [1,3] -> [N,3]. */
    struct ond_graph *g = tm_load_ok(binary(14, "Add", F, 2, DN3, 2, D13, &n));
    const struct ond_info *zi = &g->outputs[0]->info;
    assert_int_equal(zi->rank, 2);
    assert_true(zi->dims[0] <= -2);
    assert_int_equal(zi->dims[0], g->inputs[0]->info.dims[0]);
    assert_int_equal(zi->dims[1], 3);
    ond_graph_free(g);

    /* int64 on constants: computed at load (shape arithmetic). */
    static const int64_t s[] = {1, 64, 7, 7}, one = -1, want_s[] = {0, 63, 6, 6};
    struct tm *m = tm_new(8, 14);
    tm_init(m, "s", OND_DTYPE_INT64, 1, D4, s);
    tm_init(m, "one", OND_DTYPE_INT64, 0, NULL, &one);
    tm_output(m, "z");
    tm_node(m, "Add", "n", "s,one", "z");
    g = tm_load_ok(m);
    assert_int_equal(g->outputs[0]->info.dtype, OND_DTYPE_INT64);
    assert_non_null(g->outputs[0]->info.data);
    assert_memory_equal(g->outputs[0]->info.data, want_s, sizeof want_s);
    ond_graph_free(g);

    tm_load_fails(binary(14, "Add", F, 2, D23, 1, D4, &n), OND_STATUS_INVALID_MODEL,
               "node 'n' (Add): cannot broadcast dim 1: 3 vs 4");
    m = tm_new(8, 14);
    tm_input(m, "a", F, 1, D3);
    tm_input(m, "b", OND_DTYPE_DOUBLE, 1, D3);
    tm_output(m, "z");
    tm_node(m, "Add", "n", "a,b", "z");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "inputs are float and double");
}

static void test_sub(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    struct run r;
    /* int32 minus a scalar, wrapping at INT32_MIN like two's complement. */
    static const int32_t a[] = {5, -3, INT32_MIN}, b = 1;
    static const int32_t want[] = {4, -4, INT32_MAX};
    run2(&r, binary(14, "Sub", OND_DTYPE_INT32, 1, D3, 0, NULL, &n), OND_DTYPE_INT32, 1, D3, a,
         0, NULL, &b);
    assert_shape(&r.out[0], OND_DTYPE_INT32, 1, D3);
    assert_memory_equal(r.out[0].data, want, sizeof want);
    run_done(&r);

    /* Legacy (opset 6) with broadcast 1 and no axis: B matches A's trailing dims. */
    static const float fa[] = {1, 2, 3, 4, 5, 6}, fb[] = {1, 2, 3};
    static const float want_f[] = {0, 0, 0, 3, 3, 3};
    struct tm *m = binary(6, "Sub", F, 2, D23, 1, D3, &n);
    tm_attr_int(m, n, "broadcast", 1);
    run2(&r, m, F, 2, D23, fa, 1, D3, fb);
    assert_shape(&r.out[0], F, 2, D23);
    assert_close(r.out[0].data, want_f, 6, 0, 0);
    run_done(&r);

    /* Legacy without broadcast: shapes must match. */
    tm_load_fails(binary(6, "Sub", F, 2, D23, 1, D3, &n), OND_STATUS_INVALID_MODEL,
               "'broadcast' is 0");
}

static void test_mul(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    struct run r;
    /* Legacy broadcast along axis 1: A [2,3,2], B [3] scales each channel. */
    static const double a[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b[] = {1, 10, 100};
    static const double want[] = {1, 2, 30, 40, 500, 600, 7, 8, 90, 100, 1100, 1200};
    struct tm *m = binary(6, "Mul", OND_DTYPE_DOUBLE, 3, D232, 1, D3, &n);
    tm_attr_int(m, n, "broadcast", 1);
    tm_attr_int(m, n, "axis", 1);
    run2(&r, m, OND_DTYPE_DOUBLE, 3, D232, a, 1, D3, b);
    assert_shape(&r.out[0], OND_DTYPE_DOUBLE, 3, D232);
    assert_memory_equal(r.out[0].data, want, sizeof want);
    run_done(&r);

    /* Numpy: [2,2,2] * [2,1,2]. */
    static const float x[] = {1, 2, 3, 4, 5, 6, 7, 8}, y[] = {2, 3, -1, 0};
    static const float want_xy[] = {2, 6, 6, 12, -5, 0, -7, 0};
    static const int64_t D212[] = {2, 1, 2};
    run2(&r, binary(13, "Mul", F, 3, D222, 3, D212, &n), F, 3, D222, x, 3, D212, y);
    assert_shape(&r.out[0], F, 3, D222);
    assert_close(r.out[0].data, want_xy, 8, 0, 0);
    run_done(&r);

    m = binary(6, "Mul", F, 3, D232, 1, D3, &n);
    tm_attr_int(m, n, "broadcast", 1);
    tm_attr_int(m, n, "axis", 2);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "B's dim 0 (3) does not match A's (2)");
    m = binary(6, "Mul", F, 3, D232, 1, D3, &n);
    tm_attr_int(m, n, "broadcast", 2);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "attribute 'broadcast' must be 0 or 1");
}

static void test_div(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    struct run r;
    /* Integer division truncates toward zero. */
    static const int64_t a[] = {7, -7, 7, -7}, b[] = {2, 2, -2, -2}, want[] = {3, -3, -3, 3};
    run2(&r, binary(14, "Div", OND_DTYPE_INT64, 1, D4, 1, D4, &n), OND_DTYPE_INT64, 1, D4, a, 1,
         D4, b);
    assert_memory_equal(r.out[0].data, want, sizeof want);
    run_done(&r);

    static const float fa[] = {1, -3, 0}, fb[] = {4};
    static const float want_f[] = {0.25f, -0.75f, 0};
    run2(&r, binary(7, "Div", F, 1, D3, 1, D1, &n), F, 1, D3, fa, 1, D1, fb);
    assert_shape(&r.out[0], F, 1, D3);
    assert_close(r.out[0].data, want_f, 3, 0, 0);
    run_done(&r);

    static const int32_t ia[] = {1, 2}, ib[] = {1, 0};
    struct ond_value in[2] = {ond_test_value("a", OND_DTYPE_INT32, 1, D2, ia),
                              ond_test_value("b", OND_DTYPE_INT32, 1, D2, ib)};
    struct ond_graph *g = tm_load_ok(binary(14, "Div", OND_DTYPE_INT32, 1, D2, 1, D2, &n));
    struct ond_value out[1];
    struct ond_error err = {0};
    assert_error(ond_reference_run(g, in, 2, out, NULL, NULL, &err), OND_STATUS_INVALID_INPUT,
                 &err, "node 'n' (Div): integer division by zero");
    ond_graph_free(g);

    struct tm *m = tm_new(8, 14);
    tm_input(m, "a", OND_DTYPE_BOOL, 1, D2);
    tm_input(m, "b", OND_DTYPE_BOOL, 1, D2);
    tm_output(m, "z");
    tm_node(m, "Div", "n", "a,b", "z");
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "node 'n' (Div): type bool is not supported");
}

static void test_sum(void **state)
{
    (void)state;
    struct run r;
    /* [2,2] + [2] + [1]. */
    static const float a[] = {1, 2, 3, 4}, b[] = {10, 20}, c[] = {100};
    static const float want[] = {111, 122, 113, 124};
    struct tm *m = tm_new(8, 13);
    tm_input(m, "a", F, 2, D22);
    tm_input(m, "b", F, 1, D2);
    tm_input(m, "c", F, 1, D1);
    tm_output(m, "z");
    tm_node(m, "Sum", "n", "a,b,c", "z");
    struct ond_value in[3] = {ond_test_value("a", F, 2, D22, a), ond_test_value("b", F, 1, D2, b),
                              ond_test_value("c", F, 1, D1, c)};
    run(&r, tm_load_ok(m), in, 3);
    assert_shape(&r.out[0], F, 2, D22);
    assert_close(r.out[0].data, want, 4, 0, 0);
    run_done(&r);

    /* A single input is copied. */
    static const float one[] = {-1.5f};
    m = tm_new(8, 13);
    tm_input(m, "a", F, 1, D1);
    tm_output(m, "z");
    tm_node(m, "Sum", "n", "a", "z");
    in[0] = ond_test_value("a", F, 1, D1, one);
    run(&r, tm_load_ok(m), in, 1);
    assert_shape(&r.out[0], F, 1, D1);
    assert_close(r.out[0].data, one, 1, 0, 0);
    run_done(&r);

    m = tm_new(8, 13);
    tm_input(m, "a", F, 2, DN3);
    tm_input(m, "b", F, 1, D3);
    tm_output(m, "z");
    tm_node(m, "Sum", "n", "a,b", "z");
    struct ond_graph *g = tm_load_ok(m);
    assert_true(g->outputs[0]->info.dims[0] <= -2);
    assert_int_equal(g->outputs[0]->info.dims[1], 3);
    ond_graph_free(g);

    m = tm_new(8, 13);
    tm_input(m, "a", F, 1, D3);
    tm_input(m, "b", OND_DTYPE_INT64, 1, D3);
    tm_output(m, "z");
    tm_node(m, "Sum", "s", "a,b", "z");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "node 's' (Sum): inputs are float and int64");
}

/* ---- Softmax ---- */

static void test_softmax(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    struct run r;
    /* Opset 13, default axis -1: softmax(1,2,3) = e^k / (e + e^2 + e^3). */
    static const float x[] = {1, 2, 3, 0, 0, 0};
    static const float want[] = {0.09003057f, 0.24472847f, 0.66524096f,
                                 1 / 3.0f, 1 / 3.0f, 1 / 3.0f};
    struct ond_value in = ond_test_value("x", F, 2, D23, x);
    run(&r, tm_load_ok(unary(13, "Softmax", 2, D23, &n)), &in, 1);
    assert_shape(&r.out[0], F, 2, D23);
    assert_close(r.out[0].data, want, 6, 1e-6f, 1e-7f);
    run_done(&r);

    /* The same [2,2,2] at axis 1: opset 11 normalizes the 4 values of each batch item,
     * opset 13 only pairs along dim 1. softmax(1,2,3,4) = e^k / 84.79102;
     * softmax(1,3) = (1, e^2) / (1 + e^2). */
    static const float y[] = {0, 0, 0, 0, 1, 2, 3, 4};
    static const float want_11[] = {0.25f, 0.25f, 0.25f, 0.25f,
                                    0.0320586f, 0.0871443f, 0.2368828f, 0.6439143f};
    static const float want_13[] = {0.5f, 0.5f, 0.5f, 0.5f,
                                    0.1192029f, 0.1192029f, 0.8807971f, 0.8807971f};
    in = ond_test_value("x", F, 3, D222, y);
    run(&r, tm_load_ok(unary(11, "Softmax", 3, D222, &n)), &in, 1);
    assert_close(r.out[0].data, want_11, 8, 1e-5f, 1e-7f);
    run_done(&r);
    struct tm *m = unary(13, "Softmax", 3, D222, &n);
    tm_attr_int(m, n, "axis", 1);
    run(&r, tm_load_ok(m), &in, 1);
    assert_close(r.out[0].data, want_13, 8, 1e-5f, 1e-7f);
    run_done(&r);

    /* Large values do not overflow: softmax(1000, 1001) = softmax(0, 1). */
    static const float big[] = {1000, 1001}, want_big[] = {0.2689414f, 0.7310586f};
    in = ond_test_value("x", F, 2, (const int64_t[]){1, 2}, big);
    run(&r, tm_load_ok(unary(13, "Softmax", 2, (const int64_t[]){1, 2}, &n)), &in, 1);
    assert_close(r.out[0].data, want_big, 2, 1e-5f, 0);
    run_done(&r);

    struct ond_graph *g = tm_load_ok(unary(13, "Softmax", 2, DN3, &n));
    assert_true(g->outputs[0]->info.dims[0] <= -2);
    ond_graph_free(g);

    m = unary(13, "Softmax", 2, D23, &n);
    tm_attr_int(m, n, "axis", 2);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "node 'n' (Softmax): axis 2 is out of range");
}

/* ---- pass-through ---- */

static void test_dropout(void **state)
{
    (void)state;
    struct run r;
    static const float x[] = {1, -2, 3, -4, 5, -6};
    static const bool want_mask[] = {1, 1, 1, 1, 1, 1};
    static const float ratio = 0.3f;
    /* Opset 13 with a ratio input and the bool mask output. */
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 2, D23);
    tm_init(m, "r", F, 0, NULL, &ratio);
    tm_output(m, "y");
    tm_output(m, "mask");
    tm_node(m, "Dropout", "d", "x,r", "y,mask");
    struct ond_value in = ond_test_value("x", F, 2, D23, x);
    run(&r, tm_load_ok(m), &in, 1);
    assert_shape(&r.out[0], F, 2, D23);
    assert_close(r.out[0].data, x, 6, 0, 0);
    assert_shape(&r.out[1], OND_DTYPE_BOOL, 2, D23);
    assert_memory_equal(r.out[1].data, want_mask, sizeof want_mask);
    run_done(&r);

    /* Opset 7: the mask has the input's type. */
    static const float ones[] = {1, 1, 1, 1, 1, 1};
    m = tm_new(8, 7);
    tm_input(m, "x", F, 2, D23);
    tm_output(m, "y");
    tm_output(m, "mask");
    Onnx__NodeProto *n = tm_node(m, "Dropout", "d", "x", "y,mask");
    tm_attr_float(m, n, "ratio", 0.2f);
    run(&r, tm_load_ok(m), &in, 1);
    assert_close(r.out[0].data, x, 6, 0, 0);
    assert_shape(&r.out[1], F, 2, D23);
    assert_close(r.out[1].data, ones, 6, 0, 0);
    run_done(&r);

    static const bool train = true;
    m = tm_new(8, 13);
    tm_input(m, "x", F, 2, D23);
    tm_init(m, "r", F, 0, NULL, &ratio);
    tm_init(m, "t", OND_DTYPE_BOOL, 0, NULL, &train);
    tm_output(m, "y");
    tm_node(m, "Dropout", "d", "x,r,t", "y");
    tm_load_fails(m, OND_STATUS_UNSUPPORTED,
               "node 'd' (Dropout): training_mode must be a constant false");

    /* Training with ratio 0 drops nothing and scales by 1 (torch exports Swin's attention
     * dropout so). */
    static const float zero = 0;
    m = tm_new(8, 13);
    tm_input(m, "x", F, 2, D23);
    tm_init(m, "r", F, 0, NULL, &zero);
    tm_init(m, "t", OND_DTYPE_BOOL, 0, NULL, &train);
    tm_output(m, "y");
    tm_output(m, "mask");
    tm_node(m, "Dropout", "d", "x,r,t", "y,mask");
    run(&r, tm_load_ok(m), &in, 1);
    assert_close(r.out[0].data, x, 6, 0, 0);
    assert_memory_equal(r.out[1].data, want_mask, sizeof want_mask);
    run_done(&r);
}

static void test_identity(void **state)
{
    (void)state;
    struct run r;
    static const int64_t x[] = {5, -6, 7};
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", OND_DTYPE_INT64, 1, D3);
    tm_output(m, "y");
    tm_node(m, "Identity", "i", "x", "y");
    struct ond_value in = ond_test_value("x", OND_DTYPE_INT64, 1, D3, x);
    run(&r, tm_load_ok(m), &in, 1);
    assert_shape(&r.out[0], OND_DTYPE_INT64, 1, D3);
    assert_memory_equal(r.out[0].data, x, sizeof x);
    run_done(&r);

    Onnx__NodeProto *n;
    struct ond_graph *g = tm_load_ok(unary(13, "Identity", 2, DN3, &n));
    assert_true(g->outputs[0]->info.dims[0] <= -2);
    ond_graph_free(g);

    m = tm_new(8, 13);
    tm_input(m, "x", F, 1, D3);
    tm_output(m, "y");
    tm_node(m, "Identity", "j", "x,x", "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "node 'j' (Identity): takes 1 to 1 inputs");
}

/* ---- the reference interpreter's per-node trace ---- */

struct trace_log {
    int calls;
    char nodes[2][8];
    float values[2][3];
};

static void trace_node(void *ctx, const struct ond_node *n, const struct ond_info *out)
{
    struct trace_log *log = ctx;
    assert_true(log->calls < 2);
    assert_non_null(out[0].data);
    snprintf(log->nodes[log->calls], sizeof log->nodes[0], "%s", n->name);
    memcpy(log->values[log->calls], out[0].data, sizeof log->values[0]);
    log->calls++;
}

static void test_reference_trace(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 14);
    tm_input(m, "x", F, 1, D3);
    tm_output(m, "y");
    tm_node(m, "Relu", "r", "x", "a");
    tm_node(m, "Add", "s", "a,x", "y");
    struct ond_graph *g = tm_load_ok(m);
    static const float x[] = {-2, 0.5f, 3};
    static const float relu[] = {0, 0.5f, 3}, sum[] = {-2, 1, 6};
    struct ond_value in = ond_test_value("x", F, 1, D3, x), out;
    struct trace_log log = {0};
    struct ond_error err = {0};
    assert_int_equal(ond_reference_run(g, &in, 1, &out, trace_node, &log, &err), OND_OK);
    assert_int_equal(log.calls, 2);
    assert_string_equal(log.nodes[0], "r");
    assert_string_equal(log.nodes[1], "s");
    assert_memory_equal(log.values[0], relu, sizeof relu);
    assert_memory_equal(log.values[1], sum, sizeof sum);
    free((void *)out.name);
    free(out.data);
    ond_graph_free(g);
}

/* ---- the elementwise family of issue 15 (values: the ONNX node tests; here the rules) ---- */

/* y = op(a, b) of inputs with the given dtypes and shapes. */
static struct tm *binary_model(int64_t opset, const char *op, int32_t ta, int ra,
                               const int64_t *da, int32_t tb, int rb, const int64_t *db,
                               Onnx__NodeProto **node)
{
    struct tm *m = tm_new(8, opset);
    tm_input(m, "a", ta, ra, da);
    tm_input(m, "b", tb, rb, db);
    tm_output(m, "y");
    *node = tm_node(m, op, "n", "a,b", "y");
    return m;
}

static void test_eltwise_15_rules(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    /* Less-1 with broadcast 1, axis 0: B [2] compared along A's rows. */
    struct tm *m = binary_model(1, "Less", F, 2, D23, F, 1, D2, &n);
    tm_attr_int(m, n, "broadcast", 1);
    tm_attr_int(m, n, "axis", 0);
    static const float a[] = {0, 1, 2, 3, 4, 5}, b[] = {1, 4};
    static const uint8_t want[] = {1, 0, 0, 1, 0, 0};
    struct ond_value in[2] = {ond_test_value("a", F, 2, D23, a), ond_test_value("b", F, 1, D2, b)};
    struct run r;
    run(&r, tm_load_ok(m), in, 2);
    assert_shape(&r.out[0], OND_DTYPE_BOOL, 2, D23);
    assert_memory_equal(r.out[0].data, want, sizeof want);
    run_done(&r);
    /* Max with a NaN: the NaN wins, as numpy.maximum; Min of -0.5 and 2 picks -0.5. */
    m = binary_model(13, "Max", F, 1, D2, F, 1, D2, &n);
    static const float xa[] = {NAN, -0.5f}, xb[] = {1, 2};
    in[0] = ond_test_value("a", F, 1, D2, xa);
    in[1] = ond_test_value("b", F, 1, D2, xb);
    run(&r, tm_load_ok(m), in, 2);
    assert_true(isnan(((const float *)r.out[0].data)[0]));
    assert_float_equal(((const float *)r.out[0].data)[1], 2, 0);
    run_done(&r);

    m = binary_model(1, "Equal", F, 2, D23, F, 1, D3, &n);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "A has rank 2 and B rank 1, and 'broadcast' is 0");
    m = binary_model(13, "Less", F, 1, D3, OND_DTYPE_INT32, 1, D3, &n);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "node 'n' (Less): inputs are float and int32");
    m = binary_model(7, "And", F, 1, D3, F, 1, D3, &n);
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "type float is not supported (bool only)");
    m = binary_model(13, "Max", OND_DTYPE_BOOL, 1, D3, OND_DTYPE_BOOL, 1, D3, &n);
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "node 'n' (Max): type bool is not supported");
    m = binary_model(15, "Pow", F, 1, D3, OND_DTYPE_BOOL, 1, D3, &n);
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "types float ^ bool are not supported");
    m = binary_model(16, "PRelu", F, 2, D23, F, 1, D4, &n);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "slope dim 0 (4) does not broadcast to X's (3)");
    m = binary_model(13, "Mean", OND_DTYPE_INT32, 1, D3, OND_DTYPE_INT32, 1, D3, &n);
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "node 'n' (Mean): type int32 is not supported");
    m = tm_new(8, 16);
    tm_input(m, "c", F, 1, D3);
    tm_input(m, "x", F, 1, D3);
    tm_output(m, "y");
    tm_node(m, "Where", "w", "c,x,x", "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "node 'w' (Where): condition is float, not bool");
    m = tm_new(8, 13);
    tm_input(m, "x", OND_DTYPE_INT32, 1, D3);
    tm_output(m, "y");
    tm_node(m, "Tanh", "t", "x", "y");
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "node 't' (Tanh): input 0 is int32");
    m = unary(6, "Elu", 1, D3, &n);
    tm_attr_int(m, n, "alpha", 1);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "node 'n' (Elu): attribute 'alpha' must be FLOAT");
    /* Neg, Abs, Sign of integers wrap as numpy; Sign keeps a NaN. */
    m = tm_new(8, 13);
    tm_input(m, "x", OND_DTYPE_INT64, 1, D4);
    tm_output(m, "neg");
    tm_output(m, "abs");
    tm_output(m, "sign");
    tm_node(m, "Neg", "neg", "x", "neg");
    tm_node(m, "Abs", "abs", "x", "abs");
    tm_node(m, "Sign", "sign", "x", "sign");
    static const int64_t xi[] = {INT64_MIN, -3, 0, 5};
    static const int64_t neg_i[] = {INT64_MIN, 3, 0, -5}, abs_i[] = {INT64_MIN, 3, 0, 5},
                         sign_i[] = {-1, -1, 0, 1};
    in[0] = ond_test_value("x", OND_DTYPE_INT64, 1, D4, xi);
    run(&r, tm_load_ok(m), in, 1);
    assert_memory_equal(r.out[0].data, neg_i, sizeof neg_i);
    assert_memory_equal(r.out[1].data, abs_i, sizeof abs_i);
    assert_memory_equal(r.out[2].data, sign_i, sizeof sign_i);
    run_done(&r);
    m = tm_new(8, 13);
    tm_input(m, "x", OND_DTYPE_DOUBLE, 1, D3);
    tm_output(m, "y");
    tm_node(m, "Sign", "sign", "x", "y");
    static const double xd[] = {-0.5, NAN, 2};
    in[0] = ond_test_value("x", OND_DTYPE_DOUBLE, 1, D3, xd);
    run(&r, tm_load_ok(m), in, 1);
    const double *yd = r.out[0].data;
    assert_true(yd[0] == -1 && isnan(yd[1]) && yd[2] == 1);
    run_done(&r);
    m = tm_new(8, 13);
    tm_input(m, "x", OND_DTYPE_UINT8, 1, D3);
    tm_output(m, "y");
    tm_node(m, "Neg", "neg", "x", "y");
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "node 'neg' (Neg): input 0 is uint8");

    m = unary(1, "Not", 1, D3, &n);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "node 'n' (Not): input is float, not bool");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_leakyrelu),
        cmocka_unit_test(test_sigmoid),
        cmocka_unit_test(test_hardsigmoid),
        cmocka_unit_test(test_hardswish),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_sub),
        cmocka_unit_test(test_mul),
        cmocka_unit_test(test_div),
        cmocka_unit_test(test_sum),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_reference_trace),
        cmocka_unit_test(test_eltwise_15_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
