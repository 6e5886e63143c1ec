/*
 * The unit-test harness: each test is a function; CHECK records a failure with file:line and
 * carries on. Every test prints "ok NAME" or "not ok NAME" so tests/run counts them the same
 * way across all layers.
 */
#ifndef LUX_T_H
#define LUX_T_H

#include <stdio.h>
#include <string.h>

static int t_failed_total;
static int t_failed_now;

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);       \
            t_failed_now = 1;                                                                 \
        }                                                                                     \
    } while (0)

#define CHECK_STR(got, want)                                                                  \
    do {                                                                                      \
        const char *g_ = (got), *w_ = (want);                                                 \
        if (!g_ || strcmp(g_, w_) != 0) {                                                     \
            fprintf(stderr, "  %s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__,          \
                    g_ ? g_ : "(null)", w_);                                                  \
            t_failed_now = 1;                                                                 \
        }                                                                                     \
    } while (0)

#define CHECK_INT(got, want)                                                                  \
    do {                                                                                      \
        long long g_ = (long long)(got), w_ = (long long)(want);                              \
        if (g_ != w_) {                                                                       \
            fprintf(stderr, "  %s:%d: %s is %lld, want %lld\n", __FILE__, __LINE__, #got, g_,   \
                    w_);                                                                      \
            t_failed_now = 1;                                                                 \
        }                                                                                     \
    } while (0)

#define RUN(fn)                                                                               \
    do {                                                                                      \
        t_failed_now = 0;                                                                     \
        fn();                                                                                 \
        printf("%s %s\n", t_failed_now ? "not ok" : "ok", #fn);                               \
        t_failed_total += t_failed_now;                                                       \
    } while (0)

#define T_EXIT() return t_failed_total ? 1 : 0

#endif
