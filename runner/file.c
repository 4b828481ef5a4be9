/* runner/file.c - loading, inspecting and freeing parsed scenario files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/scenario_internal.h"
#include "weir/error.h"

static int io_error(weir_scenario_error *err, const char *what, int e) {
    if (err != NULL) snprintf(err->message, sizeof err->message, "%s: %s", what, strerror(e));
    return WEIR_ENOENT;
}

int weir_scenario_load(const char *path, weir_scenario_file **out, weir_scenario_error *err) {
    if (err != NULL) {
        err->file = path;
        err->line = err->col = 0;
        err->message[0] = '\0';
    }
    if (out == NULL || path == NULL) return WEIR_EINVAL;
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return io_error(err, "cannot open", errno);
    /* Read at most one byte more than the parser accepts: enough for it to reject an
     * oversized file without our holding all of it. */
    weir__buf data = {0};
    int rc = 0;
    for (;;) {
        if ((rc = weir__buf_reserve(&data, 65536)) != 0) break;
        size_t want = data.cap - 1 - data.len;
        if (data.len + want > (size_t)WEIR_SCENARIO_MAX_INPUT + 1)
            want = (size_t)WEIR_SCENARIO_MAX_INPUT + 1 - data.len;
        size_t got = fread(data.data + data.len, 1, want, fp);
        data.len += got;
        if (got < want || data.len > WEIR_SCENARIO_MAX_INPUT) break;
    }
    if (rc == 0 && ferror(fp)) rc = io_error(err, "cannot read", errno);
    fclose(fp);
    if (rc == WEIR_ENOMEM && err != NULL)
        snprintf(err->message, sizeof err->message, "out of memory");
    if (rc == 0) rc = weir_scenario_parse(data.data, data.len, path, out, err);
    weir__buf_free(&data);
    return rc;
}

void weir_scenario_file_free(weir_scenario_file *f) {
    if (f == NULL) return;
    for (size_t i = 0; i < f->count; i++) {
        free(f->scenarios[i].steps);
        free(f->scenarios[i].hosts);
        free(f->scenarios[i].peers);
    }
    free(f->scenarios);
    free(f->name);
    weir__arena_free(&f->arena);
    free(f);
}

const char *weir_scenario_file_name(const weir_scenario_file *f) { return f->name; }

size_t weir_scenario_count(const weir_scenario_file *f) { return f->count; }

const char *weir_scenario_name(const weir_scenario_file *f, size_t i) {
    return i < f->count ? (const char *)f->scenarios[i].name.data : NULL;
}

int weir_scenario_line(const weir_scenario_file *f, size_t i) {
    return i < f->count ? f->scenarios[i].line : 0;
}
