/* strbuf.c: the growable text buffer of agora/strbuf.h. */
#include "agora/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/stream.h"

void agora_sbuf_printf(agora_sbuf *b, const char *fmt, ...) {
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) {
        b->oom = true; /* an encoding error: treat the text as lost */
        return;
    }
    if (b->len + (size_t)need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + (size_t)need + 1)
            cap *= 2;
        char *np = agora_realloc(b->p, cap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

void agora_sbuf_free(agora_sbuf *b) {
    agora_free(b->p);
    memset(b, 0, sizeof *b);
}

agora_err agora_sbuf_take(agora_sbuf *b, char **text_out) {
    if (b->oom) {
        agora_sbuf_free(b);
        return AGORA_ENOMEM;
    }
    if (b->p == NULL) {
        b->p = agora_malloc(1);
        if (b->p == NULL)
            return AGORA_ENOMEM;
        b->p[0] = '\0';
    }
    *text_out = b->p;
    memset(b, 0, sizeof *b);
    return AGORA_OK;
}

agora_err agora_sbuf_write(agora_sbuf *b, const char *path, char err[AGORA_ERR_LEN]) {
    agora_err rc = AGORA_ENOMEM;
    if (!b->oom)
        rc = agora_write_file_atomic(path, b->p ? b->p : "", b->len, err);
    else if (err != NULL)
        snprintf(err, AGORA_ERR_LEN, "%s: out of memory while formatting", path);
    agora_sbuf_free(b);
    return rc;
}
