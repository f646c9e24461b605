/* metrics.h: append-only metrics records, written as JSONL and CSV side by side.
 *
 *   agora_metrics_begin(m);
 *   agora_metrics_i64(m, "step", step);
 *   agora_metrics_f64(m, "loss", loss);
 *   AGORA_TRY(agora_metrics_end(m));   // one JSON line + one CSV row, flushed
 *
 * The CSV header is the key list of the first record (or of the file being appended to);
 * later records fill those columns in header order (missing ones stay empty). A key new
 * since then becomes a new last column: the CSV is rewritten once, atomically, with an
 * empty cell for it on the earlier rows (a run resumed by a binary that records more).
 * The JSONL file always holds everything.
 */
#ifndef AGORA_METRICS_H
#define AGORA_METRICS_H

#include <stdint.h>

#include "agora/agora.h"
#include "agora/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct agora_metrics agora_metrics;

/* Opens (appending) dir/<stem>.jsonl and dir/<stem>.csv; stem NULL means "metrics". */
AGORA_API agora_err agora_metrics_open(const char *dir, const char *AGORA_NULLABLE stem,
                                       agora_metrics **out);
AGORA_API void agora_metrics_begin(agora_metrics *m);
AGORA_API void agora_metrics_i64(agora_metrics *m, const char *key, int64_t v);
AGORA_API void agora_metrics_f64(agora_metrics *m, const char *key, double v);
AGORA_API void agora_metrics_str(agora_metrics *m, const char *key, const char *v);
AGORA_API agora_err agora_metrics_end(agora_metrics *m);
AGORA_API void agora_metrics_close(agora_metrics *m); /* NULL-safe */

#ifdef __cplusplus
}
#endif

#endif /* AGORA_METRICS_H */
