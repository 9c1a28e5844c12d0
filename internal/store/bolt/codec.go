package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"

	"github.com/ccgw/ccgw"
)

// Records are written in a compact binary form, version 1, whose first byte is
// 1 (sessions: ccgw's binary form, session_binary.go). Records written before it are JSON, whose first byte is '{'; both are read,
// so a data directory of an earlier ccgw restores, but a ccgw before version 1
// cannot read what this one writes. Decoding JSON cost about 15 µs of CPU per
// session on restore, most of a million-session restart (docs/benchmarks.md,
// "Capacity"); this form decodes without reflection and with one allocation
// for all of a session's strings.
const recV1 byte = 1

var errShort = errors.New("truncated record")

// encodeSession returns s in ccgw's binary form (version 1).
func encodeSession(s *ccgw.Session) []byte {
	b, _ := s.AppendBinary(nil)
	return b
}

// decodeSession reads a session record of either form into s.
func decodeSession(v []byte, s *ccgw.Session) error {
	if !ccgw.IsSessionBinary(v) {
		return json.Unmarshal(v, s)
	}
	return s.UnmarshalBinary(v)
}

// storedGen returns the Gen of the stored session v, or 0 if v cannot be read.
func storedGen(v []byte) uint64 {
	if g, ok := ccgw.BinaryGen(v); ok {
		return g
	}
	var g struct {
		Gen uint64 `json:"gen"`
	}
	if json.Unmarshal(v, &g) != nil {
		return 0
	}
	return g.Gen
}

// Event record, version 1 (Seq is in the key):
//
//	1 | GenTime | len(Type) | len(WorkNo) | len(Content)+1, 0 for nil | Type | WorkNo | Content

// encodeEvent returns ev as a version 1 record.
func encodeEvent(ev *ccgw.Event) []byte {
	b := make([]byte, 0, 1+4*binary.MaxVarintLen64+len(ev.Type)+len(ev.WorkNo)+len(ev.Content))
	b = append(b, recV1)
	b = binary.AppendVarint(b, ev.GenTime)
	b = binary.AppendUvarint(b, uint64(len(ev.Type)))
	b = binary.AppendUvarint(b, uint64(len(ev.WorkNo)))
	if ev.Content == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(ev.Content))+1)
	}
	b = append(b, ev.Type...)
	b = append(b, ev.WorkNo...)
	return append(b, ev.Content...)
}

// eventDecoder decodes event records, sharing the strings that repeat: each
// event type once per decoder, and an agent's work number across its events.
type eventDecoder struct {
	types  map[string]string
	workNo string
}

// decode reads an event record of either form into ev (all but Seq).
func (d *eventDecoder) decode(v []byte, ev *ccgw.Event) error {
	if len(v) == 0 || v[0] != recV1 {
		return json.Unmarshal(v, ev)
	}
	r := ccgw.NewBinaryReader(v[1:])
	*ev = ccgw.Event{GenTime: r.Varint()}
	nt, nw, nc := r.Uvarint(), r.Uvarint(), r.Uvarint()
	if r.Err() != nil {
		return r.Err()
	}
	rest := r.Rest()
	if nc > 0 {
		nc-- // nc-1 bytes of content; 0 was nil
		if nt+nw+nc != uint64(len(rest)) {
			return errShort
		}
		ev.Content = append(json.RawMessage{}, rest[nt+nw:]...)
	} else if nt+nw != uint64(len(rest)) {
		return errShort
	}
	typ, wn := rest[:nt], rest[nt:nt+nw]
	if t, ok := d.types[string(typ)]; ok {
		ev.Type = t
	} else {
		if d.types == nil {
			d.types = make(map[string]string)
		}
		ev.Type = string(typ)
		d.types[ev.Type] = ev.Type
	}
	if string(wn) != d.workNo {
		d.workNo = string(wn)
	}
	ev.WorkNo = d.workNo
	return nil
}
