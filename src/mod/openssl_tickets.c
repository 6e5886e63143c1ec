/*
 * Session ticket encryption keys (STEK), shared by every TLS context of the process, so that a
 * ticket one worker issued resumes on any other, and across reloads. As in lighttpd, up to
 * three keys are kept, newest first: tickets are issued with the newest active key, and any
 * unexpired key still opens the tickets it issued (asking the client to take a new one).
 *
 * The keys come from ssl.stek-file, read again when its mtime is newer than the last read, or
 * without it are generated at start and every 8 hours, each valid for a day. Either is checked
 * at most once per 64-second period of the wall clock (lighttpd's rule), by the handshake that
 * needs a key first, so an idle server does no work.
 */
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/tls.h"

#define CHECK_PERIOD 64          /* seconds */
#define GENERATED_ROTATE 28800   /* a generated key is replaced after 8 hours */
#define GENERATED_LIFETIME 86400 /* and opens tickets for a day */

typedef struct {
    unsigned char name[16];
    unsigned char hmac[32];
    unsigned char aes[32];
    int64_t active, expire; /* wall-clock seconds; all zero: no key */
} ticket_key;

/* lighttpd's file: version (0), activation and expiry times as native 32-bit ints, then the
 * key name, HMAC secret and AES key. */
#define STEK_FILE_SIZE 92

static struct {
    pthread_mutex_t lock;
    ticket_key keys[3];
    int64_t rotated; /* when keys[0] arrived; a file is read again only when newer */
    int64_t checked; /* the 64-second period last checked, -1: check at the next handshake */
    char file[4096]; /* ssl.stek-file, "" when keys are generated */
} stek = {.lock = PTHREAD_MUTEX_INITIALIZER, .checked = -1};

static void wipe(void *p, size_t n) {
    OPENSSL_cleanse(p, n);
}

static void push_key(const ticket_key *k, int64_t now) {
    stek.keys[2] = stek.keys[1];
    stek.keys[1] = stek.keys[0];
    stek.keys[0] = *k;
    stek.rotated = now;
}

static int read_stek_file(const char *path, ticket_key *k) {
    unsigned char buf[STEK_FILE_SIZE];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    int32_t head[3] = {-1, 0, 0};
    if (n == (ssize_t)sizeof buf)
        memcpy(head, buf, sizeof head);
    int ok = head[0] == 0;
    if (ok) {
        *k = (ticket_key){.active = head[1], .expire = head[2]};
        memcpy(k->name, buf + 12, sizeof k->name);
        memcpy(k->hmac, buf + 28, sizeof k->hmac);
        memcpy(k->aes, buf + 60, sizeof k->aes);
    }
    wipe(buf, sizeof buf);
    return ok ? 0 : -1; /* a file being rewritten: tried again next period */
}

static void refresh_from_file(int64_t now) {
    struct stat st;
    ticket_key k;
    if (stat(stek.file, &st) == 0 && st.st_mtime > stek.rotated &&
        read_stek_file(stek.file, &k) == 0)
        push_key(&k, now);
    wipe(&k, sizeof k);
    for (int i = 0; i < 3; i++)
        if (stek.keys[i].expire && stek.keys[i].expire < now)
            wipe(&stek.keys[i], sizeof stek.keys[i]);
}

static void refresh_generated(int64_t now) {
    if (stek.rotated && now - stek.rotated < GENERATED_ROTATE)
        return;
    ticket_key k = {.active = now, .expire = now + GENERATED_LIFETIME};
    if (RAND_bytes(k.name, sizeof k.name) == 1 && RAND_priv_bytes(k.hmac, sizeof k.hmac) == 1 &&
        RAND_priv_bytes(k.aes, sizeof k.aes) == 1)
        push_key(&k, now);
    wipe(&k, sizeof k);
}

/* Called with the lock held. */
static void refresh(int64_t now) {
    if (now / CHECK_PERIOD == stek.checked)
        return;
    stek.checked = now / CHECK_PERIOD;
    if (stek.file[0])
        refresh_from_file(now);
    else
        refresh_generated(now);
}

void lux_tls_tickets_configure(const char *stek_file) {
    pthread_mutex_lock(&stek.lock);
    const char *path = stek_file ? stek_file : "";
    if (strcmp(path, stek.file) != 0) {
        /* other keys: the old ones go, as after a restart */
        wipe(stek.keys, sizeof stek.keys);
        stek.rotated = 0;
        snprintf(stek.file, sizeof stek.file, "%s", path);
    }
    stek.checked = -1; /* a reload looks at the file again at once */
    pthread_mutex_unlock(&stek.lock);
}

/* The key to issue tickets with (enc) or the one named (decrypt), copied out under the lock.
 * 0: none; 1: found; 2: found, but a newer key is active (the client gets a new ticket). */
static int find_key(const unsigned char *name, ticket_key *out) {
    int64_t now = time(NULL);
    int rc = 0, newer = 0;
    pthread_mutex_lock(&stek.lock);
    refresh(now);
    for (int i = 0; i < 3 && !rc; i++) {
        const ticket_key *k = &stek.keys[i];
        if (!k->expire || k->expire < now)
            continue;
        if (name ? memcmp(k->name, name, sizeof k->name) == 0 : k->active <= now) {
            *out = *k;
            rc = newer ? 2 : 1;
        } else if (name && k->active <= now) {
            newer = 1;
        }
    }
    pthread_mutex_unlock(&stek.lock);
    return rc;
}

static int init_mac(EVP_MAC_CTX *hctx, unsigned char *key, size_t len) {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, len),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "sha256", 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

static int ticket_key_cb(SSL *s, unsigned char key_name[16], unsigned char *iv, EVP_CIPHER_CTX *ctx,
                         EVP_MAC_CTX *hctx, int enc) {
    ticket_key k;
    int rc = find_key(enc ? NULL : key_name, &k);
    if (rc == 0)
        return 0; /* no key: no ticket issued, or a full handshake */
    int ok;
    if (enc) {
        memcpy(key_name, k.name, sizeof k.name);
        ok = RAND_bytes(iv, EVP_MAX_IV_LENGTH) == 1 &&
             EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k.aes, iv) == 1 &&
             init_mac(hctx, k.hmac, sizeof k.hmac);
    } else {
        ok = init_mac(hctx, k.hmac, sizeof k.hmac) &&
             EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k.aes, iv) == 1;
    }
    wipe(&k, sizeof k);
    return ok ? rc : -1;
}

void lux_tls_tickets_attach(struct ssl_ctx_st *ctx) {
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb);
}
