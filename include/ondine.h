/* ondine.h: the public C API of ondine, an ONNX runtime for convolutional networks on x86 CPUs.
 *
 * Objects: a model (a loaded, validated and optimized graph, read-only once loaded) and
 * sessions over it (the oneDNN primitives and memory that run it). Every fallible function
 * returns an enum ond_status and takes a struct ond_error * last (may be NULL) that receives
 * a message naming what was wrong. Every _free accepts NULL.
 *
 * Thread safety: a loaded model is read-only and may back any number of sessions, created and
 * used from any threads; it must outlive them. ond_session_run and ond_session_run_alloc may be
 * called on one session from several threads at once, and such runs proceed in parallel: they
 * share the session's plans (primitives, reordered weights) read-only, and each takes its own
 * activation memory and scratchpad from the session's pool (made on demand, at most
 * options.max_concurrent_runs sets; a run beyond that waits for one to be free). Each output
 * is bitwise the one a single-threaded caller gets. Planning for new input shapes is
 * serialized; running is not. ond_session_free must not overlap a run of that session. Same
 * inputs, same options (threads included): bitwise the same outputs, run after run.
 *
 * Side effects: none on the caller's thread or process. Each run computes on options.threads
 * OpenMP threads, the caller's among them; the caller's OpenMP thread count
 * (omp_get_max_threads) and floating-point modes (MXCSR) are as they were on return, and so
 * are the OpenMP workers' (flush-to-zero, unless no_ftz, is set for ondine's work and
 * restored). Options and tensors passed in are only read during the call.
 */
#ifndef ONDINE_H
#define ONDINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define OND_API __attribute__((visibility("default")))
#else
#define OND_API
#endif

#define OND_VERSION_MAJOR 0
#define OND_VERSION_MINOR 1
#define OND_VERSION_PATCH 0
#define OND_STR_(x) #x
#define OND_STR(x) OND_STR_(x)
/* "MAJOR.MINOR.PATCH", what ond_version() returns. */
#define OND_VERSION_STRING \
    OND_STR(OND_VERSION_MAJOR) "." OND_STR(OND_VERSION_MINOR) "." OND_STR(OND_VERSION_PATCH)

/* Highest tensor rank ondine handles (oneDNN's limit). */
#define OND_MAX_RANK 12

enum ond_status {
    OND_OK = 0,
    OND_STATUS_INVALID_ARGUMENT, /* a caller passed a bad argument (NULL, out of range) */
    OND_STATUS_INVALID_MODEL,    /* the bytes or the graph break an ONNX rule */
    OND_STATUS_UNSUPPORTED,      /* valid ONNX that ondine does not run (op, type, opset) */
    OND_STATUS_INVALID_INPUT,    /* a run-time input does not fit the model */
    OND_STATUS_LIMIT,            /* a resource limit of the options was exceeded */
    OND_STATUS_IO,               /* a file could not be read or written */
    OND_STATUS_NO_MEMORY,        /* an allocation failed */
    OND_STATUS_BACKEND,          /* oneDNN refused or failed */
};

struct ond_error {
    enum ond_status status;
    char message[1024];
};

/* Element types, numbered as ONNX TensorProto.DataType. */
enum ond_dtype {
    OND_DTYPE_UNDEFINED = 0,
    OND_DTYPE_FLOAT = 1,
    OND_DTYPE_UINT8 = 2,
    OND_DTYPE_INT8 = 3,
    OND_DTYPE_UINT16 = 4,
    OND_DTYPE_INT16 = 5,
    OND_DTYPE_INT32 = 6,
    OND_DTYPE_INT64 = 7,
    OND_DTYPE_BOOL = 9,
    OND_DTYPE_FLOAT16 = 10,
    OND_DTYPE_DOUBLE = 11,
    OND_DTYPE_UINT32 = 12,
    OND_DTYPE_UINT64 = 13,
    OND_DTYPE_BFLOAT16 = 16,
};

enum ond_precision {
    OND_PRECISION_FP32 = 0,
    OND_PRECISION_BF16,
    OND_PRECISION_INT8,
};

/* Options for loading a model and creating sessions. Start from ond_options_init(). */
struct ond_options {
    int threads;                        /* 0: all cores */
    int opt_level;                      /* 0 none, 1 cleanup and folding, 2 all fusions (default);
                                           the passes are in docs/passes.md */
    enum ond_precision precision;       /* default fp32; bf16 runs convs, inner products,
                                           pooling, batchnorm, eltwise and binary ops in bf16
                                           (inputs and outputs stay f32) and needs AVX512-BF16
                                           or AMX: elsewhere ond_session_create fails with
                                           OND_STATUS_UNSUPPORTED; int8 quantizes the model at
                                           ond_session_create (static, calibrated on
                                           `calibration`) and runs convolutions and pooling
                                           in int8. docs/precision.md */
    const char *const *disabled_passes; /* pass names to skip; an unknown name fails the load
                                           (INVALID_ARGUMENT, listing the passes) */
    size_t n_disabled_passes;
    int no_ftz;                         /* 1: keep denormals (slower); default flushes to zero */
    int fold_initializer_inputs;        /* loading: initializers also listed as graph inputs
                                           (IR < 4) are defaults a run may override by
                                           name (not listed by ond_model_input); 1: constants,
                                           folded into the graph like other initializers */
    /* Resource limits, 0 for none; exceeding one is OND_STATUS_LIMIT, before allocating.
     * A model keeps those it was loaded with, for its sessions and runs too (the limits given
     * to ond_session_create are not used). Defaults in docs/c-api.md. */
    uint64_t max_file_bytes;            /* model file or buffer */
    uint64_t max_tensor_elements;       /* any one tensor: constants, shapes inferred at load,
                                           values and activations of a plan, run inputs */
    uint64_t max_total_bytes;           /* parsing, constant data (folded included), and the
                                           model plus what one session plan holds */
    int64_t max_nodes;
    int max_depth;                      /* protobuf message nesting (0: 64) */
    /* int8 calibration: n_calibration_sets sets of the model's inputs, each
     * ond_model_input_count values (matched by name), run in f32 to measure the activations'
     * ranges; read during ond_session_create only. NULL: two sets of seeded random inputs
     * (normal, batch 1), whose ranges rarely match real data: give real inputs for accuracy. */
    const struct ond_value *calibration;
    size_t n_calibration_sets;
    /* Sessions: how many runs of one session compute at once (each holds its own activations
     * and scratchpad); 0: the number of processors. */
    int max_concurrent_runs;
    /* Sessions keep a plan per set of input shapes (and values of the inputs that decide
     * shapes); beyond this many bytes of plans (weights in kernel layouts, values computed
     * at planning, activations and scratchpads), the least recently used ones that no run
     * holds are freed. Default 1 GiB; 0: no bound. */
    uint64_t max_plan_cache_bytes;
    /* Per-layer tuning (docs/performance.md): with tune set, planning times oneDNN's
     * implementations and layouts for each convolution the cache lacks (seconds for a
     * ResNet), chooses along the chain and writes the cache. tune_cache names the cache file
     * (NULL: $ONDINE_TUNE_CACHE; neither: tuning stays in the session); a cache is read at
     * ond_session_create, malformed is OND_STATUS_INVALID_ARGUMENT. Same cache, same plan. */
    int tune;
    const char *tune_cache;
};

/* A tensor passed to or returned from a run. dims[i] < 0 only in model queries (symbolic dim). */
struct ond_value {
    const char *name;
    int32_t dtype;                      /* enum ond_dtype */
    int rank;
    int64_t dims[OND_MAX_RANK];
    void *data;
    size_t size;                        /* bytes available at data */
};

struct ond_model;
struct ond_session;

OND_API void ond_options_init(struct ond_options *opts);

OND_API const char *ond_version(void);          /* "0.1.0" */
OND_API const char *ond_status_name(enum ond_status status);
OND_API const char *ond_dtype_name(int32_t dtype); /* ONNX spelling: "float", "int64", ...; "?" if unknown */

/* Load a model: parse, validate, infer shapes and run the optimization passes of opts
 * (NULL: defaults). A file's external data is resolved relative to its folder; a buffer
 * with external data references is rejected. A file stays mapped while the model lives
 * (convolution weights are read from it when sessions plan); a buffer is copied and may be
 * freed after the call. */
OND_API enum ond_status ond_model_load_file(const char *path, const struct ond_options *opts,
                                    struct ond_model **model, struct ond_error *err);
OND_API enum ond_status ond_model_load_buffer(const void *data, size_t size, const struct ond_options *opts,
                                      struct ond_model **model, struct ond_error *err);
OND_API void ond_model_free(struct ond_model *model);

/* Graph inputs (initializers excluded) and outputs. info->name lives as long as the model;
 * symbolic dims are -1. */
OND_API size_t ond_model_input_count(const struct ond_model *model);
OND_API size_t ond_model_output_count(const struct ond_model *model);
OND_API enum ond_status ond_model_input(const struct ond_model *model, size_t i, struct ond_value *info,
                                struct ond_error *err);
OND_API enum ond_status ond_model_output(const struct ond_model *model, size_t i, struct ond_value *info,
                                 struct ond_error *err);
/* The initializers an IR < 4 model also lists as graph inputs, which ond_model_input leaves
 * out: defaults a run may override by name with a value of the same dtype and shape (none
 * when fold_initializer_inputs made them constants). info->name lives as long as the model. */
OND_API size_t ond_model_default_count(const struct ond_model *model);
OND_API enum ond_status ond_model_default(const struct ond_model *model, size_t i,
                                          struct ond_value *info, struct ond_error *err);
/* The name of dim d of graph input i (output i when output is set) when the model names it
 * (a symbolic dim such as "N" or "batch_size"); "" for a fixed or unnamed dim; NULL for an index
 * out of range. The string lives as long as the model. */
OND_API const char *ond_model_dim_name(const struct ond_model *model, int output, size_t i,
                                       int d);

/* A session: oneDNN primitives, reordered weights and planned memory, per input shape. */
OND_API enum ond_status ond_session_create(const struct ond_model *model, const struct ond_options *opts,
                                   struct ond_session **session, struct ond_error *err);
OND_API void ond_session_free(struct ond_session *session);

/* Run once. inputs[i] name a graph input each (every input once), and may name initializers
 * an IR < 4 model lists as inputs, to override their values for this run (see
 * fold_initializer_inputs). outputs: one per graph output
 * in graph order, caller-owned buffers (data, size); ondine fills dtype, rank and dims, and
 * name when it is NULL (pointing into the model). */
OND_API enum ond_status ond_session_run(struct ond_session *session, const struct ond_value *inputs,
                                size_t n_inputs, struct ond_value *outputs, size_t n_outputs,
                                struct ond_error *err);
/* The same, with outputs allocated by ondine: *outputs holds *n_outputs values whose names
 * and data are malloc'd; free them with ond_values_free (which frees name, data and the
 * array). */
OND_API enum ond_status ond_session_run_alloc(struct ond_session *session, const struct ond_value *inputs,
                                      size_t n_inputs, struct ond_value **outputs,
                                      size_t *n_outputs, struct ond_error *err);
OND_API void ond_values_free(struct ond_value *values, size_t n);

#ifdef __cplusplus
}
#endif
#endif
