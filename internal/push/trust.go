package push

import (
	"net/url"
	"strings"
)

// Trustlist is the set of callback URLs a gateway may push to, as the vendor's
// EVENT_PUST_WHILTELIST_CALLBACKURI lists them. The zero Trustlist allows any.
type Trustlist struct {
	exact  map[string]bool
	prefix []string
}

// ParseTrustlist reads entries separated by ";" (spaces around them ignored).
// An entry is a full callback URL; one ending in "*" allows every URL that
// starts with what comes before the "*".
func ParseTrustlist(s string) Trustlist {
	var t Trustlist
	for _, e := range strings.Split(s, ";") {
		e = strings.TrimSpace(e)
		switch {
		case e == "" || e == "*":
			continue
		case strings.HasSuffix(e, "*"):
			t.prefix = append(t.prefix, trustKey(strings.TrimSuffix(e, "*")))
		default:
			if t.exact == nil {
				t.exact = make(map[string]bool)
			}
			t.exact[trustKey(e)] = true
		}
	}
	return t
}

// Empty reports whether t lists nothing, and so allows any URL.
func (t Trustlist) Empty() bool { return len(t.exact) == 0 && len(t.prefix) == 0 }

// Allows reports whether callback URL raw may be pushed to: t is empty, or an
// entry names raw. Scheme and host compare without regard to case, and raw's
// query and fragment are left out of the comparison (clients put a per-session
// token there: `…/eventreceiver/event?token=…`).
func (t Trustlist) Allows(raw string) bool {
	if t.Empty() {
		return true
	}
	k := trustKey(raw)
	if i := strings.IndexAny(k, "?#"); i >= 0 {
		k = k[:i]
	}
	if t.exact[k] {
		return true
	}
	for _, p := range t.prefix {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// trustKey returns raw with its scheme and host in lower case.
func trustKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	rest := raw[i+3:]
	j := strings.IndexAny(rest, "/?#")
	if j < 0 {
		j = len(rest)
	}
	return strings.ToLower(raw[:i+3]+rest[:j]) + rest[j:]
}
