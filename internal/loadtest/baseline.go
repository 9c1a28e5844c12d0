package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/ccgw/ccgw/internal/selfsigned"
)

// BaselineServer is the bare server a baseline run measures, however it was started.
type BaselineServer struct {
	URL   string       // http:// or https://host:port; its certificate is not verified
	Where string       // for the report, after "bare net/http": "in its own process (pid 123)"
	Stop  func() error // stops the server and waits until it has; Run calls it once
}

// inBenchProcess is Config.StartBaseline's default: a BareServer in this
// process, sharing its Go scheduler with the load generator.
func inBenchProcess(_ context.Context, tlsOn bool) (BaselineServer, error) {
	b, err := StartBare(BareConfig{TLS: tlsOn})
	if err != nil {
		return BaselineServer{}, err
	}
	return BaselineServer{URL: b.URL, Where: "in the bench process", Stop: b.Close}, nil
}

// BareConfig configures a BareServer.
type BareConfig struct {
	TLS bool // serve TLS with a fresh self-signed certificate for 127.0.0.1
	// RSS also serves GET /metrics with this process's process_resident_memory_bytes
	// (VmRSS of /proc/self/status), which a run reads as the gateway's. Only a
	// server in its own process should: in the bench process it is the bench's.
	RSS bool
}

// BareServer is a bare net/http server that answers the calls the load makes
// with the gateway's bodies and does nothing else: the cost of HTTP alone, to
// divide by.
type BareServer struct {
	URL  string // scheme://127.0.0.1:port
	srv  *http.Server
	done chan struct{}
}

const (
	baselineOK     = `{"message":"success","retcode":"0"}`
	baselinePolled = `{"message":"","retcode":"0"}`
)

// StartBare serves on 127.0.0.1:0 and returns once it listens; Close stops it.
func StartBare(cfg BareConfig) (*BareServer, error) {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, body string) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Write([]byte(body))
	}
	login := func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		w.Header()["Set-GUID"] = []string{"JSESSIONID=baseline-" + id}
		reply(w, `{"message":"","retcode":"0","result":{"vdnid":1,"workno":"`+id+
			`","mediatype":"TTF","loginTime":"`+strconv.FormatInt(time.Now().UnixMilli(), 10)+
			`","isForceChange":"false","serverName":"AgentGateway","timeRemaining":""}}`)
	}
	mux.HandleFunc("PUT "+Prefix+"onlineagent/{id}", login)
	mux.HandleFunc("PUT "+Prefix+"onlineagent/{id}/forcelogin", login)
	mux.HandleFunc("POST "+Prefix+"onlineagent/{id}/handshake", func(w http.ResponseWriter, r *http.Request) {
		reply(w, baselineOK)
	})
	mux.HandleFunc("GET "+Prefix+"agentevent/{id}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, baselinePolled)
	})
	mux.HandleFunc("DELETE "+Prefix+"onlineagent/{id}/logout", func(w http.ResponseWriter, r *http.Request) {
		reply(w, `{"result":{},"message":"success","retcode":"0"}`)
	})
	if cfg.RSS {
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			status, err := os.ReadFile("/proc/self/status")
			rss, ok := vmRSS(status)
			if err != nil || !ok {
				http.NotFound(w, r) // the run reports the RSS as unknown
				return
			}
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			w.Write([]byte("# TYPE " + metricRSS + " gauge\n" + metricRSS + " " + strconv.FormatInt(rss, 10) + "\n"))
		})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &BareServer{
		URL:  "http://" + ln.Addr().String(),
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	if cfg.TLS {
		cert, err := selfsigned.Certificate("ccgw bench baseline", 24*time.Hour)
		if err != nil {
			ln.Close()
			return nil, err
		}
		b.URL = "https://" + ln.Addr().String()
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	go func() {
		defer close(b.done)
		b.srv.Serve(ln) // returns when Close closes the server
	}()
	return b, nil
}

// Close stops the server, cutting off connections, and waits for it. It always returns nil.
func (b *BareServer) Close() error {
	b.srv.Close()
	<-b.done
	return nil
}

// vmRSS returns the resident set size, in bytes, from the text of a
// /proc/PID/status file ("VmRSS:     1234 kB"), and whether there was one.
func vmRSS(status []byte) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		v, found := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !found {
			continue
		}
		f := bytes.Fields(v)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}
