/* cli.c: helpers shared by the verbs of the ondine command line. */
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
