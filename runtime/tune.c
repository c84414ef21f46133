/* tune.c: per-layer tuning of convolutions and its cache file (runtime/tune.h).
 *
 * Timing. A candidate is one implementation of the primitive-descriptor iterator for one
 * activation layout and algorithm: its primitive runs on memory filled with 0.0115 (sums of
 * products of it are never denormal, so the threads' floating-point modes are left alone), in
 * rounds that run every candidate of the layer once (a
 * warm-up round, then 5), so that other work on the cores hits all alike; each candidate's
 * fastest run counts. Reorders of the convolution's input between every pair of layouts
 * (and from plain nchw) are timed the same way.
 *
 * Choosing. The convolutions in graph order form the chain; a layout per convolution is
 * chosen by a dynamic program: cost of convolution i in layout L (its fastest candidate in
 * L) plus, where L differs from convolution i-1's, twice the reorder of convolution i's input
 * (the shortcut of a residual block changes layout too) and 5% of the layer's time (a gain
 * within a shared machine's noise buys no reorder); the first one pays the reorder from
 * nchw. In a layout, the first candidate in oneDNN's order within 5% of the fastest runs.
 * Ties go to the lower layout number, so the choice is a function of the cache.
 *
 * The cache file (text, one entry a line, tab-separated):
 *     ondine-tune-cache 1
 *     C <context>|<layer key>  <layout> <alg> <impl> <ms>  ...   timed candidates
 *     R <context>|<dims, type> <from> <to> <ms>  ...            timed reorders
 *     P <context>|<layer key>  <layout> <alg> <impl>            last choice (first planning)
 * context: CPU brand string, oneDNN version, threads, precision. Entries of other contexts
 * are kept and written back. Limits: 16 MiB, 65536 entries, 4096 bytes a line, 32
 * candidates an entry; times finite and positive, names from fixed sets, implementation
 * names of [A-Za-z0-9_:.-]. */
#include <cpuid.h>
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/tune.h"

#define MAX_FILE (16u << 20)
#define MAX_ENTRIES 65536
#define MAX_LINE 4096
#define MAX_CANDS 32
#define MAX_CHAIN 4096
#define REPS 5

static const char *const layout_names[] = {"nhwc", "nChw16c", "nChw8c", "nchw"};
static const dnnl_format_tag_t layout_tags[] = {dnnl_acdb, dnnl_aBcd16b, dnnl_aBcd8b,
                                                dnnl_abcd};
#define NCHW 3

struct cand {
    int layout, alg;       /* alg: 0 direct, 1 winograd; R entries: alg is the target layout */
    char impl[48];
    double ms;
};

struct entry {
    char kind;             /* 'C', 'R', 'P' */
    char *key;             /* context|key */
    int n;
    struct cand c[MAX_CANDS];
};

struct link {
    const struct ond_node *node;
    char *key, *rkey;      /* C and R keys */
    struct ond_tune_choice used, chosen;
    bool have_used;
};

struct ond_tune {
    bool tune;             /* time what the cache lacks */
    char *path;            /* NULL: in memory only */
    char context[256];
    struct entry *e;
    int n, cap;
    bool dirty;
    struct link *chain, *prev; /* this planning's chain; the last one's when planning again */
    int n_chain, n_prev;
    bool again;            /* planning again: use the chain's choices */
    double ms;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static enum ond_status bad(struct ond_error *err, const char *path, int line, const char *why)
{
    return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "tuning cache '%s' line %d: %s", path,
                    line, why);
}

static struct entry *find(struct ond_tune *t, char kind, const char *key)
{
    for (int i = 0; i < t->n; i++)
        if (t->e[i].kind == kind && strcmp(t->e[i].key, key) == 0)
            return &t->e[i];
    return NULL;
}

/* The entry kind/key, created empty when absent (NULL: out of memory or too many). */
static struct entry *get(struct ond_tune *t, char kind, const char *key)
{
    struct entry *e = find(t, kind, key);
    if (e)
        return e;
    if (t->n == MAX_ENTRIES)
        return NULL;
    if (t->n == t->cap) {
        int nc = t->cap ? t->cap * 2 : 64;
        struct entry *ne = realloc(t->e, sizeof *ne * (size_t)nc);
        if (!ne)
            return NULL;
        t->e = ne;
        t->cap = nc;
    }
    e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    if (!(e->key = strdup(key)))
        return NULL;
    e->kind = kind;
    t->n++;
    return e;
}

static int name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static bool impl_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n >= sizeof((struct cand *)0)->impl)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || strchr("_:.-", s[i])))
            return false;
    return true;
}

static const char *const alg_names[] = {"direct", "winograd"};

/* One tab-separated candidate field of an entry of kind. */
static const char *parse_cand(char kind, char *f, struct cand *c)
{
    char *w[4], *save = NULL;
    int nw = 0;
    for (char *tok = strtok_r(f, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        if (nw < 4)
            w[nw++] = tok;
        else
            return "too many words in a candidate";
    int want = kind == 'C' ? 4 : 3;
    if (nw != want)
        return "a candidate has the wrong number of words";
    memset(c, 0, sizeof *c);
    if ((c->layout = name_index(w[0], layout_names, kind == 'R' ? 4 : 3)) < 0)
        return "unknown layout";
    if (kind == 'R') {
        if ((c->alg = name_index(w[1], layout_names, 3)) < 0)
            return "unknown layout";
    } else {
        if ((c->alg = name_index(w[1], alg_names, 2)) < 0)
            return "unknown algorithm (direct, winograd)";
        if (!impl_ok(w[2]))
            return "bad implementation name";
        strcpy(c->impl, w[2]);
    }
    if (kind != 'P') {
        char *end;
        errno = 0;
        c->ms = strtod(w[want - 1], &end);
        if (*end || errno || !isfinite(c->ms) || c->ms <= 0 || c->ms > 1e6)
            return "a time is not a positive number of milliseconds";
    }
    return NULL;
}

static enum ond_status load(struct ond_tune *t, const char *path, struct ond_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return OND_OK; /* written after tuning */
        return ond_fail(err, OND_STATUS_IO, "cannot read tuning cache '%s': %s", path,
                        strerror(errno));
    }
    enum ond_status st = OND_OK;
    struct stat sb;
    char *line = NULL;
    size_t cap = 0;
    int ln = 0;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size > (off_t)MAX_FILE)
        st = bad(err, path, 0, "the file is over 16 MiB (or cannot be measured)");
    for (ssize_t got; !st && (got = getline(&line, &cap, f)) > 0;) {
        size_t len = (size_t)got;
        ln++;
        if (len > MAX_LINE) {
            st = bad(err, path, ln, "line longer than 4096 bytes");
            break;
        }
        if (memchr(line, 0, len)) {
            st = bad(err, path, ln, "NUL byte");
            break;
        }
        if (len && line[len - 1] == '\n')
            line[--len] = 0;
        if (ln == 1) {
            if (strcmp(line, "ondine-tune-cache 1") != 0)
                st = bad(err, path, ln, "not an ondine tuning cache (want 'ondine-tune-cache 1')");
            continue;
        }
        char *save = NULL, *kind = strtok_r(line, "\t", &save), *key = strtok_r(NULL, "\t", &save);
        if (!kind || !key || strlen(kind) != 1 || !strchr("CRP", kind[0])) {
            st = bad(err, path, ln, "want a kind (C, R or P), a key and candidates");
            break;
        }
        if (find(t, kind[0], key)) {
            st = bad(err, path, ln, "the key is given twice");
            break;
        }
        struct entry *e = get(t, kind[0], key);
        if (!e) {
            st = bad(err, path, ln, "over 65536 entries or out of memory");
            break;
        }
        for (char *fld = strtok_r(NULL, "\t", &save); fld && !st;
             fld = strtok_r(NULL, "\t", &save)) {
            const char *why = e->n == MAX_CANDS ? "over 32 candidates"
                              : kind[0] == 'P' && e->n ? "a choice has one candidate"
                                                       : parse_cand(kind[0], fld, &e->c[e->n]);
            if (why)
                st = bad(err, path, ln, why);
            e->n++;
        }
        if (!st && !e->n)
            st = bad(err, path, ln, "no candidates");
    }
    if (!st && ferror(f))
        st = ond_fail(err, OND_STATUS_IO, "cannot read tuning cache '%s'", path);
    if (!st && ln == 0)
        st = bad(err, path, 1, "empty file");
    free(line);
    fclose(f);
    return st;
}

static enum ond_status save(struct ond_tune *t, struct ond_error *err)
{
    if (!t->path || !t->dirty)
        return OND_OK;
    size_t n = strlen(t->path) + 8;
    char *tmp = malloc(n);
    if (!tmp)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
    snprintf(tmp, n, "%s.tmp", t->path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        enum ond_status st = ond_fail(err, OND_STATUS_IO, "cannot write tuning cache '%s': %s",
                                      tmp, strerror(errno));
        free(tmp);
        return st;
    }
    fprintf(f, "ondine-tune-cache 1\n");
    for (int i = 0; i < t->n; i++) {
        const struct entry *e = &t->e[i];
        if (e->kind == 'X')
            continue;
        fprintf(f, "%c\t%s", e->kind, e->key);
        for (int k = 0; k < e->n; k++) {
            const struct cand *c = &e->c[k];
            if (e->kind == 'R')
                fprintf(f, "\t%s %s %.4f", layout_names[c->layout], layout_names[c->alg], c->ms);
            else if (e->kind == 'C')
                fprintf(f, "\t%s %s %s %.4f", layout_names[c->layout], alg_names[c->alg],
                        c->impl, c->ms);
            else
                fprintf(f, "\t%s %s %s", layout_names[c->layout], alg_names[c->alg], c->impl);
        }
        fprintf(f, "\n");
    }
    bool ok = fclose(f) == 0 && rename(tmp, t->path) == 0;
    enum ond_status st = ok ? OND_OK
                            : ond_fail(err, OND_STATUS_IO, "cannot write tuning cache '%s': %s",
                                       t->path, strerror(errno));
    if (!ok)
        remove(tmp);
    free(tmp);
    t->dirty = !ok;
    return st;
}

/* CPU brand string, oneDNN version, threads, precision: '|' and tabs replaced. */
static void make_context(char *out, size_t size, int threads, enum ond_precision prec)
{
    unsigned r[12] = {0};
    char brand[49] = "unknown CPU";
    if (__get_cpuid(0x80000004, &r[0], &r[1], &r[2], &r[3])) {
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
        memcpy(brand, r, 48);
        brand[48] = 0;
    }
    char *b = brand;
    while (*b == ' ')
        b++;
    for (char *c = b; *c; c++)
        if (*c == '|' || *c == '\t' || *c == '\n' || (unsigned char)*c < 32)
            *c = ' ';
    const dnnl_version_t *v = dnnl_version();
    static const char *const precs[] = {"fp32", "bf16", "int8"};
    snprintf(out, size, "%s|oneDNN %d.%d.%d %s|%d threads|%s", b, v->major, v->minor, v->patch,
             v->hash, threads, precs[prec]);
}

enum ond_status ond_tune_open(const struct ond_options *opts, int threads, struct ond_tune **out,
                              struct ond_error *err)
{
    *out = NULL;
    const char *path = opts->tune_cache ? opts->tune_cache : getenv("ONDINE_TUNE_CACHE");
    if (path && !*path)
        path = NULL;
    if (!opts->tune && !path)
        return OND_OK;
    struct ond_tune *t = calloc(1, sizeof *t);
    if (!t || (path && !(t->path = strdup(path)))) {
        free(t);
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
    }
    t->tune = opts->tune != 0;
    make_context(t->context, sizeof t->context, threads, opts->precision);
    enum ond_status st = path ? load(t, path, err) : OND_OK;
    if (st) {
        ond_tune_free(t);
        return st;
    }
    *out = t;
    return OND_OK;
}

static void free_chain(struct link *c, int n)
{
    for (int i = 0; i < n; i++) {
        free(c[i].key);
        free(c[i].rkey);
    }
    free(c);
}

void ond_tune_free(struct ond_tune *t)
{
    if (!t)
        return;
    free_chain(t->chain, t->n_chain);
    free_chain(t->prev, t->n_prev);
    for (int i = 0; i < t->n; i++)
        free(t->e[i].key);
    free(t->e);
    free(t->path);
    free(t);
}

double ond_tune_ms(const struct ond_tune *t)
{
    return t ? t->ms : 0;
}

enum ond_status ond_tune_md(const struct ond_info *info, dnnl_data_type_t dt, int layout,
                            dnnl_memory_desc_t *md, struct ond_error *err)
{
    dnnl_dims_t d;
    for (int i = 0; i < 4; i++)
        d[i] = info->dims[i];
    return ond_dnnl(dnnl_memory_desc_init_by_tag(md, 4, d, dt, layout_tags[layout]),
                    "memory_desc_init_by_tag", NULL, err);
}

/* One candidate being timed: its primitive and arguments on fresh memory filled with 0.0115
 * in f32 or bf16 (the byte 0x3c repeated: no denormals). */
struct run {
    dnnl_primitive_t prim;
    int n;
    dnnl_exec_arg_t args[5];
    void *buf[5];
    struct cand cand;
    double best;           /* fastest run, ms; < 0: failed or dropped */
};

static void free_run(struct run *r)
{
    for (int i = 0; i < r->n; i++) {
        dnnl_memory_destroy(r->args[i].memory);
        free(r->buf[i]);
    }
    dnnl_primitive_destroy(r->prim);
    memset(r, 0, sizeof *r);
}

/* Takes prim over (destroyed on failure); false when memory cannot be made. */
static bool make_run(struct ond_prep *p, dnnl_primitive_t prim, int n, const int *ids,
                     const dnnl_memory_desc_t *const *mds, struct run *r)
{
    memset(r, 0, sizeof *r);
    r->prim = prim;
    for (; r->n < n; r->n++) {
        size_t size = dnnl_memory_desc_get_size(mds[r->n]);
        if (!(r->buf[r->n] = ond_aligned_alloc(size ? size : 64)))
            break;
        memset(r->buf[r->n], 0x3c, size);
        r->args[r->n].arg = ids[r->n];
        if (dnnl_memory_create(&r->args[r->n].memory, mds[r->n], p->engine, r->buf[r->n]) !=
            dnnl_success) {
            free(r->buf[r->n]);
            break;
        }
    }
    if (r->n == n)
        return true;
    free_run(r);
    return false;
}

static double exec_ms(struct ond_prep *p, struct run *r)
{
    double t0 = now_ms();
    if (dnnl_primitive_execute(r->prim, p->stream, r->n, r->args) != dnnl_success ||
        dnnl_stream_wait(p->stream) != dnnl_success)
        return -1;
    double dt = now_ms() - t0;
    return dt > 1e-4 ? dt : 1e-4;
}

/* Times the runs in rounds (each round runs every candidate once, so a burst of other work
 * on the cores hits them alike): a warm-up round, in which candidates over 4x the fastest
 * are dropped with that one time (reference-like kernels take seconds), then REPS rounds;
 * each candidate's fastest run counts. */
static void time_runs(struct ond_prep *p, struct run *r, int n)
{
    double fastest = -1;
    for (int i = 0; i < n; i++) {
        r[i].best = exec_ms(p, &r[i]);
        if (r[i].best > 0 && (fastest < 0 || r[i].best < fastest))
            fastest = r[i].best;
    }
    bool keep[MAX_CANDS];
    for (int i = 0; i < n; i++)
        keep[i] = r[i].best > 0 && r[i].best <= 4 * fastest;
    for (int k = 0; k < REPS; k++)
        for (int i = 0; i < n; i++) {
            double dt = keep[i] ? exec_ms(p, &r[i]) : 0;
            if (keep[i] && (k == 0 || (dt > 0 && dt < r[i].best)))
                r[i].best = dt;
            keep[i] = keep[i] && dt > 0;
        }
}

/* Adds a run for every implementation of the convolution in (layout, alg) to r[*n]. */
static enum ond_status conv_runs(struct ond_prep *p, const struct ond_tune_conv *c, int layout,
                                 int alg, struct run *r, int *n, struct ond_error *err)
{
    dnnl_memory_desc_t src, dst;
    dnnl_convolution_desc_t desc;
    enum ond_status st;
    if ((st = ond_tune_md(c->x, c->dt, layout, &src, err)) ||
        (st = ond_tune_md(c->y, c->dt, layout, &dst, err)) ||
        (st = c->desc(p, c->ctx, &src, &dst, alg ? dnnl_convolution_winograd
                                                 : dnnl_convolution_direct, &desc, NULL)))
        return st == OND_STATUS_BACKEND ? OND_OK : st; /* no such descriptor: no candidate */
    dnnl_primitive_attr_t attr;
    dnnl_primitive_desc_iterator_t it = NULL;
    if ((st = ond_prep_attr(p, &attr, err))) {
        dnnl_primitive_attr_destroy(attr);
        return st;
    }
    dnnl_status_t s = dnnl_primitive_desc_iterator_create(&it, &desc, attr, p->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    for (; s == dnnl_success && *n < MAX_CANDS; s = dnnl_primitive_desc_iterator_next(it)) {
        dnnl_primitive_desc_t pd = dnnl_primitive_desc_iterator_fetch(it);
        dnnl_primitive_t prim = NULL;
        const char *impl = NULL;
        if (!pd)
            continue;
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
        const dnnl_memory_desc_t *mds[5] = {
            dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
            dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
            dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
            dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0),
            dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1)};
        int ids[5] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD,
                      DNNL_ARG_BIAS};
        size_t scratch = mds[3] ? dnnl_memory_desc_get_size(mds[3]) : 0;
        bool dup = false;
        for (int k = 0; k < *n && impl; k++)
            dup |= r[k].cand.layout == layout && r[k].cand.alg == alg &&
                   !strcmp(r[k].cand.impl, impl);
        /* Reference implementations are there for correctness: seconds per large layer. */
        bool ref = ond_pd_is_reference(pd);
        if (impl && impl_ok(impl) && !dup && !ref && (!alg || scratch <= c->wino_scratch) &&
            dnnl_primitive_create(&prim, pd) == dnnl_success &&
            make_run(p, prim, mds[4] && mds[4]->ndims ? 5 : 4, ids, mds, &r[*n])) {
            r[*n].cand = (struct cand){.layout = layout, .alg = alg};
            strcpy(r[*n].cand.impl, impl);
            (*n)++;
        }
        dnnl_primitive_desc_destroy(pd);
    }
    if (it)
        dnnl_primitive_desc_iterator_destroy(it);
    return OND_OK;
}

/* Times the reorders of x between the layouts (and from nchw) into e. */
static void time_reorders(struct ond_prep *p, const struct ond_tune_conv *c, struct entry *e)
{
    struct run r[4 * OND_TUNE_LAYOUTS];
    int n = 0;
    for (int from = 0; from < 4; from++)
        for (int to = 0; to < OND_TUNE_LAYOUTS; to++) {
            dnnl_memory_desc_t a, b;
            dnnl_primitive_desc_t pd = NULL;
            dnnl_primitive_t prim = NULL;
            if (from == to || ond_tune_md(c->x, c->dt, from, &a, NULL) ||
                ond_tune_md(c->x, c->dt, to, &b, NULL) ||
                dnnl_reorder_primitive_desc_create(&pd, &a, p->engine, &b, p->engine, NULL) !=
                    dnnl_success)
                continue;
            const dnnl_memory_desc_t *mds[2] = {&a, &b};
            int ids[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
            if (dnnl_primitive_create(&prim, pd) == dnnl_success &&
                make_run(p, prim, 2, ids, mds, &r[n]))
                r[n++].cand = (struct cand){.layout = from, .alg = to};
            dnnl_primitive_desc_destroy(pd);
        }
    time_runs(p, r, n);
    for (int i = 0; i < n; i++) {
        if (r[i].best > 0 && e->n < MAX_CANDS) {
            e->c[e->n] = r[i].cand;
            e->c[e->n++].ms = r[i].best;
        }
        free_run(&r[i]);
    }
}

static void to_choice(const struct cand *c, struct ond_tune_choice *ch)
{
    ch->layout = c->layout;
    ch->alg = c->alg ? dnnl_convolution_winograd : dnnl_convolution_direct;
    snprintf(ch->impl, sizeof ch->impl, "%s", c->impl);
}

static bool same_choice(const struct ond_tune_choice *a, const struct ond_tune_choice *b)
{
    return a->layout == b->layout && a->alg == b->alg && strcmp(a->impl, b->impl) == 0;
}

enum ond_status ond_tune_conv(struct ond_prep *p, const struct ond_tune_conv *c,
                              struct ond_tune_choice *choice, bool *have, struct ond_error *err)
{
    struct ond_tune *t = p->tune;
    *have = false;
    if (!t || c->x->rank != 4 || t->n_chain == MAX_CHAIN)
        return OND_OK;
    char key[1024], rkey[512];
    snprintf(key, sizeof key, "%s|%s", t->context, c->key);
    snprintf(rkey, sizeof rkey, "%s|%lldx%lldx%lldx%lld %s", t->context,
             (long long)c->x->dims[0], (long long)c->x->dims[1], (long long)c->x->dims[2],
             (long long)c->x->dims[3], c->dt == dnnl_bf16 ? "bf16" : "f32");
    enum ond_status st = OND_OK;
    if (t->tune && !find(t, 'C', key)) {
        double t0 = now_ms();
        struct entry *e = get(t, 'C', key), *r = find(t, 'R', rkey) ? NULL : get(t, 'R', rkey);
        e = e && r ? find(t, 'C', key) : e; /* the second get may have moved the entries */
        if (!e)
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the tuning cache");
        struct run *runs = calloc(MAX_CANDS, sizeof *runs);
        int n = 0;
        if (!st && !runs)
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
        for (int l = 0; l < OND_TUNE_LAYOUTS && !st; l++)
            for (int alg = 0; alg < 2 && !st; alg++)
                if (!alg || (c->wino && l == OND_TUNE_NCHW16C))
                    st = conv_runs(p, c, l, alg, runs, &n, err);
        if (!st)
            time_runs(p, runs, n);
        for (int i = 0; i < n; i++) {
            if (!st && runs[i].best > 0) {
                e->c[e->n] = runs[i].cand;
                e->c[e->n++].ms = runs[i].best;
            }
            free_run(&runs[i]);
        }
        free(runs);
        if (r)
            time_reorders(p, c, r);
        t->ms += now_ms() - t0;
        t->dirty = true;
        if (!st && !e->n) /* nothing to choose from: not an entry */
            e->kind = 'X';
        if (st)
            return st;
    }
    if (t->n_chain % 64 == 0) {
        struct link *nc = realloc(t->chain, sizeof *nc * (size_t)(t->n_chain + 64));
        if (!nc)
            return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the tuning chain");
        t->chain = nc;
    }
    struct link *l = &t->chain[t->n_chain];
    memset(l, 0, sizeof *l);
    if (!(l->key = strdup(key)) || !(l->rkey = strdup(rkey))) {
        free(l->key);
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
    }
    l->node = p->node;
    t->n_chain++;
    /* Planning again: the choice made for this node; else the last choice for its key. */
    const struct entry *pick = find(t, 'P', key);
    if (t->again) {
        /* The graph is planned in the same order: the same position is the same node. */
        const struct link *prev = t->n_chain - 1 < t->n_prev ? &t->prev[t->n_chain - 1] : NULL;
        if (prev && prev->node == p->node && prev->chosen.impl[0]) {
            *choice = prev->chosen;
            *have = true;
        }
    } else if (pick) {
        to_choice(&pick->c[0], choice);
        *have = true;
    }
    if (*have) {
        l->used = *choice;
        l->have_used = true;
    }
    return OND_OK;
}

void ond_tune_begin(struct ond_tune *t, bool again)
{
    if (!t)
        return;
    free_chain(t->prev, t->n_prev);
    t->prev = again ? t->chain : NULL;
    t->n_prev = again ? t->n_chain : 0;
    if (!again)
        free_chain(t->chain, t->n_chain);
    t->chain = NULL;
    t->n_chain = 0;
    t->again = again;
}

/* The candidate of e in layout l to run (NULL: none): the first one, in oneDNN's order of
 * preference, within TIE of the fastest. Timings on a shared machine differ by a few per cent
 * from run to run; below that, oneDNN's own order is the better guide. */
#define TIE 0.05
static const struct cand *best_in(const struct entry *e, int l)
{
    const struct cand *b = NULL;
    for (int k = 0; e && k < e->n; k++)
        if (e->c[k].layout == l && (!b || e->c[k].ms < b->ms))
            b = &e->c[k];
    for (int k = 0; b && k < e->n; k++)
        if (e->c[k].layout == l && e->c[k].ms <= b->ms * (1 + TIE))
            return &e->c[k];
    return b;
}

/* The reorder of e from layout `from` to `to`, doubled: a change of layout in a residual
 * network reorders the shortcut too, and a reorder in the plan reads memory the timing had in
 * cache. A change with no time known costs a millisecond (keep the layout). */
static double reorder_ms(const struct entry *r, int from, int to)
{
    if (from == to)
        return 0;
    for (int k = 0; r && k < r->n; k++)
        if (r->c[k].layout == from && r->c[k].alg == to)
            return 2 * r->c[k].ms;
    return 1;
}

enum ond_status ond_tune_end(struct ond_tune *t, bool *replan, struct ond_error *err)
{
    if (replan)
        *replan = false;
    if (!t)
        return OND_OK;
    int n = t->n_chain, L = OND_TUNE_LAYOUTS;
    double *cost = calloc((size_t)n * L + 1, sizeof *cost);
    int *from = calloc((size_t)n * L + 1, sizeof *from);
    if (!cost || !from) {
        free(cost);
        free(from);
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
    }
    /* Viterbi over the convolutions that have timed candidates (the others run their
     * defaults and do not constrain the chain). */
    int last = -1;
    for (int i = 0; i < n; i++) {
        const struct entry *e = find(t, 'C', t->chain[i].key), *r = find(t, 'R', t->chain[i].rkey);
        if (!e)
            continue;
        for (int l = 0; l < L; l++) {
            const struct cand *b = best_in(e, l);
            double c = INFINITY;
            from[i * L + l] = -1;
            if (b && last < 0)
                c = b->ms + reorder_ms(r, NCHW, l);
            /* Changing layout also pays TIE of the layer's time: a gain within the noise
             * does not buy a reorder. */
            for (int k = 0; b && last >= 0 && k < L; k++) {
                double v = cost[last * L + k] + reorder_ms(r, k, l) + b->ms +
                           (k != l ? TIE * b->ms : 0);
                if (v < c) {
                    c = v;
                    from[i * L + l] = k;
                }
            }
            cost[i * L + l] = c;
        }
        last = i;
    }
    int l = -1;
    for (int k = 0; last >= 0 && k < L; k++)
        if (isfinite(cost[last * L + k]) && (l < 0 || cost[last * L + k] < cost[last * L + l]))
            l = k;
    bool changed = false;
    for (int i = last; i >= 0 && l >= 0; i--) {
        struct link *lk = &t->chain[i];
        const struct entry *e = find(t, 'C', lk->key);
        if (!e)
            continue;
        to_choice(best_in(e, l), &lk->chosen);
        changed |= !lk->have_used || !same_choice(&lk->used, &lk->chosen);
        l = from[i * L + l];
    }
    free(cost);
    free(from);
    /* The choice a first planning takes for a key: the first node's with it. */
    for (int i = 0; i < n; i++) {
        const struct link *lk = &t->chain[i];
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(t->chain[j].key, lk->key) == 0;
        const struct entry *e = find(t, 'C', lk->key);
        struct entry *pick = seen || !e || !lk->chosen.impl[0] ? NULL : get(t, 'P', lk->key);
        e = pick ? find(t, 'C', lk->key) : e; /* get may have moved the entries */
        struct ond_tune_choice had = {0};
        if (pick && pick->n == 1)
            to_choice(&pick->c[0], &had);
        if (pick && (pick->n != 1 || !same_choice(&had, &lk->chosen))) {
            pick->n = 1;
            pick->c[0] = *best_in(e, lk->chosen.layout);
            t->dirty = true;
        }
    }
    if (replan)
        *replan = changed;
    return save(t, err);
}

enum ond_status ond_tune_pd(struct ond_prep *p, const_dnnl_op_desc_t op_desc, const char *impl,
                            dnnl_primitive_desc_t *pd, struct ond_error *err)
{
    dnnl_primitive_attr_t attr;
    dnnl_primitive_desc_iterator_t it = NULL;
    enum ond_status st = ond_prep_attr(p, &attr, err);
    *pd = NULL;
    if (!st) {
        dnnl_status_t s = dnnl_primitive_desc_iterator_create(&it, op_desc, attr, p->engine, NULL);
        if (s != dnnl_unimplemented)
            st = ond_dnnl(s, "primitive_desc_iterator_create", p->node, err);
    }
    dnnl_primitive_attr_destroy(attr);
    for (dnnl_status_t s = dnnl_success; !st && it && s == dnnl_success && !*pd;
         s = dnnl_primitive_desc_iterator_next(it)) {
        dnnl_primitive_desc_t c = dnnl_primitive_desc_iterator_fetch(it);
        const char *name = NULL;
        if (c)
            dnnl_primitive_desc_query(c, dnnl_query_impl_info_str, 0, &name);
        if (c && name && strcmp(name, impl) == 0)
            *pd = c;
        else if (c)
            dnnl_primitive_desc_destroy(c);
    }
    if (it)
        dnnl_primitive_desc_iterator_destroy(it);
    if (!st && !*pd)
        return ond_prep_decline(p, "tuned implementation %s not offered", impl);
    return st;
}
