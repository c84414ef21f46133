/* test_concurrency.c: the thread-safety contract of ondine.h. One session run from 4 threads
 * at once on different inputs and batch sizes (so that plans are also built concurrently)
 * gives outputs bitwise equal to runs made one after another from one thread, also when runs
 * must wait for a context (max_concurrent_runs 1) and when plans are evicted while others run
 * (a plan cache of one byte); repeated runs are bitwise identical; sessions of one model
 * created and run in parallel agree too; a run leaves the caller's OpenMP thread count and
 * the floating-point control (MXCSR) of the caller and of the OpenMP workers as they were. */
#include <errno.h>
#include <omp.h>
#include <pthread.h>
#include <time.h>
#include <xmmintrin.h>

#include "runtime/session.h"
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

static struct ond_session *session_with(const struct ond_model *model, int threads,
                                        int max_runs, uint64_t cache_bytes)
{
    struct ond_options o;
    ond_options_init(&o);
    o.threads = threads;
    o.max_concurrent_runs = max_runs;
    o.max_plan_cache_bytes = cache_bytes;
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
    struct ond_session *ref = session_with(model, 2, 0, 1ull << 30);
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
    struct ond_session *s = session_with(model, 2, 0, 1ull << 30);
    run_workers(model, s);
    /* And once more on the planned session. */
    run_workers(model, s);
    ond_session_free(s);
    /* One context for all: runs wait for it. */
    s = session_with(model, 2, 1, 1ull << 30);
    run_workers(model, s);
    ond_session_free(s);
    /* Every plan but the newest is evicted as soon as no run holds it. */
    s = session_with(model, 2, 0, 1);
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

/* Two runs inside one session at once: each observing run, while it holds its activations
 * (in the observer callback), waits for the other to be there too. Runs serialized by the
 * session would time out here. */
struct meet {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int arrived;
    bool timed_out;
};

struct observer {
    pthread_t thread;
    struct ond_session *s;
    struct meet *m;
    int i;
    bool first;
    enum ond_status st;
    char message[1024];
};

static void wait_for_other(void *arg, const struct ond_tensor *t, const float *data,
                           size_t numel)
{
    (void)t, (void)data, (void)numel;
    struct observer *o = arg;
    struct meet *m = o->m;
    if (!o->first)
        return;
    o->first = false;
    pthread_mutex_lock(&m->lock);
    m->arrived++;
    pthread_cond_broadcast(&m->cond);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    while (m->arrived < 2 && !m->timed_out)
        if (pthread_cond_timedwait(&m->cond, &m->lock, &until) == ETIMEDOUT)
            m->timed_out = true;
    pthread_mutex_unlock(&m->lock);
}

static void *observe_one(void *arg)
{
    struct observer *o = arg;
    struct ond_value in = {.name = "x", .dtype = OND_DTYPE_FLOAT, .rank = 4,
                           .dims = {inputs[o->i].batch, 3, 16, 16}, .data = inputs[o->i].x,
                           .size = sizeof(float) * (size_t)(inputs[o->i].batch * IMAGE)};
    struct ond_error err = {0};
    o->st = ond_session_observe(o->s, &in, 1, wait_for_other, o, &err);
    memcpy(o->message, err.message, sizeof o->message);
    return NULL;
}

static void test_runs_overlap(void **state)
{
    (void)state;
    struct ond_model *model = small_cnn();
    make_inputs();
    struct ond_options opts;
    ond_options_init(&opts);
    opts.threads = 1;
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    if (ond_session_create_observer(model, &opts, &s, &err))
        fail_msg("observer: %s", err.message);
    struct meet m = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct observer o[2];
    for (int t = 0; t < 2; t++) {
        /* Inputs 0 and 2 have one shape: both runs share one plan. */
        o[t] = (struct observer){.s = s, .m = &m, .i = 2 * t, .first = true};
        assert_int_equal(pthread_create(&o[t].thread, NULL, observe_one, &o[t]), 0);
    }
    for (int t = 0; t < 2; t++) {
        pthread_join(o[t].thread, NULL);
        if (o[t].st)
            fail_msg("observing run %d: %s", t, o[t].message);
    }
    assert_false(m.timed_out);
    ond_session_free(s);
    ond_model_free(model);
}

/* Each thread of a team of n records its MXCSR in csr[thread]. */
static void team_csr(int n, unsigned *csr)
{
#pragma omp parallel num_threads(n)
    csr[omp_get_thread_num()] = _mm_getcsr();
}

/* A host that set 3 OpenMP threads, with denormals kept in every thread: after runs with
 * threads=1 and threads=2 (flush-to-zero on, the default), it still has 3 threads and each of
 * its OpenMP threads its own MXCSR. */
static void test_host_state(void **state)
{
    (void)state;
    struct ond_model *model = small_cnn();
    make_inputs();
    struct ond_error err = {0};
    int host_threads = omp_get_max_threads();
    omp_set_num_threads(3);
    unsigned before[3], after[3];
    team_csr(3, before);
    for (int i = 0; i < 3; i++)
        assert_int_equal(before[i] & 0x8040u, 0); /* no FTZ, no DAZ: the test means something */
    for (int threads = 1; threads <= 2; threads++) {
        struct ond_session *s = session_with(model, threads, 0, 1ull << 30);
        float y[2 * CLASSES];
        for (int i = 0; i < 2; i++)
            if (run_one(s, i, y, i == 1, &err))
                fail_msg("run: %s", err.message);
        assert_int_equal(omp_get_max_threads(), 3);
        assert_int_equal(_mm_getcsr(), before[0]);
        team_csr(3, after);
        for (int i = 0; i < 3; i++)
            if (after[i] != before[i])
                fail_msg("threads=%d: OpenMP thread %d has MXCSR %#x after the runs, %#x before",
                         threads, i, after[i], before[i]);
        ond_session_free(s);
    }
    omp_set_num_threads(host_threads);
    ond_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_session_many_threads),
        cmocka_unit_test(test_caller_fp_state),
        cmocka_unit_test(test_host_state),
        cmocka_unit_test(test_runs_overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
