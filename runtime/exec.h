/* exec.h: the contract between the session's planner and ops' prepare functions.
 *
 * At session planning every tensor has a concrete shape. A node whose inputs are all known
 * is computed then (eval). Any other node becomes a step: its op's prepare (when it has one)
 * builds one oneDNN primitive for the node, choosing the layouts it wants for its activation
 * inputs and giving the layouts of its outputs; the planner inserts reorders where a
 * producer's layout differs from what a consumer wants. Ops without prepare run their eval
 * on plain row-major buffers. Constant inputs (weights) are turned into oneDNN memory in the
 * primitive's layout once, here, and owned by the step.
 */
#ifndef OND_EXEC_H
#define OND_EXEC_H

#include "oneapi/dnnl/dnnl.h"
#include "ops/op.h"

#define OND_PREP_MAX_IN 8
#define OND_PREP_MAX_OUT 4
#define OND_PREP_MAX_ARGS 12
#define OND_PREP_MAX_MEM 4

enum ond_arg_kind { OND_ARG_IN, OND_ARG_OUT, OND_ARG_MEM };

struct ond_arg {
    int dnnl_arg;          /* DNNL_ARG_SRC, ... */
    enum ond_arg_kind kind;
    int index;             /* input, output or owned-memory index */
};

struct ond_prep {
    /* Given to prepare. */
    const struct ond_node *node;
    dnnl_engine_t engine;
    const struct ond_info *const *in;   /* concrete; data set for constant inputs */
    const struct ond_info *out;         /* concrete */
    const dnnl_memory_desc_t *in_md[OND_PREP_MAX_IN]; /* layout an activation input arrives
                                                         in; NULL for constants */
    /* Filled by prepare. */
    dnnl_memory_desc_t want_md[OND_PREP_MAX_IN];   /* zeroed: takes the input as it arrives */
    dnnl_memory_desc_t out_md[OND_PREP_MAX_OUT];
    dnnl_primitive_t prim;
    char impl[64];                                  /* oneDNN implementation name */
    size_t scratch_bytes;
    struct ond_arg args[OND_PREP_MAX_ARGS];
    int n_args;
    dnnl_memory_t mem[OND_PREP_MAX_MEM];
    int n_mem;
    /* Post-op SUM: the output must start as a copy of this input (index), or -1. */
    int sum_input;
};

/* Turns a failed oneDNN call into OND_STATUS_BACKEND naming the call and the node. */
enum ond_status ond_dnnl(dnnl_status_t s, const char *call, const struct ond_node *n,
                         struct ond_error *err);
#define OND_DNNL(call, n, err)                                        \
    do {                                                              \
        enum ond_status st_ = ond_dnnl((call), #call, (n), (err));    \
        if (st_)                                                      \
            return st_;                                               \
    } while (0)

/* A memory descriptor for info's shape: dnnl_format_tag_any, or plain row-major when
 * plain is set (abcd... tag). A plain buffer of a type oneDNN lacks (int64, double, bool)
 * is described as its bytes (1-D u8). */
enum ond_status ond_md(const struct ond_info *info, bool plain, dnnl_memory_desc_t *md,
                       struct ond_error *err);
/* Memory in layout `want` holding the constant data of p->in[k] (row-major, viewed with
 * the dims of `want`); returns its index in p->mem. */
enum ond_status ond_prep_const(struct ond_prep *p, int k, const dnnl_memory_desc_t *want,
                               int *mem_index, struct ond_error *err);
void ond_prep_arg(struct ond_prep *p, int dnnl_arg, enum ond_arg_kind kind, int index);
/* Attributes every primitive gets (user scratchpad) plus the node's post-ops. */
enum ond_status ond_prep_attr(struct ond_prep *p, dnnl_primitive_attr_t *attr,
                              struct ond_error *err);
/* Creates p->prim from pd (and frees pd), records scratchpad size and implementation. */
enum ond_status ond_prep_finish(struct ond_prep *p, dnnl_primitive_desc_t pd,
                                struct ond_error *err);

/* One oneDNN eltwise primitive over input 0, in the layout it arrives in. */
enum ond_status ond_prep_eltwise(struct ond_prep *p, dnnl_alg_kind_t alg, float alpha,
                                 float beta, struct ond_error *err);

#endif
