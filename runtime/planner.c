/* planner.c: a node's part of a plan (runtime/plan.h): the values (buffers with a oneDNN
 * memory descriptor) it reads and writes, reorders where it wants another layout than its
 * producer made, views, a sum post-op's addend taken over or copied, a oneDNN primitive or an
 * eval step; in-place concat; and the values' places in the arena by liveness. */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xmmintrin.h>
#include <pmmintrin.h>

#include "oneapi/dnnl/dnnl_debug.h"
#include "runtime/plan.h"
#include "runtime/reference.h"

struct value *ond_plan_new_value(struct plan *pl, const dnnl_memory_desc_t *md, int *index)
{
    if (pl->n_values == pl->cap_values) {
        int nc = pl->cap_values ? pl->cap_values * 2 : 64;
        struct value *nv = realloc(pl->values, sizeof *nv * (size_t)nc);
        if (!nv)
            return NULL;
        pl->values = nv;
        pl->cap_values = nc;
    }
    struct value *v = &pl->values[pl->n_values];
    memset(v, 0, sizeof *v);
    v->md = *md;
    v->size = dnnl_memory_desc_get_size(md);
    v->first = pl->n_steps;
    v->last = pl->n_steps;
    v->root = pl->n_values;
    v->last_node = -1;
    v->reorder_of = -1;
    *index = pl->n_values++;
    return v;
}

static struct step *new_step(struct plan *pl, enum step_kind kind, const struct ond_node *n)
{
    if (pl->n_steps == pl->cap_steps) {
        int nc = pl->cap_steps ? pl->cap_steps * 2 : 64;
        struct step *ns = realloc(pl->steps, sizeof *ns * (size_t)nc);
        if (!ns)
            return NULL;
        pl->steps = ns;
        pl->cap_steps = nc;
    }
    struct step *s = &pl->steps[pl->n_steps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->node = n;
    return s;
}

/* Value v is read or written by the latest step: its storage must live until then. */
static void use_value(struct plan *pl, int v)
{
    int at = pl->n_steps - 1 > pl->values[v].first ? pl->n_steps - 1 : pl->values[v].first;
    int r = pl->values[v].root;
    if (pl->values[v].last < at)
        pl->values[v].last = at;
    if (pl->values[r].last < at)
        pl->values[r].last = at;
}

/* Tensor t is held by value v. */
void ond_plan_bind_tensor(struct plan *pl, const struct ond_tensor *t, int v)
{
    struct value *root = &pl->values[pl->values[v].root];
    pl->tensor_value[t->id] = v;
    if (pl->qscale)
        pl->values[v].scale = pl->qscale[t->id];
    if (pl->last_read[t->id] > root->last_node)
        root->last_node = pl->last_read[t->id];
}

static bool is_int8(dnnl_data_type_t dt)
{
    return dt == dnnl_s8 || dt == dnnl_u8;
}

static bool same_dims(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b)
{
    return a->ndims == b->ndims &&
           memcmp(a->dims, b->dims, sizeof(dnnl_dim_t) * (size_t)a->ndims) == 0;
}

/* Value `from`'s storage seen as md: `from` itself when the mds agree, else a new value
 * viewing the same root. md must describe no more bytes than `from`. */
static enum ond_status view_value(struct plan *pl, int from, const dnnl_memory_desc_t *md,
                                  int *out, struct ond_error *err)
{
    if (dnnl_memory_desc_equal(&pl->values[from].md, md)) {
        *out = from;
        return OND_OK;
    }
    if (dnnl_memory_desc_get_size(md) > pl->values[from].size)
        return ond_fail(err, OND_STATUS_BACKEND, "a view of %zu bytes over %zu",
                        dnnl_memory_desc_get_size(md), pl->values[from].size);
    int root = pl->values[from].root;
    if (!ond_plan_new_value(pl, md, out))
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
    pl->values[*out].root = root;
    pl->values[*out].at = pl->values[from].at;
    pl->values[*out].scale = pl->values[from].scale;
    pl->values[*out].first = pl->values[root].first;
    return OND_OK;
}

/* A value holding value `from` in layout md: `from` itself when the layouts agree, else a
 * value written by a reorder step, made once for all the nodes that want it. */
static enum ond_status as_layout(struct ond_session *s, struct plan *pl, int from,
                                 const dnnl_memory_desc_t *md, int *out, struct ond_error *err)
{
    if (dnnl_memory_desc_equal(&pl->values[from].md, md)) {
        *out = from;
        return OND_OK;
    }
    for (int v = 0; v < pl->n_values; v++)
        if (pl->values[v].reorder_of == from && dnnl_memory_desc_equal(&pl->values[v].md, md)) {
            pl->values[v].last_node = pl->node_at;
            *out = v;
            return OND_OK;
        }
    /* Between f32 and s8/u8 the value's scale converts: int8 q means scale * q. */
    bool qa = is_int8(pl->values[from].md.data_type), qb = is_int8(md->data_type);
    float scale = pl->values[from].scale;
    if ((qa || qb) && qa != qb && !(scale > 0))
        return ond_fail(err, OND_STATUS_BACKEND, "an int8 value without a scale");
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    float factor = qa == qb ? 1.f : qa ? scale : 1.f / scale;
    enum ond_status st = ond_dnnl(dnnl_primitive_attr_create(&attr), "primitive_attr_create",
                                  NULL, err);
    if (!st && factor != 1.f)
        st = ond_dnnl(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &factor),
                      "set_output_scales", NULL, err);
    if (!st)
        st = ond_dnnl(dnnl_reorder_primitive_desc_create(&pd, &pl->values[from].md, s->engine,
                                                         md, s->engine, attr),
                      "reorder_primitive_desc_create", NULL, err);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (st)
        return st;
    int to;
    struct step *step = NULL;
    dnnl_primitive_t prim = NULL;
    if ((st = ond_dnnl(dnnl_primitive_create(&prim, pd), "primitive_create", NULL, err))) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    dnnl_primitive_desc_destroy(pd);
    if (!ond_plan_new_value(pl, md, &to) || !(step = new_step(pl, STEP_PRIM, NULL))) {
        dnnl_primitive_destroy(prim);
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
    }
    use_value(pl, from);
    pl->values[to].first = pl->n_steps - 1;
    pl->values[to].reorder_of = from;
    pl->values[to].scale = scale;
    pl->values[to].last_node = pl->node_at;
    step->prim = prim;
    snprintf(step->impl, sizeof step->impl, "reorder");
    step->n_args = 2;
    step->arg_id[0] = DNNL_ARG_FROM;
    step->arg_value[0] = from;
    step->arg_id[1] = DNNL_ARG_TO;
    step->arg_value[1] = to;
    *out = to;
    return OND_OK;
}

enum ond_status ond_plan_plain_value(struct ond_session *s, struct plan *pl, int from,
                                     const struct ond_info *info, int *out, struct ond_error *err)
{
    dnnl_memory_desc_t md;
    enum ond_status st = ond_md(info, true, &md, err);
    return st ? st : as_layout(s, pl, from, &md, out, err);
}

/* Value `from` (tensor info) as a prepare wants it (exec.h): as it is, reordered, or, for
 * want with other dims, made plain and viewed with want. */
static enum ond_status input_as(struct ond_session *s, struct plan *pl, int from,
                                const struct ond_info *info, const dnnl_memory_desc_t *want,
                                int *out, struct ond_error *err)
{
    if (!want->ndims) {
        *out = from;
        return OND_OK;
    }
    if (same_dims(&pl->values[from].md, want))
        return as_layout(s, pl, from, want, out, err);
    int plain;
    enum ond_status st = ond_plan_plain_value(s, pl, from, info, &plain, err);
    if (!st && dnnl_memory_desc_get_size(want) != pl->values[plain].size)
        return ond_fail(err, OND_STATUS_BACKEND, "a %zu-byte view of a %zu-byte input",
                        dnnl_memory_desc_get_size(want), pl->values[plain].size);
    return st ? st : view_value(pl, plain, want, out, err);
}

/* What a plan holds counts with the model's constant data against max_total_bytes, so that
 * folding at planning or a huge activation fails before allocating. */
enum ond_status ond_plan_budget(const struct ond_graph *g, struct plan *pl, uint64_t add,
                                const char *what, struct ond_error *err)
{
    uint64_t total, limit = g->opts.max_total_bytes;
    if (__builtin_add_overflow(pl->bytes, add, &total) ||
        __builtin_add_overflow(total, g->const_bytes, &total))
        total = UINT64_MAX;
    if (limit && total > limit)
        return ond_fail(err, OND_STATUS_LIMIT,
                        "%s: %llu bytes would bring the model to %llu, over the limit of %llu "
                        "(max_total_bytes)", what, (unsigned long long)add,
                        (unsigned long long)total, (unsigned long long)limit);
    pl->bytes += add;
    return OND_OK;
}

/* Computes a node whose inputs are all known, into buffers the plan keeps. */
enum ond_status ond_plan_eval(struct ond_graph *g, struct plan *pl, const struct ond_node *n,
                              const struct ond_info *const *in, struct ond_info *out,
                              struct ond_error *err)
{
    void *data[OND_PREP_MAX_OUT];
    if (n->n_out > OND_PREP_MAX_OUT)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "too many outputs");
    for (int k = 0; k < n->n_out; k++) {
        uint64_t numel = 0; /* known and within max_tensor_elements (build_plan) */
        char what[300];
        ond_numel(&out[k], 0, &numel);
        snprintf(what, sizeof what, "node '%s' (%s): output %d", n->name, n->op_type, k);
        enum ond_status st =
            ond_plan_budget(g, pl, numel * ond_dtype_size(out[k].dtype), what, err);
        if (st)
            return st;
        if (!(data[k] = ond_aligned_alloc((size_t)numel * ond_dtype_size(out[k].dtype))))
            return ond_node_fail(err, n, OND_STATUS_NO_MEMORY, "cannot allocate output %d", k);
        if (n->out[k]) {
            free(pl->known[n->out[k]->id]);
            pl->known[n->out[k]->id] = data[k];
        }
    }
    enum ond_status st = n->op->eval(n, in, out, data, err);
    for (int k = 0; k < n->n_out; k++) {
        if (!n->out[k])
            free(data[k]);
        else
            out[k].data = data[k];
    }
    return st;
}

/* Step arrays for an eval step. */
static bool alloc_eval(struct step *st, int n_in, int n_out)
{
    st->n_in = n_in;
    st->n_out = n_out;
    st->in_value = calloc((size_t)n_in + 1, sizeof *st->in_value);
    st->out_value = calloc((size_t)n_out + 1, sizeof *st->out_value);
    st->in_info = calloc((size_t)n_in + 1, sizeof *st->in_info);
    st->out_info = calloc((size_t)n_out + 1, sizeof *st->out_info);
    st->in_ptr = calloc((size_t)n_in + 1, sizeof *st->in_ptr);
    return st->in_value && st->out_value && st->in_info && st->out_info && st->in_ptr;
}

static void free_prep(struct ond_prep *p)
{
    if (p->prim)
        dnnl_primitive_destroy(p->prim);
    for (int i = 0; i < p->n_mem; i++)
        dnnl_memory_destroy(p->mem[i]);
}

/* Whether the output of node `at` may take over value a's buffer for its sum post-op:
 * no later node reads that storage, it is not the caller's, and the node reads it through
 * no other input (a primitive must not write where it reads). */
static bool can_take_over(const struct plan *pl, int a, int at, int sum_input,
                          const int *in_val, int n_in)
{
    const struct value *root = &pl->values[pl->values[a].root];
    if (root->input || root->last_node > at)
        return false;
    for (int k = 0; k < n_in; k++)
        if (k != sum_input && in_val[k] >= 0 && pl->values[in_val[k]].root == pl->values[a].root)
            return false;
    return true;
}

/* Plans node n as the primitive (or view) that p describes; avail[k] is the value its input
 * k arrives in. */
static enum ond_status plan_prim(struct ond_session *s, struct plan *pl, const struct ond_node *n,
                                 int at, struct ond_prep *p, const int *avail,
                                 struct ond_error *err)
{
    enum ond_status st = OND_OK;
    int in_val[OND_PREP_MAX_IN], out_val[OND_PREP_MAX_OUT];
    for (int k = 0; k < n->n_in && !st; k++) {
        in_val[k] = -1;
        if (p->in_md[k])
            st = input_as(s, pl, avail[k], p->in[k], &p->want_md[k], &in_val[k], err);
    }
    if (!st && p->view) {
        pl->n_views++;
        if (!(st = view_value(pl, in_val[0], &p->out_md[0], &out_val[0], err)))
            ond_plan_bind_tensor(pl, n->out[0], out_val[0]);
        return st;
    }
    /* A sum post-op accumulates into the output: it starts as the addend, whose buffer it
     * takes over when nothing else needs it, else a copy of it. */
    struct step *copy = NULL;
    int addend = -1;
    if (!st && p->sum_input >= 0) {
        int k = p->sum_input;
        dnnl_memory_desc_t want;
        if (in_val[k] < 0)
            st = ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "sum post-op on a constant");
        else if (!(st = ond_md(&p->out[0], true, &want, err)) && !same_dims(&want, &p->out_md[0]))
            st = ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "sum post-op on a view");
        else if (!st && (p->in[k]->rank != p->out[0].rank ||
                         memcmp(p->in[k]->dims, p->out[0].dims,
                                sizeof(int64_t) * (size_t)p->out[0].rank) != 0))
            st = ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                               "sum post-op: input %d and the output differ in shape", k);
        if (!st)
            st = as_layout(s, pl, in_val[k], p->sum_md.ndims ? &p->sum_md : &p->out_md[0],
                           &addend, err);
        if (!st && !can_take_over(pl, addend, at, k, in_val, n->n_in) &&
            (!(copy = new_step(pl, STEP_COPY, n)) || !alloc_eval(copy, 1, 1)))
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
    }
    for (int k = 0; k < n->n_out && !st; k++) {
        int v;
        dnnl_memory_desc_t plain;
        out_val[k] = -1;
        if (!n->out[k])
            continue;
        if (k == 0 && addend >= 0 && !copy) {
            /* Its content changes: no later consumer may take it as the reorder it was, nor
             * take a reorder made of its old content (a plain copy made for an eval step
             * before this node) for the new one. */
            int root = pl->values[addend].root;
            pl->n_in_place++;
            pl->values[addend].reorder_of = -1;
            for (int u = 0; u < pl->n_values; u++)
                if (pl->values[u].reorder_of >= 0 &&
                    pl->values[pl->values[u].reorder_of].root == root)
                    pl->values[u].reorder_of = -1;
            if ((st = view_value(pl, addend, &p->out_md[0], &v, err)))
                break;
        } else if (!ond_plan_new_value(pl, &p->out_md[k], &v)) {
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
            break;
        }
        out_val[k] = v;
        /* An output written with other dims is seen by its tensor as a plain view. */
        if (!(st = ond_md(&p->out[k], true, &plain, err)) && !same_dims(&plain, &p->out_md[k]))
            st = view_value(pl, v, &plain, &v, err);
        if (!st)
            ond_plan_bind_tensor(pl, n->out[k], v);
    }
    if (!st && copy) {
        copy->in_value[0] = addend;
        copy->out_value[0] = out_val[0];
        pl->values[out_val[0]].first = (int)(copy - pl->steps);
        use_value(pl, addend);
    }
    struct step *step = NULL;
    if (!st && !(step = new_step(pl, STEP_PRIM, n)))
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
    if (st)
        return st;
    step->prim = p->prim;
    p->prim = NULL;
    memcpy(step->impl, p->impl, sizeof step->impl);
    memcpy(step->mem, p->mem, sizeof p->mem);
    step->n_mem = p->n_mem;
    p->n_mem = 0;
    step->n_args = p->n_args;
    for (int a = 0; a < p->n_args; a++) {
        const struct ond_arg *arg = &p->args[a];
        step->arg_id[a] = arg->dnnl_arg;
        step->arg_value[a] = -1;
        if (arg->kind == OND_ARG_IN)
            step->arg_value[a] = in_val[arg->index];
        else if (arg->kind == OND_ARG_OUT)
            step->arg_value[a] = out_val[arg->index];
        else
            step->arg_mem[a] = step->mem[arg->index];
        if (step->arg_value[a] >= 0)
            use_value(pl, step->arg_value[a]);
    }
    if (p->scratch_bytes > pl->scratch_size)
        pl->scratch_size = p->scratch_bytes;
    return OND_OK;
}

/* Plans node n (index `at` in the graph) as a eval step over plain buffers; why says why
 * it runs its eval. */
static enum ond_status plan_eval_step(struct ond_session *s, struct plan *pl,
                                      const struct ond_node *n, const struct ond_info *const *in,
                                      const struct ond_info *out, const char *why,
                                      struct ond_error *err)
{
    enum ond_status st = OND_OK;
    int in_val[n->n_in > 0 ? n->n_in : 1];
    for (int k = 0; k < n->n_in && !st; k++) {
        in_val[k] = -1;
        if (n->in[k] && !in[k]->data)
            st = ond_plan_plain_value(s, pl, pl->tensor_value[n->in[k]->id], in[k], &in_val[k],
                                      err);
    }
    struct step *step = NULL;
    if (!st && (!(step = new_step(pl, STEP_EVAL, n)) || !alloc_eval(step, n->n_in, n->n_out)))
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
    if (st)
        return st;
    snprintf(step->impl, sizeof step->impl, "eval: %s", why);
    for (int k = 0; k < n->n_in; k++) {
        step->in_value[k] = in_val[k];
        if (in[k])
            step->in_info[k] = *in[k];
        if (in_val[k] >= 0)
            use_value(pl, in_val[k]);
    }
    for (int k = 0; k < n->n_out && !st; k++) {
        dnnl_memory_desc_t md;
        step->out_info[k] = out[k];
        if ((st = ond_md(&out[k], true, &md, err)))
            break;
        if (!ond_plan_new_value(pl, &md, &step->out_value[k])) {
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
            break;
        }
        pl->values[step->out_value[k]].first = pl->n_steps - 1;
        if (n->out[k])
            ond_plan_bind_tensor(pl, n->out[k], step->out_value[k]);
    }
    return st;
}

static bool has_empty_output(const struct ond_node *n, const struct ond_info *out)
{
    for (int k = 0; k < n->n_out; k++) {
        uint64_t numel;
        if (ond_numel(&out[k], 0, &numel) && numel == 0)
            return true;
    }
    return false;
}

/* Whether md is the dense layout `tag` for its dims. */
static bool has_tag(const dnnl_memory_desc_t *md, dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t want;
    return dnnl_memory_desc_init_by_tag(&want, md->ndims, md->dims, md->data_type, tag) ==
               dnnl_success &&
           dnnl_memory_desc_equal(&want, md);
}

/* A Concat over channels at batch 1 costs nothing when its inputs' producers write their
 * slices of its output: in NCHW, and in nChw16c with channel counts that are multiples of
 * 16, one image's channel range [c, c + C_i) is a contiguous run of the output holding
 * exactly the dense layout of a [1, C_i, H, W] tensor. So every input value (written by a
 * node's primitive, f32 or bf16, all in one of those layouts) becomes a slice of one storage
 * (a `slices` root), the Concat's output a view of it from its start, and the Concat makes
 * no step. A chain of Concats, each of the previous one's inputs and one more (DenseNet:
 * every layer of a dense block concatenates the block's input and all the maps before it,
 * 25 Concats of up to 24 maps in DenseNet-121's third block), shares one storage: the
 * leading inputs already lie side by side at its start and end where it ends, so the new
 * input's producer writes at its end and the storage grows. The inputs may have other
 * readers: they read the slices, which live as long as the storage. Returns whether it did. */
static bool concat_in_place(struct plan *pl, const struct ond_node *n, const struct ond_info *out)
{
    const struct ond_attr *axis = ond_node_attr(n, "axis");
    int64_t ax = axis ? axis->i : 1;
    if (out->rank != 4 || out->dims[0] != 1 || (ax != 1 && ax != -3) || n->n_in > 64 ||
        n->n_in < 2)
        return false;
    static const dnnl_format_tag_t tags[] = {dnnl_abcd, dnnl_aBcd16b};
    int vals[64], tag = -1, root = -1, k0 = 0;
    for (int k = 0; k < n->n_in; k++)
        vals[k] = n->in[k] ? pl->tensor_value[n->in[k]->id] : -1;
    /* The leading inputs as a previous Concat left them: slices from offset 0, in order,
     * ending where the storage ends. */
    size_t at = 0;
    if (vals[0] >= 0 && pl->values[pl->values[vals[0]].root].slices) {
        root = pl->values[vals[0]].root;
        while (k0 < n->n_in - 1 && vals[k0] >= 0 && pl->values[vals[k0]].root == root &&
               pl->values[vals[k0]].at == at)
            at += pl->values[vals[k0++]].size;
        if (at != pl->values[root].size)
            root = -1, k0 = 0;
    }
    dnnl_data_type_t dt = vals[0] >= 0 ? pl->values[vals[0]].md.data_type : dnnl_data_type_undef;
    for (int k = 0; k < n->n_in; k++) {
        const struct ond_tensor *t = n->in[k];
        if (vals[k] < 0 || pl->info[t->id].data)
            return false;
        const struct value *x = &pl->values[vals[k]];
        int tk = has_tag(&x->md, tags[0]) ? 0 : has_tag(&x->md, tags[1]) ? 1 : -1;
        if (tk < 0 || (tag >= 0 && tk != tag) || (tk == 1 && x->md.dims[1] % 16) ||
            x->md.data_type != dt || (dt != dnnl_f32 && dt != dnnl_bf16))
            return false;
        tag = tk;
        if (k < k0)
            continue;
        /* A new slice: a value of its own that a primitive writes, which nothing views (the
         * views would keep pointing at storage no longer placed), given once. */
        if (x->root != vals[k] || x->input || x->reorder_of >= 0 || x->first >= pl->n_steps ||
            pl->steps[x->first].kind != STEP_PRIM || !pl->steps[x->first].node)
            return false;
        for (int j = 0; j < pl->n_values; j++)
            if (j != vals[k] && pl->values[j].root == vals[k])
                return false;
        for (int j = 0; j < k; j++)
            if (vals[j] == vals[k])
                return false;
    }
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {out->dims[0], out->dims[1], out->dims[2], out->dims[3]};
    int o;
    if (dnnl_memory_desc_init_by_tag(&md, 4, d, dt, tags[tag]) != dnnl_success)
        return false;
    if (root < 0) {
        dnnl_memory_desc_t bytes;
        dnnl_dims_t one = {1};
        if (dnnl_memory_desc_init_by_tag(&bytes, 1, one, dnnl_u8, dnnl_a) != dnnl_success ||
            !ond_plan_new_value(pl, &bytes, &root))
            return false;
        pl->values[root].slices = true;
        pl->values[root].size = 0;
        pl->values[root].first = pl->values[vals[0]].first;
    }
    for (int k = k0; k < n->n_in; k++) {
        struct value *x = &pl->values[vals[k]], *r = &pl->values[root];
        x->root = root;
        x->at = r->size;
        r->size += x->size;
        if (x->first < r->first)
            r->first = x->first;
        if (x->last > r->last)
            r->last = x->last;
        if (pl->last_read[n->in[k]->id] > r->last_node)
            r->last_node = pl->last_read[n->in[k]->id];
    }
    struct value *r = &pl->values[root];
    struct ond_error err;
    r->md.dims[0] = r->md.padded_dims[0] = (dnnl_dim_t)r->size;
    if (view_value(pl, root, &md, &o, &err))
        return false;
    pl->n_views++;
    ond_plan_bind_tensor(pl, n->out[0], o);
    return true;
}

enum ond_status ond_plan_node(struct ond_session *s, struct plan *pl, const struct ond_node *n,
                              int at, const struct ond_info *const *in, const struct ond_info *out,
                              struct ond_error *err)
{
    const char *why = "no oneDNN primitive";
    if (!*n->domain && strcmp(n->op_type, "Concat") == 0 && n->n_out == 1 && n->out[0] &&
        concat_in_place(pl, n, out))
        return OND_OK;
    if (n->n_out > OND_PREP_MAX_OUT)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "too many outputs");
    if (n->op->prepare && n->n_in > OND_PREP_MAX_IN)
        why = "too many inputs";
    else if (n->op->prepare && has_empty_output(n, out))
        why = "empty output";
    else if (n->op->prepare) {
        struct ond_prep p;
        int avail[OND_PREP_MAX_IN];
        enum ond_status st = OND_OK;
        memset(&p, 0, sizeof p);
        p.node = n;
        p.engine = s->engine;
        p.stream = s->stream;
        p.in = in;
        p.out = out;
        p.sum_input = -1;
        p.act_dt = s->opts.precision == OND_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
        p.tune = s->tune;
        p.stage = &s->stage;
        dnnl_memory_desc_t in_md[OND_PREP_MAX_IN];
        p.int8 = s->qscale != NULL;
        for (int k = 0; k < n->n_out && p.int8; k++)
            if (n->out[k]) {
                p.out_scale[k] = s->qscale[n->out[k]->id];
                p.out_unsigned[k] = s->qunsigned[n->out[k]->id];
            }
        for (int k = 0; k < n->n_in && !st; k++) {
            if (!n->in[k] || in[k]->data)
                continue;
            avail[k] = pl->tensor_value[n->in[k]->id];
            if (p.int8) {
                p.in_scale[k] = s->qscale[n->in[k]->id];
                p.in_unsigned[k] = s->qunsigned[n->in[k]->id];
            }
            /* Ops that take float get int8 inputs dequantized, in the layout they arrive in;
             * pooling and views (KEEP) get a float input that has a scale quantized, so that
             * they compute on what the scale states (saturated: graph fuzzer, finding J, a QDQ
             * pair -> AveragePool then, when averaging pools were KEEP; MaxPool and views
             * alike). */
            dnnl_memory_desc_t f32 = pl->values[avail[k]].md;
            if (p.int8 && n->op->quant == OND_QUANT_NONE && in[k]->dtype == OND_DTYPE_FLOAT &&
                is_int8(f32.data_type)) {
                f32.data_type = dnnl_f32;
                st = as_layout(s, pl, avail[k], &f32, &avail[k], err);
            } else if (p.int8 && n->op->quant == OND_QUANT_KEEP && k == 0 &&
                       p.in_scale[0] > 0 && f32.data_type == dnnl_f32) {
                f32.data_type = p.in_unsigned[0] ? dnnl_u8 : dnnl_s8;
                st = as_layout(s, pl, avail[k], &f32, &avail[k], err);
            }
            in_md[k] = pl->values[avail[k]].md;
            p.in_md[k] = &in_md[k];
        }
        if (!st)
            st = n->op->prepare(&p, err);
        if (!st && !p.declined)
            st = plan_prim(s, pl, n, at, &p, avail, err);
        free_prep(&p);
        if (st || !p.declined)
            return st;
        return plan_eval_step(s, pl, n, in, out, p.impl, err);
    }
    /* Ops that take post-ops apply them in their eval too (ond_apply_post). */
    return plan_eval_step(s, pl, n, in, out, why, err);
}
