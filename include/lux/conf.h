/*
 * The lighttpd.conf language: values, the block tree, loading and printing.
 *
 * Loading a file produces an immutable lux_conf_tree: the global block and every conditional
 * block in source order, each holding the final key/value pairs assigned inside it (after `+=`,
 * `:=`, variable expansion and includes). Turning values into typed module settings is the job of
 * the module registry (src/core/registry.c); this layer knows nothing of directive names.
 */
#ifndef LUX_CONF_H
#define LUX_CONF_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

typedef enum { LUX_V_STRING, LUX_V_INT, LUX_V_ARRAY } lux_vtype;

typedef struct lux_value lux_value;
struct lux_value {
    lux_vtype type;
    char *key; /* set for an element of a keyed array ("k" => v), else NULL */
    size_t key_len;
    const char *file; /* where the value was written, for messages; NULL if lux made it up */
    int line;
    union {
        struct {
            char *ptr; /* always NUL-terminated */
            size_t len;
        } str;
        long long num;
        struct {
            lux_value **items;
            size_t len, cap;
        } arr;
    } u;
};

/* What a conditional block tests. */
typedef enum {
    LUX_COND_GLOBAL = 0,    /* the global block: always true */
    LUX_COND_HOST,          /* $HTTP["host"]           the Host (port stripped, lower-cased) */
    LUX_COND_URL,           /* $HTTP["url"]            the decoded, normalised path */
    LUX_COND_QUERYSTRING,   /* $HTTP["querystring"]    the raw query, without '?' */
    LUX_COND_REMOTE_IP,     /* $HTTP["remote-ip"]      client address; == / != take a CIDR */
    LUX_COND_SCHEME,        /* $HTTP["scheme"]         "http" or "https" */
    LUX_COND_METHOD,        /* $HTTP["request-method"] */
    LUX_COND_HEADER,        /* $REQUEST_HEADER["Name"], and $HTTP["useragent"|"referer"|
                               "cookie"|"language"] which name User-Agent, Referer, Cookie,
                               Accept-Language; `header` holds the canonical name */
    LUX_COND_SOCKET,        /* $SERVER["socket"]       the listener, "host:port" / ":port" / unix */
    LUX_COND_PHYSICAL_PATH, /* $PHYSICAL["path"] */
    LUX_COND_PHYSICAL_EXISTING, /* $PHYSICAL["existing-path"] */
} lux_cond_field;

typedef enum {
    LUX_OP_NONE = 0, /* global block, and a bare `else` */
    LUX_OP_EQ,       /* == */
    LUX_OP_NE,       /* != */
    LUX_OP_MATCH,    /* =~ (PCRE2) */
    LUX_OP_NOMATCH,  /* !~ */
    LUX_OP_PREFIX,   /* =^ */
    LUX_OP_SUFFIX,   /* =$ */
} lux_cond_op;

typedef struct {
    char *key;
    lux_value *value;
    const char *file; /* where the key was last assigned */
    int line;
} lux_conf_kv;

typedef struct lux_conf_block lux_conf_block;
struct lux_conf_block {
    unsigned id;            /* index in lux_conf_tree.blocks; the global block is 0 */
    unsigned depth;         /* 0 for global, 1 for a top-level condition, ... */
    lux_conf_block *parent; /* enclosing block; NULL for global */
    lux_conf_block *prev;   /* else / elif: the previous alternative of the chain, else NULL */
    lux_cond_field field;
    char *header; /* LUX_COND_HEADER: the header name */
    lux_cond_op op;
    char *pattern; /* NUL-terminated */
    size_t pattern_len;
    void *regex;     /* pcre2_code * (JIT-compiled when available) for =~ and !~ */
    int cidr_bits;   /* remote-ip ==/!= with "addr/bits" or a plain address: >= 0, else -1 */
    int cidr_family; /* AF_INET or AF_INET6 */
    unsigned char cidr_addr[16];
    const char *file;
    int line;
    lux_conf_kv *kvs; /* final assignments in this block, in order of first assignment */
    size_t nkvs;
};

typedef struct lux_conf_tree lux_conf_tree;
struct lux_conf_tree {
    lux_conf_block **blocks; /* blocks[0] is global; the rest in source (pre-)order */
    size_t nblocks;
    char *main_file; /* path given to lux_conf_load_file, or the name for a string */
    void *priv;      /* owned memory; freed by lux_conf_free */
};

/* Captures of a regex condition, for %0..%9 substitution inside the block. */
#define LUX_COND_MAX_CAPTURES 10
typedef struct {
    int n;                                  /* number of valid entries, 0 if none */
    const char *ptr[LUX_COND_MAX_CAPTURES]; /* point into the matched subject */
    size_t len[LUX_COND_MAX_CAPTURES];
} lux_cond_captures;

/*
 * Load and evaluate a config file (includes, include_shell, var./env.). On error returns NULL and
 * writes "file:line: message" into err. Warnings (none at this layer today) go to stderr.
 */
lux_conf_tree *lux_conf_load_file(const char *path, char *err, size_t errlen);
/* The same for text in memory; `name` is used for messages and as the base for includes. */
lux_conf_tree *lux_conf_load_string(const char *text, size_t len, const char *name, char *err,
                                    size_t errlen);
/*
 * Variants with flags, for loading text that must not reach outside the process (the fuzzer,
 * config checkers): each flag turns the statement into a load error.
 */
#define LUX_CONF_NO_SHELL 0x1u   /* include_shell */
#define LUX_CONF_NO_INCLUDE 0x2u /* include */
lux_conf_tree *lux_conf_load_file_flags(const char *path, unsigned flags, char *err, size_t errlen);
lux_conf_tree *lux_conf_load_string_flags(const char *text, size_t len, const char *name,
                                          unsigned flags, char *err, size_t errlen);
void lux_conf_free(lux_conf_tree *tree);

/* Print the tree back in normalised lighttpd syntax (what `lux -p` shows). */
void lux_conf_print(const lux_conf_tree *tree, FILE *out);

/* Find a key assigned directly in block b (no inheritance); NULL if absent. */
const lux_value *lux_conf_block_get(const lux_conf_block *b, const char *key);

/*
 * Test block b's own condition against a string subject. Returns 1 if it holds, 0 if not; the
 * global block and a bare `else` always hold (the caller decides an else from its chain). For
 * =~ fills caps (if non-NULL) with the match's groups, else sets caps->n to 0. REMOTE_IP works
 * here too with the address as text ("10.1.2.3", "::1", "[::1]").
 */
int lux_conf_cond_match(const lux_conf_block *b, const char *subject, size_t len,
                        lux_cond_captures *caps);
/* Test a REMOTE_IP condition against a client address (v4-mapped v6 compares as v4). */
int lux_conf_cond_match_addr(const lux_conf_block *b, const struct sockaddr *sa);

/* Helpers for array values. */
const lux_value *lux_value_find(const lux_value *arr, const char *key); /* keyed lookup */

#endif
