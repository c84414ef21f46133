/* test_ops_cnn.c: convolution, normalization, pooling and matrix-product ops (Conv,
 * BatchNormalization, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, LRN, Gemm,
 * MatMul) on what the ONNX node tests leave out: old-opset attributes, broadcasting corners,
 * refused attributes, shape inference with a symbolic batch, MACs. Models are built in
 * memory and run through the reference interpreter (every op's eval). Expected values were
 * computed with numpy and torch.nn.functional (Debian's) on the inputs of seq() below. */
#include <math.h>
#include <stdlib.h>

#include "ops/op.h"
#include "runtime/reference.h"
#include "tests/util.h"

#define F OND_DTYPE_FLOAT

/* The deterministic inputs: ((i * 7) % mod - off) * mul. */
static float *seq(size_t n, double mul, int mod, int off)
{
    float *v = malloc(sizeof *v * (n ? n : 1));
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)((double)((int)(i * 7 % (size_t)mod) - off) * mul);
    return v;
}

static float *seq_a(size_t n) { return seq(n, 0.37, 11, 5); }
static float *seq_b(size_t n) { return seq(n, 0.21, 13, 6); }

/* Runs g on float inputs (graph inputs, in order) and returns output `o`, malloc'd. */
static struct ond_value run(struct ond_graph *g, int n_in, float *const *data, int o)
{
    struct ond_value in[8], out[8];
    struct ond_error err = {0};
    assert_true(n_in == g->n_inputs && g->n_outputs <= 8);
    for (int i = 0; i < n_in; i++) {
        const struct ond_info *info = &g->inputs[i]->info;
        in[i] = (struct ond_value){.name = g->inputs[i]->name, .dtype = F, .rank = info->rank,
                                   .data = data[i]};
        memcpy(in[i].dims, info->dims, sizeof(int64_t) * (size_t)info->rank);
        in[i].size = ond_test_numel(info->rank, info->dims) * sizeof(float);
    }
    enum ond_status st = ond_reference_run(g, in, (size_t)n_in, out, NULL, NULL, &err);
    if (st)
        print_error("run: %s\n", err.message);
    assert_int_equal(st, OND_OK);
    for (int i = 0; i < g->n_outputs; i++) {
        free((void *)out[i].name);
        if (i != o)
            free(out[i].data);
    }
    return out[o];
}

static void assert_dims(const struct ond_value *v, int rank, const int64_t *dims)
{
    assert_int_equal(v->rank, rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(v->dims[i], dims[i]);
}

/* ---- MatMul ---- */

static const float mm_batch_want[48] = {
    2.02020025e+00f, -6.99299932e-01f, 1.63170004e+00f, -1.08780003e+00f, -2.17560005e+00f,
    -5.43899894e-01f, -1.94250011e+00f, -3.10799956e-01f, -3.10799986e-01f, 2.02020025e+00f,
    -6.99299932e-01f, 1.63170004e+00f, -7.77000010e-01f, -2.17560005e+00f, -5.43899894e-01f,
    -1.94250011e+00f, -2.64179993e+00f, -3.10799986e-01f, 2.02020025e+00f, -6.99299932e-01f,
    2.64180017e+00f, -7.77000010e-01f, -2.17560005e+00f, -5.43899894e-01f, -1.24320006e+00f,
    -1.24319994e+00f, -1.24319994e+00f, -1.24320006e+00f, -3.10800016e-01f, -1.94250000e+00f,
    -5.43899894e-01f, -2.17560005e+00f, -1.24319994e+00f, -1.24320006e+00f, -1.24319994e+00f,
    -1.24319994e+00f, -1.70940006e+00f, -3.10800016e-01f, -1.94250000e+00f, -5.43899894e-01f,
    2.79719996e+00f, -1.24319994e+00f, -1.24320006e+00f, -1.24319994e+00f, 2.95260000e+00f,
    -1.70940006e+00f, -3.10800016e-01f, -1.94250000e+00f,
};
static const float mm_vec_mat_want[8] = {
    2.02020025e+00f, -6.99299932e-01f, 1.63170004e+00f, -1.08780003e+00f, -3.10799986e-01f,
    2.02020025e+00f, -6.99299932e-01f, 1.63170004e+00f,
};
static const float mm_mat_vec_want[6] = {
    2.91059995e+00f, 2.20499992e+00f, 1.49939990e+00f, -9.26099896e-01f, -1.63170004e+00f,
    -2.33729982e+00f,
};

/* [2,1,2,3] x [3,3,4] -> [2,3,2,4], and the MACs. */
static void test_matmul_batch_broadcast(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "a", F, 4, (int64_t[]){2, 1, 2, 3});
    tm_input(m, "b", F, 3, (int64_t[]){3, 3, 4});
    tm_node(m, "MatMul", "mm", "a,b", "y");
    tm_output(m, "y");
    struct ond_graph *g = tm_load_ok(m);
    float *a = seq_a(12), *b = seq_b(36);
    struct ond_value y = run(g, 2, (float *[]){a, b}, 0);
    assert_dims(&y, 4, (int64_t[]){2, 3, 2, 4});
    assert_close(y.data, mm_batch_want, 48, 1e-5f, 1e-5f);
    assert_int_equal(g->nodes[0]->op->macs(g->nodes[0]), 48 * 3);
    free(y.data);
    free(a);
    free(b);
    ond_graph_free(g);
}

/* 1-D operands: [3] x [2,3,4] -> [2,4]; [2,3,4] x [4] -> [2,3]; [4] x [4] -> scalar. */
static void test_matmul_vectors(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 9);
    tm_input(m, "v3", F, 1, (int64_t[]){3});
    tm_input(m, "t", F, 3, (int64_t[]){2, 3, 4});
    tm_input(m, "v4", F, 1, (int64_t[]){4});
    tm_node(m, "MatMul", "vm", "v3,t", "y0");
    tm_node(m, "MatMul", "mv", "t,v4", "y1");
    tm_node(m, "MatMul", "dot", "v4,v4", "y2");
    tm_output(m, "y0");
    tm_output(m, "y1");
    tm_output(m, "y2");
    struct ond_graph *g = tm_load_ok(m);
    float *v3 = seq_a(3), *t = seq_b(24), *v4 = seq_b(4);
    float *in[] = {v3, t, v4};
    struct ond_value y0 = run(g, 3, in, 0), y1 = run(g, 3, in, 1), y2 = run(g, 3, in, 2);
    assert_dims(&y0, 2, (int64_t[]){2, 4});
    assert_close(y0.data, mm_vec_mat_want, 8, 1e-5f, 1e-5f);
    assert_dims(&y1, 2, (int64_t[]){2, 3});
    assert_close(y1.data, mm_mat_vec_want, 6, 1e-5f, 1e-5f);
    assert_int_equal(y2.rank, 0);
    float dot = 0;
    for (int i = 0; i < 4; i++)
        dot += v4[i] * v4[i];
    assert_close(y2.data, &dot, 1, 1e-5f, 1e-6f);
    free(y0.data);
    free(y1.data);
    free(y2.data);
    free(v3);
    free(t);
    free(v4);
    ond_graph_free(g);
}

static void test_matmul_shapes(void **state)
{
    (void)state;
    /* A symbolic batch is carried through; broadcast batch dims. */
    struct tm *m = tm_new(8, 13);
    tm_input(m, "a", F, 3, (int64_t[]){-1, 5, 3});
    tm_init(m, "w", F, 2, (int64_t[]){3, 7}, NULL);
    tm_node(m, "MatMul", "mm", "a,w", "y");
    tm_output(m, "y");
    struct ond_graph *g = tm_load_ok(m);
    const struct ond_info *y = &g->outputs[0]->info;
    assert_int_equal(y->rank, 3);
    assert_true(y->dims[0] <= -2);
    assert_int_equal(y->dims[1], 5);
    assert_int_equal(y->dims[2], 7);
    ond_graph_free(g);

    m = tm_new(8, 13);
    tm_input(m, "a", F, 2, (int64_t[]){5, 3});
    tm_input(m, "b", F, 2, (int64_t[]){4, 7});
    tm_node(m, "MatMul", "mm", "a,b", "y");
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "inner dims differ");

    m = tm_new(8, 13);
    tm_input(m, "a", F, 3, (int64_t[]){2, 5, 3});
    tm_input(m, "b", F, 3, (int64_t[]){3, 3, 7});
    tm_node(m, "MatMul", "mm", "a,b", "y");
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "cannot broadcast");

    m = tm_new(8, 13);
    tm_input(m, "a", OND_DTYPE_INT32, 2, (int64_t[]){2, 2});
    tm_input(m, "b", OND_DTYPE_INT32, 2, (int64_t[]){2, 2});
    tm_node(m, "MatMul", "mm", "a,b", "y");
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "only float");
}

/* ---- Gemm ---- */

static const float gemm_want[8] = {
    -1.10644996e+00f, -1.96115005e+00f, -1.80574989e+00f, -2.66044998e+00f, 3.10799956e-01f,
    -9.71250057e-01f, 7.77000010e-01f, -5.05050004e-01f,
};

/* transA, transB, alpha 0.5, beta 2, C [M,1] broadcast over N; MACs M*N*K. */
static void test_gemm_trans_column_bias(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "a", F, 2, (int64_t[]){3, 2});
    tm_input(m, "b", F, 2, (int64_t[]){4, 3});
    tm_input(m, "c", F, 2, (int64_t[]){2, 1});
    Onnx__NodeProto *n = tm_node(m, "Gemm", "gemm", "a,b,c", "y");
    tm_attr_int(m, n, "transA", 1);
    tm_attr_int(m, n, "transB", 1);
    tm_attr_float(m, n, "alpha", 0.5f);
    tm_attr_float(m, n, "beta", 2.0f);
    tm_output(m, "y");
    struct ond_graph *g = tm_load_ok(m);
    float *a = seq_a(6), *b = seq_b(12), *c = seq(2, 0.5, 5, 2);
    struct ond_value y = run(g, 3, (float *[]){a, b, c}, 0);
    assert_dims(&y, 2, (int64_t[]){2, 4});
    assert_close(y.data, gemm_want, 8, 1e-5f, 1e-5f);
    assert_int_equal(g->nodes[0]->op->macs(g->nodes[0]), 2 * 4 * 3);
    free(y.data);
    free(a);
    free(b);
    free(c);
    ond_graph_free(g);
}

/* Builds Gemm A [2,3] x B [3,4] + C of the given shape at opset; broadcast < 0: absent. */
static struct tm *gemm_model(int64_t opset, int c_rank, const int64_t *c_dims, int broadcast)
{
    struct tm *m = tm_new(3, opset);
    tm_input(m, "a", F, 2, (int64_t[]){2, 3});
    tm_init(m, "b", F, 2, (int64_t[]){3, 4}, NULL);
    if (c_rank >= 0)
        tm_init(m, "c", F, c_rank, c_dims, NULL);
    Onnx__NodeProto *n = tm_node(m, "Gemm", "gemm", c_rank >= 0 ? "a,b,c" : "a,b", "y");
    if (broadcast >= 0)
        tm_attr_int(m, n, "broadcast", broadcast);
    tm_output(m, "y");
    return m;
}

static void test_gemm_bias_rules(void **state)
{
    (void)state;
    struct ond_graph *g;
    /* Opset 6: C [N] needs broadcast=1; [M,N] is fine without. */
    tm_load_fails(gemm_model(6, 1, (int64_t[]){4}, -1), OND_STATUS_INVALID_MODEL, "broadcast=0");
    struct tm *m = gemm_model(6, 1, (int64_t[]){4}, 1);
    g = tm_load_ok(m);
    ond_graph_free(g);
    m = gemm_model(6, 2, (int64_t[]){2, 4}, 0);
    g = tm_load_ok(m);
    ond_graph_free(g);
    /* Opset 7+: unidirectional broadcasting only. */
    m = gemm_model(7, 2, (int64_t[]){1, 4}, -1);
    g = tm_load_ok(m);
    ond_graph_free(g);
    tm_load_fails(gemm_model(7, 2, (int64_t[]){3, 4}, -1), OND_STATUS_INVALID_MODEL,
               "C dim 0 is 3");
    tm_load_fails(gemm_model(7, 3, (int64_t[]){1, 2, 4}, -1), OND_STATUS_INVALID_MODEL,
               "C has rank 3");
    /* C is required before opset 11, optional from 11. */
    tm_load_fails(gemm_model(9, -1, NULL, -1), OND_STATUS_INVALID_MODEL, "takes 3 to 3 inputs");
    m = gemm_model(11, -1, NULL, -1);
    g = tm_load_ok(m);
    assert_int_equal(g->outputs[0]->info.dims[0], 2);
    assert_int_equal(g->outputs[0]->info.dims[1], 4);
    ond_graph_free(g);
}

/* ---- BatchNormalization ---- */

/* Y = scale * (X - mean) / sqrt(var + eps) + B, one parameter per index of `per`. */
static void bn_expect(const float *x, const float *const *p, float eps, size_t n, size_t per,
                      size_t inner, float *want)
{
    for (size_t i = 0; i < n; i++) {
        size_t e = i / inner % per;
        want[i] = p[0][e] * (x[i] - p[2][e]) / sqrtf(p[3][e] + eps) + p[1][e];
    }
}

/* Opset 15, X [N,3,2,2] with a symbolic batch; inputs as initializers, so load-time eval
 * folds nothing (X is a run-time input) but the parameters are constants. */
static void test_batchnorm_channels(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 15);
    float *sc = seq(3, 0.5, 5, 1), *bi = seq_b(3), *mean = seq_a(3), *var = seq(3, 0.25, 7, 0);
    for (int i = 0; i < 3; i++)
        var[i] += 0.5f;
    tm_input(m, "x", F, 4, (int64_t[]){-1, 3, 2, 2});
    tm_init(m, "scale", F, 1, (int64_t[]){3}, sc);
    tm_init(m, "b", F, 1, (int64_t[]){3}, bi);
    tm_init(m, "mean", F, 1, (int64_t[]){3}, mean);
    tm_init(m, "var", F, 1, (int64_t[]){3}, var);
    Onnx__NodeProto *n = tm_node(m, "BatchNormalization", "bn", "x,scale,b,mean,var", "y");
    tm_attr_float(m, n, "epsilon", 1e-3f);
    tm_output(m, "y");
    struct ond_graph *g = tm_load_ok(m);
    assert_true(g->outputs[0]->info.dims[0] <= -2);
    /* The run gives a batch of 2. */
    g->inputs[0]->info.dims[0] = 2;
    float *x = seq_a(24), want[24];
    struct ond_value y = run(g, 1, (float *[]){x}, 0);
    bn_expect(x, (const float *[]){sc, bi, mean, var}, 1e-3f, 24, 3, 4, want);
    assert_dims(&y, 4, (int64_t[]){2, 3, 2, 2});
    assert_close(y.data, want, 24, 1e-5f, 1e-6f);
    free(y.data);
    free(x);
    free(sc);
    free(bi);
    free(mean);
    free(var);
    ond_graph_free(g);
}

/* Opset 7, spatial=0: parameters [C, D] per element; is_test ignored. */
static void test_batchnorm_spatial0(void **state)
{
    (void)state;
    struct tm *m = tm_new(3, 7);
    tm_input(m, "x", F, 3, (int64_t[]){2, 2, 3});
    for (int i = 1; i < 5; i++)
        tm_input(m, (const char *[]){"", "scale", "b", "mean", "var"}[i], F, 2,
                 (int64_t[]){2, 3});
    Onnx__NodeProto *n = tm_node(m, "BatchNormalization", "bn", "x,scale,b,mean,var", "y");
    tm_attr_int(m, n, "spatial", 0);
    tm_output(m, "y");
    struct ond_graph *g = tm_load_ok(m);
    float *x = seq_a(12), *sc = seq(6, 0.5, 5, 1), *bi = seq_b(6), *mean = seq_b(6),
          *var = seq(6, 0.25, 7, 0), want[12];
    struct ond_value y = run(g, 5, (float *[]){x, sc, bi, mean, var}, 0);
    bn_expect(x, (const float *[]){sc, bi, mean, var}, 1e-5f, 12, 6, 1, want);
    assert_close(y.data, want, 12, 1e-5f, 1e-6f);
    free(y.data);
    free(x);
    free(sc);
    free(bi);
    free(mean);
    free(var);
    ond_graph_free(g);

    /* spatial=1 (the default) with [C, D] parameters is a bad model. */
    m = tm_new(3, 7);
    tm_input(m, "x", F, 3, (int64_t[]){2, 2, 3});
    for (int i = 1; i < 5; i++)
        tm_input(m, (const char *[]){"", "scale", "b", "mean", "var"}[i], F, 2,
                 (int64_t[]){2, 3});
    tm_node(m, "BatchNormalization", "bn", "x,scale,b,mean,var", "y");
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "must have shape [2]");
}

/* Opset 9 lists the four training outputs: they get mean and var. */
static void test_batchnorm_extra_outputs(void **state)
{
    (void)state;
    struct tm *m = tm_new(3, 9);
    float *mean = seq_a(2), *var = seq(2, 0.25, 7, 1);
    tm_input(m, "x", F, 2, (int64_t[]){3, 2});
    tm_init(m, "scale", F, 1, (int64_t[]){2}, NULL);
    tm_init(m, "b", F, 1, (int64_t[]){2}, NULL);
    tm_init(m, "mean", F, 1, (int64_t[]){2}, mean);
    tm_init(m, "var", F, 1, (int64_t[]){2}, var);
    tm_node(m, "BatchNormalization", "bn", "x,scale,b,mean,var", "y,m,v,sm,sv");
    for (int i = 0; i < 5; i++)
        tm_output(m, (const char *[]){"y", "m", "v", "sm", "sv"}[i]);
    struct ond_graph *g = tm_load_ok(m);
    float *x = seq_b(6);
    for (int o = 1; o < 5; o++) {
        struct ond_value v = run(g, 1, (float *[]){x}, o);
        assert_dims(&v, 1, (int64_t[]){2});
        assert_close(v.data, o % 2 ? mean : var, 2, 0, 0);
        free(v.data);
    }
    free(x);
    free(mean);
    free(var);
    ond_graph_free(g);
}

static void test_batchnorm_refused(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 14);
    tm_input(m, "x", F, 2, (int64_t[]){3, 2});
    for (int i = 1; i < 5; i++)
        tm_init(m, (const char *[]){"", "scale", "b", "mean", "var"}[i], F, 1, (int64_t[]){2},
                NULL);
    Onnx__NodeProto *n = tm_node(m, "BatchNormalization", "bn", "x,scale,b,mean,var", "y");
    tm_attr_int(m, n, "training_mode", 1);
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "training_mode");

    /* Opset 14 has at most 3 outputs. */
    m = tm_new(8, 14);
    tm_input(m, "x", F, 2, (int64_t[]){3, 2});
    for (int i = 1; i < 5; i++)
        tm_init(m, (const char *[]){"", "scale", "b", "mean", "var"}[i], F, 1, (int64_t[]){2},
                NULL);
    tm_node(m, "BatchNormalization", "bn", "x,scale,b,mean,var", "y,m,v,sm");
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "outputs");
}

/* ---- pooling ---- */

static const float avg_ceil_incl_want[9] = {
    -8.22222233e-02f, 2.05555543e-01f, 2.05555558e-01f, -2.87777781e-01f, -1.64444447e-01f,
    -8.22222233e-02f, 0.00000000e+00f, -1.23333335e-01f, -1.64444447e-01f,
};
static const float avg_ceil_excl_want[9] = {
    -1.85000002e-01f, 3.08333308e-01f, 4.62500006e-01f, -4.31666702e-01f, -1.64444447e-01f,
    -1.23333335e-01f, 0.00000000e+00f, -1.85000002e-01f, -3.70000005e-01f,
};
static const float avg_ceil_nopad_want[9] = {
    0.00000000e+00f, 2.05555558e-01f, -4.31666702e-01f, 3.28888893e-01f, 8.22222233e-02f,
    1.23333335e-01f, 1.23333335e-01f, -1.23333335e-01f, 3.70000005e-01f,
};

static struct tm *avgpool_model(int64_t side, int64_t pad, int include)
{
    struct tm *m = tm_new(8, 11);
    tm_input(m, "x", F, 4, (int64_t[]){1, 1, side, side});
    Onnx__NodeProto *n = tm_node(m, "AveragePool", "pool", "x", "y");
    tm_attr_ints(m, n, "kernel_shape", 2, (int64_t[]){3, 3});
    tm_attr_ints(m, n, "strides", 2, (int64_t[]){2, 2});
    tm_attr_ints(m, n, "pads", 4, (int64_t[]){pad, pad, pad, pad});
    tm_attr_int(m, n, "ceil_mode", 1);
    tm_attr_int(m, n, "count_include_pad", include);
    tm_output(m, "y");
    return m;
}

/* ceil_mode windows that run past the padded input, with and without count_include_pad
 * (as torch.nn.functional.avg_pool2d). */
static void test_averagepool_ceil_count_include_pad(void **state)
{
    (void)state;
    struct {
        int64_t side, pad;
        int include;
        const float *want;
    } cases[] = {
        {5, 1, 1, avg_ceil_incl_want},
        {5, 1, 0, avg_ceil_excl_want},
        {6, 0, 1, avg_ceil_nopad_want},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tm *m = avgpool_model(cases[i].side, cases[i].pad, cases[i].include);
        struct ond_graph *g = tm_load_ok(m);
        float *x = seq_a((size_t)(cases[i].side * cases[i].side));
        struct ond_value y = run(g, 1, (float *[]){x}, 0);
        assert_dims(&y, 4, (int64_t[]){1, 1, 3, 3});
        assert_close(y.data, cases[i].want, 9, 1e-5f, 1e-6f);
        free(y.data);
        free(x);
        ond_graph_free(g);
    }
}

/* Opset 1 AveragePool reads no count_include_pad (pads never count) nor ceil_mode. */
static void test_averagepool_opset1(void **state)
{
    (void)state;
    struct tm *m = tm_new(3, 1);
    tm_input(m, "x", F, 3, (int64_t[]){1, 1, 4});
    Onnx__NodeProto *n = tm_node(m, "AveragePool", "pool", "x", "y");
    tm_attr_ints(m, n, "kernel_shape", 1, (int64_t[]){2});
    tm_attr_ints(m, n, "pads", 2, (int64_t[]){1, 1});
    tm_attr_int(m, n, "count_include_pad", 1);
    tm_output(m, "y");
    struct ond_graph *g = tm_load_ok(m);
    float x[4] = {1, 2, 3, 4}, want[5] = {1, 1.5f, 2.5f, 3.5f, 4};
    struct ond_value y = run(g, 1, (float *[]){x}, 0);
    assert_dims(&y, 3, (int64_t[]){1, 1, 5});
    assert_close(y.data, want, 5, 0, 0);
    free(y.data);
    ond_graph_free(g);
}

static void test_maxpool_refused(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 12);
    tm_input(m, "x", F, 4, (int64_t[]){1, 1, 4, 4});
    Onnx__NodeProto *n = tm_node(m, "MaxPool", "pool", "x", "y,idx");
    tm_attr_ints(m, n, "kernel_shape", 2, (int64_t[]){2, 2});
    tm_output(m, "y");
    tm_output(m, "idx");
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "Indices");

    m = tm_new(8, 12);
    tm_input(m, "x", F, 4, (int64_t[]){1, 1, 4, 4});
    n = tm_node(m, "MaxPool", "pool", "x", "y");
    tm_attr_ints(m, n, "kernel_shape", 2, (int64_t[]){2, 2});
    tm_attr_int(m, n, "storage_order", 1);
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "storage_order");

    m = tm_new(8, 12);
    tm_input(m, "x", F, 4, (int64_t[]){1, 1, 4, 4});
    tm_node(m, "MaxPool", "pool", "x", "y");
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "kernel_shape' is required");

    m = tm_new(8, 12);
    tm_input(m, "x", F, 4, (int64_t[]){1, 1, 4, 4});
    n = tm_node(m, "MaxPool", "pool", "x", "y");
    tm_attr_ints(m, n, "kernel_shape", 1, (int64_t[]){2});
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "spatial dims");

    /* Opset 1 has no second output. */
    m = tm_new(3, 1);
    tm_input(m, "x", F, 4, (int64_t[]){1, 1, 4, 4});
    n = tm_node(m, "MaxPool", "pool", "x", "y,idx");
    tm_attr_ints(m, n, "kernel_shape", 2, (int64_t[]){2, 2});
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "outputs");
}

/* Padding never wins, even over negative inputs; SAME_LOWER pads at the start. */
static void test_maxpool_negative_pads(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 8);
    tm_input(m, "x", F, 3, (int64_t[]){1, 1, 5});
    Onnx__NodeProto *n = tm_node(m, "MaxPool", "pool", "x", "y");
    tm_attr_ints(m, n, "kernel_shape", 1, (int64_t[]){2});
    tm_attr_ints(m, n, "strides", 1, (int64_t[]){2});
    tm_attr_string(m, n, "auto_pad", "SAME_LOWER");
    tm_output(m, "y");
    struct ond_graph *g = tm_load_ok(m);
    float x[5] = {-5, -4, -3, -2, -1}, want[3] = {-5, -3, -1};
    struct ond_value y = run(g, 1, (float *[]){x}, 0);
    assert_dims(&y, 3, (int64_t[]){1, 1, 3});
    assert_close(y.data, want, 3, 0, 0);
    free(y.data);
    ond_graph_free(g);
}

/* Symbolic batch through both global pools; 1-D spatial. */
static void test_global_pools(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 3, (int64_t[]){-1, 2, 3});
    tm_node(m, "GlobalAveragePool", "gap", "x", "a");
    tm_node(m, "GlobalMaxPool", "gmp", "x", "b");
    tm_output(m, "a");
    tm_output(m, "b");
    struct ond_graph *g = tm_load_ok(m);
    for (int o = 0; o < 2; o++) {
        const struct ond_info *info = &g->outputs[o]->info;
        assert_int_equal(info->rank, 3);
        assert_true(info->dims[0] <= -2);
        assert_int_equal(info->dims[1], 2);
        assert_int_equal(info->dims[2], 1);
    }
    g->inputs[0]->info.dims[0] = 2;
    float x[12] = {1, 2, 6, -1, -2, -3, 0, 0, 3, 4, 4, 4};
    float avg[4] = {3, -2, 1, 4}, max[4] = {6, -1, 3, 4};
    struct ond_value a = run(g, 1, (float *[]){x}, 0), b = run(g, 1, (float *[]){x}, 1);
    assert_dims(&a, 3, (int64_t[]){2, 2, 1});
    assert_close(a.data, avg, 4, 1e-6f, 0);
    assert_close(b.data, max, 4, 0, 0);
    free(a.data);
    free(b.data);
    ond_graph_free(g);
}

/* ---- LRN ---- */

static const float lrn_even_want[20] = {
    -1.43406892e+00f, 5.76731920e-01f, -5.76888323e-01f, 1.43099558e+00f, 2.86506027e-01f,
    -8.64161193e-01f, 1.14602411e+00f, 0.00000000e+00f, -1.15096962e+00f, 8.61367285e-01f,
    -2.86813796e-01f, -1.43406892e+00f, 5.75640321e-01f, -5.75640321e-01f, 1.44026864e+00f,
    2.86813796e-01f, -8.67215395e-01f, 1.15408969e+00f, 0.00000000e+00f, -1.15503013e+00f,
};

/* An even size takes one channel before and two after. */
static void test_lrn_even_size(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){1, 5, 2, 2});
    Onnx__NodeProto *n = tm_node(m, "LRN", "lrn", "x", "y");
    tm_attr_int(m, n, "size", 4);
    tm_attr_float(m, n, "alpha", 0.02f);
    tm_attr_float(m, n, "beta", 0.6f);
    tm_attr_float(m, n, "bias", 1.5f);
    tm_output(m, "y");
    struct ond_graph *g = tm_load_ok(m);
    float *x = seq_a(20);
    struct ond_value y = run(g, 1, (float *[]){x}, 0);
    assert_close(y.data, lrn_even_want, 20, 1e-5f, 1e-6f);
    free(y.data);
    free(x);
    ond_graph_free(g);

    m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){1, 5, 2, 2});
    tm_node(m, "LRN", "lrn", "x", "y");
    tm_output(m, "y");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "'size' is required");
}

/* ---- Conv ---- */

static const float conv_want[32] = {
    2.43200064e-01f, 3.04040003e+00f, -3.64180017e+00f, -6.59439993e+00f, 2.34109998e+00f,
    4.76300001e-01f, -3.17560005e+00f, -6.76000118e-02f, 6.21599913e-01f, -4.11809969e+00f,
    4.11810017e+00f, 5.59439993e+00f, -6.29370022e+00f, 1.16549993e+00f, 1.01010001e+00f,
    -2.56410003e+00f, -1.48639989e+00f, 3.00699949e-01f, 3.40869975e+00f, -1.64179993e+00f,
    2.01010013e+00f, 5.27349997e+00f, -1.56410003e+00f, 2.22999990e-01f, -1.11499995e-01f,
    2.29719996e+00f, -4.61810017e+00f, 1.99299991e-01f, -1.89200044e-01f, -4.38500023e+00f,
    -4.22300041e-01f, -1.19930005e+00f,
};

/* groups 2, dilations 2, strides (2,1), asymmetric pads, bias: as torch conv2d. The weights
 * are initializers and X a run-time input; a second model with X constant too is folded at
 * load through the same eval. */
static void test_conv_groups_dilations(void **state)
{
    (void)state;
    float *x = seq_a(120), *w = seq_b(48), *b = seq(4, 0.5, 5, 2);
    for (int folded = 0; folded < 2; folded++) {
        struct tm *m = tm_new(8, 11);
        if (folded)
            tm_init(m, "x", F, 4, (int64_t[]){1, 4, 6, 5}, x);
        else
            tm_input(m, "x", F, 4, (int64_t[]){1, 4, 6, 5});
        tm_init(m, "w", F, 4, (int64_t[]){4, 2, 2, 3}, w);
        tm_init(m, "b", F, 1, (int64_t[]){4}, b);
        Onnx__NodeProto *n = tm_node(m, "Conv", "conv", "x,w,b", "y");
        tm_attr_int(m, n, "group", 2);
        tm_attr_ints(m, n, "dilations", 2, (int64_t[]){2, 2});
        tm_attr_ints(m, n, "strides", 2, (int64_t[]){2, 1});
        tm_attr_ints(m, n, "pads", 4, (int64_t[]){1, 0, 2, 1});
        tm_output(m, "y");
        struct ond_graph *g = tm_load_ok(m);
        const struct ond_info *info = &g->outputs[0]->info;
        assert_int_equal(info->rank, 4);
        assert_int_equal(info->dims[2], 4);
        assert_int_equal(info->dims[3], 2);
        if (folded) {
            assert_non_null(info->data);
            assert_close(info->data, conv_want, 32, 1e-5f, 1e-5f);
        } else {
            struct ond_value y = run(g, 1, (float *[]){x}, 0);
            assert_dims(&y, 4, (int64_t[]){1, 4, 4, 2});
            assert_close(y.data, conv_want, 32, 1e-5f, 1e-5f);
            free(y.data);
        }
        ond_graph_free(g);
    }
    free(x);
    free(w);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_batch_broadcast),
        cmocka_unit_test(test_matmul_vectors),
        cmocka_unit_test(test_matmul_shapes),
        cmocka_unit_test(test_gemm_trans_column_bias),
        cmocka_unit_test(test_gemm_bias_rules),
        cmocka_unit_test(test_batchnorm_channels),
        cmocka_unit_test(test_batchnorm_spatial0),
        cmocka_unit_test(test_batchnorm_extra_outputs),
        cmocka_unit_test(test_batchnorm_refused),
        cmocka_unit_test(test_averagepool_ceil_count_include_pad),
        cmocka_unit_test(test_averagepool_opset1),
        cmocka_unit_test(test_maxpool_refused),
        cmocka_unit_test(test_maxpool_negative_pads),
        cmocka_unit_test(test_global_pools),
        cmocka_unit_test(test_lrn_even_size),
        cmocka_unit_test(test_conv_groups_dilations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
