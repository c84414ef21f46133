/* plan.h: what a session's plans are made of, private to the four files that make and use
 * them: the planner (planner.c: the steps and values of each node), plans (plan.c: building one
 * for concrete input shapes, the arena, the contexts runs write in, the plan cache), runs
 * (session.c) and introspection (profile.c). The design is in session.c's banner. */
#ifndef OND_PLAN_H
#define OND_PLAN_H

#include <pthread.h>

#include "runtime/exec.h"
#include "runtime/model.h"
#include "runtime/session.h"

/* A buffer as kernels see it. A value either owns storage (root == its own index: a place
 * in the arena, or the caller's buffer for a graph input) or views the storage of its root
 * with another md (view ops, coerced shapes, a conv output that took over its addend). The
 * root's lifetime covers every value viewing it. */
struct value {
    dnnl_memory_desc_t md;
    size_t size, offset;
    size_t at;             /* bytes into its root's storage (a slice of a concat's output) */
    int first, last;       /* steps that write it first and read it last */
    int root;
    int last_node;         /* root: the last node reading a tensor held in this storage;
                              INT32_MAX for a graph output */
    bool input;            /* root: a graph input, the caller's buffer */
    int input_index;
    int reorder_of;        /* the value it is a reorder of (reused by later consumers), -1 */
    bool slices;           /* root: the inputs of in-place Concats side by side (its size
                              grows as a chain of Concats extends it) */
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
    struct ond_info *in_info, *out_info;  /* in_info's data: set for constants only */
    const struct ond_info **in_ptr;       /* NULL for an omitted input */
};

/* What one run writes into: a plan's activations (arena) and scratchpad, the oneDNN memory
 * objects over them, a stream, and the arguments of eval steps. */
struct ctx {
    struct ctx *next;                     /* the plan's idle contexts */
    dnnl_stream_t stream;
    void *arena, *scratch;
    dnnl_memory_t *mem;                   /* per value */
    dnnl_memory_t scratch_mem;
    struct ond_info *in_info;             /* an eval step's inputs, as many as the widest */
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
    size_t arena_size, scratch_size;
    int max_args;                     /* inputs or outputs of the widest eval or copy step */
    uint64_t bytes;                   /* held: computed values, activations, scratchpad */
    uint64_t weight_bytes;            /* constants in primitives' layouts */
    struct ctx *idle;
    int n_ctx;                        /* contexts made, idle or in use */
    int users;                        /* calls holding the plan: it is not evicted */
};

struct ond_session {
    const struct ond_model *model;
    struct ond_options opts;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    struct plan *plans;               /* most recently used first */
    pthread_mutex_t lock;             /* plans, their users and contexts */
    pthread_mutex_t build;            /* held while building a plan */
    pthread_cond_t ctx_freed;
    int n_ctx;                        /* contexts of all plans */
    int plans_built;
    bool *shape_operand;              /* per graph input, then default (runtime/ir.h): the
                                         plan knows its values */
    bool observe;                     /* plans keep every float activation (calibration) */
    float *qscale;                    /* int8: per tensor, the scale of its s8/u8 form (0:
                                         it stays float) */
    bool *qunsigned;                  /* int8: per tensor, non-negative (u8) */
    struct ond_tune *tune;            /* per-layer tuning (runtime/tune.h), or NULL; used
                                         while building plans (under build) */
    struct ond_stage stage;           /* deferred weights on their way to a reorder (under
                                         build; freed when a plan is built) */
};

/* Where value v's bytes are: the caller's input buffer or a context's arena. */
static inline void *value_data(const struct plan *pl, void *arena, int v,
                        const struct ond_value *inputs)
{
    const struct value *root = &pl->values[pl->values[v].root];
    return (root->input ? (char *)inputs[root->input_index].data
                        : (char *)arena + root->offset) + pl->values[v].at;
}

/* ---- planner.c ---- */
/* Plans node n (index at) as a primitive, a view or an eval step over the values of its inputs
 * (in: their infos at planning; out: its outputs' infos). */
enum ond_status ond_plan_node(struct ond_session *s, struct plan *pl, const struct ond_node *n,
                              int at, const struct ond_info *const *in,
                              const struct ond_info *out, struct ond_error *err);
/* Computes n at planning (every input known): its outputs become known constants. */
enum ond_status ond_plan_eval(struct ond_graph *g, struct plan *pl, const struct ond_node *n,
                              const struct ond_info *const *in, struct ond_info *out,
                              struct ond_error *err);
/* Counts add bytes the plan holds against max_total_bytes, naming what. */
enum ond_status ond_plan_budget(const struct ond_graph *g, struct plan *pl, uint64_t add,
                                const char *what, struct ond_error *err);
/* Value from in plain row-major layout for info (itself, or a reorder made once). */
enum ond_status ond_plan_plain_value(struct ond_session *s, struct plan *pl, int from,
                                     const struct ond_info *info, int *out,
                                     struct ond_error *err);
struct value *ond_plan_new_value(struct plan *pl, const dnnl_memory_desc_t *md, int *index);
/* Tensor t is held by value v. */
void ond_plan_bind_tensor(struct plan *pl, const struct ond_tensor *t, int v);

/* ---- plan.c ---- */
void ond_plan_free(struct plan *pl);
void ond_plan_free_ctx(const struct plan *pl, struct ctx *c);
/* The plan for the bound inputs' shapes (and shape operands' values), found or built, held
 * for the caller until ond_plan_put. */
enum ond_status ond_plan_get(struct ond_session *s, const struct ond_value *bound,
                             struct plan **out, struct ond_error *err);
void ond_plan_put(struct ond_session *s, struct plan *pl);
/* A context of pl to run in: an idle one, a new one, or, at max_concurrent_runs, the next
 * one freed; given back with ond_plan_put_ctx. */
enum ond_status ond_plan_take_ctx(struct ond_session *s, struct plan *pl, struct ctx **out,
                                  struct ond_error *err);
void ond_plan_put_ctx(struct ond_session *s, struct plan *pl, struct ctx *c);
/* OpenMP threads a run of s uses. */
int ond_plan_threads(const struct ond_session *s);

/* ---- session.c ---- */
/* The prologue of every call that needs a plan: binds the caller's inputs (*bound, freed by
 * the caller), then finds or builds their plan, held (given back with ond_plan_put, also on
 * failure). */
enum ond_status ond_plan_for(struct ond_session *s, const struct ond_value *inputs,
                             size_t n_inputs, struct ond_value **bound, struct plan **pl,
                             struct ond_error *err);
/* ond_session_run, with per-step times (step_ms non-NULL) for profiling; with plan_out, the
 * plan that ran stays held for the caller (ond_plan_put), who reads it. */
enum ond_status ond_session_run_profiled(struct ond_session *s, const struct ond_value *inputs,
                                         size_t n_inputs, struct ond_value *outputs,
                                         size_t n_outputs, double **step_ms,
                                         struct plan **plan_out, struct ond_error *err);


#endif
