package aritest

import (
	"strings"
	"testing"

	"github.com/hotline-desk/hotline/internal/testenv"
)

// TestReplayNoticesChanges proves the replay test can fail: the simulator
// is made to change one thing in its events, as a careless edit of it
// would, and the replay must report it.
func TestReplayNoticesChanges(t *testing.T) {
	dir := testenv.Shared(t, "asterisk/scenarios")
	rename := func(typ, from, to string) func(obj) obj {
		return func(o obj) obj {
			if o[typeIndex(o)].v != typ {
				return o
			}
			out := append(obj(nil), o...)
			for i := range out {
				if out[i].k == from {
					out[i].k = to
				}
			}
			return out
		}
	}
	tests := []struct {
		name     string
		scenario string
		mutate   func(obj) obj
		mention  string
	}{
		{"a field renamed", "dtmf", rename("ChannelDtmfReceived", "duration_ms", "duration"), "duration"},
		{"RFC 3339 timestamps", "hello_playback_utf8", func(o obj) obj {
			ts, _ := o[typeIndex(o)+1].v.(string)
			return o.with("timestamp", strings.Replace(ts, "+0000", "Z", 1))
		}, "time format"},
		{"a number sent as a string", "caller_hangup", func(o obj) obj {
			if o[typeIndex(o)].v != "ChannelDestroyed" {
				return o
			}
			return o.with("cause", "0")
		}, "want a number"},
		{"a field left out", "caller_cancel", func(o obj) obj {
			if o[typeIndex(o)].v != "ChannelDestroyed" {
				return o
			}
			var out obj
			for _, m := range o {
				if m.k != "tech_cause" {
					out = append(out, m)
				}
			}
			return out
		}, "keys"},
		{"the key order changed", "record", func(o obj) obj {
			if o[typeIndex(o)].v != "ChannelVarset" {
				return o
			}
			// type first, as a tidy encoder would write it
			out := obj{o[typeIndex(o)]}
			for i, m := range o {
				if i != typeIndex(o) {
					out = append(out, m)
				}
			}
			return out
		}, "keys"},
		{"a caller's name changed", "hello_playback_utf8", func(o obj) obj {
			for i, m := range o {
				if m.k == "channel" {
					ch := m.v.(obj)
					caller := ch[4].v.(obj)
					out := append(obj(nil), o...)
					out[i].v = ch.with("caller", caller.with("name", "\\u5f20\\u4e09"))
					return out
				}
			}
			return o
		}, "caller.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			diffs := replay(t, dir, tt.scenario, tt.mutate)
			if len(diffs) == 0 {
				t.Fatal("the replay passed a simulator that changed its events")
			}
			found := false
			for _, d := range diffs {
				if strings.Contains(d, tt.mention) {
					found = true
				}
			}
			if !found {
				t.Errorf("no difference mentions %q: %v", tt.mention, diffs[:min(len(diffs), 5)])
			}
			t.Logf("caught: %s (and %d more)", diffs[0], len(diffs)-1)
		})
	}
}

func typeIndex(o obj) int {
	for i, m := range o {
		if m.k == "type" {
			return i
		}
	}
	return 0
}
