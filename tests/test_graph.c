/* test_graph.c: the IR: tensors and nodes, name lookup, topological sort (stable, cycles),
 * validation, and the op registry. */
#include "ops/op.h"
#include "tests/util.h"

static struct ond_graph *new_graph(void)
{
    struct ond_graph *g = NULL;
    assert_int_equal(ond_graph_create(NULL, &g, NULL), OND_OK);
    return g;
}

/* a -> n0 -> b -> n1 -> c, built with the nodes in reverse order. */
static void test_sort_reorders(void **state)
{
    (void)state;
    struct ond_graph *g = new_graph();
    struct ond_error err = {0};
    struct ond_tensor *a = ond_graph_add_tensor(g, "a", &err);
    struct ond_tensor *b = ond_graph_add_tensor(g, "b", &err);
    struct ond_tensor *c = ond_graph_add_tensor(g, "c", &err);
    a->flags = OND_TENSOR_INPUT;
    struct ond_node *n1 = ond_graph_add_node(g, 1, 1, &err);
    struct ond_node *n0 = ond_graph_add_node(g, 1, 1, &err);
    n1->name = "n1";
    n1->in[0] = b;
    n1->out[0] = c;
    n0->name = "n0";
    n0->in[0] = a;
    n0->out[0] = b;
    assert_int_equal(ond_graph_sort(g, &err), OND_OK);
    assert_ptr_equal(g->nodes[0], n0);
    assert_ptr_equal(g->nodes[1], n1);
    assert_int_equal(b->uses, 1);
    assert_ptr_equal(c->producer, n1);
    assert_int_equal(ond_graph_validate(g, &err), OND_OK);
    ond_graph_free(g);
}

static void test_sort_cycle(void **state)
{
    (void)state;
    struct ond_graph *g = new_graph();
    struct ond_error err = {0};
    struct ond_tensor *a = ond_graph_add_tensor(g, "a", &err);
    struct ond_tensor *b = ond_graph_add_tensor(g, "b", &err);
    struct ond_node *n0 = ond_graph_add_node(g, 1, 1, &err);
    struct ond_node *n1 = ond_graph_add_node(g, 1, 1, &err);
    n0->name = "first";
    n0->in[0] = b;
    n0->out[0] = a;
    n1->name = "second";
    n1->in[0] = a;
    n1->out[0] = b;
    assert_error(ond_graph_sort(g, &err), OND_STATUS_INVALID_MODEL, &err, "not acyclic");
    ond_graph_free(g);
}

static void test_duplicate_tensor(void **state)
{
    (void)state;
    struct ond_graph *g = new_graph();
    struct ond_error err = {0};
    assert_non_null(ond_graph_add_tensor(g, "x", &err));
    assert_null(ond_graph_add_tensor(g, "x", &err));
    assert_error(err.status, OND_STATUS_INVALID_MODEL, &err, "defined twice");
    ond_graph_free(g);
}

static void test_lookup_many(void **state)
{
    (void)state;
    struct ond_graph *g = new_graph();
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "t%d", i);
        assert_non_null(ond_graph_add_tensor(g, name, NULL));
    }
    for (int i = 0; i < 5000; i += 7) {
        snprintf(name, sizeof name, "t%d", i);
        struct ond_tensor *t = ond_graph_find_tensor(g, name);
        assert_non_null(t);
        assert_int_equal(t->id, i);
    }
    assert_null(ond_graph_find_tensor(g, "t5000"));
    ond_graph_free(g);
}

static void test_validate_catches_bad_uses(void **state)
{
    (void)state;
    struct ond_graph *g = new_graph();
    struct ond_error err = {0};
    struct ond_tensor *a = ond_graph_add_tensor(g, "a", &err);
    struct ond_tensor *b = ond_graph_add_tensor(g, "b", &err);
    a->flags = OND_TENSOR_INPUT;
    struct ond_node *n = ond_graph_add_node(g, 1, 1, &err);
    n->name = "n";
    n->in[0] = a;
    n->out[0] = b;
    assert_int_equal(ond_graph_sort(g, &err), OND_OK);
    a->uses = 3;
    assert_error(ond_graph_validate(g, &err), OND_STATUS_INVALID_MODEL, &err, "use count");
    ond_graph_free(g);
}

static void test_registry(void **state)
{
    (void)state;
    /* Every entry complete, and no two with the same domain, name and version. */
    for (size_t i = 0; i < ond_op_count(); i++) {
        const struct ond_op *op = ond_op_at(i);
        assert_non_null(op->name);
        assert_non_null(op->domain);
        assert_non_null(op->infer);
        assert_true(op->since >= 1);
        assert_true(op->min_in <= op->max_in && op->min_out <= op->max_out);
        assert_true(op->params_size == 0 || op->parse);
        for (size_t j = 0; j < i; j++) {
            const struct ond_op *o = ond_op_at(j);
            assert_false(strcmp(o->name, op->name) == 0 && strcmp(o->domain, op->domain) == 0 &&
                         o->since == op->since);
        }
    }
    const struct ond_op *conv = ond_op_find("", "Conv", 13);
    assert_non_null(conv);
    assert_ptr_equal(ond_op_find("ai.onnx", "Conv", 13), conv);
    assert_null(ond_op_find("", "NoSuchOp", 13));
    assert_null(ond_op_find("com.example", "Conv", 13));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_reorders),
        cmocka_unit_test(test_sort_cycle),
        cmocka_unit_test(test_duplicate_tensor),
        cmocka_unit_test(test_lookup_many),
        cmocka_unit_test(test_validate_catches_bad_uses),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
