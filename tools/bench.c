/* bench.c: `ondine bench MODEL`: load time, first-run time, latency percentiles, throughput
 * and peak RSS, in the style of onnxruntime_perf_test: on --input files (as `ondine run`'s)
 * and seeded random inputs of the declared shapes for the others (symbolic dims take --batch);
 * --iters timed runs, or as many as fit in --duration seconds, from --concurrency threads on
 * the one session (each --iters runs; throughput is all runs over the wall time). The model's
 * multiply-adds (a profiled run after the timed ones, written as a trace with --profile) per
 * second against the measured peak of the precision's unit (tools/peak.c); `ondine bench
 * --peak` measures the peaks alone. */
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "runtime/session.h"
#include "tools/cli.h"

static void print_peak(const struct cli_peak *pk, bool json)
{
    if (json) {
        printf("{\"threads\": %d", pk->threads);
        for (int k = 0; k < CLI_PEAK_N; k++) {
            printf(", \"%.4s\": ", pk->name[k]);
            if (pk->absent[k])
                printf("{\"absent\": \"%s\"}", pk->absent[k]);
            else
                printf("{\"per_core_gmacs\": %.1f, \"gmacs\": %.1f}", pk->per_core[k],
                       pk->all[k]);
        }
        printf("}\n");
        return;
    }
    printf("peak multiply-adds, G MAC/s (register-resident AVX-512 loops, best of 200 runs of 2 ms)\n");
    for (int k = 0; k < CLI_PEAK_N; k++) {
        if (pk->absent[k])
            printf("  %-18s absent: %s\n", pk->name[k], pk->absent[k]);
        else
            printf("  %-18s %8.1f per core %8.1f on %d threads\n", pk->name[k],
                   pk->per_core[k], pk->all[k], pk->threads);
    }
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static double percentile(const double *v, int n, double p)
{
    int k = (int)ceil(p / 100 * n) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* One thread's runs: warmup untimed ones, then, once every thread has warmed up (start),
 * iters timed ones or until duration seconds have passed; lat grows as needed. Each thread
 * warms up itself: a thread's first runs pay for what is made per thread (its OpenMP team,
 * first touches of its outputs), which a long-lived caller's thread pays once. The last of
 * `expect` threads to check in starts the clock. */
struct start {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long long ready, expect;
    bool go;
    double wall0_ms;
};

static void start_if_all_ready(struct start *st)
{
    if (!st->go && st->ready >= st->expect) {
        st->wall0_ms = now_ms();
        st->go = true;
        pthread_cond_broadcast(&st->cv);
    }
}

struct worker {
    struct ond_session *s;
    const struct ond_value *in;
    size_t n_in;
    long long warmup, iters;
    double duration;
    struct start *start;
    double *lat;
    long long n;
    struct ond_error err;
    int rc;
};

static void *timed_runs(void *arg)
{
    struct worker *w = arg;
    struct ond_value *out = NULL;
    size_t n_out = 0, cap = w->duration > 0 ? 1024 : (size_t)w->iters;
    w->rc = CLI_FAIL;
    bool ok = (w->lat = calloc(cap, sizeof *w->lat)) &&
              !ond_session_run_alloc(w->s, w->in, w->n_in, &out, &n_out, &w->err);
    for (long long i = 0; ok && i < w->warmup; i++)
        ok = !ond_session_run(w->s, w->in, w->n_in, out, n_out, &w->err);
    /* A thread that failed still checks in, so the others are not left waiting. */
    struct start *st = w->start;
    pthread_mutex_lock(&st->mu);
    st->ready++;
    start_if_all_ready(st);
    while (!st->go)
        pthread_cond_wait(&st->cv, &st->mu);
    double end_ms = w->duration > 0 ? st->wall0_ms + w->duration * 1e3 : 0;
    pthread_mutex_unlock(&st->mu);
    if (!ok)
        goto done;
    for (w->n = 0; end_ms > 0 ? now_ms() < end_ms : w->n < w->iters; w->n++) {
        if ((size_t)w->n == cap) {
            double *grown = realloc(w->lat, 2 * cap * sizeof *w->lat);
            if (!grown)
                goto done;
            w->lat = grown;
            cap *= 2;
        }
        double t0 = now_ms();
        if (ond_session_run(w->s, w->in, w->n_in, out, n_out, &w->err))
            goto done;
        w->lat[w->n] = now_ms() - t0;
    }
    w->rc = CLI_OK;
done:
    if (w->rc && !w->err.message[0])
        snprintf(w->err.message, sizeof w->err.message, "cannot allocate the latency list");
    ond_values_free(out, n_out);
    return NULL;
}

/* --duration S: seconds, more than 0 and at most a day. */
static CLI_SETTER(set_duration)
{
    char *end;
    double *d = o->target;
    *d = strtod(value, &end);
    if (*end || !(*d > 0 && *d <= 86400))
        return cli_usage(verb, "%s takes seconds, more than 0 and at most 86400", name);
    return CLI_OK;
}

int cli_bench(int argc, char **argv)
{
    const char *path = NULL, *calibrate = NULL, *profile = NULL;
    long long batch = 1, iters = 20, warmup = 3, concurrency = 1;
    double duration = 0;
    bool json = false, peak = false;
    struct cli_list specs = {0};
    struct ond_options o;
    ond_options_init(&o);
    const struct cli_opt rows[] = {
        {.names = "--input", .arg = "NAME=FILE", .set = cli_set_list, .target = &specs,
         .help = "an input from FILE.pb or FILE.npy (repeatable, each input once;\n"
                 "a bare FILE for a one-input model); others are seeded random"},
        {.names = "--batch", .arg = "N", .set = cli_set_ll, .target = &batch, .min = 1,
         .max = 1 << 20, .help = "value of symbolic dims of random inputs (default 1)"},
        {.names = "--iters", .arg = "K", .set = cli_set_ll, .target = &iters, .min = 1,
         .max = 1000000, .help = "timed runs (default 20)"},
        {.names = "--duration", .arg = "S", .set = set_duration, .target = &duration,
         .help = "time runs for S seconds instead of --iters (at least one run)"},
        {.names = "--concurrency", .arg = "C", .set = cli_set_ll, .target = &concurrency, .min = 1,
         .max = 256,
         .help = "C threads run the session at once (each --iters runs, or for\n"
                 "--duration; default 1); threads per run as --threads"},
        {.names = "--profile", .arg = "FILE", .set = cli_set_str, .target = &profile,
         .help = "time every step of a run after the timed ones: a Chrome trace in\n"
                 "FILE and, without --json, a table sorted by time"},
        {.names = "--warmup", .arg = "W", .set = cli_set_ll, .target = &warmup, .min = 0,
         .max = 1000000,
         .help = "untimed runs in each timing thread, after the first (planning)\n"
                 "run and before its timed ones (default 3)"},
        CLI_OPT_LEVELS(&o),
        CLI_OPTS_COMMON(&o),
        CLI_OPT_PRECISION(&o),
        {.names = "--calibrate", .arg = "DIR", .set = cli_set_str, .target = &calibrate,
         .help = "int8: calibration inputs (see ondine run --help)"},
        {.names = "--no-ftz", .set = cli_set_on, .target = &o.no_ftz,
         .help = "keep denormals (slower kernels)"},
        {.names = "--peak", .set = cli_set_flag, .target = &peak,
         .help = "measure this CPU's fp32, bf16 and int8 multiply-add peaks (per\n"
                 "core and on --threads); no MODEL needed"},
        {.names = "--json", .set = cli_set_flag, .target = &json,
         .help = "one JSON object on stdout"},
    };
    /* No model is fine with --peak. */
    int rc = cli_parse_model("bench", "usage: ondine bench MODEL [options]\n", argc, argv,
                             rows, CLI_ROWS(rows), &path, NULL);
    int threads = o.threads ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (rc == CLI_OK && peak && !path) {
        struct cli_peak pk;
        cli_peak_measure(threads, -1, 200, &pk);
        print_peak(&pk, json);
        free((void *)o.disabled_passes);
        free(specs.v);
        return CLI_OK;
    }
    if (rc == CLI_OK && !path)
        rc = cli_usage("bench", "no model given (or --peak alone)");
    struct ond_model *m = NULL;
    struct ond_session *s = NULL;
    struct ond_value *in = NULL, *out = NULL;
    size_t n_in = 0, n_out = 0;
    double *lat = NULL;
    struct ond_error err = {0};
    if (rc != CLI_OK)
        goto done;
    double t0 = now_ms();
    if ((rc = cli_session("bench", path, &o, calibrate, &m, &s)))
        goto done;
    double load_ms = now_ms() - t0;
    n_in = ond_model_input_count(m);
    in = calloc(n_in + 1, sizeof *in);
    uint64_t seed = 0;
    if (!in || cli_read_inputs("bench", m, specs.v, (int)specs.n, in)) {
        rc = CLI_FAIL;
        goto done;
    }
    for (size_t i = 0; i < n_in; i++) {
        struct ond_value decl;
        ond_model_input(m, i, &decl, NULL);
        if (!in[i].name && cli_random_input("bench", &in[i], &decl, batch, &seed)) {
            rc = CLI_FAIL;
            goto done;
        }
    }
    /* The first run plans for the input shapes: primitives, weight reorders, memory. */
    t0 = now_ms();
    if (ond_session_run_alloc(s, in, n_in, &out, &n_out, &err)) {
        rc = cli_error("bench", &err);
        goto done;
    }
    double first_ms = now_ms() - t0;
    /* Warm-up runs, then the timed ones, from `concurrency` threads at once. */
    struct worker *w = calloc((size_t)concurrency, sizeof *w);
    pthread_t *tid = calloc((size_t)concurrency, sizeof *tid);
    if (!w || !tid) {
        free(w);
        free(tid);
        rc = CLI_FAIL;
        goto done;
    }
    /* One stream of runs stays on this thread, the one that planned: a run from a second
     * thread has its own OpenMP team, and libgomp, counting both teams' threads against the
     * cores, then makes every team sleep at once between parallel regions instead of
     * spinning (GoogLeNet, 2 threads: 17 ms a run from a new thread, 12.8 from this one;
     * docs/performance.md). */
    struct start start = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, concurrency,
                          false, 0};
    long long started = 0;
    for (long long k = 0; k < concurrency; k++)
        w[k] = (struct worker){.s = s, .in = in, .n_in = n_in, .warmup = warmup,
                               .iters = iters, .duration = duration, .start = &start};
    if (concurrency == 1) {
        timed_runs(&w[0]);
        started = 1;
    } else {
        for (long long k = 0; k < concurrency; k++) {
            if (pthread_create(&tid[k], NULL, timed_runs, &w[k]))
                break;
            started++;
        }
        pthread_mutex_lock(&start.mu);
        start.expect = started; /* a thread that could not start never checks in */
        start_if_all_ready(&start);
        pthread_mutex_unlock(&start.mu);
        for (long long k = 0; k < started; k++)
            pthread_join(tid[k], NULL);
    }
    double wall0 = start.wall0_ms;
    double wall_ms = now_ms() - wall0;
    long long total = 0;
    for (long long k = 0; k < concurrency && rc == CLI_OK; k++) {
        if (k >= started || w[k].rc) {
            rc = k >= started ? (fprintf(stderr, "ondine bench: cannot start a thread\n"), CLI_FAIL)
                              : cli_error("bench", &w[k].err);
            break;
        }
        total += w[k].n;
    }
    if (rc == CLI_OK && !(lat = calloc((size_t)total + 1, sizeof *lat)))
        rc = CLI_FAIL;
    for (long long k = 0, at = 0; rc == CLI_OK && k < concurrency; k++) {
        memcpy(lat + at, w[k].lat, sizeof *lat * (size_t)w[k].n);
        at += w[k].n;
    }
    for (long long k = 0; k < concurrency; k++)
        free(w[k].lat);
    free(w);
    free(tid);
    if (rc != CLI_OK)
        goto done;
    iters = total;
    double sum = 0;
    for (long long i = 0; i < iters; i++)
        sum += lat[i];
    qsort(lat, (size_t)iters, sizeof *lat, cmp_double);
    double mean = sum / (double)iters;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = ru.ru_maxrss / 1024.0;
    int n = (int)iters;
    const char *prec = cli_precision_names[o.precision];
    /* The multiply-adds the plan runs, from a profiled run (after RSS was read). */
    struct ond_profile prof;
    if (ond_session_profile(s, in, n_in, out, n_out, &prof, &err)) {
        rc = cli_error("bench", &err);
        goto done;
    }
    uint64_t macs = 0;
    for (int i = 0; i < prof.n_steps; i++)
        macs += prof.steps[i].macs;
    struct cli_peak pk;
    cli_peak_measure(threads, (int)o.precision, 100, &pk);
    double p50 = percentile(lat, n, 50), gmacs = macs / p50 / 1e6;
    double ips = batch * (double)total * 1000.0 / wall_ms;
    double peak_g = pk.all[o.precision], pct = peak_g > 0 ? 100 * gmacs / peak_g : 0;
    if (profile && cli_write_profile("bench", profile, &prof, peak_g, !json))
        rc = CLI_FAIL;
    ond_profile_free(&prof);
    if (json) {
        printf("{\"model\": ");
        cli_json_str(stdout, path);
        printf(", \"batch\": %lld, \"threads\": %d, \"precision\": \"%s\", \"opt_level\": %d, "
               "\"iters\": %lld, \"load_ms\": %.3f, \"first_run_ms\": %.3f, \"min_ms\": %.3f, "
               "\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"mean_ms\": %.3f, "
               "\"throughput_ips\": %.2f, \"peak_rss_mb\": %.1f, \"macs\": %llu, "
               "\"gmacs_per_s\": %.1f, \"peak_gmacs\": %.1f, \"pct_of_peak\": %.1f, "
               "\"tune_ms\": %.1f, \"concurrency\": %lld}\n",
               batch, threads, prec, o.opt_level, iters, load_ms, first_ms,
               lat[0], p50, percentile(lat, n, 90), percentile(lat, n, 99),
               mean, ips, rss_mb, (unsigned long long)macs, gmacs, peak_g, pct,
               ond_session_tune_ms(s), concurrency);
    } else {
        printf("model        %s\n", path);
        printf("batch        %lld   threads %d   precision %s   -O%d\n", batch, threads,
               prec, o.opt_level);
        printf("load         %.2f ms (parse, optimize, session)\n", load_ms);
        printf("first run    %.2f ms (plans for the input shapes)\n", first_ms);
        if (o.tune)
            printf("tuning       %.0f ms timing candidates (in the first run)\n",
                   ond_session_tune_ms(s));
        printf("latency      min %.2f  p50 %.2f  p90 %.2f  p99 %.2f  mean %.2f ms (%lld runs)\n",
               lat[0], percentile(lat, n, 50), percentile(lat, n, 90), percentile(lat, n, 99),
               mean, iters);
        printf("throughput   %.1f inferences/s (%lld runs on %lld concurrent threads in %.0f ms)\n",
               ips, total, concurrency, wall_ms);
        printf("peak RSS     %.1f MB\n", rss_mb);
        printf("compute      %.3f G MACs, %.1f G MAC/s at p50", macs / 1e9, gmacs);
        if (peak_g > 0)
            printf(", %.0f%% of the %s peak measured now (%.1f G MAC/s on %d threads)\n", pct,
                   prec, peak_g, threads);
        else
            printf(" (%s peak: %s)\n", prec, pk.absent[o.precision]);
    }
done:
    free(lat);
    ond_values_free(in, n_in);
    ond_values_free(out, n_out);
    ond_session_free(s);
    ond_model_free(m);
    free((void *)o.disabled_passes);
    free(specs.v);
    return rc == CLI_HELP ? CLI_OK : rc;
}
