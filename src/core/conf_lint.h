/*
 * `lux --lint`: findings about a configuration that loads, one line each as
 * "file:line: kind: message". The kinds:
 *   deprecated  a name lighttpd deprecated, with what replaced it
 *   ignored     accepted but without effect in lux (LUX_D_IGNORED, or a global-only directive
 *               set inside a condition)
 *   duplicate   a key set twice in one block, or an element listed twice in one list
 *   shadowed    a condition that repeats an earlier identical one at the same level, or a key
 *               whose earlier value in that repeated block can never apply
 *   differs     a directive lux reads differently from lighttpd (the table in
 *               docs/coming-from-lighttpd.md)
 */
#ifndef LUX_CONF_LINT_H
#define LUX_CONF_LINT_H

#include <stdio.h>

/* Lint the file at path, writing findings to out and a load error (if any) to err. Returns the
 * number of findings, or -1 when the configuration does not load. */
long lux_conf_lint(const char *path, FILE *out, FILE *err);

#endif
