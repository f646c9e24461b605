/* safetensors.c: the safetensors reader and writer (see include/agora/safetensors.h).
 *
 * Implements: header parsing with every field checked, tensor lookup, shape-checked f32
 * reads, and writing an image to any agora_stream (atomic files through agora_st_save).
 * Does not: know model tensor names (train/ckpt.c does) or convert dtypes.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agora/alloc.h"
#include "agora/json.h"
#include "agora/safetensors.h"

struct agora_st_file {
    unsigned char *buf; /* the whole image */
    size_t len;
    const unsigned char *data; /* start of the data section */
    uint64_t data_len;
    agora_st_tensor *tensors;
    size_t n;
    char **meta; /* 2*n_meta strings */
    size_t n_meta;
    char *names; /* all tensor names, NUL-separated */
};

static const struct {
    const char *name;
    size_t size;
} k_dtypes[] = {
    [AGORA_ST_F32] = {"F32", 4}, [AGORA_ST_F16] = {"F16", 2}, [AGORA_ST_BF16] = {"BF16", 2},
    [AGORA_ST_F64] = {"F64", 8}, [AGORA_ST_I32] = {"I32", 4}, [AGORA_ST_I64] = {"I64", 8},
    [AGORA_ST_U8] = {"U8", 1},   [AGORA_ST_I8] = {"I8", 1},   [AGORA_ST_U16] = {"U16", 2},
    [AGORA_ST_U32] = {"U32", 4},
};
enum { N_DTYPES = sizeof k_dtypes / sizeof k_dtypes[0] };

const char *agora_st_dtype_name(agora_st_dtype d) {
    return (unsigned)d < N_DTYPES ? k_dtypes[d].name : NULL;
}

size_t agora_st_dtype_size(agora_st_dtype d) {
    return (unsigned)d < N_DTYPES ? k_dtypes[d].size : 0;
}

void agora_st_close(agora_st_file *f) {
    if (f == NULL)
        return;
    for (size_t i = 0; i < 2 * f->n_meta; i++)
        agora_free(f->meta[i]);
    agora_free(f->meta);
    agora_free(f->names);
    agora_free(f->tensors);
    agora_free(f->buf);
    agora_free(f);
}

// ---- parsing ----

/* Reads a JSON number that must be a non-negative integer up to 2^53. */
static int json_u64(const cJSON *it, uint64_t *out) {
    return agora_json_uint(it, UINT64_MAX, out);
}

static agora_err parse_tensor(const cJSON *it, agora_st_tensor *t, uint64_t data_len,
                              const char *name, char err[AGORA_ERR_LEN]) {
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(it, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
    if (!cJSON_IsObject(it) || !cJSON_IsString(dt) || !cJSON_IsArray(shape) ||
        !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2) {
        snprintf(err, AGORA_ERR_LEN, "%s: tensor \"%.100s\" needs dtype, shape, data_offsets", name,
                 it->string);
        return AGORA_EPARSE;
    }
    int found = 0;
    for (unsigned d = 0; d < N_DTYPES; d++)
        if (strcmp(dt->valuestring, k_dtypes[d].name) == 0) {
            t->dtype = (agora_st_dtype)d;
            found = 1;
        }
    if (!found) {
        snprintf(err, AGORA_ERR_LEN, "%s: tensor \"%.100s\": unsupported dtype \"%.20s\"", name,
                 it->string, dt->valuestring);
        return AGORA_EUNSUPPORTED;
    }
    int nd = cJSON_GetArraySize(shape);
    if (nd > AGORA_ST_MAX_DIMS) {
        snprintf(err, AGORA_ERR_LEN, "%s: tensor \"%.100s\": %d dims (max %d)", name, it->string,
                 nd, AGORA_ST_MAX_DIMS);
        return AGORA_EPARSE;
    }
    t->ndim = nd;
    uint64_t numel = 1;
    for (int d = 0; d < nd; d++) {
        uint64_t v;
        if (!json_u64(cJSON_GetArrayItem(shape, d), &v) || v > (uint64_t)INT64_MAX) {
            snprintf(err, AGORA_ERR_LEN, "%s: tensor \"%.100s\": bad shape", name, it->string);
            return AGORA_EPARSE;
        }
        t->shape[d] = (int64_t)v;
        if (v != 0 && numel > UINT64_MAX / v) {
            snprintf(err, AGORA_ERR_LEN, "%s: tensor \"%.100s\": shape overflows", name,
                     it->string);
            return AGORA_EPARSE;
        }
        numel *= v;
    }
    uint64_t b, e, es = k_dtypes[t->dtype].size;
    if (!json_u64(cJSON_GetArrayItem(offs, 0), &b) || !json_u64(cJSON_GetArrayItem(offs, 1), &e) ||
        b > e) {
        snprintf(err, AGORA_ERR_LEN, "%s: tensor \"%.100s\": bad data_offsets", name, it->string);
        return AGORA_EPARSE;
    }
    if (numel > UINT64_MAX / es || e - b != numel * es) {
        snprintf(err, AGORA_ERR_LEN,
                 "%s: tensor \"%.100s\": data_offsets span %llu bytes, shape needs %llu", name,
                 it->string, (unsigned long long)(e - b),
                 (unsigned long long)(numel <= UINT64_MAX / es ? numel * es : 0));
        return AGORA_EPARSE;
    }
    if (e > data_len) {
        snprintf(err, AGORA_ERR_LEN,
                 "%s: tensor \"%.100s\" ends at byte %llu of a %llu-byte data section "
                 "(truncated file?)",
                 name, it->string, (unsigned long long)e, (unsigned long long)data_len);
        return AGORA_ETRUNCATED;
    }
    t->numel = numel;
    t->offset = b;
    t->nbytes = e - b;
    return AGORA_OK;
}

static agora_err parse_meta(agora_st_file *f, const cJSON *meta, const char *name,
                            char err[AGORA_ERR_LEN]) {
    if (!cJSON_IsObject(meta)) {
        snprintf(err, AGORA_ERR_LEN, "%s: __metadata__ must be an object", name);
        return AGORA_EPARSE;
    }
    int n = cJSON_GetArraySize(meta);
    f->meta = agora_calloc((size_t)n * 2 + 1, sizeof *f->meta);
    if (f->meta == NULL)
        return AGORA_ENOMEM;
    const cJSON *it;
    cJSON_ArrayForEach(it, meta) {
        if (!cJSON_IsString(it)) {
            snprintf(err, AGORA_ERR_LEN, "%s: __metadata__ values must be strings", name);
            return AGORA_EPARSE;
        }
        f->meta[2 * f->n_meta] = agora_strdup(it->string);
        f->meta[2 * f->n_meta + 1] = agora_strdup(it->valuestring);
        f->n_meta++;
        if (f->meta[2 * f->n_meta - 2] == NULL || f->meta[2 * f->n_meta - 1] == NULL)
            return AGORA_ENOMEM;
    }
    return AGORA_OK;
}

/* Takes ownership of buf (allocated with agora_malloc) in every case. */
static agora_err parse_owned(unsigned char *buf, size_t len, const char *name, agora_st_file **out,
                             char err[AGORA_ERR_LEN]) {
    agora_err rc = AGORA_OK;
    cJSON *root = NULL;
    agora_st_file *f = agora_calloc(1, sizeof *f);
    if (f == NULL) {
        agora_free(buf);
        return AGORA_ENOMEM;
    }
    f->buf = buf;
    f->len = len;
    if (len < 8) {
        snprintf(err, AGORA_ERR_LEN, "%s: %zu bytes, too short for a safetensors header", name,
                 len);
        rc = AGORA_ETRUNCATED;
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | buf[i];
    if (hlen > AGORA_ST_MAX_HEADER) {
        snprintf(err, AGORA_ERR_LEN, "%s: header length %llu is not plausible (corrupt header?)",
                 name, (unsigned long long)hlen);
        rc = AGORA_EOVERFLOW;
        goto fail;
    }
    if (hlen > len - 8) {
        snprintf(err, AGORA_ERR_LEN, "%s: header needs %llu bytes, file has %zu (truncated?)", name,
                 (unsigned long long)hlen, len - 8);
        rc = AGORA_ETRUNCATED;
        goto fail;
    }
    AGORA_TRY_GOTO(agora_json_parse((const char *)buf + 8, (size_t)hlen, name, &root, err), rc,
                   fail);
    if (!cJSON_IsObject(root)) {
        snprintf(err, AGORA_ERR_LEN, "%s: header is not a JSON object", name);
        rc = AGORA_EPARSE;
        goto fail;
    }
    f->data = buf + 8 + hlen;
    f->data_len = (uint64_t)len - 8 - hlen;
    size_t n = (size_t)cJSON_GetArraySize(root), names_len = 0;
    f->tensors = agora_calloc(n + 1, sizeof *f->tensors);
    if (f->tensors == NULL) {
        rc = AGORA_ENOMEM;
        goto fail;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, root) names_len += strlen(it->string) + 1;
    f->names = agora_malloc(names_len + 1);
    if (f->names == NULL) {
        rc = AGORA_ENOMEM;
        goto fail;
    }
    char *np = f->names;
    cJSON_ArrayForEach(it, root) {
        if (strcmp(it->string, "__metadata__") == 0) {
            if (f->meta != NULL) {
                snprintf(err, AGORA_ERR_LEN, "%s: duplicate __metadata__", name);
                rc = AGORA_EPARSE;
                goto fail;
            }
            AGORA_TRY_GOTO(parse_meta(f, it, name, err), rc, fail);
            continue;
        }
        agora_st_tensor *t = &f->tensors[f->n];
        AGORA_TRY_GOTO(parse_tensor(it, t, f->data_len, name, err), rc, fail);
        size_t l = strlen(it->string);
        memcpy(np, it->string, l + 1);
        t->name = np;
        np += l + 1;
        for (size_t j = 0; j < f->n; j++)
            if (strcmp(f->tensors[j].name, t->name) == 0) {
                snprintf(err, AGORA_ERR_LEN, "%s: duplicate tensor \"%.100s\"", name, t->name);
                rc = AGORA_EPARSE;
                goto fail;
            }
        f->n++;
    }
    agora_json_free(root);
    *out = f;
    return AGORA_OK;
fail:
    agora_json_free(root);
    agora_st_close(f);
    return rc;
}

agora_err agora_st_parse(const void *data, size_t len, const char *name, agora_st_file **out,
                         char err[AGORA_ERR_LEN]) {
    unsigned char *buf = agora_malloc(len ? len : 1);
    if (buf == NULL)
        return AGORA_ENOMEM;
    if (len)
        memcpy(buf, data, len);
    return parse_owned(buf, len, name, out, err);
}

agora_err agora_st_load(const char *path, agora_st_file **out, char err[AGORA_ERR_LEN]) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        int e = errno;
        snprintf(err, AGORA_ERR_LEN, "%s: cannot open: %s", path, strerror(e));
        return e == ENOENT ? AGORA_ENOENT : AGORA_EIO;
    }
    long end = -1;
    if (fseek(fp, 0, SEEK_END) == 0)
        end = ftell(fp);
    if (end < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        snprintf(err, AGORA_ERR_LEN, "%s: cannot determine size", path);
        return AGORA_EIO;
    }
    size_t len = (size_t)end;
    unsigned char *buf = agora_malloc(len ? len : 1);
    if (buf == NULL) {
        fclose(fp);
        return AGORA_ENOMEM;
    }
    size_t got = fread(buf, 1, len, fp);
    fclose(fp);
    if (got != len) {
        agora_free(buf);
        snprintf(err, AGORA_ERR_LEN, "%s: read error", path);
        return AGORA_EIO;
    }
    return parse_owned(buf, len, path, out, err);
}

size_t agora_st_count(const agora_st_file *f) {
    return f->n;
}

const agora_st_tensor *agora_st_get(const agora_st_file *f, size_t i) {
    return i < f->n ? &f->tensors[i] : NULL;
}

const agora_st_tensor *agora_st_find(const agora_st_file *f, const char *name) {
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

const void *agora_st_data(const agora_st_file *f, const agora_st_tensor *t) {
    return f->data + t->offset;
}

const char *agora_st_meta(const agora_st_file *f, const char *key) {
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0)
            return f->meta[2 * i + 1];
    return NULL;
}

static void shape_str(char *buf, size_t len, int32_t ndim, const int64_t *shape) {
    size_t o = 0;
    o += (size_t)snprintf(buf, len, "[");
    for (int32_t d = 0; d < ndim && o < len; d++)
        o += (size_t)snprintf(buf + o, len - o, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
}

agora_err agora_st_read_f32(const agora_st_file *f, const char *name, float *dst, int32_t ndim,
                            const int64_t *shape, char err[AGORA_ERR_LEN]) {
    const agora_st_tensor *t = agora_st_find(f, name);
    if (t == NULL) {
        snprintf(err, AGORA_ERR_LEN, "tensor \"%.200s\" is missing", name);
        return AGORA_ENOTFOUND;
    }
    if (t->dtype != AGORA_ST_F32) {
        snprintf(err, AGORA_ERR_LEN, "tensor \"%.200s\" is %s, expected F32", name,
                 k_dtypes[t->dtype].name);
        return AGORA_EUNSUPPORTED;
    }
    int same = t->ndim == ndim;
    for (int32_t d = 0; same && d < ndim; d++)
        same = t->shape[d] == shape[d];
    if (!same) {
        char a[128], b[128];
        shape_str(a, sizeof a, t->ndim, t->shape);
        shape_str(b, sizeof b, ndim, shape);
        snprintf(err, AGORA_ERR_LEN, "tensor \"%.200s\": shape %s in file, expected %s", name, a,
                 b);
        return AGORA_ESHAPE;
    }
    memcpy(dst, f->data + t->offset, (size_t)t->nbytes);
    return AGORA_OK;
}

// ---- writing ----

static uint64_t entry_bytes(const agora_st_entry *e) {
    uint64_t n = agora_st_dtype_size(e->dtype);
    for (int32_t d = 0; d < e->ndim; d++)
        n *= (uint64_t)e->shape[d];
    return n;
}

agora_err agora_st_write(agora_stream *s, const agora_st_entry *e, size_t n,
                         const char *const *meta, size_t n_meta) {
    agora_jw w;
    agora_jw_init(&w);
    agora_jw_obj_begin(&w);
    if (n_meta > 0) {
        agora_jw_key(&w, "__metadata__");
        agora_jw_obj_begin(&w);
        for (size_t i = 0; i < n_meta; i++) {
            agora_jw_key(&w, meta[2 * i]);
            agora_jw_str(&w, meta[2 * i + 1]);
        }
        agora_jw_obj_end(&w);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (agora_st_dtype_name(e[i].dtype) == NULL || e[i].ndim < 0 ||
            e[i].ndim > AGORA_ST_MAX_DIMS) {
            agora_jw_fini(&w);
            return AGORA_EINVAL;
        }
        agora_jw_key(&w, e[i].name);
        agora_jw_obj_begin(&w);
        agora_jw_key(&w, "dtype");
        agora_jw_str(&w, agora_st_dtype_name(e[i].dtype));
        agora_jw_key(&w, "shape");
        agora_jw_arr_begin(&w);
        for (int32_t d = 0; d < e[i].ndim; d++)
            agora_jw_i64(&w, e[i].shape[d]);
        agora_jw_arr_end(&w);
        agora_jw_key(&w, "data_offsets");
        agora_jw_arr_begin(&w);
        agora_jw_u64(&w, off);
        off += entry_bytes(&e[i]);
        agora_jw_u64(&w, off);
        agora_jw_arr_end(&w);
        agora_jw_obj_end(&w);
    }
    agora_jw_obj_end(&w);
    agora_err rc = agora_jw_status(&w);
    if (rc != AGORA_OK) {
        agora_jw_fini(&w);
        return rc;
    }
    size_t hlen = (w.len + 7) / 8 * 8;
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    static const char spaces[8] = "        ";
    AGORA_TRY_GOTO(agora_stream_write(s, lenbuf, 8), rc, out);
    AGORA_TRY_GOTO(agora_stream_write(s, w.buf, w.len), rc, out);
    AGORA_TRY_GOTO(agora_stream_write(s, spaces, hlen - w.len), rc, out);
    for (size_t i = 0; i < n; i++)
        AGORA_TRY_GOTO(agora_stream_write(s, e[i].data, (size_t)entry_bytes(&e[i])), rc, out);
out:
    agora_jw_fini(&w);
    return rc;
}

agora_err agora_st_save(const char *path, const agora_st_entry *e, size_t n,
                        const char *const *meta, size_t n_meta, char err[AGORA_ERR_LEN]) {
    agora_stream *s = NULL;
    agora_err rc = agora_stream_open_atomic(path, &s);
    if (rc == AGORA_OK)
        rc = agora_st_write(s, e, n, meta, n_meta);
    if (rc == AGORA_OK)
        rc = agora_stream_commit(s);
    agora_stream_close(s);
    if (rc != AGORA_OK)
        snprintf(err, AGORA_ERR_LEN, "%s: cannot write: %s", path, agora_err_str(rc));
    return rc;
}
