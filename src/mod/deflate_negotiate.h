/*
 * Content codings for mod_deflate: their names, and the choice of one from a request's
 * Accept-Encoding (RFC 9110 12.5.3) and the server's order of preference. Pure: no I/O, no
 * allocation, so that it can be fuzzed.
 */
#ifndef LUX_DEFLATE_NEGOTIATE_H
#define LUX_DEFLATE_NEGOTIATE_H

#include <stddef.h>

/* The codings lux produces. x-gzip and x-bzip2 are the same bytes under an older name. */
typedef enum {
    DEFLATE_ENC_NONE = 0,
    DEFLATE_ENC_ZSTD,
    DEFLATE_ENC_BR,
    DEFLATE_ENC_GZIP,
    DEFLATE_ENC_X_GZIP,
    DEFLATE_ENC_DEFLATE,
    DEFLATE_ENC_BZIP2,
    DEFLATE_ENC_X_BZIP2,
    DEFLATE_ENC_COUNT,
} deflate_enc;

/* The coding's name as sent in Content-Encoding ("gzip"), "" for NONE. */
const char *deflate_enc_name(deflate_enc e);
/* The coding by name, case-insensitively; NONE when lux does not produce it. */
deflate_enc deflate_enc_from_name(const char *s, size_t len);

/* What a client accepts: a weight 0..1000 (q=0.5 is 500) per coding, -1 when not named. */
typedef struct {
    short q[DEFLATE_ENC_COUNT];
    short identity; /* the "identity" entry, -1 when not named */
    short star;     /* the "*" entry, -1 when not named */
} deflate_accept;

/*
 * Parse an Accept-Encoding value. Unknown codings are skipped; an element with a malformed
 * weight is ignored as a whole (it neither grants nor refuses anything). Never fails.
 */
void deflate_accept_parse(const char *s, size_t len, deflate_accept *a);

/* The weight the client gives coding e: its own entry, else "*", else 0 (not acceptable). */
int deflate_accept_weight(const deflate_accept *a, deflate_enc e);

/*
 * The coding to send: among `allowed` (n entries, the server's order of preference) the one
 * with the highest non-zero weight; ties go to the earlier entry. An allowed gzip also
 * answers a client asking only for x-gzip (and bzip2 for x-bzip2), under the name it asked
 * for. NONE when nothing allowed is acceptable.
 */
deflate_enc deflate_choose(const deflate_accept *a, const deflate_enc *allowed, size_t n);

#endif
