#include "http/mimetype.h"

#include <string.h>

static unsigned char ascii_lower(unsigned char c) {
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* ASCII case-insensitive equality of n bytes (file names are bytes, not locale text). */
static int equal_icase(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* How well suffix suf matches the end of name: 0 not at all, else 2 * length (+1 when exact),
 * so a longer suffix always wins and an exact one beats one matching in another case. */
static size_t match_score(const char *suf, const char *name, size_t len) {
    size_t sl = strlen(suf);
    if (sl > len)
        return 0;
    /* Most suffixes of a table differ from the name in their last byte: look at it first. */
    if (sl && ascii_lower((unsigned char)suf[sl - 1]) != ascii_lower((unsigned char)name[len - 1]))
        return 0;
    const char *tail = name + len - sl;
    if (memcmp(tail, suf, sl) == 0)
        return 2 * sl + 2;
    return equal_icase(tail, suf, sl) ? 2 * sl + 1 : 0;
}

const char *lux_mimetype_lookup(const lux_mimetype *table, size_t n, const char *name, size_t len) {
    const char *best = NULL;
    size_t best_score = 0;
    for (size_t i = 0; i < n; i++) {
        size_t score = match_score(table[i].suffix, name, len);
        if (score > best_score) {
            best = table[i].type;
            best_score = score;
        }
    }
    return best;
}

const char *lux_mimetype_assigned(const char *suffix, const char *type) {
    /* RFC 9239 made text/javascript the type of JavaScript; lighttpd 1.4.69 rewrites the
     * older name when a configuration (often generated from /etc/mime.types) assigns it to
     * ".js", and only then. */
    if (strlen(suffix) == 3 && equal_icase(suffix, ".js", 3) &&
        strcmp(type, "application/javascript") == 0)
        return "text/javascript";
    return type;
}

#define UTF8 "; charset=utf-8"

const lux_mimetype lux_mimetype_defaults[] = {
    /* text */
    {".html", "text/html" UTF8},
    {".htm", "text/html" UTF8},
    {".shtml", "text/html" UTF8},
    {".css", "text/css" UTF8},
    {".js", "text/javascript" UTF8},
    {".mjs", "text/javascript" UTF8},
    {".txt", "text/plain" UTF8},
    {".text", "text/plain" UTF8},
    {".log", "text/plain" UTF8},
    {".conf", "text/plain" UTF8},
    {".c", "text/plain" UTF8},
    {".h", "text/plain" UTF8},
    {".md", "text/markdown" UTF8},
    {".csv", "text/csv" UTF8},
    {".tsv", "text/tab-separated-values" UTF8},
    {".ics", "text/calendar" UTF8},
    {".vtt", "text/vtt" UTF8},
    {".xml", "text/xml" UTF8},
    {".xsl", "text/xml" UTF8},
    {".dtd", "text/xml" UTF8},
    /* structured data and applications */
    {".json", "application/json"},
    {".map", "application/json"},
    {".jsonld", "application/ld+json"},
    {".webmanifest", "application/manifest+json"},
    {".xhtml", "application/xhtml+xml"},
    {".atom", "application/atom+xml"},
    {".rss", "application/rss+xml"},
    {".wasm", "application/wasm"},
    {".pdf", "application/pdf"},
    {".ps", "application/postscript"},
    {".rtf", "application/rtf"},
    {".epub", "application/epub+zip"},
    {".doc", "application/msword"},
    {".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {".xls", "application/vnd.ms-excel"},
    {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {".ppt", "application/vnd.ms-powerpoint"},
    {".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {".odt", "application/vnd.oasis.opendocument.text"},
    {".ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {".odp", "application/vnd.oasis.opendocument.presentation"},
    /* archives */
    {".zip", "application/zip"},
    {".gz", "application/gzip"},
    {".tgz", "application/gzip"},
    {".tar", "application/x-tar"},
    {".bz2", "application/x-bzip2"},
    {".xz", "application/x-xz"},
    {".zst", "application/zstd"},
    {".7z", "application/x-7z-compressed"},
    {".rar", "application/vnd.rar"},
    {".jar", "application/java-archive"},
    {".deb", "application/vnd.debian.binary-package"},
    {".rpm", "application/x-rpm"},
    {".iso", "application/x-iso9660-image"},
    {".bin", "application/octet-stream"},
    {".exe", "application/octet-stream"},
    /* images */
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".webp", "image/webp"},
    {".avif", "image/avif"},
    {".svg", "image/svg+xml"},
    {".svgz", "image/svg+xml"},
    {".ico", "image/vnd.microsoft.icon"},
    {".bmp", "image/bmp"},
    {".tif", "image/tiff"},
    {".tiff", "image/tiff"},
    {".apng", "image/apng"},
    {".jxl", "image/jxl"},
    /* fonts */
    {".woff", "font/woff"},
    {".woff2", "font/woff2"},
    {".ttf", "font/ttf"},
    {".otf", "font/otf"},
    {".eot", "application/vnd.ms-fontobject"},
    /* audio and video */
    {".mp3", "audio/mpeg"},
    {".m4a", "audio/mp4"},
    {".aac", "audio/aac"},
    {".flac", "audio/flac"},
    {".oga", "audio/ogg"},
    {".ogg", "audio/ogg"},
    {".opus", "audio/ogg"},
    {".wav", "audio/wav"},
    {".mid", "audio/midi"},
    {".midi", "audio/midi"},
    {".mp4", "video/mp4"},
    {".m4v", "video/mp4"},
    {".webm", "video/webm"},
    {".ogv", "video/ogg"},
    {".mov", "video/quicktime"},
    {".avi", "video/x-msvideo"},
    {".mkv", "video/x-matroska"},
    {".mpeg", "video/mpeg"},
    {".mpg", "video/mpeg"},
    /* everything else */
    {"", "application/octet-stream"},
};

const size_t lux_mimetype_defaults_len =
    sizeof lux_mimetype_defaults / sizeof *lux_mimetype_defaults;
