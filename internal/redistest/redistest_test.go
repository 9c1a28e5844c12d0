package redistest

import (
	"context"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// TestRestartKeepsData: a write acknowledged before a SIGKILL is there after
// Restart, on the same address, and a Stop/Restart keeps it too.
func TestRestartKeepsData(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	opt, err := goredis.ParseURL(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	if err := c.Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after Kill")
	}
	s.Restart()
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v1" {
		t.Fatalf("after Kill+Restart: %q, %v", v, err)
	}
	if err := c.Set(ctx, "k", "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Restart() // Stop, then start
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v2" {
		t.Fatalf("after Restart: %q, %v", v, err)
	}
}
