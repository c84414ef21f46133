/* run.c: `ondine run MODEL`: one inference. Inputs come from ONNX TensorProto (.pb) or NumPy
 * (.npy, little-endian, C order) files, as NAME=FILE or, for a one-input model, a bare FILE,
 * each input once; the others are seeded random values of the declared shapes (normal(0,1)
 * for floats, 0..9 for integers). Prints each output's shape and, for [N, K] outputs, the
 * top-5 classes of each row; --print adds statistics or every value; --output-dir writes
 * output_<i>.pb (or .npy) per output. */
#include <errno.h>
#include <omp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/loader.h"
#include "runtime/session.h"
#include "tools/cli.h"

/* Element i as a double; false for types printed as bytes only (float16, bfloat16, ...). */
static bool value_at(const struct ond_value *o, size_t i, double *x)
{
    switch (o->dtype) {
    case OND_DTYPE_FLOAT: *x = ((const float *)o->data)[i]; return true;
    case OND_DTYPE_DOUBLE: *x = ((const double *)o->data)[i]; return true;
    case OND_DTYPE_INT64: *x = (double)((const int64_t *)o->data)[i]; return true;
    case OND_DTYPE_INT32: *x = ((const int32_t *)o->data)[i]; return true;
    case OND_DTYPE_INT8: *x = ((const int8_t *)o->data)[i]; return true;
    case OND_DTYPE_UINT8: case OND_DTYPE_BOOL: *x = ((const uint8_t *)o->data)[i]; return true;
    default: return false;
    }
}

/* --print stats | values. */
static void print_values(const struct ond_value *o, bool values)
{
    size_t es = ond_dtype_size(o->dtype), n = es ? o->size / es : 0;
    double x;
    if (n && !value_at(o, 0, &x)) {
        printf("  (%s values are not printed)\n", ond_dtype_name(o->dtype));
        return;
    }
    if (values) {
        for (size_t i = 0; i < n && value_at(o, i, &x); i++)
            printf("%s%.9g%s", i % 8 ? " " : "  ", x, i % 8 == 7 || i + 1 == n ? "\n" : "");
        return;
    }
    double lo = INFINITY, hi = -INFINITY, sum = 0, sq = 0;
    size_t nan = 0;
    for (size_t i = 0; i < n && value_at(o, i, &x); i++) {
        if (isnan(x)) {
            nan++;
            continue;
        }
        lo = fmin(lo, x);
        hi = fmax(hi, x);
        sum += x;
        sq += x * x;
    }
    size_t k = n - nan;
    double mean = k ? sum / (double)k : NAN;
    printf("  min %.6g max %.6g mean %.6g std %.6g nan %zu (of %zu)\n", k ? lo : NAN,
           k ? hi : NAN, mean, k ? sqrt(fmax(sq / (double)k - mean * mean, 0)) : NAN, nan, n);
}

static void print_output(const struct ond_value *o)
{
    printf("%s: %s[", o->name, ond_dtype_name(o->dtype));
    for (int i = 0; i < o->rank; i++)
        printf("%s%lld", i ? "," : "", (long long)o->dims[i]);
    printf("]\n");
    if (o->rank != 2 || o->dtype != OND_DTYPE_FLOAT || o->dims[1] < 1)
        return;
    const float *x = o->data;
    int64_t k = o->dims[1];
    for (int64_t r = 0; r < o->dims[0]; r++) {
        int top[5], nt = 0;
        for (int t = 0; t < 5 && t < k; t++) {
            int best = -1;
            for (int64_t c = 0; c < k; c++) {
                bool taken = false;
                for (int j = 0; j < nt; j++)
                    taken |= top[j] == c;
                if (!taken && (best < 0 || x[r * k + c] > x[r * k + best]))
                    best = (int)c;
            }
            top[nt++] = best;
        }
        printf("  row %lld top-%d:", (long long)r, nt);
        for (int j = 0; j < nt; j++)
            printf(" %d (%.4g)", top[j], x[r * k + top[j]]);
        printf("\n");
    }
}

/* --output-format pb | npy. */
static CLI_SETTER(set_format)
{
    *(bool *)o->target = strcmp(value, "npy") == 0;
    if (strcmp(value, "npy") != 0 && strcmp(value, "pb") != 0)
        return cli_usage(verb, "%s takes pb or npy, got '%s'", name, value);
    return CLI_OK;
}

/* --print stats | values. */
static CLI_SETTER(set_print)
{
    *(const char **)o->target = value;
    if (strcmp(value, "stats") != 0 && strcmp(value, "values") != 0)
        return cli_usage(verb, "%s takes stats or values, got '%s'", name, value);
    return CLI_OK;
}

int cli_run(int argc, char **argv)
{
    const char *path = NULL, *outdir = NULL, *profile = NULL, *calibrate = NULL, *print = NULL;
    bool npy = false;
    long long batch = 1, seed = 0;
    struct cli_list specs = {0};
    struct ond_options o;
    ond_options_init(&o);
    const struct cli_opt rows[] = {
        {.names = "--input", .arg = "NAME=FILE", .set = cli_set_list, .target = &specs,
         .help = "an input from FILE.pb (TensorProto) or FILE.npy (repeatable, each\n"
                 "input once); a bare FILE for a one-input model; inputs not given\n"
                 "get seeded random values"},
        {.names = "--batch", .arg = "N", .set = cli_set_ll, .target = &batch, .min = 1,
         .max = 1 << 20, .help = "value of symbolic dims of random inputs (default 1)"},
        {.names = "--seed", .arg = "S", .set = cli_set_ll, .target = &seed, .min = 0,
         .max = INT64_MAX, .help = "seed of random inputs (default 0)"},
        {.names = "--output-dir", .arg = "DIR", .set = cli_set_str, .target = &outdir,
         .help = "write output_<i>.pb per graph output"},
        {.names = "--output-format", .arg = "F", .set = set_format, .target = &npy,
         .help = "pb (default) or npy: the files --output-dir writes"},
        {.names = "--print", .arg = "WHAT", .set = set_print, .target = &print,
         .help = "stats (min, max, mean, std, NaN count) or values (every element)\n"
                 "of each output"},
        CLI_OPT_LEVELS(&o),
        CLI_OPTS_COMMON(&o),
        CLI_OPT_PRECISION(&o),
        {.names = "--calibrate", .arg = "DIR", .set = cli_set_str, .target = &calibrate,
         .help = "int8: calibration inputs, test_data_set_* folders or one .pb/.npy\n"
                 "per set (default: seeded random inputs, with a warning)"},
        {.names = "--profile", .arg = "FILE", .set = cli_set_str, .target = &profile,
         .help = "time every step of a second run: a Chrome trace in FILE and a\n"
                 "table sorted by time on stdout, with G MAC/s and % of the\n"
                 "precision's peak (measured then, see bench --peak) per layer"},
    };
    int rc = cli_parse_model("run", "usage: ondine run MODEL [options]\n", argc, argv, rows,
                             CLI_ROWS(rows), &path, "no model given");
    struct ond_model *m = NULL;
    struct ond_session *s = NULL;
    struct ond_value *in = NULL, *out = NULL;
    size_t n_in = 0, n_out = 0;
    struct ond_error err = {0};
    if (rc != CLI_OK)
        goto done;
    if ((rc = cli_session("run", path, &o, calibrate, &m, &s)))
        goto done;
    n_in = ond_model_input_count(m);
    in = calloc(n_in + 1, sizeof *in);
    uint64_t state = (uint64_t)seed;
    if (!in || cli_read_inputs("run", m, specs.v, (int)specs.n, in))
        rc = CLI_FAIL;
    for (size_t i = 0; i < n_in && rc == CLI_OK; i++) {
        struct ond_value decl;
        ond_model_input(m, i, &decl, NULL);
        if (!in[i].name && cli_random_input("run", &in[i], &decl, batch, &state))
            rc = CLI_FAIL;
    }
    if (rc != CLI_OK)
        goto done;
    if (ond_session_run_alloc(s, in, n_in, &out, &n_out, &err)) {
        rc = cli_error("run", &err);
        goto done;
    }
    if (profile) {
        /* The first run planned for these shapes; the profiled one is a steady-state run. */
        struct ond_profile prof;
        if (ond_session_profile(s, in, n_in, out, n_out, &prof, &err)) {
            rc = cli_error("run", &err);
            goto done;
        }
        struct cli_peak pk;
        int threads = o.threads ? o.threads : omp_get_num_procs();
        cli_peak_measure(threads, (int)o.precision, 100, &pk);
        rc = cli_write_profile("run", profile, &prof, pk.all[o.precision], true) ? CLI_FAIL
                                                                               : CLI_OK;
        ond_profile_free(&prof);
        if (rc != CLI_OK)
            goto done;
    }
    if (outdir && mkdir(outdir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "ondine run: cannot create '%s': %s\n", outdir, strerror(errno));
        rc = CLI_FAIL;
        goto done;
    }
    for (size_t i = 0; i < n_out; i++) {
        print_output(&out[i]);
        if (print)
            print_values(&out[i], print[0] == 'v');
        if (!outdir)
            continue;
        char file[4096];
        snprintf(file, sizeof file, "%s/output_%zu.%s", outdir, i, npy ? "npy" : "pb");
        if (npy && cli_write_npy("run", file, &out[i])) {
            rc = CLI_FAIL;
            break;
        }
        if (!npy && ond_tensor_proto_write(file, &out[i], &err)) {
            rc = cli_error("run", &err);
            break;
        }
    }
done:
    ond_values_free(in, n_in);
    ond_values_free(out, n_out);
    ond_session_free(s);
    ond_model_free(m);
    free((void *)o.disabled_passes);
    free(specs.v);
    return rc == CLI_HELP ? CLI_OK : rc;
}
