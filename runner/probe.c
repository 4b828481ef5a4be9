/* runner/probe.c - the dummy transport a scenario's reader is attached to.
 *
 * It moves no bytes; it only records what the reader asks of it (pause_reading and
 * resume_reading), so that `paused => ...` can check the reader's flow control from the
 * transport's side as well as from weir_reader_paused(). */
#include "runner/run_internal.h"

static weir__probe *probe_of(weir_transport *t) { return (weir__probe *)t; }

static int probe_write(weir_transport *t, const void *data, size_t len) {
    (void)t, (void)data, (void)len;
    return WEIR_ENOTSUP;
}
static int probe_write_eof(weir_transport *t) {
    (void)t;
    return WEIR_ENOTSUP;
}
static bool probe_can_write_eof(weir_transport *t) {
    (void)t;
    return false;
}
static void probe_close(weir_transport *t) { (void)t; }
static bool probe_is_closing(weir_transport *t) {
    (void)t;
    return false;
}
static void probe_pause(weir_transport *t) {
    probe_of(t)->paused = true;
    probe_of(t)->pauses++;
}
static void probe_resume(weir_transport *t) {
    probe_of(t)->paused = false;
    probe_of(t)->resumes++;
}
static size_t probe_write_buffer_size(weir_transport *t) {
    (void)t;
    return 0;
}
static int probe_set_limits(weir_transport *t, size_t high, size_t low) {
    (void)t, (void)high, (void)low;
    return WEIR_ENOTSUP;
}
static void probe_get_limits(weir_transport *t, size_t *high, size_t *low) {
    (void)t;
    *high = *low = 0;
}
static int probe_extra(weir_transport *t, const char *name, weir_extra *out) {
    (void)t, (void)name, (void)out;
    return WEIR_ENOENT;
}

static const weir_transport_ops probe_ops = {
    .name = "scenario-probe",
    .write = probe_write,
    .write_eof = probe_write_eof,
    .can_write_eof = probe_can_write_eof,
    .close = probe_close,
    .abort = probe_close,
    .is_closing = probe_is_closing,
    .pause_reading = probe_pause,
    .resume_reading = probe_resume,
    .write_buffer_size = probe_write_buffer_size,
    .set_write_buffer_limits = probe_set_limits,
    .get_write_buffer_limits = probe_get_limits,
    .get_extra_info = probe_extra,
    .free = NULL, /* embedded in the run, which outlives the reader */
};

void weir__probe_init(weir__probe *p) {
    p->base.ops = &probe_ops;
    p->base.protocol = NULL;
    p->paused = false;
    p->pauses = p->resumes = 0;
}
