#include "mod/deflate_negotiate.h"

#include "t.h"

static const deflate_enc lighttpd_order[] = {DEFLATE_ENC_ZSTD, DEFLATE_ENC_BR, DEFLATE_ENC_GZIP,
                                             DEFLATE_ENC_DEFLATE, DEFLATE_ENC_BZIP2};
#define NORDER (sizeof lighttpd_order / sizeof lighttpd_order[0])

static const char *choose(const char *ae) {
    deflate_accept a;
    deflate_accept_parse(ae, strlen(ae), &a);
    return deflate_enc_name(deflate_choose(&a, lighttpd_order, NORDER));
}

static void server_order_breaks_ties(void) {
    CHECK_STR(choose("gzip, deflate, br, zstd"), "zstd");
    CHECK_STR(choose("gzip, deflate, br"), "br");
    CHECK_STR(choose("deflate, gzip"), "gzip");
    CHECK_STR(choose("bzip2"), "bzip2");
    CHECK_STR(choose("gzip;q=0.5, br;q=0.5"), "br");
}

static void weights_win_over_order(void) {
    CHECK_STR(choose("br;q=0.5, gzip"), "gzip");
    CHECK_STR(choose("zstd;q=0.1, gzip;q=0.9, br;q=0.2"), "gzip");
    CHECK_STR(choose("gzip;q=0.001, deflate;q=0.002"), "deflate");
    CHECK_STR(choose("gzip; Q=1.000"), "gzip");
}

static void zero_excludes(void) {
    CHECK_STR(choose("gzip;q=0"), "");
    CHECK_STR(choose("gzip;q=0.000, br;q=0"), "");
    CHECK_STR(choose("*, zstd;q=0, br;q=0"), "gzip");
    CHECK_STR(choose("*;q=0"), "");
    CHECK_STR(choose("identity"), "");
    CHECK_STR(choose(""), "");
}

static void star_covers_unnamed(void) {
    CHECK_STR(choose("*"), "zstd");
    CHECK_STR(choose("gzip;q=0.5, *;q=0.2"), "gzip");
    CHECK_STR(choose("gzip;q=0.1, *;q=0.2"), "zstd");
}

static void old_names_answered_under_their_name(void) {
    CHECK_STR(choose("x-gzip"), "x-gzip");
    CHECK_STR(choose("x-gzip, gzip"), "gzip");
    CHECK_STR(choose("x-bzip2"), "x-bzip2");
    CHECK_STR(choose("GZIP"), "gzip");
}

static void malformed_weights_ignore_the_element(void) {
    CHECK_STR(choose("gzip;q=2"), "");
    CHECK_STR(choose("gzip;q=0.5555"), "");
    CHECK_STR(choose("gzip;q=abc, br"), "br");
    CHECK_STR(choose("gzip;q"), "");
    CHECK_STR(choose("gzip;q=1.5, deflate"), "deflate");
    /* Other parameters are ignored. */
    CHECK_STR(choose("gzip;level=1"), "gzip");
}

static void list_syntax(void) {
    CHECK_STR(choose(" ,, gzip ,"), "gzip");
    CHECK_STR(choose("gzip\t;\tq=0.5"), "gzip");
    CHECK_STR(choose("compress, gzip2, gzipx"), "");
    deflate_accept a;
    deflate_accept_parse("br;q=0.25, identity;q=0, *;q=0.1", 32, &a);
    CHECK_INT(a.q[DEFLATE_ENC_BR], 250);
    CHECK_INT(a.identity, 0);
    CHECK_INT(a.star, 100);
    CHECK_INT(deflate_accept_weight(&a, DEFLATE_ENC_GZIP), 100);
}

static void only_allowed_codings(void) {
    const deflate_enc gzip_only[] = {DEFLATE_ENC_GZIP};
    deflate_accept a;
    deflate_accept_parse("br, zstd", 8, &a);
    CHECK_INT(deflate_choose(&a, gzip_only, 1), DEFLATE_ENC_NONE);
    deflate_accept_parse("br, x-gzip", 10, &a);
    CHECK_INT(deflate_choose(&a, gzip_only, 1), DEFLATE_ENC_X_GZIP);
    const deflate_enc gzip_first[] = {DEFLATE_ENC_GZIP, DEFLATE_ENC_BR};
    deflate_accept_parse("br, gzip", 8, &a);
    CHECK_INT(deflate_choose(&a, gzip_first, 2), DEFLATE_ENC_GZIP);
}

static void names(void) {
    CHECK_INT(deflate_enc_from_name("Br", 2), DEFLATE_ENC_BR);
    CHECK_INT(deflate_enc_from_name("identity", 8), DEFLATE_ENC_NONE);
    CHECK_STR(deflate_enc_name(DEFLATE_ENC_ZSTD), "zstd");
    CHECK_STR(deflate_enc_name(DEFLATE_ENC_COUNT), "");
}

int main(void) {
    RUN(server_order_breaks_ties);
    RUN(weights_win_over_order);
    RUN(zero_excludes);
    RUN(star_covers_unnamed);
    RUN(old_names_answered_under_their_name);
    RUN(malformed_weights_ignore_the_element);
    RUN(list_syntax);
    RUN(only_allowed_codings);
    RUN(names);
    T_EXIT();
}
