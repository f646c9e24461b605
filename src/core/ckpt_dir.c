/* ckpt_dir.c: checkpoint directories, DONE markers and retention (see ckpt_dir.h).
 *
 * Implements: naming, the commit marker, finding the newest complete step, pruning.
 * Does not: know what files a checkpoint holds (train/ckpt.c writes those).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agora/alloc.h"
#include "agora/ckpt_dir.h"
#include "agora/stream.h"

#define STEP_FMT "step_%010" PRId64

agora_err agora_ckpt_dir_begin(const char *root, int64_t step, char *out, size_t len) {
    if (step < 0)
        return AGORA_EINVAL;
    int n = snprintf(out, len, "%s/" STEP_FMT, root, step);
    if (n < 0 || (size_t)n >= len)
        return AGORA_EOVERFLOW;
    AGORA_TRY(agora_mkdir_p(out));
    char done[4096];
    n = snprintf(done, sizeof done, "%s/DONE", out);
    if (n < 0 || (size_t)n >= sizeof done)
        return AGORA_EOVERFLOW;
    if (unlink(done) != 0 && errno != ENOENT)
        return AGORA_EIO;
    return AGORA_OK;
}

agora_err agora_ckpt_dir_commit(const char *dir) {
    char done[4096], err[AGORA_ERR_LEN];
    int n = snprintf(done, sizeof done, "%s/DONE", dir);
    if (n < 0 || (size_t)n >= sizeof done)
        return AGORA_EOVERFLOW;
    return agora_write_file_atomic(done, "ok\n", 3, err);
}

bool agora_ckpt_dir_is_done(const char *dir) {
    char done[4096];
    int n = snprintf(done, sizeof done, "%s/DONE", dir);
    if (n < 0 || (size_t)n >= sizeof done)
        return false;
    struct stat st;
    return stat(done, &st) == 0 && S_ISREG(st.st_mode);
}

/* Lists the step numbers under root, ascending; *done_out[i] says whether each is complete. */
static agora_err list_steps(const char *root, int64_t **steps_out, bool **done_out, size_t *n_out) {
    *steps_out = NULL;
    *done_out = NULL;
    *n_out = 0;
    DIR *d = opendir(root);
    if (d == NULL)
        return errno == ENOENT ? AGORA_ENOENT : AGORA_EIO;
    size_t n = 0, cap = 0;
    int64_t *steps = NULL;
    bool *done = NULL;
    agora_err rc = AGORA_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *s = e->d_name;
        if (strncmp(s, "step_", 5) != 0 || strlen(s) != 15 || strspn(s + 5, "0123456789") != 10)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *ns = agora_realloc(steps, cap * sizeof *ns);
            if (ns == NULL) {
                rc = AGORA_ENOMEM;
                break;
            }
            steps = ns;
            bool *nd = agora_realloc(done, cap * sizeof *nd);
            if (nd == NULL) {
                rc = AGORA_ENOMEM;
                break;
            }
            done = nd;
        }
        steps[n] = (int64_t)strtoll(s + 5, NULL, 10);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", root, s);
        done[n] = agora_ckpt_dir_is_done(path);
        n++;
    }
    closedir(d);
    if (rc != AGORA_OK) {
        agora_free(steps);
        agora_free(done);
        return rc;
    }
    /* insertion sort: checkpoint counts are small */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && steps[j - 1] > steps[j]; j--) {
            int64_t t = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = t;
            bool b = done[j];
            done[j] = done[j - 1];
            done[j - 1] = b;
        }
    *steps_out = steps;
    *done_out = done;
    *n_out = n;
    return AGORA_OK;
}

agora_err agora_ckpt_dir_latest(const char *root, char *out, size_t len, int64_t *step_out) {
    int64_t *steps;
    bool *done;
    size_t n;
    AGORA_TRY(list_steps(root, &steps, &done, &n));
    agora_err rc = AGORA_ENOENT;
    for (size_t i = n; i-- > 0;)
        if (done[i]) {
            int k = snprintf(out, len, "%s/" STEP_FMT, root, steps[i]);
            rc = k < 0 || (size_t)k >= len ? AGORA_EOVERFLOW : AGORA_OK;
            if (step_out != NULL)
                *step_out = steps[i];
            break;
        }
    agora_free(steps);
    agora_free(done);
    return rc;
}

static agora_err remove_dir(const char *path) {
    DIR *d = opendir(path);
    if (d == NULL)
        return AGORA_EIO;
    struct dirent *e;
    char f[8192];
    /* DONE goes first, so a half-removed checkpoint is never taken for a complete one */
    int n = snprintf(f, sizeof f, "%s/DONE", path);
    if (n > 0 && (size_t)n < sizeof f)
        unlink(f);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n = snprintf(f, sizeof f, "%s/%s", path, e->d_name);
        if (n > 0 && (size_t)n < sizeof f)
            unlink(f);
    }
    closedir(d);
    return rmdir(path) == 0 ? AGORA_OK : AGORA_EIO;
}

agora_err agora_ckpt_dir_prune(const char *root, size_t keep) {
    int64_t *steps;
    bool *done;
    size_t n;
    AGORA_TRY(list_steps(root, &steps, &done, &n));
    size_t seen = 0;
    bool have_complete = false;
    agora_err rc = AGORA_OK;
    for (size_t i = n; i-- > 0;) {
        bool drop;
        if (done[i]) {
            seen++;
            drop = keep > 0 && seen > keep;
            have_complete = true;
        } else {
            drop = have_complete; /* an abandoned write older than a complete checkpoint */
        }
        if (drop) {
            char path[4096];
            snprintf(path, sizeof path, "%s/" STEP_FMT, root, steps[i]);
            if (remove_dir(path) != AGORA_OK)
                rc = AGORA_EIO;
        }
    }
    agora_free(steps);
    agora_free(done);
    return rc;
}
