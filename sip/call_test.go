package sip

import (
	"runtime"
	"testing"
	"weak"
)

// A leg's client transaction lives on after the call (Timer M) and
// keeps a reference to the leg's side for retransmitted 2xx. Once the call
// ends, that reference must not keep the call alive: at 800 calls/s, held
// calls were most of the gateway's heap.
func TestHeldSideDoesNotKeepTheCall(t *testing.T) {
	c := &call{}
	d := &side{call: c}
	ref := c.hold(d)
	if ref.Load() != d {
		t.Fatal("hold does not reference the side while the call lasts")
	}
	alive := weak.Make(c)
	c.dropHeld()
	if ref.Load() != nil {
		t.Fatal("the reference still points at the side after the call ended")
	}
	c, d = nil, nil
	runtime.GC()
	runtime.GC()
	if alive.Value() != nil {
		t.Fatal("the call is still reachable through what its transaction holds")
	}
	runtime.KeepAlive(ref)
}
