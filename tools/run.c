/* run.c: `ondine run MODEL`: one inference. Inputs come from ONNX TensorProto (.pb) or NumPy
 * (.npy, little-endian, C order) files, or are seeded random values of the declared shapes
 * (normal(0,1) for floats, 0..9 for integers). Prints each output's shape and, for [N, K]
 * outputs, the top-5 classes of each row; --output-dir writes output_<i>.pb per output. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/loader.h"
#include "runtime/session.h"
#include "tools/cli.h"

static const char help[] =
    "usage: ondine run MODEL [options]\n"
    "  --input NAME=FILE   an input from FILE.pb (TensorProto) or FILE.npy (repeatable);\n"
    "                      inputs not given get seeded random values\n"
    "  --batch N           value of symbolic dims of random inputs (default 1)\n"
    "  --seed S            seed of random inputs (default 0)\n"
    "  --output-dir DIR    write output_<i>.pb per graph output\n"
    "  --threads N         threads (default: all cores)\n"
    "  -O0 | -O1 | -O2     optimization level (default -O2)\n"
    "  --disable-pass NAME skip an optimization pass (repeatable)\n"
    "  --precision P       fp32 (default), bf16, int8\n"
    "  --calibrate DIR     int8: calibration inputs, test_data_set_* folders or one .pb/.npy\n"
    "                      per set (default: seeded random inputs, with a warning)\n"
    "  --profile FILE      time every step of a second run: a Chrome trace in FILE and a\n"
    "                      table sorted by time on stdout\n";

static int read_input(const char *spec, struct ond_value *v)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) {
        fprintf(stderr, "ondine run: --input takes NAME=FILE, got '%s'\n", spec);
        return -1;
    }
    const char *file = eq + 1;
    if (cli_read_tensor("run", file, v))
        return -1;
    free((void *)v->name);
    v->name = strndup(spec, (size_t)(eq - spec));
    return v->name ? 0 : -1;
}

static int by_time(const void *a, const void *b)
{
    double x = ((const struct ond_profile_step *)a)->ms, y = ((const struct ond_profile_step *)b)->ms;
    return (x < y) - (x > y);
}

/* The profile as a Chrome trace (chrome://tracing, Perfetto: one complete event per step, in
 * run order) and as a table sorted by time on stdout. */
static int write_profile(const char *file, struct ond_profile *prof)
{
    FILE *f = fopen(file, "w");
    if (!f) {
        fprintf(stderr, "ondine run: cannot write '%s': %s\n", file, strerror(errno));
        return -1;
    }
    double ts = 0, total = 0;
    fprintf(f, "{\"traceEvents\": [\n");
    for (int i = 0; i < prof->n_steps; i++) {
        const struct ond_profile_step *p = &prof->steps[i];
        fprintf(f, "%s{\"name\": ", i ? ",\n" : "");
        cli_json_str(f, *p->node ? p->node : p->op);
        fprintf(f, ", \"cat\": ");
        cli_json_str(f, p->op);
        fprintf(f, ", \"ph\": \"X\", \"pid\": 1, \"tid\": 1, \"ts\": %.3f, \"dur\": %.3f, "
                   "\"args\": {\"impl\": ", ts * 1e3, p->ms * 1e3);
        cli_json_str(f, p->impl);
        fprintf(f, ", \"src\": ");
        cli_json_str(f, p->src);
        fprintf(f, ", \"dst\": ");
        cli_json_str(f, p->dst);
        fprintf(f, ", \"post_ops\": %d}}", p->n_post);
        ts += p->ms;
    }
    fprintf(f, "\n], \"displayTimeUnit\": \"ms\"}\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "ondine run: cannot write '%s'\n", file);
        return -1;
    }
    total = ts;
    qsort(prof->steps, (size_t)prof->n_steps, sizeof *prof->steps, by_time);
    printf("profile: %d steps, %.3f ms (trace in %s)\n", prof->n_steps, total, file);
    printf("%9s %6s  %-18s %-34s %-24s %-20s %s\n", "ms", "%", "op", "node", "impl", "src", "dst");
    for (int i = 0; i < prof->n_steps; i++) {
        const struct ond_profile_step *p = &prof->steps[i];
        printf("%9.3f %5.1f%%  %-18s %-34s %-24s %-20s %s\n", p->ms,
               total > 0 ? 100 * p->ms / total : 0, p->op, p->node, p->impl, p->src, p->dst);
    }
    return 0;
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

int cli_run(int argc, char **argv)
{
    const char *path = NULL, *outdir = NULL, *profile = NULL, *calibrate = NULL;
    long long batch = 1, seed = 0;
    struct ond_options o;
    ond_options_init(&o);
    const char **disabled = calloc((size_t)argc + 1, sizeof *disabled);
    const char **specs = calloc((size_t)argc + 1, sizeof *specs);
    int n_specs = 0, rc = CLI_OK;
    for (int i = 1; i < argc && rc == CLI_OK; i++) {
        const char *a = argv[i];
        int c = cli_common_flag("run", argc, argv, &i, &o, disabled);
        if (c < 0) {
            rc = CLI_USAGE;
        } else if (c > 0) {
            continue;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            free(disabled);
            free(specs);
            return CLI_OK;
        } else if (i + 1 >= argc && (strcmp(a, "--input") == 0 || strcmp(a, "--batch") == 0 ||
                                     strcmp(a, "--seed") == 0 || strcmp(a, "--output-dir") == 0 ||
                                     strcmp(a, "--precision") == 0 ||
                                     strcmp(a, "--calibrate") == 0 ||
                                     strcmp(a, "--profile") == 0)) {
            rc = cli_usage("run", "%s needs a value", a);
        } else if (strcmp(a, "--calibrate") == 0) {
            calibrate = argv[++i];
        } else if (strcmp(a, "--profile") == 0) {
            profile = argv[++i];
        } else if (strcmp(a, "--input") == 0) {
            specs[n_specs++] = argv[++i];
        } else if (strcmp(a, "--batch") == 0) {
            if (!cli_int(argv[++i], 1, 1 << 20, &batch))
                rc = cli_usage("run", "--batch takes a whole number from 1");
        } else if (strcmp(a, "--seed") == 0) {
            if (!cli_int(argv[++i], 0, INT64_MAX, &seed))
                rc = cli_usage("run", "--seed takes a whole number");
        } else if (strcmp(a, "--output-dir") == 0) {
            outdir = argv[++i];
        } else if (strcmp(a, "--precision") == 0) {
            if (cli_precision(argv[++i], &o.precision))
                rc = cli_usage("run", "--precision takes fp32, bf16 or int8");
        } else {
            rc = cli_operand("run", a, &path);
        }
    }
    if (rc == CLI_OK && !path)
        rc = cli_usage("run", "no model given");
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
    for (size_t i = 0; i < n_in && rc == CLI_OK; i++) {
        struct ond_value decl;
        ond_model_input(m, i, &decl, NULL);
        const char *spec = NULL;
        for (int k = 0; k < n_specs; k++)
            if (strncmp(specs[k], decl.name, strlen(decl.name)) == 0 &&
                specs[k][strlen(decl.name)] == '=')
                spec = specs[k];
        if (spec ? read_input(spec, &in[i]) : cli_random_input("run", &in[i], &decl, batch, &state))
            rc = CLI_FAIL;
    }
    for (int k = 0; k < n_specs && rc == CLI_OK; k++) {
        bool known = false;
        for (size_t i = 0; i < n_in; i++)
            known |= in[i].name && strncmp(specs[k], in[i].name, strlen(in[i].name)) == 0 &&
                     specs[k][strlen(in[i].name)] == '=';
        if (!known) {
            fprintf(stderr, "ondine run: --input '%s' names no input of the model\n", specs[k]);
            rc = CLI_FAIL;
        }
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
        rc = write_profile(profile, &prof) ? CLI_FAIL : CLI_OK;
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
        if (!outdir)
            continue;
        char file[4096];
        snprintf(file, sizeof file, "%s/output_%zu.pb", outdir, i);
        if (ond_tensor_proto_write(file, &out[i], &err)) {
            rc = cli_error("run", &err);
            break;
        }
    }
done:
    ond_values_free(in, n_in);
    ond_values_free(out, n_out);
    ond_session_free(s);
    ond_model_free(m);
    free(disabled);
    free(specs);
    return rc;
}
