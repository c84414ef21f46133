/* profile.c: introspection of a session's plans: a profiled run (kernel, layouts and time of
 * every step), output shapes for given inputs, and plan statistics, for the CLI and tests. */
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

/* The op's MAC count at the plan's concrete shapes (the graph's may be symbolic): the node
 * read through copies of its tensors that carry them. */
static uint64_t plan_macs(const struct plan *pl, const struct ond_node *n)
{
    if (!n || !n->op || !n->op->macs || n->n_in > OND_PREP_MAX_IN || n->n_out < 1 || !n->out[0])
        return 0;
    struct ond_tensor t[OND_PREP_MAX_IN + 1];
    struct ond_tensor *in[OND_PREP_MAX_IN], *out[1] = {&t[OND_PREP_MAX_IN]};
    struct ond_node c = *n;
    for (int k = 0; k < n->n_in; k++) {
        in[k] = n->in[k] ? &t[k] : NULL;
        if (n->in[k]) {
            t[k] = *n->in[k];
            t[k].info = pl->info[n->in[k]->id];
        }
    }
    t[OND_PREP_MAX_IN] = *n->out[0];
    t[OND_PREP_MAX_IN].info = pl->info[n->out[0]->id];
    c.in = in;
    c.out = out;
    return n->op->macs(&c);
}

enum ond_status ond_session_profile(struct ond_session *s, const struct ond_value *inputs,
                                    size_t n_inputs, struct ond_value *outputs, size_t n_outputs,
                                    struct ond_profile *prof, struct ond_error *err)
{
    double *ms = NULL;
    struct plan *pl = NULL;
    memset(prof, 0, sizeof *prof);
    enum ond_status st =
        ond_session_run_profiled(s, inputs, n_inputs, outputs, n_outputs, &ms, &pl, err);
    if (!st && !(prof->steps = calloc((size_t)pl->n_steps + 1, sizeof *prof->steps)))
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate the profile");
    for (int i = 0; !st && i < pl->n_steps; i++) {
        const struct step *sp = &pl->steps[i];
        struct ond_profile_step *ps = &prof->steps[prof->n_steps++];
        ps->node = sp->node ? sp->node->name : "";
        ps->op = !sp->node ? "Reorder" : sp->kind == STEP_COPY ? "Copy" : sp->node->op_type;
        ps->n_post = sp->node ? sp->node->n_post : 0;
        ps->ms = ms[i];
        ps->macs = sp->kind == STEP_PRIM || sp->kind == STEP_EVAL ? plan_macs(pl, sp->node) : 0;
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
            /* An eval step's impl already reads "eval: why" (planner.c). */
            snprintf(ps->impl, sizeof ps->impl, "%s", sp->kind == STEP_COPY ? "copy" : sp->impl);
        }
        layout_str(pl, src, ps->src, sizeof ps->src);
        layout_str(pl, dst, ps->dst, sizeof ps->dst);
    }
    free(ms);
    ond_plan_put(s, pl);
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
    enum ond_status st = ond_plan_for(s, inputs, n_inputs, &bound, &pl, err);
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
    ond_plan_put(s, pl);
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
    enum ond_status st = ond_plan_for(s, inputs, n_inputs, &bound, &pl, err);
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
    ond_plan_put(s, pl);
    free(bound);
    return st;
}
