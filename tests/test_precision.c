/* test_precision.c: reduced-precision sessions. Small CNNs (conv, batchnorm, relu, pooling,
 * residual add, gemm, and a Pad that runs as a plain-C eval step), a concat, and a Gemm with
 * alpha and beta run in a bf16 session and are compared with the fp32 reference interpreter
 * within a bf16 tolerance; the profile must show bf16 primitives and the outputs come back
 * f32. Where the CPU has no bf16 kernels the same tests check that the session is refused
 * instead (this machine has AVX512-BF16, so that branch is not exercised here). int8
 * sessions, calibrated on other draws of the test input's distribution than the input they
 * are judged on, are compared with the same reference: exactly on data that lies on the
 * quantization grid, within a few percent of the output's range otherwise, with the profile
 * showing int8 primitives. */
#include <math.h>
#include <string.h>

#include "oneapi/dnnl/dnnl.h"
#include "runtime/model.h"
#include "runtime/reference.h"
#include "runtime/session.h"
#include "tests/util.h"

#define F OND_DTYPE_FLOAT

/* bf16 keeps 8 bits of mantissa: a few roundings of 2^-9 through these small nets. */
#define BF16_RTOL 2e-2f
#define BF16_ATOL 2e-2f

/* y = Conv(x), cout 3x3 filters, weights scaled by 1/cin to keep activations near 1. */
static void conv(struct tm *m, const char *x, const char *y, int64_t cin, int64_t cout)
{
    tm_conv3x3(m, x, y, cin, cout, 1.f / (float)cin, 0.2f);
}

static void batchnorm(struct tm *m, const char *x, const char *y, int64_t c)
{
    char in[200];
    static const char *const params[] = {"scale", "bias", "mean", "var"};
    static const float lo[] = {0.5f, -0.3f, -0.3f, 0.5f}, hi[] = {1.5f, 0.3f, 0.3f, 1.5f};
    int len = snprintf(in, sizeof in, "%s", x);
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%s", y, params[i]);
        tm_init_rand(m, name, 1, &c, lo[i], hi[i]);
        len += snprintf(in + len, sizeof in - (size_t)len, ",%s", name);
    }
    tm_node(m, "BatchNormalization", y, in, y);
}

static const int64_t cnn_input[] = {2, 3, 16, 16};

/* x [2,3,16,16] -> conv 32 -> bn -> relu -> maxpool 2 -> conv 32 -> bn -> add (residual)
 * -> relu -> [Pad when with_eval] -> global average pool -> flatten -> gemm 10 -> "y". */
static struct tm *small_cnn(bool with_eval)
{
    struct tm *m = tm_new(8, 13);
    int64_t wd[] = {10, 32}, c = 32, nc = 10;
    tm_input(m, "x", F, 4, cnn_input);
    conv(m, "x", "c1", 3, c);
    batchnorm(m, "c1", "b1", c);
    tm_node(m, "Relu", "r1", "b1", "r1");
    Onnx__NodeProto *n = tm_node(m, "MaxPool", "p1", "r1", "p1");
    tm_attr_ints(m, n, "kernel_shape", 2, (int64_t[]){2, 2});
    tm_attr_ints(m, n, "strides", 2, (int64_t[]){2, 2});
    conv(m, "p1", "c2", c, c);
    batchnorm(m, "c2", "b2", c);
    tm_node(m, "Add", "a", "b2,p1", "a");
    tm_node(m, "Relu", "r2", "a", "r2");
    const char *pooled = "r2";
    if (with_eval) {
        int64_t *pads = tm_alloc(m, sizeof *pads * 8), pd = 8;
        memcpy(pads, (int64_t[]){0, 0, 1, 1, 0, 0, 1, 1}, sizeof *pads * 8);
        tm_init(m, "pads", OND_DTYPE_INT64, 1, &pd, pads);
        tm_node(m, "Pad", "pad", "r2,pads", "padded");
        pooled = "padded";
    }
    tm_node(m, "GlobalAveragePool", "gap", pooled, "g");
    tm_node(m, "Flatten", "flat", "g", "f");
    tm_init_rand(m, "fc_w", 2, wd, -0.2f, 0.2f);
    tm_init_rand(m, "fc_b", 1, &nc, -0.1f, 0.1f);
    n = tm_node(m, "Gemm", "fc", "f,fc_w,fc_b", "y");
    tm_attr_int(m, n, "transB", 1);
    tm_output(m, "y");
    return m;
}

static bool cpu_has_bf16(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

/* Input 0 of g with the dims x_dims (of its rank), its floats malloc'd for the caller to
 * fill. */
static struct ond_value new_input(const struct ond_graph *g, const int64_t *x_dims)
{
    struct ond_value in = {.name = g->inputs[0]->name, .dtype = F,
                           .rank = g->inputs[0]->info.rank};
    memcpy(in.dims, x_dims, sizeof(int64_t) * (size_t)in.rank);
    in.size = sizeof(float) * ond_test_numel(in.rank, in.dims);
    in.data = malloc(in.size);
    assert_non_null(in.data);
    return in;
}

/* What a reduced-precision session made of one input, next to the fp32 reference's. */
struct outcome {
    struct ond_value want, got;
    struct ond_profile prof;
};

/* Runs the fp32 reference on g and session s, profiled, on in; s must give f32 back. */
static void run_both(const struct ond_graph *g, struct ond_session *s,
                     const struct ond_value *in, struct outcome *r)
{
    struct ond_error err = {0};
    *r = (struct outcome){0};
    if (ond_reference_run(g, in, 1, &r->want, NULL, NULL, &err))
        fail_msg("reference: %s", err.message);
    r->got.size = r->want.size;
    r->got.data = malloc(r->got.size);
    assert_non_null(r->got.data);
    if (ond_session_profile(s, in, 1, &r->got, 1, &r->prof, &err))
        fail_msg("session: %s", err.message);
    assert_int_equal(r->got.dtype, F);
}

static void outcome_free(struct outcome *r)
{
    ond_profile_free(&r->prof);
    free((void *)r->want.name);
    free(r->want.data);
    free(r->got.data);
}

/* Shows every step when a count of steps is not what the test wants. */
static void print_steps(const struct ond_profile *prof)
{
    for (int i = 0; i < prof->n_steps; i++)
        print_message("%s %s %s %s -> %s\n", prof->steps[i].op, prof->steps[i].node,
                      prof->steps[i].impl, prof->steps[i].src, prof->steps[i].dst);
}

/* An int8 session of model, calibrated on the n sets of calib (one input each). */
static struct ond_session *int8_session(const struct ond_model *model,
                                        const struct ond_value *calib, size_t n)
{
    struct ond_options o;
    ond_options_init(&o);
    o.precision = OND_PRECISION_INT8;
    o.calibration = calib;
    o.n_calibration_sets = n;
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    if (ond_session_create(model, &o, &s, &err))
        fail_msg("session: %s", err.message);
    return s;
}

/* Runs m at opt_level in a bf16 session and the fp32 reference on a seeded input of x_dims
 * (rank of the graph's input); checks the outputs, that `bf16_prims` node steps or more read
 * and write bf16 (gemms: write f32 logits), and `evals` eval steps (on f32). */
static void check_bf16(struct tm *m, int opt_level, const int64_t *x_dims, int bf16_prims,
                       int evals)
{
    struct ond_model *model = tm_load_model(m, opt_level);
    struct ond_options o;
    ond_options_init(&o);
    o.precision = OND_PRECISION_BF16;
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    enum ond_status st = ond_session_create(model, &o, &s, &err);
    if (!cpu_has_bf16()) {
        assert_error(st, OND_STATUS_UNSUPPORTED, &err, "AVX512-BF16");
        ond_model_free(model);
        return;
    }
    if (st)
        fail_msg("session: %s", err.message);
    struct ond_value in = new_input(model->graph, x_dims);
    float *x = in.data;
    for (size_t i = 0; i < in.size / sizeof *x; i++)
        x[i] = ond_test_frand();
    struct outcome r;
    run_both(model->graph, s, &in, &r);
    assert_int_equal(r.got.size, r.want.size);
    assert_close(r.got.data, r.want.data, r.want.size / sizeof(float), BF16_RTOL, BF16_ATOL);
    int bf16 = 0, eval = 0;
    for (int i = 0; i < r.prof.n_steps; i++) {
        const struct ond_profile_step *p = &r.prof.steps[i];
        bool logits = strcmp(p->op, "Gemm") == 0 || strcmp(p->op, "InnerProduct") == 0;
        if (strcmp(p->op, "Reorder") != 0 && strncmp(p->src, "bf16", 4) == 0 &&
            (logits || strncmp(p->dst, "bf16", 4) == 0))
            bf16++;
        if (strncmp(p->impl, "eval", 4) == 0) {
            eval++;
            assert_true(strncmp(p->src, "f32", 3) == 0 || p->src[0] == '\0');
        }
    }
    if (bf16 < bf16_prims || eval != evals)
        print_steps(&r.prof);
    assert_true(bf16 >= bf16_prims);
    assert_int_equal(eval, evals);
    outcome_free(&r);
    free(x);
    ond_session_free(s);
    ond_model_free(model);
}

/* -O0: every op its own primitive: 2 convs, 2 batchnorms, 2 relus, maxpool, add, global
 * pool and gemm (Flatten is a view) all bf16. */
static void test_bf16_ops(void **state)
{
    (void)state;
    ond_test_seed(1);
    check_bf16(small_cnn(false), 0, cnn_input, 10, 0);
}

/* -O2: batchnorm folded, relu and the residual add fused; the convs, pool and gemm bf16. */
static void test_bf16_fused(void **state)
{
    (void)state;
    ond_test_seed(2);
    check_bf16(small_cnn(false), 2, cnn_input, 5, 0);
}

/* A Pad (eval only) in the middle gets f32 through reorders and hands f32 back. */
static void test_bf16_eval_step(void **state)
{
    (void)state;
    ond_test_seed(3);
    check_bf16(small_cnn(true), 2, cnn_input, 4, 1);
}

/* x -> conv 16 -> relu, and -> conv 16; Concat of both (32 channels) -> conv 16 -> global
 * average pool: the concat takes and gives bf16 in the convs' layout. */
static void test_bf16_concat(void **state)
{
    (void)state;
    ond_test_seed(6);
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, cnn_input);
    conv(m, "x", "c1", 3, 16);
    tm_node(m, "Relu", "r", "c1", "r");
    conv(m, "c1", "c2", 16, 16);
    Onnx__NodeProto *n = tm_node(m, "Concat", "cat", "r,c2", "cat");
    tm_attr_int(m, n, "axis", 1);
    conv(m, "cat", "c3", 32, 16);
    tm_node(m, "GlobalAveragePool", "gap", "c3", "y");
    tm_output(m, "y");
    check_bf16(m, 0, cnn_input, 6, 0);
}

/* Gemm's alpha and beta folded into bf16 weights and the f32 bias at planning. */
static void test_bf16_gemm_alpha_beta(void **state)
{
    (void)state;
    ond_test_seed(5);
    struct tm *m = tm_new(8, 13);
    int64_t xd[] = {4, 64}, wd[] = {24, 64}, nc = 24;
    tm_input(m, "x", F, 2, xd);
    tm_init_rand(m, "w", 2, wd, -0.2f, 0.2f);
    tm_init_rand(m, "c", 1, &nc, -0.5f, 0.5f);
    Onnx__NodeProto *n = tm_node(m, "Gemm", "fc", "x,w,c", "y");
    tm_attr_int(m, n, "transB", 1);
    tm_attr_float(m, n, "alpha", 0.5f);
    tm_attr_float(m, n, "beta", 2.f);
    tm_output(m, "y");
    check_bf16(m, 2, xd, 1, 0);
}

#define N_CALIB 4

/* Runs m (-O2) in an int8 session calibrated on N_CALIB seeded inputs (x_dims, values in
 * [lo, hi)) and the fp32 reference on another such input x. The largest error must stay
 * within tol of the largest output; at least int8_prims node steps read s8/u8 (their profile
 * src). Frees m. */
static void check_int8(struct tm *m, const int64_t *x_dims, float lo, float hi, int int8_prims,
                       float tol)
{
    struct ond_model *model = tm_load_model(m, 2);
    struct ond_value calib[N_CALIB + 1];
    for (int k = 0; k <= N_CALIB; k++) {
        calib[k] = new_input(model->graph, x_dims);
        float *x = calib[k].data;
        for (size_t i = 0; i < calib[k].size / sizeof *x; i++)
            x[i] = lo + (hi - lo) * (ond_test_frand() + 1.f) / 2.f;
    }
    /* The last draw is judged, the others calibrate. */
    struct ond_value in = calib[N_CALIB];
    struct ond_session *s = int8_session(model, calib, N_CALIB);
    struct outcome r;
    run_both(model->graph, s, &in, &r);
    const float *gv = r.got.data, *wv = r.want.data;
    float top = 0, worst = 0;
    for (size_t i = 0; i < r.want.size / sizeof(float); i++) {
        top = fmaxf(top, fabsf(wv[i]));
        worst = fmaxf(worst, fabsf(gv[i] - wv[i]));
    }
    int q = 0;
    for (int i = 0; i < r.prof.n_steps; i++) {
        const struct ond_profile_step *p = &r.prof.steps[i];
        q += strcmp(p->op, "Reorder") != 0 && (strncmp(p->src, "s8", 2) == 0 ||
                                               strncmp(p->src, "u8", 2) == 0);
    }
    if (q < int8_prims || !(worst <= tol * top))
        print_steps(&r.prof);
    print_message("int8: largest error %g of largest output %g, %d int8 steps\n", worst, top, q);
    assert_true(q >= int8_prims);
    assert_true(worst <= tol * top);
    outcome_free(&r);
    for (int k = 0; k <= N_CALIB; k++)
        free(calib[k].data);
    ond_session_free(s);
    ond_model_free(model);
}

/* Data on the quantization grid is exact in int8: x holds multiples of 1/64 up to +-127/64
 * (its scale is then 1/64), each output channel of the weights multiples of its own step up
 * to 127 steps. The conv's output is the graph's, written f32: only the bias and the f32
 * accumulation of the reference differ. */
static void test_int8_exact(void **state)
{
    (void)state;
    ond_test_seed(7);
    struct tm *m = tm_new(8, 13);
    int64_t xd[] = {1, 8, 6, 6}, wd[] = {4, 8, 3, 3}, nb = 4;
    tm_input(m, "x", F, 4, xd);
    float *w = tm_alloc(m, sizeof *w * 4 * 8 * 9);
    for (int oc = 0; oc < 4; oc++)
        for (int i = 0; i < 8 * 9; i++)
            w[oc * 72 + i] = (i == 5 ? (oc & 1 ? -127 : 127) : (int)(ond_test_frand() * 127)) *
                             (0.01f * (float)(oc + 1));
    tm_init(m, "w", F, 4, wd, w);
    tm_init_rand(m, "b", 1, &nb, -0.5f, 0.5f);
    Onnx__NodeProto *n = tm_node(m, "Conv", "conv", "x,w,b", "y");
    tm_attr_ints(m, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    tm_output(m, "y");
    struct ond_model *model = tm_load_model(m, 2);
    /* Calibrated on another draw of the grid with the same largest magnitude (element 7),
     * so the scale is 1/64 again; judged on x. */
    float x[8 * 36], cx[8 * 36];
    for (int i = 0; i < 8 * 36; i++) {
        x[i] = (i == 7 ? -127 : (int)(ond_test_frand() * 127)) / 64.f;
        cx[i] = (i == 7 ? -127 : (int)(ond_test_frand() * 127)) / 64.f;
    }
    struct ond_value in = {.name = "x", .dtype = F, .rank = 4, .dims = {1, 8, 6, 6},
                           .data = x, .size = sizeof x};
    struct ond_value cal = in;
    cal.data = cx;
    struct ond_session *s = int8_session(model, &cal, 1);
    struct outcome r;
    run_both(model->graph, s, &in, &r);
    assert_close(r.got.data, r.want.data, r.want.size / sizeof(float), 1e-5f, 1e-4f);
    bool conv_int8 = false;
    for (int i = 0; i < r.prof.n_steps; i++)
        conv_int8 |= strcmp(r.prof.steps[i].op, "Conv") == 0 &&
                     strncmp(r.prof.steps[i].src, "s8", 2) == 0 &&
                     strncmp(r.prof.steps[i].dst, "f32", 3) == 0;
    assert_true(conv_int8);
    outcome_free(&r);
    ond_session_free(s);
    ond_model_free(model);
}

/* The small CNN at -O2: conv+relu writes u8, maxpool passes it on as u8, the second conv
 * reads it and adds it as the residual; that conv's output reaches only the global pool and
 * the f32 Gemm, so it is written f32. */
static void test_int8_cnn(void **state)
{
    (void)state;
    ond_test_seed(8);
    /* Measured: largest error 0.0052 of the largest output (0.0071 of 1.36). */
    check_int8(small_cnn(false), cnn_input, -1.f, 1.f, 3, 0.015f);
}

/* A signed (s8) residual added by a conv whose output, after relu, is unsigned (u8): the
 * addend is read as s8 in the u8 output's buffer. x -> conv a (s8, two readers) -> relu ->
 * conv b, Add(b, a) -> relu -> conv c -> y. */
static void test_int8_signed_residual(void **state)
{
    (void)state;
    ond_test_seed(9);
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, cnn_input);
    conv(m, "x", "a", 3, 16);
    tm_node(m, "Relu", "ra", "a", "ra");
    conv(m, "ra", "b", 16, 16);
    tm_node(m, "Add", "add", "b,a", "s");
    tm_node(m, "Relu", "rs", "s", "rs");
    conv(m, "rs", "y", 16, 8);
    tm_output(m, "y");
    /* Measured: largest error 0.0119 of the largest output (0.0090 of 0.76). */
    check_int8(m, cnn_input, -1.f, 1.f, 3, 0.035f);
}

/* Without calibration inputs the session calibrates on seeded random ones; a calibration set
 * that does not match the model's inputs is an error naming the set. */
static void test_int8_calibration_inputs(void **state)
{
    (void)state;
    ond_test_seed(10);
    struct tm *m = small_cnn(false);
    struct ond_model *model = tm_load_model(m, 2);
    struct ond_options o;
    ond_options_init(&o);
    o.precision = OND_PRECISION_INT8;
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    if (ond_session_create(model, &o, &s, &err))
        fail_msg("random calibration: %s", err.message);
    ond_session_free(s);
    s = NULL;
    float x[3 * 16 * 16] = {0};
    struct ond_value bad = {.name = "nope", .dtype = F, .rank = 4, .dims = {1, 3, 16, 16},
                            .data = x, .size = sizeof x};
    o.calibration = &bad;
    o.n_calibration_sets = 1;
    assert_error(ond_session_create(model, &o, &s, &err), OND_STATUS_INVALID_INPUT, &err,
                 "calibration input set 0: 'nope' is not an input of the model");
    assert_null(s);
    ond_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_ops),
        cmocka_unit_test(test_bf16_fused),
        cmocka_unit_test(test_bf16_eval_step),
        cmocka_unit_test(test_bf16_gemm_alpha_beta),
        cmocka_unit_test(test_bf16_concat),
        cmocka_unit_test(test_int8_exact),
        cmocka_unit_test(test_int8_cnn),
        cmocka_unit_test(test_int8_signed_residual),
        cmocka_unit_test(test_int8_calibration_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
