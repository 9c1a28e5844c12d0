package bolt

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkPutSession measures the store's durable writes of sessions that
// already exist, as dynamic GUID rotation makes them (a million agents with a
// 60s GUIDINTERVAL rotate about 16,700 times a second): W writers, each putting a
// random stored agent's session with a new GUID and waiting for its commit. One
// op is one put; puts/s is the rate over the run (docs/benchmarks.md, "Capacity").
func BenchmarkPutSession(b *testing.B) {
	for _, n := range []int{100000, 1000000} {
		for _, writers := range []int{64, 256} {
			b.Run(fmt.Sprintf("sessions=%d/writers=%d", n, writers), func(b *testing.B) {
				s, _ := tSessOpen(b)
				base := tSessFull(0, 1)
				base.PrevGUID, base.CallbackURI, base.ServiceToken, base.Mode = "", "", "", ccgw.ModePoll
				err := s.db.Update(func(tx *bolt.Tx) error { // sorted, in one transaction: fast
					bk := tx.Bucket(sessionsBucket)
					bk.FillPercent = 0.9
					for i := range n {
						sess := base
						sess.Agent = ccgw.AgentID(101 + i)
						if err := bk.Put(key(sess.Agent), encodeSession(&sess)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				var next atomic.Int64
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						rng := rand.New(rand.NewPCG(uint64(w), 1))
						for next.Add(1) <= int64(b.N) {
							sess := base
							sess.Agent = ccgw.AgentID(101 + rng.IntN(n))
							sess.Gen = 2
							sess.GUID = fmt.Sprintf("%08x-0000-1111-2222-333344445555.AgentGateway0", rng.Uint32())
							if err := s.PutSession(&sess); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "puts/s")
				b.ReportMetric(float64(b.N)/float64(s.w.commits.Load()), "puts/commit")
			})
		}
	}
}

// BenchmarkOpenCheck measures what the check adds to a start: OpenWith (the
// page walk, bbolt's Tx.Check, decoding every record) against a bare bbolt Open
// of the same file, with n sessions stored. One op is one open and close.
func BenchmarkOpenCheck(b *testing.B) {
	for _, n := range []int{100000, 1000000} {
		dir := b.TempDir()
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		base := tSessFull(0, 1)
		err = s.db.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket(sessionsBucket)
			bk.FillPercent = 0.9
			for i := range n {
				sess := base
				sess.Agent = ccgw.AgentID(101 + i)
				if err := bk.Put(key(sess.Agent), encodeSession(&sess)); err != nil {
					return err
				}
			}
			return nil
		})
		s.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("sessions=%d/checked", n), func(b *testing.B) {
			for b.Loop() {
				s, err := Open(dir)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
		b.Run(fmt.Sprintf("sessions=%d/walk-only", n), func(b *testing.B) {
			for b.Loop() {
				if err := checkFile(dir + "/" + FileName); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("sessions=%d/bare-bbolt", n), func(b *testing.B) {
			for b.Loop() {
				db, err := bolt.Open(dir+"/"+FileName, 0o600, nil)
				if err != nil {
					b.Fatal(err)
				}
				db.Close()
			}
		})
	}
}
