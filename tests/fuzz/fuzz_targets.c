/* fuzz_targets.c: libFuzzer entry points over ondine's public API, one per stage, picked
 * with OND_FUZZ_STAGE when compiled:
 *   1 (fuzz_load):    bytes -> ond_model_load_buffer, and ond_model_load_file on the same
 *                     bytes (the path that leaves Conv weights in the file's mapping)
 *   2 (fuzz_session): load from a file, ond_session_create, then plan for the declared
 *                     input shapes (symbolic dims 1) without running
 *   3 (fuzz_run):     a 4-byte little-endian model length, the model, then bytes that set
 *                     symbolic dims (1 + byte % 4, one byte each) and fill the inputs;
 *                     load from a file, session, run
 * Files are memfds, named by /proc/self/fd/N.
 * Limits are tight so that any allocation libFuzzer's -malloc_limit_mb catches is a limit
 * ondine failed to apply. The same file, linked with replay.c instead of libFuzzer, replays
 * tests/fuzz/regressions/ in every build. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ondine.h"
#include "runtime/ir.h"
#include "runtime/session.h"

#ifndef OND_FUZZ_STAGE
#error "compile with -DOND_FUZZ_STAGE=1, 2 or 3"
#endif

#define MAX_INPUT_BYTES (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_options(struct ond_options *o)
{
    ond_options_init(o);
    o->threads = 1;
    o->max_tensor_elements = 1u << 22;
    o->max_total_bytes = 256u << 20;
    o->max_nodes = 1 << 12;
}

/* Takes the next byte of the input stream, or 0 once it is used up. */
static uint8_t next_byte(const uint8_t **p, const uint8_t *end)
{
    return *p < end ? *(*p)++ : 0;
}

/* One value per graph input, of the declared dtype and shape (symbolic dims from the
 * stream), filled from the stream (cycled; zeros when empty). A shape too large for the
 * harness gets no buffer: ondine must refuse it. */
static struct ond_value *make_inputs(const struct ond_model *m, const uint8_t *p,
                                     const uint8_t *end)
{
    size_t n = ond_model_input_count(m);
    struct ond_value *in = calloc(n + 1, sizeof *in);
    if (!in)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        struct ond_value *v = &in[i];
        if (ond_model_input(m, i, v, NULL))
            continue;
        if (v->rank < 0) {
            v->rank = 1;
            v->dims[0] = -1;
        }
        uint64_t numel = 1;
        for (int d = 0; d < v->rank; d++) {
            if (v->dims[d] < 0)
                v->dims[d] = 1 + next_byte(&p, end) % 4;
            if (__builtin_mul_overflow(numel, (uint64_t)v->dims[d], &numel))
                numel = UINT64_MAX;
        }
        size_t es = ond_dtype_size(v->dtype);
        if (!es || numel > MAX_INPUT_BYTES / es)
            continue;
        v->size = (size_t)numel * es;
        if (!(v->data = calloc(v->size ? v->size : 1, 1)))
            continue;
        for (size_t b = 0; p < end && b < v->size; b++)
            ((uint8_t *)v->data)[b] = p[b % (size_t)(end - p)];
    }
    return in;
}

static void free_inputs(struct ond_value *in, size_t n)
{
    for (size_t i = 0; in && i < n; i++)
        free(in[i].data);
    free(in);
}

/* ond_model_load_file on the bytes, written to a memfd (ond_model_load_buffer when none can
 * be made). */
static enum ond_status load_file(const uint8_t *data, size_t size, const struct ond_options *o,
                                 struct ond_model **m, struct ond_error *err)
{
    int fd = memfd_create("model", MFD_CLOEXEC);
    size_t done = 0;
    while (fd >= 0 && done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (fd < 0 || done < size) {
        if (fd >= 0)
            close(fd);
        return ond_model_load_buffer(data, size, o, m, err);
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    enum ond_status st = ond_model_load_file(path, o, m, err);
    close(fd);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ond_options o;
    fuzz_options(&o);
    const uint8_t *model = data, *rest = data + size;
    size_t model_size = size;
    if (OND_FUZZ_STAGE == 3) {
        if (size < 4)
            return 0;
        uint32_t len = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                       (uint32_t)data[3] << 24;
        model = data + 4;
        model_size = len < size - 4 ? len : size - 4;
        rest = model + model_size;
    }
    struct ond_model *m = NULL;
    struct ond_error err;
    if (OND_FUZZ_STAGE == 1) {
        if (!ond_model_load_buffer(model, model_size, &o, &m, &err))
            ond_model_free(m);
        m = NULL;
        if (!load_file(model, model_size, &o, &m, &err))
            ond_model_free(m);
        return 0;
    }
    if (load_file(model, model_size, &o, &m, &err)) {
        ond_model_free(m);
        return 0;
    }
    struct ond_session *s = NULL;
    if (ond_session_create(m, &o, &s, &err) == OND_OK) {
        size_t n_in = ond_model_input_count(m), n_out = ond_model_output_count(m);
        struct ond_value *in = make_inputs(m, rest, data + size);
        if (in && OND_FUZZ_STAGE == 2) {
            struct ond_value *shapes = calloc(n_out + 1, sizeof *shapes);
            if (shapes)
                ond_session_output_shapes(s, in, n_in, shapes, &err);
            free(shapes);
        } else if (in) {
            struct ond_value *out = NULL;
            size_t n = 0;
            if (ond_session_run_alloc(s, in, n_in, &out, &n, &err) == OND_OK)
                ond_values_free(out, n);
        }
        free_inputs(in, n_in);
    }
    ond_session_free(s);
    ond_model_free(m);
    return 0;
}
