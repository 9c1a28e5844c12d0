package session

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/ccgw/ccgw"
)

// tStart is where the tests' fake clocks start: on a whole second, so that ticks
// of 1s, 25ms and 10ms divide it.
var tStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestTickOf(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		tick time.Duration
		want int64
	}{
		{name: "epoch", t: time.Unix(0, 0), tick: time.Second, want: 0},
		{name: "1ns after epoch", t: time.Unix(0, 1), tick: time.Second, want: 1},
		{name: "1ns before a tick", t: time.Unix(0, 999_999_999), tick: time.Second, want: 1},
		{name: "on a tick", t: time.Unix(1, 0), tick: time.Second, want: 1},
		{name: "1ns after a tick", t: time.Unix(1, 1), tick: time.Second, want: 2},
		{name: "1ns before epoch", t: time.Unix(0, -1), tick: time.Second, want: 0},
		{name: "1s before epoch", t: time.Unix(-1, 0), tick: time.Second, want: -1},
		{name: "1s and 1ns before epoch", t: time.Unix(-1, -1), tick: time.Second, want: -1},
		{name: "10ms on a tick", t: time.Unix(0, 30_000_000), tick: 10 * time.Millisecond, want: 3},
		{name: "10ms 1ns after", t: time.Unix(0, 30_000_001), tick: 10 * time.Millisecond, want: 4},
		{name: "odd tick", t: time.Unix(0, 100), tick: 7, want: 15},
		{name: "odd tick exact", t: time.Unix(0, 98), tick: 7, want: 14},
		{name: "1ns tick", t: time.Unix(0, 12345), tick: 1, want: 12345},
		{name: "2026", t: tStart, tick: time.Second, want: tStart.Unix()},
		{name: "2026 plus 1ns", t: tStart.Add(1), tick: time.Second, want: tStart.Unix() + 1},
		{name: "2026 minus 1ns", t: tStart.Add(-1), tick: time.Second, want: tStart.Unix()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tickOf(tt.t, tt.tick)
			if got != tt.want {
				t.Fatalf("tickOf(%v, %v) = %d, want %d", tt.t.UnixNano(), tt.tick, got, tt.want)
			}
			// The tick is the first at or after t: never early, never a whole tick late.
			n := tt.t.UnixNano()
			if got*int64(tt.tick) < n || (got-1)*int64(tt.tick) >= n {
				t.Fatalf("tick %d does not start the first tick at or after %d", got, n)
			}
		})
	}
}

func TestTickFor(t *testing.T) {
	tests := []struct {
		timeout time.Duration
		want    time.Duration
	}{
		{timeout: 0, want: 10 * time.Millisecond},
		{timeout: 1, want: 10 * time.Millisecond},
		{timeout: 1199 * time.Millisecond, want: 10 * time.Millisecond},
		{timeout: 1200 * time.Millisecond, want: 10 * time.Millisecond},
		{timeout: 1200*time.Millisecond + 120, want: 10*time.Millisecond + 1},
		{timeout: 2 * time.Second, want: 16_666_666},
		{timeout: 2400 * time.Millisecond, want: 20 * time.Millisecond},
		{timeout: 3 * time.Second, want: 25 * time.Millisecond},
		{timeout: 119 * time.Second, want: 991_666_666},
		{timeout: 120*time.Second - 120, want: time.Second - 1},
		{timeout: 120 * time.Second, want: time.Second},
		{timeout: 120*time.Second + 120, want: time.Second},
		{timeout: 2 * time.Minute, want: time.Second},
		{timeout: time.Hour, want: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.timeout.String(), func(t *testing.T) {
			if got := tickFor(tt.timeout); got != tt.want {
				t.Fatalf("tickFor(%v) = %v (%d ns), want %v", tt.timeout, got, int64(got), tt.want)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	restart := tStart.Add(time.Hour)
	tests := []struct {
		name    string
		seen    time.Time
		timeout time.Duration
		want    time.Time
	}{
		{name: "zero seen", seen: time.Time{}, timeout: 2 * time.Minute, want: time.Time{}.Add(2 * time.Minute)},
		{name: "zero timeout", seen: tStart, timeout: 0, want: tStart},
		{name: "1ns", seen: tStart, timeout: 1, want: tStart.Add(1)},
		{name: "default", seen: tStart, timeout: 2 * time.Minute, want: tStart.Add(2 * time.Minute)},
		{name: "unaligned seen", seen: tStart.Add(1234567), timeout: 3 * time.Second, want: tStart.Add(3*time.Second + 1234567)},
		// A restored session counts from the restart, not from its last heartbeat.
		{name: "restored", seen: restart, timeout: 2 * time.Minute, want: restart.Add(2 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := deadline(tt.seen, tt.timeout)
			if !got.Equal(tt.want) {
				t.Fatalf("deadline = %v, want %v", got, tt.want)
			}
			// Sweep keeps a session while its deadline is after now: alive 1ns
			// before the deadline, gone at it.
			if tt.timeout > 0 && !got.After(tt.seen.Add(tt.timeout-1)) {
				t.Fatal("not alive 1ns before the deadline")
			}
			if got.After(tt.seen.Add(tt.timeout)) {
				t.Fatal("still alive at the deadline")
			}
		})
	}
}

// tIDs returns the agent IDs of es, sorted.
func tIDs(es []wheelEntry) []ccgw.AgentID {
	out := make([]ccgw.AgentID, 0, len(es))
	for _, e := range es {
		out = append(out, e.id)
	}
	slices.Sort(out)
	return out
}

func TestWheelDueOnce(t *testing.T) {
	w := newWheel(time.Second, tStart)
	adds := []struct {
		id ccgw.AgentID
		at time.Duration // after tStart
	}{
		{1, 0},
		{2, 1},
		{3, 999 * time.Millisecond},
		{4, time.Second},
		{5, time.Second + 1},
		{6, 5 * time.Second},
		{7, 5 * time.Second}, // two entries in one tick
	}
	for _, a := range adds {
		w.add(tStart.Add(a.at), wheelEntry{id: a.id, gen: uint64(a.id)})
	}
	if w.len() != len(adds) {
		t.Fatalf("len = %d, want %d", w.len(), len(adds))
	}
	steps := []struct {
		now  time.Duration
		want []ccgw.AgentID
	}{
		{now: 0, want: []ccgw.AgentID{1}},
		{now: 0, want: nil},
		{now: 500 * time.Millisecond, want: nil},
		{now: time.Second - 1, want: nil},
		{now: time.Second, want: []ccgw.AgentID{2, 3, 4}},
		{now: 1500 * time.Millisecond, want: nil},
		{now: 2 * time.Second, want: []ccgw.AgentID{5}},
		{now: 5*time.Second - 1, want: nil},
		{now: 5 * time.Second, want: []ccgw.AgentID{6, 7}},
		{now: 5 * time.Second, want: nil},
		{now: 10 * time.Second, want: nil},
	}
	for i, st := range steps {
		got := w.due(tStart.Add(st.now))
		if ids := tIDs(got); !slices.Equal(ids, st.want) {
			t.Fatalf("step %d: due(+%v) = %v, want %v", i, st.now, ids, st.want)
		}
		for _, e := range got {
			if e.gen != uint64(e.id) {
				t.Fatalf("entry %d came back with gen %d", e.id, e.gen)
			}
		}
	}
	if w.len() != 0 {
		t.Fatalf("len after everything was due = %d", w.len())
	}
}

// TestWheelAddToSweptTick checks that an entry whose time is in a tick already swept
// is filed in the next tick, neither lost nor handed out twice.
func TestWheelAddToSweptTick(t *testing.T) {
	tests := []struct {
		name string
		at   time.Duration // after tStart
	}{
		{name: "last swept tick", at: 10 * time.Second},
		{name: "inside last swept tick", at: 9500 * time.Millisecond},
		{name: "older tick", at: 3 * time.Second},
		{name: "before the wheel started", at: -time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWheel(time.Second, tStart)
			if got := w.due(tStart.Add(10 * time.Second)); len(got) != 0 {
				t.Fatalf("empty wheel returned %v", got)
			}
			w.add(tStart.Add(tt.at), wheelEntry{id: 9})
			for _, now := range []time.Duration{10 * time.Second, 10*time.Second + 999*time.Millisecond} {
				if got := w.due(tStart.Add(now)); len(got) != 0 {
					t.Fatalf("due(+%v) = %v: an entry filed after a sweep came back in the swept tick", now, tIDs(got))
				}
			}
			if got := tIDs(w.due(tStart.Add(11 * time.Second))); !slices.Equal(got, []ccgw.AgentID{9}) {
				t.Fatalf("due(+11s) = %v, want [9]", got)
			}
			if got := w.due(tStart.Add(time.Hour)); len(got) != 0 {
				t.Fatalf("entry came back twice: %v", tIDs(got))
			}
		})
	}
}

// TestWheelLongJump checks a clock that jumps by far more ticks than are filed, as
// virtual time or a stalled process does.
func TestWheelLongJump(t *testing.T) {
	w := newWheel(10*time.Millisecond, tStart)
	w.add(tStart.Add(time.Hour), wheelEntry{id: 1})
	w.add(tStart.Add(2*time.Hour), wheelEntry{id: 2})
	w.add(tStart.Add(1000*time.Hour), wheelEntry{id: 3})
	w.add(tStart.Add(1000*time.Hour+1), wheelEntry{id: 4})

	if got := tIDs(w.due(tStart.Add(90 * time.Minute))); !slices.Equal(got, []ccgw.AgentID{1}) {
		t.Fatalf("due(+90m) = %v, want [1]: a jump must not hand out later entries", got)
	}
	if got := tIDs(w.due(tStart.Add(1000 * time.Hour))); !slices.Equal(got, []ccgw.AgentID{2, 3}) {
		t.Fatalf("due(+1000h) = %v, want [2 3]", got)
	}
	// The jump counts as swept: an entry for a time it passed goes to the next tick.
	w.add(tStart.Add(time.Hour), wheelEntry{id: 5})
	if got := tIDs(w.due(tStart.Add(1000 * time.Hour))); len(got) != 0 {
		t.Fatalf("due(+1000h) again = %v, want none", got)
	}
	if got := tIDs(w.due(tStart.Add(1000*time.Hour + 10*time.Millisecond))); !slices.Equal(got, []ccgw.AgentID{4, 5}) {
		t.Fatalf("due(+1000h10ms) = %v, want [4 5]", got)
	}
	if w.len() != 0 {
		t.Fatalf("len = %d after all were due", w.len())
	}
}

// TestWheelClockBackwards checks that a due() with an earlier time neither hands
// out entries nor un-sweeps ticks.
func TestWheelClockBackwards(t *testing.T) {
	w := newWheel(time.Second, tStart)
	w.due(tStart.Add(10 * time.Second))
	w.add(tStart.Add(12*time.Second), wheelEntry{id: 1})
	if got := w.due(tStart.Add(5 * time.Second)); len(got) != 0 {
		t.Fatalf("due(earlier) = %v", tIDs(got))
	}
	w.add(tStart.Add(7*time.Second), wheelEntry{id: 2}) // in a swept tick: goes to 11s
	if got := tIDs(w.due(tStart.Add(11 * time.Second))); !slices.Equal(got, []ccgw.AgentID{2}) {
		t.Fatalf("due(+11s) = %v, want [2]", got)
	}
	if got := tIDs(w.due(tStart.Add(12 * time.Second))); !slices.Equal(got, []ccgw.AgentID{1}) {
		t.Fatalf("due(+12s) = %v, want [1]", got)
	}
}

// TestWheelMatchesModel adds entries (some in the past) and sweeps at random times,
// with small steps and long jumps, and checks every entry against a simple model:
// each comes back exactly once, never before its time, and at the first sweep whose
// last whole tick reaches the tick it was filed in.
func TestWheelMatchesModel(t *testing.T) {
	for _, tick := range []time.Duration{10 * time.Millisecond, time.Second, 7} {
		t.Run(tick.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tick), 7))
			now := tStart.Add(time.Duration(rng.Int64N(int64(tick))))
			w := newWheel(tick, now)
			last := tickOf(now, tick) - 1 // the model's last swept tick
			type filed struct {
				at   time.Time
				tick int64
			}
			pending := map[ccgw.AgentID]filed{}
			var next ccgw.AgentID
			for step := 0; step < 3000; step++ {
				if rng.IntN(3) > 0 {
					// Add an entry up to 50 ticks in the past or 200 in the future.
					at := now.Add(time.Duration(rng.Int64N(250*int64(tick)) - 50*int64(tick)))
					next++
					k := tickOf(at, tick)
					if k <= last {
						k = last + 1
					}
					pending[next] = filed{at, k}
					w.add(at, wheelEntry{id: next})
					continue
				}
				switch rng.IntN(10) {
				case 0: // a long jump
					now = now.Add(time.Duration(rng.Int64N(100_000 * int64(tick))))
				default:
					now = now.Add(time.Duration(rng.Int64N(3 * int64(tick))))
				}
				end := now.UnixNano() / int64(tick) // the last whole tick; now is after 1970
				got := w.due(now)
				seen := map[ccgw.AgentID]bool{}
				for _, e := range got {
					f, ok := pending[e.id]
					if !ok || seen[e.id] {
						t.Fatalf("step %d: entry %d handed out twice", step, e.id)
					}
					seen[e.id] = true
					if f.at.After(now) {
						t.Fatalf("step %d: entry %d due at %v handed out early at %v", step, e.id, f.at, now)
					}
					if f.tick > end {
						t.Fatalf("step %d: entry %d filed in tick %d handed out at end %d", step, e.id, f.tick, end)
					}
					delete(pending, e.id)
				}
				for id, f := range pending {
					if f.tick <= end {
						t.Fatalf("step %d: entry %d filed in tick %d not handed out by end %d", step, id, f.tick, end)
					}
				}
				if end > last {
					last = end
				}
			}
			if w.len() != len(pending) {
				t.Fatalf("wheel holds %d entries, model %d", w.len(), len(pending))
			}
		})
	}
}

func TestWheelLenCountsStale(t *testing.T) {
	w := newWheel(time.Second, tStart)
	for i := 0; i < 3; i++ {
		w.add(tStart.Add(time.Duration(i)*time.Second), wheelEntry{id: 1, gen: uint64(i)})
	}
	if w.len() != 3 {
		t.Fatalf("len = %d, want 3 (entries are never removed early)", w.len())
	}
	w.due(tStart.Add(time.Second))
	if w.len() != 1 {
		t.Fatalf("len after due = %d, want 1", w.len())
	}
}

// TestWheelAddAll checks that addAll files many entries as add does, those for swept
// ticks in the next unswept one.
func TestWheelAddAll(t *testing.T) {
	w := newWheel(time.Second, tStart)
	w.addAll(nil)
	w.due(tStart.Add(5 * time.Second))
	var es []timedEntry
	for i := 0; i < 10; i++ {
		es = append(es, timedEntry{tStart.Add(time.Duration(i) * time.Second), wheelEntry{id: ccgw.AgentID(i)}})
	}
	w.addAll(es)
	if got := w.due(tStart.Add(5 * time.Second)); len(got) != 0 {
		t.Fatalf("due(+5s) again = %v", tIDs(got))
	}
	want := []ccgw.AgentID{0, 1, 2, 3, 4, 5, 6}
	if got := tIDs(w.due(tStart.Add(6 * time.Second))); !slices.Equal(got, want) {
		t.Fatalf("due(+6s) = %v, want %v", got, want)
	}
	for i := 7; i < 10; i++ {
		if got := tIDs(w.due(tStart.Add(time.Duration(i) * time.Second))); !slices.Equal(got, []ccgw.AgentID{ccgw.AgentID(i)}) {
			t.Fatalf("due(+%ds) = %v", i, got)
		}
	}
}

// TestWheelEntrySize: a live session has one or two entries filed; keep them small.
func TestWheelEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(wheelEntry{}); n != 24 {
		t.Errorf("wheelEntry is %d bytes, want 24", n)
	}
	if n := unsafe.Sizeof(slotEntry{}); n != 16 {
		t.Errorf("slotEntry is %d bytes, want 16", n)
	}
}

// TestWheelKeepsEntries: every field of an entry comes back as filed, rest
// entries (filed as two) included, in the order filed within a tick.
func TestWheelKeepsEntries(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	w := newWheel(time.Second, tStart)
	var want []wheelEntry
	for i := range 500 {
		e := wheelEntry{gen: rng.Uint64(), id: ccgw.AgentID(rng.Uint32()), tomb: rng.IntN(4) == 0, rotate: rng.IntN(4) == 0}
		if rng.IntN(3) == 0 {
			e.rest = rng.Uint64() | 1
		}
		if i == 0 {
			e = wheelEntry{gen: ^uint64(0), id: ^ccgw.AgentID(0), tomb: true, rotate: true, rest: ^uint64(0)}
		}
		want = append(want, e)
		w.add(tStart.Add(time.Second), e)
	}
	if w.len() != len(want) {
		t.Fatalf("len = %d, want %d", w.len(), len(want))
	}
	if got := w.due(tStart.Add(time.Second)); !slices.Equal(got, want) {
		t.Fatalf("due handed out %d entries, not those filed (first %+v, want %+v)", len(got), got[0], want[0])
	}
}
