/* fuzz_wire.c: the frame decoder and every control-message reader must reject any input
 * cleanly: no crash, no read past the buffer, no allocation sized by the input beyond the
 * per-type bound. */
#include <stdint.h>
#include <string.h>

#include "comm/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    agora_frame_hdr h;
    const uint8_t *payload = NULL;
    agora_err rc = agora__frame_parse(data, size, &h, &payload);
    if (rc == AGORA_OK) {
        if (h.length > agora__wire_max_len(h.type) || size != AGORA_WIRE_HDR + h.length)
            __builtin_trap(); /* bounds must hold for every accepted frame */
    }
    /* Walk the payload (or the raw input) with every reader the protocol uses. */
    const uint8_t *p = rc == AGORA_OK ? payload : data;
    size_t n = rc == AGORA_OK ? h.length : size;
    agora_rbuf r = {p, n, 0, false};
    char name[64];
    while (!r.bad && r.off < r.len) {
        switch (agora__r_u8(&r) % 6) {
        case 0:
            (void)agora__r_u16(&r);
            break;
        case 1:
            (void)agora__r_u32(&r);
            break;
        case 2:
            (void)agora__r_u64(&r);
            break;
        case 3:
            agora__r_str(&r, name, sizeof name);
            break;
        case 4: {
            uint8_t mac[32];
            agora__r_bytes(&r, mac, sizeof mac);
            break;
        }
        default:
            break;
        }
        if (r.off > r.len)
            __builtin_trap();
    }
    (void)agora__r_done(&r);
    return 0;
}
