package loadtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"time"
)

// baseline is a bare net/http server that answers the calls the load makes with
// the gateway's bodies and does nothing else: the cost of HTTP alone, to divide by.
type baseline struct {
	url  string
	srv  *http.Server
	done chan struct{}
}

const (
	baselineOK     = `{"message":"success","retcode":"0"}`
	baselinePolled = `{"message":"","retcode":"0","event":null}`
)

// startBaseline serves on 127.0.0.1:0, over TLS with a fresh self-signed
// certificate if tlsOn.
func startBaseline(tlsOn bool) (*baseline, error) {
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

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &baseline{
		url:  "http://" + ln.Addr().String(),
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	if tlsOn {
		cert, err := selfSigned()
		if err != nil {
			ln.Close()
			return nil, err
		}
		b.url = "https://" + ln.Addr().String()
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	go func() {
		defer close(b.done)
		b.srv.Serve(ln) // returns when close closes the server
	}()
	return b, nil
}

// close stops the server and waits for it.
func (b *baseline) close() {
	b.srv.Close()
	<-b.done
}

// selfSigned returns a throw-away certificate for 127.0.0.1.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ccgw bench baseline"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
