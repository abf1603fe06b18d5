package bench

import (
	"math"
	"slices"
)

// Summary is the median of a set of repetitions with their range.
type Summary struct {
	Median, Min, Max float64
}

// summarize returns the median, minimum and maximum of xs. The median of an
// even count is the mean of the middle two. An empty set gives NaNs.
func summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{math.NaN(), math.NaN(), math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	med := s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return Summary{Median: med, Min: s[0], Max: s[len(s)-1]}
}

// summarizeBy summarises one figure f of every sample.
func summarizeBy(samples []Sample, f func(Sample) float64) Summary {
	xs := make([]float64, len(samples))
	for i, s := range samples {
		xs[i] = f(s)
	}
	return summarize(xs)
}
