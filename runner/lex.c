/* runner/lex.c - split one scenario line into words and strings.
 *
 * A word is a run of bytes other than blank, '"' and '#'; a string is "..." with escapes;
 * '#' outside a string starts a comment. Every byte value is allowed (NUL included): the
 * parser rejects what it does not understand, the lexer only finds token boundaries. The
 * rules and error positions follow the reference runner (tests/conformance/pyref.py). */
#include <stdarg.h>
#include <stdio.h>

#include "runner/scenario_internal.h"
#include "weir/error.h"

int weir__syntax_error(weir_scenario_error *err, int line, size_t col0, const char *fmt, ...) {
    if (err != NULL) {
        err->line = line;
        err->col = col0 >= (size_t)INT32_MAX ? INT32_MAX : (int)col0 + 1;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return WEIR_EINVAL;
}

static int hex_value(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode the string starting at line[*pos] == '"' into out (room for len bytes is
 * guaranteed by the caller) and move *pos past its closing quote. */
static int lex_string(const uint8_t *line, size_t len, size_t *pos, uint8_t *out, size_t *out_len,
                      int lineno, weir_scenario_error *err) {
    size_t start = *pos, i = start + 1, n = 0;
    for (;;) {
        if (i >= len) return weir__syntax_error(err, lineno, start, "unterminated string");
        uint8_t c = line[i];
        if (c == '"') {
            i++;
            break;
        }
        if (c != '\\') {
            out[n++] = c;
            i++;
            continue;
        }
        if (i + 1 >= len) return weir__syntax_error(err, lineno, i, "unterminated string");
        uint8_t e = line[i + 1];
        switch (e) {
            case '\\':
                out[n++] = '\\';
                break;
            case '"':
                out[n++] = '"';
                break;
            case 'n':
                out[n++] = '\n';
                break;
            case 'r':
                out[n++] = '\r';
                break;
            case 't':
                out[n++] = '\t';
                break;
            case '0':
                out[n++] = '\0';
                break;
            case 'x': {
                int hi = i + 2 < len ? hex_value(line[i + 2]) : -1;
                int lo = i + 3 < len ? hex_value(line[i + 3]) : -1;
                if (hi < 0 || lo < 0)
                    return weir__syntax_error(err, lineno, i, "\\x needs two hex digits");
                out[n++] = (uint8_t)(hi << 4 | lo);
                i += 2;
                break;
            }
            default:
                if (e > 0x20 && e < 0x7f)
                    return weir__syntax_error(err, lineno, i, "unknown escape \\%c", (char)e);
                return weir__syntax_error(
                    err, lineno, i, "unknown escape: \\ followed by byte 0x%02x", (unsigned)e);
        }
        i += 2;
    }
    *pos = i;
    *out_len = n;
    return 0;
}

static bool is_blank(uint8_t c) { return c == ' ' || c == '\t'; }

int weir__lex_line(const uint8_t *line, size_t len, int lineno, weir__lexed *lx,
                   weir_scenario_error *err) {
    lx->ntoks = 0;
    lx->eol = len;
    weir__buf_reset(&lx->scratch);
    /* Decoded strings are never longer than their source, so one reservation keeps every
     * view into scratch valid for the whole line. */
    int rc = weir__buf_reserve(&lx->scratch, len);
    if (rc != 0) return rc;
    uint8_t *out = (uint8_t *)lx->scratch.data;

    size_t i = 0, prev_end = SIZE_MAX;
    while (i < len) {
        uint8_t c = line[i];
        if (is_blank(c)) {
            i++;
            continue;
        }
        if (c == '#') {
            lx->eol = i;
            break;
        }
        if (lx->ntoks == WEIR_SCENARIO_MAX_TOKENS)
            return weir__syntax_error(err, lineno, i,
                                      "too many words and strings on one line "
                                      "(at most %d)",
                                      WEIR_SCENARIO_MAX_TOKENS);
        weir__token *t = &lx->toks[lx->ntoks];
        t->col = i;
        t->glued = prev_end == i;
        if (c == '"') {
            size_t n = 0;
            uint8_t *dst = out + lx->scratch.len;
            rc = lex_string(line, len, &i, dst, &n, lineno, err);
            if (rc != 0) return rc;
            lx->scratch.len += n;
            t->kind = WEIR__TOK_STR;
            t->val = weir_bytes_of(dst, n);
        } else {
            while (i < len && !is_blank(line[i]) && line[i] != '"' && line[i] != '#') i++;
            t->kind = WEIR__TOK_WORD;
            t->val = weir_bytes_of(line + t->col, i - t->col);
        }
        t->end = i;
        prev_end = i;
        lx->ntoks++;
    }
    return 0;
}
