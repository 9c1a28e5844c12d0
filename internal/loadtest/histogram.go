package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// Histogram counts durations in log-linear buckets, as HdrHistogram does: values
// below 2^subBits nanoseconds get a bucket each; above that every power of two is
// cut into 2^(subBits-1) equal buckets, so a bucket's width is at most 1/128 of
// its lower bound and a quantile is reported within 0.8% of the true value.
// Values from maxTracked up count in the top bucket. The zero Histogram is empty
// and ready to use; it is not safe for concurrent use.
type Histogram struct {
	counts   []uint64 // by bucket index; allocated on the first Record
	n        uint64
	sum      float64 // nanoseconds, for Mean
	min, max time.Duration
}

const (
	subBits    = 8
	subCount   = 1 << subBits           // exact buckets below this value, in ns
	halfCount  = subCount / 2           // buckets per power of two above it
	maxTracked = time.Duration(1) << 40 // ~18 minutes
)

// numBuckets is bucketOf(maxTracked-1)+1.
var numBuckets = bucketOf(uint64(maxTracked-1)) + 1

// bucketOf returns the index of the bucket that holds v nanoseconds.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(v) - subBits // ≥ 1; v>>e is in [halfCount, subCount)
	return subCount + (e-1)*halfCount + int(v>>e) - halfCount
}

// bucketBounds returns the lowest and highest value, in nanoseconds, that bucket
// i holds.
func bucketBounds(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	j := i - subCount
	e := j/halfCount + 1
	m := uint64(j%halfCount + halfCount)
	lo = m << e
	return lo, lo + 1<<e - 1
}

// Record counts one value; negative values count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	v := d
	if v >= maxTracked {
		v = maxTracked - 1
	}
	h.counts[bucketOf(uint64(v))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += float64(d)
}

// Merge adds every value counted in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h, keeping its buckets' memory.
func (h *Histogram) Reset() {
	clear(h.counts)
	h.n, h.sum, h.min, h.max = 0, 0, 0, 0
}

// Count returns how many values h holds.
func (h *Histogram) Count() uint64 { return h.n }

// Min and Max return the smallest and largest value recorded, exactly; 0 if none.
func (h *Histogram) Min() time.Duration { return h.min }

// Max returns the largest value recorded, exactly; 0 if none.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean returns the average value; 0 if none.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the value at or below which a fraction q (0 to 1) of the
// values lie: the highest value of the bucket holding the ceil(q·n)-th smallest
// value, kept within [Min, Max]. It is 0 when h is empty and non-decreasing in q.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	rank = min(rank, h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketBounds(i)
			return min(max(time.Duration(hi), h.min), h.max)
		}
	}
	return h.max
}
