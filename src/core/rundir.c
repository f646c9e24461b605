/* rundir.c: run directory creation and its config and meta files. */
#include "agora/rundir.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/json.h"
#include "agora/stream.h"
#include "agora/time.h"

agora_err agora_rundir_create(const char *path, const char *prefix, char *out, size_t len,
                              char err[AGORA_ERR_LEN]) {
    if (path != NULL && path[0] != '\0') {
        snprintf(out, len, "%s", path);
    } else {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        snprintf(out, len, "runs/%s-%s-%ld", prefix, stamp, (long)getpid());
    }
    agora_err rc = agora_mkdir_p(out);
    if (rc != AGORA_OK && err != NULL)
        snprintf(err, AGORA_ERR_LEN, "%s: cannot create run directory: %s", out, agora_err_str(rc));
    return rc;
}

agora_err agora_rundir_write_config(const char *dir, const char *src_path, const agora_cfg_table *t,
                                    size_t nt, char err[AGORA_ERR_LEN]) {
    char path[4096];
    if (src_path != NULL) {
        char *buf = NULL;
        size_t len = 0;
        AGORA_TRY(agora_read_file(src_path, 1u << 20, &buf, &len, err));
        snprintf(path, sizeof path, "%s/config.ini", dir);
        agora_err rc = agora_write_file_atomic(path, buf, len, err);
        agora_free(buf);
        AGORA_TRY(rc);
    }
    char *text = NULL;
    AGORA_TRY(agora_cfg_format(t, nt, &text));
    char head[96];
    int hn = snprintf(head, sizeof head, "# agora effective config, hash %016llx\n\n",
                      (unsigned long long)agora_cfg_hash(t, nt));
    size_t tl = strlen(text);
    char *all = agora_malloc((size_t)hn + tl + 1);
    if (all == NULL) {
        agora_free(text);
        return AGORA_ENOMEM;
    }
    memcpy(all, head, (size_t)hn);
    memcpy(all + hn, text, tl + 1);
    snprintf(path, sizeof path, "%s/config.effective.ini", dir);
    agora_err rc = agora_write_file_atomic(path, all, (size_t)hn + tl, err);
    agora_free(all);
    agora_free(text);
    return rc;
}

agora_err agora_rundir_write_meta(const char *dir, uint64_t seed, int threads, int argc,
                                  char **argv, char err[AGORA_ERR_LEN]) {
    agora_jw w;
    agora_jw_init(&w);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char when[40];
    agora_wall_iso8601(when, sizeof when);
    agora_jw_obj_begin(&w);
    agora_jw_key(&w, "agora_version");
    agora_jw_str(&w, agora_version_string());
    agora_jw_key(&w, "seed");
    agora_jw_u64(&w, seed);
    agora_jw_key(&w, "threads");
    agora_jw_i64(&w, threads);
    agora_jw_key(&w, "host");
    agora_jw_str(&w, host);
    agora_jw_key(&w, "pid");
    agora_jw_i64(&w, (int64_t)getpid());
    agora_jw_key(&w, "start_time");
    agora_jw_str(&w, when);
    agora_jw_key(&w, "argv");
    agora_jw_arr_begin(&w);
    for (int i = 0; i < argc; i++)
        agora_jw_str(&w, argv[i]);
    agora_jw_arr_end(&w);
    agora_jw_obj_end(&w);
    agora_err rc = agora_jw_status(&w);
    if (rc == AGORA_OK) {
        char path[4096];
        snprintf(path, sizeof path, "%s/meta.json", dir);
        rc = agora_write_file_atomic(path, w.buf, w.len, err);
    }
    agora_jw_fini(&w);
    return rc;
}
