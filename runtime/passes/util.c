/* util.c: what the passes share: matching nodes, rewiring tensors, new constants, post-ops,
 * and recording fusions (see passes.h). */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/passes/passes.h"

bool ond_pass_is_const(const struct ond_tensor *t)
{
    return t && (t->flags & OND_TENSOR_CONST) && t->info.data;
}

bool ond_pass_float_scalar(const struct ond_tensor *t, float *v)
{
    uint64_t numel;
    if (!ond_pass_is_const(t) || t->info.dtype != OND_DTYPE_FLOAT ||
        !ond_numel(&t->info, 0, &numel) || numel != 1)
        return false;
    *v = *(const float *)t->info.data;
    return true;
}

bool ond_pass_near(float v, double want)
{
    return fabs(v - want) <= 2 * FLT_EPSILON * want;
}

bool ond_pass_pad_amounts(const struct ond_node *pad, int64_t *pads, int *count)
{
    struct ond_error err;
    if (pad->opset < 11)
        return !ond_attr_ints(pad, "pads", pads, 2 * OND_MAX_RANK, count, &err) && *count >= 0;
    const struct ond_tensor *t = pad->n_in > 1 ? pad->in[1] : NULL;
    uint64_t numel;
    if (!t || !ond_pass_is_const(t) || t->info.dtype != OND_DTYPE_INT64 ||
        !ond_numel(&t->info, 0, &numel) || numel > 2 * OND_MAX_RANK)
        return false;
    memcpy(pads, t->info.data, sizeof(int64_t) * (size_t)numel);
    *count = (int)numel;
    return true;
}

struct ond_node *ond_pass_sole_user(const struct ond_pass_ctx *c, const struct ond_tensor *t)
{
    if (!t || t->uses != 1 || (t->flags & OND_TENSOR_OUTPUT) || t->id < 0 || t->id >= c->n_users)
        return NULL;
    struct ond_node *u = c->user[t->id];
    return u && !u->dead ? u : NULL;
}

bool ond_pass_is(const struct ond_node *n, const char *domain, const char *name)
{
    return n && !n->dead && n->op && strcmp(n->op->domain, domain) == 0 &&
           strcmp(n->op->name, name) == 0;
}

bool ond_pass_same_shape(const struct ond_info *a, const struct ond_info *b)
{
    if (a->dtype != b->dtype || a->rank < 0 || a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] == OND_DIM_UNKNOWN || a->dims[i] != b->dims[i])
            return false;
    return true;
}

void ond_pass_set_input(struct ond_pass_ctx *c, struct ond_node *n, int k, struct ond_tensor *t)
{
    if (n->in[k])
        n->in[k]->uses--;
    n->in[k] = t;
    if (!t)
        return;
    t->uses++;
    if (t->id >= 0 && t->id < c->n_users)
        c->user[t->id] = n;
}

enum ond_status ond_pass_grow_inputs(struct ond_pass_ctx *c, struct ond_node *n, int count,
                                     struct ond_error *err)
{
    if (count <= n->n_in)
        return OND_OK;
    struct ond_tensor **in = ond_alloc(c->g, sizeof *in * (size_t)count, err);
    if (!in)
        return err ? err->status : OND_STATUS_NO_MEMORY;
    if (n->n_in)
        memcpy(in, n->in, sizeof *in * (size_t)n->n_in);
    n->in = in;
    n->n_in = count;
    return OND_OK;
}

void ond_pass_kill(struct ond_node *n)
{
    n->dead = true;
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k])
            n->in[k]->uses--;
}

void ond_pass_take_output(struct ond_node *keep, struct ond_node *gone)
{
    struct ond_tensor *old = keep->out[0], *t = gone->out[0];
    old->producer = NULL;
    keep->out[0] = t;
    t->producer = keep;
    ond_pass_kill(gone);
}

struct ond_tensor *ond_pass_new_tensor(struct ond_pass_ctx *c, const char *base,
                                       const char *suffix, struct ond_error *err)
{
    char name[512];
    snprintf(name, sizeof name, "%s_%s", base, suffix);
    for (int i = 2; ond_graph_find_tensor(c->g, name); i++)
        snprintf(name, sizeof name, "%s_%s_%d", base, suffix, i);
    return ond_graph_add_tensor(c->g, name, err);
}

struct ond_tensor *ond_pass_new_const(struct ond_pass_ctx *c, const char *base,
                                      const char *suffix, const struct ond_info *info,
                                      void **data, struct ond_error *err)
{
    uint64_t numel;
    if (!ond_numel(info, c->g->opts.max_tensor_elements, &numel) || !ond_dtype_size(info->dtype)) {
        ond_fail(err, OND_STATUS_LIMIT, "tensor '%s_%s': shape unknown or over the element limit",
                 base, suffix);
        return NULL;
    }
    struct ond_tensor *t = ond_pass_new_tensor(c, base, suffix, err);
    if (!t)
        return NULL;
    t->flags = OND_TENSOR_CONST;
    t->info = *info;
    t->info.data = NULL;
    if (!(*data = ond_tensor_alloc_data(c->g, t, (size_t)numel * ond_dtype_size(info->dtype),
                                        err)))
        return NULL;
    return t;
}

enum ond_status ond_pass_rebind(struct ond_pass_ctx *c, struct ond_node *n, const char *domain,
                                const char *op_type, struct ond_error *err)
{
    const struct ond_op *op = ond_op_find(domain, op_type, INT32_MAX);
    if (!op)
        return ond_node_fail(err, n, OND_STATUS_UNSUPPORTED, "no op %s%s%s", domain,
                             *domain ? "." : "", op_type);
    n->op = op;
    n->op_type = op->name;
    n->domain = op->domain;
    n->opset = op->since;
    n->params = NULL;
    ond_node_drop_attrs(c->g, n);
    /* Swish's alpha, Gelu's approximate: the op's defaults, from no attributes. */
    if (op->params_size && !(n->params = ond_alloc(c->g, op->params_size, err)))
        return err ? err->status : OND_STATUS_NO_MEMORY;
    return op->params_size && op->parse ? op->parse(n, n->params, err) : OND_OK;
}

/* The oneDNN eltwise algorithm a post-op kind runs as (LeakyRelu is relu with a slope); 0
 * for sum and add. */
static int eltwise_alg(enum ond_postop_kind kind)
{
    return kind == OND_POST_LEAKY_RELU ? OND_POST_RELU
           : kind == OND_POST_SUM || kind == OND_POST_ADD ? 0 : (int)kind;
}

bool ond_pass_can_add_post(const struct ond_node *n, enum ond_postop_kind kind)
{
    if (n->n_post >= OND_MAX_POSTOPS)
        return false;
    for (int i = 0; i < n->n_post && eltwise_alg(kind); i++)
        if (eltwise_alg(n->post[i].kind) == eltwise_alg(kind))
            return false;
    return true;
}

bool ond_pass_add_post(struct ond_node *n, enum ond_postop_kind kind, float alpha, float beta,
                       int input, const char *from)
{
    if (!ond_pass_can_add_post(n, kind))
        return false;
    n->post[n->n_post++] = (struct ond_postop){kind, alpha, beta, input, from};
    return true;
}

/* Clip's bound k (1 min, 2 max) from opset 11: absent, or a constant float scalar. */
static bool clip_bound(const struct ond_node *n, int k, float unbounded, float *v)
{
    const struct ond_tensor *t = k < n->n_in ? n->in[k] : NULL;
    uint64_t numel;
    *v = unbounded;
    if (!t)
        return true;
    if (!ond_pass_is_const(t) || t->info.dtype != OND_DTYPE_FLOAT ||
        !ond_numel(&t->info, 0, &numel) || numel != 1)
        return false;
    *v = *(const float *)t->info.data;
    return true;
}

bool ond_pass_activation(const struct ond_node *n, struct ond_postop *q)
{
    if (!n || n->dead || !n->op || *n->op->domain || n->n_in < 1 || !n->in[0] ||
        n->in[0]->info.dtype != OND_DTYPE_FLOAT)
        return false;
    const char *op = n->op->name;
    memset(q, 0, sizeof *q);
    q->input = -1;
    q->from = n->name;
    if (strcmp(op, "Relu") == 0) {
        q->kind = OND_POST_RELU;
    } else if (strcmp(op, "Sigmoid") == 0) {
        q->kind = OND_POST_SIGMOID;
    } else if (strcmp(op, "HardSwish") == 0) {
        q->kind = OND_POST_HARD_SWISH;
    } else if (strcmp(op, "LeakyRelu") == 0) {
        q->kind = OND_POST_LEAKY_RELU;
        return ond_attr_float(n, "alpha", 0.01f, &q->alpha, NULL) == OND_OK;
    } else if (strcmp(op, "Clip") == 0) {
        q->kind = OND_POST_CLIP;
        if (n->op->since < 11)
            return ond_attr_float(n, "min", -FLT_MAX, &q->alpha, NULL) == OND_OK &&
                   ond_attr_float(n, "max", FLT_MAX, &q->beta, NULL) == OND_OK;
        return clip_bound(n, 1, -FLT_MAX, &q->alpha) && clip_bound(n, 2, FLT_MAX, &q->beta);
    } else if (n->op->eval == ond_unary_eval && n->params) {
        /* The float activations of ops/eltwise_util.c whose oneDNN algorithm a kind runs. */
        const struct ond_unary *u = n->params;
        q->kind = ond_postop_of_alg(u->alg);
        q->alpha = u->alpha;
        q->beta = u->beta;
        return q->kind != 0;
    } else {
        return false;
    }
    return true;
}

/* Appends a record to rs: its node names (the NULL entries of nodes[0..count) skipped), into
 * and its post-ops, line, copied into one block. */
static enum ond_status record(struct ond_pass_ctx *c, struct ond_pass_records *rs, int count,
                              const struct ond_node *const *nodes, const struct ond_node *into,
                              const char *into_name, const char *line, const char *reason,
                              struct ond_error *err)
{
    int n_post = into ? into->n_post : 0, n = 0;
    for (int i = 0; i < count; i++)
        n += nodes[i] != NULL;
    size_t size = sizeof(char *) * (size_t)(n + n_post);
    const char *post[OND_MAX_POSTOPS];
    if (into)
        into_name = into->name;
    for (int i = 0; i < n_post; i++) {
        post[i] = ond_postop_name(into->post[i].kind);
        size += strlen(post[i] ? post[i] : "?") + 1;
    }
    for (int i = 0; i < count; i++)
        size += nodes[i] ? strlen(nodes[i]->name) + 1 : 0;
    size += (line ? strlen(line) + 1 : 0) + (into_name ? strlen(into_name) + 1 : 0);
    if (rs->n == rs->cap) {
        int cap = rs->cap ? 2 * rs->cap : 64;
        struct ond_pass_record *items = realloc(rs->items, sizeof *items * (size_t)cap);
        if (!items)
            return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot record a fusion");
        rs->items = items;
        rs->cap = cap;
    }
    struct ond_pass_record *r = &rs->items[rs->n];
    char **ptrs = malloc(size);
    if (!ptrs)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot record a fusion");
    char *at = (char *)(ptrs + n + n_post);
    *r = (struct ond_pass_record){.pass = c->pass, .n_nodes = n, .nodes = ptrs,
                                  .n_post = n_post, .post_ops = ptrs + n, .reason = reason,
                                  .mem = ptrs};
#define COPY(dst, s) (dst = strcpy(at, s), at += strlen(at) + 1)
    for (int i = 0, k = 0; i < count; i++)
        if (nodes[i])
            COPY(r->nodes[k++], nodes[i]->name);
    for (int i = 0; i < n_post; i++)
        COPY(r->post_ops[i], post[i] ? post[i] : "?");
    if (line)
        COPY(r->line, line);
    if (into_name)
        COPY(r->into, into_name);
#undef COPY
    rs->n++;
    return OND_OK;
}

enum ond_status ond_pass_fusion(struct ond_pass_ctx *c, struct ond_error *err, int n,
                                const struct ond_node *const *nodes, const struct ond_node *into,
                                const char *into_name, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return record(c, &c->report->fusions, n, nodes, into, into_name, line, NULL, err);
}

enum ond_status ond_pass_not_fused(struct ond_pass_ctx *c, struct ond_error *err, int n,
                                   const struct ond_node *const *nodes, const char *reason)
{
    return record(c, &c->report->not_fused, n, nodes, NULL, NULL, NULL, reason, err);
}
