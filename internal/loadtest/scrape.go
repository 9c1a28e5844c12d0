package loadtest

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
)

// Gateway metrics the report reads from /metrics.
const (
	metricRSS      = "process_resident_memory_bytes"
	metricLive     = "ccgw_sessions_live"
	metricTimeouts = `ccgw_signouts_total{cause="timeout"}`
)

// metricValues maps a sample's name with its labels, as written in the
// Prometheus text format, to its value.
type metricValues map[string]float64

// value returns the sample named key rounded to an integer, or -1 if there is none.
func (m metricValues) value(key string) int64 {
	v, ok := m[key]
	if !ok {
		return -1
	}
	return int64(v + 0.5)
}

// scrape reads base/metrics, with token as a bearer token if set; it returns
// no values when there is no such page.
func scrape(ctx context.Context, c *http.Client, base, token string) metricValues {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	m := metricValues{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if key, v, ok := parseSample(sc.Text()); ok {
			m[key] = v
		}
	}
	return m
}

// parseSample splits a Prometheus text-format sample line, `name{labels} value
// [timestamp]`, into its name with labels and its value.
func parseSample(line string) (key string, v float64, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	end := strings.IndexAny(line, " \t")
	if b := strings.IndexByte(line, '{'); b >= 0 && (end < 0 || b < end) {
		c := strings.LastIndexByte(line, '}')
		if c < b {
			return "", 0, false
		}
		end = c + 1
	}
	if end < 0 || end >= len(line) {
		return "", 0, false
	}
	fields := strings.Fields(line[end:])
	if len(fields) == 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", 0, false
	}
	return line[:end], v, true
}
