/* plan.c: plans for concrete input shapes (runtime/plan.h): building one over the graph
 * (shapes inferred again, nodes known at planning computed, the others planned by planner.c),
 * contexts (what one run writes: arena, scratchpad, memory objects, stream), and the session's
 * plan cache, bounded by max_plan_cache_bytes, least recently used out first. */
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
#include "runtime/tune.h"

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

void ond_plan_free(struct plan *pl)
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
    }
    for (struct ctx *c = pl->idle, *next; c; c = next) {
        next = c->next;
        ond_plan_free_ctx(pl, c);
    }
    free(pl->values);
    free(pl->steps);
    free(pl->info);
    free(pl->tensor_value);
    free(pl->last_read);
    free(pl->output_value);
    free(pl->outs);
    free(pl->input_info);
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
    ond_trace(NULL);
    if (!pl || !(pl->info = calloc((size_t)nt + 1, sizeof *pl->info)) ||
        !(pl->known = calloc((size_t)nt + 2, sizeof *pl->known)) ||
        !(pl->tensor_value = calloc((size_t)nt + 1, sizeof *pl->tensor_value)) ||
        !(pl->last_read = calloc((size_t)nt + 1, sizeof *pl->last_read)) ||
        !(pl->output_value = calloc((size_t)nt + 1, sizeof *pl->output_value)) ||
        !(pl->outs = calloc((size_t)nt + 1, sizeof *pl->outs)) ||
        !(pl->input_info = calloc((size_t)(g->n_inputs + g->n_defaults) + 1,
                                  sizeof *pl->input_info))) {
        ond_plan_free(pl);
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate a plan");
    }
    pl->n_tensors = nt;
    pl->n_inputs = g->n_inputs + g->n_defaults;
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
    for (int i = 0; i < pl->n_inputs && !st; i++) {
        struct ond_tensor *t = i < g->n_inputs ? g->inputs[i] : g->defaults[i - g->n_inputs];
        struct ond_info *info = &pl->info[t->id];
        info->rank = inputs[i].rank;
        memcpy(info->dims, inputs[i].dims, sizeof(int64_t) * (size_t)inputs[i].rank);
        pl->input_info[i] = *info;
        dnnl_memory_desc_t md;
        int v;
        /* The plan knows the values of shape operands, so shapes that depend on them are
         * concrete, and of defaults, which primitives take as constants (weights); plans are
         * cached by those values. A default the caller left is the model's. */
        if (i >= g->n_inputs && inputs[i].data == t->dflt) {
            info->data = pl->input_info[i].data = t->dflt;
        } else if (s->shape_operand[i]) {
            size_t bytes = ond_info_bytes(info);
            if (!(pl->known[t->id] = ond_aligned_alloc(bytes))) {
                st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
                break;
            }
            memcpy(pl->known[t->id], inputs[i].data, bytes);
            info->data = pl->input_info[i].data = pl->known[t->id];
        } else if (!(st = ond_md(info, true, &md, err))) {
            if (!ond_plan_new_value(pl, &md, &v)) {
                st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the plan");
            } else {
                pl->values[v].input = true;
                pl->values[v].input_index = i;
                ond_plan_bind_tensor(pl, t, v);
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
            if (in[k] && !in[k]->data && !n->op->dims_only)
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
            st = ond_plan_eval(g, pl, n, in, oi, err);
        else
            st = ond_plan_node(s, pl, n, i, in, oi, err);
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
        st = ond_plan_plain_value(s, pl, pl->tensor_value[t->id], &pl->info[t->id],
                                  &pl->output_value[i], err);
        pl->n_output_reorders += pl->n_steps - steps;
        if (!st)
            pl->values[pl->values[pl->output_value[i]].root].last = INT32_MAX;
    }
    if (!st) {
        place(pl);
        st = ond_plan_budget(g, pl, (uint64_t)pl->arena_size + pl->scratch_size,
                         "activations and scratchpad", err);
    }
    /* Eval steps point at their constant inputs once; a context gives the rest per run. */
    for (int i = 0; i < pl->n_steps && !st; i++) {
        struct step *sp = &pl->steps[i];
        for (int k = 0; k < sp->n_mem; k++) {
            const dnnl_memory_desc_t *md;
            if (dnnl_memory_get_memory_desc(sp->mem[k], &md) == dnnl_success)
                pl->weight_bytes += dnnl_memory_desc_get_size(md);
        }
        if (sp->kind == STEP_PRIM)
            continue;
        pl->max_args = sp->n_in > pl->max_args ? sp->n_in : pl->max_args;
        pl->max_args = sp->n_out > pl->max_args ? sp->n_out : pl->max_args;
        for (int k = 0; k < sp->n_in; k++) {
            if (sp->node && sp->node->in[k] && sp->in_value[k] < 0)
                sp->in_info[k].data = pl->info[sp->node->in[k]->id].data;
            sp->in_ptr[k] = sp->node && sp->kind == STEP_EVAL && !sp->node->in[k] ? NULL
                                                                                  : &sp->in_info[k];
        }
    }
    free(s->stage.buf);
    s->stage = (struct ond_stage){NULL, 0};
    if (st) {
        ond_plan_free(pl);
        return st;
    }
    *out = pl;
    ond_trace("plan");
    return OND_OK;
}

void ond_plan_free_ctx(const struct plan *pl, struct ctx *c)
{
    if (!c)
        return;
    for (int i = 0; c->mem && i < pl->n_values; i++)
        if (c->mem[i])
            dnnl_memory_destroy(c->mem[i]);
    if (c->scratch_mem)
        dnnl_memory_destroy(c->scratch_mem);
    if (c->stream)
        dnnl_stream_destroy(c->stream);
    free(c->mem);
    free(c->arena);
    free(c->scratch);
    free(c->in_info);
    free(c->in_ptr);
    free(c->out_data);
    free(c);
}

/* A context for running pl. Graph inputs, and views of them, get the caller's buffer at
 * each run. */
static enum ond_status new_ctx(struct ond_session *s, const struct plan *pl, struct ctx **out,
                               struct ond_error *err)
{
    struct ctx *c = calloc(1, sizeof *c);
    size_t w = (size_t)pl->max_args + 1;
    if (!c || !(c->mem = calloc((size_t)pl->n_values + 1, sizeof *c->mem)) ||
        !(c->arena = ond_aligned_alloc(pl->arena_size)) ||
        !(c->scratch = ond_aligned_alloc(pl->scratch_size)) ||
        !(c->in_info = calloc(w, sizeof *c->in_info)) ||
        !(c->in_ptr = calloc(w, sizeof *c->in_ptr)) ||
        !(c->out_data = calloc(w, sizeof *c->out_data))) {
        ond_plan_free_ctx(pl, c);
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate %zu bytes of activations",
                        pl->arena_size);
    }
    enum ond_status st = ond_dnnl(dnnl_stream_create(&c->stream, s->engine,
                                                     dnnl_stream_default_flags),
                                  "stream_create", NULL, err);
    for (int i = 0; i < pl->n_values && !st; i++) {
        void *h = pl->values[pl->values[i].root].input ? DNNL_MEMORY_NONE
                                                        : value_data(pl, c->arena, i, NULL);
        st = ond_dnnl(dnnl_memory_create(&c->mem[i], &pl->values[i].md, s->engine, h),
                      "memory_create", NULL, err);
    }
    if (!st && pl->scratch_size) {
        dnnl_memory_desc_t md;
        dnnl_dims_t d = {(dnnl_dim_t)pl->scratch_size};
        st = ond_dnnl(dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_u8, dnnl_a), "scratchpad md",
                      NULL, err);
        if (!st)
            st = ond_dnnl(dnnl_memory_create(&c->scratch_mem, &md, s->engine, c->scratch),
                          "memory_create", NULL, err);
    }
    if (st) {
        ond_plan_free_ctx(pl, c);
        return st;
    }
    *out = c;
    return OND_OK;
}

static struct plan *find_plan(struct ond_session *s, const struct ond_value *inputs)
{
    for (struct plan *p = s->plans; p; p = p->next) {
        bool same = true;
        for (int i = 0; i < p->n_inputs && same; i++) {
            const struct ond_info *pi = &p->input_info[i];
            same = pi->rank == inputs[i].rank &&
                   memcmp(pi->dims, inputs[i].dims, sizeof(int64_t) * (size_t)pi->rank) == 0 &&
                   (!pi->data || pi->data == inputs[i].data ||
                    memcmp(pi->data, inputs[i].data, ond_info_bytes(pi)) == 0);
        }
        if (same)
            return p;
    }
    return NULL;
}

/* What a plan holds against max_plan_cache_bytes: pl->bytes counts one context's activations
 * and scratchpad. */
static uint64_t plan_bytes(const struct plan *pl)
{
    uint64_t per_ctx = (uint64_t)pl->arena_size + pl->scratch_size;
    return pl->bytes + pl->weight_bytes + (pl->n_ctx > 1 ? (uint64_t)(pl->n_ctx - 1) * per_ctx : 0);
}

/* While the plans hold more than max_plan_cache_bytes, frees the least recently used one
 * that no call holds, never the most recent; the caller holds s->lock. */
static void trim_plans(struct ond_session *s)
{
    uint64_t limit = s->opts.max_plan_cache_bytes, total = 0;
    for (struct plan *p = s->plans; p; p = p->next)
        total += plan_bytes(p);
    while (limit && total > limit) {
        struct plan **victim = NULL;
        for (struct plan **p = &s->plans; *p; p = &(*p)->next)
            if (*p != s->plans && !(*p)->users)
                victim = p;
        if (!victim)
            return;
        struct plan *v = *victim;
        *victim = v->next;
        ond_trace_note("plan evicted: %llu bytes; the session's plans held %llu, over "
                       "max_plan_cache_bytes %llu", (unsigned long long)plan_bytes(v),
                       (unsigned long long)total, (unsigned long long)limit);
        total -= plan_bytes(v);
        s->n_ctx -= v->n_ctx;
        ond_plan_free(v);
        pthread_cond_broadcast(&s->ctx_freed);
    }
}

/* The cached plan for inputs, held and moved to the front, or NULL; the caller holds s->lock. */
static struct plan *hold_plan(struct ond_session *s, const struct ond_value *inputs)
{
    struct plan *pl = find_plan(s, inputs), **at = &s->plans;
    if (!pl)
        return NULL;
    while (*at != pl)
        at = &(*at)->next;
    *at = pl->next;
    pl->next = s->plans;
    s->plans = pl;
    pl->users++;
    return pl;
}

int ond_plan_threads(const struct ond_session *s)
{
    return s->opts.threads > 0 ? s->opts.threads : omp_get_num_procs();
}

/* With tuning: chooses along the chain of convolutions just planned and plans again when the
 * choices differ from what *pl ran (once: the second planning runs the choices). */
static enum ond_status replan_tuned(struct ond_session *s, const struct ond_value *bound,
                                    struct plan **pl, struct ond_error *err)
{
    bool again = false;
    enum ond_status st = ond_tune_end(s->tune, &again, err);
    if (!st && again) {
        ond_plan_free(*pl);
        *pl = NULL;
        ond_tune_begin(s->tune, true);
        if (!(st = build_plan(s, bound, pl, err)))
            st = ond_tune_end(s->tune, NULL, err);
    }
    if (st && *pl) {
        ond_plan_free(*pl);
        *pl = NULL;
    }
    return st;
}

/* The plan for the inputs' shapes (and shape operands' values), held until ond_plan_put: cached,
 * or built. Building holds s->build, so that two calls that miss at once build it once. */
enum ond_status ond_plan_get(struct ond_session *s, const struct ond_value *bound,
                             struct plan **out, struct ond_error *err)
{
    pthread_mutex_lock(&s->lock);
    struct plan *pl = hold_plan(s, bound);
    pthread_mutex_unlock(&s->lock);
    enum ond_status st = OND_OK;
    if (!pl) {
        pthread_mutex_lock(&s->build);
        pthread_mutex_lock(&s->lock);
        pl = hold_plan(s, bound);
        pthread_mutex_unlock(&s->lock);
        if (!pl) {
            /* Kernels are chosen for the thread count at hand when primitives are created
             * (oneDNN reads the calling thread's OpenMP setting): plan with the run's, so
             * that a plan built in any thread computes bitwise the same. */
            int host_threads = omp_get_max_threads();
            omp_set_num_threads(ond_plan_threads(s));
            ond_tune_begin(s->tune, false);
            if (!(st = build_plan(s, bound, &pl, err)))
                st = replan_tuned(s, bound, &pl, err);
            omp_set_num_threads(host_threads);
            if (!st) {
                pthread_mutex_lock(&s->lock);
                pl->next = s->plans;
                s->plans = pl;
                pl->users = 1;
                s->plans_built++;
                trim_plans(s);
                pthread_mutex_unlock(&s->lock);
            }
        }
        pthread_mutex_unlock(&s->build);
    }
    /* A shape operand the caller gave can make a valid model fail planning. */
    const struct ond_graph *g = s->model->graph;
    for (int i = 0; st == OND_STATUS_INVALID_MODEL && i < g->n_inputs; i++)
        if (s->shape_operand[i]) {
            st = err ? (err->status = OND_STATUS_INVALID_INPUT) : OND_STATUS_INVALID_INPUT;
            ond_error_prefix(err, "with the values of input '%s': ", g->inputs[i]->name);
        }
    *out = st ? NULL : pl;
    return st;
}

int ond_session_plans_built(struct ond_session *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->plans_built;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Gives back a plan held by ond_plan_get (NULL: none). */
void ond_plan_put(struct ond_session *s, struct plan *pl)
{
    if (!pl)
        return;
    pthread_mutex_lock(&s->lock);
    pl->users--;
    trim_plans(s);
    pthread_mutex_unlock(&s->lock);
}

/* Gives back a context of pl that ond_plan_take_ctx gave (NULL: none). */
void ond_plan_put_ctx(struct ond_session *s, struct plan *pl, struct ctx *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&s->lock);
    c->next = pl->idle;
    pl->idle = c;
    pthread_cond_broadcast(&s->ctx_freed);
    pthread_mutex_unlock(&s->lock);
}

/* A context to run the held plan pl in: an idle one, or a new one while the session has fewer
 * than max_concurrent_runs (idle ones of other plans are freed to make room); else waits for
 * a run to give one back. */
enum ond_status ond_plan_take_ctx(struct ond_session *s, struct plan *pl, struct ctx **out,
                                  struct ond_error *err)
{
    int max = s->opts.max_concurrent_runs > 0 ? s->opts.max_concurrent_runs
                                              : omp_get_num_procs();
    pthread_mutex_lock(&s->lock);
    while (!pl->idle && s->n_ctx >= max) {
        struct plan *p = s->plans;
        while (p && !p->idle)
            p = p->next;
        if (p) {
            struct ctx *c = p->idle;
            p->idle = c->next;
            p->n_ctx--;
            s->n_ctx--;
            ond_plan_free_ctx(p, c);
        } else {
            pthread_cond_wait(&s->ctx_freed, &s->lock);
        }
    }
    if ((*out = pl->idle)) {
        pl->idle = (*out)->next;
        pthread_mutex_unlock(&s->lock);
        return OND_OK;
    }
    s->n_ctx++;
    pl->n_ctx++;
    pthread_mutex_unlock(&s->lock);
    enum ond_status st = new_ctx(s, pl, out, err);
    if (st) {
        pthread_mutex_lock(&s->lock);
        s->n_ctx--;
        pl->n_ctx--;
        pthread_cond_broadcast(&s->ctx_freed);
        pthread_mutex_unlock(&s->lock);
    }
    return st;
}
