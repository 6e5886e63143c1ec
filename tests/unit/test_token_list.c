/* Token lists: elements with whitespace around them, empty elements, case, and near misses. */
#include "http/token_list.h"
#include "t.h"

static void test_tokens(void) {
    const char *v = " keep-alive ,, Upgrade\t,x";
    CHECK_INT(lux_list_has_token(v, strlen(v), "upgrade"), 1);
    CHECK_INT(lux_list_has_token(v, strlen(v), "keep-alive"), 1);
    CHECK_INT(lux_list_has_token(v, strlen(v), "x"), 1);
    CHECK_INT(lux_list_has_token(v, strlen(v), "keep"), 0);
    CHECK_INT(lux_list_has_token(v, strlen(v), "upgrade,x"), 0);
    CHECK_INT(lux_list_has_token("close", 4, "close"), 0); /* only len bytes count */
    CHECK_INT(lux_list_has_token("", 0, "close"), 0);
}

int main(void) {
    RUN(test_tokens);
    T_EXIT();
}
