/* diloco_internal.h: DiLoCo internals shared with the tests. */
#ifndef AGORA_TRAIN_DILOCO_INTERNAL_H
#define AGORA_TRAIN_DILOCO_INTERNAL_H

#include <stddef.h>

#include "agora/train.h"

/* agora__diloco_plan cuts the model's n parameter floats into P streaming fragments: every
 * tensor owns its floats up to the next tensor (alignment padding included, so P = 1 gives
 * exactly [0, n)); layer l's tensors go to fragment l mod P, the embedding to 0, the
 * final norm and the LM head to P - 1; adjacent ranges of a fragment are merged. off and
 * len (agora_model_n_tensors(m) entries each) get the ranges, first (P + 1 entries) the
 * index of each fragment's first range, first[P] the number of ranges. */
void agora__diloco_plan(const agora_model *m, size_t n, size_t P, size_t *off, size_t *len,
                        size_t *first);

#endif
