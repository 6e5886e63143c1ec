/*
 * WebDAV request-body XML fuzzing: any input either parses into a tree whose every node lies
 * inside the input's bounds and nesting limit, or is refused; never a crash or a leak.
 */
#include "mod/webdav_xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t walk(const webdav_xml_node *n, const char *buf, size_t len, int depth) {
    size_t count = 0;
    for (; n; n = n->next) {
        if (depth > WEBDAV_XML_MAX_DEPTH || !n->ns || !n->name)
            abort();
        if (n->inner < buf || n->inner + n->inner_len > buf + len)
            abort();
        if (n->text && strlen(n->text) != n->text_len)
            abort();
        count += 1 + walk(n->child, buf, len, depth + 1);
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    webdav_xml_doc d;
    char err[64];
    int rc = webdav_xml_parse((const char *)data, size, &d, err, sizeof err);
    if (rc == 0 && walk(d.root, (const char *)data, size, 0) > WEBDAV_XML_MAX_NODES)
        abort();
    if (rc != 0 && d.root)
        abort();
    webdav_xml_free(&d);
    return 0;
}
