/* test_mapped.c: models loaded from files keep their Conv and Gemm weights in the file's
 * mapping (OND_TENSOR_DEFERRED, runtime/ir.h; proto/wire.c leaves the raw_data out of what
 * protobuf-c copies). Checked against the same bytes loaded from memory, which protobuf-c
 * copies (the loader's other path): the same outputs to the bit, at -O0 and with a
 * BatchNormalization folded into a deferred W and Gemms made InnerProducts (-O2), through
 * sessions, the reference interpreter (the ops' evals) and the writer; which tensors stay
 * deferred; and truncated or doctored files failing as they do from memory. */
#define _GNU_SOURCE
#include <unistd.h>

#include "proto/writer.h"
#include "runtime/model.h"
#include "runtime/reference.h"
#include "tests/util.h"

#define C 8
#define K 16
#define HW 6

/* x [1,C,HW,HW] -> Conv(W1, B1) -> BatchNormalization -> bn; Conv(bn, W2) + Conv(bn, W2)
 * (one W, two Convs) -> sum; y = MatMul(Flatten(sum), M), z = Gemm(Flatten(sum), G, transB),
 * u = Gemm(Flatten(sum), H), each [1,4]. W1, W2, M, G and H have 4 KiB or more. */
#define N_OUT 3
static struct tm *model(const char *graph_name)
{
    struct tm *m = tm_new(8, 13);
    int64_t x[] = {1, C, HW, HW}, w1[] = {K, C, 3, 3}, w2[] = {K, K, 3, 3}, k[] = {K},
            mm[] = {K * HW * HW, 4}, g[] = {4, K * HW * HW}, pads[] = {1, 1, 1, 1};
    tm_graph(m)->name = tm_str(m, graph_name);
    ond_test_seed(11);
    tm_input(m, "x", OND_DTYPE_FLOAT, 4, x);
    tm_init_rand(m, "W1", 4, w1, -0.5f, 0.5f);
    tm_init_rand(m, "B1", 1, k, -0.5f, 0.5f);
    tm_init_rand(m, "scale", 1, k, 0.5f, 2.f);
    tm_init_rand(m, "beta", 1, k, -1.f, 1.f);
    tm_init_rand(m, "mean", 1, k, -1.f, 1.f);
    tm_init_rand(m, "var", 1, k, 0.25f, 4.f);
    tm_init_rand(m, "W2", 4, w2, -0.25f, 0.25f);
    tm_init_rand(m, "M", 2, mm, -0.1f, 0.1f);
    tm_init_rand(m, "G", 2, g, -0.1f, 0.1f);
    tm_init_rand(m, "H", 2, mm, -0.1f, 0.1f);
    tm_attr_ints(m, tm_node(m, "Conv", "c1", "x,W1,B1", "c1"), "pads", 4, pads);
    tm_node(m, "BatchNormalization", "bn", "c1,scale,beta,mean,var", "bn");
    tm_attr_ints(m, tm_node(m, "Conv", "c2", "bn,W2", "c2"), "pads", 4, pads);
    tm_attr_ints(m, tm_node(m, "Conv", "c3", "bn,W2", "c3"), "pads", 4, pads);
    tm_node(m, "Add", "add", "c2,c3", "sum");
    tm_node(m, "Flatten", "flat", "sum", "flat");
    tm_node(m, "MatMul", "mm", "flat,M", "y");
    tm_node(m, "Flatten", "flat_t", "sum", "flat_t");
    tm_attr_int(m, tm_node(m, "Gemm", "gemm_t", "flat_t,G", "z"), "transB", 1);
    tm_node(m, "Flatten", "flat_h", "sum", "flat_h");
    tm_node(m, "Gemm", "gemm", "flat_h,H", "u");
    tm_output(m, "y");
    tm_output(m, "z");
    tm_output(m, "u");
    return m;
}

/* Its bytes, with W1's raw_data at an offset that is not a multiple of 4 (the graph's name,
 * packed before the initializers, moves it). */
static uint8_t *model_bytes(size_t *len)
{
    for (int pad = 0;; pad++) {
        char name[16] = "g";
        memset(name + 1, 'x', (size_t)pad);
        struct tm *m = model(name);
        uint8_t *buf = tm_pack(m, len);
        const Onnx__TensorProto *w1 = tm_graph(m)->initializer[0];
        const uint8_t *at = memmem(buf, *len, w1->raw_data.data, w1->raw_data.len);
        assert_non_null(at);
        tm_free(m);
        if ((at - buf) % 4)
            return buf;
        free(buf);
    }
}

static char path[] = "/tmp/ondine-mapped-XXXXXX";

static void write_file(const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static struct ond_model *load(const uint8_t *buf, size_t len, bool file, int opt_level)
{
    struct ond_options o;
    ond_options_init(&o);
    o.opt_level = opt_level;
    o.threads = 1;
    struct ond_model *m = NULL;
    struct ond_error err = {0};
    if (file)
        write_file(buf, len);
    enum ond_status st = file ? ond_model_load_file(path, &o, &m, &err)
                              : ond_model_load_buffer(buf, len, &o, &m, &err);
    if (st)
        fail_msg("load: %s", err.message);
    return m;
}

static float xdata[C * HW * HW];

static void run(const struct ond_model *m, float *y)
{
    struct ond_options o;
    ond_options_init(&o);
    o.threads = 1;
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    struct ond_value in = ond_test_value("x", OND_DTYPE_FLOAT, 4, (int64_t[]){1, C, HW, HW},
                                         xdata);
    struct ond_value *out = NULL;
    size_t n = 0;
    if (ond_session_create(m, &o, &s, &err) || ond_session_run_alloc(s, &in, 1, &out, &n, &err))
        fail_msg("run: %s", err.message);
    assert_int_equal(n, N_OUT);
    for (size_t i = 0; i < n; i++)
        memcpy(y + 4 * i, out[i].data, sizeof(float) * 4);
    ond_values_free(out, n);
    ond_session_free(s);
}

static const struct ond_tensor *tensor(const struct ond_model *m, const char *name)
{
    const struct ond_tensor *t = ond_graph_find_tensor(m->graph, name);
    assert_non_null(t);
    return t;
}

static void test_deferred_weights(void **state)
{
    (void)state;
    ond_test_seed(5);
    for (size_t i = 0; i < sizeof xdata / sizeof xdata[0]; i++)
        xdata[i] = ond_test_frand();
    size_t len;
    uint8_t *buf = model_bytes(&len);
    for (int opt = 0; opt <= 2; opt += 2) {
        struct ond_model *mem = load(buf, len, false, opt), *file = load(buf, len, true, opt);
        /* Conv and Gemm weights stay in the file, whatever their alignment; M, which a
         * MatMul reads, and the small parameters get copies, and so does H once -O2 makes
         * its Gemm an InnerProduct (transposing it). From memory nothing is deferred. */
        const struct ond_tensor *w1 = tensor(file, "W1"), *w2 = tensor(file, "W2");
        assert_true(w1->flags & OND_TENSOR_DEFERRED);
        assert_true(w2->flags & OND_TENSOR_DEFERRED);
        assert_true(tensor(file, "G")->flags & OND_TENSOR_DEFERRED);
        assert_true(opt ? !(tensor(file, "H")->flags & OND_TENSOR_DEFERRED)
                        : (tensor(file, "H")->flags & OND_TENSOR_DEFERRED) != 0);
        assert_true((uintptr_t)w1->info.data % 4 != 0);
        assert_false(tensor(file, "M")->flags & OND_TENSOR_DEFERRED);
        assert_false(tensor(mem, "W1")->flags & OND_TENSOR_DEFERRED);
        assert_non_null(file->graph->map);
        /* -O2 folds the BatchNormalization into W1's scale instead of a copy. */
        assert_true(opt ? w1->scale != NULL : w1->scale == NULL);
        assert_null(w2->scale);
        float a[4 * N_OUT], b[4 * N_OUT];
        run(mem, a);
        run(file, b);
        assert_memory_equal(a, b, sizeof a);
        /* The evals on the deferred weights, in the reference interpreter. */
        struct ond_value in = ond_test_value("x", OND_DTYPE_FLOAT, 4,
                                             (int64_t[]){1, C, HW, HW}, xdata), out[N_OUT];
        struct ond_error err = {0};
        if (ond_reference_run(file->graph, &in, 1, out, NULL, NULL, &err))
            fail_msg("reference: %s", err.message);
        for (int i = 0; i < N_OUT; i++) {
            /* The evals sum in double, oneDNN in float: measured 1e-5 apart at outputs near
             * 5 (2e-6 relative). */
            assert_close(out[i].data, a + 4 * i, 4, 1e-5f, 1e-5f);
            free((void *)out[i].name);
            free(out[i].data);
        }
        /* The writer writes W1' = W1 * scale: read back from memory, the same outputs. */
        uint8_t *wbuf;
        size_t wlen;
        if (ond_write_model_buffer(file->graph, &wbuf, &wlen, &err))
            fail_msg("write: %s", err.message);
        struct ond_model *back = load(wbuf, wlen, false, opt);
        run(back, b);
        assert_memory_equal(a, b, sizeof a);
        free(wbuf);
        ond_model_free(back);
        ond_model_free(mem);
        ond_model_free(file);
    }
    free(buf);
}

/* A model without large initializers keeps no mapping. */
static void test_small_model_unmapped(void **state)
{
    (void)state;
    struct tm *m = tm_new(8, 13);
    int64_t d[] = {2};
    tm_input(m, "x", OND_DTYPE_FLOAT, 1, d);
    tm_init(m, "b", OND_DTYPE_FLOAT, 1, d, (float[]){1, 2});
    tm_node(m, "Add", "add", "x,b", "y");
    tm_output(m, "y");
    size_t len;
    uint8_t *buf = tm_pack(m, &len);
    struct ond_model *file = load(buf, len, true, 2);
    assert_null(file->graph->map);
    ond_model_free(file);
    free(buf);
    tm_free(m);
}

/* Truncated files, and files whose layout the loader does not rewrite (a second graph field,
 * which protobuf merges), load or fail as the same bytes do from memory. */
static void test_doctored_files(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = model_bytes(&len);
    struct ond_options o;
    ond_options_init(&o);
    for (size_t cut = 0; cut < len; cut += cut < 600 || len - cut < 600 ? 1 : 97) {
        struct ond_model *m = NULL;
        struct ond_error e1 = {0}, e2 = {0};
        enum ond_status st = ond_model_load_buffer(buf, cut, &o, &m, &e1);
        ond_model_free(m);
        write_file(buf, cut);
        assert_int_equal(ond_model_load_file(path, &o, &m, &e2), st);
        ond_model_free(m);
        if (st == OND_OK)
            fail_msg("cut at %zu of %zu loads", cut, len);
        assert_non_null(strstr(e2.message, strchr(e1.message, ':') ? strchr(e1.message, ':')
                                                                   : e1.message));
    }
    /* A second graph field (field 7) naming the graph again: merged, nothing deferred. */
    uint8_t *two = malloc(len + 4);
    memcpy(two, buf, len);
    memcpy(two + len, (const uint8_t[]){0x3a, 0x02, 0x12, 0x00}, 4);
    struct ond_model *m = load(two, len + 4, true, 2);
    assert_false(tensor(m, "W1")->flags & OND_TENSOR_DEFERRED);
    assert_null(m->graph->map);
    float a[4 * N_OUT], b[4 * N_OUT];
    run(m, a);
    ond_model_free(m);
    m = load(buf, len, true, 2);
    run(m, b);
    assert_memory_equal(a, b, sizeof a);
    ond_model_free(m);
    free(two);
    free(buf);
}

static int setup(void **state)
{
    (void)state;
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deferred_weights),
        cmocka_unit_test(test_small_model_unmapped),
        cmocka_unit_test(test_doctored_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
