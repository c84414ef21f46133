/* serve_batch.c: `ondine serve`'s dynamic batcher. Each model has one runner thread and a FIFO
 * of requests. The runner takes the oldest request, waits up to the model's timeout (measured
 * from that request's arrival) for more whose inputs agree with it in every dim but the first,
 * up to max_batch rows in all, joins their inputs along dimension 0, runs the session once and
 * hands each request its rows of every output. A model whose inputs and outputs do not all
 * have a symbolic first dim runs each request alone. Outputs of a joined run equal those of
 * running each request alone (the session computes rows independently; the serve ctest checks
 * it against `ondine run`). Limits: requests of other shapes wait for a later run; one request
 * larger than max_batch runs alone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/serve.h"

const double serve_buckets[SERVE_N_BUCKETS - 1] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1.0};

double serve_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Whether r's inputs agree with first's in every dim but dim 0. */
static bool compatible(const struct serve_model *m, const struct serve_request *first,
                       const struct serve_request *r)
{
    for (size_t i = 0; i < m->n_in; i++) {
        const struct ond_value *a = &first->inputs[i], *b = &r->inputs[i];
        if (a->rank != b->rank || a->rank < 1 ||
            memcmp(a->dims + 1, b->dims + 1, sizeof(int64_t) * (size_t)(a->rank - 1)) != 0)
            return false;
    }
    return true;
}

/* Rows the queue could add to a run that starts with its head (within max_batch). */
static int64_t queued_rows(const struct serve_model *m)
{
    int64_t rows = 0;
    for (const struct serve_request *r = m->head; r; r = r->next)
        if (compatible(m, m->head, r) && rows + r->batch <= m->max_batch)
            rows += r->batch;
    return rows;
}

/* Takes the head and the compatible requests after it that fit, in arrival order. */
static struct serve_request *take(struct serve_model *m, int *count, int64_t *rows)
{
    struct serve_request *first = m->head, *group = NULL, **end = &group, **link = &m->head;
    *count = 0;
    *rows = 0;
    while (*link) {
        struct serve_request *r = *link;
        bool fits = r == first || (m->batchable && compatible(m, first, r) &&
                                   *rows + r->batch <= m->max_batch);
        if (!fits) {
            link = &r->next;
            continue;
        }
        *link = r->next;
        r->next = NULL;
        *end = r;
        end = &r->next;
        (*count)++;
        *rows += r->batch;
        m->queued--;
    }
    m->tail = NULL;
    for (struct serve_request *r = m->head; r; r = r->next)
        m->tail = r;
    return group;
}

static void fail_all(struct serve_request *group, enum ond_status st, const struct ond_error *err)
{
    for (struct serve_request *r = group; r; r = r->next) {
        r->status = st;
        r->err = *err;
    }
}

/* Runs the requests of group (count of them, rows in all) as one: inputs joined along dim 0,
 * outputs split back. */
static void run_joined(struct serve_model *m, struct serve_request *group, int count,
                       int64_t rows)
{
    struct ond_error err = {0};
    struct ond_value *in = calloc(m->n_in, sizeof *in), *out = NULL;
    size_t n_out = 0;
    enum ond_status st = in ? OND_OK : OND_STATUS_NO_MEMORY;
    for (size_t i = 0; i < m->n_in && !st; i++) {
        in[i] = group->inputs[i];
        in[i].dims[0] = rows;
        in[i].size = 0;
        for (struct serve_request *r = group; r; r = r->next)
            in[i].size += r->inputs[i].size;
        if (!(in[i].data = malloc(in[i].size ? in[i].size : 1))) {
            st = OND_STATUS_NO_MEMORY;
            break;
        }
        size_t at = 0;
        for (struct serve_request *r = group; r; r = r->next) {
            memcpy((char *)in[i].data + at, r->inputs[i].data, r->inputs[i].size);
            at += r->inputs[i].size;
        }
    }
    if (st)
        snprintf(err.message, sizeof err.message, "cannot allocate a batch of %d requests",
                 count);
    else
        st = ond_session_run_alloc(m->session, in, m->n_in, &out, &n_out, &err);
    for (size_t i = 0; st == OND_OK && i < n_out; i++)
        if (out[i].rank < 1 || out[i].dims[0] != rows) {
            st = OND_STATUS_UNSUPPORTED;
            snprintf(err.message, sizeof err.message,
                     "output '%s' of a batch of %lld rows has another first dim", out[i].name,
                     (long long)rows);
        }
    for (struct serve_request *r = group; r && st == OND_OK; r = r->next)
        if (!(r->outputs = calloc(n_out, sizeof *r->outputs)))
            st = OND_STATUS_NO_MEMORY;
    int64_t row = 0;
    for (struct serve_request *r = group; r && st == OND_OK; r = r->next) {
        for (size_t i = 0; i < n_out && st == OND_OK; i++) {
            struct ond_value *o = &r->outputs[i];
            size_t per = out[i].size / (size_t)rows;
            *o = out[i];
            o->dims[0] = r->batch;
            o->size = per * (size_t)r->batch;
            o->name = strdup(out[i].name);
            o->data = malloc(o->size ? o->size : 1);
            if (!o->name || !o->data)
                st = OND_STATUS_NO_MEMORY;
            else
                memcpy(o->data, (char *)out[i].data + per * (size_t)row, o->size);
        }
        row += r->batch;
    }
    if (st) {
        if (st == OND_STATUS_NO_MEMORY && !err.message[0])
            snprintf(err.message, sizeof err.message, "out of memory splitting a batch");
        for (struct serve_request *r = group; r; r = r->next) {
            ond_values_free(r->outputs, r->outputs ? n_out : 0);
            r->outputs = NULL;
        }
        fail_all(group, st, &err);
    }
    for (size_t i = 0; in && i < m->n_in; i++)
        free(in[i].data);
    free(in);
    ond_values_free(out, n_out);
}

static void run_group(struct serve_model *m, struct serve_request *group, int count,
                      int64_t rows)
{
    if (count == 1) {
        size_t n_out = 0;
        group->status = ond_session_run_alloc(m->session, group->inputs, m->n_in,
                                              &group->outputs, &n_out, &group->err);
    } else {
        run_joined(m, group, count, rows);
    }
}

static void *runner(void *arg)
{
    struct serve_model *m = arg;
    pthread_mutex_lock(&m->lock);
    for (;;) {
        while (!m->head && !m->stopping)
            pthread_cond_wait(&m->wake, &m->lock);
        if (!m->head)
            break;
        double deadline = m->head->queued_at + m->timeout_us * 1e-6;
        while (m->batchable && m->max_batch > 1 && !m->stopping &&
               queued_rows(m) < m->max_batch && serve_now() < deadline) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double wait = deadline - serve_now();
            long long ns = (long long)ts.tv_nsec + (long long)(wait * 1e9);
            ts.tv_sec += (time_t)(ns / 1000000000LL);
            ts.tv_nsec = (long)(ns % 1000000000LL);
            pthread_cond_timedwait(&m->wake, &m->lock, &ts);
        }
        int count;
        int64_t rows;
        struct serve_request *group = take(m, &count, &rows);
        double start = serve_now();
        m->stats.batches++;
        m->stats.batch_sizes[(rows < SERVE_MAX_BATCH_BUCKET ? rows : SERVE_MAX_BATCH_BUCKET) - 1]++;
        for (struct serve_request *r = group; r; r = r->next)
            m->stats.queue_sum += start - r->queued_at;
        pthread_mutex_unlock(&m->lock);
        run_group(m, group, count, rows);
        pthread_mutex_lock(&m->lock);
        for (struct serve_request *r = group; r;) {
            struct serve_request *next = r->next;
            r->done = true;
            r = next;
        }
        pthread_cond_broadcast(&m->finished);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

int serve_batch_start(struct serve_model *m)
{
    pthread_condattr_t ca;
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->wake, &ca);
    pthread_cond_init(&m->finished, NULL);
    pthread_condattr_destroy(&ca);
    int e = pthread_create(&m->runner, NULL, runner, m);
    if (e) {
        fprintf(stderr, "ondine serve: %s: cannot start its runner thread: %s\n", m->name,
                strerror(e));
        return -1;
    }
    m->runner_started = true;
    return 0;
}

void serve_batch_stop(struct serve_model *m)
{
    if (!m->runner_started)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->runner, NULL);
    m->runner_started = false;
}

bool serve_batch_submit(struct serve_model *m, struct serve_request *r)
{
    pthread_mutex_lock(&m->lock);
    if (m->stopping || m->queued >= m->max_queue) {
        pthread_mutex_unlock(&m->lock);
        return false;
    }
    r->queued_at = serve_now();
    r->next = NULL;
    if (m->tail)
        m->tail->next = r;
    else
        m->head = r;
    m->tail = r;
    m->queued++;
    pthread_cond_signal(&m->wake);
    while (!r->done)
        pthread_cond_wait(&m->finished, &m->lock);
    pthread_mutex_unlock(&m->lock);
    return true;
}

void serve_stats_request(struct serve_model *m, const struct serve_request *r, double seconds)
{
    int b = 0;
    while (b < SERVE_N_BUCKETS - 1 && seconds > serve_buckets[b])
        b++;
    pthread_mutex_lock(&m->lock);
    m->stats.requests++;
    m->stats.failures += r->status != OND_OK;
    m->stats.latency_buckets[b]++;
    m->stats.latency_sum += seconds;
    pthread_mutex_unlock(&m->lock);
}
