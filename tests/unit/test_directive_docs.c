/*
 * Every directive lux's modules accept is documented in a directive table of
 * docs/configuration.md or docs/modules.md, the tables lux.conf(5) is generated from, and every
 * directive those tables name is one lux accepts. Run from the repository's top directory (as
 * tests/run does).
 */
#include "core/gen.h"

#include "t.h"

#include <ctype.h>
#include <stdlib.h>
#include <strings.h>

static const char *const doc_files[] = {"docs/configuration.md", "docs/modules.md"};

typedef struct {
    char **names;
    size_t n, cap;
} name_set;

static void add_name(name_set *s, const char *name, size_t len) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->names = realloc(s->names, s->cap * sizeof *s->names);
        if (!s->names)
            abort();
    }
    s->names[s->n] = strndup(name, len);
    if (!s->names[s->n])
        abort();
    s->n++;
}

static int has_name(const name_set *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->names[i], name) == 0)
            return 1;
    return 0;
}

/* The first cell of a table row, "| x | ..." -> "x" (pointer and length, trimmed). */
static const char *first_cell(const char *line, size_t *len) {
    const char *p = line + 1;
    while (*p == ' ')
        p++;
    const char *end = strchr(p, '|');
    if (!end)
        end = p + strlen(p);
    while (end > p && end[-1] == ' ')
        end--;
    *len = (size_t)(end - p);
    return p;
}

static int is_directive_header(const char *line) {
    size_t len;
    const char *cell = first_cell(line, &len);
    return len == 9 && strncasecmp(cell, "directive", 9) == 0;
}

/* Each `name.with-dot` in a row's first cell: "`server.username`, `server.groupname`". */
static void add_row_names(name_set *s, const char *line) {
    size_t len;
    const char *cell = first_cell(line, &len);
    const char *end = cell + len;
    for (const char *p = cell; p < end; p++) {
        if (*p != '`')
            continue;
        const char *q = memchr(p + 1, '`', (size_t)(end - p - 1));
        if (!q)
            break;
        if (memchr(p + 1, '.', (size_t)(q - p - 1)))
            add_name(s, p + 1, (size_t)(q - p - 1));
        p = q;
    }
}

static int read_documented(name_set *s, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "  cannot open %s (run from the repository's top directory)\n", path);
        return -1;
    }
    char line[8192];
    int in_table = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] != '|')
            in_table = 0;
        else if (is_directive_header(line))
            in_table = 1;
        else if (in_table && strncmp(line, "| `", 3) == 0)
            add_row_names(s, line);
    }
    fclose(f);
    return 0;
}

static int lux_accepts(const char *name) {
    for (const lux_module *const *m = lux_builtin_modules; *m; m++)
        for (const lux_directive *d = (*m)->directives; d && d->name; d++)
            if (strcasecmp(d->name, name) == 0)
                return 1;
    return 0;
}

static name_set documented;

static void test_every_directive_is_documented(void) {
    for (const lux_module *const *m = lux_builtin_modules; *m; m++)
        for (const lux_directive *d = (*m)->directives; d && d->name; d++)
            if (!has_name(&documented, d->name)) {
                fprintf(stderr, "  %s (%s) is in no directive table of the docs\n", d->name,
                        (*m)->name);
                t_failed_now = 1;
            }
}

static void test_every_documented_directive_exists(void) {
    CHECK(documented.n > 100);
    for (size_t i = 0; i < documented.n; i++)
        if (!lux_accepts(documented.names[i])) {
            fprintf(stderr, "  %s is documented but no module of lux's accepts it\n",
                    documented.names[i]);
            t_failed_now = 1;
        }
}

int main(void) {
    for (size_t i = 0; i < sizeof doc_files / sizeof doc_files[0]; i++)
        if (read_documented(&documented, doc_files[i]) < 0)
            return 1;
    RUN(test_every_directive_is_documented);
    RUN(test_every_documented_directive_exists);
    for (size_t i = 0; i < documented.n; i++)
        free(documented.names[i]);
    free(documented.names);
    T_EXIT();
}
