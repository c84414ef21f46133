/* test_passes_models.c: a whole network through the passes: the small Caffe2-style ResNet-50
 * that the passes_models fixture builds (tests/passes_models.py: 64x64 input, opset 9, torch
 * reference outputs) and the files `ondine optimize` wrote from it. The reference interpreter
 * gives the original graph torch's outputs; the -O1 file (standard ops) reloaded, the graph
 * optimized in memory (-O2) and the -O2 file (ai.ondine ops) reloaded give the original graph's
 * outputs within 1e-4 relative; a session (oneDNN, fused post-ops) gives them within oneDNN's
 * reordered-summation error. */
#include <math.h>

#include "proto/loader.h"
#include "runtime/model.h"
#include "runtime/reference.h"
#include "tests/util.h"

#define FOLDER OND_BINARY_DIR "/models/small/caffe2_resnet50_op9"

static struct ond_model *load(const char *file, int level)
{
    struct ond_options o;
    struct ond_model *m = NULL;
    struct ond_error err = {0};
    ond_options_init(&o);
    o.opt_level = level;
    if (ond_model_load_file(file, &o, &m, &err))
        fail_msg("%s", err.message);
    return m;
}

static struct ond_value reference(const struct ond_model *m, const struct ond_value *in)
{
    struct ond_value out;
    struct ond_error err = {0};
    assert_int_equal(m->graph->n_outputs, 1);
    if (ond_reference_run(m->graph, in, 1, &out, NULL, NULL, &err))
        fail_msg("%s", err.message);
    return out;
}

/* Largest |v| of want, for an absolute tolerance in the outputs' scale. */
static float scale_of(const struct ond_value *want)
{
    float s = 0;
    for (size_t i = 0; i < want->size / sizeof(float); i++)
        s = fmaxf(s, fabsf(((const float *)want->data)[i]));
    return s;
}

static void free_value(struct ond_value *v)
{
    free((void *)v->name);
    free(v->data);
}

static void test_caffe2_resnet50(void **state)
{
    (void)state;
    struct ond_value in, torch, base;
    struct ond_error err = {0};
    if (ond_tensor_proto_read(FOLDER "/test_data_set_0/input_0.pb", &in, &err) ||
        ond_tensor_proto_read(FOLDER "/test_data_set_0/output_0.pb", &torch, &err))
        fail_msg("%s (the passes_models fixture makes these)", err.message);
    struct ond_model *m0 = load(FOLDER "/model.onnx", 0);
    base = reference(m0, &in);
    size_t n = base.size / sizeof(float);
    float atol = 1e-4f * scale_of(&base);
    assert_int_equal(base.size, torch.size);
    assert_close(base.data, torch.data, n, 1e-3f, 1e-3f * scale_of(&torch));

    const char *files[] = {FOLDER "/optimized_O1.onnx", FOLDER "/model.onnx",
                           FOLDER "/optimized_O2.onnx"};
    const int levels[] = {0, 2, 0};
    for (int i = 0; i < 3; i++) {
        struct ond_model *m = load(files[i], levels[i]);
        struct ond_value got = reference(m, &in);
        assert_int_equal(m->graph->n_nodes, i == 0 ? 122 : 56);
        assert_int_equal(got.size, base.size);
        assert_close(got.data, base.data, n, 1e-4f, atol);
        free_value(&got);
        ond_model_free(m);
    }

    struct ond_model *m2 = load(FOLDER "/model.onnx", 2);
    struct ond_session *s = NULL;
    struct ond_value *got = NULL;
    size_t n_got = 0;
    if (ond_session_create(m2, NULL, &s, &err) ||
        ond_session_run_alloc(s, &in, 1, &got, &n_got, &err))
        fail_msg("%s", err.message);
    assert_close(got[0].data, base.data, n, 1e-3f, 10 * atol);
    ond_values_free(got, n_got);
    ond_session_free(s);
    ond_model_free(m2);
    ond_model_free(m0);
    free_value(&base);
    free_value(&in);
    free_value(&torch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caffe2_resnet50),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
