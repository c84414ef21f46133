/* cli_opts.c: the one option parser of the ondine command line. Every verb describes its
 * options as a table of rows (struct cli_opt: spellings, the value's name, help text, a
 * setter and its target); cli_parse reads argv against the table and cli_help prints the
 * verb's --help from the same rows, so the help lists exactly what the verb takes (and
 * tests/cli_help_docs.py holds docs/cli.md's tables to the help).
 * An option's value is the next argument; only a row with an optional value (maybe) also
 * takes --name=VALUE. Arguments no row takes are operands (a lone "-" too); any other
 * argument starting with '-' is an unknown option. Parsing stops at the first error. */
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

/* The row one of whose ", "-separated spellings a is, or begins a with '=' after it when the
 * row's value may be left out (--bisect=DIR); *len: the spelling's length. */
static const struct cli_opt *find(const struct cli_opt *rows, size_t n, const char *a,
                                  size_t *len)
{
    for (size_t r = 0; r < n; r++)
        for (const char *s = rows[r].names; *s; s += *len, s += strspn(s, ", ")) {
            *len = strcspn(s, ", ");
            if (strncmp(s, a, *len) == 0 && (!a[*len] || (a[*len] == '=' && rows[r].maybe)))
                return &rows[r];
        }
    return NULL;
}

int cli_parse(const char *verb, const char *usage, int argc, char **argv,
              const struct cli_opt *rows, size_t n, struct cli_list *operands)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *value = NULL;
        size_t len = 0;
        const struct cli_opt *o = find(rows, n, a, &len);
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_help(usage, rows, n);
            return CLI_HELP;
        }
        if (!o && a[0] == '-' && a[1])
            return cli_usage(verb, "unknown option '%s'", a);
        if (!o) {
            int rc = cli_set_list(&(struct cli_opt){.target = operands}, verb, a, a);
            if (rc != CLI_OK)
                return rc;
            continue;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)len, a);
        if (o->maybe && a[len] == '=')
            value = a + len + 1;
        else if (o->maybe && i + 1 < argc && o->maybe(argv[i + 1]))
            value = argv[++i];
        else if (o->arg && !o->maybe && i + 1 >= argc)
            return cli_usage(verb, "%s needs a value", name);
        else if (o->arg && !o->maybe)
            value = argv[++i];
        int rc = o->set(o, verb, name, value);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

void cli_help(const char *usage, const struct cli_opt *rows, size_t n)
{
    fputs(usage, stdout);
    for (size_t r = 0; r < n; r++) {
        char left[128];
        const struct cli_opt *o = &rows[r];
        snprintf(left, sizeof left, o->maybe ? "%s[=%s]" : o->arg ? "%s %s" : "%s", o->names,
                 o->arg ? o->arg : "");
        /* The text from column 22, and at least two spaces after the spellings (which
         * tests/cli_help_docs.py splits on). */
        printf("  %-*s", strlen(left) < 19 ? 20 : (int)strlen(left) + 2, left);
        for (const char *s = o->help; *s;) {
            size_t len = strcspn(s, "\n");
            printf("%.*s\n", (int)len, s);
            s += len + (s[len] == '\n');
            if (*s)
                printf("%22s", "");
        }
    }
}

int cli_parse_model(const char *verb, const char *usage, int argc, char **argv,
                    const struct cli_opt *rows, size_t n, const char **path,
                    const char *none)
{
    struct cli_list operands = {0};
    int rc = cli_parse(verb, usage, argc, argv, rows, n, &operands);
    if (rc == CLI_OK && operands.n > 1)
        rc = cli_usage(verb, "one model at a time ('%s' and '%s')", operands.v[0],
                       operands.v[1]);
    else if (rc == CLI_OK && !operands.n && none)
        rc = cli_usage(verb, "%s", none);
    *path = operands.n ? operands.v[0] : NULL;
    free(operands.v);
    return rc;
}

CLI_SETTER(cli_set_flag)
{
    (void)verb, (void)name, (void)value;
    *(bool *)o->target = true;
    return CLI_OK;
}

CLI_SETTER(cli_set_on)
{
    (void)verb, (void)name, (void)value;
    *(int *)o->target = 1;
    return CLI_OK;
}

CLI_SETTER(cli_set_str)
{
    (void)verb, (void)name;
    *(const char **)o->target = value;
    return CLI_OK;
}

CLI_SETTER(cli_set_ll)
{
    if (!cli_int(value, o->min, o->max, o->target))
        return cli_usage(verb, "%s takes a whole number from %lld to %lld, got '%s'", name, o->min,
                         o->max, value);
    return CLI_OK;
}

CLI_SETTER(cli_set_int)
{
    long long v;
    int rc = cli_set_ll(&(struct cli_opt){.min = o->min, .max = o->max, .target = &v}, verb,
                        name, value);
    if (rc == CLI_OK)
        *(int *)o->target = (int)v;
    return rc;
}

CLI_SETTER(cli_set_list)
{
    (void)name;
    struct cli_list *l = o->target;
    const char **v = realloc(l->v, sizeof *v * (l->n + 2));
    if (!v) {
        fprintf(stderr, "ondine %s: cannot allocate the arguments\n", verb);
        return CLI_FAIL;
    }
    v[l->n++] = value;
    v[l->n] = NULL;
    l->v = v;
    return CLI_OK;
}

CLI_SETTER(cli_set_precision)
{
    if (cli_precision(value, o->target))
        return cli_usage(verb, "%s takes fp32, bf16 or int8, got '%s'", name, value);
    return CLI_OK;
}

CLI_SETTER(cli_set_level)
{
    (void)verb, (void)value;
    *(int *)o->target = name[2] - '0';
    return CLI_OK;
}

CLI_SETTER(cli_set_pass)
{
    (void)name;
    struct ond_options *opts = o->target;
    const char **v = realloc((void *)opts->disabled_passes,
                             sizeof *v * (opts->n_disabled_passes + 1));
    if (!v) {
        fprintf(stderr, "ondine %s: cannot allocate the arguments\n", verb);
        return CLI_FAIL;
    }
    v[opts->n_disabled_passes++] = value;
    opts->disabled_passes = v;
    return CLI_OK;
}
