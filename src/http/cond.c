/*
 * Conditions and settings for one request, decided in one place. Each block's condition is
 * evaluated at most once per URI (cached in r->cond_state); $PHYSICAL conditions are not
 * decided until the physical path exists, so before that they count as false and are not
 * cached, nor is anything that depends on them (a nested block, the rest of an else chain).
 * lux_req_patch_conf walks the blocks only when something is left to decide: once every
 * condition is decided the settings stay current (r->conf_current) until
 * lux_req_forget_conditions (a new URI, a restart, a changed request header).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "http/request.h"
#include "lux/log.h"
#include "net/conn.h"

enum { UNKNOWN = 0, TRUE = 1, FALSE = 2 };

const char *lux_req_remote_ip(lux_req *r) {
    const struct sockaddr_in6 *sa =
        (const struct sockaddr_in6 *)(const void *)lux_req_remote_addr(r);
    char buf[INET6_ADDRSTRLEN];
    if (sa->sin6_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, sizeof buf);
    else if (sa->sin6_family == AF_INET6)
        inet_ntop(AF_INET6, &sa->sin6_addr, buf, sizeof buf);
    else
        snprintf(buf, sizeof buf, "unix");
    return lux_pool_strndup(r->pool, buf, strlen(buf));
}

/* The subject a condition field tests, or NULL when the request has no such thing. */
static const char *subject(lux_req *r, const lux_conf_block *b, size_t *len, int *undecided) {
    static const lux_str empty = {"", 0};
    const lux_str *s = NULL;
    switch (b->field) {
    case LUX_COND_HOST:
        s = r->host.ptr ? &r->host : &empty;
        break;
    case LUX_COND_URL:
        s = &r->path;
        break;
    case LUX_COND_QUERYSTRING:
        s = r->query.ptr ? &r->query : &empty;
        break;
    case LUX_COND_SCHEME:
        s = &r->scheme;
        break;
    case LUX_COND_METHOD:
        s = &r->method_str;
        break;
    case LUX_COND_HEADER:
        s = lux_req_header(r, b->header, strlen(b->header));
        if (!s)
            s = &empty;
        break;
    case LUX_COND_SOCKET: {
        const char *name = r->conn->listener ? r->conn->listener->name : "";
        /* ":8080" in a condition names the port on any address. */
        if (b->pattern[0] == ':' && r->conn->listener && r->conn->listener->port >= 0) {
            const char *colon = strrchr(name, ':');
            name = colon ? colon : name;
        }
        *len = strlen(name);
        return name;
    }
    case LUX_COND_PHYSICAL_PATH:
    case LUX_COND_PHYSICAL_EXISTING:
        if (!r->physical_ready || !r->physical.ptr) {
            *undecided = 1;
            return NULL;
        }
        s = &r->physical;
        break;
    default:
        return NULL;
    }
    *len = s->len;
    return s->ptr;
}

static int own_condition(lux_req *r, const lux_conf_block *b, int *undecided) {
    if (b->op == LUX_OP_NONE)
        return 1;
    if (b->field == LUX_COND_REMOTE_IP && (b->op == LUX_OP_EQ || b->op == LUX_OP_NE) &&
        b->cidr_bits >= 0) {
        const struct sockaddr *sa = lux_req_remote_addr(r);
        if (sa->sa_family == AF_UNIX)
            return b->op == LUX_OP_NE;
        return lux_conf_cond_match_addr(b, sa);
    }
    size_t len = 0;
    const char *s;
    if (b->field == LUX_COND_REMOTE_IP) {
        s = lux_req_remote_ip(r);
        len = s ? strlen(s) : 0;
    } else {
        s = subject(r, b, &len, undecided);
    }
    if (!s)
        return 0;
    if (b->field == LUX_COND_PHYSICAL_EXISTING) {
        struct stat st;
        if (stat(s, &st) < 0)
            return b->op == LUX_OP_NE || b->op == LUX_OP_NOMATCH;
    }
    if (b->op == LUX_OP_MATCH) {
        lux_cond_captures caps;
        int m = lux_conf_cond_match(b, s, len, &caps);
        if (m && caps.n > 0) {
            if (!r->cond_caps[b->id])
                r->cond_caps[b->id] = lux_pool_alloc(r->pool, sizeof caps);
            if (r->cond_caps[b->id])
                *r->cond_caps[b->id] = caps;
        }
        return m;
    }
    return lux_conf_cond_match(b, s, len, NULL);
}

/* Is any alternative of b's else-chain, up to and including b, true? */
static int chain_taken(lux_req *r, const lux_conf_block *b) {
    for (; b; b = b->prev)
        if (lux_req_cond(r, b))
            return 1;
    return 0;
}

int lux_req_cond(lux_req *r, const lux_conf_block *b) {
    if (b->id == 0)
        return 1;
    if (r->cond_state[b->id] != UNKNOWN)
        return r->cond_state[b->id] == TRUE;
    unsigned undecided_before = r->cond_undecided;
    int undecided = 0;
    int v = (!b->parent || lux_req_cond(r, b->parent)) && !chain_taken(r, b->prev) &&
            own_condition(r, b, &undecided);
    r->cond_undecided += (unsigned)undecided;
    const lux_core_conf *core = r->gen->core;
    if (core->log_condition_handling)
        lux_log(LUX_LOG_DEBUG, "%s:%d: condition %s is %s", b->file, b->line, b->pattern,
                v ? "true" : "false");
    if (r->cond_undecided == undecided_before)
        r->cond_state[b->id] = v ? TRUE : FALSE;
    return v;
}

int lux_req_patch_conf(lux_req *r) {
    if (r->conf_current)
        return 0;
    lux_gen *g = r->gen;
    r->cond_undecided = 0;
    /* A module's settings differ from the global ones only where a block patched them, and
     * then its conf_block names that block (ids start at 1): only those go back before the
     * blocks are decided again. No block patches anything in a configuration without
     * conditional settings, so nothing differs. */
    if (g->nblocks)
        for (size_t i = 0; i < g->nmodules; i++)
            if (r->conf_block[i]) {
                r->confs[i] = g->global_conf[i];
                r->conf_block[i] = 0;
            }
    for (size_t i = 0; i < g->nblocks; i++) {
        const lux_block_patches *bp = &g->blocks[i];
        if (!lux_req_cond(r, bp->block))
            continue;
        for (size_t k = 0; k < bp->npatches; k++) {
            const lux_patch *p = &bp->patches[k];
            const lux_module *m = g->modules[p->module];
            /* Copy-on-write: a request only pays for the modules its conditions touch. */
            if (r->confs[p->module] == g->global_conf[p->module]) {
                void *copy = lux_pool_alloc(r->pool, m->conf_size);
                if (!copy)
                    return -1;
                memcpy(copy, g->global_conf[p->module], m->conf_size);
                r->confs[p->module] = copy;
            }
            r->conf_block[p->module] = bp->block->id;
            size_t size = lux_directive_size(p->dir);
            memcpy((char *)r->confs[p->module] + p->dir->offset, p->value, size);
        }
    }
    r->conf_current = r->cond_undecided == 0;
    return 0;
}

void lux_req_forget_conditions(lux_req *r) {
    memset(r->cond_state, 0, r->gen->tree->nblocks);
    memset(r->cond_caps, 0, r->gen->tree->nblocks * sizeof *r->cond_caps);
    r->conf_current = 0;
}

/* lighttpd decides a condition when a module first asks, so a changed header must be seen by
 * the conditions that test it: decide them all again. */
int lux_req_recheck_conditions(lux_req *r) {
    lux_req_forget_conditions(r);
    return lux_req_patch_conf(r);
}

const lux_cond_captures *lux_req_captures(const lux_req *r, const lux_module *m) {
    int i = lux_gen_module_index(r->gen, m);
    if (i < 0 || !r->conf_block[i])
        return NULL;
    for (const lux_conf_block *b = r->gen->tree->blocks[r->conf_block[i]]; b; b = b->parent)
        if (r->cond_caps[b->id])
            return r->cond_caps[b->id];
    return NULL;
}

const void *lux_req_conf(const lux_req *r, const lux_module *m) {
    int i = lux_gen_module_index(r->gen, m);
    return i < 0 ? NULL : r->confs[i];
}
