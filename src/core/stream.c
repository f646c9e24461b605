/* stream.c: file, memory and atomic-file streams, and whole-file helpers.
 *
 * Implements: the stream ops dispatch, atomic files (tmp, fsync, rename, fsync of the
 * directory), mkdir -p and the I/O failure hook for tests.
 * Does not: know any file format (safetensors.c and friends sit on top).
 */
#include "agora/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agora/alloc.h"

struct agora_stream {
    agora_stream_ops ops;
    void *user;
    uint64_t offset;
    agora_err sticky; /* first error; later writes fail fast */
};

static _Atomic int64_t g_io_fail_after = -1;

void agora_io_fail_after(int64_t n) {
    atomic_store(&g_io_fail_after, n);
}

/* io_should_fail counts one durable-write step for the test hook. */
static bool io_should_fail(void) {
#ifdef AGORA_TESTING
    int64_t n = atomic_load(&g_io_fail_after);
    if (n < 0)
        return false;
    atomic_store(&g_io_fail_after, n - 1);
    return n == 0;
#else
    return false;
#endif
}

agora_err agora_stream_create(const agora_stream_ops *ops, void *user, agora_stream **out) {
    if (ops == NULL || ops->size != sizeof(agora_stream_ops))
        return AGORA_EINVAL;
    agora_stream *s = agora_calloc(1, sizeof *s);
    if (s == NULL)
        return AGORA_ENOMEM;
    s->ops = *ops;
    s->user = user;
    *out = s;
    return AGORA_OK;
}

agora_err agora_stream_write(agora_stream *s, const void *buf, size_t n) {
    if (s->sticky != AGORA_OK)
        return s->sticky;
    if (s->ops.write == NULL)
        return AGORA_EUNSUPPORTED;
    agora_err rc = s->ops.write(s->user, buf, n);
    if (rc != AGORA_OK)
        s->sticky = rc;
    else
        s->offset += n;
    return rc;
}

agora_err agora_stream_read(agora_stream *s, void *buf, size_t n) {
    if (s->ops.read == NULL)
        return AGORA_EUNSUPPORTED;
    agora_err rc = s->ops.read(s->user, buf, n);
    if (rc == AGORA_OK)
        s->offset += n;
    return rc;
}

uint64_t agora_stream_offset(const agora_stream *s) {
    return s->offset;
}

void agora_stream_close(agora_stream *s) {
    if (s == NULL)
        return;
    if (s->ops.close != NULL)
        s->ops.close(s->user);
    agora_free(s);
}

// ---- files ----

typedef struct file_user {
    FILE *f;
    char *path;     /* final path (atomic) or NULL */
    char *tmp_path; /* path.tmp (atomic) or NULL */
    bool committed;
} file_user;

static agora_err file_write(void *user, const void *buf, size_t n) {
    file_user *u = user;
    if (io_should_fail())
        return AGORA_EIO;
    return fwrite(buf, 1, n, u->f) == n ? AGORA_OK : AGORA_EIO;
}

static agora_err file_read(void *user, void *buf, size_t n) {
    file_user *u = user;
    size_t got = fread(buf, 1, n, u->f);
    if (got == n)
        return AGORA_OK;
    return ferror(u->f) ? AGORA_EIO : AGORA_ETRUNCATED;
}

static void file_close(void *user) {
    file_user *u = user;
    if (u->f != NULL)
        fclose(u->f);
    if (u->tmp_path != NULL && !u->committed)
        unlink(u->tmp_path);
    agora_free(u->path);
    agora_free(u->tmp_path);
    agora_free(u);
}

static const agora_stream_ops k_file_ops = {sizeof(agora_stream_ops), file_write, file_read,
                                            file_close};

static agora_err errno_to_err(int e) {
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return AGORA_ENOENT;
    case EEXIST:
        return AGORA_EEXIST;
    case ENOMEM:
        return AGORA_ENOMEM;
    default:
        return AGORA_EIO;
    }
}

agora_err agora_stream_open_read(const char *path, agora_stream **out) {
    file_user *u = agora_calloc(1, sizeof *u);
    if (u == NULL)
        return AGORA_ENOMEM;
    u->f = fopen(path, "rb");
    if (u->f == NULL) {
        agora_err rc = errno_to_err(errno);
        agora_free(u);
        return rc;
    }
    agora_err rc = agora_stream_create(&k_file_ops, u, out);
    if (rc != AGORA_OK)
        file_close(u);
    return rc;
}

agora_err agora_stream_open_atomic(const char *path, agora_stream **out) {
    file_user *u = agora_calloc(1, sizeof *u);
    if (u == NULL)
        return AGORA_ENOMEM;
    size_t n = strlen(path);
    u->path = agora_strdup(path);
    u->tmp_path = agora_malloc(n + 5);
    if (u->path == NULL || u->tmp_path == NULL) {
        file_close(u);
        return AGORA_ENOMEM;
    }
    memcpy(u->tmp_path, path, n);
    memcpy(u->tmp_path + n, ".tmp", 5);
    u->f = fopen(u->tmp_path, "wb");
    if (u->f == NULL) {
        agora_err rc = errno_to_err(errno);
        agora_free(u->tmp_path);
        u->tmp_path = NULL; /* nothing to unlink */
        file_close(u);
        return rc;
    }
    agora_err rc = agora_stream_create(&k_file_ops, u, out);
    if (rc != AGORA_OK)
        file_close(u);
    return rc;
}

agora_err agora_fsync_parent(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return errno_to_err(errno);
    int r = fsync(fd);
    close(fd);
    return r == 0 ? AGORA_OK : AGORA_EIO;
}

agora_err agora_stream_commit(agora_stream *s) {
    if (s->ops.close != file_close)
        return AGORA_OK; /* memory and custom streams have nothing to make durable */
    file_user *u = s->user;
    if (u->tmp_path == NULL || u->committed)
        return AGORA_EINVAL;
    if (s->sticky != AGORA_OK)
        return s->sticky;
    if (fflush(u->f) != 0 || io_should_fail() || fsync(fileno(u->f)) != 0)
        return AGORA_EIO;
    if (fclose(u->f) != 0) {
        u->f = NULL;
        return AGORA_EIO;
    }
    u->f = NULL;
    if (io_should_fail() || rename(u->tmp_path, u->path) != 0)
        return AGORA_EIO;
    u->committed = true;
    return agora_fsync_parent(u->path);
}

// ---- memory ----

typedef struct mem_user {
    unsigned char *p;
    const unsigned char *rp;
    size_t len, cap, pos;
} mem_user;

static agora_err mem_write(void *user, const void *buf, size_t n) {
    mem_user *m = user;
    if (n > SIZE_MAX - m->len)
        return AGORA_EOVERFLOW;
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n)
            cap = cap > SIZE_MAX / 2 ? m->len + n : cap * 2;
        unsigned char *np = agora_realloc(m->p, cap);
        if (np == NULL)
            return AGORA_ENOMEM;
        m->p = np;
        m->cap = cap;
    }
    memcpy(m->p + m->len, buf, n);
    m->len += n;
    return AGORA_OK;
}

static agora_err mem_read(void *user, void *buf, size_t n) {
    mem_user *m = user;
    const unsigned char *src = m->rp ? m->rp : m->p;
    if (n > m->len - m->pos)
        return AGORA_ETRUNCATED;
    memcpy(buf, src + m->pos, n);
    m->pos += n;
    return AGORA_OK;
}

static void mem_close(void *user) {
    mem_user *m = user;
    agora_free(m->p);
    agora_free(m);
}

static const agora_stream_ops k_mem_ops = {sizeof(agora_stream_ops), mem_write, mem_read,
                                           mem_close};

agora_err agora_stream_open_mem(agora_stream **out) {
    mem_user *m = agora_calloc(1, sizeof *m);
    if (m == NULL)
        return AGORA_ENOMEM;
    agora_err rc = agora_stream_create(&k_mem_ops, m, out);
    if (rc != AGORA_OK)
        mem_close(m);
    return rc;
}

agora_err agora_stream_open_mem_read(const void *data, size_t len, agora_stream **out) {
    mem_user *m = agora_calloc(1, sizeof *m);
    if (m == NULL)
        return AGORA_ENOMEM;
    m->rp = data;
    m->len = len;
    agora_err rc = agora_stream_create(&k_mem_ops, m, out);
    if (rc != AGORA_OK)
        mem_close(m);
    return rc;
}

const void *agora_stream_mem_data(const agora_stream *s, size_t *len_out) {
    if (s->ops.close != mem_close)
        return NULL;
    const mem_user *m = s->user;
    *len_out = m->len;
    return m->rp ? (const void *)m->rp : (const void *)m->p;
}

// ---- whole files ----

agora_err agora_read_file(const char *path, size_t max_len, char **buf_out, size_t *len_out,
                          char err[AGORA_ERR_LEN]) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        if (err)
            snprintf(err, AGORA_ERR_LEN, "%s: cannot open: %s", path, strerror(e));
        return errno_to_err(e);
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    agora_err rc = AGORA_OK;
    /* A regular file gets its size (plus one byte to see EOF) up front: no doubling, so a
     * large file costs its size, not up to twice it. The loop still handles a file that
     * grows meanwhile, and pipes or /proc files without a size. */
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        (uint64_t)sb.st_size <= max_len) {
        cap = (size_t)sb.st_size + 1;
        buf = agora_malloc(cap + 1);
        if (buf == NULL) {
            fclose(f);
            return AGORA_ENOMEM;
        }
    }
    for (;;) {
        if (len == cap) {
            if (cap > max_len) {
                if (err)
                    snprintf(err, AGORA_ERR_LEN, "%s: larger than the %zu-byte limit", path,
                             max_len);
                rc = AGORA_EOVERFLOW;
                break;
            }
            cap = cap ? cap * 2 : 4096;
            char *nb = agora_realloc(buf, cap + 1);
            if (nb == NULL) {
                rc = AGORA_ENOMEM;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                if (err)
                    snprintf(err, AGORA_ERR_LEN, "%s: read error", path);
                rc = AGORA_EIO;
            }
            break;
        }
    }
    fclose(f);
    if (rc == AGORA_OK && len > max_len) {
        if (err)
            snprintf(err, AGORA_ERR_LEN, "%s: larger than the %zu-byte limit", path, max_len);
        rc = AGORA_EOVERFLOW;
    }
    if (rc != AGORA_OK) {
        agora_free(buf);
        return rc;
    }
    if (buf == NULL) {
        buf = agora_malloc(1);
        if (buf == NULL)
            return AGORA_ENOMEM;
    }
    buf[len] = '\0';
    *buf_out = buf;
    *len_out = len;
    return AGORA_OK;
}

agora_err agora_write_file_atomic(const char *path, const void *data, size_t len,
                                  char err[AGORA_ERR_LEN]) {
    agora_stream *s = NULL;
    agora_err rc = agora_stream_open_atomic(path, &s);
    if (rc == AGORA_OK)
        rc = agora_stream_write(s, data, len);
    if (rc == AGORA_OK)
        rc = agora_stream_commit(s);
    agora_stream_close(s);
    if (rc != AGORA_OK && err != NULL)
        snprintf(err, AGORA_ERR_LEN, "%s: atomic write failed: %s", path, agora_err_str(rc));
    return rc;
}

agora_err agora_mkdir_p(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return AGORA_EINVAL;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return errno_to_err(errno);
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return AGORA_EEXIST;
    return AGORA_OK;
}
