/* test_concurrency.c: the thread-safety contract of ondine.h. One session run from 4 threads
 * at once on different inputs and batch sizes (so that plans are also built concurrently)
 * gives outputs bitwise equal to runs made one after another from one thread; repeated runs
 * are bitwise identical; sessions of one model created and run in parallel agree too; a run
 * leaves the caller's floating-point control (MXCSR) as it was. */
#include <pthread.h>
#include <xmmintrin.h>

#include "tests/util.h"

#define N_THREADS 4
#define N_INPUTS 8
#define ITERS 6
#define CLASSES 10
#define IMAGE (3 * 16 * 16)

/* Deterministic weights and inputs in [-1, 1). */
static float lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / (float)(1u << 23) - 1.0f;
}

static Onnx__TensorProto *weights(struct tm *m, const char *name, int rank, const int64_t *dims,
                                  uint32_t seed)
{
    size_t n = ond_test_numel(rank, dims);
    float *w = tm_alloc(m, n * sizeof *w);
    for (size_t i = 0; i < n; i++)
        w[i] = lcg(&seed) * 0.3f;
    return tm_init(m, name, OND_DTYPE_FLOAT, rank, dims, w);
}

/* x[N,3,16,16] -> Conv 8 3x3 -> Relu -> MaxPool 2 -> Conv 8 3x3 (+ residual) -> Relu ->
 * GlobalAveragePool -> Flatten -> Gemm 10 -> Softmax: oneDNN primitives, reorders and
 * plain-C steps in one plan. */
static struct ond_model *small_cnn(void)
{
    struct tm *m = tm_new(8, 13);
    tm_input(m, "x", OND_DTYPE_FLOAT, 4, (int64_t[]){-1, 3, 16, 16});
    weights(m, "w1", 4, (int64_t[]){8, 3, 3, 3}, 1);
    weights(m, "b1", 1, (int64_t[]){8}, 2);
    weights(m, "w2", 4, (int64_t[]){8, 8, 3, 3}, 3);
    weights(m, "fc", 2, (int64_t[]){CLASSES, 8}, 4);
    weights(m, "fcb", 1, (int64_t[]){CLASSES}, 5);
    Onnx__NodeProto *n = tm_node(m, "Conv", "conv1", "x,w1,b1", "c1");
    tm_attr_ints(m, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    tm_node(m, "Relu", "relu1", "c1", "r1");
    n = tm_node(m, "MaxPool", "pool", "r1", "p");
    tm_attr_ints(m, n, "kernel_shape", 2, (int64_t[]){2, 2});
    tm_attr_ints(m, n, "strides", 2, (int64_t[]){2, 2});
    n = tm_node(m, "Conv", "conv2", "p,w2", "c2");
    tm_attr_ints(m, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    tm_node(m, "Add", "add", "c2,p", "s");
    tm_node(m, "Relu", "relu2", "s", "r2");
    tm_node(m, "GlobalAveragePool", "gap", "r2", "g");
    tm_node(m, "Flatten", "flatten", "g", "f");
    n = tm_node(m, "Gemm", "fc", "f,fc,fcb", "logits");
    tm_attr_int(m, n, "transB", 1);
    tm_node(m, "Softmax", "softmax", "logits", "y");
    tm_output(m, "y");
    return tm_load_model(m, 2);
}

/* Input i: batch 1 for even i, 2 for odd i, its own values. */
static struct {
    float x[2 * IMAGE];
    int batch;
    float want[2 * CLASSES];
} inputs[N_INPUTS];

static void make_inputs(void)
{
    for (int i = 0; i < N_INPUTS; i++) {
        uint32_t seed = 100u + (uint32_t)i;
        inputs[i].batch = 1 + i % 2;
        for (int k = 0; k < inputs[i].batch * IMAGE; k++)
            inputs[i].x[k] = lcg(&seed);
    }
}

static enum ond_status run_one(struct ond_session *s, int i, float *y, bool alloc,
                               struct ond_error *err)
{
    struct ond_value in = {.name = "x", .dtype = OND_DTYPE_FLOAT, .rank = 4,
                           .dims = {inputs[i].batch, 3, 16, 16}, .data = inputs[i].x,
                           .size = sizeof(float) * (size_t)(inputs[i].batch * IMAGE)};
    size_t bytes = sizeof(float) * (size_t)(inputs[i].batch * CLASSES);
    if (!alloc) {
        struct ond_value out = {.data = y, .size = bytes};
        return ond_session_run(s, &in, 1, &out, 1, err);
    }
    struct ond_value *out = NULL;
    size_t n = 0;
    enum ond_status st = ond_session_run_alloc(s, &in, 1, &out, &n, err);
    if (!st)
        memcpy(y, out[0].data, bytes);
    ond_values_free(out, n);
    return st;
}

static struct ond_session *session_with_threads(const struct ond_model *model, int threads)
{
    struct ond_options o;
    ond_options_init(&o);
    o.threads = threads;
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    if (ond_session_create(model, &o, &s, &err))
        fail_msg("session: %s", err.message);
    return s;
}

struct worker {
    pthread_t thread;
    int id;
    const struct ond_model *model;
    struct ond_session *shared;    /* NULL: the worker makes its own session */
    pthread_barrier_t *start;
    int mismatches, failures;
    char message[1024];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct ond_session *s = w->shared;
    struct ond_options o;
    ond_options_init(&o);
    o.threads = 2;
    struct ond_error err = {0};
    /* cmocka's failures cannot cross threads: workers only count and keep a message. */
    if (!s && ond_session_create(w->model, &o, &s, &err)) {
        w->failures++;
        memcpy(w->message, err.message, sizeof w->message);
    }
    pthread_barrier_wait(w->start);
    for (int it = 0; s && it < ITERS; it++) {
        int i = w->id + N_THREADS * (it % 2);
        float y[2 * CLASSES];
        if (run_one(s, i, y, (it + w->id) % 3 == 0, &err)) {
            w->failures++;
            memcpy(w->message, err.message, sizeof w->message);
        } else if (memcmp(y, inputs[i].want,
                          sizeof(float) * (size_t)(inputs[i].batch * CLASSES)) != 0) {
            w->mismatches++;
        }
    }
    if (!w->shared)
        ond_session_free(s);
    return NULL;
}

/* Runs N_THREADS workers at once on shared (or on a session each) and checks every output. */
static void run_workers(const struct ond_model *model, struct ond_session *shared)
{
    struct worker w[N_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N_THREADS);
    for (int t = 0; t < N_THREADS; t++) {
        w[t] = (struct worker){.id = t, .model = model, .shared = shared, .start = &start};
        assert_int_equal(pthread_create(&w[t].thread, NULL, work, &w[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(w[t].thread, NULL);
    pthread_barrier_destroy(&start);
    for (int t = 0; t < N_THREADS; t++) {
        if (w[t].failures)
            fail_msg("thread %d: %d failed runs: %s", t, w[t].failures, w[t].message);
        if (w[t].mismatches)
            fail_msg("thread %d: %d of %d outputs differ from the single-threaded run", t,
                     w[t].mismatches, ITERS);
    }
}

static void test_one_session_many_threads(void **state)
{
    (void)state;
    struct ond_model *model = small_cnn();
    make_inputs();
    /* The single-threaded results, twice: repeated runs are bitwise identical. */
    struct ond_session *ref = session_with_threads(model, 2);
    struct ond_error err = {0};
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < N_INPUTS; i++) {
            float y[2 * CLASSES];
            if (run_one(ref, i, y, false, &err))
                fail_msg("run: %s", err.message);
            size_t bytes = sizeof(float) * (size_t)(inputs[i].batch * CLASSES);
            if (pass == 0)
                memcpy(inputs[i].want, y, bytes);
            else
                assert_memory_equal(y, inputs[i].want, bytes);
        }
    ond_session_free(ref);
    /* A fresh session: its plans for both batch sizes are built by the racing threads. */
    struct ond_session *s = session_with_threads(model, 2);
    run_workers(model, s);
    /* And once more on the planned session. */
    run_workers(model, s);
    ond_session_free(s);
    /* Sessions of one model, created and run in parallel. */
    run_workers(model, NULL);
    ond_model_free(model);
}

static void test_caller_fp_state(void **state)
{
    (void)state;
    struct ond_model *model = small_cnn();
    make_inputs();
    float y[CLASSES];
    struct ond_error err = {0};
    /* Control bits (rounding, exception masks, FTZ, DAZ): the default, and one a caller
     * might choose (round toward zero), both with denormals kept. */
    const unsigned control = ~0x3fu, modes[] = {0x1f80u, 0x7f80u};
    for (int no_ftz = 0; no_ftz <= 1; no_ftz++)
        for (int k = 0; k < 2; k++) {
            struct ond_options o;
            ond_options_init(&o);
            o.threads = 1;
            o.no_ftz = no_ftz;
            struct ond_session *s = NULL;
            assert_int_equal(ond_session_create(model, &o, &s, &err), OND_OK);
            _mm_setcsr(modes[k]);
            assert_int_equal(run_one(s, 0, y, false, &err), OND_OK);
            unsigned after = _mm_getcsr();
            _mm_setcsr(0x1f80u);
            assert_int_equal(after & control, modes[k]);
            ond_session_free(s);
        }
    ond_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_session_many_threads),
        cmocka_unit_test(test_caller_fp_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
