/* The order in which the stream core delivers a request's pending events. The core is included
 * so its file-local next_event is reachable. */
#include "http/stream.c"

#include "t.h"

/* The order a response happens in, as the protocol must see it. */
static const unsigned response_order[] = {LUX_SEV_ABORT,  LUX_SEV_HEAD,   LUX_SEV_FILTER,
                                          LUX_SEV_BODY,   LUX_SEV_WANTED, LUX_SEV_WRITABLE,
                                          LUX_SEV_BODY_IN};
enum { NEVENTS = sizeof response_order / sizeof *response_order };

static void test_every_set_of_events_in_response_order(void) {
    unsigned all = 0;
    for (size_t i = 0; i < NEVENTS; i++)
        all |= response_order[i];
    for (unsigned set = 0; set <= all; set++) {
        if (set & ~all)
            continue;
        lux_stream_state st = {.pending = set};
        for (size_t i = 0; i < NEVENTS; i++)
            if (set & response_order[i])
                CHECK_INT(next_event(&st), response_order[i]);
        CHECK_INT(next_event(&st), 0);
        CHECK_INT(st.pending, 0);
    }
}

static void test_one_at_a_time(void) {
    lux_stream_state st = {.pending = LUX_SEV_BODY | LUX_SEV_FILTER | LUX_SEV_HEAD};
    CHECK_INT(next_event(&st), LUX_SEV_HEAD);
    CHECK_INT(st.pending, LUX_SEV_BODY | LUX_SEV_FILTER);
    st.pending |= LUX_SEV_ABORT; /* a callback asked for more: the earliest goes next */
    CHECK_INT(next_event(&st), LUX_SEV_ABORT);
    CHECK_INT(next_event(&st), LUX_SEV_FILTER);
    CHECK_INT(next_event(&st), LUX_SEV_BODY);
    CHECK_INT(next_event(&st), 0);
}

int main(void) {
    RUN(test_every_set_of_events_in_response_order);
    RUN(test_one_at_a_time);
    T_EXIT();
}
