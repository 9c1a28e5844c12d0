package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ccgw/ccgw/internal/loadtest"
)

// baselineServerCmd is the hidden subcommand `ccgw bench --baseline` re-executes
// this binary with: the bare net/http server of the baseline run, in its own
// process as the gateway is. It is not in any usage text.
const baselineServerCmd = "bench-baseline-server"

// baselineStopLimit is how long stopping the baseline server may take before it is killed.
const baselineStopLimit = 10 * time.Second

// runBaselineServer runs `ccgw bench-baseline-server [--tls]` with args (those
// after the subcommand): it serves loadtest's bare handlers, and its own RSS at
// /metrics, on 127.0.0.1:0, writes the URL to stdout as one line once it
// listens, and returns when stdin reaches its end or fails (the parent stopped
// it, or died) or ctx ends. It returns the exit code: 0, 1 if it could not
// listen, 2 for bad arguments. The goroutine reading stdin ends with stdin.
func runBaselineServer(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ccgw "+baselineServerCmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	tlsOn := fs.Bool("tls", false, "serve TLS with a fresh self-signed certificate")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ccgw %s: unexpected argument %q\n", baselineServerCmd, fs.Arg(0))
		return 2
	}
	b, err := loadtest.StartBare(loadtest.BareConfig{TLS: *tlsOn, RSS: true})
	if err != nil {
		fmt.Fprintf(stderr, "ccgw %s: %v\n", baselineServerCmd, err)
		return 1
	}
	defer b.Close()
	eof := make(chan struct{})
	go func() {
		defer close(eof)
		io.Copy(io.Discard, stdin)
	}()
	if _, err := fmt.Fprintln(stdout, b.URL); err != nil {
		return 1 // nobody will read the URL
	}
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return 0
}

// startBaselineProcess is `ccgw bench`'s loadtest.Config.StartBaseline: it
// re-executes this binary as `ccgw bench-baseline-server` with the child's
// stderr on stderr, and returns once the child has written the URL it serves.
// Stop closes the child's stdin, which ends it, and waits for it (killing it
// after baselineStopLimit); this process dying closes that pipe too, so the
// child never outlives it. Stop returns an error if the child did not exit 0.
func startBaselineProcess(stderr io.Writer) func(ctx context.Context, tls bool) (loadtest.BaselineServer, error) {
	return func(ctx context.Context, tls bool) (loadtest.BaselineServer, error) {
		exe, err := os.Executable()
		if err != nil {
			return loadtest.BaselineServer{}, err
		}
		args := []string{baselineServerCmd}
		if tls {
			args = append(args, "--tls")
		}
		return startBaselineCmd(ctx, exec.Command(exe, args...), stderr)
	}
}

// startBaselineCmd starts cmd, a bench-baseline-server, and reads its URL; see startBaselineProcess.
func startBaselineCmd(ctx context.Context, cmd *exec.Cmd, stderr io.Writer) (loadtest.BaselineServer, error) {
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return loadtest.BaselineServer{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		stdin.Close()
		return loadtest.BaselineServer{}, err
	}
	if err := cmd.Start(); err != nil {
		return loadtest.BaselineServer{}, fmt.Errorf("start %s: %w", baselineServerCmd, err)
	}
	// The child's stdout ends at its exit at the latest, so this goroutine does too.
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	exited := make(chan error, 1)
	wait := func() error {
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			return err
		case <-time.After(baselineStopLimit):
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("%s (pid %d) still running %v after its stdin closed: killed", baselineServerCmd, cmd.Process.Pid, baselineStopLimit)
		}
	}
	var url string
	select {
	case url = <-line:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-line
		stdin.Close()
		wait()
		return loadtest.BaselineServer{}, ctx.Err()
	}
	url = strings.TrimSpace(url)
	if url == "" {
		stdin.Close()
		err := wait()
		if err == nil {
			err = errors.New("exited")
		}
		return loadtest.BaselineServer{}, fmt.Errorf("%s wrote no URL: %w", baselineServerCmd, err)
	}
	pid := cmd.Process.Pid
	stop := func() error {
		stdin.Close()
		if err := wait(); err != nil {
			return fmt.Errorf("%s (pid %d): %w", baselineServerCmd, pid, err)
		}
		return nil
	}
	return loadtest.BaselineServer{URL: url, Where: fmt.Sprintf("in its own process (pid %d)", pid), Stop: stop}, nil
}
