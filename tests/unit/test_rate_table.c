/* Token buckets per address: burst, refill, Retry-After, and a full table forgetting the
 * stalest address. */
#include <string.h>

#include "net/rate_table.h"
#include "t.h"

static lux_peer_key key4(unsigned n) {
    lux_peer_key k;
    memset(&k, 0, sizeof k);
    k.len = 4;
    k.bytes[0] = 10;
    k.bytes[1] = (uint8_t)(n >> 16);
    k.bytes[2] = (uint8_t)(n >> 8);
    k.bytes[3] = (uint8_t)n;
    return k;
}

static void test_burst_and_refill(void) {
    lux_rate_table *t = NULL;
    lux_peer_key a = key4(1), b = key4(2);
    for (int i = 0; i < 3; i++)
        CHECK_INT(lux_rate_take(&t, &a, 2, 3, 1000), 0);
    CHECK_INT(lux_rate_take(&t, &a, 2, 3, 1000), 1); /* empty: a token in 500 ms, so 1 s */
    CHECK_INT(lux_rate_take(&t, &b, 2, 3, 1000), 0); /* another address, its own bucket */
    CHECK_INT(lux_rate_take(&t, &a, 2, 3, 1499), 1);
    CHECK_INT(lux_rate_take(&t, &a, 2, 3, 1500), 0); /* 2 a second: one more after 500 ms */
    CHECK_INT(lux_rate_take(&t, &a, 2, 3, 1500), 1);
    /* A long pause refills up to the burst, not beyond. */
    for (int i = 0; i < 3; i++)
        CHECK_INT(lux_rate_take(&t, &a, 2, 3, 100000), 0);
    CHECK_INT(lux_rate_take(&t, &a, 2, 3, 100000), 1);
    /* Burst 0 means the rate; a slow rate waits whole seconds. */
    lux_peer_key c = key4(3);
    CHECK_INT(lux_rate_take(&t, &c, 1, 0, 0), 0);
    CHECK_INT(lux_rate_take(&t, &c, 1, 0, 0), 1);
    lux_rate_table_free(t);
}

static void test_full_table_forgets_the_stalest(void) {
    lux_rate_table *t = NULL;
    lux_peer_key a = key4(0);
    CHECK_INT(lux_rate_take(&t, &a, 1, 1, 0), 0);
    CHECK_INT(lux_rate_take(&t, &a, 1, 1, 0), 1);
    /* Many more addresses than slots, all seen after a: a is forgotten, so full again. */
    for (unsigned i = 1; i <= 4 * LUX_RATE_SLOTS; i++) {
        lux_peer_key k = key4(i);
        lux_rate_take(&t, &k, 1, 1, 10);
    }
    CHECK_INT(lux_rate_take(&t, &a, 1, 1, 20), 0);
    lux_rate_table_free(t);
}

int main(void) {
    RUN(test_burst_and_refill);
    RUN(test_full_table_forgets_the_stalest);
    T_EXIT();
}
