/* test_session.c: sessions on oneDNN: a hand-computed Conv + Relu, symbolic batch, plan
 * reuse across batch sizes, run-time input checks, and which integer inputs key plans (shape
 * operands) and which are data. */
#include "runtime/model.h"
#include "runtime/session.h"
#include "tests/util.h"

/* x [N,1,3,3] = 1..9 per image, W [1,1,2,2] ones, B [-20] -> conv [12,16,24,28] - 20 -> relu. */
static struct ond_model *conv_relu_model(void)
{
    struct tm *m = tm_new(8, 13);
    int64_t xd[] = {-1, 1, 3, 3}, wd[] = {1, 1, 2, 2}, bd[] = {1};
    float w[] = {1, 1, 1, 1}, b[] = {-20};
    tm_input(m, "x", OND_DTYPE_FLOAT, 4, xd);
    tm_init(m, "w", OND_DTYPE_FLOAT, 4, wd, w);
    tm_init(m, "b", OND_DTYPE_FLOAT, 1, bd, b);
    tm_node(m, "Conv", "conv", "x,w,b", "c");
    tm_node(m, "Relu", "relu", "c", "y");
    tm_output(m, "y");
    return tm_load_model(m, 2);
}

static void test_conv_relu(void **state)
{
    (void)state;
    struct ond_model *model = conv_relu_model();
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    assert_int_equal(ond_session_create(model, NULL, &s, &err), OND_OK);
    for (int batch = 1; batch <= 3; batch += 2) {
        float x[27], y[12];
        for (int i = 0; i < 9 * batch; i++)
            x[i] = (float)(i % 9 + 1) * (i >= 9 ? 2.f : 1.f);
        struct ond_value in = {.name = "x", .dtype = OND_DTYPE_FLOAT, .rank = 4,
                               .dims = {batch, 1, 3, 3}, .data = x, .size = sizeof x};
        struct ond_value out = {.data = y, .size = sizeof y};
        assert_int_equal(ond_session_run(s, &in, 1, &out, 1, &err), OND_OK);
        assert_int_equal(out.rank, 4);
        assert_int_equal(out.dims[0], batch);
        assert_int_equal(out.dims[2], 2);
        /* Image 0: max(0, [12,16,24,28] - 20); images 1, 2 are doubled: [24,32,48,56] - 20. */
        const float want[12] = {0, 0, 4, 8, 4, 12, 28, 36, 4, 12, 28, 36};
        assert_close(y, want, (size_t)4 * batch, 1e-6f, 1e-6f);
    }
    ond_session_free(s);
    ond_model_free(model);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    struct ond_model *model = conv_relu_model();
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    assert_int_equal(ond_session_create(model, NULL, &s, &err), OND_OK);
    float x[32] = {0}, y[16];
    struct ond_value out = {.data = y, .size = sizeof y};
    struct ond_value in = {.name = "x", .dtype = OND_DTYPE_FLOAT, .rank = 4,
                           .dims = {1, 1, 4, 4}, .data = x, .size = sizeof x};
    assert_error(ond_session_run(s, &in, 1, &out, 1, &err), OND_STATUS_INVALID_INPUT, &err,
                 "input 'x': expected float[N,1,3,3], got float[1,1,4,4]");
    in.dims[2] = in.dims[3] = 3;
    in.name = "z";
    assert_error(ond_session_run(s, &in, 1, &out, 1, &err), OND_STATUS_INVALID_INPUT, &err,
                 "'z' is not an input");
    in.name = "x";
    in.dtype = OND_DTYPE_INT64;
    assert_error(ond_session_run(s, &in, 1, &out, 1, &err), OND_STATUS_INVALID_INPUT, &err,
                 "expected float");
    in.dtype = OND_DTYPE_FLOAT;
    in.size = 8;
    assert_error(ond_session_run(s, &in, 1, &out, 1, &err), OND_STATUS_INVALID_INPUT, &err,
                 "buffer of 8 bytes");
    in.data = NULL;
    assert_error(ond_session_run(s, &in, 1, &out, 1, &err), OND_STATUS_INVALID_INPUT, &err,
                 "buffer of 0 bytes");
    in.data = x;
    in.size = sizeof x;
    out.size = 4;
    assert_error(ond_session_run(s, &in, 1, &out, 1, &err), OND_STATUS_INVALID_ARGUMENT, &err,
                 "needs 16 bytes");
    ond_session_free(s);
    ond_model_free(model);
}

static void test_run_alloc(void **state)
{
    (void)state;
    struct ond_model *model = conv_relu_model();
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    assert_int_equal(ond_session_create(model, NULL, &s, &err), OND_OK);
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    struct ond_value in = {.name = "x", .dtype = OND_DTYPE_FLOAT, .rank = 4,
                           .dims = {1, 1, 3, 3}, .data = x, .size = sizeof x};
    struct ond_value *out = NULL;
    size_t n = 0;
    assert_int_equal(ond_session_run_alloc(s, &in, 1, &out, &n, &err), OND_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].name, "y");
    const float want[4] = {0, 0, 4, 8};
    assert_close(out[0].data, want, 4, 1e-6f, 1e-6f);
    ond_values_free(out, n);
    ond_session_free(s);
    ond_model_free(model);
}

/* idx int64[1] -> Gather(table float[100, 4], idx) -> y: an integer input of one element
 * that is data, not a shape operand. 100 indices run on one plan, each output the table's
 * row (the table is the reference). */
static void test_integer_data_input_one_plan(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    float table[100][4];
    for (int r = 0; r < 100; r++)
        for (int c = 0; c < 4; c++)
            table[r][c] = (float)r * 10.f + (float)c;
    tm_input(m, "idx", OND_DTYPE_INT64, 1, (int64_t[]){1});
    tm_init(m, "table", OND_DTYPE_FLOAT, 2, (int64_t[]){100, 4}, table);
    tm_node(m, "Gather", "gather", "table,idx", "y");
    tm_output(m, "y");
    struct ond_model *model = tm_load_model(m, 2);
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    assert_int_equal(ond_session_create(model, NULL, &s, &err), OND_OK);
    for (int64_t i = 0; i < 100; i++) {
        int64_t idx = (i * 37) % 100;
        float y[4];
        struct ond_value in = {.name = "idx", .dtype = OND_DTYPE_INT64, .rank = 1, .dims = {1},
                               .data = &idx, .size = sizeof idx};
        struct ond_value out = {.data = y, .size = sizeof y};
        if (ond_session_run(s, &in, 1, &out, 1, &err))
            fail_msg("index %lld: %s", (long long)idx, err.message);
        assert_memory_equal(y, table[idx], sizeof y);
    }
    assert_int_equal(ond_session_plans_built(s), 1);
    ond_session_free(s);
    ond_model_free(model);
}

/* x float[6], s int32[1] -> Cast(int64) -> Concat(s, [-1]) -> Reshape: an input whose
 * values reach Reshape's shape through Cast and Concat is a shape operand: each value gets
 * its plan, and the output has the shape the values say. */
static void test_shape_operand_through_chain(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", OND_DTYPE_FLOAT, 1, (int64_t[]){6});
    tm_input(m, "s", OND_DTYPE_INT32, 1, (int64_t[]){1});
    tm_init(m, "rest", OND_DTYPE_INT64, 1, (int64_t[]){1}, (int64_t[]){-1});
    Onnx__NodeProto *n = tm_node(m, "Cast", "cast", "s", "s64");
    tm_attr_int(m, n, "to", OND_DTYPE_INT64);
    n = tm_node(m, "Concat", "concat", "s64,rest", "shape");
    tm_attr_int(m, n, "axis", 0);
    tm_node(m, "Reshape", "reshape", "x,shape", "y");
    tm_output(m, "y");
    struct ond_model *model = tm_load_model(m, 2);
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    assert_int_equal(ond_session_create(model, NULL, &s, &err), OND_OK);
    float x[6] = {0, 1, 2, 3, 4, 5}, y[6];
    for (int32_t rows = 1; rows <= 3; rows++) {
        struct ond_value in[2] = {
            {.name = "x", .dtype = OND_DTYPE_FLOAT, .rank = 1, .dims = {6}, .data = x,
             .size = sizeof x},
            {.name = "s", .dtype = OND_DTYPE_INT32, .rank = 1, .dims = {1}, .data = &rows,
             .size = sizeof rows},
        };
        struct ond_value out = {.data = y, .size = sizeof y};
        if (ond_session_run(s, in, 2, &out, 1, &err))
            fail_msg("%d rows: %s", rows, err.message);
        assert_int_equal(out.rank, 2);
        assert_int_equal(out.dims[0], rows);
        assert_int_equal(out.dims[1], 6 / rows);
        assert_memory_equal(y, x, sizeof x);
    }
    assert_int_equal(ond_session_plans_built(s), 3);
    ond_session_free(s);
    ond_model_free(model);
}

/* IR 3, x [1,1,3,3] -> Conv(w) -> y with the initializer w [1,1,2,2] (ones) also listed as a
 * graph input: a default the caller may override by name, as in ONNX Runtime. */
static struct ond_model *default_weight_model(bool fold)
{
    struct tm *m = tm_new(3, 8);
    tm_input(m, "x", OND_DTYPE_FLOAT, 4, (int64_t[]){1, 1, 3, 3});
    tm_input(m, "w", OND_DTYPE_FLOAT, 4, (int64_t[]){1, 1, 2, 2});
    tm_init(m, "w", OND_DTYPE_FLOAT, 4, (int64_t[]){1, 1, 2, 2}, (float[]){1, 1, 1, 1});
    tm_node(m, "Conv", "conv", "x,w", "y");
    tm_output(m, "y");
    struct ond_options o;
    ond_options_init(&o);
    o.fold_initializer_inputs = fold;
    struct ond_model *model = NULL;
    struct ond_error err = {0};
    uint8_t *bytes;
    size_t len;
    bytes = tm_pack(m, &len);
    tm_free(m);
    if (ond_model_load_buffer(bytes, len, &o, &model, &err))
        fail_msg("load: %s", err.message);
    free(bytes);
    return model;
}

static void test_initializer_inputs_are_defaults(void **state)
{
    (void)state;
    struct ond_model *model = default_weight_model(false);
    assert_int_equal(ond_model_input_count(model), 1); /* w is not required */
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    struct ond_value d;
    assert_int_equal(ond_model_default_count(model), 1);
    assert_int_equal(ond_model_default(model, 0, &d, &err), OND_OK);
    assert_string_equal(d.name, "w");
    assert_int_equal(d.dtype, OND_DTYPE_FLOAT);
    assert_int_equal(d.rank, 4);
    assert_int_equal(d.dims[0] * 1000 + d.dims[1] * 100 + d.dims[2] * 10 + d.dims[3], 1122);
    assert_int_equal(ond_model_default(model, 1, &d, &err), OND_STATUS_INVALID_ARGUMENT);
    assert_int_equal(ond_session_create(model, NULL, &s, &err), OND_OK);
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w2[4] = {2, 0, 0, -1}, y[4];
    struct ond_value in[2] = {
        {.name = "x", .dtype = OND_DTYPE_FLOAT, .rank = 4, .dims = {1, 1, 3, 3}, .data = x,
         .size = sizeof x},
        {.name = "w", .dtype = OND_DTYPE_FLOAT, .rank = 4, .dims = {1, 1, 2, 2}, .data = w2,
         .size = sizeof w2},
    };
    struct ond_value out = {.data = y, .size = sizeof y};
    /* By hand: 2x2 windows of x summed (ones), then 2 * top-left - bottom-right. */
    const float sums[4] = {12, 16, 24, 28}, over[4] = {2 - 5, 4 - 6, 8 - 8, 10 - 9};
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(ond_session_run(s, in, 1, &out, 1, &err), OND_OK);
        assert_memory_equal(y, sums, sizeof y);
        if (ond_session_run(s, in, 2, &out, 1, &err))
            fail_msg("override: %s", err.message);
        assert_memory_equal(y, over, sizeof y);
    }
    assert_int_equal(ond_session_plans_built(s), 2);
    ond_session_free(s);
    ond_model_free(model);
    /* Folded on request: w is a constant, which a run cannot name. */
    model = default_weight_model(true);
    assert_int_equal(ond_model_default_count(model), 0);
    assert_int_equal(ond_session_create(model, NULL, &s, &err), OND_OK);
    assert_int_equal(ond_session_run(s, in, 1, &out, 1, &err), OND_OK);
    assert_memory_equal(y, sums, sizeof y);
    assert_int_equal(ond_session_run(s, in, 2, &out, 1, &err), OND_STATUS_INVALID_INPUT);
    assert_non_null(strstr(err.message, "the model takes 1 input, got 2"));
    ond_session_free(s);
    ond_model_free(model);
}

/* The committed Fashion-MNIST model names its batch "N" (torch's dynamic_axes): input
 * [N,1,28,28], output [N,10]; fixed dims have no name; bad indices give NULL. */
static void test_dim_names(void **state)
{
    (void)state;
    struct ond_model *m = NULL;
    struct ond_error err = {0};
    if (ond_model_load_file(OND_SOURCE_DIR "/examples/models/resnet20_fashion.onnx", NULL, &m,
                            &err))
        fail_msg("%s", err.message);
    assert_string_equal(ond_model_dim_name(m, 0, 0, 0), "N");
    assert_string_equal(ond_model_dim_name(m, 0, 0, 1), "");
    assert_string_equal(ond_model_dim_name(m, 1, 0, 0), "N");
    assert_null(ond_model_dim_name(m, 0, 0, 4));
    assert_null(ond_model_dim_name(m, 0, 1, 0));
    assert_null(ond_model_dim_name(m, 1, 0, -1));
    assert_null(ond_model_dim_name(NULL, 0, 0, 0));
    ond_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_relu),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_run_alloc),
        cmocka_unit_test(test_integer_data_input_one_plan),
        cmocka_unit_test(test_shape_operand_through_chain),
        cmocka_unit_test(test_initializer_inputs_are_defaults),
        cmocka_unit_test(test_dim_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
