/* The modules the test binary (build/lux-test) links in beside lux's own. */
#include "core/gen.h"

extern const lux_module lux_mod_test_stream;

const lux_module *const lux_extra_modules[] = {
    &lux_mod_test_stream,
    NULL,
};
