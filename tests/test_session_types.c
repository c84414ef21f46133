/* test_session_types.c: sessions carry tensors of types oneDNN has no layout for (int64,
 * double, bool) between plain-C kernels: run-time int64 Gather indices and a double output,
 * values worked out by hand. */
#include "runtime/model.h"
#include "tests/util.h"

/* x float [2,3], idx int64 [2] -> Gather(axis 1) -> Cast(to double) -> y double [2,2]. */
static struct ond_model *gather_cast_model(void)
{
    struct tm *m = tm_new(8, 13);
    int64_t xd[] = {2, 3}, id[] = {2};
    tm_input(m, "x", OND_DTYPE_FLOAT, 2, xd);
    tm_input(m, "idx", OND_DTYPE_INT64, 1, id);
    Onnx__NodeProto *g = tm_node(m, "Gather", "gather", "x,idx", "g");
    tm_attr_int(m, g, "axis", 1);
    Onnx__NodeProto *c = tm_node(m, "Cast", "cast", "g", "y");
    tm_attr_int(m, c, "to", OND_DTYPE_DOUBLE);
    tm_output(m, "y");
    return tm_load_model(m, 2);
}

static void test_int64_input_double_output(void **state)
{
    (void)state;
    struct ond_model *model = gather_cast_model();
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    assert_int_equal(ond_session_create(model, NULL, &s, &err), OND_OK);
    float x[] = {1, 2, 3, 4, 5, 6};
    int64_t idx[] = {2, -3};
    struct ond_value in[] = {
        {.name = "x", .dtype = OND_DTYPE_FLOAT, .rank = 2, .dims = {2, 3}, .data = x,
         .size = sizeof x},
        {.name = "idx", .dtype = OND_DTYPE_INT64, .rank = 1, .dims = {2}, .data = idx,
         .size = sizeof idx},
    };
    double y[4];
    struct ond_value out = {.data = y, .size = sizeof y};
    enum ond_status st = ond_session_run(s, in, 2, &out, 1, &err);
    if (st)
        fail_msg("%s", err.message);
    assert_int_equal(out.dtype, OND_DTYPE_DOUBLE);
    assert_int_equal(out.rank, 2);
    assert_int_equal(out.dims[0], 2);
    assert_int_equal(out.dims[1], 2);
    /* Columns 2 and -3 (= 0) of each row. */
    const double want[] = {3, 1, 6, 4};
    assert_memory_equal(y, want, sizeof want);
    ond_session_free(s);
    ond_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int64_input_double_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
