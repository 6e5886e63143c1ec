/*
 * The per-address connection count. 64 shards of 256 buckets, chained; an entry lives while its
 * address has connections. Bucket positions are keyed with a random seed taken once, so clients
 * choosing their (IPv6) addresses cannot pile them into one chain.
 */
#include "net/peer_table.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SHARDS 64
#define BUCKETS 256

typedef struct entry {
    struct entry *next;
    lux_peer_key key;
    unsigned long count;
} entry;

typedef struct {
    pthread_mutex_t mu;
    entry *buckets[BUCKETS];
} shard;

static shard shards[SHARDS] = {[0 ... SHARDS - 1] = {.mu = PTHREAD_MUTEX_INITIALIZER}};
static uint64_t seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void take_seed(void) {
    if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
        seed = (uint64_t)(uintptr_t)&seed ^ 0x9E3779B97F4A7C15u;
}

/* FNV-1a over the seed and the key. */
static uint64_t hash(const lux_peer_key *k) {
    pthread_once(&seed_once, take_seed);
    uint64_t h = 0xCBF29CE484222325u ^ seed;
    for (unsigned i = 0; i < k->len; i++)
        h = (h ^ k->bytes[i]) * 0x100000001B3u;
    return h ^ (h >> 29);
}

int lux_peer_key_of(const struct sockaddr *sa, lux_peer_key *out) {
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        memcpy(out->bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        out->len = 4;
        return 0;
    }
    if (sa->sa_family != AF_INET6)
        return -1;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) {
        memcpy(out->bytes, a->s6_addr + 12, 4);
        out->len = 4;
    } else {
        memcpy(out->bytes, a->s6_addr, 16);
        out->len = 16;
    }
    return 0;
}

/* The shard and bucket of k, with the shard locked. */
static entry **slot(const lux_peer_key *k, shard **sh) {
    uint64_t h = hash(k);
    *sh = &shards[h % SHARDS];
    pthread_mutex_lock(&(*sh)->mu);
    entry **p = &(*sh)->buckets[(h / SHARDS) % BUCKETS];
    while (*p && ((*p)->key.len != k->len || memcmp((*p)->key.bytes, k->bytes, k->len) != 0))
        p = &(*p)->next;
    return p;
}

int lux_peer_conn_acquire(const lux_peer_key *k, unsigned long max) {
    shard *sh;
    entry **p = slot(k, &sh);
    int rc = 1;
    if (*p && (*p)->count >= max) {
        rc = 0;
    } else if (*p) {
        (*p)->count++;
    } else if (max == 0 || !(*p = calloc(1, sizeof **p))) {
        rc = max == 0 ? 0 : -1;
    } else {
        (*p)->key = *k;
        (*p)->count = 1;
    }
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

void lux_peer_conn_release(const lux_peer_key *k) {
    shard *sh;
    entry **p = slot(k, &sh);
    entry *e = *p;
    if (e && --e->count == 0) {
        *p = e->next;
        free(e);
    }
    pthread_mutex_unlock(&sh->mu);
}

unsigned long lux_peer_conn_count(const lux_peer_key *k) {
    shard *sh;
    entry **p = slot(k, &sh);
    unsigned long n = *p ? (*p)->count : 0;
    pthread_mutex_unlock(&sh->mu);
    return n;
}
