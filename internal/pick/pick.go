// Package pick chooses a page of a list in key order without sorting the list:
// the k lowest keys of those offered, in O(n log k) time and O(k) memory.
package pick

import (
	"cmp"
	"slices"
)

// Lowest keeps the k lowest of the values offered to it. The zero value keeps
// none; use NewLowest. It is not safe for concurrent use.
type Lowest[T cmp.Ordered] struct {
	k int
	h []T // a max-heap: h[0] is the highest kept
}

// NewLowest returns a Lowest that keeps k values (none if k < 1).
func NewLowest[T cmp.Ordered](k int) *Lowest[T] {
	return &Lowest[T]{k: max(k, 0), h: make([]T, 0, min(max(k, 0), 1024))}
}

// Offer keeps v if fewer than k values are kept or v is lower than the highest
// kept, which it then drops. Once k values are kept, offering a higher one is
// one comparison.
func (l *Lowest[T]) Offer(v T) {
	switch {
	case len(l.h) < l.k:
		l.h = append(l.h, v)
		l.up(len(l.h) - 1)
	case l.k > 0 && v < l.h[0]:
		l.h[0] = v
		l.down(0)
	}
}

// Len returns how many values are kept.
func (l *Lowest[T]) Len() int { return len(l.h) }

// Sorted returns the values kept, lowest first, and empties l.
func (l *Lowest[T]) Sorted() []T {
	out := l.h
	l.h = nil
	slices.Sort(out)
	return out
}

func (l *Lowest[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if l.h[p] >= l.h[i] {
			return
		}
		l.h[p], l.h[i] = l.h[i], l.h[p]
		i = p
	}
}

func (l *Lowest[T]) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(l.h) {
			return
		}
		if c+1 < len(l.h) && l.h[c+1] > l.h[c] {
			c++
		}
		if l.h[i] >= l.h[c] {
			return
		}
		l.h[i], l.h[c] = l.h[c], l.h[i]
		i = c
	}
}
