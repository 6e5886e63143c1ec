/*
 * systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram of
 * newline-separated "KEY=value" lines to the unix socket named by $NOTIFY_SOCKET ("/path", or
 * "@name" for the abstract namespace). Without the variable every call does nothing.
 */
#ifndef LUX_SD_NOTIFY_H
#define LUX_SD_NOTIFY_H

/* Send msg ("READY=1\nSTATUS=serving"). Returns 1 when sent, 0 when there is no socket to tell,
 * -1 with errno set when sending failed. */
int lux_sd_notify(const char *msg);

/* printf into one message, then lux_sd_notify. */
int lux_sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
