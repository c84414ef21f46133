/* serve.h: `ondine serve`'s pieces shared between the HTTP front (serve.c: KServe v2 / Open
 * Inference Protocol over libmicrohttpd, JSON with jansson) and the dynamic batcher
 * (serve_batch.c: one runner thread per model that joins requests arriving within a timeout
 * along dimension 0, runs them as one, and splits the outputs back). Only ondine.h is used. */
#ifndef OND_SERVE_H
#define OND_SERVE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ondine.h"

/* Latency histogram buckets (seconds), Prometheus style; the last bucket is +Inf. */
#define SERVE_N_BUCKETS 12
/* Batch-size histogram: sizes 1..SERVE_MAX_BATCH_BUCKET, the last one also counts larger
 * batches (so /metrics gives buckets below it and +Inf). */
#define SERVE_MAX_BATCH_BUCKET 64

/* One inference request on its way through a model's queue. Inputs are in model input order;
 * the runner fills outputs (malloc'd, in model output order) and status, then signals done. */
struct serve_request {
    struct ond_value *inputs;      /* n_in values, data owned by the request */
    struct ond_value *outputs;     /* n_out values, filled by the runner */
    int64_t batch;                 /* dim 0 of every input, when the model batches */
    double queued_at;              /* seconds, monotonic */
    bool done;
    enum ond_status status;
    struct ond_error err;
    struct serve_request *next;
};

struct serve_stats {
    uint64_t requests, failures;
    uint64_t latency_buckets[SERVE_N_BUCKETS];
    double latency_sum;
    uint64_t batches, batch_sizes[SERVE_MAX_BATCH_BUCKET];
    double queue_sum;
};

struct serve_model {
    char *name;
    const char *path;
    struct ond_model *model;
    struct ond_session *session;
    size_t n_in, n_out;
    struct ond_value *in_info, *out_info;   /* names and declared dims (-1 symbolic) */
    bool batchable;        /* every input and output has a symbolic dim 0 */
    int max_batch;         /* rows per run (1: no batching) */
    int timeout_us;        /* how long the first request waits for others */
    int max_queue;         /* queued requests beyond which new ones get 503 */
    pthread_mutex_t lock;
    pthread_cond_t wake, finished;
    struct serve_request *head, *tail;
    int queued;
    bool stopping;
    pthread_t runner;
    bool runner_started;
    struct serve_stats stats;
};

double serve_now(void);
/* Starts m's runner thread. 0, or -1 with a message on stderr. */
int serve_batch_start(struct serve_model *m);
/* Lets the runner finish what is queued, then joins it. */
void serve_batch_stop(struct serve_model *m);
/* Queues r and waits until it has run. Returns false (nothing queued) when the queue is full
 * or the model is stopping. */
bool serve_batch_submit(struct serve_model *m, struct serve_request *r);
/* Records one finished request (latency from r->queued_at) in m's stats. */
void serve_stats_request(struct serve_model *m, const struct serve_request *r, double seconds);
extern const double serve_buckets[SERVE_N_BUCKETS - 1];

/* ---- serve_json.c ---- */
/* {"name", "datatype", "shape"} of v (-1 for a symbolic dim). */
json_t *serve_tensor_meta(const struct ond_value *v);
/* Reads request input t (a JSON object) into v for the model input decl: datatype, shape
 * (each dim decl's, or any for a symbolic one, at most max_elements in all) and values, from
 * `data` or, with parameters.binary_data_size, from *bin (advanced; *bin_left bytes there).
 * 0, or the HTTP status (400, 413, 503) with msg set; v->data is malloc'd when set. */
unsigned serve_read_input(uint64_t max_elements, const json_t *t, const struct ond_value *decl,
                          struct ond_value *v, const char **bin, size_t *bin_left, char *msg,
                          size_t len);
/* v's values as a flat JSON array; NULL for a type JSON numbers cannot carry. */
json_t *serve_values_json(const struct ond_value *v);

#endif
