/* test.c: `ondine test PATH...`: runs ONNX backend test folders (model.onnx plus
 * test_data_set_<k>/input_<i>.pb and output_<i>.pb) through sessions and compares each output
 * with its reference: |got - ref| <= atol + rtol * |ref| for float and double, exact equality
 * for integer and bool outputs, NaN matching only NaN. One line per case and the totals last;
 * --json writes the report. --compare-levels also runs each case at -O0 and holds the chosen
 * level to the -O0 outputs. --bisect explains a failing case node by node: the reference
 * interpreter runs the optimized graph and the -O0 graph, tensors are matched by name, and the
 * first -O0 node whose output diverges is named (optionally against per-tensor .pb files).
 * Models the loader refuses as unsupported are skipped, as are cases in --skip-list files. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proto/loader.h"
#include "runtime/model.h"
#include "runtime/reference.h"
#include "tools/cli.h"

static const char help[] =
    "usage: ondine test PATH... [options]\n"
    "  PATH is a backend test folder (model.onnx, test_data_set_*/) or a folder holding them\n"
    "  --filter S          only cases whose folder name contains S\n"
    "  --rtol X, --atol Y  tolerance |got - ref| <= atol + rtol*|ref| (default 1e-3, 1e-5;\n"
    "                      with --precision bf16 2e-2, 5e-2; int8 5e-2, 1e-1)\n"
    "  --json FILE         write the report as JSON\n"
    "  --skip-list FILE    skip the cases it names: one 'name reason...' a line, # comments\n"
    "  --compare-levels    also run at -O0 and compare the outputs of the two levels\n"
    "  --bisect[=DIR]      for a failing case, name the first node whose output diverges\n"
    "                      between the optimized and the -O0 graph (and DIR's <tensor>.pb)\n"
    "  -O0, -O1, -O2       optimization level (default -O2); --disable-pass NAME\n"
    "  --threads N         threads per session (default: all cores)\n"
    "  --precision P       fp32 (default), bf16, int8\n"
    "  --calibrate DIR     int8: calibration inputs for every case (a backend test folder,\n"
    "                      or .pb/.npy files; default: seeded random inputs, with a warning)\n";

#define MAX_IO 64
#define MAX_DEPTH 3

enum status { PASS, FAIL, ERROR, SKIP };
static const char *const status_name[] = {"PASS", "FAIL", "ERROR", "SKIP"};

struct skip {
    char *name, *reason;
};

struct cfg {
    double rtol, atol;
    const char *filter, *json_path, *bisect_dir, *calibrate;
    bool compare_levels, bisect, tty;
    struct ond_options opts;
    struct skip *skips;
    size_t n_skips;
};

/* One output held to its reference, merged over the data sets. */
struct cmp {
    char name[256];
    bool bad;
    char problem[256];   /* a dtype, shape or size mismatch; empty when values were compared */
    double max_abs, max_rel;
    bool has_worst, worst_bad;
    double worst_ratio;  /* |got - ref| / (atol + rtol |ref|) of the worst element */
    double worst_diff;   /* its |got - ref| */
    int worst_set;
    size_t worst_index;
    double worst_got, worst_want;
};

struct report {
    enum status status;
    char reason[2048];
    char ops[2048];       /* op types of the -O0 graph, space separated */
    char skip_ops[512];   /* ops a SKIP's message names, space separated */
    int n_sets;
    struct cmp out[MAX_IO], lvl[MAX_IO];
    int n_out, n_lvl;
    char bisect[4096];    /* lines of the bisection, newline separated */
    char bisect_node[512], bisect_dir_node[512];
    double seconds;
};

struct set {
    struct ond_value in[MAX_IO], want[MAX_IO];
    int n_in, n_want;
};

/* ---- comparing values ---- */

static double elem(int32_t dtype, const void *data, size_t i)
{
    switch (dtype) {
    case OND_DTYPE_FLOAT: return ((const float *)data)[i];
    case OND_DTYPE_DOUBLE: return ((const double *)data)[i];
    case OND_DTYPE_INT8: return ((const int8_t *)data)[i];
    case OND_DTYPE_UINT8: return ((const uint8_t *)data)[i];
    case OND_DTYPE_BOOL: return ((const uint8_t *)data)[i];
    case OND_DTYPE_INT16: return ((const int16_t *)data)[i];
    case OND_DTYPE_UINT16: return ((const uint16_t *)data)[i];
    case OND_DTYPE_INT32: return ((const int32_t *)data)[i];
    case OND_DTYPE_UINT32: return ((const uint32_t *)data)[i];
    case OND_DTYPE_INT64: return (double)((const int64_t *)data)[i];
    case OND_DTYPE_UINT64: return (double)((const uint64_t *)data)[i];
    default: return 0;
    }
}

static const char *shape_str(int rank, const int64_t *dims, char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < rank && at < len; d++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", d ? "," : "", (long long)dims[d]);
    if (at < len)
        snprintf(buf + at, len - at, "]");
    return buf;
}

static uint64_t numel(const struct ond_value *v)
{
    uint64_t n = 1;
    for (int d = 0; d < v->rank; d++)
        n *= v->dims[d] > 0 ? (uint64_t)v->dims[d] : 0;
    return n;
}

/* Holds got to want (data set `set`), merging into c what earlier sets left there. */
static void compare(const struct cfg *cfg, int set, const struct ond_value *got,
                    const struct ond_value *want, struct cmp *c)
{
    char a[256], b[256];
    if (got->dtype != want->dtype) {
        c->bad = true;
        snprintf(c->problem, sizeof c->problem, "dtype %s, expected %s",
                 ond_dtype_name(got->dtype), ond_dtype_name(want->dtype));
        return;
    }
    size_t rank = (size_t)(want->rank > 0 ? want->rank : 0);
    if (got->rank != want->rank || memcmp(got->dims, want->dims, sizeof(int64_t) * rank)) {
        c->bad = true;
        snprintf(c->problem, sizeof c->problem, "shape %s, expected %s",
                 shape_str(got->rank, got->dims, a, sizeof a),
                 shape_str(want->rank, want->dims, b, sizeof b));
        return;
    }
    size_t es = ond_dtype_size(want->dtype), n = (size_t)numel(want);
    if (!es || got->size < n * es || want->size < n * es) {
        /* Types ondine does not compute with: bytes must agree. */
        if (got->size != want->size || memcmp(got->data, want->data, want->size)) {
            c->bad = true;
            snprintf(c->problem, sizeof c->problem, "%s data differs",
                     ond_dtype_name(want->dtype));
        }
        return;
    }
    bool is_float = want->dtype == OND_DTYPE_FLOAT || want->dtype == OND_DTYPE_DOUBLE;
    for (size_t i = 0; i < n; i++) {
        double g = elem(want->dtype, got->data, i), w = elem(want->dtype, want->data, i);
        double d, tol = cfg->atol + cfg->rtol * fabs(w);
        bool ok;
        if (!is_float) {
            const char *gb = got->data, *wb = want->data;
            ok = memcmp(gb + i * es, wb + i * es, es) == 0;
            d = fabs(g - w);
        } else if (isnan(g) || isnan(w)) {
            ok = isnan(g) && isnan(w);
            d = ok ? 0 : INFINITY;
        } else if (g == w) {
            ok = true;
            d = 0;
        } else {
            d = fabs(g - w);
            ok = d <= tol;
        }
        double ratio = d == 0 ? 0 : tol > 0 ? d / tol : INFINITY;
        if (d > c->max_abs)
            c->max_abs = d;
        if (w != 0 && isfinite(w) && d / fabs(w) > c->max_rel)
            c->max_rel = d / fabs(w);
        if (!ok)
            c->bad = true;
        /* Ties (a zero tolerance makes every ratio infinite) go to the larger difference. */
        bool worse = ratio > c->worst_ratio || (ratio == c->worst_ratio && d > c->worst_diff);
        if (!c->has_worst || (!ok && !c->worst_bad) || (!ok == c->worst_bad && worse)) {
            c->has_worst = true;
            c->worst_bad = !ok;
            c->worst_ratio = ratio;
            c->worst_diff = d;
            c->worst_set = set;
            c->worst_index = i;
            c->worst_got = g;
            c->worst_want = w;
        }
    }
}

/* "output 'y': element 12 (set 0) is 0.51, expected 0.6 (max abs error 0.09, max rel 0.15)" */
static size_t describe(const struct cmp *c, const char *what, char *buf, size_t len)
{
    if (c->problem[0])
        return (size_t)snprintf(buf, len, "%s '%s': %s", what, c->name, c->problem);
    return (size_t)snprintf(buf, len,
                            "%s '%s': element %zu (set %d) is %.9g, expected %.9g "
                            "(max abs error %.3g, max rel %.3g)",
                            what, c->name, c->worst_index, c->worst_set, c->worst_got,
                            c->worst_want, c->max_abs, c->max_rel);
}

/* ---- test folders ---- */

static bool is_dir(const char *path)
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

struct cases {
    char **dirs;
    size_t n, cap;
};

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

/* Adds path if it is a test folder, else the test folders below it (by name, a few levels). */
static bool collect(const char *path, int depth, struct cases *l)
{
    if (has_model(path))
        return add_case(l, path);
    struct dirent **list;
    int n = depth > 0 ? scandir(path, &list, NULL, by_name) : -1;
    bool ok = true;
    for (int i = 0; i < n; i++) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, list[i]->d_name);
        if (ok && list[i]->d_name[0] != '.' && is_dir(sub))
            ok = collect(sub, depth - 1, l);
        free(list[i]);
    }
    if (n >= 0)
        free(list);
    return ok;
}

static const char *base_name(const char *dir)
{
    const char *s = strrchr(dir, '/');
    return s ? s + 1 : dir;
}

/* Whether dir directly holds .pb files (a --bisect reference folder, not a test folder). */
static bool holds_pb(const char *dir)
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

static bool read_skip_list(struct cfg *cfg, const char *file)
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

static const char *skip_reason(const struct cfg *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_skips; i++)
        if (strcmp(cfg->skips[i].name, name) == 0)
            return cfg->skips[i].reason;
    return NULL;
}

/* ---- running a case ---- */

static void free_set(struct set *s)
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

static enum ond_status read_set(const char *dir, int k, struct set *s, struct ond_error *err)
{
    memset(s, 0, sizeof *s);
    for (int out = 0; out < 2; out++) {
        struct ond_value *v = out ? s->want : s->in;
        int *n = out ? &s->n_want : &s->n_in;
        for (;; (*n)++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/test_data_set_%d/%s_%d.pb", dir, k,
                     out ? "output" : "input", *n);
            if (access(path, F_OK) != 0)
                break;
            if (*n == MAX_IO)
                return ond_fail(err, OND_STATUS_LIMIT, "more than %d %ss", MAX_IO,
                                out ? "output" : "input");
            enum ond_status st = ond_tensor_proto_read(path, &v[*n], err);
            if (st)
                return st;
        }
    }
    return OND_OK;
}

/* The set's inputs bound by position to the graph's inputs. */
static void bind(const struct ond_model *m, const struct set *s, struct ond_value *bound)
{
    for (int i = 0; i < s->n_in; i++) {
        bound[i] = s->in[i];
        if (i < m->graph->n_inputs)
            bound[i].name = m->graph->inputs[i]->name;
    }
}

/* Messages from loading start with the model's path, which the case line already names. */
static void set_reason(struct report *r, const char *dir, const char *prefix,
                       const struct ond_error *err)
{
    char path[4096];
    const char *msg = err->message[0] ? err->message : ond_status_name(err->status);
    snprintf(path, sizeof path, "%s/model.onnx: ", dir);
    if (strncmp(msg, path, strlen(path)) == 0)
        msg += strlen(path);
    snprintf(r->reason, sizeof r->reason, "%s%s", prefix, msg);
}

static void append(char *buf, size_t len, const char *sep, const char *s)
{
    size_t at = strlen(buf);
    if (at + 1 < len)
        snprintf(buf + at, len - at, "%s%s", at ? sep : "", s);
}

/* The ops an UNSUPPORTED message names: "unsupported ops (domain.op-opset): A-7, x.B-1" or
 * "node 'n' (Op): ...". */
static void skipped_ops(const char *msg, char *buf, size_t len)
{
    const char *list = strstr(msg, "(domain.op-opset): ");
    buf[0] = 0;
    if (list) {
        for (const char *p = list + strlen("(domain.op-opset): "); *p;) {
            size_t item = strcspn(p, ",");
            char op[256];
            snprintf(op, sizeof op, "%.*s", (int)item, p);
            char *dash = strrchr(op, '-');
            if (dash)
                *dash = 0;
            append(buf, len, " ", op);
            p += item;
            p += strspn(p, ", ");
        }
        return;
    }
    const char *node = strstr(msg, "node '");
    const char *open = node ? strstr(node, "' (") : NULL;
    const char *close = open ? strstr(open, "):") : NULL;
    if (close)
        snprintf(buf, len, "%.*s", (int)(close - open - 3), open + 3);
}

static void list_ops(const struct ond_graph *g, char *buf, size_t len)
{
    buf[0] = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        char op[300];
        snprintf(op, sizeof op, "%s%s%s", g->nodes[i]->domain, *g->nodes[i]->domain ? "." : "",
                 g->nodes[i]->op_type);
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(g->nodes[j]->op_type, g->nodes[i]->op_type) == 0 &&
                   strcmp(g->nodes[j]->domain, g->nodes[i]->domain) == 0;
        if (!seen)
            append(buf, len, " ", op);
    }
}

/* ---- bisection ---- */

struct bisect {
    const struct cfg *cfg;
    const struct ond_graph *opt;
    struct ond_value *saved;      /* per tensor of the optimized graph: its traced value */
    const char *dir;              /* <tensor>.pb references, or NULL */
    int set;                      /* the data set being bisected */
    int compared, removed, dir_compared, dir_missing;
    char first[1024], first_node[512], first_dir[1024], first_dir_node[512];
};

static struct ond_value value_of(const struct ond_info *info, const char *name)
{
    struct ond_value v = {.name = name, .dtype = info->dtype, .rank = info->rank,
                          .data = (void *)info->data};
    uint64_t n = 0;
    ond_numel(info, 0, &n);
    memcpy(v.dims, info->dims, sizeof(int64_t) * (size_t)(info->rank > 0 ? info->rank : 0));
    v.size = (size_t)n * ond_dtype_size(info->dtype);
    return v;
}

static void save_trace(void *ctx, const struct ond_node *n, const struct ond_info *out)
{
    struct bisect *b = ctx;
    for (int k = 0; k < n->n_out; k++) {
        if (!n->out[k] || !out[k].data)
            continue;
        struct ond_value *v = &b->saved[n->out[k]->id];
        *v = value_of(&out[k], n->out[k]->name);
        v->data = malloc(v->size ? v->size : 1);
        if (v->data)
            memcpy(v->data, out[k].data, v->size);
    }
}

/* Tensor names may hold '/' and the like: anything but [A-Za-z0-9._-] becomes '_'. */
static void pb_path(const char *dir, const char *name, char *path, size_t len)
{
    size_t at = (size_t)snprintf(path, len, "%s/", dir);
    for (const char *p = name; *p && at + 4 < len; p++) {
        char c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '_' || c == '-';
        path[at++] = plain ? c : '_';
    }
    snprintf(path + at, len - at, ".pb");
}

static void diverged(const struct ond_node *n, const struct cmp *c, char *buf, size_t len,
                     char *node, size_t node_len)
{
    char what[600];
    snprintf(what, sizeof what, "node '%s' (%s) output", n->name, n->op_type);
    describe(c, what, buf, len);
    snprintf(node, node_len, "%s", n->name);
}

static void check_trace(void *ctx, const struct ond_node *n, const struct ond_info *out)
{
    struct bisect *b = ctx;
    for (int k = 0; k < n->n_out; k++) {
        if (!n->out[k] || !out[k].data)
            continue;
        const char *name = n->out[k]->name;
        struct ond_value got = value_of(&out[k], name);
        const struct ond_tensor *t = ond_graph_find_tensor(b->opt, name);
        if (!t || !b->saved[t->id].data) {
            b->removed++;
        } else if (!b->first[0]) {
            struct cmp c = {0};
            snprintf(c.name, sizeof c.name, "%s", name);
            compare(b->cfg, b->set, &b->saved[t->id], &got, &c);
            b->compared++;
            if (c.bad)
                diverged(n, &c, b->first, sizeof b->first, b->first_node, sizeof b->first_node);
        }
        if (!b->dir || b->first_dir[0])
            continue;
        char path[4096];
        struct ond_value ref;
        struct ond_error err = {0};
        pb_path(b->dir, name, path, sizeof path);
        if (access(path, R_OK) != 0) {
            b->dir_missing++;
            continue;
        }
        struct cmp c = {0};
        snprintf(c.name, sizeof c.name, "%s", name);
        if (ond_tensor_proto_read(path, &ref, &err)) {
            snprintf(b->first_dir, sizeof b->first_dir, "%s", err.message);
            continue;
        }
        compare(b->cfg, b->set, &got, &ref, &c);
        b->dir_compared++;
        if (c.bad)
            diverged(n, &c, b->first_dir, sizeof b->first_dir, b->first_dir_node,
                     sizeof b->first_dir_node);
        free((void *)ref.name);
        free(ref.data);
    }
}

static void line(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct report *r, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    append(r->bisect, sizeof r->bisect, "\n", buf);
}

/* Compares a list of outputs; fills buf with the first difference, or leaves it empty. */
static void compare_outputs(const struct cfg *cfg, int set, const struct ond_value *got,
                            const struct ond_value *want, int n, char *buf, size_t len)
{
    buf[0] = 0;
    for (int i = 0; i < n && !buf[0]; i++) {
        struct cmp c = {0};
        snprintf(c.name, sizeof c.name, "%s", got[i].name ? got[i].name : "?");
        compare(cfg, set, &got[i], &want[i], &c);
        if (c.bad)
            describe(&c, "output", buf, len);
    }
}

static void bisect(const struct cfg *cfg, const struct ond_model *m0, const struct ond_model *opt,
                   struct ond_session *s, const char *dir, int set, struct report *r)
{
    struct set data;
    struct ond_error err = {0};
    struct ond_value bound[MAX_IO], ref_opt[MAX_IO], ref0[MAX_IO], *sess = NULL;
    size_t n_sess = 0;
    int n_out = m0->graph->n_outputs;
    struct bisect b = {.cfg = cfg, .opt = opt->graph, .set = set};
    char ref_dir[4096] = "", diff[1200];
    if (cfg->bisect_dir) {
        snprintf(ref_dir, sizeof ref_dir, "%s/%s", cfg->bisect_dir, base_name(dir));
        b.dir = is_dir(ref_dir) ? ref_dir : cfg->bisect_dir;
    }
    if (read_set(dir, set, &data, &err) || n_out > MAX_IO ||
        !(b.saved = calloc((size_t)opt->graph->n_tensors + 1, sizeof *b.saved))) {
        line(r, "cannot read test_data_set_%d: %s", set, err.message);
        free_set(&data);
        return;
    }
    bind(m0, &data, bound);
    bool opt_ran = !ond_reference_run(opt->graph, bound, (size_t)data.n_in, ref_opt, save_trace,
                                      &b, &err);
    if (!opt_ran)
        line(r, "the optimized graph does not run in the reference interpreter: %s",
             err.message);
    if (ond_reference_run(m0->graph, bound, (size_t)data.n_in, ref0, check_trace, &b, &err)) {
        line(r, "the -O0 graph does not run in the reference interpreter: %s", err.message);
    } else {
        if (opt_ran && b.first[0])
            line(r, "the optimized graph first diverges from -O0 at %s", b.first);
        else if (opt_ran)
            line(r, "the optimized graph matches -O0 at all %d shared tensors (%d removed by "
                    "passes)", b.compared, b.removed);
        snprintf(r->bisect_node, sizeof r->bisect_node, "%s", b.first_node);
        if (b.dir && b.first_dir[0])
            line(r, "-O0 first diverges from %s at %s", b.dir, b.first_dir);
        else if (b.dir)
            line(r, "-O0 matches %s at all %d tensors it holds (%d without a file)", b.dir,
                 b.dir_compared, b.dir_missing);
        snprintf(r->bisect_dir_node, sizeof r->bisect_dir_node, "%s", b.first_dir_node);
        if (data.n_want == n_out) {
            compare_outputs(cfg, set, ref0, data.want, n_out, diff, sizeof diff);
            line(r, "the -O0 reference interpreter %s the expected outputs%s%s",
                 diff[0] ? "differs from" : "matches", diff[0] ? ": " : "", diff);
        }
        if (ond_session_run_alloc(s, bound, (size_t)data.n_in, &sess, &n_sess, &err)) {
            line(r, "the session does not run: %s", err.message);
        } else {
            compare_outputs(cfg, set, sess, ref0, n_out, diff, sizeof diff);
            line(r, "the session's outputs %s the -O0 reference interpreter's%s%s",
                 diff[0] ? "differ from" : "match", diff[0] ? ": " : "", diff);
            ond_values_free(sess, n_sess);
        }
        for (int i = 0; i < n_out; i++) {
            free((void *)ref0[i].name);
            free(ref0[i].data);
        }
    }
    for (int i = 0; opt_ran && i < opt->graph->n_outputs; i++) {
        free((void *)ref_opt[i].name);
        free(ref_opt[i].data);
    }
    for (int i = 0; i < opt->graph->n_tensors; i++)
        free(b.saved[i].data);
    free(b.saved);
    free_set(&data);
}

/* ---- one case ---- */

/* Runs every data set of the case (all of them, so the report covers every set, unless one
 * cannot run); the first set that fails, or -1. */
static int run_sets(const struct cfg *cfg, const char *dir, const struct ond_model *m,
                    struct ond_session *s, struct ond_session *s0, struct report *r)
{
    int failed = -1;
    for (int k = 0; r->status != ERROR; k++) {
        char path[4096], prefix[64];
        snprintf(path, sizeof path, "%s/test_data_set_%d", dir, k);
        if (!is_dir(path)) {
            if (!k) {
                r->status = ERROR;
                snprintf(r->reason, sizeof r->reason, "no test_data_set_0 folder");
            }
            break;
        }
        struct set data;
        struct ond_error err = {0};
        struct ond_value bound[MAX_IO], *got = NULL, *got0 = NULL;
        size_t n_got = 0, n_got0 = 0;
        snprintf(prefix, sizeof prefix, "test_data_set_%d: ", k);
        r->n_sets = k + 1;
        enum ond_status st = read_set(dir, k, &data, &err);
        if (!st) {
            bind(m, &data, bound);
            st = ond_session_run_alloc(s, bound, (size_t)data.n_in, &got, &n_got, &err);
        }
        if (!st && s0) {
            snprintf(prefix, sizeof prefix, "test_data_set_%d at -O0: ", k);
            st = ond_session_run_alloc(s0, bound, (size_t)data.n_in, &got0, &n_got0, &err);
        }
        if (st) {
            r->status = ERROR;
            set_reason(r, dir, prefix, &err);
        } else if ((size_t)data.n_want != n_got) {
            r->status = ERROR;
            snprintf(r->reason, sizeof r->reason, "test_data_set_%d has %d outputs, the model %zu",
                     k, data.n_want, n_got);
        } else {
            r->n_out = r->n_lvl = (int)n_got;
            for (size_t i = 0; i < n_got; i++) {
                snprintf(r->out[i].name, sizeof r->out[i].name, "%s", got[i].name);
                compare(cfg, k, &got[i], &data.want[i], &r->out[i]);
                if (s0) {
                    snprintf(r->lvl[i].name, sizeof r->lvl[i].name, "%s", got[i].name);
                    compare(cfg, k, &got[i], &got0[i], &r->lvl[i]);
                }
                if ((r->out[i].bad || (s0 && r->lvl[i].bad)) && failed < 0)
                    failed = k;
            }
            if (failed >= 0)
                r->status = FAIL;
        }
        ond_values_free(got, n_got);
        ond_values_free(got0, n_got0);
        free_set(&data);
    }
    if (!s0)
        r->n_lvl = 0;
    return failed;
}

static void run_case(const struct cfg *cfg, const char *dir, struct report *r)
{
    const char *name = base_name(dir), *skip = skip_reason(cfg, name);
    char path[4096], level[32];
    struct ond_error err = {0};
    struct ond_model *m0 = NULL, *m = NULL;
    struct ond_session *s = NULL, *s0 = NULL;
    struct ond_options o0 = cfg->opts;
    o0.opt_level = 0;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    snprintf(level, sizeof level, "at -O%d: ", cfg->opts.opt_level);
    if (skip) {
        r->status = SKIP;
        snprintf(r->reason, sizeof r->reason, "skip list: %s", skip);
        return;
    }
    /* The -O0 load tells an unsupported model (a skip) from a pass that fails (an error). */
    enum ond_status st = ond_model_load_file(path, &o0, &m0, &err);
    if (st) {
        r->status = st == OND_STATUS_UNSUPPORTED ? SKIP : ERROR;
        set_reason(r, dir, "", &err);
        if (st == OND_STATUS_UNSUPPORTED)
            skipped_ops(r->reason, r->skip_ops, sizeof r->skip_ops);
        return;
    }
    list_ops(m0->graph, r->ops, sizeof r->ops);
    if (cfg->opts.opt_level == 0)
        m = m0;
    else if ((st = ond_model_load_file(path, &cfg->opts, &m, &err)))
        set_reason(r, dir, level, &err);
    /* Big models: hold one copy of the weights unless -O0 is needed again. */
    if (m != m0 && !cfg->compare_levels && !cfg->bisect) {
        ond_model_free(m0);
        m0 = NULL;
    }
    struct ond_options o = cfg->opts;
    struct ond_value *calib = NULL;
    size_t n_calib = 0;
    if (!st && o.precision == OND_PRECISION_INT8 && cfg->calibrate &&
        cli_calibration("test", cfg->calibrate, m, &calib, &n_calib)) {
        st = ond_fail(&err, OND_STATUS_INVALID_ARGUMENT,
                      "cannot read the calibration inputs in '%s' for this model", cfg->calibrate);
        set_reason(r, dir, "", &err);
    }
    o.calibration = calib;
    o.n_calibration_sets = n_calib;
    if (!st && (st = ond_session_create(m, &o, &s, &err)))
        set_reason(r, dir, "", &err);
    ond_values_free(calib, n_calib * (m ? ond_model_input_count(m) : 0));
    if (!st && cfg->compare_levels && (st = ond_session_create(m0, &o0, &s0, &err)))
        set_reason(r, dir, "-O0: ", &err);
    int failed = -1;
    if (st)
        r->status = ERROR;
    else
        failed = run_sets(cfg, dir, m, s, s0, r);
    if (r->status == FAIL && !r->reason[0]) {
        for (int i = 0; i < r->n_out; i++)
            if (r->out[i].bad) {
                char buf[1024];
                describe(&r->out[i], "output", buf, sizeof buf);
                append(r->reason, sizeof r->reason, "; ", buf);
            }
        for (int i = 0; i < r->n_lvl; i++)
            if (r->lvl[i].bad) {
                char buf[1024], what[64];
                snprintf(what, sizeof what, "-O%d vs -O0 output", cfg->opts.opt_level);
                describe(&r->lvl[i], what, buf, sizeof buf);
                append(r->reason, sizeof r->reason, "; ", buf);
            }
    }
    if (r->status == FAIL && cfg->bisect && failed >= 0)
        bisect(cfg, m0, m, s, dir, failed, r);
    ond_session_free(s0);
    ond_session_free(s);
    if (m != m0)
        ond_model_free(m);
    ond_model_free(m0);
}

/* ---- the report ---- */

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        cli_json_str(f, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

static void json_words(FILE *f, const char *key, const char *words)
{
    fprintf(f, ", \"%s\": [", key);
    for (const char *p = words; *p;) {
        size_t len = strcspn(p, " ");
        char w[512];
        snprintf(w, sizeof w, "%.*s", (int)len, p);
        fprintf(f, "%s", p == words ? "" : ", ");
        cli_json_str(f, w);
        p += len + (p[len] ? 1 : 0);
    }
    fprintf(f, "]");
}

static void json_cmps(FILE *f, const char *key, const struct cmp *c, int n)
{
    fprintf(f, ", \"%s\": [", key);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        cli_json_str(f, c[i].name);
        fprintf(f, ", \"ok\": %s, \"problem\": ", c[i].bad ? "false" : "true");
        if (c[i].problem[0])
            cli_json_str(f, c[i].problem);
        else
            fprintf(f, "null");
        fprintf(f, ", \"max_abs\": ");
        json_num(f, c[i].max_abs);
        fprintf(f, ", \"max_rel\": ");
        json_num(f, c[i].max_rel);
        fprintf(f, ", \"worst\": ");
        if (c[i].has_worst && !c[i].problem[0]) {
            fprintf(f, "{\"set\": %d, \"index\": %zu, \"got\": ", c[i].worst_set,
                    c[i].worst_index);
            json_num(f, c[i].worst_got);
            fprintf(f, ", \"expected\": ");
            json_num(f, c[i].worst_want);
            fprintf(f, "}");
        } else {
            fprintf(f, "null");
        }
        fprintf(f, "}");
    }
    fprintf(f, "]");
}

static void json_case(FILE *f, const struct cfg *cfg, const char *dir, const struct report *r,
                      bool first)
{
    static const char *const lower[] = {"pass", "fail", "error", "skip"};
    fprintf(f, "%s\n    {\"name\": ", first ? "" : ",");
    cli_json_str(f, base_name(dir));
    fprintf(f, ", \"path\": ");
    cli_json_str(f, dir);
    fprintf(f, ", \"status\": \"%s\", \"reason\": ", lower[r->status]);
    cli_json_str(f, r->reason);
    json_words(f, "ops", r->ops);
    json_words(f, "skip_ops", r->skip_ops);
    fprintf(f, ", \"sets\": %d, \"seconds\": %.3f", r->n_sets, r->seconds);
    json_cmps(f, "outputs", r->out, r->n_out);
    if (cfg->compare_levels)
        json_cmps(f, "levels", r->lvl, r->n_lvl);
    if (r->bisect[0]) {
        fprintf(f, ", \"bisect\": {\"first_node\": ");
        if (r->bisect_node[0])
            cli_json_str(f, r->bisect_node);
        else
            fprintf(f, "null");
        fprintf(f, ", \"dir_first_node\": ");
        if (r->bisect_dir_node[0])
            cli_json_str(f, r->bisect_dir_node);
        else
            fprintf(f, "null");
        fprintf(f, ", \"text\": ");
        cli_json_str(f, r->bisect);
        fprintf(f, "}");
    }
    fprintf(f, "}");
}

static void json_head(FILE *f, const struct cfg *cfg)
{
    static const char *const prec[] = {"fp32", "bf16", "int8"};
    fprintf(f, "{\n  \"ondine\": ");
    cli_json_str(f, ond_version());
    fprintf(f, ",\n  \"options\": {\"rtol\": ");
    json_num(f, cfg->rtol);
    fprintf(f, ", \"atol\": ");
    json_num(f, cfg->atol);
    fprintf(f, ", \"opt_level\": %d, \"precision\": \"%s\", \"threads\": %d, "
            "\"compare_levels\": %s, \"filter\": ",
            cfg->opts.opt_level, prec[cfg->opts.precision], cfg->opts.threads,
            cfg->compare_levels ? "true" : "false");
    if (cfg->filter)
        cli_json_str(f, cfg->filter);
    else
        fprintf(f, "null");
    fprintf(f, "},\n  \"cases\": [");
}

/* ---- the verb ---- */

static bool parse_tol(const char *s, double *v)
{
    char *end;
    if (!s || !*s)
        return false;
    double x = strtod(s, &end);
    if (*end || !(x >= 0) || !isfinite(x))
        return false;
    *v = x;
    return true;
}

static int parse_args(int argc, char **argv, struct cfg *cfg, const char **disabled,
                      const char **paths, int *n_paths)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = cli_common_flag("test", argc, argv, &i, &cfg->opts, disabled);
        if (c < 0)
            return CLI_USAGE;
        if (c > 0)
            continue;
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            return -1;
        } else if (strcmp(a, "--rtol") == 0 || strcmp(a, "--atol") == 0) {
            if (!has_value || !parse_tol(argv[++i], a[2] == 'r' ? &cfg->rtol : &cfg->atol))
                return cli_usage("test", "%s takes a number >= 0", a);
        } else if (strcmp(a, "--filter") == 0 || strcmp(a, "--json") == 0 ||
                   strcmp(a, "--skip-list") == 0 || strcmp(a, "--precision") == 0 ||
                   strcmp(a, "--calibrate") == 0) {
            if (!has_value)
                return cli_usage("test", "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'c') {
                cfg->calibrate = v;
            } else if (a[2] == 'f') {
                cfg->filter = v;
            } else if (a[2] == 'j') {
                cfg->json_path = v;
            } else if (a[2] == 's') {
                if (!read_skip_list(cfg, v))
                    return CLI_FAIL;
            } else if (cli_precision(v, &cfg->opts.precision)) {
                return cli_usage("test", "--precision takes fp32, bf16 or int8, got '%s'", v);
            }
        } else if (strcmp(a, "--compare-levels") == 0) {
            cfg->compare_levels = true;
        } else if (strcmp(a, "--bisect") == 0 || strncmp(a, "--bisect=", 9) == 0) {
            cfg->bisect = true;
            if (a[8] == '=')
                cfg->bisect_dir = a + 9;
            else if (has_value && argv[i + 1][0] != '-' && holds_pb(argv[i + 1]))
                cfg->bisect_dir = argv[++i];
            if (cfg->bisect_dir && !is_dir(cfg->bisect_dir))
                return cli_usage("test", "--bisect: '%s' is not a folder", cfg->bisect_dir);
        } else if (a[0] == '-' && a[1]) {
            return cli_usage("test", "unknown option '%s'", a);
        } else {
            paths[(*n_paths)++] = a;
        }
    }
    return *n_paths ? CLI_OK : cli_usage("test", "no test folder given");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs the selected cases, printing a line each; counts[status]. */
static void run_all(const struct cfg *cfg, const struct cases *l, FILE *json, int *counts)
{
    size_t total = 0, done = 0, written = 0;
    for (size_t i = 0; i < l->n; i++)
        total += !cfg->filter || strstr(base_name(l->dirs[i]), cfg->filter);
    for (size_t i = 0; i < l->n; i++) {
        const char *dir = l->dirs[i], *name = base_name(dir);
        if (cfg->filter && !strstr(name, cfg->filter))
            continue;
        if (cfg->tty) {
            printf("\r[%zu/%zu] %s\033[K", ++done, total, name);
            fflush(stdout);
        }
        struct report *r = calloc(1, sizeof *r);
        if (!r) {
            fprintf(stderr, "ondine test: cannot allocate a report\n");
            counts[ERROR]++;
            continue;
        }
        double t0 = now();
        run_case(cfg, dir, r);
        r->seconds = now() - t0;
        counts[r->status]++;
        if (cfg->tty)
            printf("\r\033[K");
        printf("%s %s%s%s\n", status_name[r->status], name, r->reason[0] ? ": " : "", r->reason);
        for (const char *p = r->bisect; *p;) {
            size_t len = strcspn(p, "\n");
            printf("  bisect: %.*s\n", (int)len, p);
            p += len + (p[len] ? 1 : 0);
        }
        fflush(stdout);
        if (json)
            json_case(json, cfg, dir, r, written++ == 0);
        free(r);
    }
}

/* bf16 keeps 8 bits of mantissa (a relative rounding of 2^-9 per step), and errors carried
 * through a deep network reach outputs near zero as absolute errors of about 5e-3 of the
 * outputs' scale (ResNet logits of scale 10: 0.05). int8 rounds every activation to 1/255 or
 * 1/127 of its calibrated range: errors of about 1% of the outputs' scale. Looser defaults,
 * stated in the output. */
static void default_tolerance(struct cfg *cfg)
{
    enum ond_precision p = cfg->opts.precision;
    bool stated = cfg->rtol < 0 || cfg->atol < 0;
    static const double rtol[] = {1e-3, 2e-2, 5e-2}, atol[] = {1e-5, 5e-2, 1e-1};
    static const char *const name[] = {"fp32", "bf16", "int8"};
    if (cfg->rtol < 0)
        cfg->rtol = rtol[p];
    if (cfg->atol < 0)
        cfg->atol = atol[p];
    if (p != OND_PRECISION_FP32 && stated)
        printf("%s: tolerance rtol %g, atol %g (%s defaults; --rtol, --atol to change)\n",
               name[p], cfg->rtol, cfg->atol, name[p]);
    if (p == OND_PRECISION_INT8 && !cfg->calibrate)
        fprintf(stderr, "ondine test: warning: int8 calibrated on seeded random inputs; "
                "accuracy needs real data (--calibrate DIR)\n");
}

int cli_test(int argc, char **argv)
{
    /* Negative: not given, the precision's default applies. */
    struct cfg cfg = {.rtol = -1, .atol = -1, .tty = isatty(STDOUT_FILENO)};
    ond_options_init(&cfg.opts);
    const char **disabled = calloc((size_t)argc + 1, sizeof *disabled);
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    struct cases l = {0};
    int n_paths = 0, counts[4] = {0, 0, 0, 0};
    int rc = disabled && paths ? parse_args(argc, argv, &cfg, disabled, paths, &n_paths)
                               : CLI_FAIL;
    if (rc == CLI_OK)
        default_tolerance(&cfg);
    for (int i = 0; rc == CLI_OK && i < n_paths; i++) {
        size_t before = l.n;
        if (!collect(paths[i], MAX_DEPTH, &l)) {
            fprintf(stderr, "ondine test: cannot allocate the case list\n");
            rc = CLI_FAIL;
        } else if (l.n == before) {
            fprintf(stderr, "ondine test: no test folders (model.onnx) under '%s'\n", paths[i]);
            rc = CLI_FAIL;
        }
    }
    FILE *json = NULL;
    if (rc == CLI_OK && cfg.json_path && !(json = fopen(cfg.json_path, "w"))) {
        fprintf(stderr, "ondine test: cannot write '%s'\n", cfg.json_path);
        rc = CLI_FAIL;
    }
    if (rc == CLI_OK) {
        if (json)
            json_head(json, &cfg);
        run_all(&cfg, &l, json, counts);
        printf("%d passed, %d failed", counts[PASS], counts[FAIL] + counts[ERROR]);
        if (counts[SKIP])
            printf(", %d skipped", counts[SKIP]);
        printf("\n");
        rc = counts[FAIL] + counts[ERROR] ? CLI_FAIL : CLI_OK;
    }
    if (json) {
        int total = counts[PASS] + counts[FAIL] + counts[ERROR] + counts[SKIP];
        fprintf(json, "\n  ],\n  \"totals\": {\"passed\": %d, \"failed\": %d, \"errors\": %d, "
                "\"skipped\": %d, \"total\": %d}\n}\n", counts[PASS], counts[FAIL],
                counts[ERROR], counts[SKIP], total);
        if (fclose(json) != 0) {
            fprintf(stderr, "ondine test: cannot write '%s'\n", cfg.json_path);
            rc = CLI_FAIL;
        }
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.dirs[i]);
    free(l.dirs);
    for (size_t i = 0; i < cfg.n_skips; i++) {
        free(cfg.skips[i].name);
        free(cfg.skips[i].reason);
    }
    free(cfg.skips);
    free(disabled);
    free(paths);
    return rc < 0 ? CLI_OK : rc;
}
