/* serve.c: `ondine serve MODEL...`: the KServe v2 Open Inference Protocol (REST) over HTTP, the
 * protocol Triton and OpenVINO Model Server speak (docs/serving.md). HTTP is libmicrohttpd (a
 * thread per connection), JSON is jansson; requests of one model go through its dynamic batcher
 * (serve_batch.c). Endpoints: GET /v2/health/live, /v2/health/ready, /v2, /v2/models/NAME,
 * /v2/models/NAME/ready, /metrics (Prometheus text); POST /v2/models/NAME/infer with JSON
 * tensors (`data` flat or nested) or the binary tensor data extension
 * (Inference-Header-Content-Length). A path may name a version (/versions/V/); there is one.
 * Bad requests get {"error": "..."} and 400 (malformed JSON, wrong datatype or shape, unknown,
 * missing or repeated inputs), 404 (unknown model or path), 405, 413 (body over
 * --max-body-bytes or a tensor over --max-elements) or 503 (queue full, or a request begun
 * after SIGTERM). SIGTERM or SIGINT stops accepting connections, lets the requests begun before
 * it finish (30 s at most), then exits 0. Listens on IPv4 only. */
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/serve.h"

struct server {
    struct serve_model *models;
    int n_models;
    size_t max_body;
    uint64_t max_elements;
    atomic_int in_flight;
    atomic_bool draining;
};

/* Per-request state across libmicrohttpd's calls of the handler. */
struct conn {
    char *body;
    size_t len;
    bool too_big;
    bool late;      /* began after SIGTERM: refused with 503 */
};

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, char *text,
                                 const char *type, const char *header_len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text,
                                                             MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    if (header_len)
        MHD_add_response_header(r, "Inference-Header-Content-Length", header_len);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text ? send_text(c, code, text, "application/json", NULL) : MHD_NO;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_json(c, code, json_pack("{s:s}", "error", msg));
}

static json_t *model_meta(const struct serve_model *m)
{
    json_t *in = json_array(), *out = json_array();
    for (size_t i = 0; i < m->n_in; i++)
        json_array_append_new(in, serve_tensor_meta(&m->in_info[i]));
    for (size_t i = 0; i < m->n_out; i++)
        json_array_append_new(out, serve_tensor_meta(&m->out_info[i]));
    return json_pack("{s:s,s:[s],s:s,s:o,s:o}", "name", m->name, "versions", "1", "platform",
                     "onnx_ondine", "inputs", in, "outputs", out);
}

/* Whether output `name` is asked for (all when the request names none), and as binary. */
static bool wanted(const json_t *req, const char *name, bool *binary)
{
    const json_t *outs = json_object_get(req, "outputs");
    *binary = json_is_true(json_object_get(json_object_get(req, "parameters"),
                                           "binary_data_output"));
    if (!json_is_array(outs) || !json_array_size(outs))
        return true;
    for (size_t i = 0; i < json_array_size(outs); i++) {
        const json_t *o = json_array_get(outs, i);
        const char *n = json_string_value(json_object_get(o, "name"));
        if (n && strcmp(n, name) == 0) {
            const json_t *b = json_object_get(json_object_get(o, "parameters"), "binary_data");
            if (b)
                *binary = json_is_true(b);
            return true;
        }
    }
    return false;
}

static enum MHD_Result respond_infer(struct MHD_Connection *c, const struct serve_model *m,
                                     const json_t *req, const struct serve_request *r)
{
    json_t *outs = json_array();
    size_t bin_len = 0;
    for (size_t i = 0; i < m->n_out; i++) {
        bool binary;
        if (wanted(req, r->outputs[i].name, &binary) && binary)
            bin_len += r->outputs[i].size;
    }
    char *bin = malloc(bin_len ? bin_len : 1), *at = bin;
    for (size_t i = 0; bin && i < m->n_out; i++) {
        const struct ond_value *v = &r->outputs[i];
        bool binary;
        if (!wanted(req, v->name, &binary))
            continue;
        json_t *o = serve_tensor_meta(v);
        if (binary) {
            json_object_set_new(o, "parameters", json_pack("{s:I}", "binary_data_size",
                                                            (json_int_t)v->size));
            memcpy(at, v->data, v->size);
            at += v->size;
        } else {
            json_t *data = serve_values_json(v);
            if (!data) {
                json_decref(o);
                json_decref(outs);
                free(bin);
                return send_error(c, 500, "output '%s' has a type JSON cannot carry: ask for "
                                          "binary_data", v->name);
            }
            json_object_set_new(o, "data", data);
        }
        json_array_append_new(outs, o);
    }
    json_t *resp = json_pack("{s:s,s:s,s:o}", "model_name", m->name, "model_version", "1",
                             "outputs", outs);
    const json_t *id = json_object_get(req, "id");
    if (json_is_string(id))
        json_object_set(resp, "id", (json_t *)id);
    char *text = json_dumps(resp, JSON_COMPACT);
    json_decref(resp);
    if (!text || !bin) {
        free(text);
        free(bin);
        return MHD_NO;
    }
    if (!bin_len) {
        free(bin);
        return send_text(c, 200, text, "application/json", NULL);
    }
    size_t tlen = strlen(text);
    char *body = malloc(tlen + bin_len), hl[32];
    if (body) {
        memcpy(body, text, tlen);
        memcpy(body + tlen, bin, bin_len);
    }
    free(text);
    free(bin);
    if (!body)
        return MHD_NO;
    snprintf(hl, sizeof hl, "%zu", tlen);
    struct MHD_Response *rs = MHD_create_response_from_buffer(tlen + bin_len, body,
                                                              MHD_RESPMEM_MUST_FREE);
    if (!rs) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(rs, "Content-Type", "application/octet-stream");
    MHD_add_response_header(rs, "Inference-Header-Content-Length", hl);
    enum MHD_Result ret = MHD_queue_response(c, 200, rs);
    MHD_destroy_response(rs);
    return ret;
}

static enum MHD_Result infer(struct server *srv, struct MHD_Connection *c, struct serve_model *m,
                             const struct conn *cs)
{
    const char *hl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Inference-Header-Content-Length");
    size_t json_len = cs->len;
    long long h;
    if (hl && (!cli_int(hl, 0, (long long)cs->len, &h)))
        return send_error(c, 400, "Inference-Header-Content-Length %s does not fit a body of "
                                  "%zu bytes", hl, cs->len);
    if (hl)
        json_len = (size_t)h;
    json_error_t jerr;
    json_t *req = json_loadb(cs->body ? cs->body : "", json_len, 0, &jerr);
    if (!req || !json_is_object(req)) {
        json_decref(req);
        return send_error(c, 400, "malformed JSON: %s", req ? "not an object" : jerr.text);
    }
    const json_t *ins = json_object_get(req, "inputs");
    struct serve_request r = {0};
    char msg[1024] = "";
    unsigned code = 0;
    const char *bin = cs->body ? cs->body + json_len : NULL;
    size_t bin_left = cs->len - json_len;
    if (!json_is_array(ins))
        code = 400, snprintf(msg, sizeof msg, "the request has no \"inputs\" array");
    else if (!(r.inputs = calloc(m->n_in, sizeof *r.inputs)))
        code = 503, snprintf(msg, sizeof msg, "out of memory");
    for (size_t i = 0; !code && i < json_array_size(ins); i++) {
        const json_t *t = json_array_get(ins, i);
        const char *name = json_string_value(json_object_get(t, "name"));
        size_t k = 0;
        while (name && k < m->n_in && strcmp(m->in_info[k].name, name) != 0)
            k++;
        if (!name || k == m->n_in)
            code = 400, snprintf(msg, sizeof msg, "input %zu: %s%s%s is not an input of %s", i,
                                 name ? "'" : "", name ? name : "no name", name ? "'" : "",
                                 m->name);
        else if (r.inputs[k].data)
            code = 400, snprintf(msg, sizeof msg, "input '%s' is given twice", name);
        else
            code = serve_read_input(srv->max_elements, t, &m->in_info[k], &r.inputs[k], &bin, &bin_left, msg,
                              sizeof msg);
    }
    for (size_t k = 0; !code && k < m->n_in; k++)
        if (!r.inputs[k].data)
            code = 400, snprintf(msg, sizeof msg, "input '%s' is missing", m->in_info[k].name);
    r.batch = 1;
    for (size_t k = 0; !code && m->batchable && k < m->n_in; k++) {
        if (r.inputs[k].dims[0] < 1 || (k && r.inputs[k].dims[0] != r.batch))
            code = 400, snprintf(msg, sizeof msg, "inputs must agree on a batch dim of at "
                                                  "least 1");
        r.batch = r.inputs[k].dims[0];
    }
    for (size_t i = 0; !code && json_is_array(json_object_get(req, "outputs")) &&
                       i < json_array_size(json_object_get(req, "outputs")); i++) {
        const char *n = json_string_value(
            json_object_get(json_array_get(json_object_get(req, "outputs"), i), "name"));
        size_t k = 0;
        while (n && k < m->n_out && strcmp(m->out_info[k].name, n) != 0)
            k++;
        if (!n || k == m->n_out)
            code = 400, snprintf(msg, sizeof msg, "requested output %s is not an output of %s",
                                 n ? n : "(no name)", m->name);
    }
    enum MHD_Result ret;
    double t0 = serve_now();
    if (code) {
        r.status = OND_STATUS_INVALID_INPUT;
        ret = send_error(c, code, "%s", msg);
    } else if (!serve_batch_submit(m, &r)) {
        r.status = OND_STATUS_LIMIT;
        ret = send_error(c, 503, "%s: the queue is full or the server is stopping", m->name);
    } else if (r.status) {
        ret = send_error(c, r.status == OND_STATUS_INVALID_INPUT ? 400 : 500, "%s: %s",
                         ond_status_name(r.status), r.err.message);
    } else {
        ret = respond_infer(c, m, req, &r);
    }
    if (r.queued_at > 0 || code)
        serve_stats_request(m, &r, serve_now() - (r.queued_at > 0 ? r.queued_at : t0));
    json_decref(req);
    for (size_t k = 0; r.inputs && k < m->n_in; k++)
        free(r.inputs[k].data);
    free(r.inputs);
    ond_values_free(r.outputs, r.outputs ? m->n_out : 0);
    return ret;
}

/* Prometheus text: each family's HELP and TYPE, then its samples for every model. */
static enum MHD_Result metrics(struct server *srv, struct MHD_Connection *c)
{
    size_t cap = 2048 + (size_t)srv->n_models * 4096, len = 0;
    char *t = malloc(cap);
    struct serve_stats *st = calloc((size_t)srv->n_models, sizeof *st);
    if (!t || !st)
        return free(t), free(st), MHD_NO;
    for (int i = 0; i < srv->n_models; i++) {
        pthread_mutex_lock(&srv->models[i].lock);
        st[i] = srv->models[i].stats;
        pthread_mutex_unlock(&srv->models[i].lock);
    }
#define OUT(...) (len += (size_t)snprintf(t + len, len < cap ? cap - len : 0, __VA_ARGS__))
#define EACH for (int i = 0; i < srv->n_models; i++)
#define NAME srv->models[i].name
    OUT("# HELP ondine_requests_in_flight HTTP requests being handled, this one included.\n"
        "# TYPE ondine_requests_in_flight gauge\nondine_requests_in_flight %d\n",
        atomic_load(&srv->in_flight));
    OUT("# HELP ondine_requests_total Inference requests answered.\n"
        "# TYPE ondine_requests_total counter\n");
    EACH OUT("ondine_requests_total{model=\"%s\"} %llu\n", NAME,
             (unsigned long long)st[i].requests);
    OUT("# HELP ondine_request_failures_total Inference requests answered with an error.\n"
        "# TYPE ondine_request_failures_total counter\n");
    EACH OUT("ondine_request_failures_total{model=\"%s\"} %llu\n", NAME,
             (unsigned long long)st[i].failures);
    OUT("# HELP ondine_request_duration_seconds Time from arrival to answer.\n"
        "# TYPE ondine_request_duration_seconds histogram\n");
    EACH {
        uint64_t cum = 0;
        for (int b = 0; b < SERVE_N_BUCKETS - 1; b++) {
            cum += st[i].latency_buckets[b];
            OUT("ondine_request_duration_seconds_bucket{model=\"%s\",le=\"%g\"} %llu\n", NAME,
                serve_buckets[b], (unsigned long long)cum);
        }
        OUT("ondine_request_duration_seconds_bucket{model=\"%s\",le=\"+Inf\"} %llu\n"
            "ondine_request_duration_seconds_sum{model=\"%s\"} %.6f\n"
            "ondine_request_duration_seconds_count{model=\"%s\"} %llu\n", NAME,
            (unsigned long long)st[i].requests, NAME, st[i].latency_sum, NAME,
            (unsigned long long)st[i].requests);
    }
    OUT("# HELP ondine_batch_size Rows per run of a model.\n"
        "# TYPE ondine_batch_size histogram\n");
    EACH {
        uint64_t cum = 0, rows = 0;
        for (int b = 0; b < SERVE_MAX_BATCH_BUCKET; b++) {
            cum += st[i].batch_sizes[b];
            rows += st[i].batch_sizes[b] * (uint64_t)(b + 1);
            if ((b + 1 == 1 || b + 1 == 2 || b + 1 == 4 || (b + 1) % 8 == 0) &&
                b + 1 < SERVE_MAX_BATCH_BUCKET)
                OUT("ondine_batch_size_bucket{model=\"%s\",le=\"%d\"} %llu\n", NAME, b + 1,
                    (unsigned long long)cum);
        }
        OUT("ondine_batch_size_bucket{model=\"%s\",le=\"+Inf\"} %llu\n"
            "ondine_batch_size_sum{model=\"%s\"} %llu\n"
            "ondine_batch_size_count{model=\"%s\"} %llu\n", NAME,
            (unsigned long long)st[i].batches, NAME, (unsigned long long)rows, NAME,
            (unsigned long long)st[i].batches);
    }
    OUT("# HELP ondine_queue_seconds_total Time requests waited for their run.\n"
        "# TYPE ondine_queue_seconds_total counter\n");
    EACH OUT("ondine_queue_seconds_total{model=\"%s\"} %.6f\n", NAME, st[i].queue_sum);
#undef NAME
#undef EACH
#undef OUT
    free(st);
    if (len >= cap) {
        free(t);
        return send_error(c, 500, "metrics do not fit");
    }
    return send_text(c, 200, t, "text/plain; version=0.0.4", NULL);
}

/* Splits /v2/models/NAME[/versions/V][/REST] into the model and REST ("" when none). */
static struct serve_model *find_model(struct server *srv, const char *path, const char **rest)
{
    const char *name = path + strlen("/v2/models/"), *end = strchr(name, '/');
    size_t n = end ? (size_t)(end - name) : strlen(name);
    *rest = end ? end : "";
    if (strncmp(*rest, "/versions/", 10) == 0) {
        const char *v = *rest + 10, *ve = strchr(v, '/');
        *rest = ve ? ve : "";
    }
    for (int i = 0; i < srv->n_models; i++)
        if (strlen(srv->models[i].name) == n && strncmp(srv->models[i].name, name, n) == 0)
            return &srv->models[i];
    return NULL;
}

static enum MHD_Result route(struct server *srv, struct MHD_Connection *c, const char *url,
                             const char *method, const struct conn *cs)
{
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    bool ready = !atomic_load(&srv->draining);
    if (strcmp(url, "/v2/health/live") == 0)
        return get ? send_json(c, 200, json_pack("{s:b}", "live", 1))
                   : send_error(c, 405, "%s takes GET", url);
    if (strcmp(url, "/v2/health/ready") == 0)
        return get ? send_json(c, ready ? 200 : 503, json_pack("{s:b}", "ready", ready))
                   : send_error(c, 405, "%s takes GET", url);
    if (strcmp(url, "/v2") == 0 || strcmp(url, "/v2/") == 0)
        return get ? send_json(c, 200, json_pack("{s:s,s:s,s:[s]}", "name", "ondine", "version",
                                                 ond_version(), "extensions",
                                                 "binary_tensor_data"))
                   : send_error(c, 405, "%s takes GET", url);
    if (strcmp(url, "/metrics") == 0)
        return get ? metrics(srv, c) : send_error(c, 405, "%s takes GET", url);
    if (strncmp(url, "/v2/models/", 11) != 0)
        return send_error(c, 404, "no such path: %s", url);
    const char *rest;
    struct serve_model *m = find_model(srv, url, &rest);
    if (!m)
        return send_error(c, 404, "no model named by %s", url);
    if (!*rest || strcmp(rest, "/") == 0)
        return get ? send_json(c, 200, model_meta(m)) : send_error(c, 405, "%s takes GET", url);
    if (strcmp(rest, "/ready") == 0)
        return get ? send_json(c, ready ? 200 : 503,
                               json_pack("{s:s,s:b}", "name", m->name, "ready", ready))
                   : send_error(c, 405, "%s takes GET", url);
    if (strcmp(rest, "/infer") == 0) {
        if (!post)
            return send_error(c, 405, "%s takes POST", url);
        if (cs->late)
            return send_error(c, 503, "the server is stopping");
        return infer(srv, c, m, cs);
    }
    return send_error(c, 404, "no such path: %s", url);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    struct server *srv = cls;
    struct conn *cs = *state;
    (void)version;
    if (!cs) {
        if (!(cs = calloc(1, sizeof *cs)))
            return MHD_NO;
        *state = cs;
        cs->late = atomic_load(&srv->draining);
        atomic_fetch_add(&srv->in_flight, 1);
        return MHD_YES;
    }
    /* A body over the limit is read and dropped (memory stays bounded), then answered 413:
     * answering before it is read makes clients that are still sending see a broken pipe. */
    if (*upload_size) {
        if (cs->len + *upload_size > srv->max_body) {
            cs->too_big = true;
        } else {
            char *b = realloc(cs->body, cs->len + *upload_size + 1);
            if (!b)
                return MHD_NO;
            memcpy(b + cs->len, upload, *upload_size);
            cs->body = b;
            cs->len += *upload_size;
            cs->body[cs->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cs->too_big)
        return send_error(c, 413, "the body is over the limit of %zu bytes", srv->max_body);
    return route(srv, c, url, method, cs);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode why)
{
    struct server *srv = cls;
    struct conn *cs = *state;
    (void)c;
    (void)why;
    if (!cs)
        return;
    free(cs->body);
    free(cs);
    *state = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

/* Loads "NAME=PATH" or "PATH" into m. 0 or -1 (printed). */
static int load(struct serve_model *m, const char *arg, struct ond_options *o, int max_batch,
                int timeout_us, int max_queue)
{
    const char *eq = strchr(arg, '='), *path = eq ? eq + 1 : arg;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t n = eq ? (size_t)(eq - arg) : strlen(base);
    if (!eq && n > 5 && strcmp(base + n - 5, ".onnx") == 0)
        n -= 5;
    m->name = strndup(eq ? arg : base, n);
    m->path = path;
    if (!m->name || !n || strchr(m->name, '/'))
        return fprintf(stderr, "ondine serve: '%s' gives no usable model name\n", arg), -1;
    if (cli_session("serve", path, o, NULL, &m->model, &m->session) != CLI_OK)
        return -1;
    m->n_in = ond_model_input_count(m->model);
    m->n_out = ond_model_output_count(m->model);
    m->in_info = calloc(m->n_in ? m->n_in : 1, sizeof *m->in_info);
    m->out_info = calloc(m->n_out ? m->n_out : 1, sizeof *m->out_info);
    if (!m->in_info || !m->out_info)
        return fprintf(stderr, "ondine serve: out of memory\n"), -1;
    struct ond_error err = {0};
    m->batchable = m->n_in > 0;
    for (size_t i = 0; i < m->n_in; i++) {
        if (ond_model_input(m->model, i, &m->in_info[i], &err))
            return cli_error("serve", &err), -1;
        m->batchable &= m->in_info[i].rank > 0 && m->in_info[i].dims[0] < 0;
    }
    for (size_t i = 0; i < m->n_out; i++) {
        if (ond_model_output(m->model, i, &m->out_info[i], &err))
            return cli_error("serve", &err), -1;
        m->batchable &= m->out_info[i].rank > 0 && m->out_info[i].dims[0] < 0;
    }
    m->max_batch = max_batch;
    m->timeout_us = timeout_us;
    m->max_queue = max_queue;
    return serve_batch_start(m);
}

int cli_serve(int argc, char **argv)
{
    struct ond_options o;
    const char *host = "127.0.0.1";
    struct cli_list paths = {0};
    long long port = 8000, max_batch = 1, timeout = 2000, body = 64LL << 20, elems = 16LL << 20,
              conns = 64, queue = 256;
    struct server srv = {0};
    ond_options_init(&o);
    const struct cli_opt rows[] = {
        {.names = "--host", .arg = "ADDR", .set = cli_set_str, .target = &host,
         .help = "IPv4 address to listen on (default 127.0.0.1)"},
        {.names = "--port", .arg = "N", .set = cli_set_ll, .target = &port, .min = 0, .max = 65535,
         .help = "TCP port (default 8000; 0 picks a free one, printed at start)"},
        CLI_OPT_PRECISION(&o),
        {.names = "--max-batch", .arg = "B", .set = cli_set_ll, .target = &max_batch, .min = 1,
         .max = 4096, .help = "rows one run may join from queued requests (default 1: none)"},
        {.names = "--batch-timeout-us", .arg = "U", .set = cli_set_ll, .target = &timeout, .min = 0,
         .max = 10000000, .help = "how long a request waits for others to join it (default 2000)"},
        {.names = "--max-body-bytes", .arg = "N", .set = cli_set_ll, .target = &body, .min = 1,
         .max = 1LL << 40, .help = "largest request body (default 67108864)"},
        {.names = "--max-elements", .arg = "N", .set = cli_set_ll, .target = &elems, .min = 1,
         .max = 1LL << 40, .help = "largest tensor of a request, in elements (default 16777216)"},
        {.names = "--max-connections", .arg = "N", .set = cli_set_ll, .target = &conns, .min = 1,
         .max = 65536, .help = "open connections at once (default 64)"},
        {.names = "--max-queue", .arg = "N", .set = cli_set_ll, .target = &queue, .min = 1,
         .max = 1 << 20, .help = "queued requests per model before 503 (default 256)"},
        CLI_OPT_LEVELS(&o),
        CLI_OPTS_COMMON(&o),
    };
    int rc = cli_parse("serve", "usage: ondine serve MODEL... [options]\n"
                       "  MODEL               a .onnx file, served as its file name without .onnx, "
                       "or NAME=PATH\n", argc, argv, rows, CLI_ROWS(rows), &paths);
    int n_paths = (int)paths.n;
    if (rc == CLI_OK && !n_paths)
        rc = cli_usage("serve", "no model given");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (rc == CLI_OK && inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        rc = cli_usage("serve", "--host takes an IPv4 address, not '%s'", host);
    srv.max_body = (size_t)body;
    srv.max_elements = (uint64_t)elems;
    if (rc == CLI_OK && !(srv.models = calloc((size_t)n_paths, sizeof *srv.models)))
        rc = CLI_FAIL;
    for (int i = 0; i < n_paths && rc == CLI_OK; i++, srv.n_models++)
        if (load(&srv.models[i], paths.v[i], &o, (int)max_batch, (int)timeout, (int)queue))
            rc = CLI_FAIL;
    for (int i = 0; rc == CLI_OK && i < n_paths; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(srv.models[i].name, srv.models[j].name) == 0)
                rc = cli_usage("serve", "two models are named '%s'", srv.models[i].name);
    /* The signals wait for this thread: every thread made from here on blocks them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    struct MHD_Daemon *d = NULL;
    if (rc == CLI_OK) {
        d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                 MHD_USE_ERROR_LOG,
                             (uint16_t)port, NULL, NULL, handle, &srv, MHD_OPTION_SOCK_ADDR,
                             (const struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
                             (unsigned)conns, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, &srv, MHD_OPTION_END);
        if (!d) {
            fprintf(stderr, "ondine serve: cannot listen on %s:%lld\n", host, port);
            rc = CLI_FAIL;
        }
    }
    if (rc == CLI_OK) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        printf("ondine serve: listening on http://%s:%u, models:", host,
               info ? info->port : (unsigned)port);
        for (int i = 0; i < srv.n_models; i++)
            printf(" %s%s", srv.models[i].name,
                   srv.models[i].batchable && max_batch > 1 ? " (batched)" : "");
        printf("\n");
        fflush(stdout);
        int sig = 0;
        sigwait(&sigs, &sig);
        atomic_store(&srv.draining, true);
        MHD_socket listen = MHD_quiesce_daemon(d);
        if (listen != MHD_INVALID_SOCKET)
            close(listen);
        /* Drained once nothing is in flight for 200 ms on end: a connection accepted just
         * before the signal may not have reached the handler yet. */
        for (int ms = 0, idle = 0; ms < 30000 && idle < 200; ms += 10) {
            nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
            idle = atomic_load(&srv.in_flight) > 0 ? 0 : idle + 10;
        }
        fprintf(stderr, "ondine serve: %s, stopped with %d requests in flight\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", atomic_load(&srv.in_flight));
    }
    if (d)
        MHD_stop_daemon(d);
    for (int i = 0; i < srv.n_models; i++) {
        struct serve_model *m = &srv.models[i];
        serve_batch_stop(m);
        ond_session_free(m->session);
        ond_model_free(m->model);
        free(m->in_info);
        free(m->out_info);
        free(m->name);
    }
    free(srv.models);
    free((void *)o.disabled_passes);
    free(paths.v);
    return rc == CLI_HELP ? CLI_OK : rc;
}
