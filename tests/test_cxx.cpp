// test_cxx.cpp: a C++ caller of the public API: ondine.h compiles as C++ (extern "C", no C-only
// syntax), links against the shared libondine alone, and runs the ONNX node test model
// test_relu (x float[3,4,5] -> Relu) on inputs made here, checked against max(0, x) computed
// here. Exits non-zero on any failure.
#include <cmath>
#include <cstdio>
#include <vector>

#include "ondine.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: test_cxx MODEL.onnx\n");
        return 2;
    }
    ond_options opts;
    ond_options_init(&opts);
    opts.threads = 1;
    ond_model *model = nullptr;
    ond_session *session = nullptr;
    ond_error err{};
    if (ond_model_load_file(argv[1], &opts, &model, &err) != OND_OK ||
        ond_session_create(model, &opts, &session, &err) != OND_OK) {
        std::fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    std::vector<float> x(60), y(60);
    for (size_t i = 0; i < x.size(); i++)
        x[i] = std::sin(static_cast<float>(i)) * 3.0f;
    ond_value in{};
    in.name = "x";
    in.dtype = OND_DTYPE_FLOAT;
    in.rank = 3;
    in.dims[0] = 3, in.dims[1] = 4, in.dims[2] = 5;
    in.data = x.data();
    in.size = x.size() * sizeof(float);
    ond_value out{};
    out.data = y.data();
    out.size = y.size() * sizeof(float);
    if (ond_session_run(session, &in, 1, &out, 1, &err) != OND_OK) {
        std::fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    int bad = out.rank != 3 || out.dims[0] != 3 || out.dims[2] != 5;
    for (size_t i = 0; i < y.size(); i++)
        bad += y[i] != (x[i] > 0 ? x[i] : 0.0f); // Relu is exact
    ond_session_free(session);
    ond_model_free(model);
    std::printf("%s, %d mismatches\n", ond_version(), bad);
    return bad != 0;
}
