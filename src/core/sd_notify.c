#include "core/sd_notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Fill addr from $NOTIFY_SOCKET; returns the address length, 0 when unset, -1 when unusable. */
static socklen_t notify_address(struct sockaddr_un *addr) {
    const char *name = getenv("NOTIFY_SOCKET");
    if (!name || !name[0])
        return 0;
    size_t len = strlen(name);
    if ((name[0] != '/' && name[0] != '@') || len >= sizeof addr->sun_path) {
        errno = EINVAL;
        return (socklen_t)-1;
    }
    *addr = (struct sockaddr_un){.sun_family = AF_UNIX};
    memcpy(addr->sun_path, name, len);
    if (name[0] == '@') {
        /* Abstract: the name is the bytes after a leading NUL, and the length counts exactly
         * those, with no terminator. */
        addr->sun_path[0] = '\0';
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

int lux_sd_notify(const char *msg) {
    struct sockaddr_un addr;
    socklen_t alen = notify_address(&addr);
    if (alen == 0)
        return 0;
    if (alen == (socklen_t)-1)
        return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    ssize_t n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&addr, alen);
    int saved = errno;
    close(fd);
    errno = saved;
    return n < 0 ? -1 : 1;
}

int lux_sd_notifyf(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof msg) {
        errno = EMSGSIZE;
        return -1;
    }
    return lux_sd_notify(msg);
}
