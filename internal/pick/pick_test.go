package pick

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLowest offers random values (with repeats) to Lowest of several sizes and
// compares with sorting them all.
func TestLowest(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 7, 100, 5000} {
		for _, k := range []int{-1, 0, 1, 3, 100, 501} {
			vals := make([]uint32, n)
			for i := range vals {
				vals[i] = rnd.Uint32N(uint32(n + 1))
			}
			l := NewLowest[uint32](k)
			for _, v := range vals {
				l.Offer(v)
			}
			want := slices.Clone(vals)
			slices.Sort(want)
			want = want[:min(max(k, 0), n)]
			if l.Len() != len(want) {
				t.Fatalf("n=%d k=%d: Len %d, want %d", n, k, l.Len(), len(want))
			}
			if got := l.Sorted(); !slices.Equal(got, want) && len(want) > 0 {
				t.Fatalf("n=%d k=%d: %v, want %v", n, k, got, want)
			}
		}
	}
}

// TestLowestAllocs: once k values are kept, offering allocates nothing.
func TestLowestAllocs(t *testing.T) {
	l := NewLowest[int](500)
	i := 1 << 20
	if a := testing.AllocsPerRun(10000, func() { l.Offer(i); i-- }); a != 0 {
		t.Fatalf("%v allocations per Offer", a)
	}
}
