/* The config language: values, assignment rules, conditions, includes, errors, printing. */
#include "lux/conf.h"
#include "t.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char err[1024];

static lux_conf_tree *load(const char *text) {
    err[0] = '\0';
    lux_conf_tree *t = lux_conf_load_string(text, strlen(text), "t.conf", err, sizeof err);
    if (!t)
        fprintf(stderr, "  load failed: %s\n", err);
    return t;
}

/* Loading must fail with exactly this message. */
static void fails(const char *text, const char *want) {
    err[0] = '\0';
    lux_conf_tree *t = lux_conf_load_string(text, strlen(text), "t.conf", err, sizeof err);
    CHECK(t == NULL);
    CHECK_STR(err, want);
    lux_conf_free(t);
}

/* Loading must fail with a message containing this text. */
static void fails_with(const char *text, const char *part) {
    err[0] = '\0';
    lux_conf_tree *t = lux_conf_load_string(text, strlen(text), "t.conf", err, sizeof err);
    CHECK(t == NULL);
    if (!strstr(err, part)) {
        fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", err, part);
        t_failed_now = 1;
    }
    lux_conf_free(t);
}

static const lux_value *get(const lux_conf_tree *t, size_t block, const char *key) {
    return t && block < t->nblocks ? lux_conf_block_get(t->blocks[block], key) : NULL;
}

static const char *str(const lux_value *v) {
    return v && v->type == LUX_V_STRING ? v->u.str.ptr : "(not a string)";
}

static long long num(const lux_value *v) {
    return v && v->type == LUX_V_INT ? v->u.num : -999999;
}

static char *print_tree(const lux_conf_tree *t) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    lux_conf_print(t, f);
    fclose(f);
    return buf;
}

static void test_scalars(void) {
    lux_conf_tree *t = load("server.port = 8080\nserver.tag = \"lux\"\n");
    CHECK(t != NULL);
    CHECK_INT(num(get(t, 0, "server.port")), 8080);
    CHECK_STR(str(get(t, 0, "server.tag")), "lux");
    CHECK(get(t, 0, "server.nothing") == NULL);
    CHECK_INT(t->nblocks, 1);
    CHECK_STR(t->main_file, "t.conf");
    const lux_conf_kv *kv = &t->blocks[0]->kvs[t->blocks[0]->nkvs - 1];
    CHECK_STR(kv->key, "server.tag");
    CHECK_STR(kv->file, "t.conf");
    CHECK_INT(kv->line, 2);
    lux_conf_free(t);
}

static void test_string_escapes(void) {
    /* \" is the only escape; every other backslash stays as written */
    lux_conf_tree *t = load("a = \"say \\\"hi\\\"\"\nb = \"c:\\\\dir\\n\"\nc = \"two\nlines\"\n"
                            "d = \"\"\ne = 1");
    CHECK(t != NULL);
    CHECK_STR(str(get(t, 0, "var.a")), "say \"hi\"");
    CHECK_STR(str(get(t, 0, "var.b")), "c:\\\\dir\\n");
    CHECK_STR(str(get(t, 0, "var.c")), "two\nlines");
    CHECK_STR(str(get(t, 0, "var.d")), "");
    /* the multi-line string moved the line count on */
    CHECK_INT(t->blocks[0]->kvs[t->blocks[0]->nkvs - 1].line, 6);
    lux_conf_free(t);
}

static void test_concat(void) {
    lux_conf_tree *t = load("a = \"x\" + \"y\"\nb = \"n\" + 5\nc = 5 + \"n\"\nd = 2 + 3 + 4\n"
                            "e = (\"a\") + (\"b\", \"c\")\n"
                            "f = (\"k\" => 1) + (\"k\" => 1, \"j\" => 2)\n");
    CHECK(t != NULL);
    CHECK_STR(str(get(t, 0, "var.a")), "xy");
    CHECK_STR(str(get(t, 0, "var.b")), "n5");
    CHECK_STR(str(get(t, 0, "var.c")), "5n");
    CHECK_INT(num(get(t, 0, "var.d")), 9);
    const lux_value *e = get(t, 0, "var.e");
    CHECK(e && e->type == LUX_V_ARRAY && e->u.arr.len == 3);
    const lux_value *f = get(t, 0, "var.f");
    CHECK(f && f->u.arr.len == 2); /* an identical repeated pair is dropped */
    lux_conf_free(t);
    fails("a = (\"x\") + \"y\"\n", "t.conf:1: cannot combine a list with a string or number");
    fails("a = 1 + (1)\n", "t.conf:1: cannot combine a list with a string or number");
    fails("a = (\"k\" => 1) + (\"K\" => 2)\n", "t.conf:1: duplicate key in list: \"K\"");
    fails("a = 2147483647 + 1\n", "t.conf:1: integer overflow");
    fails("a = 2147483648\n", "t.conf:1: number too large: 2147483648");
    fails("a = \"x\" +\n", "t.conf:1: expected a value, found end of line");
}

static void test_arrays(void) {
    lux_conf_tree *t =
        load("a = ( )\nb = ( \"x\", \"y\", )\nc = (\"x\",, \"y\",,)\n"
             "d = ( \"k\" => \"v\",\n  \"n\" => ( \"deep\" => 1 ),\n  5 => \"five\", \"plain\" )\n"
             "e = ( var.b, 1 + 2 )\n");
    CHECK(t != NULL);
    CHECK_INT(get(t, 0, "var.a")->u.arr.len, 0);
    CHECK_INT(get(t, 0, "var.b")->u.arr.len, 2);
    CHECK_INT(get(t, 0, "var.c")->u.arr.len, 2);
    const lux_value *d = get(t, 0, "var.d");
    CHECK(d && d->u.arr.len == 4);
    CHECK_STR(str(lux_value_find(d, "k")), "v");
    CHECK_STR(str(lux_value_find(d, "K")), "v"); /* keys compare case-insensitively */
    CHECK_INT(num(lux_value_find(lux_value_find(d, "n"), "deep")), 1);
    CHECK_STR(str(lux_value_find(d, "5")), "five");
    CHECK(d->u.arr.items[3]->key == NULL);
    CHECK(lux_value_find(d, "missing") == NULL);
    const lux_value *e = get(t, 0, "var.e");
    CHECK(e && e->u.arr.len == 2 && e->u.arr.items[0]->type == LUX_V_ARRAY);
    CHECK_INT(num(e->u.arr.items[1]), 3);
    lux_conf_free(t);
    fails("a = ( \"k\" => 1, \"k\" => 2 )\n", "t.conf:1: duplicate key in list: \"k\"");
    fails("a = ( \"k\" = 1 )\n", "t.conf:1: use '=>' for key/value pairs in a list");
    fails("a = ( (\"x\") => 1 )\n", "t.conf:1: a list key must be a string, not a list");
    fails("a = ( \"x\"\n", "t.conf:1: list opened here is never closed with ')'");
    fails("a = ( \"x\" \"y\" )\n",
          "t.conf:1: two strings in a row: join them with '+', or separate them with ',' or "
          "'=>' in a list");
    fails("a = ( , \"x\" )\n", "t.conf:1: expected a value, found ','");
    fails("a = ( \"x\" ] )\n", "t.conf:1: expected ',' or ')' in list, found ']'");
    fails("a = )\n", "t.conf:1: ')' without matching '('");
}

static void test_nesting_limit(void) {
    char deep[400] = "a = ";
    for (int i = 0; i < 70; i++)
        strcat(deep, "(");
    fails(deep, "t.conf:1: lists nested too deeply");
    char blocks[4000] = "";
    for (int i = 0; i < 70; i++)
        strcat(blocks, "$HTTP[\"url\"] =^ \"/\" {\n");
    fails_with(blocks, "blocks nested too deeply");
}

static void test_append(void) {
    lux_conf_tree *t = load("m = (\"a\")\nm += (\"b\")\ns = \"x\"\ns += \"y\"\nn = 1\nn += 2\n"
                            "fresh += \"new\"\n"
                            "$HTTP[\"host\"] == \"h\" {\n  m += (\"c\")\n  s += \"z\"\n}\n");
    CHECK(t != NULL);
    CHECK_INT(get(t, 0, "var.m")->u.arr.len, 2);
    CHECK_STR(str(get(t, 0, "var.s")), "xy");
    CHECK_INT(num(get(t, 0, "var.n")), 3);
    CHECK_STR(str(get(t, 0, "var.fresh")), "new");
    /* the block holds the full value: inherited plus appended */
    const lux_value *m = get(t, 1, "var.m");
    CHECK(m && m->u.arr.len == 3);
    CHECK_STR(str(m->u.arr.items[2]), "c");
    CHECK_STR(str(get(t, 1, "var.s")), "xyz");
    /* and the global value is untouched */
    CHECK_INT(get(t, 0, "var.m")->u.arr.len, 2);
    lux_conf_free(t);
    fails("m = (\"a\")\nm += \"b\"\n", "t.conf:2: cannot combine a list with a string or number");
}

static void test_force_assign(void) {
    lux_conf_tree *t = load("a = 1\nb = 2\na := \"one\"\nc := 3\n");
    CHECK(t != NULL);
    CHECK_STR(str(get(t, 0, "var.a")), "one");
    CHECK_INT(num(get(t, 0, "var.c")), 3);
    /* := keeps the key's place: var.a is still before var.b */
    const lux_conf_block *g = t->blocks[0];
    size_t ia = 0, ib = 0;
    for (size_t i = 0; i < g->nkvs; i++) {
        if (strcmp(g->kvs[i].key, "var.a") == 0)
            ia = i;
        if (strcmp(g->kvs[i].key, "var.b") == 0)
            ib = i;
    }
    CHECK(ia < ib);
    CHECK_INT(g->kvs[ia].line, 3);
    lux_conf_free(t);
}

static void test_duplicate_assign(void) {
    fails("server.port = 80\nserver.port = 81\n",
          "t.conf:2: server.port is already set in this block (use := to replace it)");
    fails("var.x = 1\nvar.x = 1\n",
          "t.conf:2: var.x is already set in this block (use := to replace it)");
    fails("x = 1\nX = 2\n", "t.conf:2: var.X is already set in this block (use := to replace it)");
    fails("var.PID = 1\n", "t.conf:1: var.PID is already set in this block (use := to replace it)");
    lux_conf_tree *t = load("a = 1\n$HTTP[\"url\"] =^ \"/\" { a = 2 }\n");
    CHECK(t != NULL);
    CHECK_INT(num(get(t, 1, "var.a")), 2);
    lux_conf_free(t);
}

static void test_variables(void) {
    lux_conf_tree *t = load("var.base = \"/srv\"\nserver.document-root = var.base + \"/www\"\n"
                            "copy = server.document-root\nshort = base\n"
                            "$HTTP[\"host\"] == \"a\" {\n  var.inner = base + \"/a\"\n"
                            "  $HTTP[\"url\"] =^ \"/x\" { deep = inner + \"/x\" }\n}\n"
                            "mypid = var.PID\nmycwd = var.CWD\n");
    CHECK(t != NULL);
    CHECK_STR(str(get(t, 0, "server.document-root")), "/srv/www");
    CHECK_STR(str(get(t, 0, "var.copy")), "/srv/www");
    CHECK_STR(str(get(t, 0, "var.short")), "/srv");
    CHECK_STR(str(get(t, 1, "var.inner")), "/srv/a");
    CHECK_STR(str(get(t, 2, "var.deep")), "/srv/a/x");
    CHECK_INT(num(get(t, 0, "var.mypid")), getpid());
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_STR(str(get(t, 0, "var.mycwd")), cwd);
    /* keys compare case-insensitively, so var.pid is the predefined var.PID */
    fails("pid = 1\n", "t.conf:1: var.pid is already set in this block (use := to replace it)");
    lux_conf_free(t);
    fails("a = nothing\n", "t.conf:1: undefined variable var.nothing");
    /* a variable set inside a block is not visible after it */
    fails("$HTTP[\"url\"] =^ \"/\" { v = 1 }\nw = v\n", "t.conf:2: undefined variable var.v");
    fails("a = server.port\n", "t.conf:1: undefined variable server.port");
    t = load("var.PID := 7\nvar.CWD := \"/x\"\n");
    CHECK(t != NULL);
    CHECK_INT(num(get(t, 0, "var.PID")), 7);
    lux_conf_free(t);
}

static void test_env(void) {
    setenv("LUX_TEST_ENV", "from-env", 1);
    unsetenv("LUX_TEST_UNSET");
    lux_conf_tree *t = load("a = env.LUX_TEST_ENV + \"!\"\n");
    CHECK(t != NULL);
    CHECK_STR(str(get(t, 0, "var.a")), "from-env!");
    lux_conf_free(t);
    fails("a = env.LUX_TEST_UNSET\n", "t.conf:1: environment variable LUX_TEST_UNSET is not set");
    fails("env.LUX_TEST_ENV = \"x\"\n",
          "t.conf:1: cannot assign to env.LUX_TEST_ENV: env.* only reads the environment");
    fails("env.LUX_TEST_ENV += \"x\"\n",
          "t.conf:1: cannot assign to env.LUX_TEST_ENV: env.* only reads the environment");
    fails("env.X := \"x\"\n", "t.conf:1: cannot assign to env.X: env.* only reads the environment");
}

static void test_lines_and_comments(void) {
    lux_conf_tree *t = load("# head\n\n  a = 1 # tail\r\nb = 2 c = 3\nd = 4, e = 5\n"
                            "$HTTP[\"url\"] =^ \"/\" { f = 6 } g = 7\n\xc2\xa0h = 8\n");
    CHECK(t != NULL);
    CHECK_INT(num(get(t, 0, "var.a")), 1);
    CHECK_INT(num(get(t, 0, "var.c")), 3);
    CHECK_INT(num(get(t, 0, "var.e")), 5);
    CHECK_INT(num(get(t, 1, "var.f")), 6);
    CHECK_INT(num(get(t, 0, "var.g")), 7);
    CHECK_INT(num(get(t, 0, "var.h")), 8);
    CHECK_INT(t->blocks[1]->line, 6);
    lux_conf_free(t);
    fails("a =\n1\n", "t.conf:1: expected a value, found end of line");
    fails("\n\nserver.port 80\n", "t.conf:3: expected '=' after key");
    fails("a b = 1\n", "t.conf:1: missing '=' or '+' between two names");
    fails("a \"x\"\n", "t.conf:1: missing '=' between key and value");
    fails("a = \"open\n", "t.conf:1: unterminated string");
    fails("a = 1 }\n", "t.conf:1: '}' without a matching '{'");
    fails("a : 1\n", "t.conf:1: unexpected ':' (did you mean ':='?)");
    fails("a = !1\n", "t.conf:1: unexpected '!'");
    fails("a = 1 ; b = 2\n", "t.conf:1: invalid character");
    fails("= 1\n", "t.conf:1: unexpected '=' at the start of a statement");
    fails("else { }\n", "t.conf:1: 'else' without a condition block before it");
    const char nul[] = "a = 1\nb\0 = 2\n";
    err[0] = '\0';
    CHECK(lux_conf_load_string(nul, sizeof nul - 1, "t.conf", err, sizeof err) == NULL);
    CHECK_STR(err, "t.conf:2: unexpected NUL byte");
}

static void test_condition_fields(void) {
    static const struct {
        const char *lhs;
        lux_cond_field field;
        const char *header;
    } cases[] = {
        {"$HTTP[\"host\"]", LUX_COND_HOST, NULL},
        {"$HTTP[\"url\"]", LUX_COND_URL, NULL},
        {"$HTTP[\"querystring\"]", LUX_COND_QUERYSTRING, NULL},
        {"$HTTP[\"query-string\"]", LUX_COND_QUERYSTRING, NULL},
        {"$HTTP[\"remote-ip\"]", LUX_COND_REMOTE_IP, NULL},
        {"$HTTP[\"remoteip\"]", LUX_COND_REMOTE_IP, NULL},
        {"$HTTP[\"scheme\"]", LUX_COND_SCHEME, NULL},
        {"$HTTP[\"request-method\"]", LUX_COND_METHOD, NULL},
        {"$HTTP[\"useragent\"]", LUX_COND_HEADER, "User-Agent"},
        {"$HTTP[\"user-agent\"]", LUX_COND_HEADER, "User-Agent"},
        {"$HTTP[\"referer\"]", LUX_COND_HEADER, "Referer"},
        {"$HTTP[\"cookie\"]", LUX_COND_HEADER, "Cookie"},
        {"$HTTP[\"language\"]", LUX_COND_HEADER, "Accept-Language"},
        {"$REQUEST_HEADER[\"X-Token\"]", LUX_COND_HEADER, "X-Token"},
        {"$REQUEST_HEADER[\"X-\" + \"Two\"]", LUX_COND_HEADER, "X-Two"},
        {"$SERVER[\"socket\"]", LUX_COND_SOCKET, NULL},
        {"$PHYSICAL[\"path\"]", LUX_COND_PHYSICAL_PATH, NULL},
        {"$PHYSICAL[\"existing-path\"]", LUX_COND_PHYSICAL_EXISTING, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[200];
        snprintf(text, sizeof text, "%s != \"10.0.0.1\" {\n}\n", cases[i].lhs);
        lux_conf_tree *t = load(text);
        CHECK(t && t->nblocks == 2);
        if (!t)
            continue;
        const lux_conf_block *b = t->blocks[1];
        CHECK_INT(b->field, cases[i].field);
        CHECK_INT(b->op, LUX_OP_NE);
        CHECK_INT(b->depth, 1);
        CHECK(b->parent == t->blocks[0]);
        if (cases[i].header)
            CHECK_STR(b->header, cases[i].header);
        else
            CHECK(b->header == NULL);
        lux_conf_free(t);
    }
    fails("$HTTP[\"hots\"] == \"x\" {}\n", "t.conf:1: unknown condition $HTTP[\"hots\"]");
    fails("$FOO[\"url\"] == \"x\" {}\n", "t.conf:1: unknown condition $FOO[\"url\"]");
    fails("$SERVER[\"port\"] == \"x\" {}\n", "t.conf:1: unknown condition $SERVER[\"port\"]");
    fails("$REQUEST_HEADER[\"\"] == \"x\" {}\n",
          "t.conf:1: unknown condition $REQUEST_HEADER[\"\"]");
    fails("$HTTP[(\"url\")] == \"x\" {}\n",
          "t.conf:1: a condition name must be a string, not a list");
    fails("$HTTP[\"url\"] == 5 {}\n",
          "t.conf:1: the value a condition compares with must be a string");
    fails("$HTTP[\"url\"] == \"/\"\n{}\n",
          "t.conf:1: '{' must follow the condition on the same line");
    fails("$HTTP[\"url\"] \"/\" {}\n",
          "t.conf:1: expected a comparison (== != =~ !~ =^ =$), found string");
    fails("$HTTP[\"url\"] =! \"/\" {}\n",
          "t.conf:1: only == != =~ !~ =^ =$ are allowed in a condition");
    fails("$HTTP[\"url\"] !^ \"/\" {}\n",
          "t.conf:1: only == != =~ !~ =^ =$ are allowed in a condition");
    fails("$HTTP[\"url\"] == \"/\" { a = 1\n",
          "t.conf:2: missing '}' for the block opened on line 1");
    fails("$HTTP[\"url\"] == \"/\" a = 1\n",
          "t.conf:1: expected '{' after the condition, found name");
    fails("$9[\"url\"] == \"/\" {}\n", "t.conf:1: invalid character in condition");
    fails("$ == \"/\" {}\n", "t.conf:1: expected a condition name after '$', found '=='");
    fails("$HTTP \"url\" == \"/\" {}\n",
          "t.conf:1: expected '[' after the condition name, found string");
}

static void test_operators(void) {
    lux_conf_tree *t = load("$HTTP[\"url\"] == \"/a\" {}\n$HTTP[\"url\"] != \"/a\" {}\n"
                            "$HTTP[\"url\"] =~ \"^/a\" {}\n$HTTP[\"url\"] !~ \"^/a\" {}\n"
                            "$HTTP[\"url\"] =^ \"/a\" {}\n$HTTP[\"url\"] =$ \".a\" {}\n"
                            "if $HTTP[\"url\"] == \"/if\" {}\n");
    CHECK(t && t->nblocks == 8);
    if (t) {
        static const lux_cond_op want[] = {LUX_OP_EQ,      LUX_OP_NE,     LUX_OP_MATCH,
                                           LUX_OP_NOMATCH, LUX_OP_PREFIX, LUX_OP_SUFFIX,
                                           LUX_OP_EQ};
        for (size_t i = 0; i < 7; i++)
            CHECK_INT(t->blocks[i + 1]->op, want[i]);
        CHECK(t->blocks[3]->regex != NULL);
        CHECK(t->blocks[4]->regex != NULL);
        CHECK(t->blocks[1]->regex == NULL);
        CHECK_STR(t->blocks[6]->pattern, ".a");
        CHECK_INT(t->blocks[6]->pattern_len, 2);
    }
    lux_conf_free(t);
}

static void test_else_chains(void) {
    lux_conf_tree *t = load("$HTTP[\"host\"] == \"a\" { x = 1 }\n"
                            "else $HTTP[\"host\"] == \"b\" { x = 2 }\n"
                            "elif $HTTP[\"host\"] == \"c\" {}\n"
                            "elsif $HTTP[\"host\"] == \"d\" {}\n"
                            "elseif $HTTP[\"host\"] == \"e\" {}\n"
                            "else if $HTTP[\"url\"] == \"f\" {}\n"
                            "\n# comment between\n"
                            "else { x = 3 }\n"
                            "$HTTP[\"host\"] == \"z\" {} else {}\n");
    CHECK(t && t->nblocks == 10);
    if (t) {
        CHECK(t->blocks[1]->prev == NULL);
        for (size_t i = 2; i <= 7; i++)
            CHECK(t->blocks[i]->prev == t->blocks[i - 1]);
        const lux_conf_block *e = t->blocks[7];
        CHECK_INT(e->op, LUX_OP_NONE);
        CHECK_INT(e->field, LUX_COND_URL); /* the field of the chain's last condition */
        CHECK(e->parent == t->blocks[0]);
        CHECK_INT(num(lux_conf_block_get(e, "var.x")), 3);
        CHECK(t->blocks[9]->prev == t->blocks[8]);
        CHECK_INT(t->blocks[9]->field, LUX_COND_HOST);
    }
    lux_conf_free(t);
    fails("$HTTP[\"host\"] == \"a\" {} else {} else {}\n",
          "t.conf:1: unreachable condition: nothing can follow a plain 'else'");
    fails("$HTTP[\"host\"] == \"a\" {} else x = 1\n",
          "t.conf:1: expected a condition or '{' after else, found name");
    fails("$HTTP[\"host\"] == \"a\" {}\n$HTTP[\"url\"] == \"b\" {} else $HTTP[\"host\"] == \"a\" "
          "{}\n",
          "t.conf:2: unreachable else condition: the same condition is already used above");
}

static void test_nested_blocks(void) {
    lux_conf_tree *t = load("$HTTP[\"host\"] == \"a\" {\n  $HTTP[\"url\"] =^ \"/x\" {\n"
                            "    $HTTP[\"scheme\"] == \"https\" { k = 1 }\n  }\n"
                            "  $HTTP[\"url\"] =^ \"/y\" {}\n}\n");
    CHECK(t && t->nblocks == 5);
    if (t) {
        CHECK_INT(t->blocks[3]->depth, 3);
        CHECK(t->blocks[3]->parent == t->blocks[2]);
        CHECK(t->blocks[2]->parent == t->blocks[1]);
        CHECK(t->blocks[4]->parent == t->blocks[1]);
        for (size_t i = 0; i < t->nblocks; i++)
            CHECK_INT(t->blocks[i]->id, i);
        CHECK_STR(t->blocks[3]->file, "t.conf");
        CHECK_INT(t->blocks[3]->line, 3);
    }
    lux_conf_free(t);
}

static void test_repeated_condition(void) {
    /* lighttpd reopens the block of an identical condition in the same place */
    lux_conf_tree *t = load("m = (\"a\")\n$HTTP[\"host\"] == \"h\" { m += (\"b\") }\n"
                            "$HTTP[\"host\"] == \"h\" { m += (\"c\")\n k = 1 }\n");
    CHECK(t && t->nblocks == 2);
    CHECK(t && get(t, 1, "var.m")->u.arr.len == 3);
    lux_conf_free(t);
    fails("$HTTP[\"host\"] == \"h\" { k = 1 }\n$HTTP[\"host\"] == \"h\" { k = 2 }\n",
          "t.conf:2: var.k is already set in this block (use := to replace it)");
    /* the same condition nested elsewhere is another block */
    t = load("$HTTP[\"host\"] == \"h\" { k = 1 }\n"
             "$HTTP[\"url\"] =^ \"/\" { $HTTP[\"host\"] == \"h\" { k = 2 } }\n");
    CHECK(t && t->nblocks == 4);
    lux_conf_free(t);
}

static void test_global_block(void) {
    lux_conf_tree *t = load("$HTTP[\"host\"] == \"h\" {\n  global { g = 1 }\n  l = 2\n}\n"
                            "global {\n  x = g\n}\n");
    CHECK(t != NULL);
    CHECK_INT(num(get(t, 0, "var.g")), 1);
    CHECK_INT(num(get(t, 0, "var.x")), 1);
    CHECK_INT(num(get(t, 1, "var.l")), 2);
    CHECK(get(t, 1, "var.g") == NULL);
    lux_conf_free(t);
    fails("global {\n $HTTP[\"url\"] == \"/\" {}\n}\n",
          "t.conf:2: conditions are not allowed inside a global { } block");
    fails("global { global {} }\n", "t.conf:1: global { } blocks cannot be nested");
    fails("global = 1\n", "t.conf:1: expected '{' after global, found '='");
}

static void test_regex(void) {
    lux_conf_tree *t = load("$HTTP[\"url\"] =~ \"^/(\\w+)/(\\d+)?(x)?\" {}\n"
                            "$HTTP[\"url\"] !~ \"\\.php$\" {}\n");
    CHECK(t && t->nblocks == 3);
    if (t) {
        lux_cond_captures caps;
        const char *s = "/user/42/rest";
        CHECK_INT(lux_conf_cond_match(t->blocks[1], s, strlen(s), &caps), 1);
        CHECK_INT(caps.n, 3);
        CHECK(caps.ptr[0] == s && caps.len[0] == 8);
        CHECK(caps.ptr[1] == s + 1 && caps.len[1] == 4);
        CHECK(caps.ptr[2] == s + 6 && caps.len[2] == 2);
        CHECK_INT(lux_conf_cond_match(t->blocks[1], "nope", 4, &caps), 0);
        CHECK_INT(caps.n, 0);
        CHECK_INT(lux_conf_cond_match(t->blocks[2], "/a.php", 6, NULL), 0);
        CHECK_INT(lux_conf_cond_match(t->blocks[2], "/a.html", 7, NULL), 1);
    }
    lux_conf_free(t);
    fails("\n$HTTP[\"url\"] =~ \"(\" {}\n", "t.conf:2: invalid regex: missing closing parenthesis");
    fails("$HTTP[\"url\"] !~ \"[a\" {}\n",
          "t.conf:1: invalid regex: missing terminating ] for character class");
}

static void test_match_strings(void) {
    lux_conf_tree *t = load("$HTTP[\"url\"] == \"/a\" {}\n$HTTP[\"url\"] != \"/a\" {}\n"
                            "$HTTP[\"url\"] =^ \"/a\" {}\n$HTTP[\"url\"] =$ \".a\" {}\n"
                            "$HTTP[\"host\"] == \"WWW.Example.COM\" {}\n"
                            "$HTTP[\"url\"] == \"\" {} else {}\n");
    CHECK(t && t->nblocks == 8);
    if (!t)
        return;
    CHECK_INT(lux_conf_cond_match(t->blocks[1], "/a", 2, NULL), 1);
    CHECK_INT(lux_conf_cond_match(t->blocks[1], "/ab", 3, NULL), 0);
    CHECK_INT(lux_conf_cond_match(t->blocks[1], "/A", 2, NULL), 0);
    CHECK_INT(lux_conf_cond_match(t->blocks[2], "/a", 2, NULL), 0);
    CHECK_INT(lux_conf_cond_match(t->blocks[2], "/b", 2, NULL), 1);
    CHECK_INT(lux_conf_cond_match(t->blocks[3], "/abc", 4, NULL), 1);
    CHECK_INT(lux_conf_cond_match(t->blocks[3], "/", 1, NULL), 0);
    CHECK_INT(lux_conf_cond_match(t->blocks[4], "x.a", 3, NULL), 1);
    CHECK_INT(lux_conf_cond_match(t->blocks[4], "a", 1, NULL), 0);
    CHECK_INT(lux_conf_cond_match(t->blocks[4], "x.ab", 4, NULL), 0);
    /* hosts arrive lower-cased, so the rule is lower-cased when loaded */
    CHECK_STR(t->blocks[5]->pattern, "www.example.com");
    CHECK_INT(lux_conf_cond_match(t->blocks[5], "www.example.com", 15, NULL), 1);
    CHECK_INT(lux_conf_cond_match(t->blocks[6], "", 0, NULL), 1);
    CHECK_INT(lux_conf_cond_match(t->blocks[6], NULL, 0, NULL), 1);
    CHECK_INT(lux_conf_cond_match(t->blocks[7], "anything", 8, NULL), 1);
    lux_conf_free(t);
}

static void test_remote_ip(void) {
    lux_conf_tree *t = load("$HTTP[\"remote-ip\"] == \"10.0.0.0/8\" {}\n"
                            "$HTTP[\"remote-ip\"] != \"192.168.1.5\" {}\n"
                            "$HTTP[\"remote-ip\"] == \"2001:db8::/32\" {}\n"
                            "$HTTP[\"remote-ip\"] == \"[::1]\" {}\n"
                            "$HTTP[\"remote-ip\"] == \"::ffff:172.16.0.0/108\" {}\n"
                            "$HTTP[\"remote-ip\"] =~ \"^127\\.\" {}\n"
                            "$HTTP[\"remote-ip\"] == \"10.1.2.3/31\" {}\n");
    CHECK(t && t->nblocks == 8);
    if (!t)
        return;
    CHECK_INT(t->blocks[1]->cidr_bits, 8);
    CHECK_INT(t->blocks[1]->cidr_family, AF_INET);
    CHECK_INT(t->blocks[2]->cidr_bits, 32);
    CHECK_INT(t->blocks[3]->cidr_family, AF_INET6);
    CHECK_INT(t->blocks[3]->cidr_bits, 32);
    CHECK_INT(t->blocks[4]->cidr_bits, 128);
    CHECK_INT(t->blocks[5]->cidr_family, AF_INET); /* a v4-mapped rule is a v4 rule */
    CHECK_INT(t->blocks[5]->cidr_bits, 12);
    CHECK_INT(t->blocks[6]->cidr_bits, -1);

    struct sockaddr_in v4 = {.sin_family = AF_INET};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET, "10.200.3.4", &v4.sin_addr);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[1], (struct sockaddr *)&v4), 1);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[2], (struct sockaddr *)&v4), 1);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[3], (struct sockaddr *)&v4), 0);
    inet_pton(AF_INET, "11.0.0.1", &v4.sin_addr);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[1], (struct sockaddr *)&v4), 0);
    inet_pton(AF_INET, "192.168.1.5", &v4.sin_addr);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[2], (struct sockaddr *)&v4), 0);
    inet_pton(AF_INET, "10.1.2.2", &v4.sin_addr);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[7], (struct sockaddr *)&v4), 1);
    inet_pton(AF_INET, "10.1.2.4", &v4.sin_addr);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[7], (struct sockaddr *)&v4), 0);
    /* v4-mapped clients compare as IPv4 */
    inet_pton(AF_INET6, "::ffff:10.9.9.9", &v6.sin6_addr);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[1], (struct sockaddr *)&v6), 1);
    inet_pton(AF_INET6, "::ffff:172.16.5.5", &v6.sin6_addr);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[5], (struct sockaddr *)&v6), 1);
    inet_pton(AF_INET6, "2001:db8:1::7", &v6.sin6_addr);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[3], (struct sockaddr *)&v6), 1);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[1], (struct sockaddr *)&v6), 0);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[2], (struct sockaddr *)&v6), 1);
    inet_pton(AF_INET6, "::1", &v6.sin6_addr);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[4], (struct sockaddr *)&v6), 1);
    /* the string form works too, and regex rules see the text of the address */
    CHECK_INT(lux_conf_cond_match(t->blocks[1], "10.0.0.1", 8, NULL), 1);
    CHECK_INT(lux_conf_cond_match(t->blocks[1], "[::ffff:10.0.0.1]", 17, NULL), 1);
    CHECK_INT(lux_conf_cond_match(t->blocks[1], "garbage", 7, NULL), 0);
    inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[6], (struct sockaddr *)&v4), 1);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &v6.sin6_addr);
    CHECK_INT(lux_conf_cond_match_addr(t->blocks[6], (struct sockaddr *)&v6), 1);
    lux_conf_free(t);

    static const char *const bad[] = {"10.0.0.0/33", "10.0.0.0/0",  "10.0.0.0/",   "300.1.1.1",
                                      "::1/129",     "example.com", "10.0.0.0/8x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[200], want[200];
        snprintf(text, sizeof text, "$HTTP[\"remote-ip\"] == \"%s\" {}\n", bad[i]);
        snprintf(want, sizeof want,
                 "t.conf:1: invalid IP address or CIDR mask in $HTTP[\"remote-ip\"]: \"%s\"",
                 bad[i]);
        fails(text, want);
    }
}

static void test_socket(void) {
    lux_conf_tree *t = load("$SERVER[\"socket\"] == \":8080\" {}\n"
                            "$SERVER[\"socket\"] != \"127.0.0.1:80\" {}\n");
    CHECK(t && t->nblocks == 3);
    lux_conf_free(t);
    fails("$SERVER[\"socket\"] =~ \"80\" {}\n",
          "t.conf:1: $SERVER[\"socket\"] only supports == and !=");
    fails("$SERVER[\"socket\"] =^ \":\" {}\n",
          "t.conf:1: $SERVER[\"socket\"] only supports == and !=");
}

/* ---- files ---- */

static char dir[64];

static void put(const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static lux_conf_tree *load_main(const char *text) {
    char path[256];
    put("main.conf", text);
    snprintf(path, sizeof path, "%s/main.conf", dir);
    err[0] = '\0';
    lux_conf_tree *t = lux_conf_load_file(path, err, sizeof err);
    if (!t)
        fprintf(stderr, "  load failed: %s\n", err);
    return t;
}

static void main_fails(const char *text, const char *want_after_dir) {
    char path[256], want[512];
    put("main.conf", text);
    snprintf(path, sizeof path, "%s/main.conf", dir);
    snprintf(want, sizeof want, want_after_dir, dir, dir);
    err[0] = '\0';
    lux_conf_tree *t = lux_conf_load_file(path, err, sizeof err);
    CHECK(t == NULL);
    CHECK_STR(err, want);
    lux_conf_free(t);
}

static void test_include(void) {
    char sub[128];
    snprintf(sub, sizeof sub, "%s/conf.d", dir);
    CHECK(mkdir(sub, 0700) == 0);
    put("sub.conf", "server.port = 81\nsub += \"-sub\"\n");
    put("conf.d/20-b.conf", "order += \"b\"\n");
    put("conf.d/10-a.conf", "order += \"a\"\n");
    put("conf.d/30-c.txt", "order += \"NOT\"\n");
    put("block.conf", "inner = 1\n$HTTP[\"url\"] =^ \"/in\" { deeper = 2 }\n");
    lux_conf_tree *t = load_main("sub = \"main\"\ninclude \"sub.conf\"\norder = \"\"\n"
                                 "include \"conf.d/*.conf\"\ninclude \"none.d/*.conf\"\n"
                                 "name = \"block\"\n"
                                 "$HTTP[\"host\"] == \"h\" {\n  include name + \".conf\"\n}\n");
    CHECK(t != NULL);
    if (t) {
        CHECK_INT(num(get(t, 0, "server.port")), 81);
        CHECK_STR(str(get(t, 0, "var.sub")), "main-sub");
        CHECK_STR(str(get(t, 0, "var.order")), "ab");
        CHECK_INT(t->nblocks, 3);
        CHECK_INT(num(get(t, 1, "var.inner")), 1);
        CHECK_INT(num(get(t, 2, "var.deeper")), 2);
        CHECK(t->blocks[2]->parent == t->blocks[1]);
        const lux_conf_kv *kv = NULL;
        for (size_t i = 0; i < t->blocks[0]->nkvs; i++)
            if (strcmp(t->blocks[0]->kvs[i].key, "server.port") == 0)
                kv = &t->blocks[0]->kvs[i];
        CHECK(kv && strstr(kv->file, "/sub.conf") && kv->line == 1);
    }
    lux_conf_free(t);
    main_fails("include \"missing.conf\"\n",
               "%s/main.conf:1: include file not found: %s/missing.conf");
    put("broken.conf", "ok = 1\nbad = \n");
    main_fails("\ninclude \"broken.conf\"\n",
               "%s/broken.conf:2: expected a value, found end of line");
    put("loop.conf", "include \"loop.conf\"\n");
    err[0] = '\0';
    char path[256];
    snprintf(path, sizeof path, "%s/loop.conf", dir);
    CHECK(lux_conf_load_file(path, err, sizeof err) == NULL);
    CHECK(strstr(err, "includes nested more than 16 deep") != NULL);
    main_fails("include \"conf.d\"\n",
               "%s/main.conf:1: cannot read include file %s/conf.d: Is a directory");
    main_fails("include (\"x\")\n",
               "%s/main.conf:1: the include target must be a string, not a list");
    put("stray.conf", "}\n");
    main_fails("$HTTP[\"url\"] =^ \"/\" {\ninclude \"stray.conf\"\n}\n",
               "%s/stray.conf:1: '}' without a matching '{'");
    /* an included file cannot leave a block open either */
    put("open.conf", "$HTTP[\"url\"] =^ \"/\" {\n");
    main_fails("include \"open.conf\"\n",
               "%s/open.conf:2: missing '}' for the block opened on line 1");
}

static void test_include_relative_to_cwd(void) {
    /* ./ and ../ paths stand as written (relative to the working directory), as in lighttpd */
    char old[4096];
    CHECK(getcwd(old, sizeof old) != NULL);
    CHECK(chdir(dir) == 0);
    put("cwd.conf", "from_cwd = 1\n");
    lux_conf_tree *t = lux_conf_load_string("include \"./cwd.conf\"\n", 21, "/nonexistent/m.conf",
                                            err, sizeof err);
    CHECK(t != NULL);
    CHECK_INT(num(get(t, 0, "var.from_cwd")), 1);
    lux_conf_free(t);
    /* a name without a directory has includes relative to the working directory */
    t = lux_conf_load_string("include \"cwd.conf\"\n", 19, "m.conf", err, sizeof err);
    CHECK(t != NULL);
    lux_conf_free(t);
    CHECK(chdir(old) == 0);
}

static void test_include_shell(void) {
    put("shell.conf", "from_file = 1\n");
    lux_conf_tree *t =
        load_main("include_shell \"echo 'a = 1'; echo 'b = \\\"two\\\"'\"\n"
                  "$HTTP[\"url\"] =^ \"/\" {\n  include_shell \"cat shell.conf\"\n}\n"
                  "include_shell \"true\"\n");
    CHECK(t != NULL);
    CHECK_INT(num(get(t, 0, "var.a")), 1);
    CHECK_STR(str(get(t, 0, "var.b")), "two");
    CHECK_INT(num(get(t, 1, "var.from_file")), 1); /* ran in the config's directory */
    lux_conf_free(t);
    main_fails("include_shell \"exit 3\"\n",
               "%s/main.conf:1: include_shell \"exit 3\" exited with status 3");
    main_fails("include_shell \"echo 'x = '\"\n",
               "echo 'x = ':1: expected a value, found end of line");
    const char *text = "include_shell \"echo a = 1\"\n";
    err[0] = '\0';
    CHECK(lux_conf_load_string_flags(text, strlen(text), "t.conf", LUX_CONF_NO_SHELL, err,
                                     sizeof err) == NULL);
    CHECK_STR(err, "t.conf:1: include_shell is disabled here");
    text = "include \"x.conf\"\n";
    CHECK(lux_conf_load_string_flags(text, strlen(text), "t.conf", LUX_CONF_NO_INCLUDE, err,
                                     sizeof err) == NULL);
    CHECK_STR(err, "t.conf:1: include is disabled here");
}

static void test_load_file_errors(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/absent.conf", dir);
    err[0] = '\0';
    CHECK(lux_conf_load_file(path, err, sizeof err) == NULL);
    CHECK(strstr(err, "absent.conf: cannot read: No such file or directory") != NULL);
    /* a tiny error buffer is never overrun */
    char small[8];
    CHECK(lux_conf_load_string("a = ", 4, "t.conf", small, sizeof small) == NULL);
    CHECK_STR(small, "t.conf:");
    CHECK(lux_conf_load_string("a = ", 4, "t.conf", NULL, 0) == NULL);
}

/* ---- printing ---- */

static void check_roundtrip(const char *text) {
    lux_conf_tree *t = load(text);
    CHECK(t != NULL);
    if (!t)
        return;
    char *p1 = print_tree(t);
    lux_conf_tree *t2 = p1 ? load(p1) : NULL;
    CHECK(t2 != NULL);
    char *p2 = t2 ? print_tree(t2) : NULL;
    CHECK(p1 && p2 && strcmp(p1, p2) == 0);
    if (p1 && p2 && strcmp(p1, p2) != 0)
        fprintf(stderr, "  first:\n%s\n  second:\n%s\n", p1, p2);
    CHECK_INT(t2 ? t2->nblocks : 0, t->nblocks);
    free(p1);
    free(p2);
    lux_conf_free(t);
    lux_conf_free(t2);
}

static void test_print(void) {
    lux_conf_tree *t =
        load("server.port = 80\nserver.modules = ( \"mod_a\", \"mod_b\" )\n"
             "q = \"say \\\"x\\\" \\ y\"\n"
             "$HTTP[\"host\"] == \"a\" {\n  k = 1\n  $HTTP[\"useragent\"] =~ \"x\" {}\n}\n"
             "else {\n  e = ()\n}\n");
    CHECK(t != NULL);
    char *p = print_tree(t);
    CHECK_STR(p, "server.port = 80\n"
                 "server.modules = ( \"mod_a\", \"mod_b\" )\n"
                 "var.q = \"say \\\"x\\\" \\ y\"\n"
                 "$HTTP[\"host\"] == \"a\" {\n"
                 "    var.k = 1\n"
                 "    $REQUEST_HEADER[\"User-Agent\"] =~ \"x\" {\n"
                 "    }\n"
                 "}\n"
                 "else {\n"
                 "    var.e = ( )\n"
                 "}\n");
    free(p);
    lux_conf_free(t);
    t = load("var.PID := 1\n");
    p = print_tree(t);
    CHECK_STR(p, "var.PID := 1\n");
    free(p);
    lux_conf_free(t);
}

static void test_print_roundtrip(void) {
    check_roundtrip("a = 1\n");
    check_roundtrip("var.CWD := \"/elsewhere\"\nvar.PID += 1\n");
    check_roundtrip("s = \"q\\\"uote\" + \"back\\\\slash\\\\\\\"\" + \"multi\nline\" + \"\\n\"\n");
    check_roundtrip("m = ( \"a\" => ( \"b\" => ( \"c\", 1, () ) ), \"\" => \"empty key\", "
                    "\"long-long-long-long-key\" => \"long-long-long-long-long-long-value\" )\n");
    check_roundtrip("$HTTP[\"host\"] == \"A\" { x = 1 } else $HTTP[\"url\"] =~ \"(a)\" {\n"
                    "  $REQUEST_HEADER[\"X-Y\"] =$ \"\\\"\" { y = 2 }\n} else { z = 3 }\n"
                    "$HTTP[\"remote-ip\"] != \"10.0.0.0/8\" {}\n$PHYSICAL[\"existing-path\"] =^ "
                    "\"/x\" {}\n$HTTP[\"language\"] =~ \"de\" {}\n");
    /* an else attached to a reopened block is printed right after it */
    check_roundtrip("$HTTP[\"host\"] == \"a\" { a = 1 }\n$HTTP[\"url\"] == \"/z\" {}\n"
                    "$HTTP[\"host\"] == \"a\" { b = 2 } else { c = 3 }\n");
}

static void test_memory_cap(void) {
    char text[4096] = "a = \"0123456789abcdef0123456789abcdef\"\n";
    for (int i = 0; i < 40; i++)
        strcat(text, "a := a + a\n");
    fails_with(text, "configuration too large");
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/lux-conf-test-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_scalars);
    RUN(test_string_escapes);
    RUN(test_concat);
    RUN(test_arrays);
    RUN(test_nesting_limit);
    RUN(test_append);
    RUN(test_force_assign);
    RUN(test_duplicate_assign);
    RUN(test_variables);
    RUN(test_env);
    RUN(test_lines_and_comments);
    RUN(test_condition_fields);
    RUN(test_operators);
    RUN(test_else_chains);
    RUN(test_nested_blocks);
    RUN(test_repeated_condition);
    RUN(test_global_block);
    RUN(test_regex);
    RUN(test_match_strings);
    RUN(test_remote_ip);
    RUN(test_socket);
    RUN(test_include);
    RUN(test_include_relative_to_cwd);
    RUN(test_include_shell);
    RUN(test_load_file_errors);
    RUN(test_print);
    RUN(test_print_roundtrip);
    RUN(test_memory_cap);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    T_EXIT();
}
