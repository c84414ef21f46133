/* util.h: test helpers: build ONNX models in memory with protobuf-c (so tests can make any
 * model, valid or hostile, without files), load them, and compare floats. */
#ifndef OND_TEST_UTIL_H
#define OND_TEST_UTIL_H

#include <setjmp.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "onnx/onnx.pb-c.h"
#include "runtime/ir.h"

struct tm;

/* A model with one opset import of the default domain. */
struct tm *tm_new(int64_t ir_version, int64_t opset);
Onnx__ModelProto *tm_proto(struct tm *m);
Onnx__GraphProto *tm_graph(struct tm *m);
/* dims < 0 become the symbolic dim "N". */
Onnx__ValueInfoProto *tm_input(struct tm *m, const char *name, int32_t dtype, int rank,
                               const int64_t *dims);
Onnx__ValueInfoProto *tm_output(struct tm *m, const char *name);
/* An initializer with raw_data (data may be NULL: zeros). */
Onnx__TensorProto *tm_init(struct tm *m, const char *name, int32_t dtype, int rank,
                           const int64_t *dims, const void *data);
/* inputs and outputs are comma-separated names; an empty item is an omitted input. */
Onnx__NodeProto *tm_node(struct tm *m, const char *op, const char *name, const char *inputs,
                         const char *outputs);
void tm_attr_int(struct tm *m, Onnx__NodeProto *n, const char *name, int64_t v);
void tm_attr_float(struct tm *m, Onnx__NodeProto *n, const char *name, float v);
void tm_attr_ints(struct tm *m, Onnx__NodeProto *n, const char *name, int count,
                  const int64_t *v);
void tm_attr_string(struct tm *m, Onnx__NodeProto *n, const char *name, const char *v);
void tm_attr_tensor(struct tm *m, Onnx__NodeProto *n, const char *name, Onnx__TensorProto *t);
/* A TensorProto not in the graph (for attributes). */
Onnx__TensorProto *tm_tensor(struct tm *m, int32_t dtype, int rank, const int64_t *dims,
                             const void *data);
/* Allocation tied to the model's lifetime. */
void *tm_alloc(struct tm *m, size_t size);
char *tm_str(struct tm *m, const char *s);
/* Serialized bytes, malloc'd. */
uint8_t *tm_pack(struct tm *m, size_t *len);
void tm_free(struct tm *m);

/* Packs and loads m into a graph (partial = false); returns the status, err filled. */
enum ond_status tm_load(struct tm *m, struct ond_graph **g, struct ond_error *err);
/* Loads m into a graph, failing the test on error; frees m. */
struct ond_graph *tm_load_ok(struct tm *m);
/* Loading m must fail with status want and a message holding substr; frees m. */
void tm_load_fails(struct tm *m, enum ond_status want, const char *substr);
/* Loads m as a model optimized at opt_level (sessions take models), failing the test on
 * error; frees m. */
struct ond_model *tm_load_model(struct tm *m, int opt_level);

/* Seeded random numbers, the same sequence on every machine, so that failures reproduce. */
void ond_test_seed(uint64_t s);
/* Uniform in [-1, 1). */
float ond_test_frand(void);
/* A float initializer of ond_test_frand values scaled into [lo, hi). */
void tm_init_rand(struct tm *m, const char *name, int rank, const int64_t *dims, float lo,
                  float hi);
/* y = Conv(x) with cout 3x3 filters (pads 1), weights "<y>_w" in [-w_range, w_range) and
 * bias "<y>_b" in [-b_range, b_range). */
void tm_conv3x3(struct tm *m, const char *x, const char *y, int64_t cin, int64_t cout,
                float w_range, float b_range);

/* The product of rank dims. */
size_t ond_test_numel(int rank, const int64_t *dims);
/* A value over data (not copied) of the given type and shape, its size computed. */
struct ond_value ond_test_value(const char *name, int32_t dtype, int rank, const int64_t *dims,
                                const void *data);

/* Asserts status st and that err's message contains substr. */
#define assert_error(st, want, err, substr) \
    ond_test_assert_error((st), (want), (err), (substr), __FILE__, __LINE__)
void ond_test_assert_error(enum ond_status st, enum ond_status want, const struct ond_error *err,
                           const char *substr, const char *file, int line);

/* Max |a-b| <= atol + rtol*|b| over n floats; prints the worst element on failure. */
void ond_test_assert_close(const float *got, const float *want, size_t n, float rtol, float atol,
                           const char *file, int line);
#define assert_close(got, want, n, rtol, atol) \
    ond_test_assert_close((got), (want), (n), (rtol), (atol), __FILE__, __LINE__)

#endif
