package ccgw

import (
	"testing"
	"time"
)

// TestLockoutPolicyFail has a row per step of the count: the first failure,
// one inside the window, one at the window's end (a new window), the one that
// locks, one during a lock, and the zero policy's.
func TestLockoutPolicyFail(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	p := LockoutPolicy{Attempts: 3, Window: time.Minute, Duration: 5 * time.Minute}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, tc := range []struct {
		name string
		p    LockoutPolicy
		f    LoginFailures
		now  time.Time
		want LoginFailures
	}{
		{"first", p, LoginFailures{}, t0, LoginFailures{Count: 1, Since: t0}},
		{"second in the window", p, LoginFailures{Count: 1, Since: t0}, at(59 * time.Second), LoginFailures{Count: 2, Since: t0}},
		{"at the window's end", p, LoginFailures{Count: 2, Since: t0}, at(time.Minute), LoginFailures{Count: 1, Since: at(time.Minute)}},
		{"third in the window locks", p, LoginFailures{Count: 2, Since: t0}, at(time.Second), LoginFailures{Until: at(time.Second + 5*time.Minute)}},
		{"during a lock", p, LoginFailures{Until: at(time.Minute)}, at(time.Second), LoginFailures{Count: 1, Since: at(time.Second), Until: at(time.Minute)}},
		{"during a lock, the third extends it", p, LoginFailures{Count: 2, Since: t0, Until: at(time.Minute)}, at(time.Second), LoginFailures{Until: at(time.Second + 5*time.Minute)}},
		{"one attempt", LockoutPolicy{Attempts: 1, Window: time.Minute, Duration: time.Second}, LoginFailures{}, t0, LoginFailures{Until: at(time.Second)}},
	} {
		got := tc.p.Fail(tc.f, tc.now)
		if got != tc.want {
			t.Errorf("%s: Fail(%+v) = %+v, want %+v", tc.name, tc.f, got, tc.want)
		}
	}
	if (LockoutPolicy{}).On() || !p.On() {
		t.Error("On: the zero policy is off, a policy with attempts on")
	}
	if f := (LoginFailures{Until: at(time.Minute)}); !f.Locked(at(time.Minute-1)) || f.Locked(at(time.Minute)) || (LoginFailures{}).Locked(t0) {
		t.Error("Locked: before Until only")
	}
}

// TestLockoutPolicyExpiry: a record matters until its lock and its window are
// both over.
func TestLockoutPolicyExpiry(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	p := LockoutPolicy{Attempts: 3, Window: time.Minute, Duration: 5 * time.Minute}
	for _, tc := range []struct {
		f    LoginFailures
		want time.Time
	}{
		{LoginFailures{}, time.Time{}},
		{LoginFailures{Count: 1, Since: t0}, t0.Add(time.Minute)},
		{LoginFailures{Until: t0.Add(5 * time.Minute)}, t0.Add(5 * time.Minute)},
		{LoginFailures{Count: 1, Since: t0, Until: t0.Add(30 * time.Second)}, t0.Add(time.Minute)},
		{LoginFailures{Count: 1, Since: t0, Until: t0.Add(2 * time.Minute)}, t0.Add(2 * time.Minute)},
	} {
		if got := p.Expiry(tc.f); !got.Equal(tc.want) {
			t.Errorf("Expiry(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}
}
