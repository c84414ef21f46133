/* test_tune.c: per-layer tuning (runtime/tune.c). A three-convolution chain (3x3 on 14x14, 64
 * channels: Winograd is a candidate too) tuned into a cache file, then planned from the file
 * alone: the same kernels and layouts step by step, bitwise the same outputs, and outputs
 * within float rounding of the plain-C reference interpreter. Malformed and hostile cache
 * files are refused at ond_session_create with a message naming the file, line and rule; a
 * well-formed cache naming an implementation oneDNN does not offer falls back to the
 * defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/model.h"
#include "runtime/reference.h"
#include "runtime/session.h"
#include "tests/util.h"

#define C 64
#define HW 14
#define N_X (C * HW * HW)

static char cache[256];

static struct ond_model *chain_model(void)
{
    struct tm *m = tm_new(8, 13);
    int64_t xd[] = {1, C, HW, HW};
    ond_test_seed(7);
    tm_input(m, "x", OND_DTYPE_FLOAT, 4, xd);
    tm_conv3x3(m, "x", "c1", C, C, 0.05f, 0.1f);
    tm_node(m, "Relu", "r1", "c1", "a1");
    tm_conv3x3(m, "a1", "c2", C, C, 0.05f, 0.1f);
    tm_node(m, "Relu", "r2", "c2", "a2");
    tm_conv3x3(m, "a2", "y", C, C, 0.05f, 0.1f);
    tm_output(m, "y");
    return tm_load_model(m, 2);
}

static float *input(void)
{
    float *x = malloc(sizeof(float) * N_X);
    ond_test_seed(11);
    for (int i = 0; x && i < N_X; i++)
        x[i] = ond_test_frand();
    return x;
}

/* Runs model once in a session with opts; y gets the output, prof the profile of a second
 * run (may be NULL). */
static enum ond_status run(const struct ond_model *model, const struct ond_options *o,
                           const float *x, float *y, struct ond_profile *prof,
                           struct ond_error *err)
{
    struct ond_session *s = NULL;
    int64_t d[] = {1, C, HW, HW};
    struct ond_value in = ond_test_value("x", OND_DTYPE_FLOAT, 4, d, x);
    struct ond_value out = {.data = y, .size = sizeof(float) * N_X};
    enum ond_status st = ond_session_create(model, o, &s, err);
    if (!st)
        st = ond_session_run(s, &in, 1, &out, 1, err);
    if (!st && prof)
        st = ond_session_profile(s, &in, 1, &out, 1, prof, err);
    ond_session_free(s);
    return st;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *b = calloc(1, 1 << 20);
    assert_non_null(b);
    size_t n = fread(b, 1, (1 << 20) - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct ond_model *model = chain_model();
    float *x = input(), *y1 = malloc(sizeof(float) * N_X), *y2 = malloc(sizeof(float) * N_X);
    float *ref_y = NULL;
    struct ond_error err = {0};
    struct ond_options o;
    ond_options_init(&o);
    o.threads = 2;
    o.tune = 1;
    o.tune_cache = cache;
    remove(cache);
    struct ond_profile p1, p2;
    assert_int_equal(run(model, &o, x, y1, &p1, &err), OND_OK);
    char *written = slurp(cache);
    assert_non_null(strstr(written, "ondine-tune-cache 1\nC\t"));
    assert_non_null(strstr(written, "\nP\t"));
    assert_non_null(strstr(written, "\nR\t"));
    /* From the file alone: no timing, the same plan, the same bits, the file untouched. */
    o.tune = 0;
    assert_int_equal(run(model, &o, x, y2, &p2, &err), OND_OK);
    assert_memory_equal(y1, y2, sizeof(float) * N_X);
    assert_int_equal(p1.n_steps, p2.n_steps);
    int convs = 0;
    for (int i = 0; i < p1.n_steps; i++) {
        assert_string_equal(p1.steps[i].impl, p2.steps[i].impl);
        assert_string_equal(p1.steps[i].src, p2.steps[i].src);
        assert_string_equal(p1.steps[i].dst, p2.steps[i].dst);
        convs += strcmp(p1.steps[i].op, "Conv") == 0;
    }
    assert_int_equal(convs, 3);
    char *again = slurp(cache);
    assert_string_equal(written, again);
    /* Against the plain-C interpreter (double accumulation): Winograd's F(2x2,3x3) and the
     * direct kernels differ from it by up to 3e-6 here (outputs of magnitude ~1). */
    struct ond_value in = ond_test_value("x", OND_DTYPE_FLOAT, 4, (int64_t[]){1, C, HW, HW}, x);
    struct ond_value out;
    assert_int_equal(ond_reference_run(model->graph, &in, 1, &out, NULL, NULL, &err), OND_OK);
    ref_y = out.data;
    assert_close(y1, ref_y, N_X, 1e-4f, 1e-5f);
    free((void *)out.name);
    free(ref_y);
    ond_profile_free(&p1);
    ond_profile_free(&p2);
    free(written);
    free(again);
    free(x);
    free(y1);
    free(y2);
    ond_model_free(model);
}

/* A cache file of the n bytes at body (n 0: strlen): the session must refuse it, saying why. */
static void refused_n(const struct ond_model *model, const char *body, size_t n, const char *why)
{
    FILE *f = fopen(cache, "wb");
    assert_non_null(f);
    fwrite(body, 1, n ? n : strlen(body), f);
    fclose(f);
    struct ond_options o;
    ond_options_init(&o);
    o.tune_cache = cache;
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    enum ond_status st = ond_session_create(model, &o, &s, &err);
    if (st != OND_STATUS_INVALID_ARGUMENT || !strstr(err.message, why))
        fail_msg("cache %.60s: got %d '%s', want '%s'", body, st, err.message, why);
    assert_non_null(strstr(err.message, "tuning cache"));
    assert_null(s);
}

static void refused(const struct ond_model *model, const char *body, const char *why)
{
    refused_n(model, body, 0, why);
}

static void test_hostile_cache(void **state)
{
    (void)state;
    struct ond_model *model = chain_model();
    const char *h = "ondine-tune-cache 1\n";
    char buf[8192];
    refused(model, "", "empty file");
    refused(model, "ondine-tune-cache 2\n", "not an ondine tuning cache");
    refused(model, "\x7f" "ELF\x01\x01\n", "not an ondine tuning cache");
    snprintf(buf, sizeof buf, "%sZ\tk\tnhwc direct jit:avx2 1.0\n", h);
    refused(model, buf, "want a kind");
    snprintf(buf, sizeof buf, "%sC\tk\n", h);
    refused(model, buf, "no candidates");
    snprintf(buf, sizeof buf, "%sC\tk\tnchw4c direct jit:avx2 1.0\n", h);
    refused(model, buf, "unknown layout");
    snprintf(buf, sizeof buf, "%sC\tk\tnhwc fft jit:avx2 1.0\n", h);
    refused(model, buf, "unknown algorithm");
    snprintf(buf, sizeof buf, "%sC\tk\tnhwc direct jit;rm/x 1.0\n", h);
    refused(model, buf, "bad implementation name");
    snprintf(buf, sizeof buf, "%sC\tk\tnhwc direct jit:avx2 nan\n", h);
    refused(model, buf, "positive number");
    snprintf(buf, sizeof buf, "%sC\tk\tnhwc direct jit:avx2 -1\n", h);
    refused(model, buf, "positive number");
    snprintf(buf, sizeof buf, "%sC\tk\tnhwc direct jit:avx2 1e999\n", h);
    refused(model, buf, "positive number");
    snprintf(buf, sizeof buf, "%sC\tk\tnhwc direct jit:avx2\n", h);
    refused(model, buf, "wrong number of words");
    snprintf(buf, sizeof buf, "%sC\tk\tnhwc direct a 1 2 3\n", h);
    refused(model, buf, "too many words");
    snprintf(buf, sizeof buf, "%sC\tk\tnhwc direct jit:avx2 1\nC\tk\tnhwc direct jit:avx2 1\n", h);
    refused(model, buf, "line 3: the key is given twice");
    snprintf(buf, sizeof buf, "%sP\tk\tnhwc direct jit:avx2\tnhwc direct jit:avx2\n", h);
    refused(model, buf, "one candidate");
    int n = snprintf(buf, sizeof buf, "%sC\tk", h);
    for (int i = 0; i < 33; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "\tnhwc direct a%d 1", i);
    snprintf(buf + n, sizeof buf - (size_t)n, "\n");
    refused(model, buf, "over 32 candidates");
    n = snprintf(buf, sizeof buf, "%sC\t", h);
    memset(buf + n, 'k', 5000);
    buf[n + 5000] = 0;
    refused(model, buf, "longer than 4096");
    refused_n(model, "ondine-tune-cache 1\nC\tk\0\tnhwc direct a 1\n", 41, "line 2: NUL byte");
    ond_model_free(model);
}

/* A well-formed cache whose choices oneDNN cannot honour (implementation names it does not
 * have, Winograd in every layout) plans the defaults and computes the same as an untuned
 * session. */
static void test_stale_choice(void **state)
{
    (void)state;
    struct ond_model *model = chain_model();
    float *x = input(), *y1 = malloc(sizeof(float) * N_X), *y2 = malloc(sizeof(float) * N_X);
    struct ond_error err = {0};
    struct ond_options o;
    ond_options_init(&o);
    o.threads = 2;
    assert_int_equal(run(model, &o, x, y1, NULL, &err), OND_OK);
    /* Learn the real keys, then rename every implementation. */
    o.tune = 1;
    o.tune_cache = cache;
    remove(cache);
    assert_int_equal(run(model, &o, x, y2, NULL, &err), OND_OK);
    char *b = slurp(cache);
    for (char *p = b; (p = strstr(p, "jit")); p += 3)
        memcpy(p, "zzz", 3);
    for (char *p = b; (p = strstr(p, "brg")); p += 3)
        memcpy(p, "zzz", 3);
    /* Winograd for every choice, in layouts it does not exist in too. */
    for (char *p = b; (p = strstr(p, " direct ")); p += 10) {
        memmove(p + 10, p + 8, strlen(p + 8) + 1);
        memcpy(p, " winograd ", 10);
    }
    FILE *f = fopen(cache, "wb");
    assert_non_null(f);
    fputs(b, f);
    fclose(f);
    o.tune = 0;
    assert_int_equal(run(model, &o, x, y2, NULL, &err), OND_OK);
    assert_memory_equal(y1, y2, sizeof(float) * N_X);
    free(b);
    free(x);
    free(y1);
    free(y2);
    ond_model_free(model);
}

int main(void)
{
    snprintf(cache, sizeof cache, "%s/test_tune_%d.txt", OND_BINARY_DIR, (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_hostile_cache),
        cmocka_unit_test(test_stale_choice),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    remove(cache);
    return rc;
}
