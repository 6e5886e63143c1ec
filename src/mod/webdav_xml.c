/*
 * The WebDAV request-body parser: a recursive descent over one buffer (depth bounded), with
 * nodes and decoded strings in one allocation sized from the input, so that no body can make
 * it allocate more than a small multiple of its own length.
 */
#include "mod/webdav_xml.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *prefix; /* NULL: the default namespace */
    size_t prefix_len;
    const char *uri;
} ns_decl;

typedef struct {
    const char *s, *end;
    char *strs; /* bump area for decoded strings */
    size_t strs_used, strs_cap;
    webdav_xml_node *nodes;
    size_t nnodes, nodes_cap;
    ns_decl ns[WEBDAV_XML_MAX_NS];
    size_t nns;
    char *err;
    size_t errlen;
} parser;

static int fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *p, const char *fmt, ...) {
    if (p->err && p->errlen && !p->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
static int is_name_char(unsigned char c) {
    return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == ':';
}

static void skip_space(parser *p) {
    while (p->s < p->end && is_space(*p->s))
        p->s++;
}

static int starts(const parser *p, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)(p->end - p->s) >= n && memcmp(p->s, lit, n) == 0;
}

/* Skip to just past the literal `term`; -1 when the input ends first. */
static int skip_past(parser *p, const char *term) {
    size_t n = strlen(term);
    for (; (size_t)(p->end - p->s) >= n; p->s++)
        if (memcmp(p->s, term, n) == 0) {
            p->s += n;
            return 0;
        }
    return fail(p, "unterminated %s", term);
}

static char *str_alloc(parser *p, size_t n) {
    if (p->strs_cap - p->strs_used < n + 1)
        return NULL;
    char *s = p->strs + p->strs_used;
    p->strs_used += n + 1;
    return s;
}

/* Encode code point cp as UTF-8 into out; returns bytes written, 0 when not a valid char. */
static size_t utf8_put(unsigned long cp, char *out) {
    if ((cp < 0x20 && cp != '\t' && cp != '\r' && cp != '\n') || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp > 0x10FFFF)
        return 0;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* One reference at s ("&...;", at most end): its decoding into out (≤ 4 bytes), its length in
 * *used. Only the predefined entities and character references exist here. */
static size_t decode_ref(parser *p, const char *s, const char *end, char *out, size_t *used) {
    static const struct {
        const char *name;
        char c;
    } predefined[] = {{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"apos;", '\''}, {"quot;", '"'}};
    const char *semi = memchr(s, ';', (size_t)(end - s) < 12 ? (size_t)(end - s) : 12);
    if (!semi)
        return fail(p, "bad reference"), 0;
    *used = (size_t)(semi - s) + 1;
    if (s[1] == '#') {
        const char *d = s + 2;
        int hex = d < semi && *d == 'x';
        d += hex;
        if (d == semi)
            return fail(p, "bad character reference"), 0;
        unsigned long cp = 0;
        for (; d < semi; d++) {
            int v = *d >= '0' && *d <= '9'          ? *d - '0'
                    : hex && *d >= 'a' && *d <= 'f' ? *d - 'a' + 10
                    : hex && *d >= 'A' && *d <= 'F' ? *d - 'A' + 10
                                                    : -1;
            if (v < 0)
                return fail(p, "bad character reference"), 0;
            cp = cp * (hex ? 16 : 10) + (unsigned long)v;
            if (cp > 0x10FFFF)
                return fail(p, "bad character reference"), 0;
        }
        size_t n = utf8_put(cp, out);
        return n ? n : (fail(p, "bad character reference"), 0);
    }
    for (size_t i = 0; i < sizeof predefined / sizeof predefined[0]; i++)
        if ((size_t)(semi - s) == strlen(predefined[i].name) &&
            memcmp(s + 1, predefined[i].name, *used - 1) == 0) {
            out[0] = predefined[i].c;
            return 1;
        }
    return fail(p, "undeclared entity"), 0;
}

/* Decode character data s..end (references, CDATA sections; markup skipped) into a new string. */
static char *decode_text(parser *p, const char *s, const char *end, size_t *outlen) {
    char *out = str_alloc(p, (size_t)(end - s));
    if (!out)
        return fail(p, "out of space"), NULL;
    size_t n = 0;
    while (s < end) {
        if (*s == '&') {
            size_t used;
            size_t k = decode_ref(p, s, end, out + n, &used);
            if (!k)
                return NULL;
            n += k;
            s += used;
        } else if ((size_t)(end - s) >= 9 && memcmp(s, "<![CDATA[", 9) == 0) {
            const char *c = s + 9;
            while (c + 3 <= end && memcmp(c, "]]>", 3) != 0)
                out[n++] = *c++;
            s = c + 3;
        } else if (*s == '<') { /* a comment or processing instruction: not text */
            const char *term = s[1] == '!' ? "-->" : "?>";
            size_t tl = strlen(term);
            while (s + tl <= end && memcmp(s, term, tl) != 0)
                s++;
            s += tl;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    *outlen = n;
    return out;
}

static int parse_name(parser *p, const char **name, size_t *len) {
    const char *start = p->s;
    while (p->s < p->end && is_name_char((unsigned char)*p->s))
        p->s++;
    if (p->s == start || *start == ':' || (*start >= '0' && *start <= '9') || *start == '-' ||
        *start == '.')
        return fail(p, "bad name");
    *name = start;
    *len = (size_t)(p->s - start);
    return 0;
}

/* The namespace bound to prefix (NULL/0: the default one), innermost first. */
static const char *ns_lookup(const parser *p, const char *prefix, size_t len) {
    for (size_t i = p->nns; i-- > 0;) {
        const ns_decl *d = &p->ns[i];
        if (!prefix ? !d->prefix
                    : d->prefix && d->prefix_len == len && !memcmp(d->prefix, prefix, len))
            return d->uri;
    }
    if (prefix && len == 3 && memcmp(prefix, "xml", 3) == 0)
        return "http://www.w3.org/XML/1998/namespace";
    return prefix ? NULL : "";
}

/* Attributes of a start tag: namespace declarations are kept, the rest only checked. */
static int parse_attributes(parser *p) {
    for (;;) {
        const char *before = p->s;
        skip_space(p);
        if (p->s >= p->end)
            return fail(p, "unterminated tag");
        if (*p->s == '>' || *p->s == '/')
            return 0;
        if (p->s == before)
            return fail(p, "attributes need white space between them");
        const char *name;
        size_t nlen;
        if (parse_name(p, &name, &nlen) < 0)
            return -1;
        skip_space(p);
        if (p->s >= p->end || *p->s != '=')
            return fail(p, "attribute without a value");
        p->s++;
        skip_space(p);
        if (p->s >= p->end || (*p->s != '"' && *p->s != '\''))
            return fail(p, "attribute value without quotes");
        char q = *p->s++;
        const char *v = p->s;
        while (p->s < p->end && *p->s != q && *p->s != '<')
            p->s++;
        if (p->s >= p->end || *p->s != q)
            return fail(p, "bad attribute value");
        const char *vend = p->s++;
        size_t vlen;
        char *value = decode_text(p, v, vend, &vlen);
        if (!value)
            return -1;
        int is_default = nlen == 5 && memcmp(name, "xmlns", 5) == 0;
        if (!is_default && !(nlen > 6 && memcmp(name, "xmlns:", 6) == 0))
            continue;
        if (p->nns == WEBDAV_XML_MAX_NS)
            return fail(p, "too many namespace declarations");
        if (!is_default && vlen == 0)
            return fail(p, "empty namespace for a prefix");
        p->ns[p->nns++] = (ns_decl){is_default ? NULL : name + 6, is_default ? 0 : nlen - 6, value};
    }
}

/* Resolve a qualified name into the node's namespace and local name. */
static int resolve(parser *p, webdav_xml_node *n, const char *qname, size_t len) {
    const char *colon = memchr(qname, ':', len);
    const char *local = colon ? colon + 1 : qname;
    size_t llen = len - (size_t)(local - qname);
    if (colon && (llen == 0 || memchr(local, ':', llen)))
        return fail(p, "bad qualified name");
    n->ns = ns_lookup(p, colon ? qname : NULL, colon ? (size_t)(colon - qname) : 0);
    if (!n->ns)
        return fail(p, "undeclared prefix");
    char *s = str_alloc(p, llen);
    if (!s)
        return fail(p, "out of space");
    memcpy(s, local, llen);
    s[llen] = '\0';
    n->name = s;
    return 0;
}

static int parse_element(parser *p, webdav_xml_node *parent, int depth, webdav_xml_node **out);

/* Misc between markup: comments and processing instructions; DOCTYPE is refused. */
static int skip_misc(parser *p) {
    if (starts(p, "<!--")) {
        p->s += 4;
        return skip_past(p, "-->");
    }
    if (starts(p, "<?")) {
        p->s += 2;
        return skip_past(p, "?>");
    }
    if (starts(p, "<!"))
        return fail(p, "DOCTYPE and declarations are refused");
    return 1;
}

/* The content of an element up to and including its end tag. */
static int parse_content(parser *p, webdav_xml_node *n, const char *qname, size_t qlen, int depth) {
    webdav_xml_node **tail = &n->child;
    n->inner = p->s;
    for (;;) {
        while (p->s < p->end && *p->s != '<') {
            if (*p->s == '&') {
                char tmp[4];
                size_t used;
                if (!decode_ref(p, p->s, p->end, tmp, &used))
                    return -1;
                p->s += used;
            } else {
                p->s++;
            }
        }
        if (p->s >= p->end)
            return fail(p, "unterminated element");
        if (starts(p, "</")) {
            n->inner_len = (size_t)(p->s - n->inner);
            p->s += 2;
            if ((size_t)(p->end - p->s) < qlen || memcmp(p->s, qname, qlen) != 0)
                return fail(p, "mismatched end tag");
            p->s += qlen;
            skip_space(p);
            if (p->s >= p->end || *p->s != '>')
                return fail(p, "mismatched end tag");
            p->s++;
            if (!n->child) {
                n->text = decode_text(p, n->inner, n->inner + n->inner_len, &n->text_len);
                if (!n->text)
                    return -1;
            }
            return 0;
        }
        if (starts(p, "<![CDATA[")) {
            p->s += 9;
            if (skip_past(p, "]]>") < 0)
                return -1;
            continue;
        }
        int m = skip_misc(p);
        if (m < 0)
            return -1;
        if (m == 0)
            continue;
        if (parse_element(p, n, depth + 1, tail) < 0)
            return -1;
        tail = &(*tail)->next;
    }
}

/* One element at p->s ('<'), stored in *out. */
static int parse_element(parser *p, webdav_xml_node *parent, int depth, webdav_xml_node **out) {
    if (depth > WEBDAV_XML_MAX_DEPTH)
        return fail(p, "nested too deeply");
    if (p->nnodes == p->nodes_cap)
        return fail(p, "too many elements");
    size_t idx = p->nnodes++;
    webdav_xml_node *n = &p->nodes[idx];
    memset(n, 0, sizeof *n);
    *out = n;
    n->parent = parent;
    p->s++; /* '<' */
    const char *qname;
    size_t qlen;
    if (parse_name(p, &qname, &qlen) < 0)
        return -1;
    size_t ns_mark = p->nns;
    if (parse_attributes(p) < 0 || resolve(p, n, qname, qlen) < 0)
        return -1;
    int rc;
    if (*p->s == '/') {
        if (p->s + 1 >= p->end || p->s[1] != '>')
            return fail(p, "bad empty-element tag");
        p->s += 2;
        n->inner = p->s;
        n->text = str_alloc(p, 0);
        if (!n->text)
            return fail(p, "out of space");
        n->text[0] = '\0';
        rc = 0;
    } else {
        p->s++; /* '>' */
        rc = parse_content(p, n, qname, qlen, depth);
    }
    p->nns = ns_mark;
    return rc;
}

/* XML 1.0 characters exclude NUL and the C0 controls but tab, CR and LF (also as references,
 * which decode_ref refuses): a NUL would cut the decoded strings short. */
static int has_forbidden_control(const char *buf, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < 0x20 && c != '\t' && c != '\r' && c != '\n')
            return 1;
    }
    return 0;
}

int webdav_xml_parse(const char *buf, size_t len, webdav_xml_doc *doc, char *err, size_t errlen) {
    doc->root = NULL;
    doc->mem = NULL;
    if (err && errlen)
        err[0] = '\0';
    parser p = {.s = buf, .end = buf + len, .err = err, .errlen = errlen};
    /* Every element takes at least four bytes ("<a/>"); decoded strings never outgrow the
     * input, and each element adds at most its name's NUL and an empty text. */
    p.nodes_cap = len / 4 + 1;
    if (p.nodes_cap > WEBDAV_XML_MAX_NODES)
        p.nodes_cap = WEBDAV_XML_MAX_NODES;
    p.strs_cap = 2 * len + 2 * p.nodes_cap + 16;
    doc->mem = malloc(p.nodes_cap * sizeof(webdav_xml_node) + p.strs_cap);
    if (!doc->mem)
        return fail(&p, "out of memory");
    p.nodes = (webdav_xml_node *)(void *)doc->mem;
    p.strs = doc->mem + p.nodes_cap * sizeof(webdav_xml_node);
    if (has_forbidden_control(buf, len))
        return fail(&p, "control character");
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        p.s += 3; /* a UTF-8 byte order mark */
    for (;;) {
        skip_space(&p);
        if (p.s >= p.end)
            return fail(&p, "no root element");
        int m = skip_misc(&p);
        if (m < 0)
            return -1;
        if (m == 1)
            break;
    }
    if (*p.s != '<' || parse_element(&p, NULL, 0, &doc->root) < 0)
        return doc->root = NULL, fail(&p, "not XML");
    for (;;) {
        skip_space(&p);
        if (p.s >= p.end)
            return 0;
        int m = skip_misc(&p);
        if (m != 0)
            return doc->root = NULL, fail(&p, "content after the root element");
    }
}

void webdav_xml_free(webdav_xml_doc *doc) {
    free(doc->mem);
    doc->mem = NULL;
    doc->root = NULL;
}

int webdav_xml_is(const webdav_xml_node *n, const char *ns, const char *name) {
    return n && strcmp(n->ns, ns) == 0 && strcmp(n->name, name) == 0;
}

webdav_xml_node *webdav_xml_child(const webdav_xml_node *n, const char *ns, const char *name) {
    for (webdav_xml_node *c = n ? n->child : NULL; c; c = c->next)
        if (webdav_xml_is(c, ns, name))
            return c;
    return NULL;
}
