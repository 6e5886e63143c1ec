#include "http/status.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Phrases as registered by IANA (RFC 9110 wording), plus the WebDAV and other common ones,
 * indexed by code - 100. */
static const char *const phrases[] = {
    [100 - 100] = "Continue",
    [101 - 100] = "Switching Protocols",
    [102 - 100] = "Processing",
    [103 - 100] = "Early Hints",
    [200 - 100] = "OK",
    [201 - 100] = "Created",
    [202 - 100] = "Accepted",
    [203 - 100] = "Non-Authoritative Information",
    [204 - 100] = "No Content",
    [205 - 100] = "Reset Content",
    [206 - 100] = "Partial Content",
    [207 - 100] = "Multi-Status",
    [208 - 100] = "Already Reported",
    [226 - 100] = "IM Used",
    [300 - 100] = "Multiple Choices",
    [301 - 100] = "Moved Permanently",
    [302 - 100] = "Found",
    [303 - 100] = "See Other",
    [304 - 100] = "Not Modified",
    [305 - 100] = "Use Proxy",
    [306 - 100] = "(Unused)",
    [307 - 100] = "Temporary Redirect",
    [308 - 100] = "Permanent Redirect",
    [400 - 100] = "Bad Request",
    [401 - 100] = "Unauthorized",
    [402 - 100] = "Payment Required",
    [403 - 100] = "Forbidden",
    [404 - 100] = "Not Found",
    [405 - 100] = "Method Not Allowed",
    [406 - 100] = "Not Acceptable",
    [407 - 100] = "Proxy Authentication Required",
    [408 - 100] = "Request Timeout",
    [409 - 100] = "Conflict",
    [410 - 100] = "Gone",
    [411 - 100] = "Length Required",
    [412 - 100] = "Precondition Failed",
    [413 - 100] = "Content Too Large",
    [414 - 100] = "URI Too Long",
    [415 - 100] = "Unsupported Media Type",
    [416 - 100] = "Range Not Satisfiable",
    [417 - 100] = "Expectation Failed",
    [418 - 100] = "I'm a teapot",
    [421 - 100] = "Misdirected Request",
    [422 - 100] = "Unprocessable Content",
    [423 - 100] = "Locked",
    [424 - 100] = "Failed Dependency",
    [425 - 100] = "Too Early",
    [426 - 100] = "Upgrade Required",
    [428 - 100] = "Precondition Required",
    [429 - 100] = "Too Many Requests",
    [431 - 100] = "Request Header Fields Too Large",
    [451 - 100] = "Unavailable For Legal Reasons",
    [500 - 100] = "Internal Server Error",
    [501 - 100] = "Not Implemented",
    [502 - 100] = "Bad Gateway",
    [503 - 100] = "Service Unavailable",
    [504 - 100] = "Gateway Timeout",
    [505 - 100] = "HTTP Version Not Supported",
    [506 - 100] = "Variant Also Negotiates",
    [507 - 100] = "Insufficient Storage",
    [508 - 100] = "Loop Detected",
    [510 - 100] = "Not Extended",
    [511 - 100] = "Network Authentication Required",
};

const char *lux_status_reason(int status) {
    size_t i = (size_t)status - 100;
    if (status < 100 || i >= sizeof phrases / sizeof *phrases || !phrases[i])
        return "Unknown";
    return phrases[i];
}

size_t lux_status_page(int status, char *out, size_t cap) {
    if (cap == 0)
        return 0;
    /* The phrases hold no HTML metacharacters except the apostrophe of 418, which is harmless
     * in text content, so they go in unescaped. */
    const char *r = lux_status_reason(status);
    int n = snprintf(out, cap,
                     "<!DOCTYPE html>\n"
                     "<html lang=\"en\">\n"
                     "<head>\n"
                     "<meta charset=\"utf-8\">\n"
                     "<title>%d %s</title>\n"
                     "</head>\n"
                     "<body>\n"
                     "<h1>%d %s</h1>\n"
                     "</body>\n"
                     "</html>\n",
                     status, r, status, r);
    if (n < 0) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

#define NPHRASES (sizeof phrases / sizeof *phrases)

static struct {
    char *page;
    size_t len;
} shared_pages[NPHRASES];
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static void render_shared_pages(void) {
    char buf[512];
    for (size_t i = 0; i < NPHRASES; i++) {
        if (!phrases[i])
            continue;
        size_t n = lux_status_page((int)(i + 100), buf, sizeof buf);
        shared_pages[i].page = malloc(n + 1);
        if (shared_pages[i].page) {
            memcpy(shared_pages[i].page, buf, n + 1);
            shared_pages[i].len = n;
        }
    }
}

const char *lux_status_page_shared(int status, size_t *len) {
    size_t i = (size_t)status - 100;
    if (status < 100 || i >= NPHRASES || !phrases[i])
        return NULL;
    pthread_once(&shared_once, render_shared_pages);
    *len = shared_pages[i].len;
    return shared_pages[i].page;
}
