/* Config generations: typed settings, patches per block, module selection, errors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_conf.h"
#include "core/gen.h"
#include "core/pool.h"
#include "t.h"

static lux_gen *build(const char *text, char *err, size_t el) {
    lux_conf_tree *t = lux_conf_load_string(text, strlen(text), "test.conf", err, el);
    return t ? lux_gen_build(t, 0, err, el) : NULL;
}

static void test_defaults(void) {
    char err[512];
    lux_gen *g = build("server.document-root = \"/srv\"\n", err, sizeof err);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_INT(g->core->port, 80);
    CHECK_INT(g->core->max_keep_alive_requests, 1000);
    CHECK_INT(g->core->follow_symlink, 1);
    CHECK_STR(g->core->document_root.ptr, "/srv");
    /* core + the three always-on modules, staticfile last among handlers */
    CHECK_INT(g->nmodules, 4);
    CHECK_STR(g->modules[g->hooks[LUX_HOOK_HANDLE][g->nhooks[LUX_HOOK_HANDLE] - 1]]->name,
              "mod_staticfile");
    CHECK_INT(g->nlistens, 1);
    CHECK_STR(g->listens[0].spec, "0.0.0.0:80");
    lux_gen_unref(g);
}

static void test_typed_values(void) {
    char err[512];
    lux_gen *g = build("server.port = 8080\nserver.bind = \"127.0.0.1\"\n"
                       "server.follow-symlink = \"disable\"\nserver.max-worker = \"3\"\n"
                       "mimetype.assign = (\".x\" => \"text/x\")\n",
                       err, sizeof err);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_INT(g->core->port, 8080);
    CHECK_INT(g->core->follow_symlink, 0);
    CHECK_INT(g->core->max_worker, 3);
    CHECK_INT(g->core->mimetypes.n, 1);
    CHECK_STR(g->core->mimetypes.items[0].type, "text/x");
    CHECK_STR(g->listens[0].spec, "127.0.0.1:8080");
    lux_gen_unref(g);
}

static void test_patches(void) {
    char err[512];
    lux_gen *g = build("server.document-root = \"/a\"\n"
                       "$HTTP[\"host\"] == \"b\" { server.document-root = \"/b\" }\n"
                       "$HTTP[\"host\"] == \"c\" { var.x = 1 }\n"
                       "$SERVER[\"socket\"] == \":81\" { server.tag = \"t\" }\n",
                       err, sizeof err);
    CHECK(g != NULL);
    if (!g)
        return;
    /* the var-only block patches nothing and is left out */
    CHECK_INT(g->nblocks, 2);
    CHECK_INT(g->blocks[0].npatches, 1);
    CHECK_STR(((const lux_str *)g->blocks[0].patches[0].value)->ptr, "/b");
    CHECK_INT(g->nlistens, 2);
    CHECK_STR(g->listens[1].spec, ":81");
    lux_gen_unref(g);
}

static void test_errors(void) {
    char err[512];
    CHECK(build("server.modules = (\"mod_nonesuch\")\n", err, sizeof err) == NULL);
    CHECK(strstr(err, "test.conf:1:") && strstr(err, "mod_nonesuch"));
    CHECK(build("server.modules = (\"mod_vhostdb\")\n", err, sizeof err) == NULL);
    CHECK(strstr(err, "not available"));
    CHECK(build("\n\nserver.port = \"eighty\"\n", err, sizeof err) == NULL);
    CHECK(strstr(err, "test.conf:3:") && strstr(err, "server.port"));
    CHECK(build("server.port = 70000\n", err, sizeof err) == NULL);
    CHECK(build("server.follow-symlink = \"maybe\"\n", err, sizeof err) == NULL);
    CHECK(strstr(err, "server.follow-symlink"));
    CHECK(build("server.http-parseopts = (\"no-such-opt\" => \"enable\")\n", err, sizeof err) ==
          NULL);
    CHECK(build("$HTTP[\"url\"] =^ \"/x\" { $SERVER[\"socket\"] == \":82\" { } }\n", err,
                sizeof err) == NULL);
}

static void test_modules_order(void) {
    char err[512];
    lux_gen *g =
        build("server.modules = (\"mod_staticfile\", \"mod_dirlisting\")\n", err, sizeof err);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_INT(g->nmodules, 4); /* no duplicates from the always-on list */
    CHECK_STR(g->modules[1]->name, "mod_staticfile");
    lux_gen_unref(g);
}

static void test_pool(void) {
    lux_pool p;
    lux_pool_init(&p, 64);
    char *a = lux_pool_alloc(&p, 10);
    char *b = lux_pool_alloc(&p, 1000); /* larger than a block */
    char *c = lux_pool_strndup(&p, "hello", 5);
    CHECK(a && b && c);
    CHECK(((uintptr_t)b & 15) == 0);
    CHECK_STR(c, "hello");
    memset(b, 1, 1000);
    lux_pool_reset(&p);
    CHECK(lux_pool_held(&p) > 0);
    lux_pool_free(&p);
}

int main(void) {
    RUN(test_defaults);
    RUN(test_typed_values);
    RUN(test_patches);
    RUN(test_errors);
    RUN(test_modules_order);
    RUN(test_pool);
    T_EXIT();
}
