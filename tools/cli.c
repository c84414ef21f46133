/* cli.c: helpers shared by the verbs of the ondine command line. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/loader.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tools/cli.h"

int cli_error(const char *verb, const struct ond_error *err)
{
    fprintf(stderr, "ondine %s: %s\n", verb, err->message[0] ? err->message : ond_status_name(err->status));
    return CLI_FAIL;
}

int cli_usage(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ondine %s: ", verb);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'ondine %s --help')\n", verb);
    va_end(ap);
    return CLI_USAGE;
}

bool cli_int(const char *s, long long min, long long max, long long *v)
{
    char *end;
    if (!s || !*s)
        return false;
    long long x = strtoll(s, &end, 10);
    if (*end || x < min || x > max)
        return false;
    *v = x;
    return true;
}

const char *const cli_precision_names[3] = {"fp32", "bf16", "int8"};

int cli_precision(const char *s, enum ond_precision *p)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, cli_precision_names[i]) == 0) {
            *p = (enum ond_precision)i;
            return 0;
        }
    return -1;
}

void cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* splitmix64: a small, well-mixed generator so that a seed gives the same inputs everywhere. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double next_unit(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) / 9007199254740992.0;
}

/* Random inputs stop here (256 MiB of float, seconds to generate): a hostile model's
 * declared shape must not make the tool fill gigabytes. */
#define RANDOM_MAX_ELEMENTS (1u << 26)

int cli_random_input(const char *verb, struct ond_value *v, const struct ond_value *decl,
                     long long batch, uint64_t *seed)
{
    *v = *decl;
    v->name = strdup(decl->name);
    size_t n = 1, esize = decl->dtype == OND_DTYPE_FLOAT ? 4 : decl->dtype == OND_DTYPE_INT64 ? 8
                                                          : decl->dtype == OND_DTYPE_INT32 ? 4 : 0;
    if (!esize) {
        fprintf(stderr, "ondine %s: input '%s' is %s: give it with --input\n", verb, decl->name,
                ond_dtype_name(decl->dtype));
        return -1;
    }
    for (int i = 0; i < v->rank; i++) {
        if (v->dims[i] < 0)
            v->dims[i] = batch;
        if (__builtin_mul_overflow(n, (size_t)v->dims[i], &n) || n > RANDOM_MAX_ELEMENTS) {
            fprintf(stderr, "ondine %s: input '%s' is too large for random data (over %u "
                    "elements): give it with --input\n", verb, decl->name, RANDOM_MAX_ELEMENTS);
            return -1;
        }
    }
    v->size = n * esize;
    if (!(v->data = malloc(v->size ? v->size : 1))) {
        fprintf(stderr, "ondine %s: cannot allocate %zu bytes for input '%s'\n", verb,
                v->size, decl->name);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (decl->dtype == OND_DTYPE_FLOAT) {
            double u1 = next_unit(seed), u2 = next_unit(seed);
            ((float *)v->data)[i] = (float)(sqrt(-2 * log(u1 + 1e-300)) * cos(6.283185307179586 * u2));
        } else if (decl->dtype == OND_DTYPE_INT64) {
            ((int64_t *)v->data)[i] = (int64_t)(next_u64(seed) % 10);
        } else {
            ((int32_t *)v->data)[i] = (int32_t)(next_u64(seed) % 10);
        }
    }
    return 0;
}

int cli_random_inputs(const char *verb, const struct ond_model *m, long long batch,
                      struct ond_value **in, size_t *n_in)
{
    uint64_t seed = 0;
    *n_in = ond_model_input_count(m);
    if (!(*in = calloc(*n_in + 1, sizeof **in))) {
        *n_in = 0;
        fprintf(stderr, "ondine %s: cannot allocate the inputs\n", verb);
        return -1;
    }
    for (size_t i = 0; i < *n_in; i++) {
        struct ond_value decl;
        ond_model_input(m, i, &decl, NULL);
        if (cli_random_input(verb, &(*in)[i], &decl, batch, &seed))
            return -1;
    }
    return 0;
}

/* Reads a .npy file: version 1-3 header, '<f4', '<f8' (converted to float), '<i8', '<i4',
 * '|u1', '|i1', '|b1'; C order only. */
static int read_npy(const char *verb, const char *path, struct ond_value *v)
{
    void *buf = NULL;
    size_t len = 0;
    struct ond_error err = {0};
    if (ond_read_file(path, 1ull << 34, &buf, &len, &err))
        return fprintf(stderr, "ondine %s: %s\n", verb, err.message), -1;
    const unsigned char *p = buf;
    int rc = -1;
    if (len < 10 || memcmp(p, "\x93NUMPY", 6) != 0) {
        fprintf(stderr, "ondine %s: %s: not a .npy file\n", verb, path);
        goto done;
    }
    size_t hl = p[6] == 1 ? (size_t)(p[8] | p[9] << 8) : len >= 12 ? (size_t)(p[8] | p[9] << 8 | p[10] << 16 | (size_t)p[11] << 24) : SIZE_MAX;
    size_t off = p[6] == 1 ? 10 : 12;
    if (hl > len - off) {
        fprintf(stderr, "ondine %s: %s: truncated .npy header\n", verb, path);
        goto done;
    }
    char hdr[4096];
    snprintf(hdr, sizeof hdr, "%.*s", (int)(hl < sizeof hdr - 1 ? hl : sizeof hdr - 1), (const char *)p + off);
    const char *descr = strstr(hdr, "'descr':"), *shape = strstr(hdr, "'shape':");
    if (!descr || !shape || strstr(hdr, "'fortran_order': True")) {
        fprintf(stderr, "ondine %s: %s: unsupported .npy header (C order and a shape needed)\n", verb, path);
        goto done;
    }
    static const struct { const char *code; int32_t dtype; size_t size; } types[] = {
        {"'<f4'", OND_DTYPE_FLOAT, 4}, {"'<f8'", OND_DTYPE_FLOAT, 8}, {"'<i8'", OND_DTYPE_INT64, 8},
        {"'<i4'", OND_DTYPE_INT32, 4}, {"'|u1'", OND_DTYPE_UINT8, 1}, {"'|i1'", OND_DTYPE_INT8, 1},
        {"'|b1'", OND_DTYPE_BOOL, 1},
    };
    int t = -1;
    for (int i = 0; i < 7 && t < 0; i++)
        if (strncmp(descr + 8 + strspn(descr + 8, " "), types[i].code, 5) == 0)
            t = i;
    if (t < 0) {
        const char *d = descr + 8 + strspn(descr + 8, " ");
        fprintf(stderr, "ondine %s: %s: unsupported .npy dtype %.*s (supported: '<f4', '<f8' "
                "read as float32, '<i8', '<i4', '|u1', '|i1', '|b1'; little-endian)\n", verb,
                path, (int)strcspn(d, ","), d);
        goto done;
    }
    memset(v, 0, sizeof *v);
    const char *s = strchr(shape, '(');
    size_t n = 1;
    for (s = s ? s + 1 : NULL; s && *s && *s != ')';) {
        char *end;
        errno = 0;
        long long d = strtoll(s, &end, 10);
        if (end == s)
            break;
        if (errno || d < 0 || v->rank >= OND_MAX_RANK || __builtin_mul_overflow(n, (size_t)d, &n)) {
            fprintf(stderr, "ondine %s: %s: bad shape in .npy header\n", verb, path);
            goto done;
        }
        v->dims[v->rank++] = d;
        s = end + strspn(end, ", ");
    }
    if (!s || n > (len - off - hl) / types[t].size) {
        fprintf(stderr, "ondine %s: %s: data shorter than its shape\n", verb, path);
        goto done;
    }
    v->dtype = types[t].dtype;
    v->size = n * (types[t].size == 8 && v->dtype == OND_DTYPE_FLOAT ? 4 : types[t].size);
    if (!(v->data = malloc(v->size ? v->size : 1)))
        goto done;
    const unsigned char *data = p + off + hl;
    if (types[t].size == 8 && v->dtype == OND_DTYPE_FLOAT)
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, data + 8 * i, 8);
            ((float *)v->data)[i] = (float)d;
        }
    else
        memcpy(v->data, data, v->size);
    rc = 0;
done:
    free(buf);
    return rc;
}

/* The input an --input names: NAME=FILE when NAME is one of the model's inputs, else a bare
 * FILE, which a one-input model takes (a FILE holding '=' only when it exists). -1 (message
 * printed) when it names none. */
static int spec_input(const char *verb, const struct ond_model *m, const char *spec,
                      const char **file)
{
    size_t n = ond_model_input_count(m);
    for (size_t i = 0; i < n; i++) {
        struct ond_value decl;
        ond_model_input(m, i, &decl, NULL);
        size_t len = strlen(decl.name);
        if (strncmp(spec, decl.name, len) == 0 && spec[len] == '=') {
            *file = spec + len + 1;
            return (int)i;
        }
    }
    *file = spec;
    if (n == 1 && (!strchr(spec, '=') || access(spec, F_OK) == 0))
        return 0;
    fprintf(stderr, "ondine %s: --input '%s' names no input of the model (NAME=FILE; a "
            "bare FILE needs a one-input model and an existing file; this model has %zu)\n", verb,
            spec, n);
    return -1;
}

int cli_read_inputs(const char *verb, const struct ond_model *m, const char **specs,
                    int n_specs, struct ond_value *in)
{
    for (int k = 0; k < n_specs; k++) {
        const char *file;
        int i = spec_input(verb, m, specs[k], &file);
        if (i < 0)
            return -1;
        struct ond_value decl;
        ond_model_input(m, (size_t)i, &decl, NULL);
        if (in[i].data || in[i].name) {
            fprintf(stderr, "ondine %s: input '%s' is given twice (--input)\n", verb, decl.name);
            return -1;
        }
        if (cli_read_tensor(verb, file, &in[i]))
            return -1;
        free((void *)in[i].name);
        if (!(in[i].name = strdup(decl.name)))
            return -1;
    }
    return 0;
}

int cli_write_npy(const char *verb, const char *path, const struct ond_value *v)
{
    static const struct { int32_t dtype; const char *code; } types[] = {
        {OND_DTYPE_FLOAT, "<f4"}, {OND_DTYPE_DOUBLE, "<f8"}, {OND_DTYPE_FLOAT16, "<f2"},
        {OND_DTYPE_INT64, "<i8"}, {OND_DTYPE_INT32, "<i4"}, {OND_DTYPE_INT16, "<i2"},
        {OND_DTYPE_INT8, "|i1"}, {OND_DTYPE_UINT64, "<u8"}, {OND_DTYPE_UINT32, "<u4"},
        {OND_DTYPE_UINT16, "<u2"}, {OND_DTYPE_UINT8, "|u1"}, {OND_DTYPE_BOOL, "|b1"},
    };
    const char *code = NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].dtype == v->dtype)
            code = types[i].code;
    if (!code) {
        fprintf(stderr, "ondine %s: %s: numpy has no dtype for %s; write .pb instead\n", verb,
                path, ond_dtype_name(v->dtype));
        return -1;
    }
    /* Version 1.0: magic, version, a 2-byte header length; header padded with spaces to a
     * multiple of 64 bytes, ending in a newline. */
    char hdr[1024];
    int at = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                      code);
    for (int d = 0; d < v->rank; d++)
        at += snprintf(hdr + at, sizeof hdr - (size_t)at, "%lld%s", (long long)v->dims[d],
                       v->rank == 1 ? "," : d + 1 < v->rank ? ", " : "");
    at += snprintf(hdr + at, sizeof hdr - (size_t)at, "), }");
    while ((10 + at + 1) % 64)
        hdr[at++] = ' ';
    hdr[at++] = '\n';
    FILE *f = fopen(path, "wb");
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(at & 0xff),
                             (unsigned char)(at >> 8)};
    bool ok = f && fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)at, f) == (size_t)at &&
              fwrite(v->data, 1, v->size, f) == v->size;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "ondine %s: cannot write '%s': %s\n", verb, path, strerror(errno));
    return ok ? 0 : -1;
}

int cli_read_tensor(const char *verb, const char *path, struct ond_value *v)
{
    size_t len = strlen(path);
    struct ond_error err = {0};
    memset(v, 0, sizeof *v);
    if (len > 4 && strcmp(path + len - 4, ".npy") == 0)
        return read_npy(verb, path, v);
    if (ond_tensor_proto_read(path, v, &err))
        return fprintf(stderr, "ondine %s: %s\n", verb, err.message), -1;
    return 0;
}

/* Calibration sets stop here: more images than calibration needs, few enough to hold. */
#define CALIBRATION_MAX_FILES 4096

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of dir whose names start with prefix and end with suffix, sorted; NULL with
 * a message on failure. */
static char **list_dir(const char *verb, const char *dir, const char *prefix,
                       const char *suffix, size_t *n)
{
    DIR *d = opendir(dir);
    char **names = calloc(CALIBRATION_MAX_FILES + 1, sizeof *names);
    *n = 0;
    if (!d || !names) {
        fprintf(stderr, "ondine %s: cannot read '%s': %s\n", verb, dir,
                d ? "out of memory" : strerror(errno));
        if (d)
            closedir(d);
        free(names);
        return NULL;
    }
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || len < sl ||
            strcmp(e->d_name + len - sl, suffix) != 0)
            continue;
        if (*n == CALIBRATION_MAX_FILES) {
            fprintf(stderr, "ondine %s: '%s' has more than %d calibration entries\n", verb, dir,
                    CALIBRATION_MAX_FILES);
            break;
        }
        if (!(names[*n] = malloc(strlen(dir) + len + 2)))
            break;
        sprintf(names[(*n)++], "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(names, *n, sizeof *names, by_name);
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* Set k's values from files (one per model input, in the model's order). */
static int read_set(const char *verb, const struct ond_model *m, char **files, size_t n_files,
                    struct ond_value *set)
{
    size_t n_in = ond_model_input_count(m);
    if (n_files != n_in) {
        fprintf(stderr, "ondine %s: %s: %zu calibration file%s for a model with %zu input%s\n",
                verb, n_files ? files[0] : "calibration set", n_files, n_files == 1 ? "" : "s",
                n_in, n_in == 1 ? "" : "s");
        return -1;
    }
    for (size_t i = 0; i < n_in; i++) {
        struct ond_value decl;
        ond_model_input(m, i, &decl, NULL);
        if (cli_read_tensor(verb, files[i], &set[i]))
            return -1;
        free((void *)set[i].name);
        if (!(set[i].name = strdup(decl.name)))
            return -1;
    }
    return 0;
}

int cli_calibration(const char *verb, const char *dir, const struct ond_model *m,
                    struct ond_value **sets, size_t *n_sets)
{
    size_t n_in = ond_model_input_count(m), n_dirs = 0, n_files = 0;
    char **dirs = list_dir(verb, dir, "test_data_set_", "", &n_dirs), **files = NULL;
    int rc = dirs ? 0 : -1;
    *sets = NULL;
    *n_sets = 0;
    if (!rc && !n_dirs) {
        /* Plain files: one set per file, for a one-input model. */
        char **pb = list_dir(verb, dir, "", ".pb", &n_files), **npy = NULL;
        size_t n_npy = 0;
        if (!pb || !(npy = list_dir(verb, dir, "", ".npy", &n_npy)))
            rc = -1;
        else if (!n_files && !n_npy) {
            fprintf(stderr, "ondine %s: '%s' has no test_data_set_* folders and no .pb or .npy "
                    "files to calibrate on\n", verb, dir);
            rc = -1;
        } else if (n_files && n_npy) {
            fprintf(stderr, "ondine %s: '%s' mixes .pb and .npy files\n", verb, dir);
            rc = -1;
        } else if (n_in != 1) {
            fprintf(stderr, "ondine %s: the model has %zu inputs: give its calibration sets as "
                    "test_data_set_*/input_<k>.pb folders\n", verb, n_in);
            rc = -1;
        }
        files = n_npy ? npy : pb;
        n_files = n_npy ? n_npy : n_files;
        free_names(n_npy ? pb : npy, n_npy ? n_files : n_npy);
    }
    size_t count = n_dirs ? n_dirs : n_files;
    if (!rc && !(*sets = calloc(count * n_in + 1, sizeof **sets)))
        rc = -1;
    for (size_t k = 0; k < count && !rc; k++) {
        if (!n_dirs) {
            rc = read_set(verb, m, &files[k], 1, *sets + k * n_in);
            continue;
        }
        size_t n = 0;
        char **in = list_dir(verb, dirs[k], "input_", ".pb", &n);
        rc = in ? read_set(verb, m, in, n, *sets + k * n_in) : -1;
        free_names(in, n);
    }
    free_names(dirs, n_dirs);
    free_names(files, n_files);
    if (rc) {
        ond_values_free(*sets, count * n_in);
        *sets = NULL;
        return -1;
    }
    *n_sets = count;
    return 0;
}

int cli_session(const char *verb, const char *path, struct ond_options *o, const char *calibrate,
                struct ond_model **m, struct ond_session **s)
{
    struct ond_error err = {0};
    struct ond_value *sets = NULL;
    size_t n_sets = 0;
    *m = NULL;
    *s = NULL;
    if (ond_model_load_file(path, o, m, &err))
        return cli_error(verb, &err);
    bool given = false; /* a QDQ model states its scales (fold_qdq) */
    for (int i = 0; i < (*m)->graph->n_tensors; i++)
        given |= (*m)->graph->tensors[i]->qscale > 0;
    if (o->precision == OND_PRECISION_INT8 && !calibrate && !given)
        fprintf(stderr, "ondine %s: warning: int8 calibrated on seeded random inputs; accuracy "
                "needs real data (--calibrate DIR)\n", verb);
    if (o->precision == OND_PRECISION_INT8 && calibrate &&
        cli_calibration(verb, calibrate, *m, &sets, &n_sets))
        return CLI_FAIL;
    o->calibration = sets;
    o->n_calibration_sets = n_sets;
    int rc = ond_session_create(*m, o, s, &err) ? cli_error(verb, &err) : CLI_OK;
    o->calibration = NULL;
    o->n_calibration_sets = 0;
    ond_values_free(sets, n_sets * ond_model_input_count(*m));
    return rc;
}

static int by_time(const void *a, const void *b)
{
    double x = ((const struct ond_profile_step *)a)->ms, y = ((const struct ond_profile_step *)b)->ms;
    return (x < y) - (x > y);
}

int cli_write_profile(const char *verb, const char *file, struct ond_profile *prof, double peak,
                      bool table)
{
    FILE *f = fopen(file, "w");
    if (!f) {
        fprintf(stderr, "ondine %s: cannot write '%s': %s\n", verb, file, strerror(errno));
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
        fprintf(f, ", \"post_ops\": %d, \"macs\": %llu}}", p->n_post,
                (unsigned long long)p->macs);
        ts += p->ms;
    }
    fprintf(f, "\n], \"displayTimeUnit\": \"ms\"}\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "ondine %s: cannot write '%s'\n", verb, file);
        return -1;
    }
    total = ts;
    if (!table)
        return 0;
    qsort(prof->steps, (size_t)prof->n_steps, sizeof *prof->steps, by_time);
    printf("profile: %d steps, %.3f ms (trace in %s); %% peak against %.1f G MAC/s measured "
           "now\n", prof->n_steps, total, file, peak);
    /* Columns as wide as their longest entry, so long kernel and node names stay aligned. */
    int w_op = 2, w_node = 4, w_impl = 4, w_src = 3;
    for (int i = 0; i < prof->n_steps; i++) {
        const struct ond_profile_step *p = &prof->steps[i];
        w_op = (int)fmax(w_op, (double)strlen(p->op));
        w_node = (int)fmax(w_node, (double)strlen(p->node));
        w_impl = (int)fmax(w_impl, (double)strlen(p->impl));
        w_src = (int)fmax(w_src, (double)strlen(p->src));
    }
    printf("%9s %6s %8s %6s  %-*s %-*s %-*s %-*s %s\n", "ms", "%", "GMAC/s", "%peak", w_op,
           "op", w_node, "node", w_impl, "impl", w_src, "src", "dst");
    for (int i = 0; i < prof->n_steps; i++) {
        const struct ond_profile_step *p = &prof->steps[i];
        double g = p->ms > 0 ? p->macs / p->ms / 1e6 : 0;
        char gs[16] = "", ps[16] = "";
        if (p->macs) {
            snprintf(gs, sizeof gs, "%.1f", g);
            if (peak > 0)
                snprintf(ps, sizeof ps, "%.0f%%", 100 * g / peak);
        }
        printf("%9.3f %5.1f%% %8s %6s  %-*s %-*s %-*s %-*s %s\n", p->ms,
               total > 0 ? 100 * p->ms / total : 0, gs, ps, w_op, p->op, w_node, p->node, w_impl,
               p->impl, w_src, p->src, p->dst);
    }
    return 0;
}
