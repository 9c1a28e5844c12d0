package clock

import (
	"testing"
	"time"
)

func TestFakeFiresInOrder(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	var got []int
	f.AfterFunc(3*time.Second, func() { got = append(got, 3) })
	f.AfterFunc(1*time.Second, func() { got = append(got, 1) })
	stopped := f.AfterFunc(2*time.Second, func() { got = append(got, 2) })
	tm := f.NewTimer(2 * time.Second)
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	f.Advance(2 * time.Second)
	if len(got) != 1 || got[0] != 1 {
		t.Fatalf("after 2s fired %v, want [1]", got)
	}
	select {
	case at := <-tm.C():
		if !at.Equal(start.Add(2 * time.Second)) {
			t.Fatalf("timer fired at %v", at)
		}
	default:
		t.Fatal("timer due at 2s did not fire")
	}
	f.Advance(time.Second)
	if len(got) != 2 || got[1] != 3 {
		t.Fatalf("after 3s fired %v, want [1 3]", got)
	}
	if f.Pending() != 0 {
		t.Fatalf("pending = %d", f.Pending())
	}
	if tm.Stop() {
		t.Fatal("Stop of a fired timer reported true")
	}
}

func TestFakeCallbackSeesItsDeadline(t *testing.T) {
	start := time.Unix(1000, 0)
	f := NewFake(start)
	var seen time.Time
	f.AfterFunc(5*time.Second, func() { seen = f.Now() })
	f.Advance(time.Minute)
	if !seen.Equal(start.Add(5 * time.Second)) {
		t.Fatalf("callback saw %v, want %v", seen, start.Add(5*time.Second))
	}
	if !f.Now().Equal(start.Add(time.Minute)) {
		t.Fatalf("now = %v", f.Now())
	}
}
