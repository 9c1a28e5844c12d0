package loadtest

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// writePlotFile writes rep as a self-contained HTML page: an inline SVG plot of
// the heartbeat p50 and p99 latency per second, and the text report.
func writePlotFile(name string, rep *Report) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := writePlot(f, rep); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// plot geometry, in SVG user units.
const (
	plotW, plotH     float64 = 900, 420
	marginL, marginR float64 = 70, 20
	marginT, marginB float64 = 20, 50
	innerW, innerH   float64 = plotW - marginL - marginR, plotH - marginT - marginB
)

type plotLine struct {
	name, color, dash string
	pts               []Point
	val               func(Point) time.Duration
}

func writePlot(w io.Writer, rep *Report) error {
	lines := []plotLine{
		{"ccgw p50", "#1f77b4", "", rep.Series, func(p Point) time.Duration { return p.P50 }},
		{"ccgw p99", "#d62728", "", rep.Series, func(p Point) time.Duration { return p.P99 }},
	}
	if bl := rep.Baseline; bl != nil {
		lines = append(lines,
			plotLine{"baseline p50", "#1f77b4", "6 4", bl.Series, func(p Point) time.Duration { return p.P50 }},
			plotLine{"baseline p99", "#d62728", "6 4", bl.Series, func(p Point) time.Duration { return p.P99 }})
	}
	var maxT, maxV float64 = 1, 0
	for _, l := range lines {
		for _, p := range l.pts {
			maxT = math.Max(maxT, p.At.Seconds())
			if p.Requests > 0 {
				maxV = math.Max(maxV, ms(l.val(p)))
			}
		}
	}
	yStep := niceStep(maxV / 5)
	yMax := math.Max(yStep, math.Ceil(maxV/yStep)*yStep)
	xStep := niceStep(maxT / 10)
	x := func(t float64) float64 { return marginL + innerW*t/maxT }
	y := func(v float64) float64 { return marginT + innerH*(1-v/yMax) }

	var svg strings.Builder
	fmt.Fprintf(&svg, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n",
		plotW, plotH, plotW, plotH)
	fmt.Fprintf(&svg, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#888"/>`+"\n", marginL, marginT, innerW, innerH)
	for v := 0.0; v <= yMax+yStep/2; v += yStep {
		fmt.Fprintf(&svg, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end" dy="4">%s</text>`+"\n",
			marginL, marginL+innerW, y(v), y(v), marginL-6, y(v), trimFloat(v))
	}
	for t := 0.0; t <= maxT+xStep/2; t += xStep {
		fmt.Fprintf(&svg, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#eee"/><text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n",
			x(t), x(t), marginT, marginT+innerH, x(t), marginT+innerH+16, trimFloat(t))
	}
	fmt.Fprintf(&svg, `<text x="%g" y="%g" text-anchor="middle">time in the measured window (s)</text>`+"\n", marginL+innerW/2, plotH-8)
	fmt.Fprintf(&svg, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">handShake latency (ms)</text>`+"\n", marginT+innerH/2)
	for i, l := range lines {
		var pts []string
		for _, p := range l.pts {
			if p.Requests > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.At.Seconds()), y(ms(l.val(p)))))
			}
		}
		dash := ""
		if l.dash != "" {
			dash = ` stroke-dasharray="` + l.dash + `"`
		}
		if len(pts) > 0 {
			fmt.Fprintf(&svg, `<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>`+"\n", l.color, dash, strings.Join(pts, " "))
		}
		if len(pts) <= 120 { // few enough to mark each second
			for _, p := range pts {
				xy := strings.Split(p, ",")
				fmt.Fprintf(&svg, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`+"\n", xy[0], xy[1], l.color)
			}
		}
		ly := marginT + 14 + 16*float64(i)
		fmt.Fprintf(&svg, `<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="%s" stroke-width="2"%s/><text x="%g" y="%g" dy="4">%s</text>`+"\n",
			marginL+12, marginL+36, ly, ly, l.color, dash, marginL+42, ly, html.EscapeString(l.name))
	}
	svg.WriteString("</svg>\n")

	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ccgw bench</title>
<style>body{font-family:sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em}</style></head>
<body><h1>ccgw bench</h1>
<p>handShake latency per second: p50 and p99%s.</p>
%s<pre>%s</pre>
</body></html>
`, baselineNote(rep), svg.String(), html.EscapeString(text.String()))
	return err
}

func baselineNote(rep *Report) string {
	if rep.Baseline == nil {
		return ""
	}
	note := "; dashed: the same load against a bare net/http server"
	if w := rep.Baseline.Where; w != "" {
		note += " " + html.EscapeString(w)
	}
	return note
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// niceStep returns 1, 2 or 5 times a power of ten, at least raw.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}
