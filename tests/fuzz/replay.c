/* replay.c: runs a fuzz target over files without libFuzzer, so that every build (and the
 * sanitizer build) replays tests/fuzz/regressions/. Arguments are files or folders (every
 * regular file in them, sorted); a missing folder holds nothing. Exits non-zero only if a
 * file cannot be read: a regression fails by crashing or by a sanitizer report. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    void *buf = NULL;
    size_t len = 0;
    struct ond_error err;
    if (ond_read_file(path, 1u << 30, &buf, &len, &err)) {
        fprintf(stderr, "replay: %s\n", err.message);
        return 1;
    }
    printf("replay: %s (%zu bytes)\n", path, len);
    fflush(stdout);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int failed = 0, count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0)
            continue;
        if (!S_ISDIR(sb.st_mode)) {
            failed |= replay_file(argv[i]);
            count++;
            continue;
        }
        struct dirent **names = NULL;
        int n = scandir(argv[i], &names, NULL, alphasort);
        for (int k = 0; k < n; k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
            if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
                failed |= replay_file(path);
                count++;
            }
            free(names[k]);
        }
        free(names);
    }
    printf("replay: %d file%s\n", count, count == 1 ? "" : "s");
    return failed;
}
