/* Per-request module slots: allocated on first use, so requests that need none pay nothing. */
#include <string.h>

#include "core/gen.h"
#include "core/pool.h"
#include "lux/req.h"

void **lux_req_mod_data(lux_req *r, const lux_module *m) {
    int i = lux_gen_module_index(r->gen, m);
    if (i < 0)
        return NULL;
    if (!r->mod_data) {
        size_t n = r->gen->nmodules;
        r->mod_data = lux_pool_alloc(r->pool, n * sizeof *r->mod_data);
        if (!r->mod_data)
            return NULL;
        memset(r->mod_data, 0, n * sizeof *r->mod_data);
    }
    return &r->mod_data[i];
}
