/* tests/unit/test_reader_misuse.c - bad arguments to the reader give WEIR_EINVAL (or the
 * documented no-op), never a crash, and change nothing; extreme sizes; many separators;
 * weir_strerror() and weir_errname() for every code. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir/weir.h"
#include "tap.h"

#define is_str(got, got_len, want, ...)                                                            \
    tap_is_mem((got), (got_len), (want), strlen(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_cstr(got, want, ...)                                                                    \
    tap_is_mem((got), strlen(got), (want), strlen(want), __FILE__, __LINE__, __VA_ARGS__)

static void bail(const char *what) {
    printf("Bail out! %s\n", what);
    exit(1);
}

static weir_reader *new_reader(int64_t limit) {
    weir_reader *r = NULL;
    if (weir_reader_new(limit, &r) != 0 || !r) bail("weir_reader_new failed");
    return r;
}

static void feed(weir_reader *r, const char *s) {
    if (weir_reader_feed(r, s, strlen(s)) != 0) bail("feed failed");
}

/* Everything still buffered, read out at EOF (ends the reader's use). */
static bool drains_to(weir_reader *r, const char *want) {
    weir_reader_feed_eof(r);
    weir_bytes all;
    if (weir_read(r, -1, &all) != 0) return false;
    return all.len == strlen(want) && memcmp(all.data, want, all.len) == 0;
}

static weir_bytes err_msg(const weir_reader *r) {
    const weir_error *e = weir_reader_error(r);
    return weir_bytes_of(e->message ? e->message : "", e->message_len);
}

/* --- construction -------------------------------------------------------------------- */

static void test_new_and_free(void) {
    weir_reader *r = (weir_reader *)&r; /* not NULL: must be cleared on failure */
    is_int(weir_reader_new(0, &r), WEIR_EINVAL, "limit 0: EINVAL");
    ok(r == NULL, "limit 0: *out set to NULL");
    r = (weir_reader *)&r;
    is_int(weir_reader_new(-1, &r), WEIR_EINVAL, "limit -1: EINVAL");
    ok(r == NULL, "limit -1: *out set to NULL");
    is_int(weir_reader_new(INT64_MIN, &r), WEIR_EINVAL, "limit INT64_MIN: EINVAL");
    is_int(weir_reader_new(1, NULL), WEIR_EINVAL, "out NULL: EINVAL");
    is_int(weir_reader_new(1, &r), 0, "limit 1: ok");
    is_int(weir_reader_limit(r), 1, "limit 1 kept");
    weir_reader_free(r);
    is_int(weir_reader_new(INT64_MAX, &r), 0, "limit INT64_MAX: ok");
    is_int(weir_reader_limit(r), INT64_MAX, "limit INT64_MAX kept");
    weir_reader_free(r);
    is_int(weir_reader_new(WEIR_DEFAULT_LIMIT, &r), 0, "default limit");
    is_int(weir_reader_limit(r), 65536, "WEIR_DEFAULT_LIMIT is asyncio's 65536");
    ok(!weir_reader_at_eof(r) && weir_reader_buffered(r) == 0 && !weir_reader_paused(r) &&
           weir_reader_exception(r) == NULL && weir_reader_error(r)->code == 0,
       "a new reader: empty, not at EOF, not paused, no exception, no error");
    weir_reader_free(r);
    weir_reader_free(NULL);
    ok(1, "weir_reader_free(NULL) is a no-op");
}

/* --- NULL reader, NULL out, NULL separators ------------------------------------------- */

static void test_null_arguments(void) {
    weir_bytes out = {NULL, 0};
    weir_bytes one = WEIR_LIT("x");
    is_int(weir_read(NULL, 1, &out), WEIR_EINVAL, "read(NULL reader)");
    is_int(weir_readexactly(NULL, 1, &out), WEIR_EINVAL, "readexactly(NULL reader)");
    is_int(weir_readline(NULL, &out), WEIR_EINVAL, "readline(NULL reader)");
    is_int(weir_readuntil(NULL, "x", 1, &out), WEIR_EINVAL, "readuntil(NULL reader)");
    is_int(weir_readuntil_any(NULL, &one, 1, &out), WEIR_EINVAL, "readuntil_any(NULL reader)");
    is_int(weir_reader_next_line(NULL, &out), WEIR_EINVAL, "next_line(NULL reader)");
    is_int(weir_reader_feed(NULL, "x", 1), WEIR_EINVAL, "feed(NULL reader)");
    is_int(weir_reader_set_exception(NULL, WEIR_EUSER, "x", 1), WEIR_EINVAL,
           "set_exception(NULL reader)");
    weir_reader_feed_eof(NULL);
    weir_reader_set_transport(NULL, NULL);
    ok(1, "feed_eof(NULL), set_transport(NULL, NULL): no-ops");
    ok(weir_reader_exception(NULL) == NULL, "exception(NULL): NULL");
    ok(weir_reader_error(NULL) == NULL, "error(NULL): NULL");
    ok(!weir_reader_at_eof(NULL) && weir_reader_buffered(NULL) == 0 && !weir_reader_paused(NULL) &&
           weir_reader_limit(NULL) == 0,
       "queries on NULL: false / 0");

    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    feed(r, "ab\ncd");
    is_int(weir_read(r, 1, NULL), WEIR_EINVAL, "read(out NULL)");
    is_int(weir_read(r, -1, NULL), WEIR_EINVAL, "read(-1, out NULL)");
    is_int(weir_readexactly(r, 1, NULL), WEIR_EINVAL, "readexactly(out NULL)");
    is_int(weir_readline(r, NULL), WEIR_EINVAL, "readline(out NULL)");
    is_int(weir_readuntil(r, "\n", 1, NULL), WEIR_EINVAL, "readuntil(out NULL)");
    is_int(weir_readuntil_any(r, &one, 1, NULL), WEIR_EINVAL, "readuntil_any(out NULL)");
    is_int(weir_reader_next_line(r, NULL), WEIR_EINVAL, "next_line(out NULL)");
    is_int(weir_reader_buffered(r), 5, "none of them consumed anything");

    is_int(weir_readuntil(r, NULL, 1, &out), WEIR_EINVAL, "readuntil(sep NULL, len 1)");
    is_int(weir_readuntil(r, NULL, 0, &out), WEIR_EINVAL, "readuntil(sep NULL, len 0)");
    is_int(weir_readuntil(r, "\n", 0, &out), WEIR_EINVAL, "readuntil(empty separator)");
    is_str(err_msg(r).data, err_msg(r).len, "Separator should be at least one-byte string",
           "empty separator: asyncio's message");
    is_int(weir_readuntil_any(r, NULL, 1, &out), WEIR_EINVAL, "readuntil_any(seps NULL, 1)");
    is_int(weir_readuntil_any(r, NULL, 0, &out), WEIR_EINVAL, "readuntil_any(seps NULL, 0)");
    is_int(weir_readuntil_any(r, &one, 0, &out), WEIR_EINVAL, "readuntil_any(nseps 0)");
    is_str(err_msg(r).data, err_msg(r).len, "Separator should contain at least one element",
           "nseps 0: asyncio's message");
    weir_bytes with_null[2] = {WEIR_LIT("\n"), {NULL, 2}};
    is_int(weir_readuntil_any(r, with_null, 2, &out), WEIR_EINVAL,
           "readuntil_any: a NULL separator with len > 0");
    weir_bytes with_empty[3] = {WEIR_LIT("\n"), WEIR_LIT(""), WEIR_LIT("cd")};
    is_int(weir_readuntil_any(r, with_empty, 3, &out), WEIR_EINVAL,
           "readuntil_any: an empty separator among several");
    is_str(err_msg(r).data, err_msg(r).len, "Separator should be at least one-byte string",
           "an empty separator among several: asyncio's message");
    weir_bytes with_null_empty[2] = {WEIR_LIT("\n"), {NULL, 0}};
    is_int(weir_readuntil_any(r, with_null_empty, 2, &out), WEIR_EINVAL,
           "readuntil_any: a NULL, empty separator among several");
    is_int(weir_readexactly(r, -1, &out), WEIR_EINVAL, "readexactly(-1)");
    is_str(err_msg(r).data, err_msg(r).len, "readexactly size can not be less than zero",
           "readexactly(-1): asyncio's message");
    is_int(weir_readexactly(r, INT64_MIN, &out), WEIR_EINVAL, "readexactly(INT64_MIN)");
    ok(out.data != NULL && out.len == 0, "an empty view on EINVAL");
    ok(drains_to(r, "ab\ncd"), "none of the bad calls touched the buffer");
    weir_reader_free(r);
}

/* Argument errors come before the exception check, as in asyncio; read(0) and
 * readexactly(0) do not. */
static void test_argument_checks_before_exception(void) {
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    weir_bytes out;
    weir_bytes none[1] = {WEIR_LIT("")};
    weir_bytes pair[2] = {WEIR_LIT("x"), WEIR_LIT("")};
    feed(r, "data\n");
    int code = WEIR_EUSER - 42;
    is_int(weir_reader_set_exception(r, code, "E", 1), 0, "set_exception");
    is_int(weir_readexactly(r, -1, &out), WEIR_EINVAL, "readexactly(-1): EINVAL first");
    is_int(weir_readuntil(r, "", 0, &out), WEIR_EINVAL, "empty separator: EINVAL first");
    is_int(weir_readuntil_any(r, none, 0, &out), WEIR_EINVAL, "no separators: EINVAL first");
    is_int(weir_readuntil_any(r, pair, 2, &out), WEIR_EINVAL, "an empty one: EINVAL first");
    is_int(weir_read(r, 0, &out), code, "read(0) raises the exception");
    is_int(weir_readexactly(r, 0, &out), code, "readexactly(0) raises the exception");
    is_int(weir_read(r, 1, &out), code, "read(1) raises it though data is buffered");
    is_int(weir_readline(r, &out), code, "readline raises it though a line is buffered");
    is_int(weir_readuntil(r, "\n", 1, &out), code, "readuntil too");
    is_int(weir_read(r, -1, &out), code, "read(-1) too");
    is_int(weir_reader_next_line(r, &out), code, "next_line too");
    is_int(weir_reader_buffered(r), 5, "the buffer is kept");
    is_int(weir_reader_feed(r, "more", 4), 0, "feeding still works");
    weir_reader_feed_eof(r);
    ok(!weir_reader_at_eof(r), "at_eof is false with data buffered, exception or not");
    weir_reader_free(r);
}

/* --- feeding --------------------------------------------------------------------------- */

static void test_feed_misuse(void) {
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    is_int(weir_reader_feed(r, NULL, 3), WEIR_EINVAL, "feed(NULL, 3): EINVAL");
    is_int(weir_reader_buffered(r), 0, "nothing buffered");
    is_int(weir_reader_feed(r, NULL, 0), 0, "feed(NULL, 0): a no-op");
    is_int(weir_reader_feed(r, "abc", 0), 0, "feed(empty): a no-op");
    feed(r, "abc");
    weir_reader_feed_eof(r);
    weir_reader_feed_eof(r);
    ok(1, "feed_eof twice is harmless");
    is_int(weir_reader_feed(r, "def", 3), WEIR_EEOF, "feed after EOF: WEIR_EEOF");
    is_int(weir_reader_feed(r, "def", 0), WEIR_EEOF, "even empty (asyncio asserts first)");
    is_int(weir_reader_buffered(r), 3, "buffer unchanged");
    ok(drains_to(r, "abc"), "its content unchanged");
    weir_reader_free(r);

    /* set_exception's own checks. */
    r = new_reader(WEIR_DEFAULT_LIMIT);
    is_int(weir_reader_set_exception(r, 0, "x", 1), WEIR_EINVAL, "set_exception(code 0)");
    is_int(weir_reader_set_exception(r, 1, "x", 1), WEIR_EINVAL, "set_exception(code 1)");
    is_int(weir_reader_set_exception(r, INT_MAX, "x", 1), WEIR_EINVAL, "set_exception(INT_MAX)");
    is_int(weir_reader_set_exception(r, WEIR_EUSER, NULL, 3), WEIR_EINVAL,
           "set_exception(msg NULL, len 3)");
    ok(weir_reader_exception(r) == NULL, "no exception set by the refused calls");
    weir_bytes out;
    feed(r, "x");
    is_int(weir_read(r, 1, &out), 0, "reads still work");
    is_int(weir_reader_set_exception(r, INT_MIN, NULL, 0), 0, "set_exception(INT_MIN, NULL, 0)");
    const weir_error *e = weir_reader_exception(r);
    ok(e && e->code == INT_MIN && e->message && e->message_len == 0 && e->message[0] == '\0',
       "an empty message is \"\", not NULL");
    is_int(weir_read(r, 1, &out), INT_MIN, "reads raise it");
    ok(weir_reader_error(r)->message != NULL && weir_reader_error(r)->message_len == 0,
       "with the empty message");
    weir_reader_free(r);
}

/* --- sizes ----------------------------------------------------------------------------- */

static void test_extreme_sizes(void) {
    weir_reader *r = new_reader(4);
    weir_bytes out;
    feed(r, "0123456789");
    is_int(weir_read(r, INT64_MAX, &out), 0, "read(INT64_MAX): ok (the limit does not apply)");
    is_bytes(out, "0123456789", "all buffered bytes");
    is_int(weir_read(r, INT64_MAX, &out), WEIR_EAGAIN, "read(INT64_MAX) on empty: EAGAIN");
    feed(r, "abc");
    is_int(weir_readexactly(r, INT64_MAX, &out), WEIR_EAGAIN,
           "readexactly(INT64_MAX) outside a task: EAGAIN");
    is_int(weir_reader_buffered(r), 3, "consuming nothing");
    is_int(weir_read(r, INT64_MIN, &out), WEIR_EAGAIN, "read(INT64_MIN) is read(-1): EAGAIN");
    is_int(weir_reader_buffered(r), 3, "consuming nothing");
    is_int(weir_readexactly(r, 3, &out), 0, "readexactly(3) > limit from the buffer");
    is_bytes(out, "abc", "ignores the limit");
    feed(r, "xyz");
    weir_reader_feed_eof(r);
    is_int(weir_read(r, INT64_MIN, &out), 0, "read(INT64_MIN) at EOF");
    is_bytes(out, "xyz", "everything");
    weir_reader_free(r);

    /* limit 1: the tightest limit. */
    r = new_reader(1);
    feed(r, "a\nbc\n");
    is_int(weir_readline(r, &out), 0, "limit 1: separator at index 1 accepted");
    is_bytes(out, "a\n", "the line");
    is_int(weir_readline(r, &out), WEIR_ETOOLONG, "limit 1: separator at index 2 refused");
    is_int(weir_reader_buffered(r), 0, "dropped through its newline");
    weir_reader_free(r);
}

/* --- many separators (more than fit the small array: the malloc path) ---------------- */

static void test_many_separators(void) {
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    weir_bytes out;
    /* 12 separators in no particular order; in "..wxyz..", "yz" and "xyz" and "wxyz"
     * end together at the earliest end: the shortest, "yz", wins, so the output is the
     * same but the limit check is against its start. */
    weir_bytes seps[12] = {
        WEIR_LIT("wxyz"), WEIR_LIT("q1"), WEIR_LIT("q2"),  WEIR_LIT("q3"),
        WEIR_LIT("q4"),   WEIR_LIT("q5"), WEIR_LIT("xyz"), WEIR_LIT("q6"),
        WEIR_LIT("q7"),   WEIR_LIT("q8"), WEIR_LIT("yz"),  WEIR_LIT("later"),
    };
    feed(r, "abcwxyz...later");
    is_int(weir_readuntil_any(r, seps, 12, &out), 0, "12 separators");
    is_bytes(out, "abcwxyz", "the earliest end wins");
    is_int(weir_readuntil_any(r, seps, 12, &out), 0, "again");
    is_bytes(out, "...later", "the next match");
    weir_reader_free(r);

    /* The tie goes to the shortest separator, which matters against the limit. */
    r = new_reader(2);
    feed(r, "abwxyz");
    weir_bytes tie[10] = {WEIR_LIT("wxyz"), WEIR_LIT("xyz"), WEIR_LIT("n1"), WEIR_LIT("n2"),
                          WEIR_LIT("n3"),   WEIR_LIT("n4"),  WEIR_LIT("n5"), WEIR_LIT("n6"),
                          WEIR_LIT("n7"),   WEIR_LIT("yz")};
    is_int(weir_readuntil_any(r, tie, 10, &out), WEIR_ELIMIT,
           "limit 2: \"yz\" (start 4) wins the tie with \"wxyz\" (start 2), so it is over");
    is_int(weir_reader_error(r)->consumed, 4, "consumed = the winner's start");
    is_int(weir_readuntil_any(r, tie, 1, &out), 0, "\"wxyz\" alone starts at 2");
    is_bytes(out, "abwxyz", "and is accepted");
    weir_reader_free(r);

    /* Errors on the malloc path free it (ASan's leak check watches). */
    r = new_reader(WEIR_DEFAULT_LIMIT);
    weir_bytes bad[11];
    for (int i = 0; i < 11; i++) bad[i] = WEIR_LIT("sep");
    bad[7] = WEIR_LIT("");
    is_int(weir_readuntil_any(r, bad, 11, &out), WEIR_EINVAL, "11 separators, one empty: EINVAL");
    bad[7] = WEIR_LIT("s");
    is_int(weir_readuntil_any(r, bad, 11, &out), WEIR_EAGAIN, "11 separators, waiting: EAGAIN");
    weir_reader_set_exception(r, WEIR_EUSER, "E", 1);
    is_int(weir_readuntil_any(r, bad, 11, &out), WEIR_EUSER, "11 separators: the exception");
    weir_reader_free(r);

    /* A thousand separators, the match among the last. */
    r = new_reader(WEIR_DEFAULT_LIMIT);
    static char names[1000][5];
    weir_bytes many[1000];
    for (int i = 0; i < 1000; i++) {
        names[i][0] = '<';
        names[i][1] = (char)('0' + i / 100);
        names[i][2] = (char)('0' + i / 10 % 10);
        names[i][3] = (char)('0' + i % 10);
        names[i][4] = '>';
        many[i] = weir_bytes_of(names[i], 5);
    }
    feed(r, "hello<998>world");
    is_int(weir_readuntil_any(r, many, 1000, &out), 0, "1000 separators");
    is_bytes(out, "hello<998>", "the one present matches");
    weir_reader_free(r);
}

/* --- error names and descriptions ------------------------------------------------------ */

static void test_strerror_errname(void) {
    static const struct {
        int code;
        const char *name;
    } codes[] = {
        {WEIR_OK, "WEIR_OK"},
        {WEIR_EINVAL, "WEIR_EINVAL"},
        {WEIR_ENOMEM, "WEIR_ENOMEM"},
        {WEIR_EINCOMPLETE, "WEIR_EINCOMPLETE"},
        {WEIR_ELIMIT, "WEIR_ELIMIT"},
        {WEIR_ETOOLONG, "WEIR_ETOOLONG"},
        {WEIR_EBUSY, "WEIR_EBUSY"},
        {WEIR_EEOF, "WEIR_EEOF"},
        {WEIR_ECANCELED, "WEIR_ECANCELED"},
        {WEIR_ETIMEDOUT, "WEIR_ETIMEDOUT"},
        {WEIR_EAGAIN, "WEIR_EAGAIN"},
        {WEIR_ENOTASK, "WEIR_ENOTASK"},
        {WEIR_ECONNLOST, "WEIR_ECONNLOST"},
        {WEIR_ECONNRESET, "WEIR_ECONNRESET"},
        {WEIR_ECLOSED, "WEIR_ECLOSED"},
        {WEIR_ENOTSUP, "WEIR_ENOTSUP"},
        {WEIR_ENOENT, "WEIR_ENOENT"},
        {WEIR_EDEADLOCK, "WEIR_EDEADLOCK"},
        {WEIR_ESTATE, "WEIR_ESTATE"},
        {WEIR_ECONNREFUSED, "WEIR_ECONNREFUSED"},
        {WEIR_EHOSTUNREACH, "WEIR_EHOSTUNREACH"},
        {WEIR_EADDRINUSE, "WEIR_EADDRINUSE"},
        {WEIR_EPIPE, "WEIR_EPIPE"},
        {WEIR_ESTALL, "WEIR_ESTALL"},
        {WEIR_EIO, "WEIR_EIO"},
        {WEIR_EMISMATCH, "WEIR_EMISMATCH"},
        {WEIR_EMALFORMED, "WEIR_EMALFORMED"},
        {WEIR_ETLS, "WEIR_ETLS"},
    };
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *name = weir_errname(codes[i].code);
        const char *desc = weir_strerror(codes[i].code);
        ok(name && strcmp(name, codes[i].name) == 0, "errname(%d) is %s", codes[i].code,
           codes[i].name);
        ok(desc && desc[0] && strcmp(desc, "unknown error") != 0 &&
               strcmp(desc, "application error") != 0,
           "strerror(%s) is its own description: \"%s\"", codes[i].name, desc ? desc : "");
        bool distinct = true;
        for (size_t j = 0; j < i; j++)
            if (desc && strcmp(desc, weir_strerror(codes[j].code)) == 0) distinct = false;
        ok(distinct, "strerror(%s) differs from every earlier code's", codes[i].name);
        ok(weir_strerror(codes[i].code) == desc, "strerror(%s) is constant", codes[i].name);
    }
    /* The enum is dense from WEIR_OK down to the last code, and the code after the last one
     * is unknown (checked below): a new code missing from this table fails here. */
    ok(codes[n - 1].code == -(int)(n - 1), "the table covers every code down to %s",
       codes[n - 1].name);

    static const int app[] = {WEIR_EUSER, WEIR_EUSER - 1, WEIR_EUSER - 12345, INT_MIN};
    for (size_t i = 0; i < sizeof app / sizeof app[0]; i++) {
        is_cstr(weir_strerror(app[i]), "application error", "strerror(%d): application error",
                app[i]);
        is_cstr(weir_errname(app[i]), "WEIR_EUSER", "errname(%d): WEIR_EUSER", app[i]);
    }
    static const int unknown[] = {-(int)n, -500, WEIR_EUSER + 1, 1, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *d = weir_strerror(unknown[i]);
        const char *nm = weir_errname(unknown[i]);
        ok(d && nm, "strerror/errname(%d): never NULL", unknown[i]);
        ok(d && strcmp(d, "application error") != 0 && nm && strcmp(nm, "WEIR_EUSER") != 0,
           "%d is neither a known code nor an application code (\"%s\", %s)", unknown[i],
           d ? d : "", nm ? nm : "");
    }
    /* A reader's error for an application code uses the application's message, not
     * strerror's. */
    weir_reader *r = new_reader(WEIR_DEFAULT_LIMIT);
    weir_bytes out;
    weir_reader_set_exception(r, WEIR_EUSER - 5, "mine", 4);
    is_int(weir_read(r, 1, &out), WEIR_EUSER - 5, "application code from a read");
    is_str(err_msg(r).data, err_msg(r).len, "mine", "with the application's message");
    weir_reader_free(r);
}

int main(void) {
    test_new_and_free();
    test_null_arguments();
    test_argument_checks_before_exception();
    test_feed_misuse();
    test_extreme_sizes();
    test_many_separators();
    test_strerror_errname();
    return done_testing();
}
