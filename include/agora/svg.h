/* svg.h: plain-SVG charts written as text (no plotting library): a fixed 640x400 canvas
 * with a title, axes with five ticks each, and helpers to place marks in data space.
 * Used for the plots in run directories (the simulator's four plots, DiLoCo's loss).
 */
#ifndef AGORA_SVG_H
#define AGORA_SVG_H

#include <stdbool.h>
#include <stddef.h>

#include "agora/agora.h"
#include "agora/err.h"
#include "agora/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { AGORA_SVG_WIDTH = 640, AGORA_SVG_HEIGHT = 400 };

/* agora_svg_begin opens the canvas with a white background and a title (escaped). */
AGORA_API void agora_svg_begin(agora_sbuf *b, const char *title);
/* agora_svg_axes draws both axes, their labels and five ticks each for the data range
 * [x0, x1] x [y0, y1]; logx spaces the x ticks logarithmically (x0 > 0). */
AGORA_API void agora_svg_axes(agora_sbuf *b, const char *xlabel, const char *ylabel, double x0,
                              double x1, double y0, double y1, bool logx);
/* agora_svg_end closes the canvas. */
AGORA_API void agora_svg_end(agora_sbuf *b);
/* Pixel coordinates of a fraction of the plot area (0 = left/bottom, 1 = right/top). */
AGORA_API double agora_svg_px(double fx);
AGORA_API double agora_svg_py(double fy);
/* agora_svg_text appends s with &, < and > escaped. */
AGORA_API void agora_svg_text(agora_sbuf *b, const char *s);

/* One line of a line chart: n points (x[i], y[i]); NaN y values break the line. With lo and
 * hi (both or neither), each point gets a dot and a whisker from lo[i] to hi[i] (an
 * interval). */
typedef struct agora_svg_series {
    const char *name; /* legend entry */
    const double *x, *y;
    size_t n;
    const double *AGORA_NULLABLE lo, *AGORA_NULLABLE hi;
} agora_svg_series;

/* A vertical dashed mark at x with a short label (an event: a kill, a join). */
typedef struct agora_svg_mark {
    double x;
    const char *label;
} agora_svg_mark;

/* agora_svg_line_chart writes a line chart with a legend to path (atomically); the axes
 * span the data (y padded by 5%), colors come from a fixed palette. */
AGORA_NODISCARD AGORA_API agora_err agora_svg_line_chart(const char *path, const char *title,
                                                         const char *xlabel, const char *ylabel,
                                                         const agora_svg_series *s, size_t ns,
                                                         const agora_svg_mark *marks,
                                                         size_t n_marks, char err[AGORA_ERR_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_SVG_H */
