/* The WebDAV request-body parser: namespaces, text, and the refusals (DTDs, entities, limits). */
#include "mod/webdav_xml.h"

#include <stdlib.h>

#include "t.h"

static int parse(const char *s, webdav_xml_doc *d) {
    char err[128];
    return webdav_xml_parse(s, strlen(s), d, err, sizeof err);
}

static void test_propfind_namespaces(void) {
    webdav_xml_doc d;
    const char *s = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                    "<D:propfind xmlns:D=\"DAV:\" xmlns=\"urn:x\"><D:prop>"
                    "<D:getetag/><foo/><z:bar xmlns:z=\"urn:z\"/></D:prop></D:propfind>";
    CHECK_INT(parse(s, &d), 0);
    CHECK(webdav_xml_is(d.root, "DAV:", "propfind"));
    webdav_xml_node *prop = webdav_xml_child(d.root, "DAV:", "prop");
    CHECK(prop != NULL);
    CHECK(webdav_xml_child(prop, "DAV:", "getetag") != NULL);
    CHECK(webdav_xml_child(prop, "urn:x", "foo") != NULL);
    CHECK(webdav_xml_child(prop, "urn:z", "bar") != NULL);
    CHECK(webdav_xml_child(prop, "DAV:", "foo") == NULL);
    webdav_xml_free(&d);
}

static void test_text_and_references(void) {
    webdav_xml_doc d;
    CHECK_INT(parse("<a xmlns='u'>x &lt;&amp;&#65;&#x263A;<![CDATA[<b>]]><!-- c --></a>", &d), 0);
    CHECK_STR(d.root->text, "x <&A\xE2\x98\xBA<b>");
    CHECK_STR(d.root->ns, "u");
    webdav_xml_free(&d);
    CHECK_INT(parse("<a>&#0;</a>", &d), -1);
    webdav_xml_free(&d);
    CHECK_INT(parse("<a>&#xD800;</a>", &d), -1);
    webdav_xml_free(&d);
    CHECK_INT(parse("<a>&#1;</a>", &d), -1);
    webdav_xml_free(&d);
    static const char nul[] = "<a><![CDATA[x\0y]]></a>";
    CHECK_INT(webdav_xml_parse(nul, sizeof nul - 1, &d, NULL, 0), -1);
    webdav_xml_free(&d);
}

static void test_inner_kept_as_written(void) {
    webdav_xml_doc d;
    const char *s = "<r><v>one <b>two</b></v></r>";
    CHECK_INT(parse(s, &d), 0);
    webdav_xml_node *v = d.root->child;
    CHECK_INT(v->inner_len, strlen("one <b>two</b>"));
    CHECK(memcmp(v->inner, "one <b>two</b>", v->inner_len) == 0);
    webdav_xml_free(&d);
}

static void test_refuses_dtd_and_entities(void) {
    webdav_xml_doc d;
    const char *xxe =
        "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
        "<a>&x;</a>";
    CHECK_INT(parse(xxe, &d), -1);
    CHECK(d.root == NULL);
    webdav_xml_free(&d);
    CHECK_INT(parse("<a>&x;</a>", &d), -1);
    webdav_xml_free(&d);
    CHECK_INT(parse("<a><!DOCTYPE a></a>", &d), -1);
    webdav_xml_free(&d);
}

static void test_malformed(void) {
    static const char *bad[] = {
        "",
        "   ",
        "text",
        "<a>",
        "<a></b>",
        "<a><b></a></b>",
        "<p:a/>",
        "<a x=1/>",
        "<a x='1'y='2'/>",
        "<a/><b/>",
        "<a/>junk",
        "<a:/>",
        "<a xmlns:p=''/>",
        "<a>&amp</a>",
        "<a x='<'/>",
        "<1a/>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        webdav_xml_doc d;
        if (parse(bad[i], &d) != -1)
            fprintf(stderr, "  accepted: %s\n", bad[i]), t_failed_now = 1;
        webdav_xml_free(&d);
    }
}

static void test_depth_bounded(void) {
    size_t n = WEBDAV_XML_MAX_DEPTH + 2;
    char *s = malloc(n * 7 + 1), *p = s;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "<a>");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "</a>");
    webdav_xml_doc d;
    CHECK_INT(webdav_xml_parse(s, (size_t)(p - s), &d, NULL, 0), -1);
    webdav_xml_free(&d);
    free(s);
}

static void test_prefix_scope_ends_with_element(void) {
    webdav_xml_doc d;
    CHECK_INT(parse("<r><a xmlns:p='u'><p:b/></a><p:c/></r>", &d), -1);
    webdav_xml_free(&d);
}

int main(void) {
    RUN(test_propfind_namespaces);
    RUN(test_text_and_references);
    RUN(test_inner_kept_as_written);
    RUN(test_refuses_dtd_and_entities);
    RUN(test_malformed);
    RUN(test_depth_bounded);
    RUN(test_prefix_scope_ends_with_element);
    T_EXIT();
}
