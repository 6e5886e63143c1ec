/* The per-address connection table: keys, the limit, release, and counting from many threads. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#include "net/peer_table.h"
#include "t.h"

static lux_peer_key key(const char *ip) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &a->sin6_addr);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &a->sin_addr);
    }
    lux_peer_key k;
    CHECK_INT(lux_peer_key_of((struct sockaddr *)&ss, &k), 0);
    return k;
}

static void test_keys(void) {
    lux_peer_key a = key("192.0.2.1"), m = key("::ffff:192.0.2.1"), six = key("2001:db8::1");
    CHECK_INT(a.len, 4);
    CHECK_INT(m.len, 4);
    CHECK(memcmp(a.bytes, m.bytes, 4) == 0);
    CHECK_INT(six.len, 16);
    struct sockaddr un = {.sa_family = AF_UNIX};
    CHECK_INT(lux_peer_key_of(&un, &a), -1);
}

static void test_limit_and_release(void) {
    lux_peer_key a = key("192.0.2.2"), b = key("::ffff:192.0.2.2"), c = key("2001:db8::2");
    CHECK_INT(lux_peer_conn_acquire(&a, 2), 1);
    CHECK_INT(lux_peer_conn_acquire(&b, 2), 1); /* the same client */
    CHECK_INT(lux_peer_conn_acquire(&a, 2), 0);
    CHECK_INT(lux_peer_conn_count(&a), 2);
    CHECK_INT(lux_peer_conn_acquire(&c, 2), 1); /* another client has its own count */
    lux_peer_conn_release(&a);
    CHECK_INT(lux_peer_conn_acquire(&a, 2), 1);
    lux_peer_conn_release(&a);
    lux_peer_conn_release(&a);
    lux_peer_conn_release(&c);
    CHECK_INT(lux_peer_conn_count(&a), 0);
    CHECK_INT(lux_peer_conn_count(&c), 0);
}

#define THREADS 4
#define ROUNDS 20000

static void *churn(void *arg) {
    char ip[32];
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(ip, sizeof ip, "10.0.%d.%d", (i / 7) % 4, i % 7 + (int)(long)arg);
        lux_peer_key k = key(ip);
        if (lux_peer_conn_acquire(&k, 1000000) == 1)
            lux_peer_conn_release(&k);
    }
    return NULL;
}

static void *hold(void *arg) {
    lux_peer_key *k = arg;
    int got = 0;
    for (int i = 0; i < 100; i++)
        got += lux_peer_conn_acquire(k, 150) == 1;
    return (void *)(long)got;
}

static void test_threads(void) {
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, churn, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4 * 7 + THREADS; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.%d.%d", i / 10, i % 10);
        lux_peer_key k = key(ip);
        CHECK_INT(lux_peer_conn_count(&k), 0);
    }
    /* Four threads reach for one address: exactly the limit is granted. */
    lux_peer_key k = key("198.51.100.9");
    long granted = 0;
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, hold, &k);
    for (int i = 0; i < THREADS; i++) {
        void *got;
        pthread_join(t[i], &got);
        granted += (long)got;
    }
    CHECK_INT(granted, 150);
    CHECK_INT(lux_peer_conn_count(&k), 150);
}

int main(void) {
    RUN(test_keys);
    RUN(test_limit_and_release);
    RUN(test_threads);
    T_EXIT();
}
