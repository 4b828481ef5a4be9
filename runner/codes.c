/* runner/codes.c - error codes by name, for network results such as `=> WEIR_EMISMATCH`:
 * the core's codes (weir_errname) and the bundled handlers' (weir/handlers.h). */
#include <string.h>

#include "runner/scenario_internal.h"
#include "weir/handlers.h"

static const struct {
    int code;
    const char *name;
} handler_codes[] = {
    {WEIR_EMISMATCH, "WEIR_EMISMATCH"},
    {WEIR_EMALFORMED, "WEIR_EMALFORMED"},
};

#define NCODES (sizeof handler_codes / sizeof handler_codes[0])
/* The core's codes run from -1 down; this is past the last one with a name. */
#define CORE_CODES 64

const char *weir__code_name(int code) {
    for (size_t i = 0; i < NCODES; i++)
        if (handler_codes[i].code == code) return handler_codes[i].name;
    return weir_errname(code);
}

bool weir__code_by_name(weir_bytes name, int *code) {
    for (size_t i = 0; i < NCODES; i++)
        if (strlen(handler_codes[i].name) == name.len &&
            memcmp(handler_codes[i].name, name.data, name.len) == 0) {
            *code = handler_codes[i].code;
            return true;
        }
    for (int c = -1; c > -CORE_CODES; c--) {
        const char *n = weir_errname(c);
        if (strcmp(n, "WEIR_E?") != 0 && strlen(n) == name.len &&
            memcmp(n, name.data, name.len) == 0) {
            *code = c;
            return true;
        }
    }
    return false;
}
