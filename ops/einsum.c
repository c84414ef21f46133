/* einsum.c: ONNX Einsum, opset 12. Attribute equation (required): comma-separated input
 * terms of letters with at most one "..." each, then optionally "->" and the output term;
 * without it the output is "..." followed by the letters used once, in ASCII order
 * (numpy's implicit mode). Transposes, traces and diagonals (a letter twice in a term),
 * sums, inner, outer and batched matrix products of up to 8 operands of one dtype (float,
 * double, int32, int64) with at most 24 distinct indices. A letter's dims must agree; "..."
 * dims broadcast. An explicit output that drops "..." dims (numpy sums them, ONNX leaves it
 * open) is refused naming the equation.
 * eval: a direct sum over every index, accumulated in double (int64 beyond 2^53 loses its
 * low bits), refused past 2^36 products. Sessions: two float operands of matrix-product form
 * ("bij,bjk->bik", "bij,bkj->bik", "nhwc,cd->nhwd"...: see matmul_views) run as one oneDNN
 * matmul over strided views of the plain buffers; other equations run the eval. */
#include <string.h>

#include "ops/op.h"
#include "runtime/exec.h"

#define EIN_MAX_IN 8
#define EIN_ELL (-1)                   /* the "..." symbol in a term */
#define EIN_LETTERS 52
/* Products the direct kernel takes (minutes of work); more is a LIMIT error, not a hang. */
#define EIN_MAX_STEPS (1ull << 36)

struct term {
    int n;                              /* symbols, "..." counting as one */
    int sym[OND_MAX_RANK + 1];          /* letter index 0..51, or EIN_ELL */
    bool ell;
};

struct einsum {
    const char *eq;
    int n_in;
    struct term in[EIN_MAX_IN], out;
};

static int letter(char c)
{
    return c >= 'a' && c <= 'z' ? c - 'a' : c >= 'A' && c <= 'Z' ? 26 + c - 'A' : -1;
}

/* Reads one term from s (up to a ',', '-' or the end) into t; *s moves past it. */
static enum ond_status read_term(const struct ond_node *n, const char *eq, const char **s,
                                 struct term *t, struct ond_error *err)
{
    t->n = 0;
    t->ell = false;
    for (const char *c = *s;; c++) {
        if (*c == ' ')
            continue;
        if (*c == ',' || *c == '-' || !*c) {
            *s = c;
            return OND_OK;
        }
        int sym = letter(*c);
        if (*c == '.') {
            if (strncmp(c, "...", 3) || t->ell)
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "equation '%s': a term has a stray '.' or two '...'", eq);
            t->ell = true;
            sym = EIN_ELL;
            c += 2;
        } else if (sym < 0)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "equation '%s': '%c' is not a letter", eq, *c);
        if (t->n > OND_MAX_RANK)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "equation '%s': a term has more than %d indices", eq,
                                 OND_MAX_RANK);
        t->sym[t->n++] = sym;
    }
}

static enum ond_status parse(struct ond_node *n, void *params, struct ond_error *err)
{
    struct einsum *p = params;
    enum ond_status st;
    if (!ond_node_attr(n, "equation"))
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "attribute 'equation' is required");
    if ((st = ond_attr_string(n, "equation", "", &p->eq, err)))
        return st;
    const char *s = p->eq;
    int uses[EIN_LETTERS] = {0};
    bool any_ell = false;
    for (p->n_in = 0;; s++) {
        if (p->n_in == n->n_in)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "equation '%s' has more terms than the node's %d inputs", p->eq,
                                 n->n_in);
        struct term *t = &p->in[p->n_in++];
        if ((st = read_term(n, p->eq, &s, t, err)))
            return st;
        for (int i = 0; i < t->n; i++)
            if (t->sym[i] != EIN_ELL)
                uses[t->sym[i]]++;
        any_ell = any_ell || t->ell;
        if (*s != ',')
            break;
    }
    if (p->n_in != n->n_in)
        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                             "equation '%s' has %d input terms, the node %d inputs", p->eq,
                             p->n_in, n->n_in);
    if (*s == '-') {
        if (s[1] != '>')
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "equation '%s': '-' without '>'", p->eq);
        s += 2;
        if ((st = read_term(n, p->eq, &s, &p->out, err)))
            return st;
        if (*s)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "equation '%s': text after the output term", p->eq);
        bool seen[EIN_LETTERS] = {false};
        for (int i = 0; i < p->out.n; i++) {
            int l = p->out.sym[i];
            if (l == EIN_ELL)
                continue;
            if (!uses[l] || seen[l])
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "equation '%s': output index '%c' is %s", p->eq,
                                     l < 26 ? 'a' + l : 'A' + l - 26,
                                     seen[l] ? "repeated" : "in no input");
            seen[l] = true;
        }
        if (any_ell && !p->out.ell)
            return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                                 "equation '%s': an output without '...' while inputs have it "
                                 "is not supported", p->eq);
        if (p->out.ell && !any_ell)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "equation '%s': '...' in the output only", p->eq);
        return OND_OK;
    }
    /* Implicit output: "..." then the letters used once, uppercase first as ASCII orders. */
    p->out.n = 0;
    p->out.ell = any_ell;
    if (any_ell)
        p->out.sym[p->out.n++] = EIN_ELL;
    for (int i = 0; i < EIN_LETTERS; i++) {
        int l = (i + 26) % EIN_LETTERS;
        if (uses[l] == 1) {
            if (p->out.n > OND_MAX_RANK)
                return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                                     "equation '%s': output rank over %d", p->eq, OND_MAX_RANK);
            p->out.sym[p->out.n++] = l;
        }
    }
    return OND_OK;
}

/* The index space of known input shapes: every index variable's extent (the "..." dims
 * first, then letters), each input's element stride per variable, and the output's
 * variables in order. */
struct space {
    int n_ell, n_var, out_rank;
    int var_of[EIN_LETTERS];             /* -1: letter unused */
    int64_t extent[OND_STRIDED_MAX_RANK];
    int64_t stride[EIN_MAX_IN][OND_STRIDED_MAX_RANK];
    int out_var[OND_MAX_RANK];
};

static enum ond_status build(const struct ond_node *n, const struct ond_info *const *in,
                             struct space *sp, struct ond_error *err)
{
    const struct einsum *p = n->params;
    memset(sp, 0, sizeof *sp);
    for (int l = 0; l < EIN_LETTERS; l++)
        sp->var_of[l] = -1;
    for (int k = 0; k < p->n_in; k++) {
        const struct term *t = &p->in[k];
        int letters = t->n - t->ell;
        if (in[k]->rank < letters || (!t->ell && in[k]->rank != letters))
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                 "equation '%s': input %d has rank %d for %d indices", p->eq, k,
                                 in[k]->rank, letters);
        if (in[k]->rank - letters > sp->n_ell)
            sp->n_ell = in[k]->rank - letters;
    }
    for (int e = 0; e < sp->n_ell; e++)
        sp->extent[e] = 1;
    sp->n_var = sp->n_ell;
    for (int k = 0; k < p->n_in; k++) {
        const struct term *t = &p->in[k];
        const struct ond_info *x = in[k];
        int ell = x->rank - (t->n - t->ell), dim = 0;
        int64_t es[OND_MAX_RANK], s = 1;
        for (int i = x->rank - 1; i >= 0; i--) {
            es[i] = s;
            s *= x->dims[i] > 0 ? x->dims[i] : 1;
        }
        for (int i = 0; i < t->n; i++) {
            if (t->sym[i] == EIN_ELL) {
                for (int e = 0; e < ell; e++, dim++) {
                    int v = sp->n_ell - ell + e;
                    int64_t d = x->dims[dim];
                    if (d != 1 && sp->extent[v] != 1 && d >= 0 && sp->extent[v] >= 0 &&
                        d != sp->extent[v])
                        return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                             "equation '%s': '...' dims %lld and %lld of input %d "
                                             "do not broadcast", p->eq, (long long)sp->extent[v],
                                             (long long)d, k);
                    if (d != 1) {
                        sp->extent[v] = d;
                        sp->stride[k][v] += es[dim];
                    }
                }
                continue;
            }
            int l = t->sym[i];
            int64_t d = x->dims[dim];
            if (sp->var_of[l] < 0) {
                if (sp->n_var == OND_STRIDED_MAX_RANK)
                    return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                                         "equation '%s': more than %d indices", p->eq,
                                         OND_STRIDED_MAX_RANK);
                sp->var_of[l] = sp->n_var;
                sp->extent[sp->n_var++] = d;
            }
            int v = sp->var_of[l];
            if (sp->extent[v] < 0)
                sp->extent[v] = d;
            else if (d >= 0 && d != sp->extent[v])
                return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL,
                                     "equation '%s': index '%c' has dims %lld and %lld", p->eq,
                                     l < 26 ? 'a' + l : 'A' + l - 26,
                                     (long long)sp->extent[v], (long long)d);
            sp->stride[k][v] += es[dim++];
        }
    }
    for (int i = 0; i < p->out.n; i++) {
        if (p->out.sym[i] != EIN_ELL) {
            sp->out_var[sp->out_rank++] = sp->var_of[p->out.sym[i]];
            continue;
        }
        for (int e = 0; e < sp->n_ell; e++)
            sp->out_var[sp->out_rank++] = e;
    }
    if (sp->out_rank > OND_MAX_RANK)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "equation '%s': output rank %d is over %d", p->eq, sp->out_rank,
                             OND_MAX_RANK);
    return OND_OK;
}

static enum ond_status infer(const struct ond_node *n, const struct ond_info *const *in,
                             struct ond_info *out, struct ond_error *err)
{
    int32_t dt = in[0]->dtype;
    out[0].dtype = dt;
    for (int k = 0; k < n->n_in; k++) {
        if (in[k]->dtype != dt)
            return ond_node_fail(err, n, OND_STATUS_INVALID_MODEL, "input %d is %s, input 0 is %s",
                                 k, ond_dtype_name(in[k]->dtype), ond_dtype_name(dt));
        if (in[k]->rank < 0)
            return OND_OK;
    }
    if (dt != OND_DTYPE_FLOAT && dt != OND_DTYPE_DOUBLE && dt != OND_DTYPE_INT32 &&
        dt != OND_DTYPE_INT64)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                             "inputs of %s; float, double, int32 and int64 are supported",
                             ond_dtype_name(dt));
    struct space sp;
    enum ond_status st = build(n, in, &sp, err);
    if (st)
        return st;
    out[0].rank = sp.out_rank;
    for (int i = 0; i < sp.out_rank; i++)
        out[0].dims[i] = sp.extent[sp.out_var[i]];
    return OND_OK;
}

static enum ond_status eval(const struct ond_node *n, const struct ond_info *const *in,
                            const struct ond_info *out, void *const *out_data,
                            struct ond_error *err)
{
    (void)out;
    struct space sp;
    enum ond_status st = build(n, in, &sp, err);
    if (st || !out_data[0])
        return st;
    /* The summed variables follow the output's, so the odometer runs over all of them with
     * the output index advancing every `inner` steps. */
    int order[OND_STRIDED_MAX_RANK], no = 0;
    bool is_out[OND_STRIDED_MAX_RANK] = {false};
    uint64_t inner = 1, total = 1;
    for (int i = 0; i < sp.out_rank; i++) {
        order[no++] = sp.out_var[i];
        is_out[sp.out_var[i]] = true;
    }
    for (int v = 0; v < sp.n_var; v++)
        if (!is_out[v]) {
            order[no++] = v;
            inner *= (uint64_t)sp.extent[v];
        }
    for (int i = 0; i < no; i++)
        if (__builtin_mul_overflow(total, (uint64_t)sp.extent[order[i]], &total))
            total = UINT64_MAX;
    if (total > EIN_MAX_STEPS)
        return ond_node_fail(err, n, OND_STATUS_LIMIT,
                             "equation '%s' takes %llu products, over the direct kernel's "
                             "limit of 2^36", ((const struct einsum *)n->params)->eq,
                             (unsigned long long)total);
    int32_t dt = in[0]->dtype;
    size_t es = ond_dtype_size(dt);
    int64_t idx[OND_STRIDED_MAX_RANK] = {0}, off[EIN_MAX_IN] = {0};
    double acc = 0;
    for (uint64_t it = 0; it < total; it++) {
        double prod = 1;
        for (int k = 0; k < n->n_in; k++) {
            double v;
            if (dt == OND_DTYPE_FLOAT)
                v = ((const float *)in[k]->data)[off[k]];
            else
                ond_convert((const char *)in[k]->data + (size_t)off[k] * es, dt, &v,
                            OND_DTYPE_DOUBLE, 1);
            prod *= v;
        }
        acc += prod;
        if ((it + 1) % inner == 0) {
            ond_convert(&acc, OND_DTYPE_DOUBLE, (char *)out_data[0] + (it / inner) * es, dt, 1);
            acc = 0;
        }
        for (int i = no - 1; i >= 0; i--) {
            int v = order[i];
            for (int k = 0; k < n->n_in; k++)
                off[k] += sp.stride[k][v];
            if (++idx[i] < sp.extent[v])
                break;
            for (int k = 0; k < n->n_in; k++)
                off[k] -= sp.stride[k][v] * idx[i];
            idx[i] = 0;
        }
    }
    return OND_OK;
}

/* The matmul form of a two-operand equation without "..." or repeated letters: every letter
 * a batch index (in both operands and the output), or one of M (A and output), N (B and
 * output) and K (A and B, summed); the letters of one of M, N, K must stand together in the
 * same order wherever they appear, and merge into one dim. Each operand and the output
 * become a strided view [1, batch..., rows, cols] of its plain buffer (batch in the
 * output's order; the leading 1 keeps the view's rank apart from the tensor's, so the
 * planner hands the buffer over as it is). False when the equation is not of that form. */
static bool matmul_views(const struct einsum *e, const struct ond_info *const *in,
                         const struct ond_info *out, int *rank, dnnl_dims_t dims[3],
                         dnnl_dims_t strides[3])
{
    /* pos[t][l]: position of letter l in term t (A, B, output), or -1. */
    int pos[3][EIN_LETTERS];
    const struct term *terms[3] = {&e->in[0], &e->in[1], &e->out};
    const struct ond_info *infos[3] = {in[0], in[1], out};
    int64_t st[3][OND_MAX_RANK];
    if (e->n_in != 2 || e->in[0].ell || e->in[1].ell)
        return false;
    for (int t = 0; t < 3; t++) {
        for (int l = 0; l < EIN_LETTERS; l++)
            pos[t][l] = -1;
        for (int i = 0; i < terms[t]->n; i++) {
            if (pos[t][terms[t]->sym[i]] >= 0)
                return false;
            pos[t][terms[t]->sym[i]] = i;
        }
        int64_t s = 1;
        for (int i = infos[t]->rank - 1; i >= 0; i--) {
            st[t][i] = s;
            s *= infos[t]->dims[i];
        }
    }
    /* The groups M, N, K in the order of a term holding them (A, B, A); batch letters in the
     * output's order. */
    enum { M, N, K };
    int group[3][OND_MAX_RANK], len[3] = {0, 0, 0}, batch[OND_MAX_RANK], nb = 0;
    const int ref[3] = {0, 1, 0};
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < terms[ref[g]]->n; i++) {
            int l = terms[ref[g]]->sym[i];
            bool a = pos[0][l] >= 0, b = pos[1][l] >= 0, o = pos[2][l] >= 0;
            if ((g == M && a && !b && o) || (g == N && !a && b && o) || (g == K && a && b && !o))
                group[g][len[g]++] = l;
            else if (a != b && !o)
                return false;   /* summed within one operand */
        }
    for (int i = 0; i < terms[2]->n; i++)
        if (pos[0][terms[2]->sym[i]] >= 0 && pos[1][terms[2]->sym[i]] >= 0)
            batch[nb++] = terms[2]->sym[i];
    if (nb + 3 > DNNL_MAX_NDIMS)
        return false;
    /* Rows and columns of each view: A [M, K], B [K, N], output [M, N]. */
    const int rc[3][2] = {{M, K}, {K, N}, {M, N}};
    *rank = nb + 3;
    for (int t = 0; t < 3; t++) {
        dims[t][0] = 1;
        strides[t][0] = 1;
        for (int i = 0; i < nb; i++) {
            dims[t][1 + i] = infos[t]->dims[pos[t][batch[i]]];
            strides[t][1 + i] = st[t][pos[t][batch[i]]];
        }
        for (int j = 0; j < 2; j++) {
            int g = rc[t][j], first = len[g] ? pos[t][group[g][0]] : -1;
            int64_t d = 1;
            for (int i = 0; i < len[g]; i++) {
                if (pos[t][group[g][i]] != first + i)
                    return false;
                d *= infos[t]->dims[first + i];
            }
            dims[t][1 + nb + j] = d;
            strides[t][1 + nb + j] = len[g] ? st[t][first + len[g] - 1] : 1;
        }
    }
    return true;
}

/* Two float operands in matmul form (matmul_views): one oneDNN matmul over strided views, a
 * constant operand copied once into its view's layout. */
static enum ond_status prepare(struct ond_prep *p, struct ond_error *err)
{
    const struct ond_node *n = p->node;
    dnnl_dims_t dims[3], strides[3];
    dnnl_memory_desc_t md[3];
    int rank, mem[2] = {-1, -1};
    enum ond_status st;
    if (!matmul_views(n->params, p->in, &p->out[0], &rank, dims, strides))
        return ond_prep_decline(p, "equation '%s' is not a matrix product",
                                ((const struct einsum *)n->params)->eq);
    if (p->in[0]->dtype != OND_DTYPE_FLOAT)
        return ond_prep_decline(p, "%s operands", ond_dtype_name(p->in[0]->dtype));
    for (int t = 0; t < 3; t++)
        OND_DNNL(dnnl_memory_desc_init_by_strides(&md[t], rank, dims[t], dnnl_f32, strides[t]),
                 n, err);
    for (int k = 0; k < 2; k++) {
        if (p->in_md[k])
            p->want_md[k] = md[k];
        else if ((st = ond_prep_const_from(p, k, &md[k], &md[k], &mem[k], err)))
            return st;
    }
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd;
    OND_DNNL(dnnl_matmul_desc_init(&desc, &md[0], &md[1], NULL, &md[2]), n, err);
    if ((st = ond_prep_pd(p, &desc, &pd, err)) || !pd)
        return st;
    p->out_md[0] = md[2];
    ond_prep_arg(p, DNNL_ARG_SRC, p->in_md[0] ? OND_ARG_IN : OND_ARG_MEM, p->in_md[0] ? 0 : mem[0]);
    ond_prep_arg(p, DNNL_ARG_WEIGHTS, p->in_md[1] ? OND_ARG_IN : OND_ARG_MEM,
                 p->in_md[1] ? 1 : mem[1]);
    ond_prep_arg(p, DNNL_ARG_DST, OND_ARG_OUT, 0);
    return ond_prep_finish(p, pd, err);
}

const struct ond_op ond_op_einsum = {
    .domain = "", .name = "Einsum", .since = 12,
    .min_in = 1, .max_in = EIN_MAX_IN, .min_out = 1, .max_out = 1,
    .params_size = sizeof(struct einsum),
    .parse = parse, .infer = infer, .eval = eval, .prepare = prepare,
};
