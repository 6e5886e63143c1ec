#include "mod/dirlisting_html.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/uri.h"

typedef struct {
    char *p;
    size_t len, cap;
    int err;
} outbuf;

static void put(outbuf *b, const char *s, size_t n) {
    if (b->err || n == 0)
        return;
    if (n > SIZE_MAX / 2 - b->len) {
        b->err = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->err = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(outbuf *b, const char *s) {
    put(b, s, strlen(s));
}

/* NUL is never valid in HTML text (a binary README has them): it is dropped. */
static const char *const entity[256] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;", [0] = "",
};

static void put_html(outbuf *b, const char *s, size_t n) {
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = entity[(unsigned char)s[i]];
        if (!rep)
            continue;
        put(b, s + run, i - run);
        puts_(b, rep);
        run = i + 1;
    }
    put(b, s + run, n - run);
}

static void puts_html(outbuf *b, const char *s) {
    put_html(b, s, strlen(s));
}

/* Only unreserved characters (RFC 3986) and '/' stay literal (lux_uri_encode_path): a name can
 * then never turn the relative link into a scheme ("javascript:") or a query. */
static void put_url(outbuf *b, const char *s, size_t n) {
    char enc[3 * 256 + 1];
    for (size_t i = 0; i < n; i += 256) {
        size_t k = n - i < 256 ? n - i : 256;
        put(b, enc, lux_uri_encode_path(s + i, k, enc));
    }
}

/*
 * "1.2K": the smallest unit from K up that keeps the integer part under 1000, one decimal,
 * truncated. A non-empty file never shows as "0.0K".
 */
static void format_size(char *out, size_t cap, uint64_t size) {
    static const char units[] = "KMGTPE";
    int u = 1;
    while (u < 6 && (size >> (10 * u)) >= 1000)
        u++;
    uint64_t whole = size >> (10 * u);
    uint64_t frac = size & ((UINT64_C(1) << (10 * u)) - 1);
    unsigned tenth = (unsigned)((frac * 10) >> (10 * u));
    if (whole == 0 && tenth == 0 && size > 0)
        tenth = 1;
    snprintf(out, cap, "%llu.%u%c", (unsigned long long)whole, tenth, units[u - 1]);
}

static void format_mtime(char *out, size_t cap, time_t t) {
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, cap, "-");
        return;
    }
    snprintf(out, cap, "%04d-%s-%02d %02d:%02d:%02d", tm.tm_year + 1900, months[tm.tm_mon],
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int cmp_dirent(const void *a, const void *b) {
    const lux_dirent *x = a, *y = b;
    if (!x->is_dir != !y->is_dir)
        return x->is_dir ? -1 : 1;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static const char style[] =
    "<style>\n"
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222;background:#fff}\n"
    "h1{font-size:1.4em;font-weight:normal;word-break:break-all}\n"
    "table{border-collapse:collapse}\n"
    "th,td{padding:.2em 1.5em .2em 0;text-align:left;white-space:nowrap}\n"
    "th{border-bottom:1px solid #ccc}\n"
    "th.s,td.s{text-align:right}\n"
    "tbody tr:hover{background:#f2f5f9}\n"
    "a{color:#0645ad;text-decoration:none}\n"
    "a:hover{text-decoration:underline}\n"
    "pre{white-space:pre-wrap}\n"
    ".foot{margin-top:1em;color:#777;font-size:.9em}\n"
    "</style>\n";

static void render_head(outbuf *b, const lux_dirlisting_opts *o) {
    puts_(b, "<!DOCTYPE html>\n<html>\n<head>\n");
    if (o->encoding) {
        puts_(b, "<meta charset=\"");
        puts_html(b, o->encoding);
        puts_(b, "\">\n");
    }
    puts_(b, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    puts_(b, "<title>Index of ");
    put_html(b, o->uri_path, o->uri_path_len);
    puts_(b, "</title>\n");
    if (o->external_css) {
        puts_(b, "<link rel=\"stylesheet\" type=\"text/css\" href=\"");
        puts_html(b, o->external_css);
        puts_(b, "\">\n");
    } else {
        puts_(b, style);
    }
    puts_(b, "</head>\n<body>\n<h1>Index of ");
    put_html(b, o->uri_path, o->uri_path_len);
    puts_(b, "</h1>\n");
}

/* HEADER.txt / README.txt: verbatim HTML, or escaped text in a <pre>. */
static void render_block(outbuf *b, const char *cls, const char *s, size_t n, int encode) {
    if (!s)
        return;
    if (!encode) {
        put(b, s, n);
        puts_(b, "\n");
        return;
    }
    puts_(b, "<pre class=\"");
    puts_(b, cls);
    puts_(b, "\">");
    put_html(b, s, n);
    puts_(b, "</pre>\n");
}

static void render_row(outbuf *b, const lux_dirent *e, const lux_dirlisting_opts *o) {
    char when[64], size[32];
    const char *slash = e->is_dir ? "/" : "";
    format_mtime(when, sizeof when, e->mtime);
    puts_(b, e->is_dir ? "<tr class=\"d\">" : "<tr>");
    puts_(b, "<td class=\"n\"><a href=\"");
    put_url(b, e->name, e->name_len);
    puts_(b, slash);
    puts_(b, "\">");
    put_html(b, e->name, e->name_len);
    puts_(b, "</a>"); /* the slash marks a directory without becoming part of its name */
    puts_(b, slash);
    puts_(b, "</td><td class=\"m\">");
    puts_(b, when);
    puts_(b, "</td><td class=\"s\">");
    if (e->is_dir) {
        puts_(b, "-</td><td class=\"t\">Directory</td></tr>\n");
        return;
    }
    format_size(size, sizeof size, e->size);
    puts_(b, size);
    puts_(b, "</td><td class=\"t\">");
    const lux_mimetype *table = o->mimetypes ? o->mimetypes : lux_mimetype_defaults;
    size_t table_len = o->mimetypes ? o->mimetypes_len : lux_mimetype_defaults_len;
    const char *type = lux_mimetype_lookup(table, table_len, e->name, e->name_len);
    puts_html(b, type ? type : "application/octet-stream");
    puts_(b, "</td></tr>\n");
}

static int is_dot_or_dotdot(const lux_dirent *e) {
    return (e->name_len == 1 && e->name[0] == '.') ||
           (e->name_len == 2 && e->name[0] == '.' && e->name[1] == '.');
}

char *lux_dirlisting_render(lux_dirent *entries, size_t n, const lux_dirlisting_opts *opts,
                            size_t *out_len) {
    /* about what a row takes, so the page is rarely moved while it grows */
    outbuf b = {.cap = 4096 + (n < SIZE_MAX / 512 ? n : 0) * 256};
    b.p = malloc(b.cap);
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    if (n > 1)
        qsort(entries, n, sizeof *entries, cmp_dirent);

    render_head(&b, opts);
    render_block(&b, "header", opts->header, opts->header_len, opts->header_encode);
    puts_(&b, "<div class=\"list\">\n<table>\n<thead><tr><th class=\"n\">Name</th>"
              "<th class=\"m\">Last Modified</th><th class=\"s\">Size</th>"
              "<th class=\"t\">Type</th></tr></thead>\n<tbody>\n");
    if (opts->uri_path_len > 1)
        puts_(&b, "<tr class=\"d\"><td class=\"n\"><a href=\"../\">../</a></td>"
                  "<td class=\"m\"></td><td class=\"s\">-</td>"
                  "<td class=\"t\">Directory</td></tr>\n");
    for (size_t i = 0; i < n; i++)
        if (!is_dot_or_dotdot(&entries[i]))
            render_row(&b, &entries[i], opts);
    puts_(&b, "</tbody>\n</table>\n</div>\n");
    if (opts->cut_at) {
        char note[128];
        snprintf(note, sizeof note,
                 "<p class=\"cut\">This directory has more than %zu entries; only %zu are "
                 "listed.</p>\n",
                 opts->cut_at, opts->cut_at);
        puts_(&b, note);
    }
    render_block(&b, "readme", opts->readme, opts->readme_len, opts->readme_encode);
    if (opts->server_tag && opts->server_tag[0]) {
        puts_(&b, "<div class=\"foot\">");
        puts_html(&b, opts->server_tag);
        puts_(&b, "</div>\n");
    }
    if (opts->external_js) {
        puts_(&b, "<script src=\"");
        puts_html(&b, opts->external_js);
        puts_(&b, "\"></script>\n");
    }
    puts_(&b, "</body>\n</html>\n");
    if (b.err) {
        free(b.p);
        return NULL;
    }
    if (out_len)
        *out_len = b.len;
    return b.p;
}
