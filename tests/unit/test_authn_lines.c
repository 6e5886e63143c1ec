/* mod_authn_file's lookup of a user's line in a user file's bytes: htpasswd, plain and
 * htdigest lines, CRLF endings, and lines that must not lend their secret to anyone. */
#include <string.h>

#include "mod/authn.h"
#include "t.h"

static int find(const char *file, size_t len, authn_backend kind, const char *user,
                const char *realm, size_t hexlen, char *out) {
    lux_str u = {user, strlen(user)}, r = {realm, strlen(realm)};
    return authn_lines_find(file, len, kind, &u, &r, hexlen, out, 128);
}

static void test_htpasswd_and_plain(void) {
    static const char file[] = "# comment\nbob:pw1\r\nalice:{SHA}x\nal:short\n";
    char out[128];
    CHECK_INT(find(file, sizeof file - 1, AUTHN_HTPASSWD, "bob", "", 0, out), 1);
    CHECK_STR(out, "pw1");
    CHECK_INT(find(file, sizeof file - 1, AUTHN_PLAIN, "alice", "", 0, out), 1);
    CHECK_STR(out, "{SHA}x");
    CHECK_INT(find(file, sizeof file - 1, AUTHN_PLAIN, "al", "", 0, out), 1);
    CHECK_STR(out, "short");
    CHECK_INT(find(file, sizeof file - 1, AUTHN_PLAIN, "ali", "", 0, out), 0);
}

static void test_htdigest(void) {
    static const char file[] = "alice:Other:0123456789abcdef0123456789abcdef\n"
                               "alice:Team:fedcba9876543210fedcba9876543210\n"
                               "bob:Team:abc\n";
    char out[128];
    CHECK_INT(find(file, sizeof file - 1, AUTHN_HTDIGEST, "alice", "Team", 32, out), 1);
    CHECK_STR(out, "fedcba9876543210fedcba9876543210");
    CHECK_INT(find(file, sizeof file - 1, AUTHN_HTDIGEST, "bob", "Team", 32, out), 0);
}

/* A secret with a NUL inside would be cut short as a C string: "abc\0junk" must not let the
 * password "abc" in, so such a line is no one's. */
static void test_secret_with_nul_is_not_found(void) {
    static const char file[] = "carol:abc\0junk\nalice:Team:0123456789abcdef0123456789abc\0ef\n";
    char out[128];
    CHECK_INT(find(file, sizeof file - 1, AUTHN_PLAIN, "carol", "", 0, out), 0);
    CHECK_INT(find(file, sizeof file - 1, AUTHN_HTDIGEST, "alice", "Team", 32, out), 0);
}

int main(void) {
    RUN(test_htpasswd_and_plain);
    RUN(test_htdigest);
    RUN(test_secret_with_nul_is_not_found);
    T_EXIT();
}
