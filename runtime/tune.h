/* tune.h: per-layer tuning of convolutions (runtime/tune.c). A session with tuning times,
 * at planning, every implementation oneDNN's primitive-descriptor iterator offers for each
 * 2-D convolution in each activation layout (nhwc, nChw16c, nChw8c; Winograd where conv.c
 * allows it) on the real shapes and thread count, and the reorders between those layouts;
 * then chooses along the chain of convolutions (a dynamic program over the layout, charging
 * the reorders a change costs) and plans again with the choices. The times live in a cache
 * file keyed by CPU, oneDNN version, threads, precision and layer; a session that reads it
 * chooses without timing. Same cache, same graph: same choices, so the same bits. */
#ifndef OND_TUNE_H
#define OND_TUNE_H

#include <stdbool.h>

#include "runtime/exec.h"

struct ond_tune;

/* What a convolution runs: activation layout (OND_TUNE_NHWC...), algorithm, implementation. */
enum { OND_TUNE_NHWC, OND_TUNE_NCHW16C, OND_TUNE_NCHW8C, OND_TUNE_LAYOUTS };
struct ond_tune_choice {
    int layout;
    dnnl_alg_kind_t alg;
    char impl[48];
};

/* The tuning state of a session: NULL (*t) when opts asks for no tuning and names no cache
 * (opts->tune_cache, else $ONDINE_TUNE_CACHE). A cache file that exists is read and checked
 * here: anything malformed is INVALID_ARGUMENT naming the file, line and rule. */
enum ond_status ond_tune_open(const struct ond_options *opts, int threads, struct ond_tune **t,
                              struct ond_error *err);
void ond_tune_free(struct ond_tune *t);

/* Around the planning of one input shape: begin forgets the chain of the last plan (keeping
 * the choices of the last ond_tune_end when again is set); end chooses along the chain,
 * writes the cache when it learned something, and sets *replan when the plan just built
 * ran other choices than the ones made (replan NULL: no second try). */
void ond_tune_begin(struct ond_tune *t, bool again);
enum ond_status ond_tune_end(struct ond_tune *t, bool *replan, struct ond_error *err);
/* Milliseconds spent timing candidates in this session. */
double ond_tune_ms(const struct ond_tune *t);

/* Builds a convolution descriptor for src and dst in the given layouts (conv.c's). */
typedef enum ond_status (*ond_tune_desc_fn)(struct ond_prep *p, void *ctx,
                                            const dnnl_memory_desc_t *src,
                                            const dnnl_memory_desc_t *dst, dnnl_alg_kind_t alg,
                                            dnnl_convolution_desc_t *desc,
                                            struct ond_error *err);
/* For the convolution p prepares (key: its parameters, x and y its activations' dims in dt):
 * times its candidates when tuning and the cache lacks them (Winograd when wino, with at
 * most wino_scratch bytes of scratchpad), records it in the chain, and gives the choice to
 * build (*have false: none, build the default). */
struct ond_tune_conv {
    const char *key;
    const struct ond_info *x, *y;
    dnnl_data_type_t dt;
    bool wino;
    size_t wino_scratch;
    ond_tune_desc_fn desc;
    void *ctx;
};
enum ond_status ond_tune_conv(struct ond_prep *p, const struct ond_tune_conv *c,
                              struct ond_tune_choice *choice, bool *have, struct ond_error *err);
/* A memory descriptor of dims (rank 4) in dt and layout. */
enum ond_status ond_tune_md(const struct ond_info *info, dnnl_data_type_t dt, int layout,
                            dnnl_memory_desc_t *md, struct ond_error *err);
/* The primitive descriptor of implementation impl for op_desc (ond_prep_attr's attributes);
 * declines when oneDNN offers none of that name. */
enum ond_status ond_tune_pd(struct ond_prep *p, const_dnnl_op_desc_t op_desc, const char *impl,
                            dnnl_primitive_desc_t *pd, struct ond_error *err);

#endif
