/*
 * Token buckets in an open-addressed array: an address is looked for in a window of
 * PROBE slots after its hash; a new one takes an empty slot there, or the one used longest ago.
 * Tokens are counted in thousandths, so refilling needs no floating point.
 */
#include "net/rate_table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define PROBE 8

typedef struct {
    lux_peer_key key; /* len 0: empty */
    int64_t last_ms;
    int64_t milli_tokens;
} bucket;

struct lux_rate_table {
    uint64_t seed;
    bucket slots[LUX_RATE_SLOTS];
};

static uint64_t hash(const lux_rate_table *t, const lux_peer_key *k) {
    uint64_t h = 0xCBF29CE484222325u ^ t->seed;
    for (unsigned i = 0; i < k->len; i++)
        h = (h ^ k->bytes[i]) * 0x100000001B3u;
    return h ^ (h >> 31);
}

static lux_rate_table *table_new(void) {
    lux_rate_table *t = calloc(1, sizeof *t);
    if (t && getrandom(&t->seed, sizeof t->seed, 0) != sizeof t->seed)
        t->seed = (uint64_t)(uintptr_t)t;
    return t;
}

/* k's bucket, or a fresh one (full) in place of an empty or the stalest slot of its window. */
static bucket *find(lux_rate_table *t, const lux_peer_key *k, long burst, int64_t now_ms) {
    uint64_t h = hash(t, k);
    bucket *victim = NULL;
    for (unsigned i = 0; i < PROBE; i++) {
        bucket *b = &t->slots[(h + i) % LUX_RATE_SLOTS];
        if (b->key.len == k->len && memcmp(b->key.bytes, k->bytes, k->len) == 0)
            return b;
        int empty = b->key.len == 0, victim_empty = victim && victim->key.len == 0;
        if (!victim || (empty && !victim_empty) ||
            (!empty && !victim_empty && b->last_ms < victim->last_ms))
            victim = b;
    }
    victim->key = *k;
    victim->last_ms = now_ms;
    victim->milli_tokens = (int64_t)burst * 1000;
    return victim;
}

long lux_rate_take(lux_rate_table **t, const lux_peer_key *k, long rate, long burst,
                   int64_t now_ms) {
    if (!*t && !(*t = table_new()))
        return -1;
    if (burst < 1)
        burst = rate;
    bucket *b = find(*t, k, burst, now_ms);
    int64_t cap = (int64_t)burst * 1000;
    if (now_ms > b->last_ms) {
        b->milli_tokens += (now_ms - b->last_ms) * rate;
        if (b->milli_tokens > cap)
            b->milli_tokens = cap;
    }
    b->last_ms = now_ms;
    if (b->milli_tokens >= 1000) {
        b->milli_tokens -= 1000;
        return 0;
    }
    int64_t wait_ms = (1000 - b->milli_tokens + rate - 1) / rate;
    return (long)((wait_ms + 999) / 1000);
}

void lux_rate_table_free(lux_rate_table *t) {
    free(t);
}
