/* The registry of named counters (see plugin_stats.h). */
#include "core/plugin_stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

typedef struct {
    char name[LUX_PLUGIN_STAT_NAME_MAX + 1];
    _Atomic int64_t value;
} plugin_stat;

/* Entries below count are written before the count is published (release) and their names
 * never change; values are read and stored relaxed. */
static plugin_stat stats[LUX_PLUGIN_STATS_MAX];
static _Atomic size_t count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int find(const char *name, size_t len, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strlen(stats[i].name) == len && memcmp(stats[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

int lux_plugin_stat(const char *name, size_t len) {
    if (len == 0 || len > LUX_PLUGIN_STAT_NAME_MAX || memchr(name, '\0', len))
        return -1;
    int id = find(name, len, atomic_load_explicit(&count, memory_order_acquire));
    if (id >= 0)
        return id;
    pthread_mutex_lock(&lock);
    size_t n = atomic_load_explicit(&count, memory_order_relaxed);
    id = find(name, len, n);
    if (id < 0 && n < LUX_PLUGIN_STATS_MAX) {
        memcpy(stats[n].name, name, len);
        stats[n].name[len] = '\0';
        atomic_store_explicit(&stats[n].value, 0, memory_order_relaxed);
        atomic_store_explicit(&count, n + 1, memory_order_release);
        id = (int)n;
    }
    pthread_mutex_unlock(&lock);
    return id;
}

int64_t lux_plugin_stat_get(int id) {
    return atomic_load_explicit(&stats[id].value, memory_order_relaxed);
}

void lux_plugin_stat_set(int id, int64_t value) {
    atomic_store_explicit(&stats[id].value, value, memory_order_relaxed);
}

size_t lux_plugin_stats_count(void) {
    return atomic_load_explicit(&count, memory_order_acquire);
}

const char *lux_plugin_stat_name(int id) {
    return stats[id].name;
}
