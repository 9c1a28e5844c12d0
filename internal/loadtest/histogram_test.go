package loadtest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	// Every bucket's bounds map back to it, buckets tile the range without gaps,
	// and a bucket is at most 1/128 as wide as its lower bound.
	var next uint64
	for i := range numBuckets {
		lo, hi := bucketBounds(i)
		if lo != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, next)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d [%d, %d]: bucketOf gives %d, %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if w := hi - lo + 1; lo >= subCount && w*halfCount > lo {
			t.Fatalf("bucket %d [%d, %d] is too wide", i, lo, hi)
		}
		next = hi + 1
	}
	if next != uint64(maxTracked) {
		t.Fatalf("buckets end at %d, want %d", next, maxTracked)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value", []time.Duration{3 * ms}, 0.5, 3 * ms},
		{"one value, p0", []time.Duration{3 * ms}, 0, 3 * ms},
		{"exact small values", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.5, 5},
		{"p90 of ten", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9, 9},
		{"p100 is max", []time.Duration{1, 2, 3 * ms}, 1, 3 * ms},
		{"negative counts as zero", []time.Duration{-5, 7}, 0.5, 0},
		{"over the range is kept as max", []time.Duration{time.Hour}, 0.99, time.Hour},
		{"p99 of a long tail", append(slices.Repeat([]time.Duration{ms}, 990), slices.Repeat([]time.Duration{100 * ms}, 10)...), 0.99, ms},
		{"p99.9 of a long tail", append(slices.Repeat([]time.Duration{ms}, 990), slices.Repeat([]time.Duration{100 * ms}, 10)...), 0.999, 100 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tc.values {
				h.Record(v)
			}
			got := h.Quantile(tc.q)
			if !within(got, tc.want, 1.0/128) {
				t.Errorf("Quantile(%v) = %v, want %v (±0.8%%)", tc.q, got, tc.want)
			}
			if h.Count() != uint64(len(tc.values)) {
				t.Errorf("Count = %d, want %d", h.Count(), len(tc.values))
			}
		})
	}
}

func TestHistogramAgainstSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var h, a, b Histogram
	vals := make([]time.Duration, 100000)
	for i := range vals {
		// log-uniform from 10µs to 10s
		vals[i] = time.Duration(10e3 * float64(uint64(1)<<rng.IntN(20)) * (1 + rng.Float64()))
		h.Record(vals[i])
		if i%2 == 0 {
			a.Record(vals[i])
		} else {
			b.Record(vals[i])
		}
	}
	a.Merge(&b)
	slices.Sort(vals)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 0.9999} {
		exact := vals[int(q*float64(len(vals)))-1]
		if got := h.Quantile(q); !within(got, exact, 1.0/128) {
			t.Errorf("Quantile(%v) = %v, exact %v", q, got, exact)
		}
		if a.Quantile(q) != h.Quantile(q) {
			t.Errorf("merged Quantile(%v) = %v, want %v", q, a.Quantile(q), h.Quantile(q))
		}
	}
	if h.Min() != vals[0] || h.Max() != vals[len(vals)-1] || a.Min() != h.Min() || a.Max() != h.Max() {
		t.Errorf("min/max %v/%v, merged %v/%v, want %v/%v", h.Min(), h.Max(), a.Min(), a.Max(), vals[0], vals[len(vals)-1])
	}
	h.Reset()
	if h.Count() != 0 || h.Quantile(0.5) != 0 || h.Max() != 0 {
		t.Errorf("after Reset: count %d", h.Count())
	}
}

// within reports whether got is want give or take a fraction rel of want.
func within(got, want time.Duration, rel float64) bool {
	d := float64(got - want)
	if d < 0 {
		d = -d
	}
	return d <= rel*float64(want)
}
