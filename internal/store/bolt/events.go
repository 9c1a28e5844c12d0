package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/ccgw/ccgw"
	bolt "go.etcd.io/bbolt"
)

var (
	eventsBucket = []byte("events") // agent(4) gen(8) seq(8) → event record (codec.go)
	acksBucket   = []byte("acks")   // agent(4) gen(8) → acknowledged seq(8)
)

var _ ccgw.EventStore = (*Store)(nil)

func signInKey(id ccgw.AgentID, gen uint64) []byte {
	k := make([]byte, 12, 20)
	binary.BigEndian.PutUint32(k[0:4], uint32(id))
	binary.BigEndian.PutUint64(k[4:12], gen)
	return k
}

func eventKey(id ccgw.AgentID, gen, seq uint64) []byte {
	k := signInKey(id, gen)
	return binary.BigEndian.AppendUint64(k, seq)
}

func buckets(tx *bolt.Tx) (events, acks *bolt.Bucket, err error) {
	if events, err = tx.CreateBucketIfNotExists(eventsBucket); err != nil {
		return nil, nil, err
	}
	acks, err = tx.CreateBucketIfNotExists(acksBucket)
	return events, acks, err
}

// AppendEvents implements ccgw.EventStore. Concurrent calls share transactions.
// Events at or below the sign-in's acknowledged Seq are not stored: they were
// delivered before this append was written.
func (s *Store) AppendEvents(id ccgw.AgentID, gen uint64, evs []ccgw.Event) error {
	if len(evs) == 0 {
		return nil
	}
	vals := encodeEvents(evs)
	return s.w.write(func(tx *bolt.Tx) error { return appendEventsTx(tx, id, gen, evs, vals) })
}

func encodeEvents(evs []ccgw.Event) [][]byte {
	vals := make([][]byte, len(evs))
	for i := range evs {
		vals[i] = encodeEvent(&evs[i])
	}
	return vals
}

// appendEventsTx stores evs, encoded as vals, but those already acknowledged.
func appendEventsTx(tx *bolt.Tx, id ccgw.AgentID, gen uint64, evs []ccgw.Event, vals [][]byte) error {
	eb, ab, err := buckets(tx)
	if err != nil {
		return err
	}
	var acked uint64
	if v := ab.Get(signInKey(id, gen)); len(v) == 8 {
		acked = binary.BigEndian.Uint64(v)
	}
	for i, ev := range evs {
		if ev.Seq <= acked {
			continue
		}
		if err := eb.Put(eventKey(id, gen, ev.Seq), vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// AckEvents implements ccgw.EventStore, in one transaction.
func (s *Store) AckEvents(acks []ccgw.EventAck) error {
	if len(acks) == 0 {
		return nil
	}
	return s.w.write(func(tx *bolt.Tx) error {
		for _, a := range acks {
			if err := ackTx(tx, a.Agent, a.Gen, a.Seq); err != nil {
				return err
			}
		}
		return nil
	})
}

func ackTx(tx *bolt.Tx, id ccgw.AgentID, gen, seq uint64) error {
	eb, ab, err := buckets(tx)
	if err != nil {
		return err
	}
	k := signInKey(id, gen)
	if v := ab.Get(k); len(v) == 8 && binary.BigEndian.Uint64(v) >= seq {
		return nil
	}
	if err := ab.Put(k, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
		return err
	}
	// Re-seek after each delete: bbolt's Cursor.Next after Cursor.Delete skips a
	// key (etcd-io/bbolt#146), which left every other acknowledged event stored.
	c := eb.Cursor()
	for key, _ := c.Seek(k); key != nil && bytes.HasPrefix(key, k); key, _ = c.Seek(k) {
		if binary.BigEndian.Uint64(key[12:]) > seq {
			break
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// DropEvents implements ccgw.EventStore.
func (s *Store) DropEvents(id ccgw.AgentID, gen uint64) error {
	return s.w.write(func(tx *bolt.Tx) error { return dropEventsTx(tx, id, gen) })
}

// DropSignIns implements ccgw.EventStore, in one transaction: a restore clears
// the events of sign-ins that ended while the gateway was down, which one commit
// each made slow.
func (s *Store) DropSignIns(refs []ccgw.SessionRef) error {
	if len(refs) == 0 {
		return nil
	}
	return s.w.write(func(tx *bolt.Tx) error { return dropSignInsTx(tx, refs) })
}

func dropSignInsTx(tx *bolt.Tx, refs []ccgw.SessionRef) error {
	for _, r := range refs {
		if err := dropEventsTx(tx, r.Agent, r.Gen); err != nil {
			return err
		}
	}
	return nil
}

// dropEventsTx deletes the events and acknowledgement of sign-in (id, gen).
func dropEventsTx(tx *bolt.Tx, id ccgw.AgentID, gen uint64) error {
	eb, ab, err := buckets(tx)
	if err != nil {
		return err
	}
	k := signInKey(id, gen)
	if err := ab.Delete(k); err != nil {
		return err
	}
	c := eb.Cursor()
	for key, _ := c.Seek(k); key != nil && bytes.HasPrefix(key, k); key, _ = c.Seek(k) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// LoadEvents implements ccgw.EventStore. The calls of fn share one array of
// events. A panic while reading is returned as a *DamagedError.
func (s *Store) LoadEvents(fn func(id ccgw.AgentID, gen, acked uint64, evs []ccgw.Event) error) (err error) {
	defer s.damagedOnPanic(&err)
	return s.db.View(func(tx *bolt.Tx) error {
		eb, ab := tx.Bucket(eventsBucket), tx.Bucket(acksBucket)
		groups := map[string]uint64{}
		if ab != nil {
			ab.ForEach(func(k, v []byte) error {
				if len(k) == 12 && len(v) == 8 {
					groups[string(k)] = binary.BigEndian.Uint64(v)
				}
				return nil
			})
		}
		var cur []byte
		var evs []ccgw.Event
		var dec eventDecoder
		var ev ccgw.Event // reused: decoding into it escapes
		flush := func() error {
			if len(cur) == 0 {
				return nil
			}
			acked := groups[string(cur)]
			delete(groups, string(cur))
			err := fn(ccgw.AgentID(binary.BigEndian.Uint32(cur[0:4])), binary.BigEndian.Uint64(cur[4:12]), acked, evs)
			cur, evs = cur[:0], evs[:0] // reused for the next sign-in
			return err
		}
		if eb != nil {
			err := eb.ForEach(func(k, v []byte) error {
				if len(k) != 20 {
					return nil
				}
				if len(cur) != 0 && !bytes.Equal(cur, k[:12]) {
					if err := flush(); err != nil {
						return err
					}
				}
				if len(cur) == 0 {
					cur = append(cur, k[:12]...)
				}
				if err := dec.decode(v, &ev); err != nil {
					return fmt.Errorf("bolt: event %x: %w", k, err)
				}
				ev.Seq = binary.BigEndian.Uint64(k[12:])
				evs = append(evs, ev)
				return nil
			})
			if err != nil {
				return err
			}
			if err := flush(); err != nil {
				return err
			}
		}
		for k, acked := range groups { // sign-ins with every event delivered
			if err := fn(ccgw.AgentID(binary.BigEndian.Uint32([]byte(k)[0:4])), binary.BigEndian.Uint64([]byte(k)[4:12]), acked, nil); err != nil {
				return err
			}
		}
		return nil
	})
}
