#include "upstream/health.h"

#include "t.h"

static void test_status_matches(void) {
    CHECK(lux_hc_status_matches("200", 200));
    CHECK(!lux_hc_status_matches("200", 204));
    CHECK(lux_hc_status_matches("2xx", 204));
    CHECK(lux_hc_status_matches("2xx", 299));
    CHECK(!lux_hc_status_matches("2xx", 301));
    CHECK(!lux_hc_status_matches("2xx", 503));
    CHECK(lux_hc_status_matches("30x", 302));
    CHECK(!lux_hc_status_matches("30x", 310));
    CHECK(!lux_hc_status_matches("2xx", 2000));
    CHECK(!lux_hc_status_matches("2x", 200));
}

int main(void) {
    RUN(test_status_matches);
    T_EXIT();
}
