/* RFC 9113 8.2-8.3 checks of one request field (see h2_fields.h). */
#include "http/h2/h2_fields.h"

#include "http/h1/charclass.h"

#include <string.h>
#include <strings.h>

enum {
    F_NAME = 1 << 0,  /* a token character, not upper-case */
    F_TOKEN = 1 << 1, /* a token character */
    F_VALUE = 1 << 2, /* HTAB, visible ASCII, SP, and every byte above */
    F_PATH = 1 << 3,  /* visible ASCII and every byte above */
    F_AUTH = 1 << 4,  /* unreserved, sub-delims, ':', '@', '[', ']', '%' */
};

#define IS_LOWER(c) ((c) >= 'a' && (c) <= 'z')
#define IS_UPPER(c) ((c) >= 'A' && (c) <= 'Z')
#define IS_AUTH(c)                                                                                 \
    (IS_DIGIT(c) || IS_ALPHA(c) || (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~' ||         \
     (c) == '!' || (c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || (c) == ')' ||          \
     (c) == '*' || (c) == '+' || (c) == ',' || (c) == ';' || (c) == '=' || (c) == ':' ||           \
     (c) == '@' || (c) == '[' || (c) == ']' || (c) == '%')
#define FCLS(c)                                                                                    \
    ((IS_TCHAR(c) && !IS_UPPER(c) ? F_NAME : 0) | (IS_TCHAR(c) ? F_TOKEN : 0) |                    \
     ((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f) ? F_VALUE : 0) |                                 \
     ((c) > 0x20 && (c) != 0x7f ? F_PATH : 0) | (IS_AUTH(c) ? F_AUTH : 0))
#define FCLS4(c) FCLS(c), FCLS((c) + 1), FCLS((c) + 2), FCLS((c) + 3)
#define FCLS16(c) FCLS4(c), FCLS4((c) + 4), FCLS4((c) + 8), FCLS4((c) + 12)
#define FCLS64(c) FCLS16(c), FCLS16((c) + 16), FCLS16((c) + 32), FCLS16((c) + 48)

static const uint8_t fcls[256] = {FCLS64(0), FCLS64(64), FCLS64(128), FCLS64(192)};

/* Every byte of v is of class `cls`. */
static int all_of(const uint8_t *v, size_t len, uint8_t cls) {
    uint8_t ok = cls;
    for (size_t i = 0; i < len; i++)
        ok &= fcls[v[i]];
    return ok != 0;
}

int lux_h2_name_ok(const uint8_t *name, size_t len) {
    return len > 0 && all_of(name, len, F_NAME);
}

int lux_h2_method_ok(const uint8_t *v, size_t len) {
    return len > 0 && all_of(v, len, F_TOKEN);
}

int lux_h2_path_ok(const uint8_t *v, size_t len) {
    return len > 0 && all_of(v, len, F_PATH);
}

int lux_h2_authority_ok(const uint8_t *v, size_t len) {
    return all_of(v, len, F_AUTH);
}

/* Some byte of the word is below 0x20 or is 0x7f (exact about whether one is, not which). */
static int word_has_control(uint64_t w) {
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t del = w ^ (0x7f * ones);
    return ((((w - 0x20 * ones) & ~w) | ((del - ones) & ~del)) & highs) != 0;
}

/* Values are most of a head's bytes: eight at a time, the bytes of a word with a control in
 * it (HTAB is allowed) one at a time. */
int lux_h2_value_ok(const uint8_t *v, size_t len) {
    if (len && (v[0] == ' ' || v[0] == '\t' || v[len - 1] == ' ' || v[len - 1] == '\t'))
        return 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, v + i, 8);
        if (word_has_control(w) && !all_of(v + i, 8, F_VALUE))
            return 0;
    }
    return all_of(v + i, len - i, F_VALUE);
}

static int named(const uint8_t *name, size_t len, const char *lit, size_t lit_len) {
    return len == lit_len && memcmp(name, lit, len) == 0;
}

/* Names are lower-case by now (lux_h2_name_ok): compared as they are, told apart by length. */
int lux_h2_field_kind(const uint8_t *name, size_t len) {
    switch (len) {
    case 2:
        return named(name, len, "te", 2) ? LUX_H2_FIELD_TE : LUX_H2_FIELD_PLAIN;
    case 4:
        return named(name, len, "host", 4) ? LUX_H2_FIELD_HOST : LUX_H2_FIELD_PLAIN;
    case 7:
        return named(name, len, "upgrade", 7) ? LUX_H2_FIELD_FORBIDDEN : LUX_H2_FIELD_PLAIN;
    case 8:
        return named(name, len, "priority", 8) ? LUX_H2_FIELD_PRIORITY : LUX_H2_FIELD_PLAIN;
    case 10:
        return named(name, len, "connection", 10) || named(name, len, "keep-alive", 10)
                   ? LUX_H2_FIELD_FORBIDDEN
                   : LUX_H2_FIELD_PLAIN;
    case 14:
        return named(name, len, "content-length", 14) ? LUX_H2_FIELD_CONTENT_LENGTH
                                                      : LUX_H2_FIELD_PLAIN;
    case 16:
        return named(name, len, "proxy-connection", 16) ? LUX_H2_FIELD_FORBIDDEN
                                                        : LUX_H2_FIELD_PLAIN;
    case 17:
        return named(name, len, "transfer-encoding", 17) ? LUX_H2_FIELD_FORBIDDEN
                                                         : LUX_H2_FIELD_PLAIN;
    default:
        return LUX_H2_FIELD_PLAIN;
    }
}

int64_t lux_h2_content_length(const uint8_t *v, size_t len) {
    if (len == 0 || len > 18) /* 18 digits cannot overflow */
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!IS_DIGIT(v[i]))
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

/* One dictionary member's value or parameter value from v[*i]: an sf-integer, an sf-boolean
 * ("?0", "?1") or a token / string we skip; its value in *n when it is an integer or boolean
 * (-1 otherwise). -1 when it does not parse. */
static int member_value(const uint8_t *v, size_t len, size_t *i, int64_t *n) {
    *n = -1;
    if (*i < len && v[*i] == '?') {
        if (*i + 1 >= len || (v[*i + 1] != '0' && v[*i + 1] != '1'))
            return -1;
        *n = v[*i + 1] - '0';
        *i += 2;
        return 0;
    }
    if (*i < len && IS_DIGIT(v[*i])) {
        int64_t x = 0;
        size_t digits = 0;
        for (; *i < len && IS_DIGIT(v[*i]) && digits < 15; (*i)++, digits++)
            x = x * 10 + (v[*i] - '0');
        *n = x;
        return 0;
    }
    if (*i < len && v[*i] == '"') {
        for ((*i)++; *i < len && v[*i] != '"'; (*i)++)
            if (v[*i] == '\\')
                (*i)++;
        if (*i >= len)
            return -1;
        (*i)++;
        return 0;
    }
    size_t start = *i;
    while (*i < len && (fcls[v[*i]] & F_TOKEN || v[*i] == ':' || v[*i] == '/'))
        (*i)++;
    return *i > start ? 0 : -1;
}

static void skip_ows(const uint8_t *v, size_t len, size_t *i) {
    while (*i < len && (v[*i] == ' ' || v[*i] == '\t'))
        (*i)++;
}

/* A key (lcalpha or '*', then lcalpha, digits, '_', '-', '.', '*') at v[*i]; its length. */
static size_t member_key(const uint8_t *v, size_t len, size_t *i) {
    size_t start = *i;
    if (*i < len && (IS_LOWER(v[*i]) || v[*i] == '*'))
        for ((*i)++; *i < len && (IS_LOWER(v[*i]) || IS_DIGIT(v[*i]) || v[*i] == '_' ||
                                  v[*i] == '-' || v[*i] == '.' || v[*i] == '*');
             (*i)++)
            ;
    return *i - start;
}

int lux_h2_parse_priority(const uint8_t *v, size_t len, uint32_t *urgency, int *incremental) {
    uint32_t u = *urgency;
    int inc = *incremental;
    size_t i = 0;
    skip_ows(v, len, &i);
    while (i < len) {
        size_t at = i, klen = member_key(v, len, &i);
        if (!klen)
            return -1;
        int64_t n = 1; /* a bare key is the boolean true */
        if (i < len && v[i] == '=') {
            i++;
            if (member_value(v, len, &i, &n) < 0)
                return -1;
        }
        while (i < len && v[i] == ';') { /* parameters: read and ignored */
            i++;
            int64_t ignored;
            if (!member_key(v, len, &i) ||
                (i < len && v[i] == '=' && (++i, member_value(v, len, &i, &ignored) < 0)))
                return -1;
        }
        if (klen == 1 && v[at] == 'u' && n >= 0 && n <= 7)
            u = (uint32_t)n;
        else if (klen == 1 && v[at] == 'i' && (n == 0 || n == 1))
            inc = (int)n;
        skip_ows(v, len, &i);
        if (i == len)
            break;
        if (v[i] != ',')
            return -1;
        i++;
        skip_ows(v, len, &i);
        if (i == len)
            return -1; /* a trailing comma */
    }
    *urgency = u;
    *incremental = inc;
    return 0;
}
