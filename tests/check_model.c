/* check_model.c: runs an ONNX backend-test folder (model.onnx + test_data_set_<k>/input_<i>.pb,
 * output_<i>.pb, as tools/models/export_torchvision.py writes them) through a session and
 * compares every output with the stored one: |got - want| <= atol + rtol * |want|.
 * Usage: check_model DIR RTOL ATOL [--all-primitives] [--bf16] [--tune CACHE]. --tune plans
 * with per-layer tuning through the cache file CACHE (timing what it lacks). With --all-primitives every
 * node must run as a oneDNN primitive or a view (no eval step). --bf16 runs a bf16 session
 * and, for [rows, classes] outputs, also requires every row's top-1 class to agree and
 * reports the largest difference relative to the row's scale. Prints, per data set, the
 * batch, the largest differences and what the plan holds; exits 1 on any mismatch or
 * error. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/loader.h"
#include "runtime/session.h"

#define MAX_VALUES 16

/* Compares n floats; prints the worst element. Returns the number out of tolerance. */
static size_t compare(const char *name, const float *got, const float *want, size_t n,
                      double rtol, double atol)
{
    size_t bad = 0, worst = 0;
    double max_abs = 0, max_excess = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - want[i]), excess = diff - atol - rtol * fabs(want[i]);
        if (diff > max_abs)
            max_abs = diff;
        if (excess > max_excess) {
            max_excess = excess;
            worst = i;
        }
        bad += !(excess <= 0);
    }
    printf("  %s: %zu values, max abs diff %.3g; closest to the tolerance at %zu: got %.6g, "
           "want %.6g; %zu out of tolerance\n", name, n, max_abs, worst, n ? got[worst] : 0.0,
           n ? want[worst] : 0.0, bad);
    return bad;
}

/* For [rows, classes] outputs: rows whose argmax agrees, and the largest difference relative
 * to the row's largest |want| (elementwise relative error means little near zero). */
static int top1(const char *name, const float *got, const float *want, int64_t rows,
                int64_t classes)
{
    int agree = 0;
    double max_rel = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *g = got + r * classes, *w = want + r * classes;
        int64_t ag = 0, aw = 0;
        double scale = 0, diff = 0;
        for (int64_t c = 0; c < classes; c++) {
            ag = g[c] > g[ag] ? c : ag;
            aw = w[c] > w[aw] ? c : aw;
            scale = fmax(scale, fabs(w[c]));
            diff = fmax(diff, fabs((double)g[c] - w[c]));
        }
        agree += ag == aw;
        if (scale > 0)
            max_rel = fmax(max_rel, diff / scale);
    }
    printf("  %s: top-1 agrees on %d of %lld rows; max |got - want| / max |want| %.3g\n", name,
           agree, (long long)rows, max_rel);
    return (int)rows - agree;
}

/* Runs data set dir/test_data_set_<set> (inputs bound by position); 0 ok, 1 failed. */
static int run_set(struct ond_session *s, const struct ond_model *model, const char *dir,
                   int set, double rtol, double atol, int all_primitives, int top1_rows)
{
    struct ond_value in[MAX_VALUES], want[MAX_VALUES];
    struct ond_value *got = NULL;
    struct ond_plan_stats st;
    struct ond_error err = {0};
    char path[4096];
    int n_in = 0, n_want = 0, failed = 0;
    size_t n_got = 0;
    for (; n_in < MAX_VALUES; n_in++) {
        snprintf(path, sizeof path, "%s/test_data_set_%d/input_%d.pb", dir, set, n_in);
        if (access(path, R_OK) != 0)
            break;
        struct ond_value info;
        if (ond_tensor_proto_read(path, &in[n_in], &err) ||
            ond_model_input(model, (size_t)n_in, &info, &err)) {
            printf("%s: %s\n", path, err.message);
            failed = 1;
            break;
        }
        free((void *)in[n_in].name);
        in[n_in].name = strdup(info.name);
    }
    for (; !failed && n_want < MAX_VALUES; n_want++) {
        snprintf(path, sizeof path, "%s/test_data_set_%d/output_%d.pb", dir, set, n_want);
        if (access(path, R_OK) != 0)
            break;
        if (ond_tensor_proto_read(path, &want[n_want], &err)) {
            printf("%s: %s\n", path, err.message);
            failed = 1;
            break;
        }
    }
    if (!failed && (ond_session_run_alloc(s, in, (size_t)n_in, &got, &n_got, &err) ||
                    ond_session_plan_stats(s, in, (size_t)n_in, &st, &err))) {
        printf("set %d: %s\n", set, err.message);
        failed = 1;
    }
    if (!failed) {
        printf("set %d, batch %lld: %d primitives, %d reorders (%d to outputs), %d views, "
               "%d eval steps, %d in-place sums, %d copies, %zu bytes of activations\n", set,
               n_in ? (long long)in[0].dims[0] : 0, st.primitives, st.reorders,
               st.output_reorders, st.views, st.evals, st.in_place, st.copies, st.arena_bytes);
        if (st.evals)
            printf("  first eval step: %s\n", st.first_eval);
        failed = (all_primitives && st.evals) || (size_t)n_want != n_got;
    }
    for (int i = 0; i < n_want && !failed; i++) {
        size_t n = want[i].size / sizeof(float);
        if (want[i].dtype != OND_DTYPE_FLOAT || got[i].dtype != OND_DTYPE_FLOAT ||
            got[i].size != want[i].size) {
            printf("  output %d: %s of %zu bytes, expected %s of %zu\n", i,
                   ond_dtype_name(got[i].dtype), got[i].size, ond_dtype_name(want[i].dtype),
                   want[i].size);
            failed = 1;
        } else {
            failed |= compare(got[i].name, got[i].data, want[i].data, n, rtol, atol) != 0;
            if (top1_rows && got[i].rank == 2)
                failed |= top1(got[i].name, got[i].data, want[i].data, got[i].dims[0],
                               got[i].dims[1]) != 0;
        }
    }
    ond_values_free(got, n_got);
    for (int i = 0; i < n_in; i++) {
        free((void *)in[i].name);
        free(in[i].data);
    }
    for (int i = 0; i < n_want; i++) {
        free((void *)want[i].name);
        free(want[i].data);
    }
    return failed;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s DIR RTOL ATOL [--all-primitives] [--bf16] [--tune CACHE]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    double rtol = atof(argv[2]), atol = atof(argv[3]);
    int all_primitives = 0, top1_rows = 0;
    struct ond_options opts;
    ond_options_init(&opts);
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--all-primitives") == 0) {
            all_primitives = 1;
        } else if (strcmp(argv[i], "--bf16") == 0) {
            opts.precision = OND_PRECISION_BF16;
        } else if (strcmp(argv[i], "--tune") == 0 && i + 1 < argc) {
            opts.tune = 1;
            opts.tune_cache = argv[++i];
            top1_rows = 1;
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n", argv[0], argv[i]);
            return 2;
        }
    }
    char path[4096];
    struct ond_model *model = NULL;
    struct ond_session *s = NULL;
    struct ond_error err = {0};
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (ond_model_load_file(path, NULL, &model, &err) ||
        ond_session_create(model, &opts, &s, &err)) {
        printf("%s: %s\n", path, err.message);
        ond_model_free(model);
        return 1;
    }
    int failed = 0, sets = 0;
    for (;; sets++) {
        snprintf(path, sizeof path, "%s/test_data_set_%d", dir, sets);
        DIR *d = opendir(path);
        if (!d)
            break;
        closedir(d);
        failed |= run_set(s, model, dir, sets, rtol, atol, all_primitives, top1_rows);
    }
    ond_session_free(s);
    ond_model_free(model);
    if (!sets) {
        printf("%s: no test_data_set_0\n", dir);
        return 1;
    }
    printf("%s: %s\n", dir, failed ? "FAILED" : "ok");
    return failed;
}
