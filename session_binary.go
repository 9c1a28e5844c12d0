package ccgw

import (
	"encoding/binary"
	"errors"
)

// A session's binary form, version 1, is what the bbolt file keeps and what
// one node holds its sessions in: about a third of the JSON's size, decoded
// without reflection and with one allocation for all of a session's strings.
//
//	1 | Gen (8, big-endian) | Agent | GUIDIssued | PrevUntil | LoginTime | AgentType |
//	State | StateReason | StateSince | AfterCall | AfterCallRest | AfterCallReason |
//	RestUntil | RestSeq | Mode (1) | flags (1) | len(Skills) | Skills... |
//	len of each string in sessionStrings order | the strings' bytes, concatenated
//
// Integers are varints (unsigned ones uvarints), except Gen, which sits at a
// fixed offset (BinaryGen). A record whose first byte is not 1 is not of this
// form (JSON, whose first byte is '{').
const sessionBinaryV1 byte = 1

// errBinaryShort is UnmarshalBinary's answer to a truncated record.
var errBinaryShort = errors.New("ccgw: truncated session record")

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

func (s *Session) stringFields() [sessionStrings]*string {
	return [sessionStrings]*string{&s.GUID, &s.PrevGUID, &s.Op, &s.MediaType, &s.Phone, &s.IP,
		&s.CallbackURI, &s.ServiceToken, &s.CallID}
}

// IsSessionBinary reports whether v is a session in the binary form.
func IsSessionBinary(v []byte) bool { return len(v) > 0 && v[0] == sessionBinaryV1 }

// BinaryGen returns the Gen of a session in the binary form, without
// decoding the rest; false if v is not one.
func BinaryGen(v []byte) (uint64, bool) {
	if len(v) < 9 || v[0] != sessionBinaryV1 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v[1:9]), true
}

// AppendBinary appends s in the binary form to b (encoding.BinaryAppender).
func (s *Session) AppendBinary(b []byte) ([]byte, error) {
	strs := s.stringFields()
	n := 9 + 16*binary.MaxVarintLen64 + 2 + binary.MaxVarintLen64*(1+len(s.Skills)) + sessionStrings*binary.MaxVarintLen64
	for _, p := range strs {
		n += len(*p)
	}
	b = append(make([]byte, 0, len(b)+n), b...)
	b = append(b, sessionBinaryV1)
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
	return b, nil
}

// UnmarshalBinary reads a session in the binary form into s
// (encoding.BinaryUnmarshaler).
func (s *Session) UnmarshalBinary(v []byte) error {
	gen, ok := BinaryGen(v)
	if !ok {
		return errBinaryShort
	}
	*s = Session{Gen: gen}
	r := BinaryReader{b: v[9:]}
	s.Agent = AgentID(r.Uvarint())
	s.GUIDIssued = r.Varint()
	s.PrevUntil = r.Varint()
	s.LoginTime = r.Varint()
	s.AgentType = int(r.Varint())
	s.State = AgentState(r.Varint())
	s.StateReason = int(r.Varint())
	s.StateSince = r.Varint()
	s.AfterCall = AgentState(r.Varint())
	s.AfterCallRest = r.Varint()
	s.AfterCallReason = int(r.Varint())
	s.RestUntil = r.Varint()
	s.RestSeq = r.Uvarint()
	s.Mode = Mode(r.Byte())
	flags := r.Byte()
	s.AutoAnswer = flags&flagAutoAnswer != 0
	s.AutoEnterIdle = flags&flagAutoEnterIdle != 0
	s.ReleasePhone = flags&flagReleasePhone != 0
	s.TalkRight = flags&flagTalkRight != 0
	s.Simulated = flags&flagSimulated != 0
	s.LegacyPush = flags&flagLegacyPush != 0
	if n := r.Uvarint(); n > 0 {
		if n > uint64(len(r.b)) { // each skill takes at least a byte
			return errBinaryShort
		}
		s.Skills = make([]int, n)
		for i := range s.Skills {
			s.Skills[i] = int(r.Varint())
		}
	}
	var lens [sessionStrings]uint64
	total := uint64(0)
	for i := range lens {
		lens[i] = r.Uvarint()
		total += lens[i]
	}
	if r.Err() != nil {
		return r.Err()
	}
	if total != uint64(len(r.b)) {
		return errBinaryShort
	}
	all := string(r.b) // one allocation for every string of the session
	for i, p := range s.stringFields() {
		*p, all = all[:lens[i]], all[lens[i]:]
	}
	return nil
}

// CheckSessionBinary reports whether UnmarshalBinary would decode v, and the
// agent it names, without decoding it or allocating.
func CheckSessionBinary(v []byte) (AgentID, error) {
	if _, ok := BinaryGen(v); !ok {
		return 0, errBinaryShort
	}
	r := BinaryReader{b: v[9:]}
	agent := AgentID(r.Uvarint())
	for range 11 { // GUIDIssued … RestUntil
		r.Varint()
	}
	r.Uvarint() // RestSeq
	r.Byte()    // Mode
	r.Byte()    // flags
	if n := r.Uvarint(); n > 0 {
		if n > uint64(len(r.b)) {
			return 0, errBinaryShort
		}
		for range n {
			r.Varint()
		}
	}
	total := uint64(0)
	for range sessionStrings {
		total += r.Uvarint()
	}
	if r.err != nil {
		return 0, r.err
	}
	if total != uint64(len(r.b)) {
		return 0, errBinaryShort
	}
	return agent, nil
}

// BinaryReader reads the varints of a binary record; the first failure
// sticks (Err), and every read after it returns 0.
type BinaryReader struct {
	b   []byte
	err error
}

// NewBinaryReader returns a reader of b.
func NewBinaryReader(b []byte) *BinaryReader { return &BinaryReader{b: b} }

// Rest returns what is left to read.
func (r *BinaryReader) Rest() []byte { return r.b }

// Err returns the first failure.
func (r *BinaryReader) Err() error { return r.err }

// Uvarint reads an unsigned varint.
func (r *BinaryReader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a signed varint.
func (r *BinaryReader) Varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Byte reads a byte.
func (r *BinaryReader) Byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *BinaryReader) fail() {
	if r.err == nil {
		r.err = errBinaryShort
	}
	r.b = nil
}
