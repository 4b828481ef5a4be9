/* fuzz/fuzz_http_head.c - the harness example, examples/fuzz_http_head.c, as a fuzz target:
 * the same file, with the engine's main() instead of its replaying one. */
#define WEIR_FUZZ_ENGINE 1
#include "examples/fuzz_http_head.c"
