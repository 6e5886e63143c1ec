#include "net/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "net/upgrade.h"

#define SD_LISTEN_FDS_START 3

/* Split "host:port" / "[v6]:port" / ":port". */
static int split_spec(const char *spec, char *host, size_t hl, int *port) {
    const char *colon;
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end || end[1] != ':')
            return -1;
        snprintf(host, hl, "%.*s", (int)(end - spec - 1), spec + 1);
        colon = end + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon)
            return -1;
        snprintf(host, hl, "%.*s", (int)(colon - spec), spec);
    }
    char *e;
    long p = strtol(colon + 1, &e, 10);
    if (*e || colon[1] == '\0' || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

static int open_unix(const char *path, int backlog, char *err, size_t el) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        snprintf(err, el, "unix socket path too long: %s", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    struct stat st;
    /* A stale socket from an earlier run is replaced; any other file is left alone. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || listen(fd, backlog) < 0)
        goto fail;
    return fd;
fail:
    snprintf(err, el, "cannot listen on unix:%s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Unsent bytes a TCP socket may queue before it stops taking more and before EPOLLOUT. Without
 * a limit a large sendfile parks megabytes the window cannot take yet; the kernel then sends
 * them from the ACKs' softirq on the client's CPU, the client's receive-window autotuning never
 * sees a round trip and the window stays small. Accepted sockets inherit it. */
#define NOTSENT_LOWAT (256 * 1024)

static void limit_unsent(int fd) {
    int lowat = NOTSENT_LOWAT;
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
}

static int open_inet(const char *spec, const lux_core_conf *core, char *err, size_t el,
                     int *port_out) {
    char host[256];
    int port;
    if (split_spec(spec, host, sizeof host, &port) < 0) {
        snprintf(err, el, "invalid listen address \"%s\" (want host:port)", spec);
        return -1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai;
    char ps[8];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host[0] ? host : NULL, ps, &hints, &ai);
    if (rc) {
        snprintf(err, el, "cannot resolve \"%s\": %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        limit_unsent(fd);
        if (core->defer_accept > 0) {
            /* The kernel queues a connection for accept only once its request bytes are there,
             * so the read right after accept finds them and the connection is answered without
             * ever joining the epoll set (lighttpd's server.defer-accept, nginx's deferred). */
            int secs = core->defer_accept > 3600 ? 3600 : (int)core->defer_accept;
            setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
        }
        if (ai->ai_family == AF_INET6) {
            int v6only = core->set_v6only;
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
        }
    }
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
        listen(fd, (int)core->listen_backlog) < 0) {
        snprintf(err, el, "cannot listen on %s: %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    *port_out = port;
    return fd;
}

static int add(lux_server *s, int fd, const char *name, int port, int inherited) {
    lux_listener *l = realloc(s->listeners, (s->nlisteners + 1) * sizeof *l);
    if (!l)
        return -1;
    s->listeners = l;
    char *copy = strdup(name);
    if (!copy)
        return -1;
    l[s->nlisteners] = (lux_listener){fd, copy, port, inherited};
    s->nlisteners++;
    return 0;
}

/* The canonical "addr:port" of a bound socket, to match it against the config's specs. */
static int socket_name(int fd, char *out, size_t ol, int *port) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    char a[INET6_ADDRSTRLEN];
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, a, sizeof a);
        *port = ntohs(in->sin_port);
        snprintf(out, ol, "%s:%d", a, *port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof a);
        *port = ntohs(in6->sin6_port);
        snprintf(out, ol, "[%s]:%d", a, *port);
    } else if (ss.ss_family == AF_UNIX) {
        *port = -1;
        snprintf(out, ol, "unix:%s", ((const struct sockaddr_un *)&ss)->sun_path);
    } else {
        return -1;
    }
    return 0;
}

/* Does a config spec name this bound socket? ":80" and "0.0.0.0:80" match any address. */
static int spec_matches(const char *spec, const char *name, int port) {
    if (strcmp(spec, name) == 0)
        return 1;
    char host[256];
    int p;
    if (strncmp(spec, "unix:", 5) == 0 || split_spec(spec, host, sizeof host, &p) < 0)
        return 0;
    return p == port && (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0);
}

/* Were the LISTEN_FDS sockets handed over by an upgrading lux (see upgrade.h)? */
static int handed_over_by_upgrade(void) {
    const char *names = getenv("LISTEN_FDNAMES");
    size_t len = strlen(LUX_UPGRADE_FDNAME);
    return names && strncmp(names, LUX_UPGRADE_FDNAME, len) == 0 &&
           (names[len] == ':' || names[len] == '\0');
}

/* Adopt the LISTEN_FDS sockets. owned: this process removes their unix socket files at exit
 * (an upgrade's, unless systemd made them). */
static int adopt_inherited(lux_server *s, const lux_gen *g, int owned, char *err, size_t el) {
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    if (!pid || !fds || strtol(pid, NULL, 10) != getpid()) {
        snprintf(err, el,
                 "server.systemd-socket-activation is enabled but LISTEN_PID/"
                 "LISTEN_FDS do not name this process");
        return -1;
    }
    int n = (int)strtol(fds, NULL, 10);
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i, port;
        char name[256];
        if (socket_name(fd, name, sizeof name, &port) < 0) {
            snprintf(err, el, "LISTEN_FDS: fd %d is not a socket", fd);
            return -1;
        }
        /* systemd may hand over a blocking socket; our accept loop must never block. */
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
            fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
            snprintf(err, el, "LISTEN_FDS: fd %d: %s", fd, strerror(errno));
            return -1;
        }
        if (port >= 0)
            limit_unsent(fd);
        const char *use = name;
        for (size_t k = 0; k < g->nlistens; k++)
            if (spec_matches(g->listens[k].spec, name, port))
                use = g->listens[k].spec;
        if (add(s, fd, use, port, !owned) < 0) {
            snprintf(err, el, "out of memory");
            return -1;
        }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return 0;
}

int lux_listen_open(lux_server *s, const lux_gen *g, char *err, size_t el) {
    const lux_core_conf *core = g->core;
    if (handed_over_by_upgrade())
        return adopt_inherited(s, g, !core->systemd_socket_activation, err, el);
    if (core->systemd_socket_activation)
        return adopt_inherited(s, g, 0, err, el);
    for (size_t i = 0; i < g->nlistens; i++) {
        const char *spec = g->listens[i].spec;
        int port = -1, fd;
        if (strncmp(spec, "unix:", 5) == 0)
            fd = open_unix(spec + 5, (int)core->listen_backlog, err, el);
        else
            fd = open_inet(spec, core, err, el, &port);
        if (fd < 0)
            return -1;
        if (add(s, fd, spec, port, 0) < 0) {
            close(fd);
            snprintf(err, el, "out of memory");
            return -1;
        }
    }
    return 0;
}

void lux_listen_shut(lux_server *s) {
    for (size_t i = 0; i < s->nlisteners; i++) {
        lux_listener *l = &s->listeners[i];
        if (l->fd < 0)
            continue;
        close(l->fd);
        l->fd = -1;
        if (strncmp(l->name, "unix:", 5) == 0 && !l->inherited)
            unlink(l->name + 5);
    }
}

void lux_listen_free(lux_server *s) {
    lux_listen_shut(s);
    for (size_t i = 0; i < s->nlisteners; i++)
        free(s->listeners[i].name);
    free(s->listeners);
    s->listeners = NULL;
    s->nlisteners = 0;
}
