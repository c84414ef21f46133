/* session.c: sessions: planning a model for concrete input shapes and running the plan.
 *
 * A plan (one per set of input shapes, cached) is a list of steps over "values": buffers as
 * kernels see them, each with a oneDNN memory descriptor (a blocked layout chosen by a conv,
 * or plain row-major). Nodes whose inputs are all known at planning are computed then. Ops
 * with a prepare run as one oneDNN primitive; others run their eval on plain buffers.
 * Reorders are inserted where a consumer wants another layout than its producer made. All
 * values live in one arena, placed by liveness so buffers are reused. Graph inputs are read
 * in place from the caller's buffers; outputs are copied out in plain layout.
 *
 * Runs on one session are serialized (the arena and scratchpad are the session's); use one
 * session per thread to run in parallel. Nothing is allocated or created while running.
 */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xmmintrin.h>
#include <pmmintrin.h>

#include "runtime/exec.h"
#include "runtime/model.h"
#include "runtime/reference.h"
#include "runtime/session.h"

struct value {
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
    size_t size, offset;
    int first, last;       /* steps that write it first and read it last */
    bool input;            /* a graph input: the caller's buffer */
    int input_index;
};

enum step_kind { STEP_PRIM, STEP_EVAL, STEP_COPY };

struct step {
    enum step_kind kind;
    const struct ond_node *node;
    dnnl_primitive_t prim;
    char impl[64];
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
    int *output_value;                /* per graph output: plain value, or -1 if constant */
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

static void use_value(struct plan *pl, int v)
{
    if (pl->values[v].last < pl->n_steps)
        pl->values[v].last = pl->n_steps;
}

/* A value holding value `from` in layout md: `from` itself when the layouts agree, else a
 * new value written by a reorder step. */
static enum ond_status as_layout(struct ond_session *s, struct plan *pl, int from,
                                 const dnnl_memory_desc_t *md, int *out, struct ond_error *err)
{
    if (dnnl_memory_desc_equal(&pl->values[from].md, md)) {
        *out = from;
        return OND_OK;
    }
    dnnl_primitive_desc_t pd = NULL;
    enum ond_status st = ond_dnnl(dnnl_reorder_primitive_desc_create(
                                      &pd, &pl->values[from].md, s->engine, md, s->engine, NULL),
                                  "reorder_primitive_desc_create", NULL, err);
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
    use_value(pl, from);
    if (!new_value(pl, md, &to) || !(step = new_step(pl, STEP_PRIM, NULL))) {
        dnnl_primitive_destroy(prim);
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
    }
    pl->values[to].first = pl->n_steps - 1;
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

static enum ond_status plan_node(struct ond_session *s, struct plan *pl, const struct ond_node *n,
                                 const struct ond_info *const *in, const struct ond_info *out,
                                 struct ond_error *err)
{
    enum ond_status st = OND_OK;
    if (n->n_in > OND_PREP_MAX_IN && n->op->prepare)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "too many inputs");
    if (n->op->prepare && n->n_in <= OND_PREP_MAX_IN) {
        struct ond_prep p;
        memset(&p, 0, sizeof p);
        p.node = n;
        p.engine = s->engine;
        p.in = in;
        p.out = out;
        p.sum_input = -1;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] && !in[k]->data)
                p.in_md[k] = &pl->values[pl->tensor_value[n->in[k]->id]].md;
        if ((st = n->op->prepare(&p, err))) {
            if (p.prim)
                dnnl_primitive_destroy(p.prim);
            for (int i = 0; i < p.n_mem; i++)
                dnnl_memory_destroy(p.mem[i]);
            return st;
        }
        int in_val[OND_PREP_MAX_IN], out_val[OND_PREP_MAX_OUT];
        for (int k = 0; k < n->n_in && !st; k++) {
            in_val[k] = -1;
            if (!p.in_md[k])
                continue;
            int v = pl->tensor_value[n->in[k]->id];
            if (p.want_md[k].ndims)
                st = as_layout(s, pl, v, &p.want_md[k], &v, err);
            in_val[k] = v;
        }
        /* A sum post-op accumulates into the output: it starts as a copy of the addend. */
        struct step *copy = NULL;
        if (!st && p.sum_input >= 0) {
            int v = in_val[p.sum_input];
            if (v < 0 || (st = as_layout(s, pl, v, &p.out_md[0], &in_val[p.sum_input], err)))
                st = st ? st : ond_node_fail(err, n, OND_STATUS_UNSUPPORTED,
                                             "sum post-op on a constant");
            else if (!(copy = new_step(pl, STEP_COPY, n)) || !alloc_eval(copy, 1, 1))
                st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
        }
        struct step *step = NULL;
        for (int k = 0; k < n->n_out && !st; k++) {
            if (!new_value(pl, &p.out_md[k], &out_val[k]))
                st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
            else if (n->out[k])
                pl->tensor_value[n->out[k]->id] = out_val[k];
        }
        if (!st && copy) {
            copy->in_value[0] = in_val[p.sum_input];
            copy->out_value[0] = out_val[0];
            pl->values[out_val[0]].first = (int)(copy - pl->steps);
            use_value(pl, in_val[p.sum_input]);
        }
        if (!st && !(step = new_step(pl, STEP_PRIM, n)))
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
        if (st) {
            dnnl_primitive_destroy(p.prim);
            for (int i = 0; i < p.n_mem; i++)
                dnnl_memory_destroy(p.mem[i]);
            return st;
        }
        step->prim = p.prim;
        memcpy(step->impl, p.impl, sizeof step->impl);
        memcpy(step->mem, p.mem, sizeof p.mem);
        step->n_mem = p.n_mem;
        step->n_args = p.n_args;
        for (int a = 0; a < p.n_args; a++) {
            const struct ond_arg *arg = &p.args[a];
            step->arg_id[a] = arg->dnnl_arg;
            step->arg_value[a] = -1;
            if (arg->kind == OND_ARG_IN) {
                step->arg_value[a] = in_val[arg->index];
                use_value(pl, in_val[arg->index]);
            } else if (arg->kind == OND_ARG_OUT) {
                step->arg_value[a] = out_val[arg->index];
            } else {
                step->arg_mem[a] = p.mem[arg->index];
            }
        }
        if (p.scratch_bytes > pl->scratch_size)
            pl->scratch_size = p.scratch_bytes;
        return OND_OK;
    }
    /* Plain-C fallback: plain inputs, plain outputs. */
    int in_val[n->n_in > 0 ? n->n_in : 1];
    for (int k = 0; k < n->n_in && !st; k++) {
        in_val[k] = -1;
        if (n->in[k] && !in[k]->data)
            st = plain_value(s, pl, pl->tensor_value[n->in[k]->id], in[k], &in_val[k], err);
    }
    struct step *step = NULL;
    if (!st && (!(step = new_step(pl, STEP_EVAL, n)) || !alloc_eval(step, n->n_in, n->n_out)))
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
    for (int k = 0; k < n->n_in && !st; k++) {
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
        if (!new_value(pl, &md, &step->out_value[k]))
            st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
        else if (n->out[k])
            pl->tensor_value[n->out[k]->id] = step->out_value[k];
    }
    return st;
}

/* Places values in the arena by liveness: each takes the lowest offset free over its
 * lifetime (values are few hundred, so the quadratic scan is cheap). */
static void place(struct plan *pl)
{
    size_t top = 0;
    for (int i = 0; i < pl->n_values; i++) {
        struct value *v = &pl->values[i];
        if (v->input)
            continue;
        size_t size = (v->size + 63) / 64 * 64, off = 0;
        for (bool moved = true; moved;) {
            moved = false;
            for (int j = 0; j < i; j++) {
                const struct value *u = &pl->values[j];
                if (u->input || u->last < v->first || v->last < u->first)
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
    free(pl->output_value);
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

static enum ond_status build_plan(struct ond_session *s, const struct ond_value *inputs,
                                  struct plan **out, struct ond_error *err)
{
    struct ond_graph *g = s->model->graph;
    enum ond_status st = OND_OK;
    int nt = g->n_tensors;
    struct plan *pl = calloc(1, sizeof *pl);
    const struct ond_info **in = NULL;
    struct ond_info *oi = NULL;
    if (!pl || !(pl->info = calloc((size_t)nt + 1, sizeof *pl->info)) ||
        !(pl->known = calloc((size_t)nt + 2, sizeof *pl->known)) ||
        !(pl->tensor_value = calloc((size_t)nt + 1, sizeof *pl->tensor_value)) ||
        !(pl->output_value = calloc((size_t)g->n_outputs + 1, sizeof *pl->output_value)) ||
        !(pl->input_info = calloc((size_t)g->n_inputs + 1, sizeof *pl->input_info))) {
        free_plan(pl);
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate a plan");
    }
    pl->n_tensors = nt;
    pl->n_inputs = g->n_inputs;
    for (int i = 0; i < nt; i++) {
        pl->info[i] = g->tensors[i]->info;
        if (!(g->tensors[i]->flags & OND_TENSOR_CONST))
            pl->info[i].data = NULL;
        pl->tensor_value[i] = -1;
    }
    for (int i = 0; i < g->n_inputs && !st; i++) {
        struct ond_tensor *t = g->inputs[i];
        struct ond_info *info = &pl->info[t->id];
        info->rank = inputs[i].rank;
        memcpy(info->dims, inputs[i].dims, sizeof(int64_t) * (size_t)inputs[i].rank);
        pl->input_info[i] = *info;
        dnnl_memory_desc_t md;
        int v;
        if (!(st = ond_md(info, true, &md, err))) {
            if (!new_value(pl, &md, &v)) {
                st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
            } else {
                pl->values[v].input = true;
                pl->values[v].input_index = i;
                pl->tensor_value[t->id] = v;
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
        if (known)
            st = plan_eval(g, pl, n, in, oi, err);
        else
            st = plan_node(s, pl, n, in, oi, err);
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
    for (int i = 0; i < g->n_outputs && !st; i++) {
        const struct ond_tensor *t = g->outputs[i];
        pl->output_value[i] = -1;
        if (pl->info[t->id].data)
            continue;
        st = plain_value(s, pl, pl->tensor_value[t->id], &pl->info[t->id], &pl->output_value[i],
                         err);
        if (!st)
            pl->values[pl->output_value[i]].last = INT32_MAX;
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
    for (int i = 0; i < pl->n_values && !st; i++) {
        struct value *v = &pl->values[i];
        void *h = v->input ? NULL : (char *)pl->arena + v->offset;
        st = ond_dnnl(dnnl_memory_create(&v->mem, &v->md, s->engine, h ? h : DNNL_MEMORY_NONE),
                      "memory_create", NULL, err);
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
            if (sp->in_value[k] >= 0 && !pl->values[sp->in_value[k]].input)
                sp->in_info[k].data = (char *)pl->arena + pl->values[sp->in_value[k]].offset;
            else if (sp->node && sp->node->in[k] && sp->in_value[k] < 0)
                sp->in_info[k].data = pl->info[sp->node->in[k]->id].data;
            sp->in_ptr[k] = sp->node && sp->kind == STEP_EVAL && !sp->node->in[k] ? NULL
                                                                                  : &sp->in_info[k];
        }
        for (int k = 0; k < sp->n_out; k++)
            sp->out_data[k] = (char *)pl->arena + pl->values[sp->out_value[k]].offset;
    }
    if (st) {
        free_plan(pl);
        return st;
    }
    *out = pl;
    return OND_OK;
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
    if (s->opts.precision != OND_PRECISION_FP32) {
        free(s);
        return ond_fail(err, OND_STATUS_UNSUPPORTED, "only fp32 precision is available");
    }
    pthread_mutex_init(&s->lock, NULL);
    enum ond_status st = ond_dnnl(dnnl_engine_create(&s->engine, dnnl_cpu, 0), "engine_create",
                                  NULL, err);
    if (!st)
        st = ond_dnnl(dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags),
                      "stream_create", NULL, err);
    if (st) {
        ond_session_free(s);
        return st;
    }
    *out = s;
    return OND_OK;
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
    free(s);
}

static struct plan *find_plan(struct ond_session *s, const struct ond_value *inputs)
{
    for (struct plan *p = s->plans; p; p = p->next) {
        bool same = true;
        for (int i = 0; i < p->n_inputs && same; i++)
            same = p->input_info[i].rank == inputs[i].rank &&
                   memcmp(p->input_info[i].dims, inputs[i].dims,
                          sizeof(int64_t) * (size_t)inputs[i].rank) == 0;
        if (same)
            return p;
    }
    return NULL;
}

static void set_ftz(bool on)
{
    unsigned csr = _mm_getcsr();
    csr = on ? csr | 0x8040u : csr & ~0x8040u; /* FTZ (bit 15) and DAZ (bit 6) */
    _mm_setcsr(csr);
}

static enum ond_status execute(struct ond_session *s, struct plan *pl,
                               const struct ond_value *inputs, struct ond_error *err)
{
    for (int i = 0; i < pl->n_values; i++)
        if (pl->values[i].input)
            dnnl_memory_set_data_handle(pl->values[i].mem,
                                        inputs[pl->values[i].input_index].data);
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
            if (st)
                return st;
            continue;
        }
        /* Eval and copy steps read inputs that may be the caller's. */
        for (int k = 0; k < sp->n_in; k++)
            if (sp->in_value[k] >= 0 && pl->values[sp->in_value[k]].input)
                sp->in_info[k].data = inputs[pl->values[sp->in_value[k]].input_index].data;
        if (sp->kind == STEP_COPY) {
            const void *src = sp->in_info[0].data;
            if (!src)
                src = (char *)pl->arena + pl->values[sp->in_value[0]].offset;
            memcpy(sp->out_data[0], src, pl->values[sp->out_value[0]].size);
            continue;
        }
        for (int k = 0; k < sp->n_out; k++)
            memset(sp->out_data[k], 0, pl->values[sp->out_value[k]].size);
        enum ond_status st = sp->node->op->eval(sp->node, sp->in_ptr, sp->out_info, sp->out_data,
                                                err);
        if (st)
            return st;
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

enum ond_status ond_session_run(struct ond_session *s, const struct ond_value *inputs,
                                size_t n_inputs, struct ond_value *outputs, size_t n_outputs,
                                struct ond_error *err)
{
    if (!s || (n_inputs && !inputs) || (n_outputs && !outputs))
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "ond_session_run: NULL argument");
    const struct ond_graph *g = s->model->graph;
    if (n_outputs != (size_t)g->n_outputs)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "the model has %d outputs, got %zu",
                        g->n_outputs, n_outputs);
    struct ond_value *bound = calloc((size_t)g->n_inputs + 1, sizeof *bound);
    if (!bound)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
    enum ond_status st = bind_inputs(g, inputs, n_inputs, bound, err);
    pthread_mutex_lock(&s->lock);
    struct plan *pl = st ? NULL : find_plan(s, bound);
    if (!st && !pl && !(st = build_plan(s, bound, &pl, err))) {
        pl->next = s->plans;
        s->plans = pl;
    }
    if (!st) {
        int threads = s->opts.threads > 0 ? s->opts.threads : omp_get_num_procs();
        omp_set_num_threads(threads);
        bool ftz = !s->opts.no_ftz;
        /* The calling thread computes too: its floating-point modes are restored after. */
        unsigned caller_csr = _mm_getcsr();
#pragma omp parallel num_threads(threads)
        set_ftz(ftz);
        st = execute(s, pl, bound, err);
        _mm_setcsr(caller_csr);
    }
    for (int i = 0; i < g->n_outputs && !st; i++) {
        const struct ond_tensor *t = g->outputs[i];
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
        const void *src = pl->output_value[i] < 0
                              ? info->data
                              : (char *)pl->arena + pl->values[pl->output_value[i]].offset;
        memcpy(o->data, src, bytes);
    }
    pthread_mutex_unlock(&s->lock);
    free(bound);
    return st;
}

enum ond_status ond_session_output_shapes(struct ond_session *s, const struct ond_value *inputs,
                                          size_t n_inputs, struct ond_value *outputs,
                                          struct ond_error *err)
{
    const struct ond_graph *g = s->model->graph;
    struct ond_value *bound = calloc((size_t)g->n_inputs + 1, sizeof *bound);
    if (!bound)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
    enum ond_status st = bind_inputs(g, inputs, n_inputs, bound, err);
    pthread_mutex_lock(&s->lock);
    struct plan *pl = st ? NULL : find_plan(s, bound);
    if (!st && !pl && !(st = build_plan(s, bound, &pl, err))) {
        pl->next = s->plans;
        s->plans = pl;
    }
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
