package bolt

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	bolt "go.etcd.io/bbolt"
)

// fixture is a data file the store made: its bytes, page size, high-water mark
// (pages) and the IDs of its pages by bbolt's type ("leaf", "branch",
// "freelist", "free").
type fixture struct {
	data  []byte
	ps    int
	hwm   int
	pages map[string][]int
}

// makeFixture writes 1,500 sessions (enough for branch pages) in three commits,
// events of 50 of them and acknowledgements of 20, closes the store and reads
// the file back.
func makeFixture(tb testing.TB) fixture {
	tb.Helper()
	dir := tb.TempDir()
	s, err := Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for first := ccgw.AgentID(101); first < 1601; first += 500 { // three commits: they leave free pages
		err := s.w.write(func(tx *bolt.Tx) error {
			for id := first; id < first+500; id++ {
				sess := tSessFull(id, 1)
				if err := putSessionTx(tx, &sess, encodeSession(&sess)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	for id := ccgw.AgentID(101); id < 151; id++ {
		evs := []ccgw.Event{{Seq: 1, Type: "AgentState_Ready", WorkNo: id.String()}, {Seq: 2, Type: "AgentOther_InService", WorkNo: id.String()}}
		if err := s.AppendEvents(id, 1, evs); err != nil {
			tb.Fatal(err)
		}
	}
	var acks []ccgw.EventAck
	for id := ccgw.AgentID(101); id < 121; id++ {
		acks = append(acks, ccgw.EventAck{Agent: id, Gen: 1, Seq: 1})
	}
	if err := s.AckEvents(acks); err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	f := fixture{pages: map[string][]int{}}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		tb.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		f.ps = db.Info().PageSize
		f.hwm = int(tx.Size()) / f.ps
		for id := 2; id < f.hwm; {
			p, err := tx.Page(id)
			if err != nil || p == nil {
				return err
			}
			f.pages[p.Type] = append(f.pages[p.Type], id)
			id += 1 + p.OverflowCount
		}
		return nil
	})
	db.Close()
	if err != nil {
		tb.Fatal(err)
	}
	if f.data, err = os.ReadFile(path); err != nil {
		tb.Fatal(err)
	}
	if len(f.pages["branch"]) == 0 || len(f.pages["leaf"]) < 3 || len(f.pages["freelist"]) != 1 {
		tb.Fatalf("fixture lacks the pages the cases damage: %v", f.pages)
	}
	return f
}

// damage is one way to damage a fixture's bytes.
type damage struct {
	name string
	fn   func(f fixture, b []byte) []byte
}

func zeroPage(f fixture, b []byte, id int) {
	clear(b[id*f.ps : (id+1)*f.ps])
}

// damages are the cases every test of a damaged file runs: each leaves a file
// the store must refuse. (A zeroed or flipped byte in a free page or in a
// page's unused tail harms nothing, and is not among them.)
var damages = []damage{
	{"0 bytes", func(f fixture, b []byte) []byte { return nil }},
	{"not a bbolt file", func(f fixture, b []byte) []byte { return []byte("sessions: none\nthis is a text file\n") }},
	{"truncated to 100 bytes", func(f fixture, b []byte) []byte { return b[:100] }},
	{"truncated to one page", func(f fixture, b []byte) []byte { return b[:f.ps] }},
	{"truncated to half its pages", func(f fixture, b []byte) []byte { return b[:f.hwm/2*f.ps] }},
	{"last page cut short", func(f fixture, b []byte) []byte { return b[:f.hwm*f.ps-1] }},
	{"both meta pages zeroed", func(f fixture, b []byte) []byte { zeroPage(f, b, 0); zeroPage(f, b, 1); return b }},
	{"meta page 0 zeroed", func(f fixture, b []byte) []byte { zeroPage(f, b, 0); return b }}, // bbolt asserts both are meta pages
	{"freelist page zeroed", func(f fixture, b []byte) []byte { zeroPage(f, b, f.pages["freelist"][0]); return b }},
	{"a branch page zeroed", func(f fixture, b []byte) []byte { zeroPage(f, b, f.pages["branch"][0]); return b }},
	{"a leaf page zeroed", func(f fixture, b []byte) []byte { zeroPage(f, b, f.pages["leaf"][1]); return b }},
	{"pages 2-9 zeroed", func(f fixture, b []byte) []byte {
		for id := 2; id < 10; id++ {
			zeroPage(f, b, id)
		}
		return b
	}},
	{"leaf page flags bit flipped", func(f fixture, b []byte) []byte { b[f.pages["leaf"][2]*f.ps+8] ^= 0x04; return b }},
	{"leaf element key size bit flipped", func(f fixture, b []byte) []byte {
		b[f.pages["leaf"][2]*f.ps+pageHeaderSize+8+1] ^= 0x40 // ksize of element 0, bit 14
		return b
	}},
	{"branch element page ID bit flipped", func(f fixture, b []byte) []byte {
		b[f.pages["branch"][0]*f.ps+pageHeaderSize+8+2] ^= 0x10 // pgid of element 0, bit 20
		return b
	}},
	{"branch element key order broken", func(f fixture, b []byte) []byte {
		// The first byte of the second element's key: big-endian agent IDs.
		at := f.pages["branch"][0]*f.ps + pageHeaderSize + elemSize
		pos := int(b[at]) | int(b[at+1])<<8
		b[at+pos] ^= 0x80
		return b
	}},
	{"freelist count bit flipped", func(f fixture, b []byte) []byte { b[f.pages["freelist"][0]*f.ps+11] ^= 0x20; return b }},
	{"page header ID bit flipped", func(f fixture, b []byte) []byte { b[f.pages["leaf"][0]*f.ps] ^= 0x01; return b }},
}

// TestOpenRefusesDamagedFiles opens each damaged file: Open returns a
// *DamagedError naming the file and never panics; with Recover the store opens
// empty, the damaged bytes are kept in ccgw.db.damaged-<time>, and a warning is
// logged.
func TestOpenRefusesDamagedFiles(t *testing.T) {
	f := makeFixture(t)
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			bad := d.fn(f, bytes.Clone(f.data))
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir)
			var dmg *DamagedError
			if !errors.As(err, &dmg) || dmg.Path != path {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Open = %v, want a *DamagedError for %s", err, path)
			}
			t.Logf("%v", err)

			var logs bytes.Buffer
			now := time.Date(2026, 12, 2, 7, 8, 9, 0, time.UTC)
			s, err = OpenWith(dir, Options{Recover: true, Now: func() time.Time { return now },
				Log: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("OpenWith Recover: %v", err)
			}
			defer s.Close()
			if n := len(tSessLoad(t, s)); n != 0 {
				t.Fatalf("recovered store has %d sessions, want none", n)
			}
			if err := s.PutSession(&ccgw.Session{Agent: 101, Gen: 1}); err != nil || !s.Ready() {
				t.Fatalf("recovered store: PutSession %v, Ready %v", err, s.Ready())
			}
			kept, err := os.ReadFile(path + ".damaged-20261202T070809.000Z")
			if err != nil || !bytes.Equal(kept, bad) {
				t.Fatalf("damaged file not kept as it was: %v", err)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "moved_to=") {
				t.Fatalf("no warning logged: %s", logs.String())
			}
		})
	}
}

// TestOpenRefusesAnUndecodableRecord writes a session record the codec cannot
// read with bbolt itself: the structure is sound, the record is not.
func TestOpenRefusesAnUndecodableRecord(t *testing.T) {
	s, dir := tSessOpen(t)
	if err := s.PutSession(&ccgw.Session{Agent: 101, Gen: 1}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(sessionsBucket).Put(key(102), []byte{1, 2}) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	var dmg *DamagedError
	if !errors.As(err, &dmg) || !strings.Contains(dmg.Reason, "session record 00000066") {
		t.Fatalf("Open = %v, want a *DamagedError naming session record 00000066", err)
	}
}

// TestOpenHealthyFixture checks the cases' premise: the fixture as written, with
// a meta page torn (its checksum wrong: bbolt uses the other) or with a free
// page zeroed, opens and keeps its sessions.
func TestOpenHealthyFixture(t *testing.T) {
	f := makeFixture(t)
	for name, b := range map[string][]byte{
		"as written":       bytes.Clone(f.data),
		"meta page 0 torn": func() []byte { b := bytes.Clone(f.data); b[pageHeaderSize+48] ^= 0xff; return b }(), // its txid
		"free page zeroed": func() []byte { b := bytes.Clone(f.data); zeroPage(f, b, f.pages["free"][0]); return b }(),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileName), b, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if n := len(tSessLoad(t, s)); n < 1400 { // the meta fallback loses the last commit at most
				t.Fatalf("%d sessions, want the fixture's 1500", n)
			}
		})
	}
}

// TestOpenRandomBitFlips flips one random bit (seeded) of 120 copies of the
// fixture, anywhere below its high-water mark: each either opens, and then
// loads and writes without a panic, or is refused as damaged. A flip in a value
// or a page's unused tail cannot always be seen; none may crash the process.
func TestOpenRandomBitFlips(t *testing.T) {
	f := makeFixture(t)
	const flips = 120
	rng := rand.New(rand.NewPCG(7, 11))
	refused := 0
	dir := t.TempDir()
	for i := range flips {
		b := bytes.Clone(f.data)
		at := rng.IntN(f.hwm * f.ps)
		b[at] ^= 1 << rng.IntN(8)
		path := filepath.Join(dir, FileName)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir)
		var dmg *DamagedError
		switch {
		case errors.As(err, &dmg):
			refused++
			continue
		case err != nil:
			t.Fatalf("flip %d at byte %d: Open = %v, want success or a *DamagedError", i, at, err)
		}
		err = s.LoadSessions(func(*ccgw.Session) error { return nil })
		if err == nil {
			err = s.LoadEvents(func(ccgw.AgentID, uint64, uint64, []ccgw.Event) error { return nil })
		}
		if err == nil {
			err = s.PutSession(&ccgw.Session{Agent: 5000, Gen: 1})
		}
		s.Close()
		if err != nil {
			t.Fatalf("flip %d at byte %d: opened, then %v", i, at, err)
		}
	}
	t.Logf("%d of %d flips refused as damage; the rest harmless to the structure", refused, flips)
}

// TestOpenLockedIsNotDamage opens a store another open store holds: an error
// that says so after the lock timeout, not a *DamagedError.
func TestOpenLockedIsNotDamage(t *testing.T) {
	_, dir := tSessOpen(t)
	s, err := OpenWith(dir, Options{LockTimeout: 50 * time.Millisecond, Recover: true})
	var dmg *DamagedError
	if err == nil || errors.As(err, &dmg) || !strings.Contains(err.Error(), "in use by another process") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("OpenWith on a locked file = %v, want an in-use error", err)
	}
}
