/*
 * Chunked transfer-coding decoder (RFC 9112 7.1). A byte-at-a-time state machine for the framing
 * lines and a block move for chunk data, so it resumes at any split of the input. Output is
 * written over the input: the write position never passes the read position.
 */
#include "http/h1/charclass.h"
#include "http/h1/chunked.h"

#include <string.h>

enum {
    S_SIZE_FIRST,   /* first hex digit of a chunk-size */
    S_SIZE,         /* further hex digits */
    S_EXT_BWS,      /* BWS before ';' or the line end after the size */
    S_EXT_PRE_NAME, /* after ';', BWS before ext-name */
    S_EXT_NAME,
    S_EXT_POST_NAME, /* BWS after ext-name: '=', ';' or line end */
    S_EXT_PRE_VAL,   /* after '=', BWS before ext-val */
    S_EXT_VAL_TOKEN,
    S_EXT_VAL_QUOTED,
    S_EXT_VAL_ESCAPE, /* after '\' inside a quoted-string */
    S_EXT_POST_VAL,   /* BWS after ext-val: ';' or line end */
    S_SIZE_LF,        /* CR seen ending the size line */
    S_DATA,
    S_DATA_CR, /* CRLF after chunk data */
    S_DATA_LF,
    S_TRAILER_START, /* start of a trailer line, or the final empty line */
    S_TRAILER_NAME,
    S_TRAILER_VALUE,
    S_TRAILER_LF,
    S_END_LF, /* CR of the final empty line seen */
    S_DONE,
    S_ERROR,
};

#define MAX_SIZE_DIGITS 16

enum { K_TOKEN = 1, K_HEX = 2, K_QDTEXT = 4, K_VALUE = 8 };

#define IS_HEX(c) (IS_DIGIT(c) || ((c) >= 'A' && (c) <= 'F') || ((c) >= 'a' && (c) <= 'f'))
/* qdtext: HTAB, SP, VCHAR except '"' and '\', obs-text */
#define KIND(c)                                                                               \
    ((IS_DIGIT(c) || IS_ALPHA(c) || IS_TSYM(c) ? K_TOKEN : 0) | (IS_HEX(c) ? K_HEX : 0) |     \
     ((((c) >= 0x20 && (c) != 0x7f) || (c) == '\t') && (c) != '"' && (c) != '\\' ? K_QDTEXT   \
                                                                                : 0) |       \
     (((c) >= 0x20 && (c) != 0x7f) || (c) == '\t' ? K_VALUE : 0))
#define KIND4(c) KIND(c), KIND((c) + 1), KIND((c) + 2), KIND((c) + 3)
#define KIND16(c) KIND4(c), KIND4((c) + 4), KIND4((c) + 8), KIND4((c) + 12)
#define KIND64(c) KIND16(c), KIND16((c) + 16), KIND16((c) + 32), KIND16((c) + 48)

static const uint8_t kind[256] = {KIND64(0), KIND64(64), KIND64(128), KIND64(192)};

static unsigned hexval(unsigned char c)
{
    return IS_DIGIT(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

void lux_chunked_init(lux_chunked_decoder *d)
{
    size_t max_line = d->max_line;
    memset(d, 0, sizeof(*d));
    d->state = S_SIZE_FIRST;
    d->max_line = max_line;
}

/* The size line is complete: go to the data, or to the trailer section after a zero size. */
static int size_line_done(const lux_chunked_decoder *d)
{
    return d->chunk_remaining ? S_DATA : S_TRAILER_START;
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* Line end of the size line from any state that may end it: CR or LF, else error. */
static int size_eol(lux_chunked_decoder *d, unsigned char c)
{
    if (c == '\r')
        return S_SIZE_LF;
    if (c == '\n')
        return size_line_done(d);
    return S_ERROR;
}

/* The chunk-size line: size, then extensions that are checked and dropped. */
static int step_size_line(lux_chunked_decoder *d, unsigned char c)
{
    switch (d->state) {
    case S_SIZE_FIRST:
        if (!(kind[c] & K_HEX))
            return S_ERROR;
        d->chunk_remaining = hexval(c);
        return S_SIZE;
    case S_SIZE:
        if (kind[c] & K_HEX) {
            if (d->line_bytes > MAX_SIZE_DIGITS) /* line_bytes counts this digit already */
                return S_ERROR;
            d->chunk_remaining = d->chunk_remaining << 4 | hexval(c);
            return S_SIZE;
        }
        if (c == ';')
            return S_EXT_PRE_NAME;
        if (is_ows(c))
            return S_EXT_BWS;
        return size_eol(d, c);
    case S_EXT_BWS:
        if (is_ows(c))
            return S_EXT_BWS;
        return c == ';' ? S_EXT_PRE_NAME : S_ERROR;
    case S_EXT_PRE_NAME:
        if (is_ows(c))
            return S_EXT_PRE_NAME;
        return kind[c] & K_TOKEN ? S_EXT_NAME : S_ERROR;
    case S_EXT_NAME:
        if (kind[c] & K_TOKEN)
            return S_EXT_NAME;
        __attribute__((fallthrough)); /* the name ended */
    case S_EXT_POST_NAME:
        if (is_ows(c))
            return S_EXT_POST_NAME;
        if (c == '=')
            return S_EXT_PRE_VAL;
        if (c == ';')
            return S_EXT_PRE_NAME;
        return size_eol(d, c);
    case S_EXT_PRE_VAL:
        if (is_ows(c))
            return S_EXT_PRE_VAL;
        if (c == '"')
            return S_EXT_VAL_QUOTED;
        return kind[c] & K_TOKEN ? S_EXT_VAL_TOKEN : S_ERROR;
    case S_EXT_VAL_TOKEN:
        if (kind[c] & K_TOKEN)
            return S_EXT_VAL_TOKEN;
        __attribute__((fallthrough)); /* the value ended */
    case S_EXT_POST_VAL:
        if (is_ows(c))
            return S_EXT_POST_VAL;
        if (c == ';')
            return S_EXT_PRE_NAME;
        return size_eol(d, c);
    case S_EXT_VAL_QUOTED:
        if (c == '"')
            return S_EXT_POST_VAL;
        if (c == '\\')
            return S_EXT_VAL_ESCAPE;
        return kind[c] & K_QDTEXT ? S_EXT_VAL_QUOTED : S_ERROR;
    case S_EXT_VAL_ESCAPE:
        return kind[c] & K_VALUE ? S_EXT_VAL_QUOTED : S_ERROR;
    case S_SIZE_LF:
        return c == '\n' ? size_line_done(d) : S_ERROR;
    }
    return S_ERROR;
}

/* Everything but chunk data: one byte at a time. */
static int step(lux_chunked_decoder *d, unsigned char c)
{
    switch (d->state) {
    case S_DATA_CR:
        if (c == '\r')
            return S_DATA_LF;
        return c == '\n' ? S_SIZE_FIRST : S_ERROR;
    case S_DATA_LF:
        return c == '\n' ? S_SIZE_FIRST : S_ERROR;
    case S_TRAILER_START:
        if (c == '\r')
            return S_END_LF;
        if (c == '\n')
            return S_DONE;
        return kind[c] & K_TOKEN ? S_TRAILER_NAME : S_ERROR;
    case S_TRAILER_NAME:
        if (kind[c] & K_TOKEN)
            return S_TRAILER_NAME;
        return c == ':' ? S_TRAILER_VALUE : S_ERROR;
    case S_TRAILER_VALUE:
        if (kind[c] & K_VALUE)
            return S_TRAILER_VALUE;
        if (c == '\r')
            return S_TRAILER_LF;
        return c == '\n' ? S_TRAILER_START : S_ERROR;
    case S_TRAILER_LF:
        return c == '\n' ? S_TRAILER_START : S_ERROR;
    case S_END_LF:
        return c == '\n' ? S_DONE : S_ERROR;
    default:
        return step_size_line(d, c);
    }
}

/* States whose bytes count against max_line (the CR/LF ending a line do not). */
static int counts_toward_line(int state, unsigned char c)
{
    if (c == '\r' || c == '\n')
        return 0;
    return state < S_SIZE_LF || state == S_TRAILER_START || state == S_TRAILER_NAME ||
           state == S_TRAILER_VALUE;
}

ssize_t lux_chunked_decode(lux_chunked_decoder *d, char *buf, size_t *len)
{
    size_t in = 0, out = 0, n = *len;
    size_t max_line = d->max_line ? d->max_line : 4096;

    while (in < n) {
        if (d->state == S_DATA) {
            size_t take = n - in;
            if (take > d->chunk_remaining)
                take = (size_t)d->chunk_remaining;
            if (out != in)
                memmove(buf + out, buf + in, take);
            in += take;
            out += take;
            d->chunk_remaining -= take;
            if (!d->chunk_remaining)
                d->state = S_DATA_CR;
            continue;
        }
        if (d->state == S_DONE || d->state == S_ERROR)
            break;
        unsigned char c = (unsigned char)buf[in++];
        if (counts_toward_line(d->state, c) && ++d->line_bytes > max_line) {
            d->state = S_ERROR;
            break;
        }
        d->state = step(d, c);
        if (d->state == S_SIZE_FIRST || d->state == S_TRAILER_START)
            d->line_bytes = 0;
    }

    *len = out;
    if (d->state == S_ERROR) {
        *len = 0;
        return -1;
    }
    if (d->state != S_DONE)
        return -2;
    if (out != in)
        memmove(buf + out, buf + in, n - in);
    return (ssize_t)(n - in);
}
