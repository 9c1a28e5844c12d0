package bolt

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"unsafe"

	"github.com/ccgw/ccgw"
	bolt "go.etcd.io/bbolt"
)

// tSessEvery returns a session with every field set to a value that is not its
// zero value, so that a field the codec forgets shows in a round trip.
func tSessEvery(t *testing.T) ccgw.Session {
	t.Helper()
	s := tSessFull(4242, 77)
	s.AfterCall = ccgw.StateRest
	s.AfterCallRest = 60000
	s.AfterCallReason = 12
	s.CallID = "1767225600-42"
	s.RestUntil = 1767225660000
	s.RestSeq = 3
	s.Simulated = true
	s.LegacyPush = true
	s.StateSince = -5 // negative integers survive too
	v := reflect.ValueOf(s)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("field %s is zero: set it here and encode it in codec.go", v.Type().Field(i).Name)
		}
	}
	return s
}

func TestSessionCodecRoundTrip(t *testing.T) {
	for _, s := range []ccgw.Session{tSessEvery(t), {Agent: 101, Gen: 1}, {Agent: 999999, Gen: 1 << 62, Skills: []int{-1, 0, 1 << 40}}} {
		v := encodeSession(&s)
		var got ccgw.Session
		if err := decodeSession(v, &got); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
		}
		if g := storedGen(v); g != s.Gen {
			t.Fatalf("storedGen = %d, want %d", g, s.Gen)
		}
		// Every truncation is an error, never a panic or a wrong session.
		for n := range len(v) {
			if err := decodeSession(v[:n], &got); err == nil {
				t.Fatalf("decode of %d of %d bytes succeeded: %+v", n, len(v), got)
			}
		}
	}
}

// TestSessionCodecOneStringAllocation: a decoded session's strings share one
// allocation (a restored million sessions hold one instead of nine each).
func TestSessionCodecOneStringAllocation(t *testing.T) {
	s := tSessEvery(t)
	v := encodeSession(&s)
	var got ccgw.Session
	allocs := testing.AllocsPerRun(100, func() {
		if err := decodeSession(v, &got); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 2 { // the strings, the skills
		t.Errorf("decodeSession: %v allocations, want 2", allocs)
	}
	if unsafe.StringData(got.GUID) == unsafe.StringData(got.PrevGUID) {
		t.Fatal("GUID and PrevGUID share their start")
	}
}

// TestLoadsJSONRecords: a data directory written before the binary records (JSON
// values) restores, and a record rewritten since is binary.
func TestLoadsJSONRecords(t *testing.T) {
	s, dir := tSessOpen(t)
	s.Close()
	want := tSessEvery(t)
	old := tSessFull(102, 5)
	evs := []ccgw.Event{
		{Type: ccgw.EvInService, GenTime: 1767225600000, WorkNo: "4242", Seq: 1},
		{Type: ccgw.EvSetNotReadySuccess, GenTime: 1767225600001, WorkNo: "4242", Content: json.RawMessage(`{"reason":"0"}`), Seq: 2},
	}
	db, err := bolt.Open(filepath.Join(dir, "ccgw.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, sess := range []ccgw.Session{want, old} {
			v, _ := json.Marshal(&sess)
			if err := tx.Bucket(sessionsBucket).Put(key(sess.Agent), v); err != nil {
				return err
			}
		}
		eb, _, err := buckets(tx)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			v, _ := json.Marshal(&ev)
			if err := eb.Put(eventKey(want.Agent, want.Gen, ev.Seq), v); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := tSessLoad(t, s)
	if !reflect.DeepEqual(got[want.Agent], want) || !reflect.DeepEqual(got[old.Agent], old) {
		t.Fatalf("JSON records loaded as\n%+v\n%+v\nwant\n%+v\n%+v", got[want.Agent], got[old.Agent], want, old)
	}
	// Gen ordering reads the JSON record's gen: an older put loses, a newer one wins.
	if err := s.PutSession(&ccgw.Session{Agent: old.Agent, Gen: old.Gen - 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(old.Agent, old.Gen-1); err != nil {
		t.Fatal(err)
	}
	if g := tSessLoad(t, s)[old.Agent]; !reflect.DeepEqual(g, old) {
		t.Fatalf("older put or delete replaced a JSON record: %+v", g)
	}
	if err := s.DeleteSession(old.Agent, old.Gen); err != nil {
		t.Fatal(err)
	}
	if _, ok := tSessLoad(t, s)[old.Agent]; ok {
		t.Fatal("delete of a JSON record's gen left it")
	}
	var loaded []ccgw.Event
	err = s.LoadEvents(func(id ccgw.AgentID, gen, acked uint64, es []ccgw.Event) error {
		if id != want.Agent || gen != want.Gen {
			t.Errorf("events of %d/%d, want %d/%d", id, gen, want.Agent, want.Gen)
		}
		loaded = append(loaded, es...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A JSON null content comes back as the raw "null" it was written as.
	wantEvs := append([]ccgw.Event(nil), evs...)
	wantEvs[0].Content = json.RawMessage("null")
	if !reflect.DeepEqual(loaded, wantEvs) {
		t.Fatalf("JSON events loaded as %+v, want %+v", loaded, wantEvs)
	}
}

func TestEventCodecRoundTrip(t *testing.T) {
	evs := []ccgw.Event{
		{Type: ccgw.EvInService, GenTime: 1767225600000, WorkNo: "101"},
		{Type: ccgw.EvReady, GenTime: 1767225600000, WorkNo: "101", Content: json.RawMessage{}},
		{Type: "AgentEvent_Customer_Alerting", GenTime: -1, WorkNo: "101", Content: json.RawMessage(`{"caller":"1390000"}`)},
		{Type: ccgw.EvInService, GenTime: 1, WorkNo: "102", Content: json.RawMessage(`"x"`)},
	}
	var d eventDecoder
	var got []ccgw.Event
	for i := range evs {
		v := encodeEvent(&evs[i])
		var ev ccgw.Event
		if err := d.decode(v, &ev); err != nil {
			t.Fatalf("decode %d: %v", i, err)
		}
		got = append(got, ev)
		for n := range len(v) {
			var bad ccgw.Event
			if err := d.decode(v[:n], &bad); err == nil {
				t.Fatalf("decode of event %d's first %d of %d bytes succeeded: %+v", i, n, len(v), bad)
			}
		}
	}
	if !reflect.DeepEqual(got, evs) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, evs)
	}
	if got[1].Content == nil {
		t.Fatal("empty content came back nil")
	}
	if unsafe.StringData(got[0].Type) != unsafe.StringData(got[3].Type) {
		t.Error("the same event type decoded twice is two strings")
	}
	if unsafe.StringData(got[0].WorkNo) != unsafe.StringData(got[1].WorkNo) {
		t.Error("an agent's work number decoded twice is two strings")
	}
}
