/*
 * Request bodies in the core (see body.h). The protocol feeds decoded bytes and ends the body;
 * the handler reads them in order: first what is in memory, then what went to the spool file.
 * Once a body starts spooling it goes on in the file, so the order stays that of the bytes.
 */
#include "http/body.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "http/stream.h"
#include "http/stream_internal.h"
#include "lux/log.h"

enum { BODY_OPEN, BODY_DONE, BODY_FAILED };

struct lux_req_body {
    int mode;          /* server.stream-request-body */
    uint64_t limit;    /* server.max-request-size in bytes; 0: none */
    uint64_t received; /* decoded bytes fed */
    int state;
    char *mem; /* LUX_REQ_BODY_MEM bytes, allocated with the first byte */
    uint32_t mem_off, mem_len;
    int fd; /* the spool file, -1 until the memory overflows */
    uint64_t file_off, file_len;
    int wanted; /* the protocol stopped for lack of room: tell it when there is some */
    void (*notify_fn)(lux_req *r, void *arg);
    void *notify_arg;
};

/* The body's state, made on first use with the request's settings. NULL: out of memory. */
static lux_req_body *body_of(lux_req *r) {
    if (r->req_body)
        return r->req_body;
    lux_req_body *b = lux_pool_alloc(r->pool, sizeof *b);
    if (!b)
        return NULL;
    memset(b, 0, sizeof *b);
    const lux_core_conf *core = r->confs[0];
    b->mode = (int)core->stream_request_body;
    b->limit = core->max_request_size > 0 ? (uint64_t)core->max_request_size * 1024 : 0;
    b->fd = -1;
    if (r->content_length == 0 || r->req_body_empty)
        b->state = BODY_DONE;
    r->req_body = b;
    return b;
}

int64_t lux_body_length(const lux_req *r) {
    const lux_req_body *b = r->req_body;
    if (!b)
        return r->content_length >= 0 ? r->content_length : r->req_body_empty ? 0 : -1;
    return b->state == BODY_DONE ? (int64_t)b->received : r->content_length;
}

int lux_body_settled(lux_req *r) {
    lux_req_body *b = r->req_body;
    if (!b) /* nothing fed yet: decided without making the state (most requests have none) */
        return r->req_body_empty || r->content_length == 0 ||
               ((const lux_core_conf *)r->confs[0])->stream_request_body != 0;
    return b->mode != 0 || b->state != BODY_OPEN;
}

int lux_body_complete(const lux_req *r) {
    const lux_req_body *b = r->req_body;
    if (!b)
        return r->req_body_empty || r->content_length == 0;
    return b->state == BODY_DONE;
}

uint64_t lux_body_received(const lux_req *r) {
    return r->req_body ? r->req_body->received : 0;
}

static uint32_t mem_unread(const lux_req_body *b);

uint64_t lux_body_taken(const lux_req *r) {
    const lux_req_body *b = r->req_body;
    if (!b)
        return 0;
    return b->received - mem_unread(b) - (b->file_len - b->file_off);
}

ssize_t lux_body_peek(const lux_req *r, uint64_t off, void *buf, size_t len) {
    const lux_req_body *b = r->req_body;
    if (!b)
        return 0;
    size_t n = 0;
    if (off < mem_unread(b)) {
        n = mem_unread(b) - off < len ? mem_unread(b) - (size_t)off : len;
        memcpy(buf, b->mem + b->mem_off + off, n);
    }
    uint64_t file_at = b->file_off + (off > mem_unread(b) ? off - mem_unread(b) : 0);
    if (n < len && b->fd >= 0 && file_at < b->file_len) {
        uint64_t left = b->file_len - file_at;
        ssize_t f =
            pread(b->fd, (char *)buf + n, left < len - n ? (size_t)left : len - n, (off_t)file_at);
        if (f < 0 && !n)
            return -1;
        n += f > 0 ? (size_t)f : 0;
    }
    return (ssize_t)n;
}

void lux_body_release(lux_req *r) {
    lux_req_body *b = r->req_body;
    if (!b)
        return;
    free(b->mem);
    b->mem = NULL;
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
}

int lux_body_open_tunnel(lux_req *r) {
    r->req_body_empty = 0;
    lux_req_body *b = body_of(r);
    if (!b)
        return -1;
    if (b->fd >= 0) /* what the handler read of a body before: gone with its file */
        close(b->fd);
    b->fd = -1;
    b->file_off = b->file_len = 0;
    b->mode = 2;
    b->limit = 0;
    b->state = BODY_OPEN;
    return 0;
}

static uint32_t mem_unread(const lux_req_body *b) {
    return b->mem_len - b->mem_off;
}

int lux_body_spool_whole(lux_req *r) {
    lux_req_body *b = body_of(r);
    if (!b)
        return -1;
    if (b->mode == 2)
        b->mode = 1; /* spooled as it comes, never read before it is complete */
    if (b->wanted) { /* the protocol stopped for room: it reads on */
        b->wanted = 0;
        lux_stream_later(r, LUX_SEV_WANTED);
    }
    return 0;
}

/* More to read, or the end: the handler hears of it from the loop. */
static void readable(lux_req *r, lux_req_body *b) {
    if (b->notify_fn)
        lux_stream_later(r, LUX_SEV_BODY_IN);
}

void lux_body_forget_notify(lux_req *r) {
    if (r->req_body)
        r->req_body->notify_fn = NULL;
}

void lux_body_run_notify(lux_req *r) {
    lux_req_body *b = r->req_body;
    if (b && b->notify_fn)
        b->notify_fn(r, b->notify_arg);
}

/* An unlinked temporary file in the first usable server.upload-dirs entry: O_TMPFILE where the
 * file system has it, else a named file removed at once. -1 when no directory takes one. */
static int open_spool(lux_req *r) {
    const lux_core_conf *core = r->gen->core;
    static const lux_str fallback = {"/var/tmp", 8};
    const lux_strlist *dirs = core->upload_dirs;
    size_t n = dirs && dirs->n ? dirs->n : 1;
    for (size_t i = 0; i < n; i++) {
        const char *dir = dirs && dirs->n ? dirs->items[i].ptr : fallback.ptr;
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0)
            return fd;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/lux-upload-XXXXXX", dir) >= (int)sizeof path)
            continue;
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0) {
            unlink(path);
            return fd;
        }
    }
    lux_log(LUX_LOG_ERR, "no usable directory in server.upload-dirs for a request body (%s)",
            strerror(errno));
    return -1;
}

static int spool(lux_req *r, lux_req_body *b, const char *p, size_t len) {
    if (b->fd < 0 && (b->fd = open_spool(r)) < 0)
        return -1;
    while (len) {
        ssize_t n = pwrite(b->fd, p, len, (off_t)b->file_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            lux_log(LUX_LOG_ERR, "writing a request body to its temporary file: %s",
                    n < 0 ? strerror(errno) : "no space");
            return -1;
        }
        b->file_len += (uint64_t)n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Keep bytes in memory while they fit (and nothing is spooled yet). 1 when they were kept. */
static int keep_in_memory(lux_req_body *b, const char *p, size_t len) {
    if (b->fd >= 0)
        return 0;
    if (!b->mem && !(b->mem = malloc(LUX_REQ_BODY_MEM)))
        return 0;
    if (b->mem_len + len > LUX_REQ_BODY_MEM && b->mem_off) {
        memmove(b->mem, b->mem + b->mem_off, mem_unread(b));
        b->mem_len -= b->mem_off;
        b->mem_off = 0;
    }
    if (b->mem_len + len > LUX_REQ_BODY_MEM)
        return 0;
    memcpy(b->mem + b->mem_len, p, len);
    b->mem_len += (uint32_t)len;
    return 1;
}

int lux_req_body_feed(lux_req *r, const void *p, size_t len) {
    lux_req_body *b = body_of(r);
    if (!b || b->state != BODY_OPEN) {
        errno = EPIPE;
        return -1;
    }
    if (b->limit && b->received + len > b->limit) {
        b->state = BODY_FAILED;
        readable(r, b);
        errno = EFBIG;
        return -1;
    }
    b->received += len;
    if (len && !keep_in_memory(b, p, len) && spool(r, b, p, len) < 0) {
        b->state = BODY_FAILED;
        readable(r, b);
        errno = EIO;
        return -1;
    }
    if (len)
        readable(r, b);
    return 0;
}

static void forget_contents(lux_req_body *b) {
    b->mem_off = b->mem_len = 0;
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
    b->file_off = b->file_len = 0;
    b->received = 0;
}

int lux_body_replace(lux_req *r, const void *p, size_t len, int append) {
    lux_req_body *b = body_of(r);
    if (!b || b->state != BODY_DONE || lux_body_taken(r)) {
        errno = EBUSY;
        return -1;
    }
    if (!append)
        forget_contents(b);
    if (len && !keep_in_memory(b, p, len) && spool(r, b, p, len) < 0) {
        forget_contents(b);
        errno = EIO;
        return -1;
    }
    b->received += len;
    r->req_body_empty = b->received == 0;
    r->content_length = (int64_t)b->received;
    return 0;
}

void lux_req_body_end(lux_req *r, int ok) {
    if (!r->req_body && ok) { /* no byte came: nothing to keep, nothing to tell a reader */
        r->req_body_empty = 1;
        lux_stream_body_complete(r);
        return;
    }
    lux_req_body *b = body_of(r);
    if (!b || b->state != BODY_OPEN)
        return;
    b->state = ok ? BODY_DONE : BODY_FAILED;
    readable(r, b);
    if (ok)
        lux_stream_body_complete(r);
}

size_t lux_req_body_room(const lux_req *r) {
    lux_req_body *b = r->req_body;
    if (!b || b->mode != 2 || b->state != BODY_OPEN)
        return SIZE_MAX;
    size_t room = LUX_REQ_BODY_MEM - mem_unread(b);
    if (!room)
        b->wanted = 1;
    return room;
}

static size_t read_memory(lux_req_body *b, char *buf, size_t len) {
    size_t n = mem_unread(b) < len ? mem_unread(b) : len;
    memcpy(buf, b->mem + b->mem_off, n);
    b->mem_off += (uint32_t)n;
    if (b->mem_off == b->mem_len)
        b->mem_off = b->mem_len = 0;
    return n;
}

static ssize_t read_file(lux_req_body *b, char *buf, size_t len) {
    uint64_t left = b->file_len - b->file_off;
    ssize_t n = pread(b->fd, buf, left < len ? (size_t)left : len, (off_t)b->file_off);
    if (n > 0)
        b->file_off += (uint64_t)n;
    return n;
}

ssize_t lux_req_body_read(lux_req *r, void *buf, size_t len) {
    lux_req_body *b = body_of(r);
    if (!b) {
        errno = EPIPE;
        return -1;
    }
    size_t n = 0;
    if (mem_unread(b))
        n = read_memory(b, buf, len);
    if (n < len && b->fd >= 0 && b->file_off < b->file_len) {
        ssize_t f = read_file(b, (char *)buf + n, len - n);
        if (f < 0 && !n) {
            lux_log(LUX_LOG_ERR, "reading a request body from its temporary file: %s",
                    strerror(errno));
            errno = EPIPE;
            return -1;
        }
        n += f > 0 ? (size_t)f : 0;
    }
    if (n) {
        if (b->wanted && b->mode == 2) { /* room again: the protocol reads on */
            b->wanted = 0;
            lux_stream_later(r, LUX_SEV_WANTED);
        }
        return (ssize_t)n;
    }
    if (b->state == BODY_DONE)
        return 0;
    errno = b->state == BODY_FAILED ? EPIPE : EAGAIN;
    return -1;
}

void lux_req_body_notify(lux_req *r, void (*fn)(lux_req *r, void *arg), void *arg) {
    lux_req_body *b = body_of(r);
    if (!b)
        return;
    b->notify_fn = fn;
    b->notify_arg = arg;
    if (fn && (mem_unread(b) || b->file_off < b->file_len || b->state != BODY_OPEN))
        lux_stream_later(r, LUX_SEV_BODY_IN);
}
