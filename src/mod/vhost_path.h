/*
 * Pure helpers of the virtual-hosting modules (mod_simple_vhost, mod_evhost, mod_userdir): is a
 * host or user name safe as one path component, and mod_evhost's path-pattern. No I/O, no
 * allocation, so they can be unit-tested and fuzzed.
 */
#ifndef LUX_MOD_VHOST_PATH_H
#define LUX_MOD_VHOST_PATH_H

#include <stddef.h>

/* The longest host name (RFC 1035) or user name a virtual host may come from. */
#define VHOST_NAME_MAX 255

/*
 * May `name` (len bytes) become one directory name below a configured root? Not empty, at most
 * VHOST_NAME_MAX bytes, no '/' or NUL, not "." or "..". The request parser already refuses
 * such hosts; this is the modules' own line of defence, since a path is built from them.
 */
int vhost_name_safe(const char *name, size_t len);

/* The length of host without its ":port" (an IPv6 literal keeps its brackets). */
size_t vhost_host_without_port(const char *host, size_t len);

/*
 * evhost.path-pattern: literal text with %% (a '%'), %_ (the whole host name), %0 (the domain:
 * its last two labels), %1..%9 (labels counted from the right: %1 the top-level domain), and
 * %{n} / %{n.m} (part n, or its m-th character counting from 1; m = 0 means the whole part).
 * Any other %x expands to nothing, as in lighttpd.
 */

/* Check a pattern when the config is loaded: 0, or -1 with a message in err. */
int evhost_pattern_check(const char *pattern, size_t len, char *err, size_t errlen);
/*
 * Expand pattern for host (without port). Writes at most cap bytes to out (no NUL) and returns
 * the length the whole expansion needs, so a caller can size its buffer with a first call
 * (out NULL, cap 0).
 */
size_t evhost_expand(const char *pattern, size_t plen, const char *host, size_t hlen, char *out,
                     size_t cap);

#endif
