/* cli.c: helpers shared by the verbs of the ondine command line. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

int cli_common_flag(const char *verb, int argc, char **argv, int *i, struct ond_options *o,
                    const char **disabled)
{
    const char *a = argv[*i];
    long long v;
    if (strcmp(a, "-O0") == 0 || strcmp(a, "-O1") == 0 || strcmp(a, "-O2") == 0) {
        o->opt_level = a[2] - '0';
        return 1;
    }
    if (strcmp(a, "--disable-pass") == 0 || strcmp(a, "--threads") == 0) {
        if (*i + 1 >= argc) {
            cli_usage(verb, "%s needs a value", a);
            return -1;
        }
        const char *val = argv[++*i];
        if (a[2] == 'd') {
            disabled[o->n_disabled_passes++] = val;
            o->disabled_passes = disabled;
        } else if (cli_int(val, 0, 4096, &v)) {
            o->threads = (int)v;
        } else {
            cli_usage(verb, "--threads takes a whole number, got '%s'", val);
            return -1;
        }
        return 1;
    }
    return 0;
}

int cli_precision(const char *s, enum ond_precision *p)
{
    static const char *const names[] = {"fp32", "bf16", "int8"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
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
