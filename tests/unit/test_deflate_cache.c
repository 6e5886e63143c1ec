#include "mod/deflate_cache.h"

#include <bzlib.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "t.h"

static char text[50000];

static void fill_text(void) {
    const char *words[] = {"lux ", "deflate ", "<p>", "</p>", "cache ", "\n"};
    unsigned x = 1;
    size_t n = 0;
    while (n < sizeof text - 16) {
        x = x * 1103515245 + 12345;
        const char *w = words[(x >> 16) % 6];
        size_t l = strlen(w);
        memcpy(text + n, w, l);
        n += l;
    }
    memset(text + n, '.', sizeof text - n);
}

/* zlib's inflate with automatic gzip/zlib header detection. */
static int inflate_all(const unsigned char *in, size_t len, char *out, size_t cap, size_t *got) {
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return -1;
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = (unsigned char *)out;
    z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_FINISH);
    *got = cap - z.avail_out;
    inflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

static void zlib_codings_round_trip(void) {
    deflate_params p;
    deflate_params_default(&p);
    deflate_enc encs[] = {DEFLATE_ENC_GZIP, DEFLATE_ENC_DEFLATE};
    for (size_t i = 0; i < 2; i++) {
        unsigned char *out = NULL;
        size_t outlen = 0, got = 0;
        CHECK(deflate_encode_mem(encs[i], &p, text, sizeof text, &out, &outlen) == 0);
        CHECK(outlen > 0 && outlen < sizeof text / 2);
        static char back[sizeof text + 1];
        CHECK(inflate_all(out, outlen, back, sizeof back, &got) == 0);
        CHECK_INT(got, sizeof text);
        CHECK(memcmp(back, text, sizeof text) == 0);
        CHECK(encs[i] != DEFLATE_ENC_GZIP || (out[0] == 0x1f && out[1] == 0x8b));
        free(out);
    }
}

static void bzip2_round_trip(void) {
    deflate_params p;
    deflate_params_default(&p);
    unsigned char *out = NULL;
    size_t outlen = 0;
    CHECK(deflate_encode_mem(DEFLATE_ENC_BZIP2, &p, text, sizeof text, &out, &outlen) == 0);
    static char back[sizeof text + 1];
    unsigned got = sizeof back;
    CHECK(BZ2_bzBuffToBuffDecompress(back, &got, (char *)out, (unsigned)outlen, 0, 0) == BZ_OK);
    CHECK_INT(got, sizeof text);
    CHECK(memcmp(back, text, sizeof text) == 0);
    free(out);
}

static void empty_input_is_a_valid_stream(void) {
    deflate_params p;
    deflate_params_default(&p);
    unsigned char *out = NULL;
    size_t outlen = 0, got = 1;
    char back[8];
    CHECK(deflate_encode_mem(DEFLATE_ENC_GZIP, &p, "", 0, &out, &outlen) == 0);
    CHECK(inflate_all(out, outlen, back, sizeof back, &got) == 0);
    CHECK_INT(got, 0);
    free(out);
}

static void key_follows_file_and_settings(void) {
    deflate_params p;
    deflate_params_default(&p);
    deflate_file_id id = {.size = 10, .ino = 7, .mtime = 1000, .mtime_nsec = 5};
    char a[256], b[256];
    CHECK(deflate_cache_path(a, sizeof a, "/c/", 3, "/www/x.html", 11, &id, DEFLATE_ENC_GZIP, &p) >
          0);
    CHECK(strncmp(a, "/c/www/x.html.", 14) == 0);
    CHECK(strcmp(a + strlen(a) - 5, ".gzip") == 0);
    deflate_cache_path(b, sizeof b, "/c", 2, "/www/x.html", 11, &id, DEFLATE_ENC_X_GZIP, &p);
    CHECK_STR(b, a); /* x-gzip is gzip's bytes */
    deflate_file_id changed[] = {
        {11, 7, 1000, 5}, {10, 8, 1000, 5}, {10, 7, 1001, 5}, {10, 7, 1000, 6}};
    for (size_t i = 0; i < 4; i++) {
        deflate_cache_path(b, sizeof b, "/c", 2, "/www/x.html", 11, &changed[i], DEFLATE_ENC_GZIP,
                           &p);
        CHECK(strcmp(a, b) != 0);
    }
    deflate_params q = p;
    q.gzip_level = 9;
    deflate_cache_path(b, sizeof b, "/c", 2, "/www/x.html", 11, &id, DEFLATE_ENC_GZIP, &q);
    CHECK(strcmp(a, b) != 0);
    q = p;
    q.brotli_quality = 11; /* a brotli setting does not move gzip's entry */
    deflate_cache_path(b, sizeof b, "/c", 2, "/www/x.html", 11, &id, DEFLATE_ENC_GZIP, &q);
    CHECK_STR(b, a);
    CHECK_INT(deflate_cache_path(b, 20, "/c", 2, "/www/x.html", 11, &id, DEFLATE_ENC_GZIP, &p), 0);
}

static size_t count_files(const char *dir) {
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void fill_writes_one_whole_entry(void) {
    char dir[] = "/tmp/lux-deflate-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char src[64], entry[128], sub[128];
    snprintf(src, sizeof src, "%s/src", dir);
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    snprintf(entry, sizeof entry, "%s/a/b/x.html.1.gzip", dir);
    int fd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, text, sizeof text) == (ssize_t)sizeof text);
    deflate_params p;
    deflate_params_default(&p);
    CHECK(deflate_cache_fill(entry, DEFLATE_ENC_GZIP, &p, NULL, fd, sizeof text) == 0);
    CHECK_INT(count_files(sub), 1); /* no temporary file left */
    int e = open(entry, O_RDONLY);
    static unsigned char comp[sizeof text];
    ssize_t n = read(e, comp, sizeof comp);
    static char back[sizeof text + 1];
    size_t got = 0;
    CHECK(n > 0 && inflate_all(comp, (size_t)n, back, sizeof back, &got) == 0);
    CHECK(got == sizeof text && memcmp(back, text, got) == 0);
    close(e);
    /* A file shorter than announced fails and leaves nothing behind. */
    unlink(entry);
    CHECK(deflate_cache_fill(entry, DEFLATE_ENC_GZIP, &p, NULL, fd, sizeof text + 1) < 0);
    CHECK_INT(count_files(sub), 0);
    close(fd);
    unlink(src);
    rmdir(sub);
    snprintf(sub, sizeof sub, "%s/a", dir);
    rmdir(sub);
    rmdir(dir);
}

int main(void) {
    fill_text();
    RUN(zlib_codings_round_trip);
    RUN(bzip2_round_trip);
    RUN(empty_input_is_a_valid_stream);
    RUN(key_follows_file_and_settings);
    RUN(fill_writes_one_whole_entry);
    T_EXIT();
}
