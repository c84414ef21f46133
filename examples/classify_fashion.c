/* classify_fashion.c: classify the Fashion-MNIST test set with an ONNX model through ondine's
 * public C API (ondine.h) alone. Reads the IDX files (gzip, through zlib), runs the images in
 * batches, prints accuracy, per-class accuracy, the confusion matrix and images/s, and, given
 * torch's predicted labels (--compare), how many images ondine labels differently. In int8
 * the session is calibrated on training images (the first 1000, --calibrate N), never on the
 * test images it is scored on.
 *
 * The model takes raw pixels scaled to [0,1] as float [N,1,28,28] and returns [N,10] logits
 * (examples/models/). Any error prints one line on stderr and exits 1. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "ondine.h"

#define N_CLASSES 10
/* The largest file read: the test images are 7.8 MB unzipped, the train set's 47 MB. */
#define MAX_FILE_BYTES (64u << 20)
#define MAX_COMPARE_BYTES (16u << 20)

static const char *const class_names[N_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};
/* Column heads of the confusion matrix. */
static const char *const short_names[N_CLASSES] = {
    "Tshirt", "Trousr", "Pullov", "Dress", "Coat", "Sandal", "Shirt", "Sneakr", "Bag", "Boot",
};

static const char usage[] =
    "usage: classify_fashion MODEL [--data DIR] [--batch N] [--threads N]\n"
    "                        [--precision fp32|bf16|int8] [--calibrate N] [--limit N]\n"
    "                        [--compare FILE]\n"
    "  --data DIR       Fashion-MNIST folder with t10k-{images-idx3,labels-idx1}-ubyte.gz\n"
    "                   (default /usr/share/datasets/fashion-mnist)\n"
    "  --batch N        images per run (default 100)\n"
    "  --threads N      threads (default 0: all cores)\n"
    "  --precision P    passed to ondine (default fp32)\n"
    "  --calibrate N    int8: calibrate on the first N training images (default 1000)\n"
    "  --limit N        only the first N test images\n"
    "  --compare FILE   torch's labels: a JSON record with a \"predictions\" list\n"
    "                   (examples/models/*.json) or whitespace-separated integers\n";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("classify_fashion: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* An option's value, the next argument. */
static const char *need(const char *flag, const char *value)
{
    if (!value)
        die("%s needs a value", flag);
    return value;
}

static long parse_count(const char *flag, const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        die("%s needs an integer from %ld to %ld, got '%s'", flag, min, max, s);
    return v;
}

/* A whole gzip (or plain) file in memory; zlib reads plain files as they are, so a file that
 * is not gzip fails the IDX checks rather than here. */
/* Dies with zlib's message for f, closing f and freeing buf first so that nothing is lost
 * (the leak checker of the sanitizer build runs this path). */
static void gz_die(gzFile f, unsigned char *buf) __attribute__((noreturn));
static void gz_die(gzFile f, unsigned char *buf)
{
    int code;
    char msg[512];
    const char *m = gzerror(f, &code);
    snprintf(msg, sizeof msg, "%s", code == Z_ERRNO ? strerror(errno) : m);
    gzclose(f);
    free(buf);
    die("%s", msg);
}

static unsigned char *read_gz(const char *path, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        die("%s: %s", path, errno ? strerror(errno) : "cannot open");
    size_t cap = 1u << 20, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        gzclose(f);
        die("%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_FILE_BYTES) {
                gzclose(f);
                free(buf);
                die("%s: more than %u MB unzipped, not a Fashion-MNIST file", path,
                    MAX_FILE_BYTES >> 20);
            }
            cap *= 2;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) {
                gzclose(f);
                free(buf);
                die("%s: out of memory", path);
            }
            buf = grown;
        }
        int got = gzread(f, buf + n, (unsigned)(cap - n));
        if (got < 0)
            gz_die(f, buf); /* gzerror's message names the file */
        if (got == 0)
            break;
        n += (size_t)got;
    }
    /* At a truncated end gzread returns the bytes it has and leaves Z_BUF_ERROR for gzerror
     * (zlib.h), so a cut file is caught here, not by its length. */
    int code;
    gzerror(f, &code);
    if (code != Z_OK)
        gz_die(f, buf);
    gzclose(f);
    *len = n;
    return buf;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks an IDX file of unsigned bytes with ndims dims (magic 0x0000 08 ndims) and that its
 * length is exactly the header plus the product of the dims. Returns the data after the
 * header; dims receives the dims. */
static const unsigned char *idx_data(const char *path, const unsigned char *buf, size_t len,
                                     int ndims, uint32_t *dims)
{
    size_t header = 4 + 4 * (size_t)ndims;
    if (len < header)
        die("%s: %zu bytes, too short for an IDX header", path, len);
    uint32_t magic = be32(buf), want = 0x800u | (uint32_t)ndims;
    if (magic != want)
        die("%s: IDX magic 0x%08" PRIx32 ", expected 0x%08" PRIx32 " (unsigned bytes, %d dim%s)",
            path, magic, want, ndims, ndims > 1 ? "s" : "");
    /* The product saturates at len + 1: three 32-bit dims could overflow 64 bits. */
    uint64_t elems = 1;
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(buf + 4 + 4 * i);
        elems = elems * dims[i] > len ? (uint64_t)len + 1 : elems * dims[i];
    }
    if (elems != len - header) {
        char shape[64] = "";
        for (int i = 0; i < ndims; i++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%" PRIu32,
                     i ? " x " : "", dims[i]);
        die("%s: the header's dims %s do not match its %zu bytes of data", path, shape,
            len - header);
    }
    return buf + header;
}

struct dataset {
    unsigned char *image_file, *label_file;
    const unsigned char *pixels, *labels;
    size_t count, rows, cols;
};

static void load_test_set(const char *dir, struct dataset *d)
{
    char images[4096], labels[4096];
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", dir);
    size_t ilen, llen;
    uint32_t idims[3], ldims[1];
    d->image_file = read_gz(images, &ilen);
    d->pixels = idx_data(images, d->image_file, ilen, 3, idims);
    d->label_file = read_gz(labels, &llen);
    d->labels = idx_data(labels, d->label_file, llen, 1, ldims);
    if (idims[0] == 0)
        die("%s: no images", images);
    if (idims[0] != ldims[0])
        die("%s has %" PRIu32 " images but %s has %" PRIu32 " labels", images, idims[0], labels,
            ldims[0]);
    for (uint32_t i = 0; i < ldims[0]; i++)
        if (d->labels[i] >= N_CLASSES)
            die("%s: label %u of image %" PRIu32 " is not a class (0-9)", labels, d->labels[i], i);
    d->count = idims[0];
    d->rows = idims[1];
    d->cols = idims[2];
}

/* torch's labels: after the "predictions" key of a JSON record, or the whole file, read as
 * integers separated by anything but digits and '-', up to a ']' or the end. */
/* The first n training images as one float [n,1,rows,cols] calibration input. */
static float *calibration_images(const char *dir, const struct dataset *test, size_t *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    size_t len;
    uint32_t dims[3];
    unsigned char *file = read_gz(path, &len);
    const unsigned char *pixels = idx_data(path, file, len, 3, dims);
    if (dims[1] != test->rows || dims[2] != test->cols)
        die("%s: images are %" PRIu32 "x%" PRIu32 ", the test images %zux%zu", path, dims[1],
            dims[2], test->rows, test->cols);
    if (*n > dims[0])
        *n = dims[0];
    size_t size = *n * test->rows * test->cols;
    float *f = malloc(sizeof(float) * (size ? size : 1));
    if (!f)
        die("out of memory for %zu calibration images", *n);
    for (size_t k = 0; k < size; k++)
        f[k] = (float)pixels[k] / 255.0f;
    free(file);
    return f;
}

static unsigned char *read_compare(const char *path, size_t need)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("%s: %s", path, strerror(errno));
    char *text = malloc(MAX_COMPARE_BYTES + 1);
    if (!text)
        die("%s: out of memory", path);
    size_t n = fread(text, 1, MAX_COMPARE_BYTES + 1, f);
    if (ferror(f))
        die("%s: read error", path);
    fclose(f);
    if (n > MAX_COMPARE_BYTES)
        die("%s: larger than %u MB, not a list of labels", path, MAX_COMPARE_BYTES >> 20);
    text[n] = '\0';
    const char *p = text, *key = strstr(text, "\"predictions\"");
    if (key) {
        p = strchr(key, '[');
        if (!p)
            die("%s: \"predictions\" is not followed by a list", path);
        p++;
    }
    unsigned char *out = malloc(need ? need : 1);
    if (!out)
        die("%s: out of memory", path);
    size_t k = 0;
    while (k < need) {
        p += strcspn(p, "-0123456789]");
        if (!*p || *p == ']')
            break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= N_CLASSES)
            die("%s: label %zu (from 0) is not a class (0-9)", path, k);
        out[k++] = (unsigned char)v;
        p = end;
    }
    if (k < need)
        die("%s: %zu labels, %zu images to compare", path, k, need);
    free(text);
    return out;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void progress(size_t done, size_t total)
{
    enum { WIDTH = 40 };
    int filled = (int)(WIDTH * done / total);
    printf("\r[%.*s%*s] %zu/%zu", filled, "########################################",
           WIDTH - filled, "", done, total);
    fflush(stdout);
}

static double pct(size_t part, size_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *data_dir = "/usr/share/datasets/fashion-mnist";
    const char *compare_path = NULL, *precision = "fp32";
    long batch = 100, limit = -1, calibrate = 1000;
    struct ond_options opts;
    ond_options_init(&opts);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--data") == 0)
            data_dir = need(a, v);
        else if (strcmp(a, "--batch") == 0)
            batch = parse_count(a, need(a, v), 1, 100000);
        else if (strcmp(a, "--threads") == 0)
            opts.threads = (int)parse_count(a, need(a, v), 0, 4096);
        else if (strcmp(a, "--calibrate") == 0)
            calibrate = parse_count(a, need(a, v), 1, 60000);
        else if (strcmp(a, "--limit") == 0)
            limit = parse_count(a, need(a, v), 1, 1000000000);
        else if (strcmp(a, "--compare") == 0)
            compare_path = need(a, v);
        else if (strcmp(a, "--precision") == 0) {
            if (strcmp(need(a, v), "fp32") == 0)
                opts.precision = OND_PRECISION_FP32;
            else if (strcmp(v, "bf16") == 0)
                opts.precision = OND_PRECISION_BF16;
            else if (strcmp(v, "int8") == 0)
                opts.precision = OND_PRECISION_INT8;
            else
                die("--precision is fp32, bf16 or int8, got '%s'", v);
            precision = v;
        } else if (a[0] == '-')
            die("unknown option '%s' (--help lists them)", a);
        else if (model_path)
            die("one MODEL only, got '%s' and '%s'", model_path, a);
        else {
            model_path = a;
            continue;
        }
        i++; /* the option's value */
    }
    if (!model_path)
        die("no MODEL given (--help for usage)");

    struct dataset d;
    load_test_set(data_dir, &d);
    size_t count = limit > 0 && (size_t)limit < d.count ? (size_t)limit : d.count;
    unsigned char *torch_labels = compare_path ? read_compare(compare_path, count) : NULL;

    struct ond_error err;
    struct ond_model *model;
    struct ond_session *session;
    if (ond_model_load_file(model_path, &opts, &model, &err))
        die("%s", err.message);
    struct ond_value in_info, out_info, calib;
    float *calib_data = NULL;
    size_t n_calib = (size_t)calibrate;
    if (opts.precision == OND_PRECISION_INT8) {
        if (ond_model_input(model, 0, &in_info, &err))
            die("%s", err.message);
        calib_data = calibration_images(data_dir, &d, &n_calib);
        calib = (struct ond_value){
            .name = in_info.name, .dtype = OND_DTYPE_FLOAT, .rank = 4,
            .dims = {(int64_t)n_calib, 1, (int64_t)d.rows, (int64_t)d.cols},
            .data = calib_data, .size = sizeof(float) * n_calib * d.rows * d.cols,
        };
        opts.calibration = &calib;
        opts.n_calibration_sets = 1;
    }
    if (ond_session_create(model, &opts, &session, &err))
        die("%s", err.message);
    free(calib_data);
    if (ond_model_input_count(model) != 1 || ond_model_output_count(model) != 1)
        die("%s: %zu inputs and %zu outputs, expected one of each", model_path,
            ond_model_input_count(model), ond_model_output_count(model));
    if (ond_model_input(model, 0, &in_info, &err) || ond_model_output(model, 0, &out_info, &err))
        die("%s", err.message);
    /* Batches of any size need a symbolic batch dim; the others may be fixed or symbolic. */
    if (in_info.dtype != OND_DTYPE_FLOAT || in_info.rank != 4 || in_info.dims[0] >= 0 ||
        in_info.dims[1] > 1 || (in_info.dims[2] > 0 && (size_t)in_info.dims[2] != d.rows) ||
        (in_info.dims[3] > 0 && (size_t)in_info.dims[3] != d.cols))
        die("%s: input '%s' is not float [N,1,%zu,%zu] with a symbolic batch N, as the test "
            "images are", model_path, in_info.name, d.rows, d.cols);
    if (out_info.rank != 2 || out_info.dims[1] != N_CLASSES)
        die("%s: output '%s' is not [N,%d] logits", model_path, out_info.name, N_CLASSES);

    size_t image_size = d.rows * d.cols;
    float *input = malloc(sizeof(float) * image_size * (size_t)batch);
    float *logits = malloc(sizeof(float) * N_CLASSES * (size_t)batch);
    unsigned char *pred = malloc(count);
    float *margin = malloc(sizeof(float) * count); /* top-1 minus top-2 logit */
    if (!input || !logits || !pred || !margin)
        die("out of memory for batch %ld", batch);

    bool tty = isatty(STDOUT_FILENO);
    double start = now();
    for (size_t first = 0; first < count; first += (size_t)batch) {
        size_t b = count - first < (size_t)batch ? count - first : (size_t)batch;
        for (size_t k = 0; k < b * image_size; k++)
            input[k] = (float)d.pixels[first * image_size + k] / 255.0f;
        struct ond_value in = {
            .name = in_info.name, .dtype = OND_DTYPE_FLOAT, .rank = 4,
            .dims = {(int64_t)b, 1, (int64_t)d.rows, (int64_t)d.cols},
            .data = input, .size = sizeof(float) * b * image_size,
        };
        struct ond_value out = {.data = logits, .size = sizeof(float) * N_CLASSES * b};
        if (ond_session_run(session, &in, 1, &out, 1, &err))
            die("images %zu-%zu: %s", first, first + b - 1, err.message);
        if (out.dtype != OND_DTYPE_FLOAT || out.rank != 2 || out.dims[0] != (int64_t)b ||
            out.dims[1] != N_CLASSES)
            die("%s: output is not float [%zu,%d]", model_path, b, N_CLASSES);
        /* argmax, first maximum on ties as torch.argmax */
        for (size_t k = 0; k < b; k++) {
            const float *l = logits + k * N_CLASSES;
            int best = 0;
            for (int c = 1; c < N_CLASSES; c++)
                if (l[c] > l[best])
                    best = c;
            float second = best ? l[0] : l[1];
            for (int c = 0; c < N_CLASSES; c++)
                if (c != best && l[c] > second)
                    second = l[c];
            pred[first + k] = (unsigned char)best;
            margin[first + k] = l[best] - second;
        }
        if (tty)
            progress(first + b, count);
    }
    double seconds = now() - start;
    if (tty)
        printf("\r%*s\r", 60, "");

    size_t confusion[N_CLASSES][N_CLASSES] = {{0}}, correct = 0;
    for (size_t k = 0; k < count; k++) {
        confusion[d.labels[k]][pred[k]]++;
        correct += d.labels[k] == pred[k];
    }
    printf("model      %s\n", model_path);
    printf("images     %zu of %s/t10k-images-idx3-ubyte.gz\n", count, data_dir);
    if (opts.threads)
        printf("run        batch %ld, threads %d, %s\n", batch, opts.threads, precision);
    else
        printf("run        batch %ld, all cores, %s\n", batch, precision);
    if (opts.precision == OND_PRECISION_INT8)
        printf("calibrated on the first %zu training images\n", n_calib);
    printf("accuracy   %.2f%% (%zu/%zu)\n\n", pct(correct, count), correct, count);

    printf("class          accuracy   correct/images\n");
    for (int c = 0; c < N_CLASSES; c++) {
        size_t total = 0;
        for (int p = 0; p < N_CLASSES; p++)
            total += confusion[c][p];
        printf("%-12s   %7.2f%%   %zu/%zu\n", class_names[c], pct(confusion[c][c], total),
               confusion[c][c], total);
    }

    printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-12s", "");
    for (int p = 0; p < N_CLASSES; p++)
        printf(" %6s", short_names[p]);
    putchar('\n');
    for (int c = 0; c < N_CLASSES; c++) {
        printf("%-12s", class_names[c]);
        for (int p = 0; p < N_CLASSES; p++)
            printf(" %6zu", confusion[c][p]);
        putchar('\n');
    }

    printf("\nspeed      %zu images in %.2f s: %.0f images/s\n", count, seconds,
           seconds > 0 ? (double)count / seconds : 0.0);

    if (torch_labels) {
        size_t differ = 0, torch_correct = 0;
        for (size_t k = 0; k < count; k++) {
            differ += pred[k] != torch_labels[k];
            torch_correct += torch_labels[k] == d.labels[k];
        }
        printf("\ncompare    %s: torch %.2f%% (%zu/%zu); ondine labels %zu of %zu images "
               "differently\n", compare_path, pct(torch_correct, count), torch_correct, count,
               differ, count);
        for (size_t k = 0; k < count; k++)
            if (pred[k] != torch_labels[k])
                printf("  image %zu: ondine %s (by %.4f over the next logit), torch %s, true %s\n",
                       k, class_names[pred[k]], margin[k], class_names[torch_labels[k]],
                       class_names[d.labels[k]]);
    }

    free(torch_labels);
    free(margin);
    free(pred);
    free(logits);
    free(input);
    ond_session_free(session);
    ond_model_free(model);
    free(d.image_file);
    free(d.label_file);
    return 0;
}
