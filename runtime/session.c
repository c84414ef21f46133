/* session.c: sessions: creating one, and running it (binding inputs, taking a plan and a
 * context, executing the steps, copying outputs). The planner is runtime/planner.c, plans and
 * their cache runtime/plan.c, introspection runtime/profile.c; what they share, plan.h.
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
 * (the inputs whose values decide shapes, found by runtime/shape_operands.c, are known at
 * planning instead: plans are cached by their values); outputs are copied out in plain
 * layout. Plans are kept, least recently used first out, within max_plan_cache_bytes.
 *
 * int8 sessions: the model's activations are calibrated first (runtime/calibrate.c: an f32
 * session that observes every activation); each value then carries its tensor's scale, and
 * reorders between f32 and s8/u8 convert with it (the contract is in runtime/exec.h).
 *
 * Concurrent runs: a plan is read-only once built; what a run writes (the arena, the
 * scratchpad, oneDNN memory objects and a stream) is a context, taken from the plan's idle
 * ones or made for it, at most max_concurrent_runs per session. The session's lock guards the
 * plan list and the contexts, briefly; building a plan holds another lock, so that two first
 * runs for one shape build it once while runs of other plans go on. Once a plan has as many
 * contexts as it has concurrent callers, nothing is allocated or created while running.
 *
 * A run leaves no trace on its host: OpenMP's thread count is set for the call and restored,
 * and flush-to-zero is set in each OpenMP thread for the run and restored in it after.
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
#include "runtime/plan.h"
#include "runtime/reference.h"
#include "runtime/tune.h"

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

enum ond_status ond_session_create_scaled(const struct ond_model *model,
                                          const struct ond_options *opts, float *qscale,
                                          bool *qunsigned, struct ond_session **out,
                                          struct ond_error *err)
{
    if (!model || !out) {
        free(qscale);
        free(qunsigned);
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "ond_session_create: NULL argument");
    }
    *out = NULL;
    struct ond_session *s = calloc(1, sizeof *s);
    if (!s || model->graph->unsupported) {
        free(s);
        free(qscale);
        free(qunsigned);
        return model->graph->unsupported
                   ? ond_fail(err, OND_STATUS_UNSUPPORTED, "the model has unsupported ops: %s",
                              model->graph->unsupported)
                   : ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate a session");
    }
    s->model = model;
    s->qscale = qscale;
    s->qunsigned = qunsigned;
    if (opts)
        s->opts = *opts;
    else
        ond_options_init(&s->opts);
    enum ond_status pst = check_precision(model, s->opts.precision, err);
    if (pst) {
        free(s->qscale);
        free(s->qunsigned);
        free(s);
        return pst;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->build, NULL);
    pthread_cond_init(&s->ctx_freed, NULL);
    enum ond_status st = OND_OK;
    if (!(s->shape_operand = ond_shape_operands(model->graph)))
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate a session");
    if (!st)
        st = ond_dnnl(dnnl_engine_create(&s->engine, dnnl_cpu, 0), "engine_create", NULL, err);
    if (!st)
        st = ond_dnnl(dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags),
                      "stream_create", NULL, err);
    if (!st)
        st = ond_tune_open(&s->opts, ond_plan_threads(s), &s->tune, err);
    s->opts.tune_cache = NULL; /* the caller's string: read once, here */
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
    o.tune = 0; /* observers plan with the defaults */
    o.tune_cache = NULL;
    enum ond_status st = ond_session_create_scaled(model, &o, NULL, NULL, out, err);
    if (!st)
        (*out)->observe = true;
    return st;
}

double ond_session_tune_ms(const struct ond_session *s)
{
    return ond_tune_ms(s->tune);
}

void ond_session_free(struct ond_session *s)
{
    if (!s)
        return;
    for (struct plan *p = s->plans, *next; p; p = next) {
        next = p->next;
        ond_plan_free(p);
    }
    if (s->stream)
        dnnl_stream_destroy(s->stream);
    if (s->engine)
        dnnl_engine_destroy(s->engine);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->build);
    pthread_cond_destroy(&s->ctx_freed);
    ond_tune_free(s->tune);
    free(s->shape_operand);
    free(s->qscale);
    free(s->qunsigned);
    free(s);
}

/* Each thread of a run's OpenMP team keeps its own floating-point modes here while the run
 * sets flush-to-zero (or clears it, no_ftz) for ondine's work; fp_leave restores them. The
 * OpenMP runtime runs a thread's parallel regions of one size on the same pool threads, so
 * oneDNN's regions in between run on threads fp_enter set. */
static _Thread_local unsigned saved_csr;
static _Thread_local bool csr_saved;

static void fp_enter(bool ftz)
{
    saved_csr = _mm_getcsr();
    csr_saved = true;
    /* FTZ (bit 15) and DAZ (bit 6) */
    _mm_setcsr(ftz ? saved_csr | 0x8040u : saved_csr & ~0x8040u);
}

static void fp_leave(void)
{
    if (csr_saved)
        _mm_setcsr(saved_csr);
    csr_saved = false;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs the steps in context c; with step_ms, waits after each step and records its time
 * (profiling). */
static enum ond_status execute(struct plan *pl, struct ctx *c, const struct ond_value *inputs,
                               double *step_ms, struct ond_error *err)
{
    double t = step_ms ? now_ms() : 0;
    for (int i = 0; i < pl->n_values; i++)
        if (pl->values[pl->values[i].root].input)
            dnnl_memory_set_data_handle(c->mem[i], value_data(pl, c->arena, i, inputs));
    for (int i = 0; i < pl->n_steps; i++) {
        struct step *sp = &pl->steps[i];
        enum ond_status st = OND_OK;
        if (sp->kind == STEP_PRIM) {
            dnnl_exec_arg_t args[OND_PREP_MAX_ARGS + 1];
            int na = 0;
            for (int a = 0; a < sp->n_args; a++) {
                args[na].arg = sp->arg_id[a];
                args[na++].memory = sp->arg_value[a] >= 0 ? c->mem[sp->arg_value[a]]
                                                          : sp->arg_mem[a];
            }
            if (c->scratch_mem) {
                args[na].arg = DNNL_ARG_SCRATCHPAD;
                args[na++].memory = c->scratch_mem;
            }
            st = ond_dnnl(dnnl_primitive_execute(sp->prim, c->stream, na, args),
                          "primitive_execute", sp->node, err);
            if (!st && step_ms)
                st = ond_dnnl(dnnl_stream_wait(c->stream), "stream_wait", sp->node, err);
        } else {
            /* Eval and copy steps get their buffers in this context. */
            for (int k = 0; k < sp->n_in; k++) {
                c->in_info[k] = sp->in_info[k];
                if (sp->in_value[k] >= 0)
                    c->in_info[k].data = value_data(pl, c->arena, sp->in_value[k], inputs);
                c->in_ptr[k] = sp->in_ptr[k] ? &c->in_info[k] : NULL;
            }
            for (int k = 0; k < sp->n_out; k++) {
                c->out_data[k] = value_data(pl, c->arena, sp->out_value[k], inputs);
                if (sp->kind == STEP_EVAL)
                    memset(c->out_data[k], 0, pl->values[sp->out_value[k]].size);
            }
            if (sp->kind == STEP_COPY)
                memcpy(c->out_data[0], c->in_info[0].data, pl->values[sp->out_value[0]].size);
            else
                st = sp->node->op->eval(sp->node, c->in_ptr, sp->out_info, c->out_data, err);
        }
        if (st)
            return st;
        if (step_ms) {
            double now = now_ms();
            step_ms[i] = now - t;
            t = now;
        }
    }
    return ond_dnnl(dnnl_stream_wait(c->stream), "stream_wait", NULL, err);
}

/* execute on the session's thread count and floating-point modes, leaving the host's as
 * they were (ondine.h). */
static enum ond_status execute_hosted(struct ond_session *s, struct plan *pl, struct ctx *c,
                                      const struct ond_value *inputs, double *step_ms,
                                      struct ond_error *err)
{
    int threads = ond_plan_threads(s), host_threads = omp_get_max_threads();
    bool ftz = !s->opts.no_ftz;
    omp_set_num_threads(threads);
#pragma omp parallel num_threads(threads)
    fp_enter(ftz);
    enum ond_status st = execute(pl, c, inputs, step_ms, err);
#pragma omp parallel num_threads(threads)
    fp_leave();
    omp_set_num_threads(host_threads);
    return st;
}

/* Orders the caller's inputs as the graph's, then its defaults (the model's value where the
 * caller gives none), and checks each. */
static enum ond_status bind_inputs(const struct ond_graph *g, const struct ond_value *inputs,
                                   size_t n_inputs, struct ond_value *bound,
                                   struct ond_error *err)
{
    if (n_inputs < (size_t)g->n_inputs || n_inputs > (size_t)(g->n_inputs + g->n_defaults))
        return ond_fail(err, OND_STATUS_INVALID_INPUT, "the model takes %d input%s%s, got %zu",
                        g->n_inputs, g->n_inputs == 1 ? "" : "s",
                        g->n_defaults ? " (and initializers it lists as inputs)" : "", n_inputs);
    size_t given = 0;
    for (int i = 0; i < g->n_inputs + g->n_defaults; i++) {
        const struct ond_tensor *t = i < g->n_inputs ? g->inputs[i] : g->defaults[i - g->n_inputs];
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
        if (!v && i >= g->n_inputs) {
            bound[i] = (struct ond_value){.name = t->name, .dtype = t->info.dtype,
                                          .rank = t->info.rank, .data = (void *)t->dflt,
                                          .size = ond_info_bytes(&t->info)};
            memcpy(bound[i].dims, t->info.dims, sizeof(int64_t) * (size_t)t->info.rank);
            continue;
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
        given++;
    }
    for (size_t k = 0; given < n_inputs && k < n_inputs; k++) {
        const struct ond_tensor *t = ond_graph_find_tensor(g, inputs[k].name);
        if (!t || !(t->flags & OND_TENSOR_INPUT))
            return ond_fail(err, OND_STATUS_INVALID_INPUT, "'%s' is not an input of the model",
                            inputs[k].name);
    }
    return OND_OK;
}

/* The prologue of every call that needs a plan: binds the caller's inputs (*bound, freed by
 * the caller), then finds or builds the plan for them, held (the caller gives it back with
 * ond_plan_put, also on failure). */
enum ond_status ond_plan_for(struct ond_session *s, const struct ond_value *inputs, size_t n_inputs,
                             struct ond_value **bound, struct plan **pl, struct ond_error *err)
{
    const struct ond_graph *g = s->model->graph;
    enum ond_status st = OND_OK;
    *pl = NULL;
    if (!(*bound = calloc((size_t)(g->n_inputs + g->n_defaults) + 1, sizeof **bound)))
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate");
    else
        st = bind_inputs(g, inputs, n_inputs, *bound, err);
    if (!st)
        st = ond_plan_get(s, *bound, pl, err);
    return st;
}

/* ond_session_run, with per-step times (step_ms non-NULL) for profiling; with plan_out, the
 * plan that ran stays held for the caller (ond_plan_put), who reads it. */
enum ond_status ond_session_run_profiled(struct ond_session *s, const struct ond_value *inputs,
                                         size_t n_inputs, struct ond_value *outputs,
                                         size_t n_outputs, double **step_ms, struct plan **plan_out,
                                         struct ond_error *err)
{
    if (!s || (n_inputs && !inputs) || (n_outputs && !outputs))
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "ond_session_run: NULL argument");
    const struct ond_graph *g = s->model->graph;
    if (n_outputs != (size_t)g->n_outputs)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "the model has %d outputs, got %zu",
                        g->n_outputs, n_outputs);
    struct ond_value *bound = NULL;
    struct plan *pl = NULL;
    struct ctx *c = NULL;
    enum ond_status st = ond_plan_for(s, inputs, n_inputs, &bound, &pl, err);
    if (!st)
        st = ond_plan_take_ctx(s, pl, &c, err);
    if (!st && step_ms && !(*step_ms = calloc((size_t)pl->n_steps + 1, sizeof **step_ms)))
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate the profile");
    if (!st)
        st = execute_hosted(s, pl, c, bound, step_ms ? *step_ms : NULL, err);
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
        const void *src = pl->output_value[i] < 0
                              ? info->data
                              : value_data(pl, c->arena, pl->output_value[i], bound);
        memcpy(o->data, src, bytes);
    }
    ond_plan_put_ctx(s, pl, c);
    if (plan_out && !st)
        *plan_out = pl;
    else
        ond_plan_put(s, pl);
    free(bound);
    return st;
}

enum ond_status ond_session_run(struct ond_session *s, const struct ond_value *inputs,
                                size_t n_inputs, struct ond_value *outputs, size_t n_outputs,
                                struct ond_error *err)
{
    return ond_session_run_profiled(s, inputs, n_inputs, outputs, n_outputs, NULL, NULL, err);
}

enum ond_status ond_session_observe(struct ond_session *s, const struct ond_value *inputs,
                                    size_t n_inputs, ond_observe_fn fn, void *ctx,
                                    struct ond_error *err)
{
    if (!s->observe)
        return ond_fail(err, OND_STATUS_INVALID_ARGUMENT, "not an observing session");
    struct ond_value *bound = NULL;
    struct plan *pl = NULL;
    struct ctx *c = NULL;
    enum ond_status st = ond_plan_for(s, inputs, n_inputs, &bound, &pl, err);
    if (!st)
        st = ond_plan_take_ctx(s, pl, &c, err);
    if (!st)
        st = execute_hosted(s, pl, c, bound, NULL, err);
    for (int i = 0; !st && i < pl->n_outs; i++) {
        const struct ond_tensor *t = pl->outs[i];
        uint64_t numel = 0;
        ond_numel(&pl->info[t->id], 0, &numel);
        if (pl->output_value[i] >= 0)
            fn(ctx, t, value_data(pl, c->arena, pl->output_value[i], bound), (size_t)numel);
    }
    ond_plan_put_ctx(s, pl, c);
    ond_plan_put(s, pl);
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
