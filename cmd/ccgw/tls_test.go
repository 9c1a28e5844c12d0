package main

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestServerTLSConfig: every TLS listener takes TLS 1.2 or later, and on TLS
// 1.2 only ECDHE suites with an AEAD cipher (AES-GCM, ChaCha20-Poly1305): none
// of Go's insecure list, no CBC, no RSA key exchange.
func TestServerTLSConfig(t *testing.T) {
	c := serverTLS(tls.Certificate{})
	if c.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", c.MinVersion)
	}
	if c.MaxVersion != 0 && c.MaxVersion < tls.VersionTLS13 {
		t.Errorf("MaxVersion %x: TLS 1.3 not allowed", c.MaxVersion)
	}
	if len(c.CipherSuites) == 0 {
		t.Fatal("no cipher suites: Go's defaults include CBC suites on TLS 1.2")
	}
	secure := map[uint16]*tls.CipherSuite{}
	for _, cs := range tls.CipherSuites() {
		secure[cs.ID] = cs
	}
	for _, id := range c.CipherSuites {
		cs, ok := secure[id]
		name := tls.CipherSuiteName(id)
		switch {
		case !ok:
			t.Errorf("%s is not among Go's secure suites", name)
		case strings.Contains(name, "CBC"):
			t.Errorf("%s is a CBC suite", name)
		case !strings.HasPrefix(name, "TLS_ECDHE_"):
			t.Errorf("%s has no ECDHE key exchange", name)
		case !strings.Contains(name, "_GCM_") && !strings.Contains(name, "CHACHA20_POLY1305"):
			t.Errorf("%s is not AEAD", name)
		case !slices.Contains(cs.SupportedVersions, tls.VersionTLS12):
			t.Errorf("%s is not a TLS 1.2 suite", name)
		}
	}
	for _, cs := range tls.InsecureCipherSuites() {
		if slices.Contains(c.CipherSuites, cs.ID) {
			t.Errorf("insecure suite %s offered", cs.Name)
		}
	}
}

// TestCheckKeyMode: a key file group or others may read or write is refused
// with one line that names it, its mode and the way out; with allow it is
// taken and a warning logged.
func TestCheckKeyMode(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o700, true}, {0o640, false}, {0o644, false}, {0o604, false}, {0o660, false}, {0o602, false}} {
		path := filepath.Join(dir, "key-"+tc.mode.String()+".pem")
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		err := checkKeyMode(path, false, log)
		if tc.ok {
			if err != nil || logs.Len() != 0 {
				t.Errorf("mode %04o: %v %s, want taken quietly", tc.mode, err, logs.String())
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "--allow-open-key") ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("mode %04o: error %v, want one line naming the file and --allow-open-key", tc.mode, err)
		}
		if err := checkKeyMode(path, true, log); err != nil {
			t.Errorf("mode %04o with allow: %v", tc.mode, err)
		}
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), path) {
			t.Errorf("mode %04o with allow: log %q, want a warning naming the file", tc.mode, logs.String())
		}
	}
	if err := checkKeyMode(filepath.Join(dir, "missing.pem"), true, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("missing key file: no error")
	}
}

// TestGeneratedKeyIsPrivate: the self-signed key ccgw generates in the data dir
// is mode 0600, even over a key file left there readable by others, and the
// configuration loads from it.
func TestGeneratedKeyIsPrivate(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "tls-key.pem")
	if err := os.WriteFile(key, []byte("old"), 0o644); err != nil { // a cert-less leftover
		t.Fatal(err)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	c := NewMain().Config
	c.Data = dir
	conf, fp, err := loadTLS(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("loadTLS: %v", err)
	}
	fi, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key mode %04o, want 0600", fi.Mode().Perm())
	}
	if len(conf.Certificates) != 1 || fp == "" || conf.MinVersion != tls.VersionTLS12 || len(conf.CipherSuites) == 0 {
		t.Fatalf("config %+v, fingerprint %q", conf, fp)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tls-key-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
