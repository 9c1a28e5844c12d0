package e2e

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/selfsigned"
)

// TestTLSOnlyAEAD: the binary's HTTPS listener refuses a TLS 1.2 client that
// offers only CBC suites, takes one that offers an ECDHE AES-GCM or
// ChaCha20-Poly1305 suite, and speaks TLS 1.3; a TLS 1.1 client is refused.
func TestTLSOnlyAEAD(t *testing.T) {
	t.Parallel()
	p := startHTTPS(t, t.TempDir())
	dial := func(c *tls.Config) (tls.ConnectionState, error) {
		c.InsecureSkipVerify = true // the self-signed certificate; TestHTTPSSelfSigned checks its pin
		d := &net.Dialer{Timeout: 10 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", p.addr, c)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer conn.Close()
		return conn.ConnectionState(), nil
	}
	cbc := []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	}
	if _, err := dial(&tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: cbc}); err == nil {
		t.Error("a TLS 1.2 client offering only CBC suites completed the handshake")
	}
	for _, suite := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256} {
		cs, err := dial(&tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: append([]uint16{suite}, cbc...)})
		if err != nil || cs.Version != tls.VersionTLS12 || cs.CipherSuite != suite {
			t.Errorf("TLS 1.2 offering %s first: version %x suite %s, %v", tls.CipherSuiteName(suite), cs.Version,
				tls.CipherSuiteName(cs.CipherSuite), err)
		}
	}
	if cs, err := dial(&tls.Config{}); err != nil || cs.Version != tls.VersionTLS13 {
		t.Errorf("default client: version %x, %v; want TLS 1.3", cs.Version, err)
	}
	if _, err := dial(&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("a TLS 1.1 client completed the handshake")
	}
}

// TestTLSKeyMode: a --key file group or others may read stops the start with
// one line naming it and --allow-open-key (exit 1, nothing listening); with
// --allow-open-key the gateway starts, warning; at 0600 it starts quietly.
func TestTLSKeyMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := writeCertPair(t, dir)
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runToExit(t, []string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data", dir, "--cert", cert, "--key", key})
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, "start failed") {
			lines = append(lines, l)
		}
	}
	if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], key) || !strings.Contains(lines[0], "--allow-open-key") ||
		strings.Contains(out, "msg=listening") {
		t.Fatalf("mode-0644 key: exit %d, output:\n%s\nwant exit 1 and one start-failed line naming %s and --allow-open-key", code, out, key)
	}

	p := startHTTPS(t, t.TempDir(), "--cert", cert, "--key", key, "--allow-open-key")
	if l := p.log.find("level", "WARN", "key", key); len(l) != 1 {
		t.Errorf("--allow-open-key: %d WARN lines naming the key, want 1", len(l))
	}
	if g, _ := p.signIn(t, "1001", ""); p.handshake(t, "1001", g) != "0" {
		t.Error("gateway with --allow-open-key does not serve")
	}
	p.kill()

	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	p = startHTTPS(t, t.TempDir(), "--cert", cert, "--key", key)
	if l := p.log.find("level", "WARN"); len(l) != 0 {
		t.Errorf("0600 key: warnings %v", l[0].raw)
	}
}

// TestGeneratedKeyMode: the self-signed key the binary generates into its data
// dir is mode 0600.
func TestGeneratedKeyMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startHTTPS(t, dir).kill()
	fi, err := os.Stat(filepath.Join(dir, "tls-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key mode %04o, want 0600", fi.Mode().Perm())
	}
}

// writeCertPair writes a self-signed ECDSA certificate for 127.0.0.1 and its
// key (mode 0600) into dir and returns their paths.
func writeCertPair(tb testing.TB, dir string) (cert, key string) {
	tb.Helper()
	c, k, err := selfsigned.New("ccgw e2e", 24*time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, c, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(key, k, 0o600); err != nil {
		tb.Fatal(err)
	}
	return cert, key
}
