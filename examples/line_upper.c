/* examples/line_upper.c - a line protocol written with weir's streams.
 *
 * The server upper-cases every line it reads; the client sends two lines, half-closes, and
 * prints what comes back. Both run as tasks on a virtual loop, joined by an in-memory
 * connection; with a real backend only the loop and the connection change. */
#include <ctype.h>
#include <stdio.h>

#include "weir/weir.h"

static int server(void *arg) {
    weir_writer *w = arg;
    weir_bytes line;
    int rc;
    while ((rc = weir_reader_next_line(weir_writer_reader(w), &line)) > 0) {
        char up[256];
        size_t n = line.len < sizeof up ? line.len : sizeof up;
        for (size_t i = 0; i < n; i++) up[i] = (char)toupper(line.data[i]);
        weir_write(w, up, n);
        if ((rc = weir_drain(w)) < 0) break;
    }
    weir_writer_close(w);
    return rc;
}

static int client(void *arg) {
    weir_writer *w = arg;
    weir_write(w, "hello\nweir\n", 11);
    weir_write_eof(w);
    weir_bytes line;
    while (weir_reader_next_line(weir_writer_reader(w), &line) > 0)
        printf("%.*s", (int)line.len, (const char *)line.data);
    weir_writer_close(w); /* as in asyncio: close, then wait until the transport is gone */
    return weir_wait_closed(w);
}

int main(void) {
    weir_loop *loop;
    weir_reader *r[2];
    weir_writer *w[2];
    weir_task *t[2];
    int rc[2] = {-1, -1};
    if (weir_loop_new_virtual(&loop) || weir_stream_pair(loop, NULL, r, w)) return 1;
    weir_spawn(loop, server, w[0], NULL, &t[0]);
    weir_spawn(loop, client, w[1], NULL, &t[1]);
    int run = weir_loop_run(loop);
    weir_join(t[0], &rc[0]);
    weir_join(t[1], &rc[1]);
    weir_writer_free(w[0]); /* connections go before the loop they run on */
    weir_writer_free(w[1]);
    weir_loop_free(loop);
    return run || rc[0] || rc[1];
}
