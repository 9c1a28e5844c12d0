package bolt

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var testBucket = []byte("test")

// tPut returns a write that puts k=v in testBucket.
func tPut(k, v string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(testBucket)
		if err != nil {
			return err
		}
		return b.Put([]byte(k), []byte(v))
	}
}

func tGet(t *testing.T, s *Store, k string) string {
	t.Helper()
	var v []byte
	s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(testBucket); b != nil {
			v = append(v, b.Get([]byte(k))...)
		}
		return nil
	})
	return string(v)
}

// tHold starts a write that holds its commit open until release is closed, and
// returns once that commit is in progress.
func tHold(t *testing.T, c *committer, wg *sync.WaitGroup) (release chan struct{}) {
	t.Helper()
	release = make(chan struct{})
	started := make(chan struct{})
	wg.Go(func() {
		err := c.write(func(tx *bolt.Tx) error {
			close(started)
			<-release
			return tPut("held", "1")(tx)
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-started
	return release
}

// tQueued waits until n writes are queued behind the commit in progress.
func tQueued(c *committer, n int) {
	for {
		c.mu.Lock()
		q := len(c.queue)
		c.mu.Unlock()
		if q >= n {
			return
		}
		runtime.Gosched()
	}
}

// TestCommitterGroupsWritesQueuedDuringACommit: writes that arrive while a commit
// is in progress share the next transaction, and a lone write needs no company.
func TestCommitterGroupsWritesQueuedDuringACommit(t *testing.T) {
	s, _ := tSessOpen(t)
	c := s.w
	if err := c.write(tPut("lone", "1")); err != nil {
		t.Fatal(err)
	}
	if n := c.commits.Load(); n != 1 {
		t.Fatalf("a lone write took %d commits", n)
	}
	var wg sync.WaitGroup
	release := tHold(t, c, &wg)
	const others = 50
	for i := range others {
		wg.Go(func() {
			if err := c.write(tPut(fmt.Sprint("k", i), "v")); err != nil {
				t.Error(err)
			}
		})
	}
	tQueued(c, others)
	close(release)
	wg.Wait()
	if n := c.commits.Load(); n != 3 {
		t.Fatalf("%d commits for a lone write, a held one and %d queued behind it; want 3", n, others)
	}
	for i := range others {
		if v := tGet(t, s, fmt.Sprint("k", i)); v != "v" {
			t.Fatalf("k%d = %q after its write returned", i, v)
		}
	}
}

// TestCommitterIsolatesAFailingWrite: a write that fails or panics gets its own
// error, and the writes it shared a transaction with still commit.
func TestCommitterIsolatesAFailingWrite(t *testing.T) {
	s, _ := tSessOpen(t)
	c := s.w
	boom := errors.New("boom")
	var wg sync.WaitGroup
	release := tHold(t, c, &wg)
	errs := make([]error, 4)
	writes := []func(*bolt.Tx) error{
		tPut("a", "1"),
		func(tx *bolt.Tx) error { tPut("bad", "1")(tx); return boom },
		func(*bolt.Tx) error { panic("oops") },
		tPut("b", "2"),
	}
	for i, fn := range writes {
		wg.Go(func() { errs[i] = c.write(fn) })
	}
	tQueued(c, len(writes))
	close(release)
	wg.Wait()
	if errs[0] != nil || errs[3] != nil {
		t.Fatalf("good writes failed: %v, %v", errs[0], errs[3])
	}
	if !errors.Is(errs[1], boom) {
		t.Fatalf("failing write got %v, want %v", errs[1], boom)
	}
	if errs[2] == nil {
		t.Fatal("panicking write got no error")
	}
	if tGet(t, s, "a") != "1" || tGet(t, s, "b") != "2" {
		t.Fatal("writes batched with a failing one were lost")
	}
	if v := tGet(t, s, "bad"); v != "" {
		t.Fatalf("a failed write's put was committed: %q", v)
	}
}

// TestCommitterCloseCommitsQueued: writes queued when Close is called commit;
// writes after it fail.
func TestCommitterCloseCommitsQueued(t *testing.T) {
	s, _ := tSessOpen(t)
	c := s.w
	var wg sync.WaitGroup
	release := tHold(t, c, &wg)
	var queuedErr error
	wg.Go(func() { queuedErr = c.write(tPut("q", "1")) })
	tQueued(c, 1)
	closed := make(chan struct{})
	go func() {
		c.close()
		close(closed)
	}()
	close(release)
	<-closed
	wg.Wait()
	if queuedErr != nil {
		t.Fatalf("write queued before close: %v", queuedErr)
	}
	if v := tGet(t, s, "q"); v != "1" {
		t.Fatalf("write queued before close returned but q = %q", v)
	}
	if err := c.write(tPut("late", "1")); !errors.Is(err, bolt.ErrDatabaseNotOpen) {
		t.Fatalf("write after close: %v, want %v", err, bolt.ErrDatabaseNotOpen)
	}
	s.closed.Store(true) // the committer is closed; close the file too
	s.db.Close()
}
