#include "upstream/scgi.h"

#include <stdlib.h>

#include "t.h"

static const lux_cgi_var VARS[] = {
    {{"REQUEST_METHOD", 14}, {"POST", 4}},
    {{"CONTENT_LENGTH", 14}, {"999", 3}},
    {{"QUERY_STRING", 12}, {"", 0}},
};

static void test_scgi_netstring(void) {
    lux_ups_buf b = {0};
    CHECK_INT(lux_scgi_head(&b, VARS, 3, 5), 0);
    static const char body[] = "CONTENT_LENGTH\0005\0SCGI\0001\0REQUEST_METHOD\0POST\0"
                               "QUERY_STRING\0\0";
    char want[128];
    int n = snprintf(want, sizeof want, "%zu:", sizeof body - 1);
    memcpy(want + n, body, sizeof body - 1);
    want[n + sizeof body - 1] = ',';
    CHECK_INT(b.len, (size_t)n + sizeof body);
    CHECK(b.len == (size_t)n + sizeof body && !memcmp(b.data, want, b.len));
    lux_ups_buf_free(&b);
}

static void test_uwsgi_packet(void) {
    lux_ups_buf b = {0};
    CHECK_INT(lux_uwsgi_head(&b, VARS, 1), 0);
    static const unsigned char want[] = {0,   22,  0,   0,   14,  0,   'R', 'E', 'Q',
                                         'U', 'E', 'S', 'T', '_', 'M', 'E', 'T', 'H',
                                         'O', 'D', 4,   0,   'P', 'O', 'S', 'T'};
    CHECK_INT(b.len, sizeof want);
    CHECK(b.len == sizeof want && !memcmp(b.data, want, sizeof want));
    lux_ups_buf_free(&b);
}

static void test_uwsgi_refuses_what_it_cannot_say(void) {
    size_t big = 70000;
    char *v = malloc(big);
    memset(v, 'x', big);
    lux_cgi_var huge = {{"X", 1}, {v, big}};
    lux_ups_buf b = {0};
    CHECK_INT(lux_uwsgi_head(&b, &huge, 1), -1);
    lux_cgi_var many[3] = {{{"A", 1}, {v, 30000}}, {{"B", 1}, {v, 30000}}, {{"C", 1}, {v, 30000}}};
    CHECK_INT(lux_uwsgi_head(&b, many, 3), -1);
    CHECK_INT(lux_uwsgi_head(&b, many, 2), 0);
    lux_ups_buf_free(&b);
    free(v);
}

int main(void) {
    RUN(test_scgi_netstring);
    RUN(test_uwsgi_packet);
    RUN(test_uwsgi_refuses_what_it_cannot_say);
    T_EXIT();
}
