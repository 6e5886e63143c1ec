/*
 * Pure helpers of mod_extforward: numeric addresses and networks (extforward.forwarder), the
 * X-Forwarded-For list and the Forwarded header (RFC 7239). No I/O and no allocation: values
 * point into the caller's memory, so they can be unit-tested and fuzzed.
 */
#ifndef LUX_MOD_EXTFORWARD_PARSE_H
#define LUX_MOD_EXTFORWARD_PARSE_H

#include <stddef.h>
#include <sys/socket.h>

/* An address (bits = 32 or 128) or a network ("10.0.0.0/8"). IPv4-mapped IPv6 is IPv4. */
typedef struct {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
} xf_net;

/* A numeric IPv4 or IPv6 address (no brackets, port or zone) of len bytes: 0, or -1. */
int xf_parse_addr(const char *s, size_t len, xf_net *out);
/* "addr" or "addr/bits": 0, or -1 (the bits past the prefix must be zero, as in "10.0.0.0/8"). */
int xf_parse_net(const char *s, size_t len, xf_net *out);
/* Does network n hold address a (an xf_parse_addr result)? */
int xf_net_contains(const xf_net *n, const xf_net *a);
/* The same address as a sockaddr (port 0), for the request to carry. */
void xf_to_sockaddr(const xf_net *a, struct sockaddr_storage *out);

typedef struct {
    const char *ptr;
    size_t len;
} xf_str;

/*
 * X-Forwarded-For: the runs of address characters (hex digits, '.', ':') in v, as lighttpd
 * reads the list: "1.2.3.4, 5.6.7.8" and "1.2.3.4 5.6.7.8" alike. Keeps the rightmost `max`
 * (the ones a chain of trusted proxies is walked through) in out, in order; returns how many.
 */
size_t xf_list_split(const char *v, size_t len, xf_str *out, size_t max);

/* One element (one proxy's hop) of a Forwarded header; absent parameters have ptr NULL. */
typedef struct {
    xf_str for_; /* the address with brackets and port removed, or "unknown", "_obf" */
    xf_str proto;
    xf_str host;
    xf_str remote_user; /* the user the proxy authenticated */
} xf_forwarded;

#define XF_FORWARDED_MAX 32

/*
 * Parse a Forwarded header value of len bytes into at most XF_FORWARDED_MAX elements. Quoted
 * values are unescaped into scratch (len bytes at least). Returns the number of elements, or -1
 * when the header cannot be trusted to say what it seems to (an unterminated quoted-string, a
 * bad IPv6 literal, more elements than XF_FORWARDED_MAX): the request is then refused.
 */
int xf_forwarded_parse(const char *v, size_t len, char *scratch, xf_forwarded *out);

/* Is a Forwarded for= value a real address, rather than "unknown" or an obfuscated "_name"? */
int xf_forwarded_is_addr(const xf_str *v);

#endif
