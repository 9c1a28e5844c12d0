package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Decoding follows the vendor's clients, which send numbers and booleans both as
// JSON values and as strings ("status":"4", "autoanswer":"false").

// flexString is a string that also accepts a JSON number; set reports presence.
type flexString struct {
	v   string
	set bool
}

func (f *flexString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &f.v); err != nil {
			return err
		}
		f.set = true
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("not a string")
	}
	f.v, f.set = n.String(), true
	return nil
}

// flexBool is a boolean that also accepts "true"/"false" (any case) and 0/1.
type flexBool struct {
	v   bool
	set bool
}

// scalar returns the text of a JSON scalar sent as itself or as a string; ok
// is false for null and for an empty string.
func scalar(b []byte) (text string, ok bool, err error) {
	s := string(b)
	if s == "null" {
		return "", false, nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return "", false, err
		}
		s = strings.TrimSpace(s)
	}
	return s, s != "", nil
}

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s, ok, err := scalar(b)
	if err != nil || !ok {
		return err
	}
	v, ok := parseBool(s)
	if !ok {
		return errors.New("not a boolean")
	}
	f.v, f.set = v, true
	return nil
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// flexInt is an integer that also accepts a numeric string.
type flexInt struct {
	v   int64
	set bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s, ok, err := scalar(b)
	if err != nil || !ok {
		return err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("not an integer")
	}
	f.v, f.set = v, true
	return nil
}

// maxBody caps every request body.
const maxBody = 64 << 10

// errBody is any body that cannot be decoded: too large, not JSON, wrong types.
var errBody = errors.New("malformed body")

// decodeBody decodes r's JSON body into v. An empty body leaves v as it is when
// optional, and is errBody otherwise.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return errBody
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		if optional {
			return nil
		}
		return errBody
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return errBody
	}
	if dec.More() {
		return errBody
	}
	return nil
}

// flexFloat is a finite number that also accepts a numeric string. "NaN",
// "Infinity" and numbers beyond float64 are refused.
type flexFloat struct {
	v   float64
	set bool
}

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	s, ok, err := scalar(b)
	if err != nil || !ok {
		return err
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return errors.New("not a finite number")
	}
	f.v, f.set = v, true
	return nil
}
