/* session.h: session internals other parts of ondine use (the CLI's run verb, tests). */
#ifndef OND_SESSION_H
#define OND_SESSION_H

#include <stdbool.h>

#include "ondine.h"
#include "runtime/ir.h"

/* Fills outputs[i] (name, dtype, rank, dims, size in bytes; data untouched) for inputs,
 * planning for their shapes if needed. */
enum ond_status ond_session_output_shapes(struct ond_session *s, const struct ond_value *inputs,
                                          size_t n_inputs, struct ond_value *outputs,
                                          struct ond_error *err);

/* What the plan for some input shapes holds, for tests and inspection. */
struct ond_plan_stats {
    int primitives;      /* oneDNN primitive steps of nodes */
    int reorders;        /* reorder steps the planner inserted */
    int output_reorders; /* of those, the ones that make graph outputs plain */
    int evals;           /* nodes run by their plain-C eval */
    int copies;          /* sum post-op addends copied into the output first */
    int views;           /* nodes whose output is a view of their input's buffer */
    int in_place;        /* sum post-ops whose output took over the addend's buffer */
    size_t arena_bytes;  /* activation memory */
    char first_eval[128]; /* "node: why" of the first eval step, "" if none */
};

/* Plans for inputs if needed (like ond_session_output_shapes) and describes the plan. */
enum ond_status ond_session_plan_stats(struct ond_session *s, const struct ond_value *inputs,
                                       size_t n_inputs, struct ond_plan_stats *stats,
                                       struct ond_error *err);

/* How many plans the session has built (found again in its cache, a plan is not rebuilt). */
int ond_session_plans_built(struct ond_session *s);

/* One step of a profiled run: a node's primitive or eval, a reorder or a copy. */
struct ond_profile_step {
    const char *node;    /* node name ("" for a reorder the planner inserted) */
    const char *op;      /* op type, "Reorder" or "Copy" */
    int n_post;          /* fused post-ops */
    char impl[64];       /* oneDNN implementation ("brgconv:avx512_core"), or "eval: why" */
    char src[96], dst[96]; /* layouts read and written, as oneDNN prints them */
    uint64_t macs;       /* multiply-adds of the node at the plan's shapes (op->macs), or 0 */
    double ms;
};

struct ond_profile {
    int n_steps;
    struct ond_profile_step *steps;
};

/* ond_session_run that also times every step (waiting for each, so a little slower than a
 * plain run). Free prof with ond_profile_free. */
enum ond_status ond_session_profile(struct ond_session *s, const struct ond_value *inputs,
                                    size_t n_inputs, struct ond_value *outputs, size_t n_outputs,
                                    struct ond_profile *prof, struct ond_error *err);
void ond_profile_free(struct ond_profile *prof);

/* A session of opts' precision; for int8, with the scales of ond_calibrate (taken over, freed
 * with the session or on failure; NULL otherwise). ond_session_create (runtime/model.c)
 * calibrates first, then calls it: calibration runs observer sessions, so sessions do not call
 * it themselves. */
enum ond_status ond_session_create_scaled(const struct ond_model *model,
                                          const struct ond_options *opts, float *qscale,
                                          bool *qunsigned, struct ond_session **out,
                                          struct ond_error *err);

/* Milliseconds the session spent timing tuning candidates (0 without tuning). */
double ond_session_tune_ms(const struct ond_session *s);

/* An f32 session (opts' precision ignored) whose plans keep every float activation, for
 * calibration and debugging: ond_session_observe runs inputs and gives fn each activation
 * tensor's f32 data, plain row-major (graph inputs and outputs included; tensors known at
 * planning are not given). Its other calls work as usual. */
enum ond_status ond_session_create_observer(const struct ond_model *model,
                                            const struct ond_options *opts,
                                            struct ond_session **out, struct ond_error *err);
typedef void (*ond_observe_fn)(void *ctx, const struct ond_tensor *t, const float *data,
                               size_t numel);
enum ond_status ond_session_observe(struct ond_session *s, const struct ond_value *inputs,
                                    size_t n_inputs, ond_observe_fn fn, void *ctx,
                                    struct ond_error *err);

/* int8 calibration (runtime/calibrate.c): per tensor of the model's graph, the scale of its
 * s8/u8 form in an int8 session (0: it stays float) and whether it is non-negative (u8), from
 * the activation ranges over opts' calibration inputs (seeded random ones when there are
 * none). *qscale and *qunsigned are malloc'd, one entry per graph tensor. */
enum ond_status ond_calibrate(const struct ond_model *model, const struct ond_options *opts,
                              float **qscale, bool **qunsigned, struct ond_error *err);

#endif
