/* test_data.c: what `ondine test` reads besides models: the test folders under a PATH, skip
 * lists, the data sets of a case (input_<i> / output_<i>, .pb or .npy, bound to the graph by
 * the files' tensor names or by position; bfloat16 stored as UINT16 read as bfloat16) and
 * data.json tolerances. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/loader.h"
#include "runtime/model.h"
#include "tools/cli.h"
#include "tools/test.h"

/* ---- test folders ---- */

bool test_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool has_model(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    return access(path, R_OK) == 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static bool add_case(struct cases *l, const char *dir)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        char **nd = realloc(l->dirs, sizeof *nd * nc);
        if (!nd)
            return false;
        l->dirs = nd;
        l->cap = nc;
    }
    char *d = strdup(dir);
    /* "suite/case/" names the case "case". */
    for (size_t len = d ? strlen(d) : 0; len > 1 && d[len - 1] == '/'; len--)
        d[len - 1] = 0;
    return (l->dirs[l->n++] = d) != NULL;
}

bool test_collect(const char *path, int depth, struct cases *l)
{
    if (has_model(path))
        return add_case(l, path);
    struct dirent **list;
    int n = depth > 0 ? scandir(path, &list, NULL, by_name) : -1;
    bool ok = true;
    for (int i = 0; i < n; i++) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, list[i]->d_name);
        if (ok && list[i]->d_name[0] != '.' && test_is_dir(sub))
            ok = test_collect(sub, depth - 1, l);
        free(list[i]);
    }
    if (n >= 0)
        free(list);
    return ok;
}

const char *test_base_name(const char *dir)
{
    const char *s = strrchr(dir, '/');
    return s ? s + 1 : dir;
}

bool test_holds_pb(const char *dir)
{
    DIR *d = opendir(dir);
    bool found = false;
    for (struct dirent *e; d && !found && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        found = len > 3 && strcmp(e->d_name + len - 3, ".pb") == 0;
    }
    if (d)
        closedir(d);
    return found && !has_model(dir);
}

/* ---- skip lists ---- */

bool test_read_skip_list(struct cfg *cfg, const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "ondine test: cannot read skip list '%s'\n", file);
        return false;
    }
    char line[1024];
    bool ok = true;
    while (ok && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        size_t len = strcspn(line, " \t");
        if (!len || line[0] == '#')
            continue;
        const char *reason = line + len + strspn(line + len, " \t");
        struct skip *ns = realloc(cfg->skips, sizeof *ns * (cfg->n_skips + 1));
        if (!ns) {
            ok = false;
            break;
        }
        cfg->skips = ns;
        ns[cfg->n_skips].name = strndup(line, len);
        ns[cfg->n_skips].reason = strdup(*reason ? reason : "in the skip list");
        ok = ns[cfg->n_skips].name && ns[cfg->n_skips].reason;
        cfg->n_skips++;
    }
    fclose(f);
    if (!ok)
        fprintf(stderr, "ondine test: cannot allocate the skip list\n");
    return ok;
}

/* Cases of the ONNX node suite (libonnx-testdata 1.12) whose data contradicts their model, so
 * that no runtime that checks its inputs can pass them (ONNX Runtime refuses them too): listed
 * here, they show as skipped with this reason instead of failing every run of the suite. */
static const struct skip broken_data[] = {
#define LIKE_1 "ONNX 1.12's data feeds 'like' as [1] where the model declares [3,4]"
    {"test_castlike_BFLOAT16_to_FLOAT", LIKE_1},
    {"test_castlike_BFLOAT16_to_FLOAT_expanded", LIKE_1},
    {"test_castlike_FLOAT_to_BFLOAT16", LIKE_1},
    {"test_castlike_FLOAT_to_BFLOAT16_expanded", LIKE_1},
#undef LIKE_1
};

const char *test_skip_reason(const struct cfg *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_skips; i++)
        if (strcmp(cfg->skips[i].name, name) == 0)
            return cfg->skips[i].reason;
    for (size_t i = 0; i < sizeof broken_data / sizeof broken_data[0]; i++)
        if (strcmp(broken_data[i].name, name) == 0)
            return broken_data[i].reason;
    return NULL;
}

/* ---- running a case ---- */

void test_free_set(struct set *s)
{
    for (int i = 0; i < s->n_in; i++) {
        free((void *)s->in[i].name);
        free(s->in[i].data);
    }
    for (int i = 0; i < s->n_want; i++) {
        free((void *)s->want[i].name);
        free(s->want[i].data);
    }
    s->n_in = s->n_want = 0;
}

/* Reads input_<i> / output_<i> (.pb, else .npy) of one data set, in file order. */
static enum ond_status read_files(const char *dir, int k, bool out, struct ond_value *v, int *n,
                                  struct ond_error *err)
{
    for (;; (*n)++) {
        char path[4096];
        size_t len = (size_t)snprintf(path, sizeof path, "%s/test_data_set_%d/%s_%d.pb", dir, k,
                                      out ? "output" : "input", *n);
        if (access(path, F_OK) != 0 && len < sizeof path)
            memcpy(path + len - 3, ".npy", 5);
        if (access(path, F_OK) != 0)
            return OND_OK;
        if (*n == MAX_IO)
            return ond_fail(err, OND_STATUS_LIMIT, "more than %d %ss", MAX_IO,
                            out ? "output" : "input");
        if (path[strlen(path) - 1] == 'y' && cli_read_tensor("test", path, &v[*n]))
            return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "cannot read '%s'", path);
        if (path[strlen(path) - 1] == 'b') {
            enum ond_status st = ond_tensor_proto_read(path, &v[*n], err);
            if (st)
                return st;
        }
    }
}

/* Puts v (n values read in file order) in the order of the graph's tensors when the files'
 * names are those tensors' names, each once; else keeps the file order (position binds).
 * ONNX 1.12 stores bfloat16 tensors as UINT16: the bits are the same, so a UINT16 value where
 * the graph declares bfloat16 is read as bfloat16. True when the names bound. */
static bool order(struct ond_tensor *const *decl, int n_decl, struct ond_value *v, int n)
{
    struct ond_value sorted[MAX_IO] = {0};
    bool by_name = n == n_decl && n > 0;
    for (int i = 0; i < n && by_name; i++) {
        int j = 0;
        while (j < n_decl && !(v[i].name && strcmp(v[i].name, decl[j]->name) == 0))
            j++;
        by_name = j < n_decl && !sorted[j].data;
        if (by_name)
            sorted[j] = v[i];
    }
    if (by_name)
        memcpy(v, sorted, sizeof *v * (size_t)n);
    for (int i = 0; i < n && i < n_decl; i++)
        if (v[i].dtype == OND_DTYPE_UINT16 && decl[i]->info.dtype == OND_DTYPE_BFLOAT16)
            v[i].dtype = OND_DTYPE_BFLOAT16;
    return by_name;
}

enum ond_status test_read_set(const struct ond_model *m, const char *dir, int k, struct set *s,
                              struct ond_error *err)
{
    memset(s, 0, sizeof *s);
    enum ond_status st = read_files(dir, k, false, s->in, &s->n_in, err);
    if (!st)
        st = read_files(dir, k, true, s->want, &s->n_want, err);
    if (!st) {
        const struct ond_graph *g = m->graph;
        order(g->inputs, g->n_inputs, s->in, s->n_in);
        s->outputs_by_name = order(g->outputs, g->n_outputs, s->want, s->n_want);
    }
    return st;
}

/* The set's inputs bound to the graph's inputs (by the files' names, else by position). */
void test_bind(const struct ond_model *m, const struct set *s, struct ond_value *bound)
{
    for (int i = 0; i < s->n_in; i++) {
        bound[i] = s->in[i];
        if (i < m->graph->n_inputs)
            bound[i].name = m->graph->inputs[i]->name;
    }
}

/* The number after "key": in a small JSON text; false when absent or not a number >= 0. */
static bool json_number(const char *text, const char *key, double *v)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *p = strstr(text, quoted);
    if (!p)
        return false;
    p += strlen(quoted);
    p += strspn(p, " \t\r\n");
    if (*p++ != ':')
        return false;
    char *end;
    double x = strtod(p, &end);
    if (end == p || !(x >= 0) || !isfinite(x))
        return false;
    *v = x;
    return true;
}

/* ONNX's model tests state their tolerance in data.json ({"rtol": 0.001, "atol": 1e-07, ...})
 * beside model.onnx or in the folder above it; it applies to the case unless the command
 * line gave --rtol / --atol. */
void test_case_tolerance(const char *dir, struct cfg *c, struct report *r)
{
    for (int up = 0; up < 2; up++) {
        char path[4096], text[4096];
        snprintf(path, sizeof path, "%s%s/data.json", dir, up ? "/.." : "");
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = 0;
        bool any = false;
        double v;
        if (!c->rtol_given && json_number(text, "rtol", &v))
            c->rtol = v, any = true;
        if (!c->atol_given && json_number(text, "atol", &v))
            c->atol = v, any = true;
        if (any)
            snprintf(r->tol_from, sizeof r->tol_from, "%sdata.json", up ? "../" : "");
        break;
    }
    r->rtol = c->rtol;
    r->atol = c->atol;
}
