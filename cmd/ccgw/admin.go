package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
)

// listenAdmin opens the admin listener on c.AdminAddr, unless it is AdminOff,
// and logs `msg="admin listening" addr=...`. It is plain HTTP on a loopback
// address, and otherwise served with tlsConf (the vendor listener's) unless that
// is nil (--plaintext). serveAdmin starts serving it.
func (m *Main) listenAdmin(c Config, tlsConf *tls.Config) error {
	if c.AdminAddr == AdminOff {
		m.Log.Info("admin listener off: no admin API, no /metrics")
		return nil
	}
	loop, err := loopback(c.AdminAddr)
	if err != nil {
		return fmt.Errorf("--admin-addr: %w", err)
	}
	ln, err := net.Listen("tcp", c.AdminAddr)
	if err != nil {
		return fmt.Errorf("--admin-addr: %w", err)
	}
	m.adminLn = ln
	scheme := "http"
	if !loop && tlsConf != nil {
		m.adminTLS = tlsConf
		scheme = "https"
	}
	auth := "none"
	if c.AdminTokenEnv != "" {
		auth = "bearer"
	}
	m.Log.Info("admin listening", "addr", ln.Addr().String(), "scheme", scheme, "auth", auth)
	if !loop && scheme == "http" {
		m.Log.Warn("admin listener not on loopback and in plain HTTP (--plaintext): its bearer token crosses the network in clear",
			"addr", ln.Addr().String())
	}
	return nil
}

// serveAdmin serves h on the admin listener, if there is one, until Close.
func (m *Main) serveAdmin(runCtx context.Context, h http.Handler) {
	if m.adminLn == nil {
		return
	}
	m.adminSrv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: headerTimeout(m.Config.Limits.ReadTimeout),
		ReadTimeout:       m.Config.Limits.ReadTimeout,
		WriteTimeout:      m.Config.Limits.WriteTimeout,
		IdleTimeout:       m.Config.Limits.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return runCtx },
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
		TLSConfig:         m.adminTLS,
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		var err error
		if m.adminTLS != nil {
			err = m.adminSrv.ServeTLS(m.adminLn, "", "")
		} else {
			err = m.adminSrv.Serve(m.adminLn)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error("serve admin", "err", err)
		}
	}()
}

// adminToken returns the admin bearer token from $AdminTokenEnv ("" for none).
func adminToken(c Config) string {
	if c.AdminTokenEnv == "" {
		return ""
	}
	return os.Getenv(c.AdminTokenEnv)
}

// AdminAddr returns the address the admin listener listens on, "" if it is off.
func (m *Main) AdminAddr() string {
	if m.adminLn == nil {
		return ""
	}
	return m.adminLn.Addr().String()
}
