package push

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/ccgw/ccgw"
)

// The wire side of a push: the bodies, the headers, the signature, one POST
// and how its answer is judged.

// pushBody is the callback request body (the vendor's "Calling Back Pushed Events").
type pushBody struct {
	WorkNo    string       `json:"workNo"`
	EventList []ccgw.Event `json:"eventList"`
}

// legacyPushBody is the body of a push to an older client that signed in with
// pushUrl: one event, in the envelope of a poll answer, as the vendor's agent
// demo receiver (AgentEventServlet) reads it.
type legacyPushBody struct {
	Message string      `json:"message"`
	Retcode string      `json:"retcode"`
	Event   legacyEvent `json:"event"`
}

// legacyEvent is an event as the older gateways had it, without eventGenTime:
// the vendor's aPortal receiver (Jackson, failing on unknown properties)
// refuses an event with it.
type legacyEvent struct {
	Type    string          `json:"eventType"`
	WorkNo  string          `json:"workNo"`
	Content json.RawMessage `json:"content"`
}

// Sign returns the ccgw.SignatureHeader value for body at ms.
func Sign(secret, body []byte, ms int64) string {
	t := strconv.FormatInt(ms, 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(t))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// errPush is a push the receiver answered but did not accept: with HTTP status,
// or with a retcode other than "0" (status 2xx).
type errPush struct {
	status int
	why    string
}

func (e errPush) Error() string { return e.why }

// post sends one push. It succeeds on an HTTP 2xx whose body, if it is JSON with
// a retcode, has retcode "0".
func (p *Pusher) post(t Target, batch []ccgw.Event) error {
	var body []byte
	var err error
	if t.Legacy {
		ev := batch[0]
		body, err = json.Marshal(legacyPushBody{Retcode: "0", Event: legacyEvent{ev.Type, ev.WorkNo, ev.Content}})
	} else {
		body, err = json.Marshal(pushBody{WorkNo: t.Agent.String(), EventList: batch})
	}
	if err != nil {
		return err
	}
	ctx := context.Background()
	if c := p.cfg.Client.Timeout; c <= 0 || c > p.cfg.AttemptTimeout { // else the client's bounds the attempt
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.AttemptTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header["Guid"] = []string{t.GUID}
	if t.Token != "" {
		req.Header["service_token"] = []string{t.Token}
	}
	req.Header.Set(ccgw.SeqHeader, strconv.FormatUint(batch[0].Seq, 10))
	if len(p.cfg.Secret) > 0 {
		req.Header.Set(ccgw.SignatureHeader, Sign(p.cfg.Secret, body, ccgw.Millis(p.cfg.Clock.Now())))
	}
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf, _ := p.answers.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	rb, err := readAtMost(resp.Body, (*buf)[:0], maxAnswer)
	if cap(rb) <= 4<<10 { // keep no large answer's buffer
		*buf = rb[:0]
		defer p.answers.Put(buf)
	}
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errPush{resp.StatusCode, "status " + strconv.Itoa(resp.StatusCode)}
	}
	var ans struct {
		Retcode *json.RawMessage `json:"retcode"`
	}
	if json.Unmarshal(rb, &ans) == nil && ans.Retcode != nil {
		var code string
		if json.Unmarshal(*ans.Retcode, &code) != nil {
			code = string(*ans.Retcode)
		}
		if code != "0" {
			return errPush{resp.StatusCode, "retcode " + code}
		}
	}
	return nil
}

// maxAnswer is the most of a receiver's answer a push reads.
const maxAnswer = 64 << 10

// readAtMost appends what r yields to buf, up to max bytes, until EOF, and
// returns it; io.ReadAll of an io.LimitReader without their allocations.
func readAtMost(r io.Reader, buf []byte, max int) ([]byte, error) {
	for len(buf) < max {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), max)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}
