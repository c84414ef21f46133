/* session.c: sessions: planning a model for concrete input shapes and running the plan.
 *
 * A plan (one per set of input shapes, cached) is a list of steps over "values": buffers as
 * kernels see them, each with a oneDNN memory descriptor (a blocked layout chosen by a conv,
 * or plain row-major; dtypes oneDNN lacks are plain bytes). Nodes whose inputs are all known
 * at planning are computed then. Ops whose prepare builds a primitive run as one oneDNN
 * primitive; the others, and nodes whose prepare declines, run their eval on plain buffers
 * (the contract is in runtime/exec.h). Reorders are inserted where a consumer wants another
 * layout than its producer made. View ops make no step: their output value shares the
 * input's storage. A sum post-op's output takes over its addend's buffer when no one else
 * reads it, else starts as a copy. Values that own storage live in one arena, placed by
 * liveness so buffers are reused. Graph inputs are read in place from the caller's buffers
 * (small 1-D integer inputs, taken as shape operands, are known at planning instead: plans
 * are cached by their values); outputs are copied out in plain layout.
 *
 * int8 sessions: the model's activations are calibrated first (runtime/calibrate.c: an f32
 * session that observes every activation); each value then carries its tensor's scale, and
 * reorders between f32 and s8/u8 convert with it (the contract is in runtime/exec.h).
 *
 * Runs on one session are serialized (the arena and scratchpad are the session's); use one
 * session per thread to run in parallel. Nothing is allocated or created while running.
 */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xmmintrin.h>
#include <pmmintrin.h>

#include "oneapi/dnnl/dnnl_debug.h"
#include "runtime/exec.h"
#include "runtime/model.h"
#include "runtime/reference.h"
#include "runtime/session.h"

/* A buffer as kernels see it. A value either owns storage (root == its own index: a place
 * in the arena, or the caller's buffer for a graph input) or views the storage of its root
 * with another md (view ops, coerced shapes, a conv output that took over its addend). The
 * root's lifetime covers every value viewing it. */
struct value {
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
    size_t size, offset;
    size_t at;             /* bytes into its root's storage (a slice of a concat's output) */
    int first, last;       /* steps that write it first and read it last */
    int root;
    int last_node;         /* root: the last node reading a tensor held in this storage;
                              INT32_MAX for a graph output */
    bool input;            /* root: a graph input, the caller's buffer */
    int input_index;
    int reorder_of;        /* the value it is a reorder of (reused by later consumers), -1 */
    float scale;           /* int8: what one unit of its s8/u8 form is worth (its tensor's) */
};

enum step_kind { STEP_PRIM, STEP_EVAL, STEP_COPY };

struct step {
    enum step_kind kind;
    const struct ond_node *node;          /* NULL for a reorder */
    dnnl_primitive_t prim;
    char impl[64];                        /* implementation, or why the node runs eval */
    int n_args;
    int arg_id[OND_PREP_MAX_ARGS];
    int arg_value[OND_PREP_MAX_ARGS];     /* value index, or -1 for mem */
    dnnl_memory_t arg_mem[OND_PREP_MAX_ARGS];
    dnnl_memory_t mem[OND_PREP_MAX_MEM];
    int n_mem;
    /* STEP_EVAL: inputs (value or constant data) and outputs; STEP_COPY: in -> out value. */
    int n_in, n_out;
    int *in_value;                        /* -1: constant, data in in_info */
    int *out_value;
    struct ond_info *in_info, *out_info;
    const struct ond_info **in_ptr;
    void **out_data;
};

struct plan {
    struct plan *next;
    int n_inputs, n_tensors;
    struct ond_info *input_info;      /* concrete shapes this plan is for */
    struct value *values;
    int n_values, cap_values;
    struct step *steps;
    int n_steps, cap_steps;
    struct ond_info *info;            /* per tensor: concrete info, data if known */
    void **known;                     /* per tensor: buffers computed at planning */
    int *tensor_value;                /* per tensor: value index, -1 */
    int *last_read;                   /* per tensor: index of the last node reading it,
                                         INT32_MAX for graph outputs, -1 if none */
    int n_outs;                       /* graph outputs, or every float activation observed */
    const struct ond_tensor **outs;
    int *output_value;                /* per output: plain value, or -1 if constant */
    const float *qscale;              /* int8: the session's scales per tensor, else NULL */
    int node_at;                      /* index of the node being planned */
    int n_views, n_in_place, n_output_reorders;
    void *arena;
    size_t arena_size;
    void *scratch;
    size_t scratch_size;
    dnnl_memory_t scratch_mem;
    uint64_t bytes;                   /* held: computed values, activations, scratchpad */
};

struct ond_session {
    const struct ond_model *model;
    struct ond_options opts;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    struct plan *plans;
    pthread_mutex_t lock;
    bool observe;                     /* plans keep every float activation (calibration) */
    float *qscale;                    /* int8: per tensor, the scale of its s8/u8 form (0:
                                         it stays float) */
    bool *qunsigned;                  /* int8: per tensor, non-negative (u8) */
};

static struct value *new_value(struct plan *pl, const dnnl_memory_desc_t *md, int *index)
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
static void bind_tensor(struct plan *pl, const struct ond_tensor *t, int v)
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
    if (!new_value(pl, md, out))
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
    if (!new_value(pl, md, &to) || !(step = new_step(pl, STEP_PRIM, NULL))) {
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

static enum ond_status plain_value(struct ond_session *s, struct plan *pl, int from,
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
    enum ond_status st = plain_value(s, pl, from, info, &plain, err);
    if (!st && dnnl_memory_desc_get_size(want) != pl->values[plain].size)
        return ond_fail(err, OND_STATUS_BACKEND, "a %zu-byte view of a %zu-byte input",
                        dnnl_memory_desc_get_size(want), pl->values[plain].size);
    return st ? st : view_value(pl, plain, want, out, err);
}

/* What a plan holds counts with the model's constant data against max_total_bytes, so that
 * folding at planning or a huge activation fails before allocating. */
static enum ond_status plan_budget(const struct ond_graph *g, struct plan *pl, uint64_t add,
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
static enum ond_status plan_eval(struct ond_graph *g, struct plan *pl, const struct ond_node *n,
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
        enum ond_status st = plan_budget(g, pl, numel * ond_dtype_size(out[k].dtype), what, err);
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
    st->out_data = calloc((size_t)n_out + 1, sizeof *st->out_data);
    return st->in_value && st->out_value && st->in_info && st->out_info && st->in_ptr &&
           st->out_data;
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
            bind_tensor(pl, n->out[0], out_val[0]);
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
        } else if (!new_value(pl, &p->out_md[k], &v)) {
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
            break;
        }
        out_val[k] = v;
        /* An output written with other dims is seen by its tensor as a plain view. */
        if (!(st = ond_md(&p->out[k], true, &plain, err)) && !same_dims(&plain, &p->out_md[k]))
            st = view_value(pl, v, &plain, &v, err);
        if (!st)
            bind_tensor(pl, n->out[k], v);
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
            st = plain_value(s, pl, pl->tensor_value[n->in[k]->id], in[k], &in_val[k], err);
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
        if (!new_value(pl, &md, &step->out_value[k])) {
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
            break;
        }
        pl->values[step->out_value[k]].first = pl->n_steps - 1;
        if (n->out[k])
            bind_tensor(pl, n->out[k], step->out_value[k]);
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
 * node's primitive, read by nothing but this Concat, f32 or bf16, all in one of those
 * layouts) becomes a slice of one new storage, and the Concat makes no step. Returns whether
 * it did. */
static bool concat_in_place(struct plan *pl, const struct ond_node *n, const struct ond_info *out)
{
    const struct ond_attr *axis = ond_node_attr(n, "axis");
    int64_t ax = axis ? axis->i : 1;
    if (out->rank != 4 || out->dims[0] != 1 || (ax != 1 && ax != -3) || n->n_in > 64)
        return false;
    static const dnnl_format_tag_t tags[] = {dnnl_abcd, dnnl_aBcd16b};
    int vals[64], tag = -1;
    for (int k = 0; k < n->n_in; k++) {
        const struct ond_tensor *t = n->in[k];
        int v = t ? pl->tensor_value[t->id] : -1;
        if (v < 0 || pl->info[t->id].data || t->uses != 1 || pl->last_read[t->id] != pl->node_at)
            return false;
        const struct value *x = &pl->values[v];
        if (x->root != v || x->input || x->reorder_of >= 0 || x->first >= pl->n_steps ||
            pl->steps[x->first].kind != STEP_PRIM || !pl->steps[x->first].node ||
            (x->md.data_type != dnnl_f32 && x->md.data_type != dnnl_bf16) ||
            x->md.data_type != pl->values[pl->tensor_value[n->in[0]->id]].md.data_type)
            return false;
        for (int j = 0; j < k; j++)
            if (vals[j] == v)
                return false;
        int tk = has_tag(&x->md, tags[0]) ? 0 : has_tag(&x->md, tags[1]) ? 1 : -1;
        if (tk < 0 || (tag >= 0 && tk != tag) || (tk == 1 && x->md.dims[1] % 16))
            return false;
        tag = tk;
        vals[k] = v;
    }
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {out->dims[0], out->dims[1], out->dims[2], out->dims[3]};
    int o;
    if (dnnl_memory_desc_init_by_tag(&md, 4, d, pl->values[vals[0]].md.data_type, tags[tag]) !=
            dnnl_success || !new_value(pl, &md, &o))
        return false;
    struct value *r = &pl->values[o];
    size_t at = 0;
    r->first = r->last = pl->values[vals[0]].first;
    for (int k = 0; k < n->n_in; k++) {
        struct value *x = &pl->values[vals[k]];
        x->root = o;
        x->at = at;
        at += x->size;
        if (x->first < r->first)
            r->first = x->first;
        if (x->last > r->last)
            r->last = x->last;
    }
    pl->n_views++;
    bind_tensor(pl, n->out[0], o);
    return true;
}

static enum ond_status plan_node(struct ond_session *s, struct plan *pl, const struct ond_node *n,
                                 int at, const struct ond_info *const *in,
                                 const struct ond_info *out, struct ond_error *err)
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
             * they compute on what the scale states (saturated; an average of clipped values
             * is not the clipped average: graph fuzzer, QDQ pair -> AveragePool). */
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

/* Places the values that own arena storage by liveness: each takes the lowest offset free
 * over its lifetime (values are few hundred, so the quadratic scan is cheap). */
static void place(struct plan *pl)
{
    size_t top = 0;
    for (int i = 0; i < pl->n_values; i++) {
        struct value *v = &pl->values[i];
        if (v->input || v->root != i)
            continue;
        size_t size = (v->size + 63) / 64 * 64, off = 0;
        for (bool moved = true; moved;) {
            moved = false;
            for (int j = 0; j < i; j++) {
                const struct value *u = &pl->values[j];
                if (u->input || u->root != j || u->last < v->first || v->last < u->first)
                    continue;
                size_t usize = (u->size + 63) / 64 * 64;
                if (off < u->offset + usize && u->offset < off + size) {
                    off = u->offset + usize;
                    moved = true;
                }
            }
        }
        v->offset = off;
        if (off + size > top)
            top = off + size;
    }
    pl->arena_size = top;
}

/* Where value v's bytes are: the caller's input buffer or the arena. */
static void *value_data(const struct plan *pl, int v, const struct ond_value *inputs)
{
    const struct value *root = &pl->values[pl->values[v].root];
    return (root->input ? (char *)inputs[root->input_index].data
                        : (char *)pl->arena + root->offset) + pl->values[v].at;
}

static void free_plan(struct plan *pl)
{
    if (!pl)
        return;
    for (int i = 0; i < pl->n_steps; i++) {
        struct step *st = &pl->steps[i];
        if (st->prim)
            dnnl_primitive_destroy(st->prim);
        for (int k = 0; k < st->n_mem; k++)
            dnnl_memory_destroy(st->mem[k]);
        free(st->in_value);
        free(st->out_value);
        free(st->in_info);
        free(st->out_info);
        free(st->in_ptr);
        free(st->out_data);
    }
    for (int i = 0; i < pl->n_values; i++)
        if (pl->values[i].mem)
            dnnl_memory_destroy(pl->values[i].mem);
    free(pl->values);
    free(pl->steps);
    free(pl->info);
    free(pl->tensor_value);
    free(pl->last_read);
    free(pl->output_value);
    free(pl->outs);
    free(pl->input_info);
    free(pl->arena);
    free(pl->scratch);
    if (pl->scratch_mem)
        dnnl_memory_destroy(pl->scratch_mem);
    for (int i = 0; pl->known && i < pl->n_tensors; i++)
        free(pl->known[i]);
    free(pl->known);
    free(pl);
}

/* Small 1-D integer inputs are taken as shape operands (Reshape's shape, Unsqueeze's axes,
 * Pad's pads...): the plan knows their values, so shapes that depend on them are concrete,
 * and plans are cached by those values. */
static bool shape_input(const struct ond_info *info)
{
    return (info->dtype == OND_DTYPE_INT64 || info->dtype == OND_DTYPE_INT32) &&
           info->rank <= 1 && (info->rank == 0 || info->dims[0] <= 2 * OND_MAX_RANK);
}

static enum ond_status build_plan(struct ond_session *s, const struct ond_value *inputs,
                                  struct plan **out, struct ond_error *err)
{
    struct ond_graph *g = s->model->graph;
    enum ond_status st = OND_OK;
    int nt = g->n_tensors;
    struct plan *pl = calloc(1, sizeof *pl);
    const struct ond_info **in = NULL;
    struct ond_info *oi = NULL;
    ond_trace(NULL);
    if (!pl || !(pl->info = calloc((size_t)nt + 1, sizeof *pl->info)) ||
        !(pl->known = calloc((size_t)nt + 2, sizeof *pl->known)) ||
        !(pl->tensor_value = calloc((size_t)nt + 1, sizeof *pl->tensor_value)) ||
        !(pl->last_read = calloc((size_t)nt + 1, sizeof *pl->last_read)) ||
        !(pl->output_value = calloc((size_t)nt + 1, sizeof *pl->output_value)) ||
        !(pl->outs = calloc((size_t)nt + 1, sizeof *pl->outs)) ||
        !(pl->input_info = calloc((size_t)g->n_inputs + 1, sizeof *pl->input_info))) {
        free_plan(pl);
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate a plan");
    }
    pl->n_tensors = nt;
    pl->n_inputs = g->n_inputs;
    pl->qscale = s->qscale;
    /* Observing, every float activation is kept to the end like an output. */
    for (int i = 0; i < (s->observe ? nt : g->n_outputs); i++) {
        const struct ond_tensor *t = s->observe ? g->tensors[i] : g->outputs[i];
        if (!s->observe || (t->info.dtype == OND_DTYPE_FLOAT && !(t->flags & OND_TENSOR_CONST) &&
                            (t->producer || (t->flags & OND_TENSOR_INPUT))))
            pl->outs[pl->n_outs++] = t;
    }
    for (int i = 0; i < nt; i++) {
        pl->info[i] = g->tensors[i]->info;
        if (!(g->tensors[i]->flags & OND_TENSOR_CONST))
            pl->info[i].data = NULL;
        pl->tensor_value[i] = -1;
        pl->last_read[i] = -1;
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i]->n_in; k++)
            if (g->nodes[i]->in[k])
                pl->last_read[g->nodes[i]->in[k]->id] = i;
    for (int i = 0; i < pl->n_outs; i++)
        pl->last_read[pl->outs[i]->id] = INT32_MAX;
    for (int i = 0; i < g->n_inputs && !st; i++) {
        struct ond_tensor *t = g->inputs[i];
        struct ond_info *info = &pl->info[t->id];
        info->rank = inputs[i].rank;
        memcpy(info->dims, inputs[i].dims, sizeof(int64_t) * (size_t)inputs[i].rank);
        pl->input_info[i] = *info;
        dnnl_memory_desc_t md;
        int v;
        if (shape_input(info)) {
            size_t bytes = ond_info_bytes(info);
            if (!(pl->known[t->id] = ond_aligned_alloc(bytes))) {
                st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
                break;
            }
            memcpy(pl->known[t->id], inputs[i].data, bytes);
            info->data = pl->input_info[i].data = pl->known[t->id];
        } else if (!(st = ond_md(info, true, &md, err))) {
            if (!new_value(pl, &md, &v)) {
                st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
            } else {
                pl->values[v].input = true;
                pl->values[v].input_index = i;
                bind_tensor(pl, t, v);
            }
        }
    }
    for (int i = 0; i < g->n_nodes && !st; i++) {
        const struct ond_node *n = g->nodes[i];
        free(in);
        free(oi);
        in = calloc((size_t)n->n_in + 1, sizeof *in);
        oi = calloc((size_t)n->n_out + 1, sizeof *oi);
        if (!in || !oi) {
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
            break;
        }
        bool known = n->op->eval != NULL;
        for (int k = 0; k < n->n_in; k++) {
            in[k] = n->in[k] ? &pl->info[n->in[k]->id] : NULL;
            if (in[k] && !in[k]->data)
                known = false;
        }
        for (int k = 0; k < n->n_out; k++)
            oi[k].rank = -1;
        if ((st = n->op->infer(n, in, oi, err)))
            break;
        for (int k = 0; k < n->n_out && !st; k++) {
            uint64_t numel;
            if (!ond_info_known(&oi[k]))
                st = ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                                   "the shape of output %d depends on run-time data", k);
            else if (!ond_numel(&oi[k], g->opts.max_tensor_elements, &numel))
                st = ond_node_fail(err, n, OND_STATUS_LIMIT,
                                   "output %d has more than %llu elements (max_tensor_elements)",
                                   k, (unsigned long long)g->opts.max_tensor_elements);
        }
        if (st)
            break;
        pl->node_at = i;
        if (known)
            st = plan_eval(g, pl, n, in, oi, err);
        else
            st = plan_node(s, pl, n, i, in, oi, err);
        for (int k = 0; k < n->n_out && !st; k++)
            if (n->out[k]) {
                const void *d = pl->info[n->out[k]->id].data;
                pl->info[n->out[k]->id] = oi[k];
                if (!known)
                    pl->info[n->out[k]->id].data = NULL;
                else if (!oi[k].data)
                    pl->info[n->out[k]->id].data = d;
            }
    }
    free(in);
    free(oi);
    /* Outputs leave in plain layout. */
    pl->node_at = INT32_MAX;
    for (int i = 0; i < pl->n_outs && !st; i++) {
        const struct ond_tensor *t = pl->outs[i];
        pl->output_value[i] = -1;
        if (pl->info[t->id].data || pl->tensor_value[t->id] < 0)
            continue;
        int steps = pl->n_steps;
        st = plain_value(s, pl, pl->tensor_value[t->id], &pl->info[t->id], &pl->output_value[i],
                         err);
        pl->n_output_reorders += pl->n_steps - steps;
        if (!st)
            pl->values[pl->values[pl->output_value[i]].root].last = INT32_MAX;
    }
    if (!st) {
        place(pl);
        st = plan_budget(g, pl, (uint64_t)pl->arena_size + pl->scratch_size,
                         "activations and scratchpad", err);
    }
    if (!st) {
        pl->arena = ond_aligned_alloc(pl->arena_size);
        pl->scratch = ond_aligned_alloc(pl->scratch_size);
        if (!pl->arena || !pl->scratch)
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate %zu bytes of activations",
                          pl->arena_size);
    }
    /* Graph inputs, and views of them, get the caller's buffer at each run. */
    for (int i = 0; i < pl->n_values && !st; i++) {
        struct value *v = &pl->values[i];
        void *h = pl->values[v->root].input ? DNNL_MEMORY_NONE : value_data(pl, i, NULL);
        st = ond_dnnl(dnnl_memory_create(&v->mem, &v->md, s->engine, h), "memory_create", NULL,
                      err);
    }
    if (!st && pl->scratch_size) {
        dnnl_memory_desc_t md;
        dnnl_dims_t d = {(dnnl_dim_t)pl->scratch_size};
        st = ond_dnnl(dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_u8, dnnl_a), "scratchpad md",
                      NULL, err);
        if (!st)
            st = ond_dnnl(dnnl_memory_create(&pl->scratch_mem, &md, s->engine, pl->scratch),
                          "memory_create", NULL, err);
    }
    /* Eval steps point at their buffers once. */
    for (int i = 0; i < pl->n_steps && !st; i++) {
        struct step *sp = &pl->steps[i];
        if (sp->kind == STEP_PRIM)
            continue;
        for (int k = 0; k < sp->n_in; k++) {
            int v = sp->in_value[k];
            if (v >= 0 && !pl->values[pl->values[v].root].input)
                sp->in_info[k].data = value_data(pl, v, NULL);
            else if (sp->node && sp->node->in[k] && sp->in_value[k] < 0)
                sp->in_info[k].data = pl->info[sp->node->in[k]->id].data;
            sp->in_ptr[k] = sp->node && sp->kind == STEP_EVAL && !sp->node->in[k] ? NULL
                                                                                  : &sp->in_info[k];
        }
        for (int k = 0; k < sp->n_out; k++)
            sp->out_data[k] = value_data(pl, sp->out_value[k], NULL);
    }
    if (st) {
        free_plan(pl);
        return st;
    }
    *out = pl;
    ond_trace("plan");
    return OND_OK;
}

/* bf16 runs only where oneDNN has bf16 kernels: never silently fp32 labelled bf16. A model
 * loaded for int8 sessions had its QDQ pairs taken as scales (fold_qdq): a float session of it
 * would compute without their rounding, so it is refused. */
static enum ond_status check_precision(const struct ond_model *model,
                                       enum ond_precision precision, struct ond_error *err)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    const struct ond_pass_report *r = model->passes;
    for (int i = 0; r && precision != OND_PRECISION_INT8 && i < r->n_passes; i++)
        if (r->passes[i].int8_only && r->passes[i].ran && r->passes[i].rewrites)
            return ond_fail(err, OND_STATUS_INVALID_ARGUMENT,
                            "the model was loaded with precision int8, which took its "
                            "QuantizeLinear/DequantizeLinear pairs as int8 scales (%s); load "
                            "it with the session's precision to keep their rounding",
                            r->passes[i].name);
    switch (precision) {
    case OND_PRECISION_FP32:
        return OND_OK;
    case OND_PRECISION_BF16:
        /* ISA values are bit sets: AMX includes AVX512-BF16's bits. */
        if ((isa & dnnl_cpu_isa_avx512_core_bf16) != dnnl_cpu_isa_avx512_core_bf16)
            return ond_fail(err, OND_STATUS_UNSUPPORTED,
                            "bf16 precision needs a CPU with AVX512-BF16 or AMX; this one "
                            "offers %s", dnnl_cpu_isa2str(isa));
        return OND_OK;
    case OND_PRECISION_INT8:
        return OND_OK;
    }
    return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "unknown precision %d", (int)precision);
}

enum ond_status ond_session_create(const struct ond_model *model, const struct ond_options *opts,
                                   struct ond_session **out, struct ond_error *err)
{
    if (!model || !out)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "ond_session_create: NULL argument");
    *out = NULL;
    if (model->graph->unsupported)
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "the model has unsupported ops: %s",
                        model->graph->unsupported);
    struct ond_session *s = calloc(1, sizeof *s);
    if (!s)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate a session");
    s->model = model;
    if (opts)
        s->opts = *opts;
    else
        ond_options_init(&s->opts);
    enum ond_status pst = check_precision(model, s->opts.precision, err);
    if (pst) {
        free(s);
        return pst;
    }
    pthread_mutex_init(&s->lock, NULL);
    enum ond_status st = ond_dnnl(dnnl_engine_create(&s->engine, dnnl_cpu, 0), "engine_create",
                                  NULL, err);
    if (!st)
        st = ond_dnnl(dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags),
                      "stream_create", NULL, err);
    if (!st && s->opts.precision == OND_PRECISION_INT8)
        st = ond_calibrate(model, &s->opts, &s->qscale, &s->qunsigned, err);
    if (st) {
        ond_session_free(s);
        return st;
    }
    *out = s;
    return OND_OK;
}

enum ond_status ond_session_create_observer(const struct ond_model *model,
                                            const struct ond_options *opts,
                                            struct ond_session **out, struct ond_error *err)
{
    struct ond_options o = *opts;
    o.precision = OND_PRECISION_FP32;
    enum ond_status st = ond_session_create(model, &o, out, err);
    if (!st)
        (*out)->observe = true;
    return st;
}

void ond_session_free(struct ond_session *s)
{
    if (!s)
        return;
    for (struct plan *p = s->plans, *next; p; p = next) {
        next = p->next;
        free_plan(p);
    }
    if (s->stream)
        dnnl_stream_destroy(s->stream);
    if (s->engine)
        dnnl_engine_destroy(s->engine);
    pthread_mutex_destroy(&s->lock);
    free(s->qscale);
    free(s->qunsigned);
    free(s);
}

static struct plan *find_plan(struct ond_session *s, const struct ond_value *inputs)
{
    for (struct plan *p = s->plans; p; p = p->next) {
        bool same = true;
        for (int i = 0; i < p->n_inputs && same; i++) {
            const struct ond_info *pi = &p->input_info[i];
            same = pi->rank == inputs[i].rank &&
                   memcmp(pi->dims, inputs[i].dims, sizeof(int64_t) * (size_t)pi->rank) == 0 &&
                   (!pi->data || memcmp(pi->data, inputs[i].data, ond_info_bytes(pi)) == 0);
        }
        if (same)
            return p;
    }
    return NULL;
}

/* The plan for inputs, built if it is not cached; the caller holds s->lock. */
/* Plans kept per session: a caller that feeds ever new shapes, or shape operands (see
 * shape_input), must not grow a session without bound. */
#define PLANS_MAX 8

/* The plan for the inputs' shapes (and shape operands' values): found and moved to the front,
 * or built, the least recently used dropped beyond PLANS_MAX. */
static enum ond_status get_plan(struct ond_session *s, const struct ond_value *bound,
                                struct plan **out, struct ond_error *err)
{
    struct plan *pl = find_plan(s, bound), **at = &s->plans;
    enum ond_status st = OND_OK;
    if (pl) {
        while (*at != pl)
            at = &(*at)->next;
        *at = pl->next;
    } else if ((st = build_plan(s, bound, &pl, err))) {
        /* A shape operand the caller gave can make a valid model fail planning. */
        const struct ond_graph *g = s->model->graph;
        for (int i = 0; st == OND_STATUS_INVALID_MODEL && i < g->n_inputs; i++)
            if (shape_input(&(struct ond_info){bound[i].dtype, bound[i].rank,
                                               {bound[i].rank ? bound[i].dims[0] : 0}, NULL})) {
                st = err ? (err->status = OND_STATUS_INVALID_INPUT) : OND_STATUS_INVALID_INPUT;
                ond_error_prefix(err, "with the values of input '%s': ", g->inputs[i]->name);
            }
        *out = NULL;
        return st;
    }
    pl->next = s->plans;
    s->plans = pl;
    int n = 0;
    for (struct plan **p = &s->plans; *p; p = &(*p)->next)
        if (++n == PLANS_MAX && (*p)->next) {
            free_plan((*p)->next);
            (*p)->next = NULL;
            break;
        }
    *out = pl;
    return OND_OK;
}

static void set_ftz(bool on)
{
    unsigned csr = _mm_getcsr();
    csr = on ? csr | 0x8040u : csr & ~0x8040u; /* FTZ (bit 15) and DAZ (bit 6) */
    _mm_setcsr(csr);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs the steps; with step_ms, waits after each step and records its time (profiling). */
static enum ond_status execute(struct ond_session *s, struct plan *pl,
                               const struct ond_value *inputs, double *step_ms,
                               struct ond_error *err)
{
    double t = step_ms ? now_ms() : 0;
    for (int i = 0; i < pl->n_values; i++)
        if (pl->values[pl->values[i].root].input)
            dnnl_memory_set_data_handle(pl->values[i].mem, value_data(pl, i, inputs));
    for (int i = 0; i < pl->n_steps; i++) {
        struct step *sp = &pl->steps[i];
        if (sp->kind == STEP_PRIM) {
            dnnl_exec_arg_t args[OND_PREP_MAX_ARGS + 1];
            int na = 0;
            for (int a = 0; a < sp->n_args; a++) {
                args[na].arg = sp->arg_id[a];
                args[na++].memory = sp->arg_value[a] >= 0 ? pl->values[sp->arg_value[a]].mem
                                                          : sp->arg_mem[a];
            }
            if (pl->scratch_mem) {
                args[na].arg = DNNL_ARG_SCRATCHPAD;
                args[na++].memory = pl->scratch_mem;
            }
            enum ond_status st = ond_dnnl(dnnl_primitive_execute(sp->prim, s->stream, na, args),
                                          "primitive_execute", sp->node, err);
            if (!st && step_ms)
                st = ond_dnnl(dnnl_stream_wait(s->stream), "stream_wait", sp->node, err);
            if (st)
                return st;
            if (step_ms) {
                double now = now_ms();
                step_ms[i] = now - t;
                t = now;
            }
            continue;
        }
        /* Eval and copy steps read inputs that may be the caller's. */
        for (int k = 0; k < sp->n_in; k++)
            if (sp->in_value[k] >= 0 && pl->values[pl->values[sp->in_value[k]].root].input)
                sp->in_info[k].data = value_data(pl, sp->in_value[k], inputs);
        enum ond_status st = OND_OK;
        if (sp->kind == STEP_COPY) {
            memcpy(sp->out_data[0], sp->in_info[0].data, pl->values[sp->out_value[0]].size);
        } else {
            for (int k = 0; k < sp->n_out; k++)
                memset(sp->out_data[k], 0, pl->values[sp->out_value[k]].size);
            st = sp->node->op->eval(sp->node, sp->in_ptr, sp->out_info, sp->out_data, err);
        }
        if (st)
            return st;
        if (step_ms) {
            double now = now_ms();
            step_ms[i] = now - t;
            t = now;
        }
    }
    return ond_dnnl(dnnl_stream_wait(s->stream), "stream_wait", NULL, err);
}

/* Orders the caller's inputs as the graph's and checks each. */
static enum ond_status bind_inputs(const struct ond_graph *g, const struct ond_value *inputs,
                                   size_t n_inputs, struct ond_value *bound,
                                   struct ond_error *err)
{
    if (n_inputs != (size_t)g->n_inputs)
        return ond_fail(err, OND_STATUS_INVALID_INPUT, "the model takes %d input%s, got %zu",
                        g->n_inputs, g->n_inputs == 1 ? "" : "s", n_inputs);
    for (int i = 0; i < g->n_inputs; i++) {
        const struct ond_tensor *t = g->inputs[i];
        const struct ond_value *v = NULL;
        for (size_t k = 0; k < n_inputs; k++) {
            if (!inputs[k].name)
                return ond_fail(err, OND_STATUS_INVALID_INPUT, "input %zu has no name", k);
            if (strcmp(inputs[k].name, t->name) == 0) {
                if (v)
                    return ond_fail(err, OND_STATUS_INVALID_INPUT, "input '%s' is given twice",
                                    t->name);
                v = &inputs[k];
            }
        }
        if (!v) {
            for (size_t k = 0; k < n_inputs; k++)
                if (!ond_graph_find_tensor(g, inputs[k].name) ||
                    !(ond_graph_find_tensor(g, inputs[k].name)->flags & OND_TENSOR_INPUT))
                    return ond_fail(err, OND_STATUS_INVALID_INPUT,
                                    "'%s' is not an input of the model", inputs[k].name);
            return ond_fail(err, OND_STATUS_INVALID_INPUT, "input '%s' is missing", t->name);
        }
        enum ond_status st = ond_check_input(g, t, v, err);
        if (st)
            return st;
        bound[i] = *v;
    }
    return OND_OK;
}

static int session_threads(const struct ond_session *s)
{
    return s->opts.threads > 0 ? s->opts.threads : omp_get_num_procs();
}

/* The prologue of every call that needs a plan: binds the caller's inputs (*bound, freed by
 * the caller), takes the session's lock (always: the caller unlocks), then finds or builds the
 * plan for them. */
static enum ond_status lock_plan(struct ond_session *s, const struct ond_value *inputs,
                                 size_t n_inputs, struct ond_value **bound, struct plan **pl,
                                 struct ond_error *err)
{
    const struct ond_graph *g = s->model->graph;
    enum ond_status st = OND_OK;
    if (!(*bound = calloc((size_t)g->n_inputs + 1, sizeof **bound)))
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
    else
        st = bind_inputs(g, inputs, n_inputs, *bound, err);
    pthread_mutex_lock(&s->lock);
    /* Kernels are chosen for the thread count at hand when primitives are created (oneDNN
     * reads the calling thread's OpenMP setting): plan with the run's, so that a plan built in
     * any thread computes bitwise the same. */
    omp_set_num_threads(session_threads(s));
    if (!st)
        st = get_plan(s, *bound, pl, err);
    return st;
}

/* ond_session_run, with per-step times (step_ms non-NULL) for profiling; *plan_out gets the
 * plan that ran. */
static enum ond_status run(struct ond_session *s, const struct ond_value *inputs,
                           size_t n_inputs, struct ond_value *outputs, size_t n_outputs,
                           double **step_ms, struct plan **plan_out, struct ond_error *err)
{
    if (!s || (n_inputs && !inputs) || (n_outputs && !outputs))
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "ond_session_run: NULL argument");
    const struct ond_graph *g = s->model->graph;
    if (n_outputs != (size_t)g->n_outputs)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "the model has %d outputs, got %zu",
                        g->n_outputs, n_outputs);
    struct ond_value *bound = NULL;
    struct plan *pl = NULL;
    enum ond_status st = lock_plan(s, inputs, n_inputs, &bound, &pl, err);
    if (!st) {
        int threads = session_threads(s);
        bool ftz = !s->opts.no_ftz;
        /* The calling thread computes too: its floating-point modes are restored after. */
        unsigned caller_csr = _mm_getcsr();
#pragma omp parallel num_threads(threads)
        set_ftz(ftz);
        if (step_ms && !(*step_ms = calloc((size_t)pl->n_steps + 1, sizeof **step_ms)))
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate the profile");
        if (!st)
            st = execute(s, pl, bound, step_ms ? *step_ms : NULL, err);
        _mm_setcsr(caller_csr);
    }
    if (plan_out)
        *plan_out = pl;
    for (int i = 0; i < g->n_outputs && !st; i++) {
        const struct ond_tensor *t = pl->outs[i];
        const struct ond_info *info = &pl->info[t->id];
        uint64_t numel = 0;
        ond_numel(info, 0, &numel);
        size_t bytes = (size_t)numel * ond_dtype_size(info->dtype);
        struct ond_value *o = &outputs[i];
        if (!o->name)
            o->name = t->name;
        o->dtype = info->dtype;
        o->rank = info->rank;
        memcpy(o->dims, info->dims, sizeof(int64_t) * (size_t)info->rank);
        if (!o->data || o->size < bytes) {
            st = ond_fail(err, OND_STATUS_INVALID_ARGUMENT,
                          "output '%s' needs %zu bytes, the buffer has %zu", t->name, bytes,
                          o->data ? o->size : 0);
            break;
        }
        const void *src = pl->output_value[i] < 0 ? info->data
                                                  : value_data(pl, pl->output_value[i], bound);
        memcpy(o->data, src, bytes);
    }
    pthread_mutex_unlock(&s->lock);
    free(bound);
    return st;
}

enum ond_status ond_session_run(struct ond_session *s, const struct ond_value *inputs,
                                size_t n_inputs, struct ond_value *outputs, size_t n_outputs,
                                struct ond_error *err)
{
    return run(s, inputs, n_inputs, outputs, n_outputs, NULL, NULL, err);
}

enum ond_status ond_session_observe(struct ond_session *s, const struct ond_value *inputs,
                                    size_t n_inputs, ond_observe_fn fn, void *ctx,
                                    struct ond_error *err)
{
    if (!s->observe)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "not an observing session");
    struct ond_value *bound = NULL;
    struct plan *pl = NULL;
    enum ond_status st = lock_plan(s, inputs, n_inputs, &bound, &pl, err);
    if (!st) {
        st = execute(s, pl, bound, NULL, err);
    }
    for (int i = 0; !st && i < pl->n_outs; i++) {
        const struct ond_tensor *t = pl->outs[i];
        uint64_t numel = 0;
        ond_numel(&pl->info[t->id], 0, &numel);
        if (pl->output_value[i] >= 0)
            fn(ctx, t, value_data(pl, pl->output_value[i], bound), (size_t)numel);
    }
    pthread_mutex_unlock(&s->lock);
    free(bound);
    return st;
}

/* The layout of value v in oneDNN's tag notation ("f32 aBcd16b": dims by decreasing stride,
 * a blocked dim in capitals, then its inner blocks), which oneDNN 2.6 cannot print itself. */
static void layout_str(const struct plan *pl, int v, char *buf, size_t len)
{
    const dnnl_memory_desc_t *md = v >= 0 ? &pl->values[v].md : NULL;
    if (!md || md->format_kind != dnnl_blocked || md->ndims > 12) {
        snprintf(buf, len, "-");
        return;
    }
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int order[12], nd = md->ndims;
    bool blocked[12] = {false};
    for (int i = 0; i < b->inner_nblks; i++)
        blocked[b->inner_idxs[i]] = true;
    for (int i = 0; i < nd; i++)
        order[i] = i;
    for (int i = 1; i < nd; i++) /* insertion sort by stride, stable */
        for (int j = i; j > 0 && b->strides[order[j]] > b->strides[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    size_t at = (size_t)snprintf(buf, len, "%s ", dnnl_dt2str(md->data_type));
    for (int i = 0; i < nd && at + 1 < len; i++)
        buf[at++] = (char)((blocked[order[i]] ? 'A' : 'a') + order[i]);
    for (int i = 0; i < b->inner_nblks && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%lld%c", (long long)b->inner_blks[i],
                               (int)('a' + b->inner_idxs[i]));
    buf[at < len ? at : len - 1] = 0;
}

enum ond_status ond_session_profile(struct ond_session *s, const struct ond_value *inputs,
                                    size_t n_inputs, struct ond_value *outputs, size_t n_outputs,
                                    struct ond_profile *prof, struct ond_error *err)
{
    double *ms = NULL;
    struct plan *pl = NULL;
    memset(prof, 0, sizeof *prof);
    enum ond_status st = run(s, inputs, n_inputs, outputs, n_outputs, &ms, &pl, err);
    if (!st && !(prof->steps = calloc((size_t)pl->n_steps + 1, sizeof *prof->steps)))
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate the profile");
    for (int i = 0; !st && i < pl->n_steps; i++) {
        const struct step *sp = &pl->steps[i];
        struct ond_profile_step *ps = &prof->steps[prof->n_steps++];
        ps->node = sp->node ? sp->node->name : "";
        ps->op = !sp->node ? "Reorder" : sp->kind == STEP_COPY ? "Copy" : sp->node->op_type;
        ps->n_post = sp->node ? sp->node->n_post : 0;
        ps->ms = ms[i];
        int src = -1, dst = -1;
        if (sp->kind == STEP_PRIM) {
            for (int a = 0; a < sp->n_args; a++) {
                if (src < 0 && (sp->arg_id[a] == DNNL_ARG_SRC || sp->arg_id[a] == DNNL_ARG_FROM ||
                                sp->arg_id[a] == DNNL_ARG_MULTIPLE_SRC))
                    src = sp->arg_value[a];
                if (sp->arg_id[a] == DNNL_ARG_DST || sp->arg_id[a] == DNNL_ARG_TO)
                    dst = sp->arg_value[a];
            }
            snprintf(ps->impl, sizeof ps->impl, "%s", sp->impl);
        } else {
            src = sp->n_in ? sp->in_value[0] : -1;
            dst = sp->n_out ? sp->out_value[0] : -1;
            snprintf(ps->impl, sizeof ps->impl, "%s%s", sp->kind == STEP_COPY ? "copy" : "eval: ",
                     sp->kind == STEP_COPY ? "" : sp->impl);
        }
        layout_str(pl, src, ps->src, sizeof ps->src);
        layout_str(pl, dst, ps->dst, sizeof ps->dst);
    }
    free(ms);
    if (st)
        ond_profile_free(prof);
    return st;
}

void ond_profile_free(struct ond_profile *prof)
{
    free(prof->steps);
    prof->steps = NULL;
    prof->n_steps = 0;
}

enum ond_status ond_session_output_shapes(struct ond_session *s, const struct ond_value *inputs,
                                          size_t n_inputs, struct ond_value *outputs,
                                          struct ond_error *err)
{
    const struct ond_graph *g = s->model->graph;
    struct ond_value *bound = NULL;
    struct plan *pl = NULL;
    enum ond_status st = lock_plan(s, inputs, n_inputs, &bound, &pl, err);
    for (int i = 0; i < g->n_outputs && !st; i++) {
        const struct ond_info *info = &pl->info[g->outputs[i]->id];
        uint64_t numel = 0;
        ond_numel(info, 0, &numel);
        memset(&outputs[i], 0, sizeof outputs[i]);
        outputs[i].name = g->outputs[i]->name;
        outputs[i].dtype = info->dtype;
        outputs[i].rank = info->rank;
        memcpy(outputs[i].dims, info->dims, sizeof(int64_t) * (size_t)info->rank);
        outputs[i].size = (size_t)numel * ond_dtype_size(info->dtype);
    }
    pthread_mutex_unlock(&s->lock);
    free(bound);
    return st;
}

enum ond_status ond_session_plan_stats(struct ond_session *s, const struct ond_value *inputs,
                                       size_t n_inputs, struct ond_plan_stats *stats,
                                       struct ond_error *err)
{
    memset(stats, 0, sizeof *stats);
    struct ond_value *bound = NULL;
    struct plan *pl = NULL;
    enum ond_status st = lock_plan(s, inputs, n_inputs, &bound, &pl, err);
    for (int i = 0; !st && i < pl->n_steps; i++) {
        const struct step *sp = &pl->steps[i];
        if (sp->kind == STEP_COPY) {
            stats->copies++;
        } else if (sp->kind == STEP_PRIM) {
            stats->primitives += sp->node != NULL;
            stats->reorders += sp->node == NULL;
        } else if (!stats->evals++) {
            snprintf(stats->first_eval, sizeof stats->first_eval, "%s: %s", sp->node->name,
                     sp->impl);
        }
    }
    if (!st) {
        stats->views = pl->n_views;
        stats->in_place = pl->n_in_place;
        stats->output_reorders = pl->n_output_reorders;
        stats->arena_bytes = pl->arena_size;
    }
    pthread_mutex_unlock(&s->lock);
    free(bound);
    return st;
}

enum ond_status ond_session_run_alloc(struct ond_session *s, const struct ond_value *inputs,
                                      size_t n_inputs, struct ond_value **outputs,
                                      size_t *n_outputs, struct ond_error *err)
{
    if (!s || !outputs || !n_outputs)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "ond_session_run_alloc: NULL argument");
    size_t n = (size_t)s->model->graph->n_outputs;
    struct ond_value *o = calloc(n + 1, sizeof *o);
    if (!o)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate outputs");
    enum ond_status st = ond_session_output_shapes(s, inputs, n_inputs, o, err);
    for (size_t i = 0; i < n && !st; i++)
        if (!(o[i].name = strdup(o[i].name)) || !(o[i].data = malloc(o[i].size ? o[i].size : 1)))
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate output %zu", i);
    if (!st)
        st = ond_session_run(s, inputs, n_inputs, o, n, err);
    if (st) {
        ond_values_free(o, n);
        return st;
    }
    *outputs = o;
    *n_outputs = n;
    return OND_OK;
}
