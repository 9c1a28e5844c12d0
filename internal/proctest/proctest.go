// Package proctest runs processes for tests: it builds the real ccgw binary for
// the tests that run it (e2e, the client package's) and collects a process's
// output (the gateway's, redis-server's).
package proctest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
)

// Build builds ./cmd/ccgw of this module into out, with the race detector if
// the calling test binary has it.
func Build(out string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	gomod, err := exec.Command(gobin, "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := strings.TrimSpace(string(gomod))
	if root == "" || root == os.DevNull {
		return fmt.Errorf("proctest: not inside the ccgw module")
	}
	args := []string{"build", "-o", out}
	if RaceEnabled() {
		args = append(args, "-race")
	}
	cmd := exec.Command(gobin, append(args, "./cmd/ccgw")...)
	cmd.Dir = filepath.Dir(root)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w\n%s", err, b)
	}
	return nil
}

// RaceEnabled reports whether this binary was built with -race.
func RaceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// Log collects output written from several goroutines (a process's stdout
// and stderr, a logger's handler). The zero Log is empty and ready.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
