package sessiontest

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// Logs records what is logged on its Logger, for tests to count. It is safe
// for concurrent use.
type Logs struct {
	mu   sync.Mutex // guards recs
	recs []Record
}

// Record is one logged line: its message and attributes as text.
type Record struct {
	Msg   string
	Attrs map[string]string
}

// NewLogs returns an empty Logs.
func NewLogs() *Logs { return &Logs{} }

// Logger returns a logger that records everything into l, debug lines too (a
// sweep may log each expiry at debug level and one line for all at info).
func (l *Logs) Logger() *slog.Logger { return slog.New(&logHandler{l: l}) }

// Count returns how many records have message msg and every key=value of kv.
func (l *Logs) Count(msg string, kv ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, r := range l.recs {
		if r.Msg != msg {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if r.Attrs[kv[i]] != kv[i+1] {
				continue next
			}
		}
		n++
	}
	return n
}

// PerAgent returns, per agent, how many records have message msg and every
// key=value of kv.
func (l *Logs) PerAgent(msg string, kv ...string) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
next:
	for _, r := range l.recs {
		if r.Msg != msg {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if r.Attrs[kv[i]] != kv[i+1] {
				continue next
			}
		}
		out[r.Attrs["agent"]]++
	}
	return out
}

type logHandler struct {
	l     *Logs
	attrs []slog.Attr
}

func (h *logHandler) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelDebug }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.l.mu.Lock()
	h.l.recs = append(h.l.recs, rec)
	h.l.mu.Unlock()
	return nil
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{l: h.l, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h *logHandler) WithGroup(string) slog.Handler { return h }
