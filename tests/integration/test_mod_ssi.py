"""mod_ssi: server-side includes. Expectations were checked against lighttpd 1.4.69's mod_ssi;
what lux does differently (regex in #if, echo encodings, QUERY_STRING_UNESCAPED, errmsg, stricter
file= paths, exec refused by default, bounded pages) is marked lux_only."""

import os
import time

import harness
from harness import Server, check, contains, eq, get, lux_only, write_file

MODS = 'server.modules += ("mod_ssi")\nssi.extension = (".shtml")\n'


def page(s, path, **kw):
    r = get(s.port, path, **kw)
    eq(r.status, 200, f"status of {path}")
    return r.text()


def serve(body, extra="", files=None):
    fs = {"p.shtml": body, "inc.txt": "inc\n"}
    fs.update(files or {})
    return Server(MODS + extra, files=fs)


def test_echo_document_variables():
    with serve('<!--#echo var="DOCUMENT_NAME" -->|<!--#echo var="DOCUMENT_URI" -->|'
               '<!--#echo var="NO_SUCH" -->|<!--#echo var="QUERY_STRING" -->',
               files={"d/q.shtml": '<!--#echo var="DOCUMENT_URI" -->'}) as s:
        eq(page(s, "/p.shtml?a=1"), "p.shtml|/p.shtml|(none)|a=1", "page")
        eq(page(s, "/d/q.shtml"), "/d/q.shtml", "in a directory")


def test_echo_cgi_variables():
    with serve('<!--#echo var="REQUEST_METHOD" -->|<!--#echo var="SCRIPT_NAME" -->|'
               '<!--#echo var="REMOTE_ADDR" -->|<!--#echo var="SERVER_PROTOCOL" -->|'
               '<!--#echo var="HTTP_X_TEST" -->|<!--#echo var="GATEWAY_INTERFACE" -->') as s:
        eq(page(s, "/p.shtml", headers={"X-Test": "v1"}),
           "GET|/p.shtml|127.0.0.1|HTTP/1.1|v1|CGI/1.1", "page")


def test_include_file_and_virtual():
    files = {"sub/part.txt": "part\n", "sub/x.shtml": '<!--#include virtual="../inc.txt" -->'}
    with serve('[<!--#include file="inc.txt" -->][<!--#include virtual="/sub/part.txt" -->]'
               '[<!--#include file="sub/part.txt" -->]', files=files) as s:
        eq(page(s, "/p.shtml"), "[inc\n][part\n][part\n]", "page")
        eq(page(s, "/sub/x.shtml"), "inc\n", "virtual relative to the document's URL")


def test_nested_includes_need_recursion_max():
    files = {"b.shtml": 'B<!--#echo var="DOCUMENT_URI" -->'}
    body = '<!--#include virtual="/b.shtml" -->'
    with serve(body, files=files) as s:
        eq(page(s, "/p.shtml"), 'B<!--#echo var="DOCUMENT_URI" -->', "default: included as text")
    with serve(body, extra="ssi.recursion-max = 2\n", files=files) as s:
        eq(page(s, "/p.shtml"), "B/b.shtml", "processed with ssi.recursion-max")


def test_recursion_limit():
    body = 'p<!--#include virtual="/q.shtml" -->'
    files = {"q.shtml": 'q<!--#include virtual="/p.shtml" -->'}
    with serve(body, extra="ssi.recursion-max = 3\n", files=files) as s:
        eq(page(s, "/p.shtml"),
           "pqpq(error: include directives recurse deeper than pre-defined ssi.recursion-max)",
           "page")


def test_page_including_itself():
    with serve('x<!--#include virtual="/p.shtml" -->', extra="ssi.recursion-max = 3\n") as s:
        eq(page(s, "/p.shtml"), "x(error: include directives create an infinite loop)", "page")


def test_hostile_virtual_paths_stay_in_the_document_root():
    with serve('[<!--#include virtual="/../../secret.txt" -->]'
               '[<!--#include virtual="../secret.txt" -->]'
               '[<!--#include virtual="/%2e%2e/secret.txt" -->]') as s:
        write_file(os.path.join(s.tmp, "secret.txt"), "SECRET\n")
        write_file(s.path("secret.txt"), "inside\n")
        eq(page(s, "/p.shtml"), "[inside\n][inside\n][inside\n]", "page")


@lux_only("lighttpd 1.4.69 keeps only the last segment of file=; lux refuses climbing paths")
def test_hostile_file_paths_are_refused():
    with serve('[<!--#include file="../secret.txt" -->][<!--#include file="/etc/hostname" -->]'
               '[<!--#fsize file="a/../../secret.txt" -->]') as s:
        write_file(os.path.join(s.tmp, "secret.txt"), "SECRET\n")
        write_file(s.path("secret.txt"), "inside\n")
        eq(page(s, "/p.shtml"), "[][][]", "page")
        harness.poll(lambda: "file= must name a file below" in s.errorlog, what="error log")


def test_fsize_flastmod_config():
    with serve('<!--#fsize file="big.bin" -->|<!--#config sizefmt="abbrev" -->'
               '<!--#fsize file="big.bin" -->|<!--#fsize virtual="/inc.txt" -->|'
               '<!--#config timefmt="%Y-%m-%d" --><!--#flastmod file="inc.txt" -->',
               files={"big.bin": "x" * 5000}) as s:
        os.utime(s.path("inc.txt"), (86400 * 365, 86400 * 365))
        got = page(s, "/p.shtml")
        eq(got, "5000|4 kB|4 B|" + time.strftime("%Y-%m-%d", time.localtime(86400 * 365)),
           "page")


def test_set_and_conditionals():
    body = ('<!--#set var="V" value="hello" --><!--#echo var="V" -->|'
            '<!--#if expr="$V = hello" -->a<!--#else -->b<!--#endif -->|'
            '<!--#if expr="$V != hello" -->a<!--#elif expr="$V = \'hello\'" -->c'
            '<!--#else -->b<!--#endif -->|'
            '<!--#if expr="($V = x) || !(b < a) && a" -->d<!--#endif -->|'
            '<!--#if expr="" -->e<!--#else -->f<!--#endif -->|'
            '<!--#if expr="2 < 10" -->g<!--#else -->h<!--#endif -->|'
            '<!--#if expr="a" --><!--#if expr="" -->i<!--#else -->j<!--#endif -->'
            '<!--#else -->k<!--#endif -->')
    with serve(body) as s:
        eq(page(s, "/p.shtml"), "hello|a|c|d|f|h|j", "page")


@lux_only("lighttpd 1.4.69 does not match /regex/ in #if")
def test_regex_conditionals():
    with serve('<!--#if expr="$QUERY_STRING = /^id=[0-9]+$/" -->num<!--#else -->other'
               '<!--#endif -->') as s:
        eq(page(s, "/p.shtml?id=42"), "num", "matches")
        eq(page(s, "/p.shtml?id=x"), "other", "does not match")


def test_printenv_encodes_values():
    with serve('<!--#set var="Z" value="<z>" --><!--#printenv -->') as s:
        got = page(s, "/p.shtml", headers={"X-T": "<b>"})
        contains(got, "Z=&#x3C;z&#x3E;\n", "set variable")
        contains(got, "HTTP_X_T=&#x3C;b&#x3E;\n", "request header")
        contains(got, "REQUEST_METHOD=GET\n", "CGI variable")


@lux_only("lighttpd 1.4.69 ignores echo's encoding=")
def test_echo_encodings():
    with serve('<!--#echo encoding="entity" var="HTTP_X_T" -->|'
               '<!--#echo encoding="url" var="HTTP_X_T" -->|<!--#echo var="HTTP_X_T" -->') as s:
        eq(page(s, "/p.shtml", headers={"X-T": 'a<b&"c d'}),
           'a&#x3C;b&#x26;&#x22;c d|a%3Cb%26%22c%20d|a<b&"c d', "page")


@lux_only("lighttpd 1.4.69 has no QUERY_STRING_UNESCAPED")
def test_query_string_unescaped():
    with serve('<!--#echo var="QUERY_STRING_UNESCAPED" -->') as s:
        eq(page(s, "/p.shtml?q=a%20b%3Cc"), "q=a b<c", "page")


@lux_only("lighttpd 1.4.69 has no #config errmsg: failed directives print nothing")
def test_errmsg():
    with serve('[<!--#include file="missing" -->]<!--#config errmsg="[oops]" -->'
               '[<!--#include file="missing" -->][<!--#bogus -->][<!--#echo -->]') as s:
        eq(page(s, "/p.shtml"), "[][[oops]][[oops]][[oops]]", "page")


def test_failed_directives_print_nothing_by_default():
    with serve('[<!--#include file="missing" -->][<!--#bogus -->][<!--#include -->]') as s:
        eq(page(s, "/p.shtml"), "[][][]", "page")


@lux_only("lighttpd 1.4.69 runs #exec by default; lux only with ssi.exec = \"enable\"")
def test_exec_is_refused():
    with serve("") as s:
        marker = os.path.join(s.tmp, "ran")
        s.write("x.shtml", f'[<!--#exec cmd="echo ran; touch {marker}" -->]')
        eq(page(s, "/x.shtml"), "[]", "page")
        check(not os.path.exists(marker), "the command did not run")
        harness.poll(lambda: "ssi.exec is disabled" in s.errorlog, what="the refusal logged")


def test_content_type_and_static_files_untouched():
    with serve('<!--#echo var="DOCUMENT_NAME" -->',
               extra='ssi.content-type = "text/plain; charset=utf-8"\n',
               files={"raw.txt": '<!--#echo var="DOCUMENT_NAME" -->'}) as s:
        r = get(s.port, "/p.shtml")
        eq(r.header("Content-Type"), "text/plain; charset=utf-8", "Content-Type")
        eq(get(s.port, "/raw.txt").text(), '<!--#echo var="DOCUMENT_NAME" -->', "not parsed")
        eq(get(s.port, "/none.shtml").status, 404, "missing page")


def test_conditional_requests_off_by_default():
    with serve("x") as s:
        r = get(s.port, "/p.shtml")
        check(not r.has("ETag") and not r.has("Last-Modified"), f"no validators: {r!r}")
        r = get(s.port, "/p.shtml", headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
        eq(r.status, 200, "If-Modified-Since ignored")


def test_conditional_requests_on():
    with serve("x", extra='ssi.conditional-requests = "enable"\n') as s:
        r = get(s.port, "/p.shtml")
        etag, lm = r.header("ETag"), r.header("Last-Modified")
        check(etag and lm, f"validators: {r!r}")
        r = get(s.port, "/p.shtml", headers={"If-None-Match": etag})
        eq(r.status, 304, "If-None-Match")
        eq(r.body, b"", "no body")
        eq(get(s.port, "/p.shtml", headers={"If-Modified-Since": lm}).status, 304, "IMS")
        eq(get(s.port, "/p.shtml", headers={"If-None-Match": '"other"'}).status, 200, "changed")


def test_head_has_get_headers_without_body():
    with serve('<!--#echo var="DOCUMENT_NAME" -->') as s:
        g = get(s.port, "/p.shtml")
        h = get(s.port, "/p.shtml", method="HEAD")
        eq(h.status, 200, "status")
        eq(h.body, b"", "no body")
        eq(h.header("Content-Length"), g.header("Content-Length"), "Content-Length")
        eq(g.header("Content-Length"), "7", "length of the page")


@lux_only("lux bounds a page built in the event loop; lighttpd 1.4.69 builds any size")
def test_page_size_is_bounded():
    echo = '<!--#echo var="DOCUMENT_NAME" -->'
    cases = (
        ("directives", echo * 70000, "more than 65536 directives"),
        ("pieces", ("." + echo) * 40000, "exceeds its bounds"),
        ("text", '<!--#set var="V" value="' + "v" * 4096 + '" -->'
         + '<!--#echo var="V" -->' * 1100, "exceeds its bounds"),
    )
    for what, body, logged in cases:
        with serve(body) as s:
            eq(get(s.port, "/p.shtml").status, 500, f"too many {what}")
            harness.poll(lambda: logged in s.errorlog, what=f"error log: {logged}")
    with serve(("." + echo) * 30000) as s:
        eq(len(page(s, "/p.shtml")), 30000 * len(".p.shtml"), "a large page within the bounds")


@lux_only("lighttpd 1.4.69 logs every failed directive")
def test_failures_logged_once_per_page_past_a_few():
    with serve('<!--#bogus -->' * 1000) as s:
        eq(page(s, "/p.shtml"), "", "page")
        harness.poll(lambda: "not logged" in s.errorlog, what="error log")
        n = s.errorlog.count("unknown directive")
        check(0 < n <= 8, f"{n} lines logged")


@lux_only("lighttpd 1.4.69 shares one #if stack between a page and the pages it includes")
def test_included_document_cannot_close_the_includers_if():
    body = ('<!--#if expr="a" -->A<!--#include virtual="/q.shtml" -->B<!--#else -->C'
            '<!--#endif -->')
    files = {"q.shtml": 'q<!--#endif --><!--#if expr="" -->hidden'}
    with serve(body, extra="ssi.recursion-max = 1\n", files=files) as s:
        eq(page(s, "/p.shtml"), "AqB", "page")


@lux_only("lux bounds #if nesting (32); lighttpd 1.4.69 nests without bound")
def test_if_nesting_is_bounded():
    with serve('<!--#if expr="a" -->' * 32 + "in" + "<!--#endif -->" * 32) as s:
        eq(page(s, "/p.shtml"), "in", "32 levels")
    with serve('<!--#if expr="a" -->' * 33 + "in" + "<!--#endif -->" * 33) as s:
        eq(get(s.port, "/p.shtml").status, 500, "33 levels")
        harness.poll(lambda: "nested too deeply" in s.errorlog, what="error log")
