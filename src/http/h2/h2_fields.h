/*
 * The checks of a request's fields that RFC 9113 (8.2, 8.3) asks of a server, made by lux
 * instead of nghttp2 (whose HTTP messaging is off: it checked each field again, apart from
 * lux's own pass over them). Pure functions over the bytes of one field; what they mean for a
 * stream (missing, repeated or misplaced pseudo-header fields, Content-Length against the DATA)
 * is h2_session.c's.
 */
#ifndef LUX_H2_FIELDS_H
#define LUX_H2_FIELDS_H

#include <stddef.h>
#include <stdint.h>

/* A regular field's name: a token (RFC 9110 5.6.2) without upper-case letters, not empty. */
int lux_h2_name_ok(const uint8_t *name, size_t len);

/* A field value: no NUL, CR, LF or other control but HTAB, no SP or HTAB at either end. */
int lux_h2_value_ok(const uint8_t *v, size_t len);

/* :method: a token. */
int lux_h2_method_ok(const uint8_t *v, size_t len);

/* :path: not empty, visible ASCII or bytes above it, no space or control. */
int lux_h2_path_ok(const uint8_t *v, size_t len);

/* :authority and Host: the characters an authority is made of (RFC 3986 3.2). */
int lux_h2_authority_ok(const uint8_t *v, size_t len);

/* What a regular field (a valid lower-case name) means for the message. */
enum {
    LUX_H2_FIELD_PLAIN,
    LUX_H2_FIELD_FORBIDDEN,      /* connection-specific (RFC 9113 8.2.2) */
    LUX_H2_FIELD_TE,             /* only "trailers" */
    LUX_H2_FIELD_CONTENT_LENGTH, /* the DATA must add up to it */
    LUX_H2_FIELD_HOST,           /* an authority */
    LUX_H2_FIELD_PRIORITY,       /* RFC 9218: the stream's urgency and incremental flag */
};
int lux_h2_field_kind(const uint8_t *name, size_t len);

/*
 * An RFC 9218 Priority field value (a Structured Fields dictionary): "u" an urgency 0-7, "i" a
 * boolean, other keys and parameters ignored. *urgency and *incremental keep what they held for
 * a key that is absent. 0, or -1 when the value does not parse (then the field is ignored).
 */
int lux_h2_parse_priority(const uint8_t *v, size_t len, uint32_t *urgency, int *incremental);

/* A Content-Length value: its number, or -1 when it is not one. */
int64_t lux_h2_content_length(const uint8_t *v, size_t len);

#endif
