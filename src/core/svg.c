/* svg.c: plain-SVG charts (agora/svg.h). */
#include "agora/svg.h"

#include <math.h>
#include <stdio.h>

enum { ML = 60, MR = 20, MT = 30, MB = 50 };

static const char *const k_palette[] = {"#2980b9", "#c0392b", "#27ae60", "#8e44ad",
                                        "#d35400", "#16a085", "#2c3e50", "#f39c12"};
#define N_PALETTE (sizeof k_palette / sizeof k_palette[0])

void agora_svg_text(agora_sbuf *b, const char *s) {
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '&')
            agora_sbuf_printf(b, "&amp;");
        else if (*s == '<')
            agora_sbuf_printf(b, "&lt;");
        else if (*s == '>')
            agora_sbuf_printf(b, "&gt;");
        else
            agora_sbuf_printf(b, "%c", *s);
    }
}

void agora_svg_begin(agora_sbuf *b, const char *title) {
    agora_sbuf_printf(b,
                      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                      "font-family=\"sans-serif\" font-size=\"12\">\n"
                      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                      "<text x=\"%d\" y=\"18\" font-size=\"14\">",
                      AGORA_SVG_WIDTH, AGORA_SVG_HEIGHT, ML);
    agora_svg_text(b, title);
    agora_sbuf_printf(b, "</text>\n");
}

void agora_svg_end(agora_sbuf *b) {
    agora_sbuf_printf(b, "</svg>\n");
}

double agora_svg_px(double fx) {
    return ML + fx * (AGORA_SVG_WIDTH - ML - MR);
}

double agora_svg_py(double fy) {
    return AGORA_SVG_HEIGHT - MB - fy * (AGORA_SVG_HEIGHT - MT - MB);
}

void agora_svg_axes(agora_sbuf *b, const char *xl, const char *yl, double x0, double x1, double y0,
                    double y1, bool logx) {
    const int W = AGORA_SVG_WIDTH, H = AGORA_SVG_HEIGHT;
    agora_sbuf_printf(b,
                      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n"
                      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n",
                      ML, H - MB, W - MR, H - MB, ML, MT, ML, H - MB);
    agora_sbuf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + W - MR) / 2,
                      H - 12);
    agora_svg_text(b, xl);
    agora_sbuf_printf(b,
                      "</text>\n<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" "
                      "text-anchor=\"middle\">",
                      (MT + H - MB) / 2, (MT + H - MB) / 2);
    agora_svg_text(b, yl);
    agora_sbuf_printf(b, "</text>\n");
    for (int k = 0; k <= 4; k++) {
        double f = k / 4.0;
        double xv = logx ? pow(10, log10(x0) + f * (log10(x1) - log10(x0))) : x0 + f * (x1 - x0);
        double yv = y0 + f * (y1 - y0);
        agora_sbuf_printf(b, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n",
                          agora_svg_px(f), H - MB + 16, xv);
        agora_sbuf_printf(b, "<text x=\"%d\" y=\"%.0f\" text-anchor=\"end\">%.3g</text>\n", ML - 4,
                          agora_svg_py(f) + 4, yv);
    }
}

agora_err agora_svg_line_chart(const char *path, const char *title, const char *xl, const char *yl,
                               const agora_svg_series *s, size_t ns, const agora_svg_mark *marks,
                               size_t n_marks, char err[AGORA_ERR_LEN]) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i]))
                continue;
            x0 = fmin(x0, s[k].x[i]);
            x1 = fmax(x1, s[k].x[i]);
            y0 = fmin(y0, s[k].y[i]);
            y1 = fmax(y1, s[k].y[i]);
            if (s[k].lo != NULL && s[k].hi != NULL && isfinite(s[k].lo[i]) &&
                isfinite(s[k].hi[i])) {
                y0 = fmin(y0, s[k].lo[i]);
                y1 = fmax(y1, s[k].hi[i]);
            }
        }
    for (size_t m = 0; m < n_marks; m++) {
        x0 = fmin(x0, marks[m].x);
        x1 = fmax(x1, marks[m].x);
    }
    if (!(x0 <= x1)) { /* no data: an empty frame */
        x0 = 0;
        x1 = 1;
    }
    if (!(y0 <= y1)) {
        y0 = 0;
        y1 = 1;
    }
    if (x1 == x0)
        x1 = x0 + 1;
    double pad = (y1 > y0 ? y1 - y0 : fabs(y0) + 1) * 0.05;
    y0 -= pad;
    y1 += pad;
    if (ns > 0) { /* headroom, so the data stays below the legend box */
        double top = agora_svg_py(1), h = agora_svg_py(0) - top;
        double leg = 38 + 16.0 * (double)ns - top;
        if (leg > 0 && leg < 0.6 * h)
            y1 += (y1 - y0) * leg / (h - leg);
    }
    agora_sbuf b = {0};
    agora_svg_begin(&b, title);
    agora_svg_axes(&b, xl, yl, x0, x1, y0, y1, false);
    for (size_t m = 0; m < n_marks; m++) {
        double px = agora_svg_px((marks[m].x - x0) / (x1 - x0));
        agora_sbuf_printf(&b,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"gray\" "
                          "stroke-dasharray=\"4\"/>\n<text x=\"%.1f\" y=\"%.1f\" fill=\"gray\">",
                          px, agora_svg_py(0), px, agora_svg_py(1), px + 3, agora_svg_py(1) + 12);
        agora_svg_text(&b, marks[m].label);
        agora_sbuf_printf(&b, "</text>\n");
    }
    for (size_t k = 0; k < ns; k++) {
        const char *color = k_palette[k % N_PALETTE];
        bool open = false;
        for (size_t i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) {
                if (open)
                    agora_sbuf_printf(&b, "\"/>\n");
                open = false;
                continue;
            }
            double px = agora_svg_px((s[k].x[i] - x0) / (x1 - x0));
            double py = agora_svg_py((s[k].y[i] - y0) / (y1 - y0));
            if (!open)
                agora_sbuf_printf(&b,
                                  "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                                  "points=\"",
                                  color);
            agora_sbuf_printf(&b, "%.1f,%.1f ", px, py);
            open = true;
        }
        if (open)
            agora_sbuf_printf(&b, "\"/>\n");
        for (size_t i = 0; s[k].lo != NULL && s[k].hi != NULL && i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i]))
                continue;
            double px = agora_svg_px((s[k].x[i] - x0) / (x1 - x0));
            agora_sbuf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", px,
                              agora_svg_py((s[k].y[i] - y0) / (y1 - y0)), color);
            if (!isfinite(s[k].lo[i]) || !isfinite(s[k].hi[i]))
                continue;
            double pl = agora_svg_py((s[k].lo[i] - y0) / (y1 - y0));
            double ph = agora_svg_py((s[k].hi[i] - y0) / (y1 - y0));
            agora_sbuf_printf(&b,
                              "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" "
                              "stroke=\"%s\" fill=\"none\"/>\n",
                              px, pl, ph, px - 3, pl, px + 3, px - 3, ph, px + 3, color);
        }
    }
    /* the legend last, on a light box, so no line runs through it */
    if (ns > 0)
        agora_sbuf_printf(&b,
                          "<rect x=\"%d\" y=\"34\" width=\"146\" height=\"%.0f\" fill=\"white\" "
                          "fill-opacity=\"0.85\"/>\n",
                          AGORA_SVG_WIDTH - 154, 16.0 * (double)ns + 4);
    for (size_t k = 0; k < ns; k++) {
        const char *color = k_palette[k % N_PALETTE];
        double ly = 44 + 16.0 * (double)k;
        agora_sbuf_printf(&b,
                          "<line x1=\"%d\" y1=\"%.0f\" x2=\"%d\" y2=\"%.0f\" stroke=\"%s\" "
                          "stroke-width=\"3\"/>\n<text x=\"%d\" y=\"%.0f\">",
                          AGORA_SVG_WIDTH - 150, ly, AGORA_SVG_WIDTH - 130, ly, color,
                          AGORA_SVG_WIDTH - 125, ly + 4);
        agora_svg_text(&b, s[k].name);
        agora_sbuf_printf(&b, "</text>\n");
    }
    agora_svg_end(&b);
    return agora_sbuf_write(&b, path, err);
}
