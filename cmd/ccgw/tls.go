package main

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ccgw/ccgw/internal/selfsigned"
)

// loadTLS returns the TLS configuration for c and the SHA-256 fingerprint of its
// certificate. Without --cert/--key it uses a self-signed certificate generated
// once into the data dir. It fails if group or others may read the key file,
// unless c.AllowOpenKey, when it logs a warning on log instead.
func loadTLS(c Config, log *slog.Logger) (*tls.Config, string, error) {
	certFile, keyFile := c.Cert, c.Key
	if certFile == "" {
		certFile = filepath.Join(c.Data, "tls-cert.pem")
		keyFile = filepath.Join(c.Data, "tls-key.pem")
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if err := generateCert(certFile, keyFile); err != nil {
				return nil, "", fmt.Errorf("generate certificate: %w", err)
			}
		}
	}
	if err := checkKeyMode(keyFile, c.AllowOpenKey, log); err != nil {
		return nil, "", err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("tls: %w", err)
	}
	return serverTLS(cert), fingerprint(cert.Certificate[0]), nil
}

// aeadSuites are the TLS 1.2 cipher suites served: ECDHE key exchange (forward
// secrecy) with an AEAD cipher, AES-GCM or ChaCha20-Poly1305. No CBC suite
// (Lucky13, padding oracles), no RSA key exchange. TLS 1.3's suites are all
// AEAD and not configurable.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// serverTLS returns the configuration of every TLS listener (vendor and admin)
// for cert: TLS 1.2 with aeadSuites only, or TLS 1.3.
func serverTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: append([]uint16(nil), aeadSuites...),
	}
}

// checkKeyMode fails if group or others may read or write the key file (mode &
// 0o077), unless allow, when it logs a warning.
func checkKeyMode(keyFile string, allow bool, log *slog.Logger) error {
	fi, err := os.Stat(keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	mode := fi.Mode().Perm()
	if mode&0o077 == 0 {
		return nil
	}
	if !allow {
		return fmt.Errorf("tls key %s has mode %04o: group or others may read it; chmod 600 it, or start with --allow-open-key", keyFile, mode)
	}
	log.Warn("TLS KEY READABLE BY OTHERS: group or others may read the private key (--allow-open-key); chmod 600 it",
		"key", keyFile, "mode", fmt.Sprintf("%04o", mode))
	return nil
}

// fingerprint formats the SHA-256 of a DER certificate as AB:CD:...
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// generateCert writes a self-signed ECDSA P-256 certificate for localhost,
// 127.0.0.1 and ::1, valid for ten years.
func generateCert(certFile, keyFile string) error {
	var names []string
	if host, _ := os.Hostname(); host != "" && host != "localhost" {
		names = append(names, host)
	}
	cert, key, err := selfsigned.New("ccgw", 10*365*24*time.Hour, names...)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return err
	}
	if err := writePrivate(keyFile, key); err != nil {
		return err
	}
	return os.WriteFile(certFile, cert, 0o644)
}

// writePrivate writes b to path with mode 0600 whatever the umask and whatever
// file was there: written to a new temporary file (created 0600) beside it,
// then renamed over it.
func writePrivate(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tls-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
