package selfsigned

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A client trusting the certificate reaches a server using it by 127.0.0.1 and
// by localhost; the certificate is for server authentication and expires.
func TestCertificateServesLoopback(t *testing.T) {
	cert, err := Certificate("ccgw test", time.Hour, "gw.example")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(leaf.NotAfter); d > time.Hour || d < 50*time.Minute {
		t.Errorf("expires in %v, want about an hour", d)
	}
	if err := leaf.VerifyHostname("gw.example"); err != nil {
		t.Error(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		url := "https://" + host + ":" + srv.Listener.Addr().String()[len("127.0.0.1:"):]
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" {
			t.Fatalf("%s: %q", host, b)
		}
	}
}
