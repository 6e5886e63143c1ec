/* The HTML of a directory listing, built from a list of entries (no I/O here). */
#ifndef LUX_DIRLISTING_HTML_H
#define LUX_DIRLISTING_HTML_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http/mimetype.h"

typedef struct {
    const char *name; /* file name as on disk (raw bytes) */
    size_t name_len;
    int is_dir;
    uint64_t size;
    time_t mtime;
} lux_dirent;

typedef struct {
    const char *uri_path; /* decoded path of the directory, ends with '/' */
    size_t uri_path_len;
    const char *encoding;     /* dir-listing.encoding, e.g. "utf-8"; NULL for none */
    const char *external_css; /* dir-listing.external-css, NULL for the built-in style */
    const char *external_js;  /* dir-listing.external-js, or NULL */
    const char *header;       /* contents of HEADER.txt / dir-listing.show-header, or NULL */
    size_t header_len;
    const char *readme; /* contents of README.txt / dir-listing.show-readme, or NULL */
    size_t readme_len;
    int header_encode;             /* dir-listing.encode-header: HTML-escape the header */
    int readme_encode;             /* dir-listing.encode-readme */
    const char *server_tag;        /* footer text (server.tag), or NULL */
    const lux_mimetype *mimetypes; /* mimetype.assign for the Type column; NULL: built-in */
    size_t mimetypes_len;
    size_t cut_at; /* the directory has more entries than these, which are all that is listed;
                      0: the listing is complete */
} lux_dirlisting_opts;

/*
 * Sort entries (directories first, then by name, bytewise) in place and render the page.
 * Returns a malloc'd NUL-terminated string (length in *out_len), or NULL when out of memory.
 * Every name is HTML-escaped in text and percent-encoded in the href (only unreserved
 * characters stay literal). Entries named "." or ".." are skipped; a "../" row leads the table
 * unless uri_path is "/". Sizes read like "1.2K" (directories "-"), dates "2024-Jan-05
 * 13:04:59" in UTC, the Type column is "Directory" or the file's mimetype. A cut listing says
 * so below the table.
 */
char *lux_dirlisting_render(lux_dirent *entries, size_t n, const lux_dirlisting_opts *opts,
                            size_t *out_len);

#endif
