/* test_ops_c.c: group C ops (shapes, layout and constants): hand-computed values through the
 * reference interpreter, symbolic-batch inference, and one bad model or input per op. */
#include <stdlib.h>

#include "proto/loader.h"
#include "runtime/reference.h"
#include "tests/util.h"

#define F OND_DTYPE_FLOAT
#define I64 OND_DTYPE_INT64
#define I32 OND_DTYPE_INT32
#define N_SYM (-5) /* any negative dim: tm_input makes it the symbol "N" */

/* Runs g on in (n_in values) and checks its single output against dtype, dims and bytes. */
static void run_expect(struct ond_graph *g, struct ond_value *in, size_t n_in, int32_t dtype,
                       int rank, const int64_t *dims, const void *want)
{
    struct ond_value out;
    struct ond_error err = {0};
    enum ond_status st = ond_reference_run(g, in, n_in, &out, NULL, NULL, &err);
    if (st)
        print_error("run: %s\n", err.message);
    assert_int_equal(st, OND_OK);
    assert_int_equal(out.dtype, dtype);
    assert_int_equal(out.rank, rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(out.dims[i], dims[i]);
    assert_memory_equal(out.data, want, out.size);
    free((void *)out.name);
    free(out.data);
}

static void run_fails(struct ond_graph *g, struct ond_value *in, size_t n_in,
                      enum ond_status want, const char *substr)
{
    struct ond_value out;
    struct ond_error err = {0};
    assert_error(ond_reference_run(g, in, n_in, &out, NULL, NULL, &err), want, &err, substr);
}

static const struct ond_info *out_info(const struct ond_graph *g)
{
    return &g->outputs[0]->info;
}

/* A graph of one node "op" reading x (input of the given type) and the initializers the
 * caller adds, writing y. */
static struct tm *one_node(int64_t opset, const char *op, const char *inputs, int32_t dtype,
                           int rank, const int64_t *dims, Onnx__NodeProto **node)
{
    struct tm *m = tm_new(8, opset);
    tm_input(m, "x", dtype, rank, dims);
    *node = tm_node(m, op, "n", inputs, "y");
    tm_output(m, "y");
    return m;
}

static void test_flatten(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    struct tm *m = one_node(13, "Flatten", "x", F, 3, (int64_t[]){2, 3, 4}, &n);
    tm_attr_int(m, n, "axis", -1);
    struct ond_graph *g = tm_load_ok(m);
    struct ond_value in = ond_test_value("x", F, 3, (int64_t[]){2, 3, 4}, x);
    run_expect(g, &in, 1, F, 2, (int64_t[]){6, 4}, x);
    ond_graph_free(g);

    /* [N,C,H,W] at axis 1: the batch stays symbolic. */
    m = one_node(13, "Flatten", "x", F, 4, (int64_t[]){N_SYM, 3, 4, 5}, &n);
    g = tm_load_ok(m);
    assert_int_equal(out_info(g)->rank, 2);
    assert_true(out_info(g)->dims[0] <= -2);
    assert_int_equal(out_info(g)->dims[0], g->inputs[0]->info.dims[0]);
    assert_int_equal(out_info(g)->dims[1], 60);
    ond_graph_free(g);

    m = one_node(13, "Flatten", "x", F, 3, (int64_t[]){2, 3, 4}, &n);
    tm_attr_int(m, n, "axis", 4);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "axis 4 is out of range");
}

static void test_reshape(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    int64_t x[6] = {1, 2, 3, 4, 5, 6};
    struct tm *m = one_node(14, "Reshape", "x,s", I64, 2, (int64_t[]){2, 3}, &n);
    tm_init(m, "s", I64, 1, (int64_t[]){2}, (int64_t[]){-1, 2});
    struct ond_graph *g = tm_load_ok(m);
    struct ond_value in = ond_test_value("x", I64, 2, (int64_t[]){2, 3}, x);
    run_expect(g, &in, 1, I64, 2, (int64_t[]){3, 2}, x);
    ond_graph_free(g);

    /* 0 copies the input dim: [N,6] with [0,3,-1] gives [N,3,2]. */
    m = one_node(14, "Reshape", "x,s", F, 2, (int64_t[]){N_SYM, 6}, &n);
    tm_init(m, "s", I64, 1, (int64_t[]){3}, (int64_t[]){0, 3, -1});
    g = tm_load_ok(m);
    assert_int_equal(out_info(g)->rank, 3);
    assert_true(out_info(g)->dims[0] <= -2);
    assert_int_equal(out_info(g)->dims[1], 3);
    assert_int_equal(out_info(g)->dims[2], 2);
    ond_graph_free(g);

    /* Opset 1: the shape is an attribute. */
    m = one_node(1, "Reshape", "x", I64, 2, (int64_t[]){2, 3}, &n);
    tm_attr_ints(m, n, "shape", 1, (int64_t[]){6});
    g = tm_load_ok(m);
    run_expect(g, &in, 1, I64, 1, (int64_t[]){6}, x);
    ond_graph_free(g);

    m = one_node(14, "Reshape", "x,s", F, 2, (int64_t[]){2, 3}, &n);
    tm_init(m, "s", I64, 1, (int64_t[]){2}, (int64_t[]){4, -1});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "cannot infer -1: 6 elements do not divide by 4");
    m = one_node(14, "Reshape", "x,s", F, 2, (int64_t[]){2, 3}, &n);
    tm_init(m, "s", I64, 1, (int64_t[]){2}, (int64_t[]){-1, -1});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "more than one -1");
    m = one_node(14, "Reshape", "x,s", F, 2, (int64_t[]){2, 3}, &n);
    tm_init(m, "s", I64, 1, (int64_t[]){2}, (int64_t[]){4, 2});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "cannot reshape 6 elements into 8");
}

/* PyTorch's x.view(x.size(0), -1) on [N,3,4,5]:
 * Shape -> Gather(0) -> Unsqueeze -> Concat with [-1] -> Reshape. */
static void test_dynamic_flatten(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){N_SYM, 3, 4, 5});
    tm_node(m, "Shape", "shape", "x", "s");
    Onnx__NodeProto *c0 = tm_node(m, "Constant", "zero", NULL, "i0");
    tm_attr_tensor(m, c0, "value", tm_tensor(m, I64, 0, NULL, (int64_t[]){0}));
    Onnx__NodeProto *ga = tm_node(m, "Gather", "gather", "s,i0", "b");
    tm_attr_int(m, ga, "axis", 0);
    tm_init(m, "axes", I64, 1, (int64_t[]){1}, (int64_t[]){0});
    tm_node(m, "Unsqueeze", "unsqueeze", "b,axes", "b1");
    Onnx__NodeProto *c1 = tm_node(m, "Constant", "minus1", NULL, "m1");
    tm_attr_tensor(m, c1, "value", tm_tensor(m, I64, 1, (int64_t[]){1}, (int64_t[]){-1}));
    Onnx__NodeProto *cc = tm_node(m, "Concat", "concat", "b1,m1", "shp");
    tm_attr_int(m, cc, "axis", 0);
    tm_node(m, "Reshape", "reshape", "x,shp", "y");
    tm_output(m, "y");
    struct ond_graph *g = tm_load_ok(m);
    assert_int_equal(out_info(g)->rank, 2);
    assert_true(out_info(g)->dims[0] <= -2);
    assert_int_equal(out_info(g)->dims[0], g->inputs[0]->info.dims[0]);
    assert_int_equal(out_info(g)->dims[1], 60);
    float x[120];
    for (int i = 0; i < 120; i++)
        x[i] = (float)i * 0.5f;
    struct ond_value in = ond_test_value("x", F, 4, (int64_t[]){2, 3, 4, 5}, x);
    run_expect(g, &in, 1, F, 2, (int64_t[]){2, 60}, x);
    ond_graph_free(g);
}

static void test_squeeze_unsqueeze(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    float x[6] = {1, 2, 3, 4, 5, 6};
    struct ond_value in = ond_test_value("x", F, 4, (int64_t[]){1, 3, 1, 2}, x);
    struct tm *m = one_node(13, "Squeeze", "x", F, 4, (int64_t[]){1, 3, 1, 2}, &n);
    struct ond_graph *g = tm_load_ok(m);
    run_expect(g, &in, 1, F, 2, (int64_t[]){3, 2}, x);
    ond_graph_free(g);

    m = one_node(13, "Squeeze", "x,a", F, 4, (int64_t[]){1, 3, 1, 2}, &n);
    tm_init(m, "a", I64, 1, (int64_t[]){1}, (int64_t[]){-2});
    g = tm_load_ok(m);
    run_expect(g, &in, 1, F, 3, (int64_t[]){1, 3, 2}, x);
    ond_graph_free(g);

    /* Opset 11: axes attribute; the batch symbol survives. */
    m = one_node(11, "Squeeze", "x", F, 4, (int64_t[]){N_SYM, 3, 1, 1}, &n);
    tm_attr_ints(m, n, "axes", 2, (int64_t[]){2, 3});
    g = tm_load_ok(m);
    assert_int_equal(out_info(g)->rank, 2);
    assert_true(out_info(g)->dims[0] <= -2);
    assert_int_equal(out_info(g)->dims[1], 3);
    ond_graph_free(g);

    m = one_node(13, "Unsqueeze", "x,a", F, 2, (int64_t[]){3, 2}, &n);
    tm_init(m, "a", I64, 1, (int64_t[]){2}, (int64_t[]){3, 0});
    g = tm_load_ok(m);
    in = ond_test_value("x", F, 2, (int64_t[]){3, 2}, x);
    run_expect(g, &in, 1, F, 4, (int64_t[]){1, 3, 2, 1}, x);
    ond_graph_free(g);

    m = one_node(11, "Unsqueeze", "x", F, 2, (int64_t[]){3, 2}, &n);
    tm_attr_ints(m, n, "axes", 1, (int64_t[]){-1});
    g = tm_load_ok(m);
    run_expect(g, &in, 1, F, 3, (int64_t[]){3, 2, 1}, x);
    ond_graph_free(g);

    m = one_node(13, "Squeeze", "x,a", F, 2, (int64_t[]){3, 2}, &n);
    tm_init(m, "a", I64, 1, (int64_t[]){1}, (int64_t[]){0});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "cannot squeeze axis 0 of size 3");
    m = one_node(13, "Unsqueeze", "x,a", F, 2, (int64_t[]){3, 2}, &n);
    tm_init(m, "a", I64, 1, (int64_t[]){2}, (int64_t[]){1, -3});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "axis 1 is repeated");
    m = one_node(11, "Unsqueeze", "x", F, 2, (int64_t[]){3, 2}, &n);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "attribute 'axes' is required");
}

static void test_transpose(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    int32_t x[6] = {1, 2, 3, 4, 5, 6}, want[6] = {1, 4, 2, 5, 3, 6};
    struct tm *m = one_node(13, "Transpose", "x", I32, 2, (int64_t[]){2, 3}, &n);
    struct ond_graph *g = tm_load_ok(m);
    struct ond_value in = ond_test_value("x", I32, 2, (int64_t[]){2, 3}, x);
    run_expect(g, &in, 1, I32, 2, (int64_t[]){3, 2}, want);
    ond_graph_free(g);

    /* NCHW [1,2,2,2] -> NHWC: channel planes interleave. */
    float y[8] = {0, 1, 2, 3, 10, 11, 12, 13}, ywant[8] = {0, 10, 1, 11, 2, 12, 3, 13};
    m = one_node(13, "Transpose", "x", F, 4, (int64_t[]){N_SYM, 2, 2, 2}, &n);
    tm_attr_ints(m, n, "perm", 4, (int64_t[]){0, 2, 3, 1});
    g = tm_load_ok(m);
    assert_true(out_info(g)->dims[0] <= -2);
    in = ond_test_value("x", F, 4, (int64_t[]){1, 2, 2, 2}, y);
    run_expect(g, &in, 1, F, 4, (int64_t[]){1, 2, 2, 2}, ywant);
    ond_graph_free(g);

    m = one_node(13, "Transpose", "x", F, 2, (int64_t[]){2, 3}, &n);
    tm_attr_ints(m, n, "perm", 2, (int64_t[]){0, 0});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "attribute 'perm' is not a permutation");
    m = one_node(13, "Transpose", "x", F, 2, (int64_t[]){2, 3}, &n);
    tm_attr_ints(m, n, "perm", 3, (int64_t[]){0, 2, 1});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "3 values for an input of rank 2");
}

static void test_concat(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    int64_t a[2] = {1, 2}, b[4] = {3, 4, 5, 6}, want0[6] = {1, 2, 3, 4, 5, 6};
    struct tm *m = one_node(13, "Concat", "x,b", I64, 2, (int64_t[]){1, 2}, &n);
    tm_attr_int(m, n, "axis", 0);
    tm_init(m, "b", I64, 2, (int64_t[]){2, 2}, b);
    struct ond_graph *g = tm_load_ok(m);
    struct ond_value in = ond_test_value("x", I64, 2, (int64_t[]){1, 2}, a);
    run_expect(g, &in, 1, I64, 2, (int64_t[]){3, 2}, want0);
    ond_graph_free(g);

    /* Along -1 of [2,1] and [2,2]: each row gets a then b's row. */
    int64_t want1[6] = {1, 3, 4, 2, 5, 6};
    m = one_node(13, "Concat", "x,b", I64, 2, (int64_t[]){2, 1}, &n);
    tm_attr_int(m, n, "axis", -1);
    tm_init(m, "b", I64, 2, (int64_t[]){2, 2}, b);
    g = tm_load_ok(m);
    in = ond_test_value("x", I64, 2, (int64_t[]){2, 1}, a);
    run_expect(g, &in, 1, I64, 2, (int64_t[]){2, 3}, want1);
    ond_graph_free(g);

    m = one_node(13, "Concat", "x,b", I64, 2, (int64_t[]){1, 3}, &n);
    tm_attr_int(m, n, "axis", 0);
    tm_init(m, "b", I64, 2, (int64_t[]){2, 2}, b);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "input 1 has 2 at dim 1, another input 3");
    m = one_node(13, "Concat", "x,b", I64, 2, (int64_t[]){1, 2}, &n);
    tm_init(m, "b", I64, 2, (int64_t[]){2, 2}, b);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "attribute 'axis' is required");
}

static void test_shape(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    float x[24] = {0};
    struct ond_value in = ond_test_value("x", F, 3, (int64_t[]){2, 3, 4}, x);
    struct tm *m = one_node(13, "Shape", "x", F, 3, (int64_t[]){N_SYM, 3, 4}, &n);
    struct ond_graph *g = tm_load_ok(m);
    assert_int_equal(out_info(g)->dtype, I64);
    assert_int_equal(out_info(g)->dims[0], 3);
    run_expect(g, &in, 1, I64, 1, (int64_t[]){3}, (int64_t[]){2, 3, 4});
    ond_graph_free(g);

    m = one_node(15, "Shape", "x", F, 3, (int64_t[]){2, 3, 4}, &n);
    tm_attr_int(m, n, "start", -2);
    tm_attr_int(m, n, "end", 10);
    g = tm_load_ok(m);
    run_expect(g, &in, 1, I64, 1, (int64_t[]){2}, (int64_t[]){3, 4});
    ond_graph_free(g);

    m = one_node(15, "Shape", "x", F, 3, (int64_t[]){2, 3, 4}, &n);
    tm_attr_float(m, n, "start", 1.0f);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "attribute 'start' must be INT, got FLOAT");
}

static void test_gather(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    float x[6] = {1, 2, 3, 4, 5, 6};
    struct ond_value in = ond_test_value("x", F, 2, (int64_t[]){3, 2}, x);
    struct tm *m = one_node(13, "Gather", "x,i", F, 2, (int64_t[]){3, 2}, &n);
    tm_init(m, "i", I32, 1, (int64_t[]){2}, (int32_t[]){2, -3});
    struct ond_graph *g = tm_load_ok(m);
    run_expect(g, &in, 1, F, 2, (int64_t[]){2, 2}, (float[]){5, 6, 1, 2});
    ond_graph_free(g);

    /* Scalar index along axis 1 drops that axis. */
    m = one_node(13, "Gather", "x,i", F, 2, (int64_t[]){3, 2}, &n);
    tm_attr_int(m, n, "axis", 1);
    tm_init(m, "i", I64, 0, NULL, (int64_t[]){1});
    g = tm_load_ok(m);
    run_expect(g, &in, 1, F, 1, (int64_t[]){3}, (float[]){2, 4, 6});
    ond_graph_free(g);

    m = one_node(13, "Gather", "x,i", F, 2, (int64_t[]){3, 2}, &n);
    tm_init(m, "i", I64, 1, (int64_t[]){1}, (int64_t[]){3});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "node 'n' (Gather): index 3 at 0 is out of range");

    /* Indices fed at run time: a bad one is the caller's error. */
    m = tm_new(8, 13);
    tm_input(m, "x", F, 2, (int64_t[]){3, 2});
    tm_input(m, "i", I64, 1, (int64_t[]){1});
    tm_node(m, "Gather", "n", "x,i", "y");
    tm_output(m, "y");
    g = tm_load_ok(m);
    struct ond_value ins[2] = {in, ond_test_value("i", I64, 1, (int64_t[]){1}, (int64_t[]){-4})};
    run_fails(g, ins, 2, OND_STATUS_INVALID_INPUT, "node 'n' (Gather): index -4");
    ond_graph_free(g);
}

static void test_cast(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    float x[4] = {1.5f, -2.7f, 3.0f, 0.0f};
    struct ond_value in = ond_test_value("x", F, 1, (int64_t[]){4}, x);
    struct tm *m = one_node(13, "Cast", "x", F, 1, (int64_t[]){4}, &n);
    tm_attr_int(m, n, "to", I32);
    struct ond_graph *g = tm_load_ok(m);
    run_expect(g, &in, 1, I32, 1, (int64_t[]){4}, (int32_t[]){1, -2, 3, 0});
    ond_graph_free(g);

    /* float16 bits: 1 = 0x3c00, 65504 = 0x7bff (largest), 0.1 rounds to 0x2e66, 1e-7 is
     * subnormal 2 (1e-7 / 2^-24 = 1.68, rounded). */
    float h[4] = {1.0f, 65504.0f, 0.1f, 1e-7f};
    m = one_node(13, "Cast", "x", F, 1, (int64_t[]){4}, &n);
    tm_attr_int(m, n, "to", OND_DTYPE_FLOAT16);
    g = tm_load_ok(m);
    in = ond_test_value("x", F, 1, (int64_t[]){4}, h);
    run_expect(g, &in, 1, OND_DTYPE_FLOAT16, 1, (int64_t[]){4},
               (uint16_t[]){0x3c00, 0x7bff, 0x2e66, 0x0002});
    ond_graph_free(g);

    /* Opset 1 names the type; any nonzero is true. */
    m = one_node(1, "Cast", "x", I64, 1, (int64_t[]){3}, &n);
    tm_attr_string(m, n, "to", "BOOL");
    g = tm_load_ok(m);
    in = ond_test_value("x", I64, 1, (int64_t[]){3}, (int64_t[]){0, 5, -1});
    run_expect(g, &in, 1, OND_DTYPE_BOOL, 1, (int64_t[]){3}, (uint8_t[]){0, 1, 1});
    ond_graph_free(g);

    m = one_node(13, "Cast", "x", F, 1, (int64_t[]){4}, &n);
    tm_attr_int(m, n, "to", 8);
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "attribute 'to': type string is not supported");
}

static void test_pad(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    float x[4] = {1, 2, 3, 4};
    struct ond_value in = ond_test_value("x", F, 2, (int64_t[]){2, 2}, x);
    /* pads [begin0, begin1, end0, end1] = [0, 1, 1, 0]: a column before, a row after. */
    struct tm *m = one_node(13, "Pad", "x,p,v", F, 2, (int64_t[]){2, 2}, &n);
    tm_init(m, "p", I64, 1, (int64_t[]){4}, (int64_t[]){0, 1, 1, 0});
    tm_init(m, "v", F, 0, NULL, (float[]){9});
    struct ond_graph *g = tm_load_ok(m);
    run_expect(g, &in, 1, F, 2, (int64_t[]){3, 3}, (float[]){9, 1, 2, 9, 3, 4, 9, 9, 9});
    ond_graph_free(g);

    int64_t r[3] = {1, 2, 3};
    struct ond_value rin = ond_test_value("x", I64, 1, (int64_t[]){3}, r);
    m = one_node(13, "Pad", "x,p", I64, 1, (int64_t[]){3}, &n);
    tm_attr_string(m, n, "mode", "reflect");
    tm_init(m, "p", I64, 1, (int64_t[]){2}, (int64_t[]){2, 2});
    g = tm_load_ok(m);
    run_expect(g, &rin, 1, I64, 1, (int64_t[]){7}, (int64_t[]){3, 2, 1, 2, 3, 2, 1});
    ond_graph_free(g);

    m = one_node(13, "Pad", "x,p", I64, 1, (int64_t[]){3}, &n);
    tm_attr_string(m, n, "mode", "edge");
    tm_init(m, "p", I64, 1, (int64_t[]){2}, (int64_t[]){2, -1});
    g = tm_load_ok(m);
    run_expect(g, &rin, 1, I64, 1, (int64_t[]){4}, (int64_t[]){1, 1, 1, 2});
    ond_graph_free(g);

    /* Opset 2: pads and value are attributes; the batch symbol is not padded. */
    m = one_node(2, "Pad", "x", F, 2, (int64_t[]){N_SYM, 2}, &n);
    tm_attr_ints(m, n, "pads", 4, (int64_t[]){0, 1, 0, 0});
    tm_attr_float(m, n, "value", 5.0f);
    g = tm_load_ok(m);
    assert_true(out_info(g)->dims[0] <= -2);
    assert_int_equal(out_info(g)->dims[1], 3);
    run_expect(g, &in, 1, F, 2, (int64_t[]){2, 3}, (float[]){5, 1, 2, 5, 3, 4});
    ond_graph_free(g);

    m = one_node(13, "Pad", "x,p", F, 2, (int64_t[]){2, 2}, &n);
    tm_attr_string(m, n, "mode", "wrap");
    tm_init(m, "p", I64, 1, (int64_t[]){4}, NULL);
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "attribute 'mode': 'wrap' is not supported");
    m = one_node(13, "Pad", "x,p", F, 2, (int64_t[]){2, 2}, &n);
    tm_init(m, "p", I64, 1, (int64_t[]){2}, NULL);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "pads has 2 values, expected 2 x 2");
}

/* An attribute of type FLOATS: tm has no helper for it. */
static void attr_floats(struct tm *m, Onnx__NodeProto *n, const char *name, size_t count,
                        const float *v)
{
    tm_attr_float(m, n, name, 0.0f);
    Onnx__AttributeProto *a = n->attribute[n->n_attribute - 1];
    a->has_f = 0;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    a->n_floats = count;
    a->floats = tm_alloc(m, sizeof *v * count);
    memcpy(a->floats, v, sizeof *v * count);
}

static void test_constant(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    Onnx__NodeProto *n = tm_node(m, "Constant", "c", NULL, "y");
    tm_attr_tensor(m, n, "value", tm_tensor(m, I32, 2, (int64_t[]){1, 2}, (int32_t[]){7, 8}));
    tm_output(m, "y");
    struct ond_graph *g = tm_load_ok(m);
    assert_non_null(out_info(g)->data);
    run_expect(g, NULL, 0, I32, 2, (int64_t[]){1, 2}, (int32_t[]){7, 8});
    ond_graph_free(g);

    m = tm_new(8, 13);
    n = tm_node(m, "Constant", "c", NULL, "y");
    attr_floats(m, n, "value_floats", 3, (float[]){1.5f, 2, 3});
    tm_output(m, "y");
    g = tm_load_ok(m);
    run_expect(g, NULL, 0, F, 1, (int64_t[]){3}, (float[]){1.5f, 2, 3});
    ond_graph_free(g);

    m = tm_new(8, 13);
    n = tm_node(m, "Constant", "c", NULL, "y");
    tm_attr_int(m, n, "value_int", -4);
    tm_output(m, "y");
    g = tm_load_ok(m);
    run_expect(g, NULL, 0, I64, 0, NULL, (int64_t[]){-4});
    ond_graph_free(g);

    m = tm_new(8, 13);
    n = tm_node(m, "Constant", "c", NULL, "y");
    tm_attr_string(m, n, "value_string", "hello");
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "attribute 'value_string' is not supported");
    m = tm_new(8, 13);
    n = tm_node(m, "Constant", "c", NULL, "y");
    tm_attr_int(m, n, "value_int", 1);
    tm_attr_ints(m, n, "value_ints", 1, (int64_t[]){1});
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "'value_int' and 'value_ints' are both set");
}

static void test_constant_of_shape(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    struct tm *m = one_node(13, "ConstantOfShape", "x", I64, 1, (int64_t[]){2}, &n);
    tm_attr_tensor(m, n, "value", tm_tensor(m, I32, 1, (int64_t[]){1}, (int32_t[]){7}));
    struct ond_graph *g = tm_load_ok(m);
    assert_int_equal(out_info(g)->dtype, I32);
    assert_int_equal(out_info(g)->rank, 2);
    struct ond_value in = ond_test_value("x", I64, 1, (int64_t[]){2}, (int64_t[]){2, 3});
    run_expect(g, &in, 1, I32, 2, (int64_t[]){2, 3}, (int32_t[]){7, 7, 7, 7, 7, 7});
    ond_graph_free(g);

    /* Default value float 0; a constant shape is computed at load. */
    m = tm_new(8, 13);
    tm_init(m, "s", I64, 1, (int64_t[]){2}, (int64_t[]){1, 2});
    tm_node(m, "ConstantOfShape", "n", "s", "y");
    tm_output(m, "y");
    g = tm_load_ok(m);
    assert_non_null(out_info(g)->data);
    run_expect(g, NULL, 0, F, 2, (int64_t[]){1, 2}, (float[]){0, 0});
    ond_graph_free(g);

    /* 2^40 elements: shape known at load, never allocated; the run refuses it. */
    m = one_node(13, "ConstantOfShape", "x", I64, 1, (int64_t[]){2}, &n);
    g = tm_load_ok(m);
    in = ond_test_value("x", I64, 1, (int64_t[]){2}, (int64_t[]){1 << 20, 1 << 20});
    run_fails(g, &in, 1, OND_STATUS_LIMIT, "too large");
    ond_graph_free(g);

    int64_t huge = (int64_t)1 << 40;
    m = tm_new(8, 13);
    tm_init(m, "s", I64, 1, (int64_t[]){3}, (int64_t[]){huge, huge, huge});
    tm_node(m, "ConstantOfShape", "n", "s", "y");
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_LIMIT, "node 'n' (ConstantOfShape): the output shape has too many");
    m = tm_new(8, 13);
    tm_init(m, "s", I64, 1, (int64_t[]){2}, (int64_t[]){2, -1});
    tm_node(m, "ConstantOfShape", "n", "s", "y");
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "shape value -1 at 1 is negative");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flatten),
        cmocka_unit_test(test_reshape),
        cmocka_unit_test(test_dynamic_flatten),
        cmocka_unit_test(test_squeeze_unsqueeze),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_cast),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_constant_of_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
