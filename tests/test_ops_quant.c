/* test_ops_quant.c: quantization ops (ops/quantize.c, ops/qlinear.c, ops/integer.c):
 * hand-computed values through the reference interpreter (rounding ties to even,
 * saturation, per-axis parameters, zero points, bias) and bad models or inputs, each refused
 * with a message naming the node. */
#include <math.h>
#include <stdlib.h>

#include "proto/loader.h"
#include "runtime/reference.h"
#include "tests/util.h"

#define F OND_DTYPE_FLOAT
#define U8 OND_DTYPE_UINT8
#define I8 OND_DTYPE_INT8
#define I32 OND_DTYPE_INT32

/* A graph of one node "q" of op reading x (a graph input) and the initializers the caller
 * adds, writing y. */
static struct tm *one_node(int64_t opset, const char *op, const char *inputs, int32_t dtype,
                           int rank, const int64_t *dims, Onnx__NodeProto **node)
{
    struct tm *m = tm_new(8, opset);
    tm_input(m, "x", dtype, rank, dims);
    *node = tm_node(m, op, "q", inputs, "y");
    tm_output(m, "y");
    return m;
}

/* Loads m and runs it on x (dtype, dims of the graph input); the output must have dtype, the
 * input's dims and the bytes of want. Frees m. */
static void expect(struct tm *m, const void *x, int32_t xdt, int rank, const int64_t *dims,
                   int32_t dtype, const void *want)
{
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    enum ond_status st = tm_load(m, &g, &err);
    tm_free(m);
    if (st)
        print_error("load: %s\n", err.message);
    assert_int_equal(st, OND_OK);
    struct ond_value in = {"x", xdt, rank, {0}, (void *)x, ond_dtype_size(xdt)}, out;
    for (int i = 0; i < rank; i++) {
        in.dims[i] = dims[i];
        in.size *= (size_t)dims[i];
    }
    if ((st = ond_reference_run(g, &in, 1, &out, NULL, NULL, &err)))
        print_error("run: %s\n", err.message);
    assert_int_equal(st, OND_OK);
    assert_int_equal(out.dtype, dtype);
    assert_int_equal(out.rank, rank);
    assert_int_equal(out.size, in.size / ond_dtype_size(xdt) * ond_dtype_size(dtype));
    assert_memory_equal(out.data, want, out.size);
    free((void *)out.name);
    free(out.data);
    ond_graph_free(g);
}

/* Loading m must fail with status want and a message naming node 'q' and holding substr. */
static void load_fails(struct tm *m, enum ond_status want, const char *substr)
{
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    assert_error(tm_load(m, &g, &err), want, &err, substr);
    assert_non_null(strstr(err.message, "node 'q'"));
    assert_null(g);
    tm_free(m);
}

static void test_quantize_rounding_saturation(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    const int64_t d6[] = {6};
    float x[6] = {2.5f, -2.5f, 3.5f, 1000.0f, -1000.0f, -0.5f};
    struct tm *m = one_node(13, "QuantizeLinear", "x,s,z", F, 1, d6, &n);
    tm_init(m, "s", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "z", I8, 0, NULL, (int8_t[]){0});
    expect(m, x, F, 1, d6, I8, (int8_t[]){2, -2, 4, 127, -128, 0});

    /* uint8 around 128, and saturation at both ends after adding the zero point. */
    float xu[6] = {2.5f, -2.5f, 127.0f, 128.0f, -128.0f, -129.0f};
    m = one_node(10, "QuantizeLinear", "x,s,z", F, 1, d6, &n);
    tm_init(m, "s", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "z", U8, 0, NULL, (uint8_t[]){128});
    expect(m, xu, F, 1, d6, U8, (uint8_t[]){130, 126, 255, 255, 0, 0});

    /* No zero point: uint8, zero 0; x / 0.5 = 5 and 1.5 / 0.5 = 3, -1 saturates. */
    float x3[3] = {2.5f, 1.5f, -0.5f};
    m = one_node(13, "QuantizeLinear", "x,s", F, 1, (int64_t[]){3}, &n);
    tm_init(m, "s", F, 0, NULL, (float[]){0.5f});
    expect(m, x3, F, 1, (int64_t[]){3}, U8, (uint8_t[]){5, 3, 0});
}

static void test_quantize_per_axis(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    const int64_t d[] = {2, 3};
    float x[6] = {1, 2, 3, 4, 5, 6};
    struct tm *m = one_node(13, "QuantizeLinear", "x,s,z", F, 2, d, &n);
    tm_init(m, "s", F, 1, (int64_t[]){3}, (float[]){1.0f, 2.0f, 4.0f});
    tm_init(m, "z", U8, 1, (int64_t[]){3}, (uint8_t[]){0, 10, 20});
    /* 5 / 2 = 2.5 rounds to 2; 3 / 4 = 0.75 to 1; 6 / 4 = 1.5 to 2. */
    expect(m, x, F, 2, d, U8, (uint8_t[]){1, 11, 21, 4, 12, 22});

    /* axis -2 on [3, 2]: per row. */
    const int64_t d2[] = {3, 2};
    m = one_node(13, "QuantizeLinear", "x,s", F, 2, d2, &n);
    tm_attr_int(m, n, "axis", -2);
    tm_init(m, "s", F, 1, (int64_t[]){3}, (float[]){1.0f, 2.0f, 4.0f});
    expect(m, x, F, 2, d2, U8, (uint8_t[]){1, 2, 2, 2, 1, 2});
}

static void test_dequantize(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    int8_t x[3] = {-128, 0, 127};
    struct tm *m = one_node(13, "DequantizeLinear", "x,s,z", I8, 1, (int64_t[]){3}, &n);
    tm_init(m, "s", F, 0, NULL, (float[]){0.5f});
    tm_init(m, "z", I8, 0, NULL, (int8_t[]){-1});
    expect(m, x, I8, 1, (int64_t[]){3}, F, (float[]){-63.5f, 0.5f, 64.0f});

    int32_t xi[4] = {-1000, 1000, 7, 0};
    m = one_node(10, "DequantizeLinear", "x,s", I32, 2, (int64_t[]){2, 2}, &n);
    tm_init(m, "s", F, 0, NULL, (float[]){0.25f});
    expect(m, xi, I32, 2, (int64_t[]){2, 2}, F, (float[]){-250.0f, 250.0f, 1.75f, 0.0f});

    uint8_t xu[4] = {0, 10, 20, 30};
    m = one_node(13, "DequantizeLinear", "x,s,z", U8, 2, (int64_t[]){2, 2}, &n);
    tm_attr_int(m, n, "axis", 0);
    tm_init(m, "s", F, 1, (int64_t[]){2}, (float[]){1.0f, 0.5f});
    tm_init(m, "z", U8, 1, (int64_t[]){2}, (uint8_t[]){10, 0});
    expect(m, xu, U8, 2, (int64_t[]){2, 2}, F, (float[]){-10.0f, 0.0f, 10.0f, 15.0f});
}

static void test_integer_ops(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    /* (x - 1) is 0..8 on a 3x3 grid; a 2x2 kernel of ones sums each window. */
    uint8_t x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const int64_t dx[] = {1, 1, 3, 3};
    struct tm *m = one_node(10, "ConvInteger", "x,w,xz", U8, 4, dx, &n);
    tm_init(m, "w", U8, 4, (int64_t[]){1, 1, 2, 2}, (uint8_t[]){1, 1, 1, 1});
    tm_init(m, "xz", U8, 0, NULL, (uint8_t[]){1});
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    assert_int_equal(tm_load(m, &g, &err), OND_OK);
    struct ond_value in = {"x", U8, 4, {1, 1, 3, 3}, x, 9}, out;
    assert_int_equal(ond_reference_run(g, &in, 1, &out, NULL, NULL, &err), OND_OK);
    assert_int_equal(out.dtype, I32);
    assert_int_equal(out.dims[2], 2);
    assert_memory_equal(out.data, ((int32_t[]){8, 12, 20, 24}), 4 * sizeof(int32_t));
    free((void *)out.name);
    free(out.data);
    ond_graph_free(g);
    tm_free(m);

    /* MatMulInteger with a per-row zero point of A and a per-column one of B:
     * (A - [[1], [2]]) = [[0, 1], [1, 2]], (B - [0, 1]) = [[1, 1], [3, 0]]. */
    uint8_t a[4] = {1, 2, 3, 4};
    const int64_t d22[] = {2, 2};
    m = one_node(10, "MatMulInteger", "x,b,az,bz", U8, 2, d22, &n);
    tm_init(m, "b", I8, 2, d22, (int8_t[]){1, 2, 3, 1});
    tm_init(m, "az", U8, 1, (int64_t[]){2}, (uint8_t[]){1, 2});
    tm_init(m, "bz", I8, 1, (int64_t[]){2}, (int8_t[]){0, 1});
    expect(m, a, U8, 2, d22, I32, (int32_t[]){3, 0, 7, 1});
}

static void test_qlinear_ops(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    /* acc = [3, 9] * (1 * 1 / 2) = 1.5, 4.5: ties to 2 and 4, plus y_zero_point 100. */
    uint8_t a[4] = {1, 2, 3, 4};
    const int64_t d22[] = {2, 2};
    struct tm *m = one_node(10, "QLinearMatMul", "x,as,az,b,bs,bz,ys,yz", U8, 2, d22, &n);
    tm_init(m, "as", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "az", U8, 0, NULL, (uint8_t[]){0});
    tm_init(m, "b", I8, 2, (int64_t[]){2, 1}, (int8_t[]){3, 0});
    tm_init(m, "bs", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "bz", I8, 0, NULL, (int8_t[]){0});
    tm_init(m, "ys", F, 0, NULL, (float[]){2.0f});
    tm_init(m, "yz", U8, 0, NULL, (uint8_t[]){100});
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    assert_int_equal(tm_load(m, &g, &err), OND_OK);
    struct ond_value in = {"x", U8, 2, {2, 2}, a, 4}, out;
    assert_int_equal(ond_reference_run(g, &in, 1, &out, NULL, NULL, &err), OND_OK);
    assert_int_equal(out.dims[1], 1);
    assert_memory_equal(out.data, ((uint8_t[]){102, 104}), 2);
    free((void *)out.name);
    free(out.data);
    ond_graph_free(g);
    tm_free(m);

    /* QLinearConv, 1x1 kernel, per-channel w_scale, bias: channel 0 scales the sums
     * (x - 10) + 1 by 0.5, channel 1 (x - 10) * 2 - 1 by 0.125. */
    uint8_t x[4] = {10, 20, 30, 40};
    const int64_t dx[] = {1, 1, 2, 2};
    m = one_node(10, "QLinearConv", "x,xs,xz,w,ws,wz,ys,yz,b", U8, 4, dx, &n);
    tm_init(m, "xs", F, 0, NULL, (float[]){0.5f});
    tm_init(m, "xz", U8, 0, NULL, (uint8_t[]){10});
    tm_init(m, "w", I8, 4, (int64_t[]){2, 1, 1, 1}, (int8_t[]){1, 2});
    tm_init(m, "ws", F, 1, (int64_t[]){2}, (float[]){1.0f, 0.25f});
    tm_init(m, "wz", I8, 1, (int64_t[]){2}, (int8_t[]){0, 0});
    tm_init(m, "ys", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "yz", I8, 0, NULL, (int8_t[]){0});
    tm_init(m, "b", I32, 1, (int64_t[]){2}, (int32_t[]){1, -1});
    g = NULL;
    assert_int_equal(tm_load(m, &g, &err), OND_OK);
    in = (struct ond_value){"x", U8, 4, {1, 1, 2, 2}, x, 4};
    assert_int_equal(ond_reference_run(g, &in, 1, &out, NULL, NULL, &err), OND_OK);
    assert_int_equal(out.dtype, I8);
    assert_int_equal(out.dims[1], 2);
    /* 0.5, 5.5, 10.5, 15.5 -> 0, 6, 10, 16; -0.125, 2.375, 4.875, 7.375 -> 0, 2, 5, 7. */
    assert_memory_equal(out.data, ((int8_t[]){0, 6, 10, 16, 0, 2, 5, 7}), 8);
    free((void *)out.name);
    free(out.data);
    ond_graph_free(g);
    tm_free(m);
}

static void test_bad_models(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    const int64_t d[] = {2, 3};
    struct tm *m = one_node(13, "QuantizeLinear", "x,s", F, 2, d, &n);
    tm_init(m, "s", I32, 0, NULL, (int32_t[]){1});
    load_fails(m, OND_STATUS_INVALID_MODEL, "input 1 (y_scale) is int32; a scale must be float");

    m = one_node(13, "QuantizeLinear", "x,s,z", F, 2, d, &n);
    tm_init(m, "s", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "z", I32, 0, NULL, (int32_t[]){0});
    load_fails(m, OND_STATUS_INVALID_MODEL, "input 2 (y_zero_point) is int32; it must be uint8");

    m = one_node(13, "QuantizeLinear", "x,s", U8, 2, d, &n);
    tm_init(m, "s", F, 0, NULL, (float[]){1.0f});
    load_fails(m, OND_STATUS_INVALID_MODEL, "input 0 (x) is uint8; it must be float or int32");

    m = one_node(13, "DequantizeLinear", "x,s,z", U8, 2, d, &n);
    tm_init(m, "s", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "z", I8, 0, NULL, (int8_t[]){0});
    load_fails(m, OND_STATUS_INVALID_MODEL, "(x_zero_point) is int8; it must be uint8 like");

    m = one_node(13, "DequantizeLinear", "x,s", F, 2, d, &n);
    tm_init(m, "s", F, 0, NULL, (float[]){1.0f});
    load_fails(m, OND_STATUS_INVALID_MODEL, "input 0 (x) is float; it must be uint8, int8");

    m = one_node(13, "QuantizeLinear", "x,s", F, 2, d, &n);
    tm_attr_int(m, n, "axis", 2);
    tm_init(m, "s", F, 1, (int64_t[]){3}, (float[]){1.0f, 1.0f, 1.0f});
    load_fails(m, OND_STATUS_INVALID_MODEL, "axis 2 is out of range for rank 2");

    /* The default axis 1 has 3 values: a scale of 2, or a zero point of 2, does not fit. */
    m = one_node(13, "QuantizeLinear", "x,s", F, 2, d, &n);
    tm_init(m, "s", F, 1, (int64_t[]){2}, (float[]){1.0f, 1.0f});
    load_fails(m, OND_STATUS_INVALID_MODEL, "a 1-D tensor of 3 values, got 2 values");
    m = one_node(13, "QuantizeLinear", "x,s,z", F, 2, d, &n);
    tm_init(m, "s", F, 1, (int64_t[]){3}, (float[]){1.0f, 1.0f, 1.0f});
    tm_init(m, "z", U8, 1, (int64_t[]){2}, (uint8_t[]){0, 0});
    load_fails(m, OND_STATUS_INVALID_MODEL, "(y_zero_point) must be a scalar or a 1-D tensor");
    m = one_node(13, "QuantizeLinear", "x,s,z", F, 2, d, &n);
    tm_init(m, "s", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "z", U8, 1, (int64_t[]){3}, (uint8_t[]){0, 0, 0});
    load_fails(m, OND_STATUS_INVALID_MODEL, "(y_zero_point) must be a scalar (per-tensor)");
    m = one_node(13, "QuantizeLinear", "x,s", F, 2, d, &n);
    tm_init(m, "s", F, 2, d, NULL);
    load_fails(m, OND_STATUS_INVALID_MODEL, "got rank 2");

    /* Opset 10 has no per-axis form. */
    m = one_node(10, "DequantizeLinear", "x,s", U8, 2, d, &n);
    tm_init(m, "s", F, 1, (int64_t[]){3}, (float[]){1.0f, 1.0f, 1.0f});
    load_fails(m, OND_STATUS_INVALID_MODEL, "(x_scale) must be a scalar (per-tensor), got 3");

    /* Constant scales are checked at load. */
    m = one_node(13, "QuantizeLinear", "x,s", F, 2, d, &n);
    tm_init(m, "s", F, 0, NULL, (float[]){0.0f});
    load_fails(m, OND_STATUS_INVALID_INPUT, "(y_scale) has value 0 at 0; a scale must be positive");
    m = one_node(13, "DequantizeLinear", "x,s", I8, 2, d, &n);
    tm_attr_int(m, n, "axis", -1);
    tm_init(m, "s", F, 1, (int64_t[]){3}, (float[]){1.0f, -2.0f, 1.0f});
    load_fails(m, OND_STATUS_INVALID_INPUT, "has value -2 at 1");

    m = one_node(10, "QLinearConv", "x,xs,xz,w,ws,wz,ys,yz,b", U8, 4, (int64_t[]){1, 1, 2, 2},
                 &n);
    tm_init(m, "xs", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "xz", U8, 0, NULL, NULL);
    tm_init(m, "w", I8, 4, (int64_t[]){2, 1, 1, 1}, NULL);
    tm_init(m, "ws", F, 1, (int64_t[]){3}, (float[]){1.0f, 1.0f, 1.0f});
    tm_init(m, "wz", I8, 0, NULL, NULL);
    tm_init(m, "ys", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "yz", U8, 0, NULL, NULL);
    tm_init(m, "b", I32, 1, (int64_t[]){2}, NULL);
    load_fails(m, OND_STATUS_INVALID_MODEL, "input 4 (w_scale) must be a scalar or a 1-D tensor "
                                            "of 2 values");

    m = one_node(10, "QLinearMatMul", "x,as,az,b,bs,bz,ys,yz", U8, 2, (int64_t[]){2, 2}, &n);
    tm_init(m, "as", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "az", U8, 0, NULL, NULL);
    tm_init(m, "b", F, 2, (int64_t[]){2, 2}, NULL);
    tm_init(m, "bs", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "bz", U8, 0, NULL, NULL);
    tm_init(m, "ys", F, 0, NULL, (float[]){1.0f});
    tm_init(m, "yz", U8, 0, NULL, NULL);
    load_fails(m, OND_STATUS_INVALID_MODEL, "input 3 (b) is float; it must be uint8 or int8");

    m = one_node(10, "MatMulInteger", "x,b", U8, 2, (int64_t[]){2, 3}, &n);
    tm_init(m, "b", U8, 2, (int64_t[]){2, 3}, NULL);
    load_fails(m, OND_STATUS_INVALID_MODEL, "inner dims differ");

    m = one_node(10, "ConvInteger", "x,w", U8, 4, (int64_t[]){1, 2, 3, 3}, &n);
    tm_init(m, "w", U8, 4, (int64_t[]){1, 1, 1, 1}, NULL);
    load_fails(m, OND_STATUS_INVALID_MODEL, "X has 2 channels, W expects 1");
}

/* An all-zero (or NaN) input has no range: scale 1 rather than a division by zero; NaN
 * quantizes to the zero point. */
static void test_dynamic_quantize_degenerate(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 11);
    tm_input(m, "x", F, 1, (int64_t[]){3});
    tm_node(m, "DynamicQuantizeLinear", "q", "x", "y,s,z");
    tm_output(m, "y");
    tm_output(m, "s");
    tm_output(m, "z");
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    assert_int_equal(tm_load(m, &g, &err), OND_OK);
    float x[3] = {0.0f, NAN, -0.0f};
    struct ond_value in = {"x", F, 1, {3}, x, sizeof x}, out[3];
    assert_int_equal(ond_reference_run(g, &in, 1, out, NULL, NULL, &err), OND_OK);
    assert_memory_equal(out[0].data, ((uint8_t[]){0, 0, 0}), 3);
    assert_true(*(float *)out[1].data == 1.0f);
    assert_int_equal(*(uint8_t *)out[2].data, 0);
    for (int i = 0; i < 3; i++) {
        free((void *)out[i].name);
        free(out[i].data);
    }
    ond_graph_free(g);
    tm_free(m);
}

/* A scale fed at run time is checked when the node runs. */
static void test_bad_runtime_scale(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 1, (int64_t[]){2});
    tm_input(m, "s", F, 0, NULL);
    tm_node(m, "QuantizeLinear", "q", "x,s", "y");
    tm_output(m, "y");
    struct ond_graph *g = NULL;
    struct ond_error err = {0};
    assert_int_equal(tm_load(m, &g, &err), OND_OK);
    float x[2] = {1.0f, 2.0f}, s = -1.0f;
    struct ond_value in[2] = {{"x", F, 1, {2}, x, sizeof x}, {"s", F, 0, {0}, &s, sizeof s}};
    struct ond_value out;
    assert_error(ond_reference_run(g, in, 2, &out, NULL, NULL, &err), OND_STATUS_INVALID_INPUT,
                 &err, "node 'q' (QuantizeLinear): input 1 (y_scale) has value -1 at 0");
    s = 0.5f;
    assert_int_equal(ond_reference_run(g, in, 2, &out, NULL, NULL, &err), OND_OK);
    assert_memory_equal(out.data, ((uint8_t[]){2, 4}), 2);
    free((void *)out.name);
    free(out.data);
    ond_graph_free(g);
    tm_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_rounding_saturation),
        cmocka_unit_test(test_quantize_per_axis),
        cmocka_unit_test(test_dequantize),
        cmocka_unit_test(test_integer_ops),
        cmocka_unit_test(test_qlinear_ops),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_dynamic_quantize_degenerate),
        cmocka_unit_test(test_bad_runtime_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
