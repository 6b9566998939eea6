package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// chartSeries are the bars of each group: a target's throughput over its floor's.
var chartSeries = []struct{ target, label, color string }{
	{"resamania leased", "resamania leased ÷ floor leased", "#1f77b4"},
	{"resamania unleased", "resamania unleased ÷ floor unleased", "#2ca02c"},
	{"kv v1", "KV v1 ÷ floor unleased", "#bbbbbb"},
}

// ratioChart draws, as SVG, each Vault's cached-read throughput ratios to the
// floor: one panel per Vault, one group of bars per number of clients, the
// floor (1.0) and the target (0.95) as lines.
func ratioChart(rows []readRow) string {
	var vaults []string
	var clients []int
	top := 1.2
	for _, r := range rows {
		if !slices.Contains(vaults, r.Vault) {
			vaults = append(vaults, r.Vault)
		}
		if !slices.Contains(clients, r.Clients) {
			clients = append(clients, r.Clients)
		}
		top = max(top, r.RatioToFloor)
	}
	top = math.Ceil(top*2) / 2
	const (
		panelW       = 440
		left, plotY  = 50, 56 // the plot's left margin in a panel, and its top
		plotH        = 220
		width        = 30 // of a bar
		legendY      = plotY + plotH + 36
		legendColumn = 300
	)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n",
		max(len(vaults)*panelW+20, 3*legendColumn), legendY+56)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="18" font-size="14" font-weight="bold">Cached token reads: throughput relative to the floor plugin (medians of alternating rounds)</text>`+"\n")
	for p, vault := range vaults {
		x0, y0 := p*panelW+left, plotY+plotH // the bottom left of the panel's plot
		y := func(v float64) float64 { return float64(y0) - v/top*plotH }
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0, plotY-14, vault)
		for v := 0.0; v <= top+1e-9; v += 0.5 {
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eeeeee"/><text x="%d" y="%.1f" text-anchor="end">%.1f</text>`+"\n",
				x0, x0+panelW-left-20, y(v), y(v), x0-6, y(v)+4, v)
		}
		groupW := (panelW - left - 20) / max(1, len(clients))
		for g, c := range clients {
			gx := x0 + g*groupW + (groupW-len(chartSeries)*width)/2
			for i, s := range chartSeries {
				row := slices.IndexFunc(rows, func(r readRow) bool { return r.Vault == vault && r.Clients == c && r.Target == s.target })
				if row < 0 {
					continue
				}
				v, bx := rows[row].RatioToFloor, gx+i*width
				fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"/><text x="%d" y="%.1f" text-anchor="middle" font-size="10">%.2f</text>`+"\n",
					bx, y(v), width-4, float64(y0)-y(v), s.color, bx+(width-4)/2, y(v)-3, v)
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", x0+g*groupW+groupW/2, y0+18, clientsOf(c))
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#555555"/>`+"\n", x0, x0+panelW-left-20, y(1), y(1))
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d62728" stroke-dasharray="5,4"/>`+"\n", x0, x0+panelW-left-20, y(0.95), y(0.95))
	}
	for i, s := range chartSeries {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			10+i*legendColumn, legendY, s.color, 28+i*legendColumn, legendY+11, s.label)
	}
	fmt.Fprintf(&b, `<line x1="10" x2="40" y1="%d" y2="%d" stroke="#555555"/><text x="46" y="%d">the floor (1.0)</text>`+"\n", legendY+34, legendY+34, legendY+38)
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#d62728" stroke-dasharray="5,4"/><text x="%d" y="%d">the plugin's target (0.95, at 16 and 64 clients)</text>`+"\n",
		10+legendColumn, 40+legendColumn, legendY+34, legendY+34, 46+legendColumn, legendY+38)
	b.WriteString("</svg>\n")
	return b.String()
}
