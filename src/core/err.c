/* err.c: error names and messages, generated from AGORA_ERR_LIST. */
#include "agora/err.h"

#include "agora/log.h"

const char *agora_err_name(agora_err e) {
    switch (e) {
#define AGORA__ERR_NAME(name, val, msg)                                                            \
    case AGORA_##name:                                                                             \
        return "AGORA_" #name;
        AGORA_ERR_LIST(AGORA__ERR_NAME)
#undef AGORA__ERR_NAME
    case AGORA__ERR_COUNT:
        break;
    }
    return "AGORA_E???";
}

const char *agora_err_str(agora_err e) {
    switch (e) {
#define AGORA__ERR_STR(name, val, msg)                                                             \
    case AGORA_##name:                                                                             \
        return msg;
        AGORA_ERR_LIST(AGORA__ERR_STR)
#undef AGORA__ERR_STR
    case AGORA__ERR_COUNT:
        break;
    }
    return "unknown error";
}

void agora_err_trace(agora_err e, const char *file, int line) {
    AGORA_LOG_DEBUG(AGORA_SUB_CORE, "-> %s at %s:%d", agora_err_name(e), file, line);
}

const char *agora_version_string(void) {
#ifdef AGORA_VERSION_STRING
    return AGORA_VERSION_STRING;
#else
    return "0.1.0";
#endif
}
