/*
 * Named counters that modules and scripts keep, lighttpd's "plugin statistics": mod_magnet's
 * lighty.server.plugin_stats reads and sets them, status.statistics-url lists them. A name, once
 * made, lasts as long as the process (reloads keep the counts); a small fixed registry holds
 * them, so a reader walks the first lux_plugin_stats_count() entries without a lock.
 */
#ifndef LUX_PLUGIN_STATS_H
#define LUX_PLUGIN_STATS_H

#include <stddef.h>
#include <stdint.h>

enum { LUX_PLUGIN_STATS_MAX = 1024, LUX_PLUGIN_STAT_NAME_MAX = 127 };

/* The counter named name[0..len), made (at 0) when new: its index, or -1 when the name is
 * empty, too long or the registry is full. Making one takes a lock; finding one does not. */
int lux_plugin_stat(const char *name, size_t len);
int64_t lux_plugin_stat_get(int id);
/* Set from any thread: the last store wins (two workers adding at once may lose one). */
void lux_plugin_stat_set(int id, int64_t value);

size_t lux_plugin_stats_count(void);
const char *lux_plugin_stat_name(int id);

#endif
