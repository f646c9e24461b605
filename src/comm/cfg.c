/* cfg.c: the [comm] config table (one place for every comm setting; docs/comm.md). */
#include <stddef.h>

#include "agora/comm.h"

static const char *const k_codecs[] = {"f32", "int8-lut", "minmax-uint8", "e3m0", NULL};
static const char *const k_data_auth[] = {"auto", "mac", "checksum", NULL};

static const agora_cfg_entry k_comm_cfg[] = {
    AGORA_CFG_STR(agora_comm_cfg, "comm.master", master, "127.0.0.1", "host of the coordinator"),
    AGORA_CFG_INT(agora_comm_cfg, "comm.port", port, 0, 0, 65535,
                  "coordinator port (master: 0 binds any free port, written to master.port)"),
    AGORA_CFG_STR(agora_comm_cfg, "comm.bind", bind, "127.0.0.1",
                  "address this process listens on (master: peers; node: ring links; 0.0.0.0: "
                  "every interface, advertised as the address the coordinator sees)"),
    AGORA_CFG_INT(agora_comm_cfg, "comm.p2p_port", p2p_port, 0, 0, 65535,
                  "node: port for ring links and shared-state pulls (0: any free port)"),
    AGORA_CFG_STR(agora_comm_cfg, "comm.key_file", key_file, "",
                  "file holding the cluster secret (required)"),
    AGORA_CFG_INT(agora_comm_cfg, "comm.heartbeat_interval_ms", heartbeat_interval_ms, 500, 10,
                  60000, "peers send a heartbeat this often"),
    AGORA_CFG_INT(agora_comm_cfg, "comm.heartbeat_timeout_ms", heartbeat_timeout_ms, 5000, 50,
                  3600000, "the master evicts a peer silent for this long"),
    AGORA_CFG_INT(agora_comm_cfg, "comm.phase_timeout_ms", phase_timeout_ms, 30000, 100, 3600000,
                  "the master fails a topology change not confirmed in this time"),
    AGORA_CFG_INT(agora_comm_cfg, "comm.connect_timeout_ms", connect_timeout_ms, 10000, 100,
                  3600000, "peer: connect and authenticate within this time"),
    AGORA_CFG_INT(agora_comm_cfg, "comm.pool_size", pool_size, 1, 1, 64,
                  "parallel TCP streams per ring neighbour"),
    AGORA_CFG_ENUM(agora_comm_cfg, "comm.codec", codec, "int8-lut", k_codecs,
                   "all-reduce wire codec"),
    AGORA_CFG_INT(agora_comm_cfg, "comm.collective_timeout_ms", collective_timeout_ms, 600000, 10,
                  86400000, "deadline of one all-reduce"),
    AGORA_CFG_INT(agora_comm_cfg, "comm.rejoin_timeout_ms", rejoin_timeout_ms, 0, 0, 86400000,
                  "node: after losing the coordinator, checkpoint and try to reconnect this long "
                  "(a restarted coordinator), then continue; 0: stop"),
    AGORA_CFG_STR(agora_comm_cfg, "comm.standby", standby, "",
                  "node: HOST:PORT of a standby coordinator, tried in turn with the coordinator "
                  "while rejoining (needs comm.rejoin_timeout_ms); empty: none"),
    AGORA_CFG_INT(agora_comm_cfg, "comm.standby_takeover_ms", standby_takeover_ms, 3000, 100,
                  3600000,
                  "standby master: take over once the coordinator has been unreachable this long"),
    AGORA_CFG_ENUM(agora_comm_cfg, "comm.data_auth", data_auth, "auto", k_data_auth,
                   "coordinator: ring data frames carry a MAC (mac), an XXH3 checksum only "
                   "(checksum), or a MAC unless every member is on this host (auto)"),
    AGORA_CFG_DBL(agora_comm_cfg, "comm.rate_limit_mbps", rate_limit_mbps, 0.0, 0.0, 1e6,
                  "cap on each peer's outgoing P2P data in Mbit/s (token bucket over all ring "
                  "streams, shared-state serving and link measurement); 0: unlimited"),
};

agora_cfg_table agora_comm_cfg_table(agora_comm_cfg *cfg) {
    agora_cfg_table t = {k_comm_cfg, sizeof k_comm_cfg / sizeof k_comm_cfg[0], cfg};
    return t;
}
