/*
 * A small, bounded, non-validating XML parser for WebDAV request bodies (PROPFIND, PROPPATCH,
 * LOCK). It knows namespaces, the five predefined entities, character references and CDATA,
 * and refuses what WebDAV bodies never need: a DOCTYPE (and so any DTD or entity declaration,
 * the door to XXE and entity expansion) and references to undeclared entities. Pure: bytes in,
 * a tree out, no I/O; the tree lives in one allocation bounded by the limits below.
 */
#ifndef LUX_WEBDAV_XML_H
#define LUX_WEBDAV_XML_H

#include <stddef.h>

#define WEBDAV_XML_MAX_NODES 4096
#define WEBDAV_XML_MAX_DEPTH 64
#define WEBDAV_XML_MAX_NS 256 /* namespace declarations in scope at once */

typedef struct webdav_xml_node webdav_xml_node;
struct webdav_xml_node {
    const char *ns;   /* namespace name ("DAV:"), "" when none; NUL-terminated */
    const char *name; /* local name; NUL-terminated */
    char *text;       /* the element's own character data, entities decoded; NUL-terminated */
    size_t text_len;
    const char *inner; /* the element's content as written (between its tags), into the input */
    size_t inner_len;
    webdav_xml_node *parent, *child, *next;
};

typedef struct {
    webdav_xml_node *root;
    char *mem; /* the one allocation holding nodes and strings */
} webdav_xml_doc;

/*
 * Parse len bytes into doc. Returns 0, or -1 with a short reason in err: malformed XML, a
 * DOCTYPE, an unknown entity, an undeclared prefix, or a limit exceeded. doc must be released
 * with webdav_xml_free either way. The input must outlive the tree (inner points into it).
 */
int webdav_xml_parse(const char *buf, size_t len, webdav_xml_doc *doc, char *err, size_t errlen);
void webdav_xml_free(webdav_xml_doc *doc);

/* The first child of n in namespace ns with local name name, or NULL. */
webdav_xml_node *webdav_xml_child(const webdav_xml_node *n, const char *ns, const char *name);
/* Is n the element ns:name? */
int webdav_xml_is(const webdav_xml_node *n, const char *ns, const char *name);

#endif
