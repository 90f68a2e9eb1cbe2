package sip

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Finished transactions linger transactionLinger, not the RFCs' 32 s: three
// per call held most of the heap under load. Large UDP messages pass.
func TestNewTunesTheLibrary(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0"}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ua.Close()
	for name, d := range map[string]*time.Duration{"J": &sip.Timer_J, "L": &sip.Timer_L, "M": &sip.Timer_M} {
		if *d != transactionLinger {
			t.Errorf("Timer %s = %v, want %v", name, *d, transactionLinger)
		}
	}
	if sip.UDPMTUSize < 65000 {
		t.Errorf("sip.UDPMTUSize = %d: carrier INVITEs over 1,300 bytes would be refused", sip.UDPMTUSize)
	}
}
