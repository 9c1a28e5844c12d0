package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A damaged data file against the real binary: one line on stderr naming the
// file and --data-recover, exit status 1, never a Go panic or fault trace; with
// --data-recover the gateway starts empty and serves.

// dataFile is a ccgw.db the gateway wrote: its bytes, page size, high-water mark
// and page IDs by bbolt's type.
type dataFile struct {
	data  []byte
	ps    int
	hwm   int
	pages map[string][]int
}

// makeDataFile runs the gateway, signs 400 agents in (their sessions fill leaf
// pages under a branch page, their sign-in events another bucket), stops it
// with SIGTERM and reads its file.
func makeDataFile(t *testing.T) dataFile {
	t.Helper()
	dir := t.TempDir()
	p := startGateway(t, dir, "--auth-mode", "static", "--heartbeat-timeout", "1m")
	ids := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := p.newClient(nil)
			defer c.CloseIdleConnections()
			for id := range ids {
				r, err := send(context.Background(), c, http.MethodPut, p.url("onlineagent/"+id), "", loginBody)
				if err != nil || r.env.Retcode != "0" {
					t.Errorf("sign in %s: %v %s", id, err, r.body)
				}
			}
		}()
	}
	for i := range 400 {
		ids <- fmt.Sprint(2000 + i)
	}
	close(ids)
	wg.Wait()
	if code := p.terminate(20 * time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
	path := filepath.Join(dir, "ccgw.db")
	f := dataFile{pages: map[string][]int{}}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		f.ps = db.Info().PageSize
		f.hwm = int(tx.Size()) / f.ps
		for id := 2; id < f.hwm; {
			pi, err := tx.Page(id)
			if err != nil || pi == nil {
				return err
			}
			f.pages[pi.Type] = append(f.pages[pi.Type], id)
			id += 1 + pi.OverflowCount
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if f.data, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	if len(f.pages["branch"]) == 0 || len(f.pages["leaf"]) < 3 || len(f.pages["freelist"]) != 1 {
		t.Fatalf("data file lacks the pages the cases damage: %v", f.pages)
	}
	return f
}

func (f dataFile) zero(b []byte, ids ...int) []byte {
	for _, id := range ids {
		clear(b[id*f.ps : (id+1)*f.ps])
	}
	return b
}

// flip flips bit of byte off of page id.
func (f dataFile) flip(b []byte, id, off int, bit byte) []byte {
	b[id*f.ps+off] ^= bit
	return b
}

// exitRun is how one run of the binary ended.
type exitRun struct {
	started bool   // it logged its listening line (and was killed)
	code    int    // exit status, if it exited
	stderr  string // all it wrote to stderr and stdout
}

// runData runs the binary on dir with args until it exits or starts listening
// (then it is killed), for at most 60 s.
func runData(t *testing.T, dir string, args ...string) exitRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "off", "--plaintext", "--data", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	var out lockedBuffer
	cmd.Stderr, cmd.Stdout = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case <-done:
			return exitRun{code: cmd.ProcessState.ExitCode(), stderr: out.String()}
		case <-ctx.Done():
			cmd.Process.Kill()
			<-done
			t.Fatalf("ccgw neither exited nor listened within 60s:\n%s", out.String())
		case <-time.After(20 * time.Millisecond): // a poll of its output, not a pause for it
			if strings.Contains(out.String(), "msg=listening") {
				cmd.Process.Kill()
				<-done
				return exitRun{started: true, stderr: out.String()}
			}
		}
	}
}

// lockedBuffer is a bytes.Buffer the process's output goroutines and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// checkRefused fails t unless r is the refusal of a damaged file at path.
func checkRefused(t *testing.T, r exitRun, path string) {
	t.Helper()
	for _, bad := range []string{"panic:", "goroutine ", "SIGSEGV", "SIGBUS", "fatal error"} {
		if strings.Contains(r.stderr, bad) {
			t.Fatalf("stderr has %q:\n%s", bad, r.stderr)
		}
	}
	line := strings.TrimSuffix(r.stderr, "\n")
	if r.started || r.code != 1 || strings.Contains(line, "\n") ||
		!strings.HasPrefix(line, "ccgw: data file "+path+" is damaged (") || !strings.Contains(line, "--data-recover") {
		t.Fatalf("started %v, exit status %d, stderr:\n%s\nwant status 1 and one line naming %s and --data-recover", r.started, r.code, r.stderr, path)
	}
}

// checkRecovers starts the gateway on dir with --data-recover: it sets the
// file aside, warns, starts empty and serves a sign-in.
func checkRecovers(t *testing.T, dir string, bad []byte) {
	t.Helper()
	p := startGateway(t, dir, "--data-recover")
	if p.restored != 0 {
		t.Fatalf("recovered gateway restored %d sessions, want none", p.restored)
	}
	if ls := p.log.find("level", "WARN", "msg", "data file damaged: moved aside, starting empty"); len(ls) != 1 {
		t.Fatalf("%d warnings of the recovery, want 1", len(ls))
	}
	aside, _ := filepath.Glob(filepath.Join(dir, "ccgw.db.damaged-*"))
	if len(aside) != 1 {
		t.Fatalf("files set aside: %v, want one", aside)
	}
	if kept, err := os.ReadFile(aside[0]); err != nil || !bytes.Equal(kept, bad) {
		t.Fatalf("%s does not hold the damaged bytes (%v)", aside[0], err)
	}
	p.signIn(t, "1001", "")
	p.kill()
}

// TestE2EDamagedDataFile damages a data file the gateway wrote in each of the
// ways below, runs the binary on it without and then with --data-recover.
func TestE2EDamagedDataFile(t *testing.T) {
	t.Parallel()
	f := makeDataFile(t)
	cases := []struct {
		name string
		fn   func(b []byte) []byte
	}{
		{"0 bytes", func(b []byte) []byte { return []byte{} }},
		{"not a bbolt file", func(b []byte) []byte { return []byte("# ccgw data\nsessions = none\n") }},
		{"truncated to 100 bytes", func(b []byte) []byte { return b[:100] }},
		{"truncated to one page", func(b []byte) []byte { return b[:f.ps] }},
		{"truncated to half its pages", func(b []byte) []byte { return b[:f.hwm/2*f.ps] }},
		{"last page cut short", func(b []byte) []byte { return b[:f.hwm*f.ps-1] }},
		{"meta page 0 zeroed", func(b []byte) []byte { return f.zero(b, 0) }},
		{"both meta pages zeroed", func(b []byte) []byte { return f.zero(b, 0, 1) }},
		{"freelist page zeroed", func(b []byte) []byte { return f.zero(b, f.pages["freelist"][0]) }},
		{"branch page zeroed", func(b []byte) []byte { return f.zero(b, f.pages["branch"][0]) }},
		{"leaf page zeroed", func(b []byte) []byte { return f.zero(b, f.pages["leaf"][1]) }},
		{"pages 2-5 zeroed", func(b []byte) []byte { return f.zero(b, 2, 3, 4, 5) }},
		{"leaf page type bit flipped", func(b []byte) []byte { return f.flip(b, f.pages["leaf"][0], 8, 0x04) }},
		{"leaf element key size bit flipped", func(b []byte) []byte { return f.flip(b, f.pages["leaf"][0], 16+9, 0x40) }},
		{"branch element page ID bit flipped", func(b []byte) []byte { return f.flip(b, f.pages["branch"][0], 16+10, 0x10) }},
		{"freelist count bit flipped", func(b []byte) []byte { return f.flip(b, f.pages["freelist"][0], 11, 0x20) }},
		{"page header ID bit flipped", func(b []byte) []byte { return f.flip(b, f.pages["leaf"][0], 0, 0x01) }},
		{"meta page 1 magic bit flipped with page 0 zeroed", func(b []byte) []byte { return f.flip(f.zero(b, 0), 1, 16, 0x01) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "ccgw.db")
			bad := tc.fn(bytes.Clone(f.data))
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			checkRefused(t, runData(t, dir), path)
			checkRecovers(t, dir, bad)
		})
	}
}

// TestE2ERandomBitFlips flips one random bit (seeded) of 12 copies of the data
// file, anywhere in its pages. A flip in a record's value or a page's unused
// tail may harm nothing the gateway can see; each run either starts, or refuses
// with the one line. None shows a panic or fault trace.
func TestE2ERandomBitFlips(t *testing.T) {
	t.Parallel()
	f := makeDataFile(t)
	rng := rand.New(rand.NewPCG(2026, 12))
	refused := 0
	for i := range 12 {
		at := rng.IntN(f.hwm * f.ps)
		bit := byte(1) << rng.IntN(8)
		t.Run(fmt.Sprintf("byte %d bit %#x", at, bit), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "ccgw.db")
			b := bytes.Clone(f.data)
			b[at] ^= bit
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			r := runData(t, dir)
			if r.started {
				if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
					t.Fatalf("flip %d: started, with a trace:\n%s", i, r.stderr)
				}
				return
			}
			refused++
			checkRefused(t, r, path)
		})
	}
	t.Logf("%d of 12 flips refused as damage, the rest started", refused)
}
