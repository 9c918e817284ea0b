package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one measurement over the rounds: its samples and, where it is
// compared with the bare hash or with the --against server, what was
// measured in turns with each.
type row struct {
	name    string
	workers string
	samples []sample
	bare    []*sample
	against []*sample
}

type stormLine struct {
	name string
	res  stormResult
}

// add records a sample of the row named "measurement|workers".
func (r *run) add(key string, s sample, bare, against *sample) {
	rw, ok := r.rows[key]
	if !ok {
		name, workers, _ := strings.Cut(key, "|")
		rw = &row{name: name, workers: workers}
		r.rows[key] = rw
		r.order = append(r.order, key)
	}
	rw.samples = append(rw.samples, s)
	rw.bare = append(rw.bare, bare)
	rw.against = append(rw.against, against)
}

// spread is the median of xs with its minimum and maximum.
type spread struct{ min, med, max float64 }

func spreadOf(xs []float64) (spread, bool) {
	if len(xs) == 0 {
		return spread{}, false
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return spread{xs[0], xs[len(xs)/2], xs[len(xs)-1]}, true
}

func (s spread) format(unit func(float64) string) string {
	if s.min == s.max {
		return unit(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", unit(s.med), unit(s.min), unit(s.max))
}

func perSecond(x float64) string { return fmt.Sprintf("%.1f", x) }
func ratio(x float64) string     { return fmt.Sprintf("%.2f", x) }
func duration(x float64) string  { return round(time.Duration(x)).String() }

// round shortens d to three significant digits.
func round(d time.Duration) time.Duration {
	for _, unit := range []time.Duration{time.Second, time.Millisecond, time.Microsecond} {
		if d >= 100*unit {
			return d.Round(unit)
		}
		if d >= 10*unit {
			return d.Round(unit / 10)
		}
		if d >= unit {
			return d.Round(unit / 100)
		}
	}
	return d
}

// report writes the table: per row, the median over the rounds with the
// minimum and maximum, and the ratios to the bare hash and to the
// --against server measured next to it; then the storms.
func (r *run) report(out io.Writer) {
	fmt.Fprintln(out, r.header())
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	header := "MEASUREMENT\tC\tPER SECOND\t× HASH RATE\tP50\tP99\tCPU PER OP\tCPU × HASH\tPROBLEMS"
	if r.other != nil {
		header = strings.Replace(header, "\tPROBLEMS", "\t× AGAINST\tPROBLEMS", 1)
	}
	fmt.Fprintln(tw, header)
	for _, key := range r.order {
		rw := r.rows[key]
		var rates, ratios, p50s, p99s, cpus, cpuRatios, againstRatios []float64
		var problems []string
		for i, s := range rw.samples {
			if p := s.problem(); p != "" {
				problems = append(problems, fmt.Sprintf("round %d: %s", i+1, p))
			}
			rates = append(rates, s.rate())
			p50s = append(p50s, float64(s.percentile(0.5)))
			p99s = append(p99s, float64(s.percentile(0.99)))
			cpu, cpuOK := s.cpuPerOp()
			if cpuOK {
				cpus = append(cpus, float64(cpu))
			}
			if a := rw.against[i]; a != nil && a.ok > 0 {
				againstRatios = append(againstRatios, s.rate()/a.rate())
			}
			if b := rw.bare[i]; b != nil && b.ok > 0 {
				ratios = append(ratios, s.rate()/b.rate())
				if bcpu, ok := b.cpuPerOp(); ok && cpuOK {
					cpuRatios = append(cpuRatios, float64(cpu)/float64(bcpu))
				}
			}
		}
		cells := []string{rw.name, rw.workers, cell(rates, perSecond), cell(ratios, ratio), cell(p50s, duration),
			cell(p99s, duration), cell(cpus, duration), cell(cpuRatios, ratio)}
		if r.other != nil {
			cells = append(cells, cell(againstRatios, ratio))
		}
		cells = append(cells, strings.Join(problems, "; "))
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	for _, s := range r.stormLines {
		fmt.Fprintf(out, "\nstorm, %s: %s", s.name, s.res.summary())
		if s.res.rssKnown {
			fmt.Fprintf(out, "; server peak RSS %d MiB", s.res.peakRSS>>20)
		}
		fmt.Fprintln(out)
	}
}

func cell(xs []float64, unit func(float64) string) string {
	s, ok := spreadOf(xs)
	if !ok {
		return "-"
	}
	return s.format(unit)
}
