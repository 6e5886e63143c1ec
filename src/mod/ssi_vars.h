/*
 * The variables a server-side include sees: those #set made, the SSI ones (DOCUMENT_NAME,
 * DOCUMENT_URI, DATE_LOCAL, DATE_GMT, LAST_MODIFIED, QUERY_STRING_UNESCAPED) and the request's
 * CGI-like environment (built on first use), in that order of precedence. Strings live in the
 * request's pool.
 */
#ifndef LUX_SSI_VARS_H
#define LUX_SSI_VARS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lux/req.h"

/* A document being processed: the page, or an included one. */
typedef struct {
    const char *uri;      /* its URL path */
    const char *physical; /* its file name */
    struct lux_file *file;
} ssi_doc;

typedef enum { SSI_ENC_NONE, SSI_ENC_URL, SSI_ENC_ENTITY } ssi_encoding;

typedef struct ssi_set_var ssi_set_var;

typedef struct {
    lux_req *r;
    const char *timefmt; /* #config timefmt; NULL: lighttpd's default */
    int sizefmt_abbrev;  /* #config sizefmt="abbrev" */
    ssi_set_var *set;
    size_t nset;
    lux_keyval *env;
    size_t nenv;
    int env_built;
} ssi_vars;

/* What an expression's lookup needs: the variables and the current document. */
typedef struct {
    ssi_vars *vars;
    const ssi_doc *doc;
} ssi_var_ctx;

void ssi_vars_init(ssi_vars *v, lux_req *r);
/* #set: add or replace. -1 when out of memory or too many variables. */
int ssi_var_set(ssi_vars *v, const char *name, const char *value);
/* A variable's value (NUL-terminated), or NULL when it is not set. */
const char *ssi_var_value(ssi_vars *v, const ssi_doc *doc, const char *name, size_t nlen);
/* #echo: the value encoded, "(none)" when unset (as lighttpd shows). NULL when out of memory. */
char *ssi_var_encoded(ssi_vars *v, const ssi_doc *doc, const char *name, ssi_encoding enc,
                      size_t *len);
/* ssi_lookup_fn for expressions; ctx is an ssi_var_ctx. */
int ssi_var_lookup(void *ctx, const char *name, size_t len, const char **val, size_t *vlen);
/* #printenv: "NAME=value\n" for every variable, values entity-encoded. NULL when out of
 * memory. */
char *ssi_printenv(ssi_vars *v, size_t *len);

/* "none", "url", "entity": 0, else -1. */
int ssi_encoding_parse(const char *s, ssi_encoding *enc);
/* Encode src into the pool; NULL when out of memory. */
char *ssi_encode(lux_req *r, const char *src, size_t len, ssi_encoding enc, size_t *out_len);
/* fsize: bytes, or with abbrev lighttpd's "N kB" (whole units of 1024). */
void ssi_format_size(uint64_t size, int abbrev, char *buf, size_t cap);
/* A time in the #config timefmt (local time, or GMT); "(none)" when it formats to nothing. */
void ssi_format_time(const ssi_vars *v, time_t t, int gmt, char *buf, size_t cap);

#endif
