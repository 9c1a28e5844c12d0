package event

import (
	"encoding/json"
	"math"
	"unsafe"

	"github.com/ccgw/ccgw"
)

// item is a queued event in 32 bytes instead of ccgw.Event's 72: a million idle
// sessions each hold their sign-in's two undelivered events (docs/benchmarks.md,
// "RSS per session"). The work number is the queue's, the type an index into
// eventTypes, and the content its bytes' address and length; an event whose
// type is not in eventTypes keeps type and content in a box of their own.
// event turns it back into the ccgw.Event that was queued.
type item struct {
	seq  uint64
	gen  int64          // GenTime, ms
	data unsafe.Pointer // the content's bytes (nil: JSON null), or the *box of an odd item
	n    uint32         // len(content)
	typ  uint16         // index in eventTypes, or oddType
}

// box holds what an item cannot: a type not in eventTypes, or content of 4 GB
// or more.
type box struct {
	typ     string
	content json.RawMessage
}

const oddType = math.MaxUint16

// eventTypes are the event types of the CC-Gateway (the root's Ev constants;
// TestEventTypesListed keeps the list complete). It is never changed.
var eventTypes = [...]string{
	ccgw.EvInService, ccgw.EvShutdownService, ccgw.EvReady, ccgw.EvBusy, ccgw.EvWork,
	ccgw.EvSetNotReadySuccess, ccgw.EvCancelNotReadySuccess, ccgw.EvSetRestSuccess,
	ccgw.EvCancelRestSuccess, ccgw.EvRestTimeout, ccgw.EvSetWorkSuccess, ccgw.EvCancelWorkSuccess,
	ccgw.EvForceReady, ccgw.EvForceSetNotReady,
	ccgw.EvIncomingCallInfo, ccgw.EvRinging, ccgw.EvAutoAnswer, ccgw.EvCustomerAlerting,
	ccgw.EvTalking, ccgw.EvHold, ccgw.EvCallOutFail, ccgw.EvInsideCallFail, ccgw.EvConnectFail,
	ccgw.EvNoAnswer, ccgw.EvCallRelease, ccgw.EvCustomerRelease, ccgw.EvPhoneAlerting,
	ccgw.EvPhoneOffhook, ccgw.EvPhoneRelease,
	ccgw.EvSuccTransResult, ccgw.EvReturnFromIVR, ccgw.EvConference,
}

// typeIndex finds a type's index in eventTypes. It is never changed.
var typeIndex = func() map[string]uint16 {
	m := make(map[string]uint16, len(eventTypes))
	for i, t := range eventTypes {
		m[t] = uint16(i)
	}
	return m
}()

// itemOf returns ev as an item, leaving out its WorkNo.
func itemOf(ev *ccgw.Event) item {
	it := item{seq: ev.Seq, gen: ev.GenTime}
	t, known := typeIndex[ev.Type]
	if !known || uint64(len(ev.Content)) > math.MaxUint32 {
		it.typ, it.data = oddType, unsafe.Pointer(&box{typ: ev.Type, content: ev.Content})
		return it
	}
	it.typ, it.n = t, uint32(len(ev.Content))
	switch {
	case len(ev.Content) > 0:
		it.data = unsafe.Pointer(unsafe.SliceData(ev.Content))
	case ev.Content != nil:
		// Empty but not null. Its address may be one past the end of an
		// array, which is not a pointer to keep: keep one that is.
		it.data = unsafe.Pointer(&emptyContent)
	}
	return it
}

// emptyContent is the address an item keeps for empty, non-nil content.
var emptyContent byte

// event returns the event it was made from, with work number workNo. Its
// Content is the bytes that were queued (not a copy), with no capacity beyond
// their length.
func (it *item) event(workNo string) ccgw.Event {
	ev := ccgw.Event{GenTime: it.gen, WorkNo: workNo, Seq: it.seq}
	if it.typ == oddType {
		b := (*box)(it.data)
		ev.Type, ev.Content = b.typ, b.content
		return ev
	}
	ev.Type = eventTypes[it.typ]
	if it.data != nil {
		ev.Content = unsafe.Slice((*byte)(it.data), it.n)
	}
	return ev
}
