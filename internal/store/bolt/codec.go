package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"

	"github.com/ccgw/ccgw"
)

// Records are written in a compact binary form, version 1, whose first byte is
// 1. Records written before it are JSON, whose first byte is '{'; both are read,
// so a data directory of an earlier ccgw restores, but a ccgw before version 1
// cannot read what this one writes. Decoding JSON cost about 15 µs of CPU per
// session on restore, most of a million-session restart (docs/benchmarks.md,
// "Capacity"); this form decodes without reflection and with one allocation
// for all of a session's strings.
const recV1 byte = 1

var errShort = errors.New("truncated record")

// Session record, version 1:
//
//	1 | gen (8, big-endian) | agent | GUIDIssued | PrevUntil | LoginTime | AgentType |
//	State | StateReason | StateSince | AfterCall | AfterCallRest | AfterCallReason |
//	RestUntil | RestSeq | Mode (1) | flags (1) | len(Skills) | Skills... |
//	len of each string in sessionStrings order | the strings' bytes, concatenated
//
// Integers are varints (unsigned ones uvarints), except gen, which sits at a
// fixed offset for storedGen.
const sessionStrings = 9 // GUID, PrevGUID, Op, MediaType, Phone, IP, CallbackURI, ServiceToken, CallID

// Session flag bits.
const (
	flagAutoAnswer = 1 << iota
	flagAutoEnterIdle
	flagReleasePhone
	flagTalkRight
	flagSimulated
	flagLegacyPush
)

func sessionStringFields(s *ccgw.Session) [sessionStrings]*string {
	return [sessionStrings]*string{&s.GUID, &s.PrevGUID, &s.Op, &s.MediaType, &s.Phone, &s.IP,
		&s.CallbackURI, &s.ServiceToken, &s.CallID}
}

// encodeSession returns s as a version 1 record.
func encodeSession(s *ccgw.Session) []byte {
	strs := sessionStringFields(s)
	n := 9 + 16*binary.MaxVarintLen64 + 2 + binary.MaxVarintLen64*(1+len(s.Skills)) + sessionStrings*binary.MaxVarintLen64
	for _, p := range strs {
		n += len(*p)
	}
	b := make([]byte, 0, n)
	b = append(b, recV1)
	b = binary.BigEndian.AppendUint64(b, s.Gen)
	b = binary.AppendUvarint(b, uint64(s.Agent))
	for _, v := range []int64{s.GUIDIssued, s.PrevUntil, s.LoginTime, int64(s.AgentType), int64(s.State),
		int64(s.StateReason), s.StateSince, int64(s.AfterCall), s.AfterCallRest, int64(s.AfterCallReason), s.RestUntil} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.AppendUvarint(b, s.RestSeq)
	var flags byte
	for _, f := range [...]struct {
		on  bool
		bit byte
	}{{s.AutoAnswer, flagAutoAnswer}, {s.AutoEnterIdle, flagAutoEnterIdle}, {s.ReleasePhone, flagReleasePhone},
		{s.TalkRight, flagTalkRight}, {s.Simulated, flagSimulated}, {s.LegacyPush, flagLegacyPush}} {
		if f.on {
			flags |= f.bit
		}
	}
	b = append(b, byte(s.Mode), flags)
	b = binary.AppendUvarint(b, uint64(len(s.Skills)))
	for _, sk := range s.Skills {
		b = binary.AppendVarint(b, int64(sk))
	}
	for _, p := range strs {
		b = binary.AppendUvarint(b, uint64(len(*p)))
	}
	for _, p := range strs {
		b = append(b, *p...)
	}
	return b
}

// reader reads a version 1 record's integers; the first failure sticks in err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errShort
	}
	r.b = nil
}

// decodeSession reads a session record of either form into s.
func decodeSession(v []byte, s *ccgw.Session) error {
	if len(v) == 0 || v[0] != recV1 {
		return json.Unmarshal(v, s)
	}
	if len(v) < 9 {
		return errShort
	}
	*s = ccgw.Session{Gen: binary.BigEndian.Uint64(v[1:9])}
	r := reader{b: v[9:]}
	s.Agent = ccgw.AgentID(r.uvarint())
	s.GUIDIssued = r.varint()
	s.PrevUntil = r.varint()
	s.LoginTime = r.varint()
	s.AgentType = int(r.varint())
	s.State = ccgw.AgentState(r.varint())
	s.StateReason = int(r.varint())
	s.StateSince = r.varint()
	s.AfterCall = ccgw.AgentState(r.varint())
	s.AfterCallRest = r.varint()
	s.AfterCallReason = int(r.varint())
	s.RestUntil = r.varint()
	s.RestSeq = r.uvarint()
	s.Mode = ccgw.Mode(r.byte())
	flags := r.byte()
	s.AutoAnswer = flags&flagAutoAnswer != 0
	s.AutoEnterIdle = flags&flagAutoEnterIdle != 0
	s.ReleasePhone = flags&flagReleasePhone != 0
	s.TalkRight = flags&flagTalkRight != 0
	s.Simulated = flags&flagSimulated != 0
	s.LegacyPush = flags&flagLegacyPush != 0
	if n := r.uvarint(); n > 0 {
		if n > uint64(len(r.b)) { // each skill takes at least a byte
			return errShort
		}
		s.Skills = make([]int, n)
		for i := range s.Skills {
			s.Skills[i] = int(r.varint())
		}
	}
	var lens [sessionStrings]uint64
	total := uint64(0)
	for i := range lens {
		lens[i] = r.uvarint()
		total += lens[i]
	}
	if r.err != nil {
		return r.err
	}
	if total != uint64(len(r.b)) {
		return errShort
	}
	all := string(r.b) // one allocation for every string of the session
	for i, p := range sessionStringFields(s) {
		*p, all = all[:lens[i]], all[lens[i]:]
	}
	return nil
}

// storedGen returns the Gen of the stored session v, or 0 if v cannot be read.
func storedGen(v []byte) uint64 {
	if len(v) >= 9 && v[0] == recV1 {
		return binary.BigEndian.Uint64(v[1:9])
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
	r := reader{b: v[1:]}
	*ev = ccgw.Event{GenTime: r.varint()}
	nt, nw, nc := r.uvarint(), r.uvarint(), r.uvarint()
	if r.err != nil {
		return r.err
	}
	if nc > 0 {
		nc-- // nc-1 bytes of content; 0 was nil
		if nt+nw+nc != uint64(len(r.b)) {
			return errShort
		}
		ev.Content = append(json.RawMessage{}, r.b[nt+nw:]...)
	} else if nt+nw != uint64(len(r.b)) {
		return errShort
	}
	typ, wn := r.b[:nt], r.b[nt:nt+nw]
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
