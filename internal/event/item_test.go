package event

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/ccgw/ccgw"
)

// TestQueueMatchesModel runs random operations against the queue and a plain
// slice of the events added, and compares every event handed out (Pop, Peek,
// drops) with the model's after each step, to exercise growth, wrap-around and
// the compact form events are queued in: the spec's types and others, null,
// empty and JSON content, any time.
func TestQueueMatchesModel(t *testing.T) {
	types := []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvConference, ccgw.EvTalking, "Custom", ""}
	contents := []json.RawMessage{nil, {}, json.RawMessage(`{"a":1}`), json.RawMessage(`"s"`), json.RawMessage(`null`)}
	for _, max := range []int{1, 2, 3, 4, 5, 7, 8, 16} {
		t.Run(fmt.Sprintf("max=%d", max), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(max), 42))
			d := &tDrop{}
			var drops []ccgw.Event
			q := NewQueue("1001", max, func(ev ccgw.Event, reason ccgw.DropReason) {
				d.fn(ev, reason)
				drops = append(drops, ev)
			})
			var model, modelDrops []ccgw.Event
			var seq uint64
			checked := 0 // drops compared so far
			same := func(step int, what string, got, want []ccgw.Event) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("step %d: %s: %d events, want %d", step, what, len(got), len(want))
				}
				for i := range got {
					if !reflect.DeepEqual(got[i], want[i]) {
						t.Fatalf("step %d: %s #%d = %+v (content nil %v), want %+v (content nil %v)",
							step, what, i, got[i], got[i].Content == nil, want[i], want[i].Content == nil)
					}
				}
			}
			for step := 0; step < 3000; step++ {
				switch op := rng.IntN(12); {
				case op < 5:
					seq++
					typ, content := types[rng.IntN(len(types))], contents[rng.IntN(len(contents))]
					at := tNow.Add(time.Duration(rng.IntN(1e6)) * time.Millisecond)
					want := ccgw.Event{Type: typ, GenTime: ccgw.Millis(at), WorkNo: "1001", Content: content, Seq: seq}
					same(step, "Add", []ccgw.Event{q.Add(typ, content, at)}, []ccgw.Event{want})
					model = append(model, want)
					if len(model) > max {
						modelDrops = append(modelDrops, model[0])
						model = model[1:]
					}
				case op < 7:
					ev, ok := q.Pop()
					if ok != (len(model) > 0) {
						t.Fatalf("step %d: Pop ok = %v with model %v", step, ok, model)
					}
					if ok {
						same(step, "Pop", []ccgw.Event{ev}, model[:1])
						model = model[1:]
					}
				case op < 8:
					if len(model) > 0 {
						upTo := model[rng.IntN(len(model))].Seq
						q.Ack(upTo)
						for len(model) > 0 && model[0].Seq <= upTo {
							model = model[1:]
						}
					}
				case op < 9:
					if len(model) > 0 {
						upTo := model[rng.IntN(len(model))].Seq
						q.DropHead(upTo, ccgw.DropPushFailed)
						for len(model) > 0 && model[0].Seq <= upTo {
							modelDrops = append(modelDrops, model[0])
							model = model[1:]
						}
					}
				default:
					n := rng.IntN(max + 2)
					want := model
					if n > 0 && n < len(model) {
						want = model[:n]
					}
					same(step, fmt.Sprintf("Peek(%d)", n), q.Peek(n), want)
				}
				if q.Len() != len(model) {
					t.Fatalf("step %d: Len = %d, want %d", step, q.Len(), len(model))
				}
				if len(drops) != len(modelDrops) {
					t.Fatalf("step %d: %d drops, want %d", step, len(drops), len(modelDrops))
				}
				same(step, "drops", drops[checked:], modelDrops[checked:])
				checked = len(drops)
			}
			q.Discard(ccgw.DropSessionEnded)
			same(-1, "drops after Discard", drops, append(modelDrops, model...))
		})
	}
}

// TestQueuedEventSize: a queued event takes 32 bytes and a queue 80 (with
// its lock), what the figures in docs/benchmarks.md "RSS per session" count on.
func TestQueuedEventSize(t *testing.T) {
	if n := unsafe.Sizeof(item{}); n != 32 {
		t.Errorf("item is %d bytes, want 32", n)
	}
	if n := unsafe.Sizeof(Queue{}); n > 80 {
		t.Errorf("Queue is %d bytes, want at most 80", n)
	}
}

// TestEventTypesListed: every event type constant at the root is in
// eventTypes, so that its events are queued without a box.
func TestEventTypesListed(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../../event.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !strings.HasPrefix(name.Name, "Ev") || !ok || lit.Kind != token.STRING {
					continue
				}
				n++
				v, _ := strconv.Unquote(lit.Value)
				if _, ok := typeIndex[v]; !ok {
					t.Errorf("ccgw.%s (%q) is not in eventTypes", name.Name, v)
				}
			}
		}
	}
	if n != len(eventTypes) {
		t.Errorf("event.go has %d event types, eventTypes %d", n, len(eventTypes))
	}
}

// TestContentIsNotCopied: a queued event hands out the content it was added
// with, not a copy, and empty content stays distinct from null.
func TestContentIsNotCopied(t *testing.T) {
	q, _ := testQueue(t, 4)
	c := json.RawMessage(`{"x":1}`)
	q.Add(ccgw.EvTalking, c, tNow)
	q.Add(ccgw.EvTalking, c[len(c):], tNow) // empty, at the end of c's array
	q.Add(ccgw.EvTalking, nil, tNow)
	evs := q.Peek(0)
	if unsafe.SliceData(evs[0].Content) != unsafe.SliceData(c) || cap(evs[0].Content) != len(c) {
		t.Errorf("content %p cap %d, want %p cap %d", unsafe.SliceData(evs[0].Content), cap(evs[0].Content), unsafe.SliceData(c), len(c))
	}
	if evs[1].Content == nil || len(evs[1].Content) != 0 {
		t.Errorf("empty content came back as %#v", evs[1].Content)
	}
	if evs[2].Content != nil {
		t.Errorf("null content came back as %#v", evs[2].Content)
	}
}
