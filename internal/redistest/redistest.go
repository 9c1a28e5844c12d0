// Package redistest runs a real redis-server for tests: on a free loopback port,
// with its data in the test's temporary directory and every write fsynced to the
// append-only file, so that a Stop and Restart (or a Kill and Restart) keeps it.
// If redis-server is not installed the test fails: .ci/run installs it.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/proctest"
	goredis "github.com/redis/go-redis/v9"
)

// Server is one redis-server process. Its methods are safe for concurrent use.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int

	mu   sync.Mutex // guards proc
	proc *process   // nil while stopped
}

// process is one run of redis-server.
type process struct {
	cmd    *exec.Cmd
	out    *proctest.Log
	exited chan struct{} // closed when cmd.Wait returned
}

// startTimeout bounds how long a start (including loading the AOF) may take.
const startTimeout = 15 * time.Second

// Start runs redis-server on a free 127.0.0.1 port with --dir tb.TempDir(),
// --appendonly yes, --appendfsync always and no RDB snapshots, waits until it
// answers PING, and kills it when the test ends. It fails tb if redis-server is
// missing or does not come up.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := binary()
	if bin == "" {
		tb.Fatal("redistest: redis-server is not installed (neither /usr/bin/redis-server nor on PATH); " +
			"run .ci/run, which installs Debian's redis-server")
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir()}
	tb.Cleanup(s.Kill)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		s.port = port
		if lastErr = s.start(); lastErr == nil {
			return s
		}
		if !errors.Is(lastErr, errPortTaken) {
			break
		}
	}
	tb.Fatalf("redistest: %v", lastErr)
	return nil
}

// binary returns the redis-server to run, or "".
func binary() string {
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server"
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	return ""
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

var errPortTaken = errors.New("port taken")

// start runs redis-server on s.port and waits for it to answer PING.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return nil
	}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--daemonize", "no", "--logfile", "", "--databases", "16")
	p := &process{cmd: cmd, out: &proctest.Log{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		if ping(s.Addr()) == nil {
			s.proc = p
			return nil
		}
		select {
		case <-p.exited:
			out := p.out.String()
			if strings.Contains(out, "Address already in use") {
				return fmt.Errorf("%w: %d", errPortTaken, s.port)
			}
			return fmt.Errorf("redis-server exited on start (%v):\n%s", cmd.ProcessState, out)
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-p.exited
			return fmt.Errorf("redis-server on %s did not answer PING within %v:\n%s", s.Addr(), startTimeout, p.out.String())
		}
		time.Sleep(10 * time.Millisecond) // polls a process we cannot be told about
	}
}

// ping sends PING on a fresh connection and reports an error unless it gets
// +PONG (a server still loading its AOF answers -LOADING).
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING: %q", strings.TrimSpace(line))
	}
	return nil
}

// Addr returns the server's 127.0.0.1:PORT. It stays the same across restarts.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns redis://127.0.0.1:PORT/0, as --store takes it.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a plain client of the server, for a test to look at keys;
// it is closed when tb ends.
func (s *Server) Client(tb testing.TB) *goredis.Client {
	tb.Helper()
	opt, err := goredis.ParseURL(s.URL())
	if err != nil {
		tb.Fatal(err)
	}
	c := goredis.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	return c
}

// PID returns the process ID of the running redis-server, or 0 while stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Dir returns the directory that holds the append-only file.
func (s *Server) Dir() string { return s.dir }

// Log returns what the current (or last) redis-server process printed.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return ""
	}
	return s.proc.out.String()
}

// Stop shuts the server down cleanly (SIGTERM) and waits for it to exit. The
// data stays in the append-only file. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.tb.Helper()
	s.halt(syscall.SIGTERM)
}

// Kill kills the server (SIGKILL) and waits for it to exit. Every write it
// acknowledged is in the append-only file (appendfsync always).
func (s *Server) Kill() { s.halt(syscall.SIGKILL) }

func (s *Server) halt(sig syscall.Signal) {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(startTimeout):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// Restart stops the server if it runs, then starts it again on the same port
// with the same directory, and waits until it answers PING (its data loaded
// from the append-only file). It fails the test if the server does not come up.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	var err error
	deadline := time.Now().Add(startTimeout)
	for {
		// The port was ours a moment ago; another process may grab it meanwhile,
		// and then the retries only tell the test why it failed.
		if err = s.start(); err == nil || !errors.Is(err, errPortTaken) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // waiting for a port someone else holds
	}
	if err != nil {
		s.tb.Fatalf("redistest: restart: %v", err)
	}
}
