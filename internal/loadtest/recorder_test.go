package loadtest

import (
	"testing"
	"time"
)

// TestRecorderLag checks that the max lag counts heartbeats handed over inside
// the window, also those due before it (a schedule running behind), and not
// those handed over outside it.
func TestRecorderLag(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name string
		due  time.Time
		lag  time.Duration
		want time.Duration
	}{
		{"due and handed over inside", t0.Add(time.Second), 3 * time.Millisecond, 3 * time.Millisecond},
		{"due long before, handed over inside", t0.Add(-50 * time.Second), 51 * time.Second, 51 * time.Second},
		{"handed over before the window", t0.Add(-5 * time.Second), time.Second, 0},
		{"handed over after the window", t0.Add(9 * time.Second), 2 * time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c recorder
			c.startWindow(t0, 10*time.Second)
			c.lag(tt.due, tt.lag)
			if c.maxLag != tt.want {
				t.Fatalf("maxLag = %v, want %v", c.maxLag, tt.want)
			}
		})
	}
}
