/* graph.c: the IR graph: arena, tensors and nodes, name lookup, topological sort, compaction
 * and validation, and the rule that only weights stay deferred in the model file's mapping
 * (ond_graph_settle). Counts and sizes are checked against the graph's limits before
 * allocating. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime/ir.h"

struct ond_arena_block {
    struct ond_arena_block *next;
    size_t used, cap;
    _Alignas(64) unsigned char data[];
};

#define ARENA_BLOCK (256 * 1024)

void *ond_alloc(struct ond_graph *g, size_t size, struct ond_error *err)
{
    struct ond_arena *a = &g->arena;
    size_t need = (size + 63) / 64 * 64;
    if (need < size) {
        ond_fail(err, OND_STATUS_NO_MEMORY, "allocation of %zu bytes overflows", size);
        return NULL;
    }
    struct ond_arena_block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;
        if (g->opts.max_total_bytes && a->used_bytes + cap > g->opts.max_total_bytes) {
            ond_fail(err, OND_STATUS_LIMIT, "graph structures exceed the limit of %llu bytes",
                     (unsigned long long)g->opts.max_total_bytes);
            return NULL;
        }
        b = aligned_alloc(64, (sizeof *b + cap + 63) / 64 * 64);
        if (!b) {
            ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate %zu bytes", cap);
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
        a->used_bytes += cap;
    }
    void *p = b->data + b->used;
    b->used += need;
    memset(p, 0, need);
    return p;
}

char *ond_strdup(struct ond_graph *g, const char *s, size_t len, struct ond_error *err)
{
    char *p = ond_alloc(g, len + 1, err);
    if (p && len) /* protobuf-c leaves empty bytes fields NULL */
        memcpy(p, s, len);
    return p;
}

/* Tensor names and symbol names are looked up through open-addressing tables of indices
 * (+1, 0 = empty) so that graphs with very many tensors or symbolic dims load in linear
 * time. */
struct name_table {
    size_t cap;
    int *slots;
};

enum { TENSOR_NAMES, SYMBOL_NAMES, N_TABLES };

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct name_table *table_of(const struct ond_graph *g, int which);

enum ond_status ond_graph_create(const struct ond_options *opts, struct ond_graph **out,
                                 struct ond_error *err)
{
    struct ond_graph *g = calloc(1, sizeof *g + N_TABLES * sizeof(struct name_table));
    if (!g)
        return ond_fail(err, OND_STATUS_NO_MEMORY, "cannot allocate a graph");
    if (opts)
        g->opts = *opts;
    else
        ond_options_init(&g->opts);
    *out = g;
    return OND_OK;
}

static struct name_table *table_of(const struct ond_graph *g, int which)
{
    return (struct name_table *)(void *)(g + 1) + which;
}

static const char *name_at(const struct ond_graph *g, int which, int i)
{
    return which == TENSOR_NAMES ? g->tensors[i]->name : g->syms[i];
}

void ond_node_drop_attrs(struct ond_graph *g, struct ond_node *n)
{
    for (size_t k = 0; k < n->n_attrs; k++) {
        struct ond_tensor *t = n->attrs[k].t;
        if (t && t->own) {
            free(t->own);
            g->const_bytes -= t->nbytes;
        }
    }
    n->attrs = NULL;
    n->n_attrs = 0;
}

void ond_graph_free(struct ond_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_tensors; i++)
        free(g->tensors[i]->own);
    if (g->map)
        munmap(g->map, g->map_len);
    for (int i = 0; i < g->n_nodes; i++)
        ond_node_drop_attrs(g, g->nodes[i]);
    free(g->tensors);
    free(g->nodes);
    free(g->syms);
    for (int i = 0; i < N_TABLES; i++)
        free(table_of(g, i)->slots);
    for (struct ond_arena_block *b = g->arena.head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(g);
}

/* Whether n reads a deferred constant as input k: the weights of the ops whose prepare and
 * eval know them (ond_prep_const_data, ond_input_value). */
static bool reads_deferred(const struct ond_node *n, int k)
{
    return k == 1 && ((!*n->domain && (strcmp(n->op_type, "Conv") == 0 ||
                                       strcmp(n->op_type, "Gemm") == 0)) ||
                      (strcmp(n->domain, "ai.ondine") == 0 &&
                       strcmp(n->op_type, "InnerProduct") == 0));
}

static bool weights_only(const struct ond_graph *g, const struct ond_tensor *t)
{
    if (t->flags & (OND_TENSOR_INPUT | OND_TENSOR_OUTPUT | OND_TENSOR_DEFAULT))
        return false;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct ond_node *n = g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == t && !reads_deferred(n, k))
                return false;
    }
    return true;
}

enum ond_status ond_graph_settle(struct ond_graph *g, struct ond_error *err)
{
    bool mapped = false;
    for (int i = 0; i < g->n_tensors; i++) {
        struct ond_tensor *t = g->tensors[i];
        if (!(t->flags & OND_TENSOR_DEFERRED))
            continue;
        enum ond_status st = weights_only(g, t) ? OND_OK : ond_tensor_materialize(g, t, err);
        if (st)
            return st;
        mapped |= (t->flags & OND_TENSOR_DEFERRED) != 0;
    }
    if (!mapped && g->map) {
        munmap(g->map, g->map_len);
        g->map = NULL;
    }
    return OND_OK;
}

static bool grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return true;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = nc;
    return true;
}

/* Enters entry id of table `which`, which now has count entries. */
static bool table_insert(struct ond_graph *g, int which, int id, int count)
{
    struct name_table *t = table_of(g, which);
    if ((size_t)count * 2 >= t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 256;
        int *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return false;
        free(t->slots);
        t->slots = ns;
        t->cap = nc;
        for (int i = 0; i < count; i++) {
            if (i == id)
                continue;
            size_t h = hash_str(name_at(g, which, i)) & (nc - 1);
            while (ns[h])
                h = (h + 1) & (nc - 1);
            ns[h] = i + 1;
        }
    }
    size_t h = hash_str(name_at(g, which, id)) & (t->cap - 1);
    while (t->slots[h])
        h = (h + 1) & (t->cap - 1);
    t->slots[h] = id + 1;
    return true;
}

/* The index of name in table `which`, or -1. */
static int table_find(const struct ond_graph *g, int which, const char *name)
{
    const struct name_table *t = table_of(g, which);
    if (!t->cap)
        return -1;
    for (size_t h = hash_str(name) & (t->cap - 1); t->slots[h]; h = (h + 1) & (t->cap - 1))
        if (strcmp(name_at(g, which, t->slots[h] - 1), name) == 0)
            return t->slots[h] - 1;
    return -1;
}

struct ond_tensor *ond_graph_find_tensor(const struct ond_graph *g, const char *name)
{
    int i = table_find(g, TENSOR_NAMES, name);
    return i < 0 ? NULL : g->tensors[i];
}

struct ond_tensor *ond_graph_add_tensor(struct ond_graph *g, const char *name,
                                        struct ond_error *err)
{
    if (ond_graph_find_tensor(g, name)) {
        ond_fail(err, OND_STATUS_INVALID_MODEL, "tensor '%s' is defined twice", name);
        return NULL;
    }
    if (!grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1, sizeof *g->tensors)) {
        ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the tensor list");
        return NULL;
    }
    struct ond_tensor *t = ond_alloc(g, sizeof *t, err);
    if (!t || !(t->name = ond_strdup(g, name, strlen(name), err)))
        return NULL;
    t->info.rank = -1;
    t->id = g->n_tensors;
    g->tensors[g->n_tensors++] = t;
    if (!table_insert(g, TENSOR_NAMES, t->id, g->n_tensors)) {
        g->n_tensors--;
        ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the tensor table");
        return NULL;
    }
    return t;
}

struct ond_node *ond_graph_add_node(struct ond_graph *g, int n_in, int n_out,
                                    struct ond_error *err)
{
    if (g->opts.max_nodes && g->n_nodes >= g->opts.max_nodes) {
        ond_fail(err, OND_STATUS_LIMIT, "the graph has more than %lld nodes (the limit)",
                 (long long)g->opts.max_nodes);
        return NULL;
    }
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes)) {
        ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the node list");
        return NULL;
    }
    struct ond_node *n = ond_alloc(g, sizeof *n, err);
    if (!n)
        return NULL;
    n->n_in = n_in;
    n->n_out = n_out;
    if ((n_in && !(n->in = ond_alloc(g, sizeof *n->in * (size_t)n_in, err))) ||
        (n_out && !(n->out = ond_alloc(g, sizeof *n->out * (size_t)n_out, err))))
        return NULL;
    n->id = g->n_nodes;
    g->nodes[g->n_nodes++] = n;
    return n;
}

int ond_graph_symbol(struct ond_graph *g, const char *name, struct ond_error *err)
{
    /* A hostile file may declare any number of distinct symbols: the list grows by
     * doubling (it was copied whole per new symbol: quadratic memory) and is hashed. */
    int i = table_find(g, SYMBOL_NAMES, name);
    if (i >= 0)
        return i;
    if (!grow((void **)&g->syms, &g->cap_syms, g->n_syms + 1, sizeof *g->syms)) {
        ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the symbol list");
        return -1;
    }
    if (!(g->syms[g->n_syms] = ond_strdup(g, name, strlen(name), err)))
        return -1;
    if (!table_insert(g, SYMBOL_NAMES, g->n_syms, g->n_syms + 1)) {
        ond_fail(err, OND_STATUS_NO_MEMORY, "cannot grow the symbol table");
        return -1;
    }
    return g->n_syms++;
}

int64_t ond_graph_opset(const struct ond_graph *g, const char *domain)
{
    /* "ai.onnx" and "" are the same domain. */
    if (strcmp(domain, "ai.onnx") == 0)
        domain = "";
    for (size_t i = 0; i < g->n_opsets; i++) {
        const char *d = g->opsets[i].domain;
        if (strcmp(d, "ai.onnx") == 0)
            d = "";
        if (strcmp(d, domain) == 0)
            return g->opsets[i].version;
    }
    return -1;
}

const struct ond_attr *ond_node_attr(const struct ond_node *n, const char *name)
{
    for (size_t i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

static void recount(struct ond_graph *g)
{
    for (int i = 0; i < g->n_tensors; i++) {
        g->tensors[i]->uses = 0;
        g->tensors[i]->producer = NULL;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        struct ond_node *n = g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k])
                n->in[k]->uses++;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k])
                n->out[k]->producer = n;
    }
}

/* Kahn's algorithm, taking ready nodes in their current order so that a sorted graph stays
 * as it is and file order is kept where dependencies allow. */
enum ond_status ond_graph_sort(struct ond_graph *g, struct ond_error *err)
{
    enum ond_status st = OND_OK;
    int n = g->n_nodes;
    int *pending = calloc((size_t)n + 1, sizeof *pending);
    int *users_at = calloc((size_t)g->n_tensors + 1, sizeof *users_at);
    int *users = NULL, *heap = calloc((size_t)n + 1, sizeof *heap);
    struct ond_node **order = calloc((size_t)n + 1, sizeof *order);
    size_t n_edges = 0;
    if (!pending || !users_at || !heap || !order) {
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot sort the graph");
        goto done;
    }
    recount(g);
    for (int i = 0; i < n; i++)
        g->nodes[i]->id = i;
    /* Edges from each tensor to the nodes reading it, as a CSR list. */
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i]->n_in; k++) {
            struct ond_tensor *t = g->nodes[i]->in[k];
            if (t && t->producer) {
                users_at[t->id + 1]++;
                pending[i]++;
                n_edges++;
            }
        }
    for (int i = 0; i < g->n_tensors; i++)
        users_at[i + 1] += users_at[i];
    users = calloc(n_edges + 1, sizeof *users);
    int *fill = calloc((size_t)g->n_tensors + 1, sizeof *fill);
    if (!users || !fill) {
        free(fill);
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot sort the graph");
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i]->n_in; k++) {
            struct ond_tensor *t = g->nodes[i]->in[k];
            if (t && t->producer)
                users[users_at[t->id] + fill[t->id]++] = i;
        }
    free(fill);
    /* A min-heap of ready node ids keeps the original order among ready nodes. */
    int hn = 0, done_n = 0;
    for (int i = 0; i < n; i++)
        if (!pending[i])
            heap[hn++] = i;
    while (hn) {
        int top = heap[0];
        heap[0] = heap[--hn];
        for (int at = 0;;) {
            int l = 2 * at + 1, r = l + 1, m = at;
            if (l < hn && heap[l] < heap[m])
                m = l;
            if (r < hn && heap[r] < heap[m])
                m = r;
            if (m == at)
                break;
            int tmp = heap[m];
            heap[m] = heap[at];
            heap[at] = tmp;
            at = m;
        }
        struct ond_node *nd = g->nodes[top];
        order[done_n++] = nd;
        for (int k = 0; k < nd->n_out; k++) {
            struct ond_tensor *t = nd->out[k];
            if (!t)
                continue;
            for (int e = users_at[t->id]; e < users_at[t->id + 1]; e++) {
                int u = users[e];
                if (--pending[u] == 0) {
                    int at = hn++;
                    heap[at] = u;
                    while (at && heap[(at - 1) / 2] > heap[at]) {
                        int p = (at - 1) / 2, tmp = heap[p];
                        heap[p] = heap[at];
                        heap[at] = tmp;
                        at = p;
                    }
                }
            }
        }
    }
    if (done_n != n) {
        const char *name = "?";
        for (int i = 0; i < n; i++)
            if (pending[i]) {
                name = g->nodes[i]->name;
                break;
            }
        st = ond_fail(err, OND_STATUS_INVALID_MODEL,
                      "graph is not acyclic: node '%s' is on a cycle", name);
        goto done;
    }
    if (n) /* a graph of no nodes (outputs are inputs) has no node array */
        memcpy(g->nodes, order, sizeof *order * (size_t)n);
    for (int i = 0; i < n; i++)
        g->nodes[i]->id = i;
done:
    free(pending);
    free(users_at);
    free(users);
    free(heap);
    free(order);
    return st;
}

enum ond_status ond_graph_compact(struct ond_graph *g, struct ond_error *err)
{
    int w = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i]->dead)
            g->nodes[w++] = g->nodes[i];
        else
            ond_node_drop_attrs(g, g->nodes[i]);
    }
    g->n_nodes = w;
    recount(g);
    return ond_graph_sort(g, err);
}

enum ond_status ond_graph_validate(const struct ond_graph *g, struct ond_error *err)
{
    enum ond_status st = OND_OK;
    int *uses = calloc((size_t)g->n_tensors + 1, sizeof *uses);
    unsigned char *made = calloc((size_t)g->n_tensors + 1, 1);
    if (!uses || !made) {
        st = ond_fail(err, OND_STATUS_NO_MEMORY, "cannot validate the graph");
        goto done;
    }
    for (int i = 0; i < g->n_tensors; i++)
        if (g->tensors[i]->flags & (OND_TENSOR_INPUT | OND_TENSOR_CONST))
            made[i] = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct ond_node *n = g->nodes[i];
        if (n->dead || n->id != i) {
            st = ond_fail(err, OND_STATUS_INVALID_MODEL, "node '%s': %s", n->name,
                          n->dead ? "dead node left in the graph" : "wrong node index");
            goto done;
        }
        for (int k = 0; k < n->n_in; k++) {
            const struct ond_tensor *t = n->in[k];
            if (!t)
                continue;
            if (!made[t->id]) {
                st = ond_fail(err, OND_STATUS_INVALID_MODEL,
                              "node '%s' reads tensor '%s', which %s", n->name, t->name,
                              t->producer ? "is produced later (not topological)"
                                          : "no node produces and is not a graph input or initializer");
                goto done;
            }
            uses[t->id]++;
        }
        for (int k = 0; k < n->n_out; k++) {
            const struct ond_tensor *t = n->out[k];
            if (!t)
                continue;
            if (made[t->id] || t->producer != n) {
                st = ond_fail(err, OND_STATUS_INVALID_MODEL,
                              "tensor '%s' has more than one producer (node '%s')", t->name,
                              n->name);
                goto done;
            }
            made[t->id] = 1;
        }
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (!made[g->outputs[i]->id]) {
            st = ond_fail(err, OND_STATUS_INVALID_MODEL,
                          "graph output '%s' is not produced by any node", g->outputs[i]->name);
            goto done;
        }
    for (int i = 0; i < g->n_tensors; i++)
        if (uses[i] != g->tensors[i]->uses) {
            st = ond_fail(err, OND_STATUS_INVALID_MODEL, "tensor '%s': use count %d, expected %d",
                          g->tensors[i]->name, g->tensors[i]->uses, uses[i]);
            goto done;
        }
done:
    free(uses);
    free(made);
    return st;
}

