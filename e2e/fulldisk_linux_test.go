package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/wait"
)

// TestE2EFullDisk runs the gateway on a 2 MiB tmpfs and fills it (where the
// test may mount one: as root; skipped otherwise). Sign-ins fail with 100-007
// once the data file cannot grow, and /readyz answers 503 from then on, its
// probe included, until room is made: then /readyz is 200 and sign-ins succeed.
func TestE2EFullDisk(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) }) // after the gateway is killed: cleanups run last first
	p := startGateway(t, filepath.Join(mnt, "data"), "--auth-mode", "static", "--heartbeat-timeout", "1m")

	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, int64(st.Bavail)*st.Bsize-128<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	body := `{"password":"p","phonenum":"70001","callBackUri":"https://crm.example/` + fmt.Sprintf("%0150d", 0) + `","serviceToken":"tok"}`
	failedAt := 0
	for id := 2000; id < 4000 && failedAt == 0; id++ { // bounded: 128 KiB hold a few hundred sessions
		r := call(t, p.client, http.MethodPut, p.url(fmt.Sprint("onlineagent/", id)), "", body)
		switch r.env.Retcode {
		case "0":
		case "100-007":
			failedAt = id
		default:
			t.Fatalf("sign in %d: HTTP %d %s", id, r.status, r.body)
		}
	}
	if failedAt == 0 {
		t.Fatal("2000 sign-ins and the disk is not full")
	}
	for range 3 { // each /readyz probes; none may report ready on the full disk
		r := call(t, p.client, http.MethodGet, p.url("/readyz"), "", "")
		if r.status != http.StatusServiceUnavailable || r.env.Retcode != "100-007" {
			t.Fatalf("/readyz on a full disk (sign-in %d failed): HTTP %d %s", failedAt, r.status, r.body)
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, 50*time.Millisecond, func() error {
		if r := call(t, p.client, http.MethodGet, p.url("/readyz"), "", ""); r.status != http.StatusOK {
			return fmt.Errorf("/readyz after room was made: HTTP %d %s", r.status, r.body)
		}
		return nil
	})
	p.signIn(t, fmt.Sprint(failedAt), "")
	if ls := p.log.find("level", "ERROR", "msg", "data file: writes failing; not ready until one succeeds"); len(ls) == 0 {
		t.Error("no log line of the failing writes")
	}
}
