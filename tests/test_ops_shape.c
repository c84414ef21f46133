/* test_ops_shape.c: the structural and index ops (Split, Expand, Tile, Range, ArgMax/ArgMin,
 * TopK, DepthToSpace, SpaceToDepth, ConvTranspose, Einsum, ScatterND; and Mod) on cases the
 * ONNX 1.12 node tests leave out, with outputs computed by hand: each runs through the reference interpreter and
 * through sessions at -O0 and -O2. Then the refusals of bad attributes and inputs, naming
 * node and rule; and the oneDNN paths against the reference (every op's eval, checked by the
 * node tests) on random inputs: ConvTranspose with constant grouped, dilated weights and
 * DepthToSpace/SpaceToDepth on blocked input from a Conv, Einsum's matmul forms. */
#include <math.h>
#include <stdlib.h>

#include "runtime/model.h"
#include "runtime/reference.h"
#include "runtime/session.h"
#include "tests/util.h"

#define F OND_DTYPE_FLOAT
#define I32 OND_DTYPE_INT32
#define I64 OND_DTYPE_INT64

/* Compares an output with what was expected: floats within 1e-6, other types exactly. */
static void expect_output(const struct ond_value *got, const struct ond_value *want)
{
    assert_int_equal(got->dtype, want->dtype);
    assert_int_equal(got->rank, want->rank);
    assert_memory_equal(got->dims, want->dims, sizeof(int64_t) * (size_t)want->rank);
    assert_int_equal(got->size, want->size);
    if (want->dtype == F)
        assert_close(got->data, want->data, want->size / sizeof(float), 0, 1e-6f);
    else if (want->size)
        assert_memory_equal(got->data, want->data, want->size);
}

/* Runs the model build() makes through the reference and sessions at -O0 and -O2 on in,
 * and checks every output against want. */
static void check(struct tm *(*build)(void), const struct ond_value *in, int n_in,
                  const struct ond_value *want, int n_out)
{
    struct ond_error err = {0};
    struct ond_value ref[8];
    struct ond_graph *g = tm_load_ok(build());
    assert_int_equal(g->n_outputs, n_out);
    if (ond_reference_run(g, in, (size_t)n_in, ref, NULL, NULL, &err))
        fail_msg("reference: %s", err.message);
    for (int k = 0; k < n_out; k++) {
        expect_output(&ref[k], &want[k]);
        free((void *)ref[k].name);
        free(ref[k].data);
    }
    ond_graph_free(g);
    for (int level = 0; level <= 2; level += 2) {
        struct ond_model *model = tm_load_model(build(), level);
        struct ond_session *s = NULL;
        struct ond_value *got = NULL;
        size_t n_got = 0;
        if (ond_session_create(model, NULL, &s, &err) ||
            ond_session_run_alloc(s, in, (size_t)n_in, &got, &n_got, &err))
            fail_msg("session -O%d: %s", level, err.message);
        assert_int_equal(n_got, n_out);
        for (int k = 0; k < n_out; k++)
            expect_output(&got[k], &want[k]);
        ond_values_free(got, n_got);
        ond_session_free(s);
        ond_model_free(model);
    }
}

#define VAL(name, dt, rank, dims, data) \
    ond_test_value(name, dt, rank, (int64_t[])dims, data)
#define D(...) {__VA_ARGS__}

/* Split-18 with num_outputs: 5 cut into ceil(5/3) = 2, 2 and the 1 left. */
static struct tm *split18(void)
{
    struct tm *m = tm_new(8, 18);
    tm_input(m, "x", F, 1, (int64_t[]){5});
    Onnx__NodeProto *n = tm_node(m, "Split", "split", "x", "a,b,c");
    tm_attr_int(m, n, "num_outputs", 3);
    tm_output(m, "a");
    tm_output(m, "b");
    tm_output(m, "c");
    return m;
}

static void test_split_num_outputs(void **state)
{
    (void)state;
    float x[] = {0, 1, 2, 3, 4};
    struct ond_value in = VAL("x", F, 1, D(5), x);
    struct ond_value want[] = {VAL("a", F, 1, D(2), ((float[]){0, 1})),
                               VAL("b", F, 1, D(2), ((float[]){2, 3})),
                               VAL("c", F, 1, D(1), ((float[]){4}))};
    check(split18, &in, 1, want, 3);
}

/* Einsum in implicit mode: "ij,jk" is the matrix product, output "ik". */
static struct tm *einsum_implicit(void)
{
    struct tm *m = tm_new(8, 12);
    tm_input(m, "a", F, 2, (int64_t[]){2, 3});
    tm_input(m, "b", F, 2, (int64_t[]){3, 2});
    tm_attr_string(m, tm_node(m, "Einsum", "e", "a,b", "y"), "equation", "ij,jk");
    tm_output(m, "y");
    return m;
}

static void test_einsum_implicit(void **state)
{
    (void)state;
    float a[] = {1, 2, 3, 4, 5, 6}, b[] = {1, 0, 0, 1, 1, 1};
    struct ond_value in[] = {VAL("a", F, 2, D(2, 3), a), VAL("b", F, 2, D(3, 2), b)};
    /* [1 2 3; 4 5 6] x [1 0; 0 1; 1 1] */
    struct ond_value want = VAL("y", F, 2, D(2, 2), ((float[]){4, 5, 10, 11}));
    check(einsum_implicit, in, 2, &want, 1);
}

/* TopK-11 smallest 3 of a row with ties: equal values by lower index. */
static struct tm *topk_smallest(void)
{
    struct tm *m = tm_new(8, 11);
    tm_input(m, "x", F, 2, (int64_t[]){1, 5});
    tm_init(m, "k", I64, 1, (int64_t[]){1}, (int64_t[]){3});
    Onnx__NodeProto *n = tm_node(m, "TopK", "topk", "x,k", "v,i");
    tm_attr_int(m, n, "largest", 0);
    tm_output(m, "v");
    tm_output(m, "i");
    return m;
}

static void test_topk_ties(void **state)
{
    (void)state;
    float x[] = {3, 1, 3, 1, 2};
    struct ond_value in = VAL("x", F, 2, D(1, 5), x);
    struct ond_value want[] = {VAL("v", F, 2, D(1, 3), ((float[]){1, 1, 2})),
                               VAL("i", I64, 2, D(1, 3), ((int64_t[]){1, 3, 4}))};
    check(topk_smallest, &in, 1, want, 2);
}

/* DepthToSpace DCR and CRD on 8 channels (2 output channels, blocksize 2). */
static struct tm *d2s(const char *mode)
{
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){1, 8, 1, 1});
    Onnx__NodeProto *n = tm_node(m, "DepthToSpace", "d2s", "x", "y");
    tm_attr_int(m, n, "blocksize", 2);
    tm_attr_string(m, n, "mode", mode);
    tm_output(m, "y");
    return m;
}
static struct tm *d2s_dcr(void) { return d2s("DCR"); }
static struct tm *d2s_crd(void) { return d2s("CRD"); }

/* SpaceToDepth undoes DCR: y[(i*2 + j)*C + c] = x[c][i][j]. */
static struct tm *s2d(void)
{
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 4, (int64_t[]){1, 2, 2, 2});
    tm_attr_int(m, tm_node(m, "SpaceToDepth", "s2d", "x", "y"), "blocksize", 2);
    tm_output(m, "y");
    return m;
}

static void test_depth_space(void **state)
{
    (void)state;
    float x[] = {0, 1, 2, 3, 4, 5, 6, 7};
    struct ond_value in = VAL("x", F, 4, D(1, 8, 1, 1), x);
    /* DCR: y[c][i][j] = x[(i*2 + j)*2 + c]; CRD: y[c][i][j] = x[c*4 + i*2 + j]. */
    float dcr[] = {0, 2, 4, 6, 1, 3, 5, 7};
    struct ond_value want = VAL("y", F, 4, D(1, 2, 2, 2), dcr);
    check(d2s_dcr, &in, 1, &want, 1);
    want = VAL("y", F, 4, D(1, 2, 2, 2), x);
    check(d2s_crd, &in, 1, &want, 1);
    in = VAL("x", F, 4, D(1, 2, 2, 2), dcr);
    want = VAL("y", F, 4, D(1, 8, 1, 1), x);
    check(s2d, &in, 1, &want, 1);
}

/* ArgMin on int32 rows with repeated minima, first and last of them. */
static struct tm *argmin(int64_t last)
{
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", I32, 2, (int64_t[]){2, 3});
    Onnx__NodeProto *n = tm_node(m, "ArgMin", "am", "x", "y");
    tm_attr_int(m, n, "axis", 1);
    tm_attr_int(m, n, "keepdims", 0);
    tm_attr_int(m, n, "select_last_index", last);
    tm_output(m, "y");
    return m;
}
static struct tm *argmin_first(void) { return argmin(0); }
static struct tm *argmin_last(void) { return argmin(1); }

static void test_argmin_int(void **state)
{
    (void)state;
    int32_t x[] = {1, 0, 0, 5, 5, 2};
    struct ond_value in = VAL("x", I32, 2, D(2, 3), x);
    struct ond_value want = VAL("y", I64, 1, D(2), ((int64_t[]){1, 2}));
    check(argmin_first, &in, 1, &want, 1);
    want = VAL("y", I64, 1, D(2), ((int64_t[]){2, 2}));
    check(argmin_last, &in, 1, &want, 1);
}

/* Expand [3, 1] to [2, 1, 4] broadcasts both ways into [2, 3, 4]; Tile int64 by [2, 1]. */
static struct tm *expand_tile(void)
{
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 2, (int64_t[]){3, 1});
    tm_input(m, "t", I64, 2, (int64_t[]){1, 2});
    tm_init(m, "shape", I64, 1, (int64_t[]){3}, (int64_t[]){2, 1, 4});
    tm_init(m, "reps", I64, 1, (int64_t[]){2}, (int64_t[]){2, 1});
    tm_node(m, "Expand", "expand", "x,shape", "y");
    tm_node(m, "Tile", "tile", "t,reps", "z");
    tm_output(m, "y");
    tm_output(m, "z");
    return m;
}

static void test_expand_tile(void **state)
{
    (void)state;
    float x[] = {1, 2, 3}, y[24];
    int64_t t[] = {7, -8};
    for (int i = 0; i < 24; i++)
        y[i] = x[i / 4 % 3];
    struct ond_value in[] = {VAL("x", F, 2, D(3, 1), x), VAL("t", I64, 2, D(1, 2), t)};
    struct ond_value want[] = {VAL("y", F, 3, D(2, 3, 4), y),
                               VAL("z", I64, 2, D(2, 2), ((int64_t[]){7, -8, 7, -8}))};
    check(expand_tile, in, 2, want, 2);
}

/* Range of int64 graph inputs (shape operands), the length rounded up: 10 to -3 by -4. */
static struct tm *range_i64(void)
{
    struct tm *m = tm_new(8, 11);
    tm_input(m, "s", I64, 0, NULL);
    tm_init(m, "l", I64, 0, NULL, (int64_t[]){-3});
    tm_init(m, "d", I64, 0, NULL, (int64_t[]){-4});
    tm_node(m, "Range", "range", "s,l,d", "y");
    tm_output(m, "y");
    return m;
}

static void test_range(void **state)
{
    (void)state;
    int64_t s = 10;
    struct ond_value in = ond_test_value("s", I64, 0, NULL, &s);
    struct ond_value want = VAL("y", I64, 1, D(4), ((int64_t[]){10, 6, 2, -2}));
    check(range_i64, &in, 1, &want, 1);
}

/* 1-D ConvTranspose, stride 2, output_padding 1, constant W (a oneDNN deconvolution in the
 * sessions): each input scatters x * {1, 10} at 2i; the last element is the padding. */
static struct tm *convt_1d(void)
{
    struct tm *m = tm_new(8, 11);
    tm_input(m, "x", F, 3, (int64_t[]){1, 1, 3});
    tm_init(m, "w", F, 3, (int64_t[]){1, 1, 2}, (float[]){1, 10});
    Onnx__NodeProto *n = tm_node(m, "ConvTranspose", "ct", "x,w", "y");
    tm_attr_ints(m, n, "strides", 1, (int64_t[]){2});
    tm_attr_ints(m, n, "output_padding", 1, (int64_t[]){1});
    tm_output(m, "y");
    return m;
}

static void test_convtranspose_1d(void **state)
{
    (void)state;
    float x[] = {1, 2, 3};
    struct ond_value in = VAL("x", F, 3, D(1, 1, 3), x);
    struct ond_value want = VAL("y", F, 3, D(1, 1, 7), ((float[]){1, 10, 2, 20, 3, 30, 0}));
    check(convt_1d, &in, 1, &want, 1);
}

/* Mod-13 of int32 inputs, fmod 0 (y0) and 1 (y1): the remainder takes the divisor's sign,
 * then the dividend's; INT32_MIN mod -1 is 0 (numpy.mod and numpy.fmod gave the values). */
static struct tm *mod_i32(void)
{
    struct tm *m = tm_new(8, 13);
    tm_input(m, "a", I32, 1, (int64_t[]){7});
    tm_input(m, "b", I32, 1, (int64_t[]){7});
    tm_node(m, "Mod", "m0", "a,b", "y0");
    tm_attr_int(m, tm_node(m, "Mod", "m1", "a,b", "y1"), "fmod", 1);
    tm_output(m, "y0");
    tm_output(m, "y1");
    return m;
}

static void test_mod_signs(void **state)
{
    (void)state;
    int32_t a[] = {-7, 7, -7, 7, INT32_MIN, 5, 0}, b[] = {3, -3, -3, 3, -1, 5, -4};
    struct ond_value in[] = {VAL("a", I32, 1, D(7), a), VAL("b", I32, 1, D(7), b)};
    struct ond_value want[] = {VAL("y0", I32, 1, D(7), ((int32_t[]){2, -2, -1, 1, 0, 0, 0})),
                               VAL("y1", I32, 1, D(7), ((int32_t[]){-1, 1, -1, 1, 0, 0, 0}))};
    check(mod_i32, in, 2, want, 2);
}

/* ScatterND-18 on data float[4, 2] at rows -1, 0, -1 of updates [3, 2]: max (y0) and min
 * (y1) reduce the duplicate row twice; a 2-D index (y2, reduction none) writes one element
 * at [-1, -2]; empty index tuples (y3, indices [1, 0]) replace all of data (numpy.maximum
 * and numpy.minimum in a loop gave the values). */
static struct tm *scatternd18(void)
{
    struct tm *m = tm_new(8, 18);
    tm_input(m, "x", F, 2, (int64_t[]){4, 2});
    tm_init(m, "i", I64, 2, (int64_t[]){3, 1}, (int64_t[]){-1, 0, -1});
    tm_init(m, "u", F, 2, (int64_t[]){3, 2}, (float[]){9, 0, 0, 9, 6, 10});
    tm_init(m, "j", I64, 2, (int64_t[]){1, 2}, (int64_t[]){-1, -2});
    tm_init(m, "v", F, 1, (int64_t[]){1}, (float[]){-5});
    tm_attr_string(m, tm_node(m, "ScatterND", "s0", "x,i,u", "y0"), "reduction", "max");
    tm_attr_string(m, tm_node(m, "ScatterND", "s1", "x,i,u", "y1"), "reduction", "min");
    tm_node(m, "ScatterND", "s2", "x,j,v", "y2");
    tm_init(m, "e", I64, 2, (int64_t[]){1, 0}, NULL);
    tm_init(m, "w", F, 3, (int64_t[]){1, 4, 2}, (float[]){8, 7, 6, 5, 4, 3, 2, 1});
    tm_node(m, "ScatterND", "s3", "x,e,w", "y3");
    tm_output(m, "y0");
    tm_output(m, "y1");
    tm_output(m, "y2");
    tm_output(m, "y3");
    return m;
}

static void test_scatternd_reductions(void **state)
{
    (void)state;
    float x[] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct ond_value in = VAL("x", F, 2, D(4, 2), x);
    struct ond_value want[] = {
        VAL("y0", F, 2, D(4, 2), ((float[]){1, 9, 3, 4, 5, 6, 9, 10})),
        VAL("y1", F, 2, D(4, 2), ((float[]){0, 2, 3, 4, 5, 6, 6, 0})),
        VAL("y2", F, 2, D(4, 2), ((float[]){1, 2, 3, 4, 5, 6, -5, 8})),
        VAL("y3", F, 2, D(4, 2), ((float[]){8, 7, 6, 5, 4, 3, 2, 1}))};
    check(scatternd18, &in, 1, want, 4);
}

/* Hostile shapes: 2^62 empty index tuples into empty data (updates [2^62, 0], no bytes)
 * write nothing, at once, instead of looping over the tuples. */
static struct tm *scatternd_empty(void)
{
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", F, 1, (int64_t[]){0});
    tm_init(m, "i", I64, 2, (int64_t[]){INT64_C(1) << 62, 0}, NULL);
    tm_init(m, "u", F, 2, (int64_t[]){INT64_C(1) << 62, 0}, NULL);
    tm_node(m, "ScatterND", "s", "x,i,u", "y");
    tm_output(m, "y");
    return m;
}

static void test_scatternd_empty(void **state)
{
    (void)state;
    struct ond_value in = VAL("x", F, 1, D(0), NULL), want = VAL("y", F, 1, D(0), NULL);
    check(scatternd_empty, &in, 1, &want, 1);
}

/* Run-time data the ops refuse: a ScatterND index out of range, an integer Mod by zero. Each
 * fails in the reference and in a session, naming the node. */
static struct tm *bad_runtime(void)
{
    struct tm *m = tm_new(8, 13);
    tm_input(m, "i", I64, 2, (int64_t[]){1, 1});
    tm_input(m, "a", I64, 1, (int64_t[]){2});
    tm_init(m, "x", F, 1, (int64_t[]){4}, NULL);
    tm_init(m, "u", F, 1, (int64_t[]){1}, (float[]){1});
    tm_node(m, "ScatterND", "s", "x,i,u", "y");
    tm_node(m, "Mod", "m", "a,a", "z");
    tm_output(m, "y");
    tm_output(m, "z");
    return m;
}

static void runtime_fails(int64_t index, int64_t a, const char *substr)
{
    struct ond_error err = {0};
    int64_t av[] = {a, 3};
    struct ond_value in[] = {VAL("i", I64, 2, D(1, 1), &index), VAL("a", I64, 1, D(2), av)};
    struct ond_value ref[2];
    struct ond_graph *g = tm_load_ok(bad_runtime());
    assert_error(ond_reference_run(g, in, 2, ref, NULL, NULL, &err), OND_STATUS_INVALID_INPUT,
                 &err, substr);
    ond_graph_free(g);
    struct ond_model *model = tm_load_model(bad_runtime(), 2);
    struct ond_session *s = NULL;
    struct ond_value *got = NULL;
    size_t n_got = 0;
    if (ond_session_create(model, NULL, &s, &err))
        fail_msg("session: %s", err.message);
    assert_error(ond_session_run_alloc(s, in, 2, &got, &n_got, &err),
                 OND_STATUS_INVALID_INPUT, &err, substr);
    ond_session_free(s);
    ond_model_free(model);
}

static void test_runtime_refusals(void **state)
{
    (void)state;
    runtime_fails(4, 1, "node 's' (ScatterND): index 4 at 0 of indices is out of range for a "
                        "dim of 4");
    runtime_fails(-5, 1, "index -5 at 0 of indices is out of range");
    runtime_fails(-4, 0, "node 'm' (Mod): integer modulo by zero");
}

/* One node of op (opset 13 unless given) on x float[1, 8, 4, 4], for the refusals. */
static struct tm *one(int64_t opset, const char *op, const char *inputs, const char *outputs,
                      Onnx__NodeProto **n)
{
    struct tm *m = tm_new(8, opset);
    tm_input(m, "x", F, 4, (int64_t[]){1, 8, 4, 4});
    *n = tm_node(m, op, "bad", inputs, outputs);
    tm_output(m, "y");
    return m;
}

static void test_refusals(void **state)
{
    (void)state;
    Onnx__NodeProto *n;
    struct tm *m = one(13, "Split", "x,s", "y,z", &n);
    tm_init(m, "s", I64, 1, (int64_t[]){2}, (int64_t[]){3, 4});
    tm_attr_int(m, n, "axis", 1);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL,
                  "node 'bad' (Split): split values add up to 7, the axis has 8");
    m = one(13, "Split", "x", "y,z,w", &n);
    tm_attr_int(m, n, "axis", 1);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "does not split into 3 equal parts");
    m = one(18, "Split", "x", "y,z", &n);
    tm_attr_int(m, n, "num_outputs", 3);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "attribute 'num_outputs' is 3, the node has 2");

    m = one(13, "DepthToSpace", "x", "y", &n);
    tm_attr_int(m, n, "blocksize", 2);
    tm_attr_string(m, n, "mode", "RCD");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "attribute 'mode' is 'RCD', not DCR or CRD");
    m = one(13, "DepthToSpace", "x", "y", &n);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "attribute 'blocksize' is required");
    m = one(13, "DepthToSpace", "x", "y", &n);
    tm_attr_int(m, n, "blocksize", 3);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "channels 8 are not divisible by blocksize^2");
    m = one(13, "SpaceToDepth", "x", "y", &n);
    tm_attr_int(m, n, "blocksize", 3);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "dim 2 (4) is not divisible by blocksize 3");

    m = one(13, "ConvTranspose", "x,w", "y", &n);
    tm_init(m, "w", F, 4, (int64_t[]){8, 2, 3, 3}, NULL);
    tm_attr_ints(m, n, "output_shape", 3, (int64_t[]){8, 8, 8});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "'output_shape' has 3 values, expected 2 or 4");
    m = one(13, "ConvTranspose", "x,w", "y", &n);
    tm_init(m, "w", F, 4, (int64_t[]){8, 2, 3, 3}, NULL);
    tm_attr_ints(m, n, "output_padding", 2, (int64_t[]){-1, 0});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "'output_padding' has a negative value -1");
    m = one(13, "ConvTranspose", "x,w", "y", &n);
    tm_init(m, "w", F, 4, (int64_t[]){6, 2, 3, 3}, NULL);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "X has 8 channels, W 6");

    m = one(13, "Mod", "x,x", "y", &n);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "attribute fmod must be 1 for float inputs");
    m = one(13, "Mod", "x,x", "y", &n);
    tm_attr_int(m, n, "fmod", 2);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "attribute fmod is 2, must be 0 or 1");
    m = one(16, "ScatterND", "x,i,x", "y", &n);
    tm_init(m, "i", I64, 2, (int64_t[]){1, 4}, NULL);
    tm_attr_string(m, n, "reduction", "max");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "reduction 'max' needs opset 18, the model has 16");
    m = one(16, "ScatterND", "x,i,u", "y", &n);
    tm_init(m, "i", I64, 2, (int64_t[]){1, 1}, (int64_t[]){1});
    tm_init(m, "u", F, 4, (int64_t[]){1, 8, 4, 5}, NULL);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "updates' dim 3 is 5, indices.shape[:-1] + "
                                               "data.shape[1:] has 4");
    m = one(16, "ScatterND", "x,i,u", "y", &n);
    tm_init(m, "i", I64, 2, (int64_t[]){1, 1}, NULL);
    tm_init(m, "u", F, 2, (int64_t[]){8, 4}, NULL);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "updates have rank 2, not the 4 of "
                                               "indices.shape[:-1] + data.shape[1:]");
    m = one(16, "ScatterND", "x,i,x", "y", &n);
    tm_init(m, "i", I64, 2, (int64_t[]){1, 5}, NULL);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "indices' last dim 5 is over data's rank 4");
    m = one(16, "ScatterND", "x,i,u", "y", &n);
    tm_init(m, "i", I64, 2, (int64_t[]){1, 2}, (int64_t[]){0, -9});
    tm_init(m, "u", F, 3, (int64_t[]){1, 4, 4}, NULL);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL,
                  "index -9 at 1 of indices is out of range for a dim of 8");

    m = one(13, "Einsum", "x", "y", &n);
    tm_attr_string(m, n, "equation", "nchw->nq");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "equation 'nchw->nq': output index 'q' is in no");
    m = one(13, "Einsum", "x", "y", &n);
    tm_attr_string(m, n, "equation", "nc3w");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "equation 'nc3w': '3' is not a letter");
    m = one(13, "Einsum", "x", "y", &n);
    tm_attr_string(m, n, "equation", "n...->n");
    tm_load_fails(m, OND_STATUS_UNSUPPORTED, "equation 'n...->n': an output without '...'");
    m = one(13, "Einsum", "x", "y", &n);
    tm_attr_string(m, n, "equation", "nchc->n");
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "equation 'nchc->n': index 'c' has dims 8 and 4");

    m = one(13, "TopK", "x,k", "y,i", &n);
    tm_init(m, "k", I64, 1, (int64_t[]){1}, (int64_t[]){5});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "node 'bad' (TopK): K is 5, the axis has only 4");
    m = one(13, "Tile", "x,r", "y", &n);
    tm_init(m, "r", I64, 1, (int64_t[]){4}, (int64_t[]){1, 1, -1, 1});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "repeats value -1 at 2 is negative");
    m = one(13, "Expand", "x,s", "y", &n);
    tm_init(m, "s", I64, 1, (int64_t[]){2}, (int64_t[]){3, 4});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "shape value 3 at 0 does not broadcast with "
                                               "input dim 4");
    m = one(13, "ArgMax", "x", "y", &n);
    tm_attr_int(m, n, "keepdims", 2);
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "attribute 'keepdims' must be 0 or 1, got 2");
    m = one(13, "Range", "s,l,d", "y", &n);
    tm_init(m, "s", F, 0, NULL, (float[]){0});
    tm_init(m, "l", F, 0, NULL, (float[]){1});
    tm_init(m, "d", F, 0, NULL, (float[]){0});
    tm_load_fails(m, OND_STATUS_INVALID_MODEL, "node 'bad' (Range): delta is 0");
}

struct shape {
    int rank;
    int64_t dims[6];
};

/* Loads m at -O0 (frees it) and runs it through a session and the reference on seeded
 * random inputs of the given shapes (graph input order): output 0 must agree, and every
 * node run as a oneDNN primitive or a view. */
static void vs_reference(struct tm *m, int n_in, const struct shape *shapes, const char *what)
{
    struct ond_model *model = tm_load_model(m, 0);
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    struct ond_value in[2], want[4], *got = NULL;
    struct ond_plan_stats st;
    size_t n_got = 0;
    assert_true(n_in <= 2 && model->graph->n_outputs <= 4);
    for (int i = 0; i < n_in; i++) {
        size_t n = ond_test_numel(shapes[i].rank, shapes[i].dims);
        float *v = malloc(sizeof *v * n);
        assert_non_null(v);
        for (size_t j = 0; j < n; j++)
            v[j] = ond_test_frand();
        in[i] = ond_test_value(model->graph->inputs[i]->name, F, shapes[i].rank,
                               shapes[i].dims, v);
    }
    if (ond_reference_run(model->graph, in, (size_t)n_in, want, NULL, NULL, &err) ||
        ond_session_create(model, NULL, &s, &err) ||
        ond_session_run_alloc(s, in, (size_t)n_in, &got, &n_got, &err) ||
        ond_session_plan_stats(s, in, (size_t)n_in, &st, &err))
        fail_msg("%s: %s", what, err.message);
    assert_int_equal(got[0].rank, want[0].rank);
    assert_memory_equal(got[0].dims, want[0].dims, sizeof(int64_t) * (size_t)want[0].rank);
    /* Measured: max abs error under 1e-6 on outputs up to about 3 (oneDNN sums the
     * products in another order). */
    assert_close(got[0].data, want[0].data, want[0].size / sizeof(float), 0, 1e-5f);
    if (st.evals)
        fail_msg("%s: eval steps: %d, first %s", what, st.evals, st.first_eval);
    ond_values_free(got, n_got);
    for (int i = 0; i < model->graph->n_outputs; i++) {
        free((void *)want[i].name);
        free(want[i].data);
    }
    for (int i = 0; i < n_in; i++)
        free(in[i].data);
    ond_session_free(s);
    ond_model_free(model);
}

/* x [2, 3, 8, 8] -> Conv (16 channels: a blocked layout) -> the op under test. */
static void blocked(void (*add)(struct tm *m), const char *op)
{
    struct tm *m = tm_new(8, 13);
    int64_t xd[] = {2, 3, 8, 8};
    tm_input(m, "x", F, 4, xd);
    tm_conv3x3(m, "x", "c", 3, 16, 0.3f, 0.5f);
    add(m);
    tm_output(m, "y");
    vs_reference(m, 1, &(struct shape){4, {2, 3, 8, 8}}, op);
}

/* Grouped (4), dilated (2), strided (2), padded, output_padding 1, bias: [2, 12, 15, 15]. */
static void add_convt(struct tm *m)
{
    tm_init_rand(m, "w", 4, (int64_t[]){16, 3, 3, 3}, -0.3f, 0.3f);
    tm_init_rand(m, "b", 1, (int64_t[]){12}, -0.5f, 0.5f);
    Onnx__NodeProto *n = tm_node(m, "ConvTranspose", "ct", "c,w,b", "y");
    tm_attr_int(m, n, "group", 4);
    tm_attr_ints(m, n, "strides", 2, (int64_t[]){2, 2});
    tm_attr_ints(m, n, "dilations", 2, (int64_t[]){2, 2});
    tm_attr_ints(m, n, "pads", 4, (int64_t[]){1, 2, 2, 1});
    tm_attr_ints(m, n, "output_padding", 2, (int64_t[]){1, 1});
}

static void add_d2s(struct tm *m)
{
    Onnx__NodeProto *n = tm_node(m, "DepthToSpace", "d2s", "c", "y");
    tm_attr_int(m, n, "blocksize", 2);
    tm_attr_string(m, n, "mode", "CRD");
}

static void add_s2d(struct tm *m)
{
    tm_attr_int(m, tm_node(m, "SpaceToDepth", "s2d", "c", "y"), "blocksize", 4);
}

static void test_blocked_input(void **state)
{
    (void)state;
    ond_test_seed(15);
    blocked(add_convt, "ConvTranspose");
    blocked(add_d2s, "DepthToSpace");
    blocked(add_s2d, "SpaceToDepth");
}

/* Einsum equations of matrix-product form run as one oneDNN matmul over strided views:
 * batched with B transposed, merged row letters against a constant matrix, and an output
 * whose columns come before its rows. */
static struct tm *einsum2(const char *eq, int ra, const int64_t *a, int rb, const int64_t *b,
                          bool b_const)
{
    struct tm *m = tm_new(8, 12);
    tm_input(m, "a", F, ra, a);
    if (b_const)
        tm_init_rand(m, "b", rb, b, -1, 1);
    else
        tm_input(m, "b", F, rb, b);
    tm_attr_string(m, tm_node(m, "Einsum", "e", "a,b", "y"), "equation", eq);
    tm_output(m, "y");
    return m;
}

static void test_einsum_matmul(void **state)
{
    (void)state;
    ond_test_seed(12);
    struct shape s[] = {{3, {2, 3, 4}}, {3, {2, 5, 4}}};
    vs_reference(einsum2("bij,bkj->bik", 3, s[0].dims, 3, s[1].dims, false), 2, s,
                 "bij,bkj->bik");
    s[0] = (struct shape){4, {2, 3, 3, 8}};
    vs_reference(einsum2("nhwc,cd->nhwd", 4, s[0].dims, 2, (int64_t[]){8, 6}, true), 1, s,
                 "nhwc,cd->nhwd");
    s[0] = (struct shape){4, {2, 8, 3, 5}};
    s[1] = (struct shape){3, {2, 4, 8}};
    vs_reference(einsum2("nchw,nkc->nkhw", 4, s[0].dims, 3, s[1].dims, false), 2, s,
                 "nchw,nkc->nkhw");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_num_outputs),
        cmocka_unit_test(test_einsum_implicit),
        cmocka_unit_test(test_topk_ties),
        cmocka_unit_test(test_depth_space),
        cmocka_unit_test(test_argmin_int),
        cmocka_unit_test(test_expand_tile),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_convtranspose_1d),
        cmocka_unit_test(test_mod_signs),
        cmocka_unit_test(test_scatternd_reductions),
        cmocka_unit_test(test_scatternd_empty),
        cmocka_unit_test(test_runtime_refusals),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_blocked_input),
        cmocka_unit_test(test_einsum_matmul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
